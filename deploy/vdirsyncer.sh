#!/usr/bin/env bash
# A real CardDAV client against the release binary: vdirsyncer (Debian's package) syncs a local
# folder of .vcf files with a user's address book over plain loopback, finding the book the way
# clients do (/.well-known/carddav, the principal, the home). The scenario is in
# deploy/vdirsyncer_scenario.py: 1,000 cards up, a second sync that transfers nothing, create,
# edit and delete on each side, a conflict, and every change checked through the JSON API.
#
#   bash deploy/vdirsyncer.sh      (CI calls it from .ci/run; about a minute)
#
# Builds `cargo build --release --locked` unless CV_BIN names the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

if ! command -v vdirsyncer >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    log "installing vdirsyncer"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq vdirsyncer curl >/dev/null
fi
vdirsyncer --version

# shellcheck source=deploy/release-binary.sh
. deploy/release-binary.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cv-vdirsyncer.XXXXXX")
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
export DATA_DIR="$TMP/data" BIND="127.0.0.1:$PORT" CAPTCHA=off RUST_LOG=warn LOG_FORMAT=text
unset NUMVERIFY_API_KEY FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY DATABASE_URL PUBLIC_URL REDIS_URL || true

PASSWORD='vdirsyncer-Correct-Horse-4711'
printf '%s\n' "$PASSWORD" | "$BIN" user add sam --role user --password-stdin >/dev/null
"$BIN" serve >"$TMP/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null

rc=0
# Debian's vdirsyncer runs on Debian's python3; the scenario needs nothing beyond its stdlib.
/usr/bin/python3 deploy/vdirsyncer_scenario.py "$BASE" sam "$PASSWORD" "$TMP" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "--- app log (tail)"
    tail -n 40 "$TMP/app.log"
fi
if grep -E 'ERROR|panicked' "$TMP/app.log"; then
    echo "FAIL: the server answered 5xx or panicked during the sync" >&2
    rc=1
fi
exit "$rc"
