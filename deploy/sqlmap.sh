#!/usr/bin/env bash
# sqlmap (Debian's package) at level 2 against the release binary: the login form, the contact
# search of the book (q, sort, order, tag) and the public contact form. Passes when sqlmap
# finds no injectable parameter in any of them.
#
#   bash deploy/sqlmap.sh          (CI calls it from .ci/run; about four minutes)
#
# The server runs on a temp data dir with CAPTCHA=off and TRUSTED_PROXIES=127.0.0.1/32, and
# sqlmap's own `xforwardedfor` tamper script gives every request a random X-Forwarded-For:
# each request then has its own rate-limit bucket, so the payloads reach the handlers instead
# of bouncing off 429s (the limits themselves are tested in tests/it/ratelimit.rs and
# tests/durability). CSRF tokens are fetched before every POST (--csrf-token/--csrf-url).
# The public form quietly drops posts sent faster than a person types (2 s after loading the
# form), so there the payloads reach its parsing and validation but not the database; its
# stored fields go through the same bound-parameter queries as the rest (crates/core/src/store/).
# Builds `cargo build --release --locked` unless CV_BIN names the binary. Each sqlmap run is
# bounded by SQLMAP_SECONDS (default 150).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

if ! command -v sqlmap >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    log "installing sqlmap"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq sqlmap curl >/dev/null
fi

