#!/usr/bin/env bash
# The HTTP benchmark at 100,000 encrypted contacts (issue 7). See docs/BENCHMARKS.md.
#
# Builds the release binary and the load client (bench/load.rs), starts the server on a
# temporary data directory (CAPTCHA=off, NumVerify off, keys generated), creates the user
# `bench`, imports ROWS contacts through the real CSV import, measures over HTTP with wrk
# and the load client, restarts the server for the cold-directory figure, and prints one
# table. Every step is bounded in time; everything it started is stopped and the temporary
# directory removed on exit (also on Ctrl-C).
#
# Needs: cargo, curl, python3, wrk (apt-get install wrk). Traffic goes to 127.0.0.0/8 only.
#
# Settings (environment):
#   ROWS=100000      contacts to import        CHUNK=25000   rows per CSV file (each <= 10 MB)
#   DURATION=15      seconds per wrk run       PORT=<free>   server port on 127.0.0.1
#   FORM_IPS=1000    source addresses for the public form (5 submissions each)
#   CARGO_TARGET_DIR defaults to /tmp/cv-release (keeps the developers' target dir free)
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000}
CHUNK=${CHUNK:-25000}
DURATION=${DURATION:-15}
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
FORM_IPS=${FORM_IPS:-1000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/cv-release}
BASE="http://127.0.0.1:$PORT"
PASSWORD='bench-password-7f3a9c'

for tool in curl python3 wrk; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 1; }
done

echo "== build (release, $CARGO_TARGET_DIR)" >&2
cargo build --release --quiet --bin contact-vault --example bench-load
BIN="$CARGO_TARGET_DIR/release/contact-vault"
LOAD="$CARGO_TARGET_DIR/release/examples/bench-load"

WORK=$(mktemp -d /tmp/cv-bench.XXXXXX)
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export DATA_DIR="$WORK/data" BIND="127.0.0.1:$PORT" CAPTCHA=off RUST_LOG=warn LOG_FORMAT=text
# One user's token drives the list and search runs at full speed and imports every file: the
# per-user limits (API calls, imports) would measure themselves, so they are raised here.
export API_RATE_PER_SECOND=1000000 IMPORT_BURST=1000
unset NUMVERIFY_API_KEY FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY FERNET_KEYS_FILE \
      BLIND_INDEX_KEY_FILE SECRET_KEY_FILE DATABASE_URL PUBLIC_URL TRUSTED_PROXIES || true

start_server() {
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
        echo "bench: something already listens on $BASE" >&2
        exit 1
    fi
    "$BIN" serve >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: the server did not start; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
}
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER_PID/status"; }
hwm_mb() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER_PID/status"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== server on $BASE, data in $DATA_DIR" >&2
start_server
printf '%s\n' "$PASSWORD" | "$BIN" user add bench --role user --password-stdin >/dev/null
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "$BASE/api/login" | json_field token)
AUTH="Authorization: Bearer $TOKEN"

echo "== generating $ROWS contacts in files of $CHUNK rows" >&2
python3 - "$WORK" "$ROWS" "$CHUNK" <<'PY'
import sys
work, rows, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
first = ["Anna", "Bruno", "Chloé", "David", "Elena", "Farid", "Greta", "Hugo", "Ingrid",
         "Jonas", "Katarzyna", "Luis", "Marta", "Nils", "Olga", "Pedro", "Quentin", "Rosa",
         "Sven", "Tomás", "Ulla", "Viktor", "Wen", "Zoë"]
last = ["Almeida", "Berg", "Castro", "Dubois", "Eriksson", "Fischer", "García", "Hansen",
        "Ivanova", "Jensen", "Kowalski", "Larsen", "Müller", "Novak", "Olsen", "Petrov",
        "Rossi", "Schmidt", "Tanaka", "Weber"]
companies = ["ACME Corp", "Globex", "Initech", "Umbrella", "Stark Industries",
             "Wayne Enterprises", "Hooli", ""]
