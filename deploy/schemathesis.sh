#!/usr/bin/env bash
# Schema fuzzing of the JSON API: runs the release binary on a throwaway data directory and lets
# schemathesis generate requests from GET /api/openapi.json, once with an admin's token and once
# with a plain user's, checking that no response is a 5xx, and that every status code, content
# type and JSON body is one the document describes. Zero failures or the script fails.
#
#   bash deploy/schemathesis.sh        (CI calls it from .ci/run)
#
# Installs schemathesis (pinned below) into a virtualenv under ~/.cache when it is missing.
# Builds `cargo build --release --locked` unless CV_BIN names a binary to test instead.
# Requests go to 127.0.0.1 only. ST_EXAMPLES sets the cases per operation and phase (default
# 100), ST_SEED the seed (default: fixed, so CI runs are repeatable; "random" for a new one).
# KEEP_TMP=1 keeps the temp dir (app log, reports) for a look after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${ST_EXAMPLES:-100}
SEED=${ST_SEED:-20261123}
MIN_CASES=1000
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

log() { printf '== %s\n' "$*"; }

# --- schemathesis ------------------------------------------------------------------------------
# CPython 3.11.7 (this machine's default python3) sometimes dies inside Hypothesis with
# "SystemError: AST constructor recursion depth mismatch" (a CPython bug, fixed in later
# releases), which schemathesis reports as an error. Prefer a newer interpreter when there is
# one (pyenv on this machine image carries 3.12 and 3.13 beside the default).
pick_python() {
    local v p
    for v in 3.13 3.12; do
        for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python3; do
            if [ -x "$p" ]; then echo "$p"; return; fi
        done
        if command -v "python$v" >/dev/null 2>&1 && "python$v" -c '' 2>/dev/null; then
            command -v "python$v"
            return
        fi
    done
    command -v python3
}
PYTHON=$(pick_python)
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/contact-vault/schemathesis-$SCHEMATHESIS_VERSION-py$PY_VERSION}
ST="$VENV/bin/schemathesis"
if ! "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $VENV (python $PY_VERSION)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi
log "$("$ST" --version)"

# --- release binary ----------------------------------------------------------------------------
# shellcheck source=deploy/release-binary.sh
. deploy/release-binary.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cv-schemathesis.XXXXXX")
APP_PID=""
cleanup() {
    local rc=$?
    if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
        kill -TERM "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -s "$TMP/app.log" ]; then
        echo "---- last lines of app.log"
        tail -n 40 "$TMP/app.log"
    fi
    if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

# --- app with an admin and a user ----------------------------------------------------------------
export DATA_DIR="$TMP/data"
unset DATABASE_URL FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY FERNET_KEYS_FILE BLIND_INDEX_KEY_FILE \
    SECRET_KEY_FILE PUBLIC_URL TRUSTED_PROXIES NUMVERIFY_API_KEY 2>/dev/null || true
mkdir -p "$DATA_DIR"
ADMIN_PASSWORD="fuzz-Admin-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
USER_PASSWORD="fuzz-User-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
OTPAUTH=$(printf '%s\n' "$ADMIN_PASSWORD" \
    | "$BIN" user add st-admin --role admin --password-stdin | grep '^otpauth://')
printf '%s\n' "$USER_PASSWORD" | "$BIN" user add st-user --role user --password-stdin >/dev/null

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
BIND="127.0.0.1:$PORT" CAPTCHA=off RUST_LOG=${RUST_LOG:-warn} "$BIN" serve >"$TMP/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null || { echo "the app did not start" >&2; exit 1; }
log "app on $BASE (pid $APP_PID)"

# RFC 6238 code for the admin's secret, from the otpauth:// URI that `user add` printed.
totp_now() {
    python3 - "$1" <<'PY'
import base64, hashlib, hmac, struct, sys, time, urllib.parse
query = urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)
secret = query["secret"][0]
key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
offset = mac[-1] & 0x0F
code = (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
print(f"{code:06d}")
PY
}

# login USERNAME PASSWORD [OTP]: prints the bearer token.
login() {
    local body
    body=$(python3 -c 'import json, sys; b = {"username": sys.argv[1], "password": sys.argv[2]}
if len(sys.argv) > 3: b["otp"] = sys.argv[3]
print(json.dumps(b))' "$@")
    curl -fsS -H 'Content-Type: application/json' -d "$body" "$BASE/api/login" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
ADMIN_TOKEN=$(login st-admin "$ADMIN_PASSWORD" "$(totp_now "$OTPAUTH")")
USER_TOKEN=$(login st-user "$USER_PASSWORD")
log "tokens for st-admin (admin, TOTP) and st-user (user)"

# A few contacts for each, so reads and writes of existing objects are reached too.
for token in "$ADMIN_TOKEN" "$USER_TOKEN"; do
    for i in 1 2 3; do
        curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d "{\"name\": \"Seed $i\", \"phone\": \"+44 7700 90012$i\", \"tags\": [\"seed\"]}" \
            "$BASE/api/contacts"
    done
done

# --- fuzzing -----------------------------------------------------------------------------------
# run NAME TOKEN [filters...]: one schemathesis run; its NDJSON report counts the requests.
TOTAL=0
FAILED_RUNS=()
run() {
    local name=$1 token=$2
    shift 2
    log "schemathesis as $name"
    local seed_args=()
    [ "$SEED" = "random" ] || seed_args=(--seed "$SEED")
    # From the temp dir: schemathesis keeps a .schemathesis/ cache in the working directory.
    if ! (cd "$TMP" && "$ST" run "$BASE/api/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks "$CHECKS" \
        --phases examples,coverage,fuzzing \
        --max-examples "$EXAMPLES" \
        "${seed_args[@]}" \
        --workers 2 \
        --request-timeout 20 \
        --suppress-health-check all \
        --no-color \
        --report ndjson --report-ndjson-path "$TMP/$name.ndjson" \
        "$@"); then
        FAILED_RUNS+=("$name")
    fi
    local cases
    cases=$(python3 - "$TMP/$name.ndjson" <<'PY'
import json, sys
total = 0
for line in open(sys.argv[1]):
    event = json.loads(line)
    # Every generated case is one scenario step with an interaction; count the requests sent.
    if "ScenarioFinished" in event:
        total += len(event["ScenarioFinished"].get("recorder", {}).get("interactions", {}))
print(total)
PY
) || cases=0
    log "$name: $cases requests"
    TOTAL=$((TOTAL + cases))
}

# The user goes first: schemathesis reuses names it has seen in responses, so the admin run may
# well delete st-user. Logout revokes the token at once, so it goes last, on its own.
run user "$USER_TOKEN" --exclude-operation-id logout
run admin "$ADMIN_TOKEN" --exclude-operation-id logout
run logout "$ADMIN_TOKEN" --include-operation-id logout --max-examples 5

log "$TOTAL requests in all"
if [ "$TOTAL" -lt "$MIN_CASES" ]; then
    echo "FAIL fewer than $MIN_CASES generated cases" >&2
    exit 1
fi
if ! kill -0 "$APP_PID" 2>/dev/null; then
    echo "FAIL the app died during the run" >&2
    exit 1
fi
if [ "${#FAILED_RUNS[@]}" -gt 0 ]; then
    echo "FAIL schemathesis reported failures in: ${FAILED_RUNS[*]}" >&2
    exit 1
fi
echo "schemathesis: 3 runs, $TOTAL requests, 0 failures"
