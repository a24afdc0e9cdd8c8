#!/usr/bin/env bash
# The HTTP benchmarks (issues 7 and 14). See docs/BENCHMARKS.md.
#
#   bash bench/run.sh                    the suite at ROWS=100,000 contacts in one book
#   bash bench/run.sh --curves           book sizes 1k, 10k, 100k, and the no-cache stand-in
#                                        for the old app at 1k and 10k -> bench/results/books.csv
#   bash bench/run.sh --curves --million the same and a book of 1,000,000 (several minutes)
#   bash bench/run.sh --users            1,000 users x 1,000 contacts, measured at 100, 300
#                                        and 1,000 users -> bench/results/users.csv
#   bash bench/plot.sh                   the plots in docs/bench/ from bench/results/*.csv
#                                        (--curves and --users run it at the end)
#
# The suite builds the release binary and the load client (bench/load.rs), starts the server
# on a temporary data directory (CAPTCHA=off, NumVerify off, keys generated), creates the user
# `bench`, imports ROWS contacts through the real CSV import, measures over HTTP with wrk and
# the load client, restarts the server for the cold-directory figure, and prints one table.
# Every step is bounded in time; everything it started is stopped and the temporary directory
# removed on exit (also on Ctrl-C). bench/lib.sh has the shared parts.
#
# Needs: cargo, curl, python3, wrk (apt-get install wrk). Traffic goes to 127.0.0.0/8 only.
#
# Settings (environment):
#   ROWS=100000      contacts to import        CHUNK=25000   rows per CSV file (each <= 10 MB)
#   DURATION=15      seconds per wrk run       PORT=<free>   server port on 127.0.0.1
#   SEARCH_SECONDS=5 seconds per search kind at one connection
#   FORM_IPS=1000    source addresses for the public form (5 submissions each)
#   CARGO_TARGET_DIR defaults to /tmp/cv-release (keeps the developers' target dir free)
#   DATABASE_URL=postgres://ROLE@HOST:PORT/DB   the same suite on PostgreSQL: the run makes a
#                    database of its own on that server (cv_bench_PID, the role needs CREATEDB;
#                    psql from Debian's postgresql-client) and drops it at the end. Unset (or
#                    sqlite:…): SQLite in the temporary data directory, as before.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    --curves) shift; exec bash bench/curves.sh "$@" ;;
    --million) exec bash bench/curves.sh --million ;;
    --users) shift; exec bash bench/users.sh "$@" ;;
    "") ;;
    *) echo "usage: bash bench/run.sh [--curves [--million] | --users]" >&2; exit 2 ;;
esac

ROWS=${ROWS:-100000}
CHUNK=${CHUNK:-25000}
DURATION=${DURATION:-15}
SEARCH_SECONDS=${SEARCH_SECONDS:-5}
FORM_IPS=${FORM_IPS:-1000}
NAME=bench
PG_SERVER=""
case "${DATABASE_URL:-}" in postgres://* | postgresql://*) PG_SERVER="$DATABASE_URL" ;; esac
# shellcheck source=bench/lib.sh
source bench/lib.sh
need wrk
bench_build
BACKEND="SQLite"
if [[ -n "$PG_SERVER" ]]; then
    need psql
    PG_DB="cv_bench_$$"
    psql -q "$PG_SERVER" -c "CREATE DATABASE $PG_DB" >/dev/null
    export DATABASE_URL="${PG_SERVER%/*}/$PG_DB"
    trap 'cleanup; psql -q "$PG_SERVER" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true' EXIT
    BACKEND="PostgreSQL $(psql -Atc 'SHOW server_version' "$PG_SERVER")"
