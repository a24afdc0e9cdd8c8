# Shared by the scripts under bench/: sourced, not run. Sets up a temporary work directory,
# starts and stops the release server on a free loopback port, generates and imports
# contacts, and measures with wrk. Everything it starts is stopped and the work directory
# removed on exit (also on Ctrl-C). Traffic goes to 127.0.0.0/8 only.
#
# The caller sets, before sourcing: NAME (a word for the temporary directory).
# It gets: BASE, PASSWORD, BIN, LOAD, WORK, and the functions below.

PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
PASSWORD='bench-password-7f3a9c'
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/cv-release}
# BIN=path/to/contact-vault uses that binary and skips the build.
BIN_GIVEN=${BIN:+yes}
BIN=${BIN:-$CARGO_TARGET_DIR/release/contact-vault}
LOAD="$CARGO_TARGET_DIR/release/examples/bench-load"

# need TOOL...: stops with a message unless every TOOL is installed.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 1; }
    done
}
need curl python3

# bench_build [--bin-only]: the release binary and (unless --bin-only) the load client.
bench_build() {
    if [[ "${1:-}" == --bin-only ]]; then
        [[ -n "$BIN_GIVEN" ]] && return 0
        echo "== build (release, $CARGO_TARGET_DIR)" >&2
        cargo build --release --locked --quiet --bin contact-vault
        return 0
    fi
    echo "== build (release, $CARGO_TARGET_DIR)" >&2
    cargo build --release --locked --quiet --bin contact-vault --example bench-load
}

WORK=$(mktemp -d "/tmp/cv-${NAME:-bench}.XXXXXX")
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

export DATA_DIR="$WORK/data" BIND="127.0.0.1:$PORT" CAPTCHA=off LOG_FORMAT=text
# The log keeps one line per directory build ("directory built"): the scripts count them.
export RUST_LOG='warn,vault_core::book::directory=info'
# One user's token drives the list and search runs at full speed and imports every file: the
# per-user limits (API calls, imports) would measure themselves, so they are raised here.
export API_RATE_PER_SECOND=1000000 IMPORT_BURST=1000
unset NUMVERIFY_API_KEY FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY FERNET_KEYS_FILE \
      BLIND_INDEX_KEY_FILE SECRET_KEY_FILE DATABASE_URL PUBLIC_URL TRUSTED_PROXIES || true

# Starts the server on $DATA_DIR (its log: $WORK/server.log) and waits until it answers.
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
builds() { grep -c 'directory built' "$WORK/server.log" || true; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
ms() { python3 -c "print(f'{float(\"$1\") * 1000:.1f}')"; }

# add_user NAME: a user with $PASSWORD, through the CLI.
add_user() { printf '%s\n' "$PASSWORD" | "$BIN" user add "$1" --role user --password-stdin >/dev/null; }

# sign_in NAME: an API token.
sign_in() {
    curl -fsS -H 'Content-Type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" "$BASE/api/login" | json_field token
}

# generate_csv DIR ROWS CHUNK: ROWS generated contacts in DIR/contacts-NNN.csv, CHUNK a file.
# Names, companies, tags and phone numbers repeat the way a real book's do; every row is unique.
generate_csv() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys, unicodedata
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
}

# import_csv DIR TOKEN: imports every DIR/contacts-*.csv; prints the seconds it took in all.
import_csv() {
    local total=0 f size out secs added
    for f in "$1"/contacts-*.csv; do
        size=$(stat -c %s "$f")
        (( size <= 10 * 1024 * 1024 )) || { echo "bench: $f is over 10 MB" >&2; exit 1; }
        out=$(curl -fsS -m 300 -w '\n%{time_total}' -H "Authorization: Bearer $2" \
            -H 'Content-Type: text/csv' --data-binary "@$f" "$BASE/api/contacts/import/csv")
        secs=$(tail -n1 <<<"$out")
        added=$(head -n1 <<<"$out" | json_field added)
        echo "   $(basename "$f"): $((size / 1024)) KiB, added $added in ${secs}s" >&2
        total=$(python3 -c "print($total + $secs)")
    done
    echo "$total"
}

# book_total TOKEN: how many contacts the API says the book holds.
book_total() {
    curl -fsS -H "Authorization: Bearer $1" "$BASE/api/contacts?per_page=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["total"])'
}

# The search queries by kind (URL-encoded; they fit the generated book). Each kind is run
# on its own, so its percentiles are its own.
declare -A QUERIES=(
    [one-word]="globex schmidt anna initech m%C3%BCller springfield"
    [several-word]="anna+berg marta+schmidt globex+hansen m%C3%BCller+vip tom%C3%A1s+weber+9 olga+555+0"
    [no-match]="walker zzzz-none qqq+xyz nobody+here"
    [phone-digit]="555 555+012 0123 %2B1+555+004"
)
KINDS=(one-word several-word no-match phone-digit)

# wrk with a Lua script that cycles through queries, and the percentiles wrk does not print.
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
# wrk_run TOKEN CONNECTIONS SECONDS PATH [QUERIES...]: one RESULT line (without "RESULT ").
wrk_run() {
    local token=$1 c=$2 secs=$3 path=$4 threads=2 out
    shift 4
    (( c < 2 )) && threads=1
    out=$(wrk -t"$threads" -c"$c" -d"${secs}s" --timeout 10s -H "Authorization: Bearer $token" \
        -s "$WORK/report.lua" "$BASE$path" -- "$@" | grep '^RESULT' | sed 's/^RESULT //')
    if [[ "$(field non2xx "$out")" != 0 || "$(field errors "$out")" != 0 ]]; then
        echo "bench: $path answered with errors: $out" >&2
        exit 1
    fi
    echo "$out"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# save_results FILE ROWS TITLE HEADER: FILE is "# TITLE", the CSV header, then the lines of ROWS.
save_results() {
    { echo "$3"; echo "$4"; cat "$2"; } >"$1"
}

# search_kinds TOKEN SECONDS: "kind p50 p95" lines, one connection, each kind for SECONDS.
search_kinds() {
    local kind out
    for kind in "${KINDS[@]}"; do
        # shellcheck disable=SC2086 # the queries are words
        out=$(wrk_run "$1" 1 "$2" "/api/contacts?q=" ${QUERIES[$kind]})
        echo "$kind $(field p50_ms "$out") $(field p95_ms "$out")"
    done
}
