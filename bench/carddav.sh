#!/usr/bin/env bash
# CardDAV at CARDS cards in one book (issue 15): the first full sync of a new device and a sync
# with nothing changed, over HTTP against the release binary. See docs/BENCHMARKS.md.
#
# Starts the server on a temporary data directory, creates the user `bench`, imports CARDS
# generated vCards through POST /api/contacts/import/vcard, makes an app password, then, as
# DAVx5 does:
# - first sync: REPORT sync-collection without a token (every href and ETag), then
#   addressbook-multiget in batches of BATCH hrefs with the cards' data;
# - PROPFIND Depth: 1 on the book (href and ETag of every card);
# - RUNS sync-collection REPORTs with the current token (nothing changed), each timed.
# Prints one table. Everything it started is stopped, and the temporary directory removed
# (bench/lib.sh has the shared parts).
#
# Needs: curl, python3. BIN=path/to/contact-vault skips the build (else cargo build --release).
# Settings: CARDS=10000 BATCH=100 RUNS=100 PORT=<free>
set -euo pipefail
cd "$(dirname "$0")/.."

CARDS=${CARDS:-10000}
BATCH=${BATCH:-100}
RUNS=${RUNS:-100}
NAME=dav-bench
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_build --bin-only

start_server
add_user bench
TOKEN=$(sign_in bench)

echo "== generating and importing $CARDS vCards" >&2
python3 - "$WORK/cards.vcf" "$CARDS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w", encoding="utf-8", newline="") as out:
    for i in range(n):
        out.write(
            "BEGIN:VCARD\r\nVERSION:3.0\r\n"
            f"UID:bench-{i}\r\nFN:Person {i} Müller\r\nN:Müller;Person {i};;;\r\n"
            f"TEL;TYPE=CELL:+1 555 {i // 10000:03d} {i % 10000:04d}\r\n"
            f"EMAIL;TYPE=HOME:person{i}@example.com\r\n"
            f"ADR;TYPE=HOME:;;{i} Main Street;Springfield;;{10000 + i};USA\r\n"
            f"NOTE:Card {i}, made by bench/carddav.sh\r\nCATEGORIES:bench,group{i % 7}\r\n"
            "X-BENCH:kept\r\nEND:VCARD\r\n"
        )
PY
import_s=$(curl -fsS -o "$WORK/import.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: text/vcard' --data-binary "@$WORK/cards.vcf" "$BASE/api/contacts/import/vcard")
APP=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"current_password\":\"$PASSWORD\"}" "$BASE/api/app-passwords" | json_field password)

BOOK="$BASE/dav/addressbooks/bench/contacts/"
sync_body() {
    printf '<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>%s</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>' "$1"
}
dav() { # method, depth, body file, out file → seconds
    curl -fsS -o "$4" -w '%{time_total}' -u "bench:$APP" -X "$1" -H "Depth: $2" \
        -H 'Content-Type: application/xml; charset=utf-8' --data-binary "@$3" "$BOOK"
}

echo "== first sync of a new device" >&2
sync_body "" >"$WORK/sync0.xml"
first_report_s=$(dav REPORT 1 "$WORK/sync0.xml" "$WORK/sync0.out")
python3 - "$WORK" "$BATCH" <<'PY'
import re, sys
work, batch = sys.argv[1], int(sys.argv[2])
text = open(f"{work}/sync0.out", encoding="utf-8").read()
hrefs = re.findall(r"<D:href>([^<]+\.vcf)</D:href>", text)
token = re.findall(r"<D:sync-token>([^<]+)</D:sync-token>", text)[-1]
open(f"{work}/token", "w").write(token)
open(f"{work}/count", "w").write(str(len(hrefs)))
for n, start in enumerate(range(0, len(hrefs), batch)):
    body = ('<?xml version="1.0" encoding="utf-8"?><c:addressbook-multiget xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>'
            + "".join(f"<d:href>{h}</d:href>" for h in hrefs[start:start + batch])
            + "</c:addressbook-multiget>")
    open(f"{work}/multiget-{n:05d}.xml", "w", encoding="utf-8").write(body)
PY
multiget_s=0
cards_seen=0
for body in "$WORK"/multiget-*.xml; do
    t=$(dav REPORT 1 "$body" "$WORK/multiget.out")
    multiget_s=$(python3 -c "print($multiget_s + $t)")
    cards_seen=$((cards_seen + $(grep -o 'X-BENCH:kept' "$WORK/multiget.out" | wc -l)))
done

printf '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>' >"$WORK/propfind.xml"
propfind_s=$(dav PROPFIND 1 "$WORK/propfind.xml" "$WORK/propfind.out")

echo "== $RUNS syncs with nothing changed" >&2
sync_body "$(cat "$WORK/token")" >"$WORK/sync1.xml"
: >"$WORK/times"
for _ in $(seq 1 "$RUNS"); do
    dav REPORT 1 "$WORK/sync1.xml" "$WORK/sync1.out" >>"$WORK/times"
    echo >>"$WORK/times"
done
grep -q '<D:response>' "$WORK/sync1.out" && { echo "bench: a no-change sync listed cards" >&2; exit 1; }

python3 - "$WORK" "$CARDS" "$import_s" "$first_report_s" "$multiget_s" "$propfind_s" "$cards_seen" "$BATCH" <<'PY'
import json, statistics, sys
work, cards, import_s, report_s, multiget_s, propfind_s, seen, batch = sys.argv[1:9]
times = sorted(float(t) * 1000 for t in open(f"{work}/times").read().split())
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
report = json.load(open(f"{work}/import.json"))
print(f"cards: {cards} (imported {report['added']}, skipped {report['skipped']}), served whole: {seen}")
print(f"| step | time |")
print(f"|---|---|")
print(f"| import of the .vcf (API) | {float(import_s):.2f} s |")
print(f"| first sync: sync-collection without a token | {float(report_s) * 1000:.0f} ms |")
print(f"| first sync: multiget of every card, {batch} a request | {float(multiget_s):.2f} s |")
print(f"| first sync in all | {float(report_s) + float(multiget_s):.2f} s |")
print(f"| PROPFIND Depth: 1 on the book | {float(propfind_s) * 1000:.0f} ms |")
print(f"| sync with nothing changed, p50 / p95 ({len(times)} runs) | {p(0.5):.1f} / {p(0.95):.1f} ms |")
PY