fi
stored_submissions() {
    if [[ -n "$PG_SERVER" ]]; then
        psql -Atc 'SELECT COUNT(*) FROM submissions' "$DATABASE_URL"
    else
        python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from submissions").fetchone()[0])' "$DATA_DIR/contact-vault.db"
    fi
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== server on $BASE, data in $DATA_DIR" >&2
start_server
add_user bench
TOKEN=$(sign_in bench)
AUTH="Authorization: Bearer $TOKEN"

echo "== generating $ROWS contacts in files of $CHUNK rows" >&2
generate_csv "$WORK" "$ROWS" "$CHUNK"

echo "== import" >&2
IMPORT_S=$(import_csv "$WORK" "$TOKEN")
TOTAL=$(curl -fsS -H "$AUTH" "$BASE/api/contacts?per_page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["total"])')
[[ "$TOTAL" == "$ROWS" ]] || { echo "bench: the book has $TOTAL contacts, not $ROWS" >&2; exit 1; }
# The first read after the import builds the directory (the import does not patch it).
FIRST_AFTER_IMPORT=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts?q=anna+berg")

echo "== export" >&2
EXPORT_S=$(curl -fsS -m 120 -o "$WORK/export.csv" -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts/export/csv")
EXPORT_LINES=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8"))))' "$WORK/export.csv") - 1))
[[ "$EXPORT_LINES" == "$ROWS" ]] || { echo "bench: the export has $EXPORT_LINES rows" >&2; exit 1; }


echo "== search (wrk, 4 connections)" >&2
SEARCH=$(wrk_run "$TOKEN" 4 "$DURATION" "/api/contacts?q=" "anna+berg" "marta+schmidt" "globex+hansen" \
    "katarzyna+example.com" "sven+012" "rossi+initech" "m%C3%BCller+vip" "tom%C3%A1s+weber+9" \
    "spring+castro+client" "olga+555+0")
echo "   $SEARCH" >&2
echo "== search by kind (wrk, 1 connection, ${SEARCH_SECONDS}s each)" >&2
KIND_LINES=$(search_kinds "$TOKEN" "$SEARCH_SECONDS")
echo "$KIND_LINES" | sed 's/^/   /' >&2
kind_cell() { awk -v k="$1" '$1 == k {printf "%s ms / %s ms", $2, $3}' <<<"$KIND_LINES"; }
echo "== first page by name (wrk, 32 connections)" >&2
LIST=$(wrk_run "$TOKEN" 32 "$DURATION" "/api/contacts?sort=name&page=1")
echo "   $LIST" >&2
echo "== healthz (wrk, 32 connections)" >&2
HEALTH=$(wrk_run "$TOKEN" 32 "$DURATION" "/healthz")
echo "   $HEALTH" >&2
CRYPTO=$("$LOAD" crypto-limit --rows 50 --seconds 5)
echo "   $CRYPTO" >&2
LIMIT=$(field limit "$CRYPTO")

echo "== public form ($FORM_IPS source addresses x 5)" >&2
FORM=$("$LOAD" form --base "$BASE" --ips "$FORM_IPS" --per-ip 5 --concurrency 32)
echo "   $FORM" >&2
STORED=$(stored_submissions)

echo "== healthz probe alone, then during 20 concurrent logins" >&2
PROBE=$("$LOAD" logins --base "$BASE" --username bench --password "$PASSWORD" --concurrency 0 --seconds 10)
echo "   $PROBE" >&2
LOGINS=$("$LOAD" logins --base "$BASE" --username bench --password "$PASSWORD" --concurrency 20 --seconds 20)
echo "   $LOGINS" >&2

RSS_END=$(rss_mb)
HWM_END=$(hwm_mb)

echo "== restart: first search with a cold directory" >&2
stop_server
start_server
COLD=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts?q=anna+berg")
WARM=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts?q=anna+berg")
RSS_COLD=$(rss_mb)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

pct=$(python3 -c "print(f'{100 * $(field rps "$LIST") / $LIMIT:.0f}')")
cat <<TABLE

Contact Vault on $BACKEND, $ROWS contacts, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load before $LOAD_BEFORE, after $LOAD_AFTER

| figure | result | target |
|---|---|---|
| search, one word, p50 / p95 at 1 connection | $(kind_cell one-word) | ≤ 3 ms / ≤ 8 ms |
| search, several words, p50 / p95 at 1 connection | $(kind_cell several-word) | ≤ 3 ms / ≤ 8 ms |
| search, no match, p50 / p95 at 1 connection | $(kind_cell no-match) | ≤ 3 ms / ≤ 8 ms |
| search, phone digits, p50 / p95 at 1 connection | $(kind_cell phone-digit) | ≤ 3 ms / ≤ 8 ms |
| search \`q\` (several terms), p50 / p95 at 4 connections | $(field p50_ms "$SEARCH") ms / $(field p95_ms "$SEARCH") ms ($(field rps "$SEARCH") req/s) | ≤ 20 ms / ≤ 50 ms |
| first page by name (50 rows), req/s at 32 connections | $(field rps "$LIST") req/s = ${pct} % of the crypto-bound $LIMIT req/s (p50 $(field p50_ms "$LIST") ms) | ≥ 50 % |
| \`GET /healthz\` req/s at 32 connections | $(field rps "$HEALTH") req/s (p50 $(field p50_ms "$HEALTH") ms) | for reference |
| public form submissions/s ($FORM_IPS sources × 5, limiter on) | $(field per_second "$FORM")/s ($(field redirected "$FORM") accepted, $(field limited "$FORM") limited, $STORED stored; p95 $(field p95_ms "$FORM") ms) | ≥ 500 |
| CSV import of $ROWS rows ($(ls "$WORK"/contacts-*.csv | wc -l) files) | $(printf '%.2f' "$IMPORT_S") s | ≤ 10 s |
| CSV export of $ROWS rows | $(printf '%.2f' "$EXPORT_S") s | ≤ 3 s |
| first search after a restart (cold directory) | $(ms "$COLD") ms (next one $(ms "$WARM") ms; first after the import $(ms "$FIRST_AFTER_IMPORT") ms) | ≤ 1.5 s |
| server RSS after the run | ${RSS_END} MB (peak ${HWM_END} MB; ${RSS_COLD} MB after restart + cold search) | ≤ 200 MB |
| \`/healthz\` p99 during 20 concurrent logins | $(field healthz_p99_ms "$LOGINS") ms (alone: $(field healthz_p99_ms "$PROBE") ms; $(field ok "$LOGINS") logins ok, $(field limited "$LOGINS") limited, $(field per_second "$LOGINS")/s, each from its own 127.2.x.y) | ≤ 50 ms |

crypto: $CRYPTO
TABLE
