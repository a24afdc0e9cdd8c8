"""Prints the table of a results file of bench/curves.sh or bench/users.sh (bench/results/*.csv):
`python3 bench/table.py FILE`. The kind of table follows from the file's columns."""

import csv
import sys


def rows_of(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[0].lstrip("# "), list(csv.DictReader(l for l in lines if not l.startswith("#")))


def books(rows):
    yield ("| server | contacts | import | export | search p50 / p95: one word | several words | "
           "no match | phone digits | first list page p50 | cold first search | RSS (peak) |")
    yield "|---|---|---|---|---|---|---|---|---|---|---|"
    for r in rows:
        cell = lambda k: f"{r[k + '_p50']} / {r[k + '_p95']} ms"
        yield (f"| {r['label']} | {int(r['contacts']):,} | {float(r['import_s']):.2f} s | "
               f"{float(r['export_s']):.2f} s | {cell('one_word')} | {cell('several')} | "
               f"{cell('no_match')} | {cell('phone')} | {r['list_p50']} ms | "
               f"{r['cold_search_ms']} ms | {r['rss_mb']} MB ({r['peak_mb']} MB) |")


def users(rows):
    yield ("| users | contacts | first list after sign-in (cold) p50 / p95 | warm search p50 / p95 | "
           "RSS, all signed in | active users: req/s, p50 / p95 | builds while active | "
           "RSS after (peak) |")
    yield "|---|---|---|---|---|---|---|---|"
    for r in rows:
        yield (f"| {int(r['users']):,} | {int(r['contacts']):,} | "
               f"{r['cold_list_p50']} / {r['cold_list_p95']} ms | "
               f"{r['warm_search_p50']} / {r['warm_search_p95']} ms | {r['rss_signed_in_mb']} MB | "
               f"{r['active_users']}: {r['active_per_second']}/s, {r['active_p50']} / "
               f"{r['active_p95']} ms | {r['active_builds']} | {r['rss_end_mb']} MB "
               f"({r['peak_mb']} MB) |")


def main():
    title, rows = rows_of(sys.argv[1])
    print(title)
    print()
    table = users if rows and "users" in rows[0] else books
    for line in table(rows):
        print(line)


if __name__ == "__main__":
    main()