# shellcheck source=deploy/release-binary.sh
. deploy/release-binary.sh
LIMIT=${SQLMAP_SECONDS:-150}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cv-sqlmap.XXXXXX")
APP_PID=""
cleanup() {
    if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
        kill -TERM "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export DATA_DIR="$TMP/data" BIND="127.0.0.1:$PORT" CAPTCHA=off RUST_LOG=warn LOG_FORMAT=text \
    TRUSTED_PROXIES=127.0.0.1/32
unset NUMVERIFY_API_KEY FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY DATABASE_URL PUBLIC_URL || true

PASSWORD='sqlmap-Correct-Horse-4711'
printf '%s\n' "$PASSWORD" | "$BIN" user add mallory --role user --password-stdin >/dev/null
"$BIN" serve >"$TMP/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null

# A signed-in session for the book's search, and a few contacts for it to find.
JAR="$TMP/cookies.txt"
csrf() { grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//'; }
token=$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/login" | csrf)
curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$token" \
    --data-urlencode "username=mallory" --data-urlencode "password=$PASSWORD" "$BASE/login"
for name in "Ann Lee" "Bob Stone" "Cara Diaz"; do
    token=$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/contacts/new" | csrf)
    curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$token" \
        --data-urlencode "name=$name" --data-urlencode "phone=+1 202 555 01$((RANDOM % 90 + 10))" \
        --data-urlencode "tags=work" "$BASE/contacts/new"
done
status=$(curl -s -o "$TMP/list.html" -w '%{http_code}' -b "$JAR" "$BASE/contacts?q=ann")
grep -q 'Ann Lee' "$TMP/list.html" || { echo "sign-in or contact creation failed ($status)"; exit 1; }
# cookie_header JAR: the jar's cookies as one Cookie header value.
cookie_header() { awk '($0 !~ /^#/ || $0 ~ /^#HttpOnly_/) && NF >= 7 { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$1"; }
SESSION=$(cookie_header "$JAR")

FAILED=0
# run NAME SQLMAP-ARGS...: one bounded sqlmap run; fails when it reports an injection or
# cannot test at all.
run() {
    local name=$1
    shift
    log "sqlmap: $name"
    local out="$TMP/$name.out"
    local rc=0
    TERM=dumb timeout "$LIMIT" sqlmap --batch --ignore-stdin --level=2 --risk=1 --time-sec=2 --timeout=10 \
        --retries=1 --disable-coloring --output-dir="$TMP/sqlmap" --tamper=xforwardedfor \
        --flush-session "$@" >"$out" 2>&1 || rc=$?
    grep -E 'testing|parameter|injectable|CRITICAL|WARNING' "$out" | grep -v 'testing .*technique' \
        | tail -n 12 || true
    # Refused or redirected payloads would not reach the handler: only 400 (and 401, the
    # answer to a wrong password) are expected; any 5xx is a bug.
    if grep -Eq "got a 30[0-9] redirect to '[^']*/login" "$out" \
        || grep -Eq '^(403|404|429|5[0-9][0-9]) \(' "$out"; then
        echo "FAIL $name: sqlmap was refused or redirected, or the server failed"
        grep -E -A4 'redirect to|HTTP error codes' "$out" | head -n 8
        FAILED=$((FAILED + 1))
    elif grep -Eq 'is vulnerable|appears to be .*injectable|sqlmap identified the following injection' "$out" \
        && ! grep -q 'do not appear to be injectable' "$out"; then
        echo "FAIL $name: sqlmap reports an injection"
        FAILED=$((FAILED + 1))
    elif [ "$rc" -eq 124 ]; then
        echo "ok   $name: no injection found in ${LIMIT}s (time bound reached)"
    elif grep -q 'do not appear to be injectable' "$out"; then
        echo "ok   $name: all tested parameters do not appear to be injectable"
    else
        echo "FAIL $name: sqlmap did not finish its tests (exit $rc)"
        tail -n 20 "$out"
        FAILED=$((FAILED + 1))
    fi
}

# sqlmap 1.7's own anti-CSRF support re-posts the form to fetch a token; instead each POST
# target gets a session of its own (cookie + token, sent in the X-CSRF-Token header that the
# app also accepts), and --drop-set-cookie keeps that session for the whole run.
# fresh_session PAGE: prints "COOKIE<TAB>TOKEN" for a new session that loaded PAGE.
fresh_session() {
    local jar="$TMP/jar.$RANDOM" token
    token=$(curl -fsS -c "$jar" -b "$jar" "$BASE$1" | csrf)
    printf '%s\t%s\n' "$(cookie_header "$jar")" "$token"
}
IFS=$'\t' read -r login_cookie login_token < <(fresh_session /login)
# While the password is tested, every request names an account of its own: five wrong
# passwords lock an account name (tests/it/lockout.rs), and a lock would answer 429 before
# the handler reads anything. The username's own payloads are left as they are.
LOGIN_EVAL="import random;username = username + str(random.randrange(10**9)) if username == 'mallory' else username"
run login --url "$BASE/login" --method POST \
    --data "username=mallory&password=wrong-password-1" -p username,password \
    --cookie "$login_cookie" --headers "X-CSRF-Token: $login_token" --drop-set-cookie --ignore-code=401 \
    --eval "$LOGIN_EVAL"
run search --url "$BASE/contacts?q=ann&sort=name&order=asc&tag=work" -p q,sort,order,tag \
    --cookie "$SESSION" --drop-set-cookie
# The public form takes one post per form load, and only 2 s after it (a person's fill time):
# a pool of sessions that loaded the form is made first, and sqlmap's --eval hands every
# request the next one (its cookie, and its token in the csrf_token field).
POOL="$TMP/form-sessions.tsv"
python3 - "$BASE" "$POOL" 4000 <<'PY'
import http.client, re, sys, urllib.parse
base, pool, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlsplit(base).netloc
conn = http.client.HTTPConnection(host, timeout=10)
with open(pool, "w") as out:
    for i in range(count):
        # Each load as from its own visitor (the script trusts 127.0.0.1 as a proxy): a
        # cookie-less client may start only so many sessions per address.
        conn.request("GET", "/", headers={"X-Forwarded-For": f"10.9.{i // 250}.{i % 250 + 1}"})
        res = conn.getresponse()
        page = res.read().decode()
        cookie = res.getheader("set-cookie").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        out.write(f"{cookie}\t{token}\n")
PY
sleep 2.5
EVAL="import sys;pool = sys.__dict__.setdefault('cv_form_pool', iter(open('$POOL').read().splitlines()));cookie, csrf_token = next(pool).split(chr(9))"
IFS=$'\t' read -r form_cookie form_token < <(head -n 1 "$POOL")
run public-form --url "$BASE/" --method POST \
    --data "name=Ann+Lee&email=ann%40example.com&phone=%2B1+202+555+0143&preferred_time=morning&preferred_date=2099-01-01&message=hello&csrf_token=$form_token" \
    -p name,email,phone,preferred_time,preferred_date,message \
    --cookie "$form_cookie" --drop-set-cookie --eval "$EVAL"
stored=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM submissions").fetchone()[0])' "$DATA_DIR/contact-vault.db")
echo "public form: $stored submissions reached the database during the run"
if [ "$stored" -eq 0 ]; then
    echo "FAIL no payload reached the public form's database path"
    FAILED=$((FAILED + 1))
fi

# The server must have stayed healthy through it all.
if ! curl -fsS "$BASE/healthz" >/dev/null; then
    echo "FAIL the server stopped answering /healthz"
    FAILED=$((FAILED + 1))
fi
if grep -E ' ERROR |panicked' "$TMP/app.log" | head -n 5 | grep -q .; then
    echo "FAIL the server logged errors:"
    grep -E ' ERROR |panicked' "$TMP/app.log" | head -n 5
    FAILED=$((FAILED + 1))
fi
[ "$FAILED" -eq 0 ] || { echo "sqlmap: $FAILED check(s) failed"; exit 1; }
echo "sqlmap: no injection found"