tags = ["work", "friend", "family", "vip", "client", "supplier"]
def ascii(s):
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c)).lower()
header = "name,phone,email,address,company,notes,tags,favorite\n"
out = None
for i in range(rows):
    if i % chunk == 0:
        if out: out.close()
        out = open(f"{work}/contacts-{i // chunk:03d}.csv", "w", encoding="utf-8")
        out.write(header)
    f, l = first[i % len(first)], last[(i // len(first)) % len(last)]
    tag = "" if i % 3 == 0 else tags[i % len(tags)]
    notes = f"Met at the {2000 + i % 25} conference" if i % 4 == 0 else ""
    out.write(f'{f} {l} {i},+1 555 {(i // 10000) % 1000:03d} {i % 10000:04d},'
              f'{ascii(f)}.{ascii(l)}{i}@example.com,"{i % 997 + 1} Main Street, Springfield",'
              f'{companies[i % len(companies)]},{notes},{tag},{"true" if i % 10 == 0 else "false"}\n')
out.close()
PY

echo "== import" >&2
IMPORT_S=0
for f in "$WORK"/contacts-*.csv; do
    size=$(stat -c %s "$f")
    (( size <= 10 * 1024 * 1024 )) || { echo "bench: $f is over 10 MB" >&2; exit 1; }
    out=$(curl -fsS -m 120 -w '\n%{time_total}' -H "$AUTH" -H 'Content-Type: text/csv' \
        --data-binary "@$f" "$BASE/api/contacts/import/csv")
    secs=$(tail -n1 <<<"$out")
    added=$(head -n1 <<<"$out" | json_field added)
    echo "   $(basename "$f"): $((size / 1024)) KiB, added $added in ${secs}s" >&2
    IMPORT_S=$(python3 -c "print($IMPORT_S + $secs)")
done
TOTAL=$(curl -fsS -H "$AUTH" "$BASE/api/contacts?per_page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["total"])')
[[ "$TOTAL" == "$ROWS" ]] || { echo "bench: the book has $TOTAL contacts, not $ROWS" >&2; exit 1; }
# The first read after the import builds the directory (the import does not patch it).
FIRST_AFTER_IMPORT=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts?q=anna+berg")

echo "== export" >&2
EXPORT_S=$(curl -fsS -m 120 -o "$WORK/export.csv" -w '%{time_total}' -H "$AUTH" "$BASE/api/contacts/export/csv")
EXPORT_LINES=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8"))))' "$WORK/export.csv") - 1))
[[ "$EXPORT_LINES" == "$ROWS" ]] || { echo "bench: the export has $EXPORT_LINES rows" >&2; exit 1; }

# wrk: a Lua script for the percentiles wrk does not print by itself.
cat >"$WORK/report.lua" <<'LUA'
local queries = {}
local i = 0
function init(args)
  for _, q in ipairs(args) do table.insert(queries, q) end
end
function request()
  if #queries == 0 then return wrk.format(nil) end
  i = i + 1
  return wrk.format(nil, wrk.path .. queries[(i % #queries) + 1])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d n=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests))
end
LUA
wrk_run() { # connections path [queries...]
    local c=$1 path=$2; shift 2
    wrk -t2 -c"$c" -d"${DURATION}s" --timeout 10s -H "$AUTH" -s "$WORK/report.lua" \
        "$BASE$path" -- "$@" | grep '^RESULT' | sed 's/^RESULT //'
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "== search (wrk, 4 connections)" >&2
SEARCH=$(wrk_run 4 "/api/contacts?q=" "anna+berg" "marta+schmidt" "globex+hansen" \
    "katarzyna+example.com" "sven+012" "rossi+initech" "m%C3%BCller+vip" "tom%C3%A1s+weber+9" \
    "spring+castro+client" "olga+555+0")
echo "   $SEARCH" >&2
echo "== first page by name (wrk, 32 connections)" >&2
LIST=$(wrk_run 32 "/api/contacts?sort=name&page=1")
echo "   $LIST" >&2
echo "== healthz (wrk, 32 connections)" >&2
HEALTH=$(wrk_run 32 "/healthz")
echo "   $HEALTH" >&2
CRYPTO=$("$LOAD" crypto-limit --rows 50 --seconds 5)
echo "   $CRYPTO" >&2
LIMIT=$(field limit "$CRYPTO")

echo "== public form ($FORM_IPS source addresses x 5)" >&2
FORM=$("$LOAD" form --base "$BASE" --ips "$FORM_IPS" --per-ip 5 --concurrency 32)
echo "   $FORM" >&2
STORED=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from submissions").fetchone()[0])' "$DATA_DIR/contact-vault.db")

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

ms() { python3 -c "print(f'{float(\"$1\") * 1000:.0f} ms')"; }
pct=$(python3 -c "print(f'{100 * $(field rps "$LIST") / $LIMIT:.0f}')")
cat <<TABLE

Contact Vault, $ROWS contacts, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load before $LOAD_BEFORE, after $LOAD_AFTER

| figure | result | target |
|---|---|---|
| search \`q\` (several terms), p50 / p95 at 4 connections | $(field p50_ms "$SEARCH") ms / $(field p95_ms "$SEARCH") ms ($(field rps "$SEARCH") req/s) | ≤ 20 ms / ≤ 50 ms |
| first page by name (50 rows), req/s at 32 connections | $(field rps "$LIST") req/s = ${pct} % of the crypto-bound $LIMIT req/s (p50 $(field p50_ms "$LIST") ms) | ≥ 70 % |
| \`GET /healthz\` req/s at 32 connections | $(field rps "$HEALTH") req/s (p50 $(field p50_ms "$HEALTH") ms) | for reference |
| public form submissions/s ($FORM_IPS sources × 5, limiter on) | $(field per_second "$FORM")/s ($(field redirected "$FORM") accepted, $(field limited "$FORM") limited, $STORED stored; p95 $(field p95_ms "$FORM") ms) | ≥ 500 |
| CSV import of $ROWS rows ($(ls "$WORK"/contacts-*.csv | wc -l) files) | $(printf '%.2f' "$IMPORT_S") s | ≤ 10 s |
| CSV export of $ROWS rows | $(printf '%.2f' "$EXPORT_S") s | ≤ 3 s |
| first search after a restart (cold directory) | $(ms "$COLD") (next one $(ms "$WARM"); first after the import $(ms "$FIRST_AFTER_IMPORT")) | ≤ 1.5 s |
| server RSS after the run | ${RSS_END} MB (peak ${HWM_END} MB; ${RSS_COLD} MB after restart + cold search) | ≤ 200 MB |
| \`/healthz\` p99 during 20 concurrent logins | $(field healthz_p99_ms "$LOGINS") ms (alone: $(field healthz_p99_ms "$PROBE") ms; $(field ok "$LOGINS") logins ok, $(field limited "$LOGINS") limited, $(field per_second "$LOGINS")/s, each from its own 127.2.x.y) | ≤ 50 ms |

crypto: $CRYPTO
TABLE
