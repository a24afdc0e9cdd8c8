#!/usr/bin/env bash
# Many users on one instance (issue 14): `bash bench/run.sh --users`.
#
# One server, one SQLite file. Users user0, user1, ... are added with `contact-vault user add` in
# steps (USER_STEPS); each new user signs in and imports the same PER_USER contacts. At each
# step the server restarts (every directory cold), every user so far signs in one after the
# other and loads the first list page (which builds that user's directory) and then searches
# once (warm); the RSS is read with every user having signed in once. Then ACTIVE users,
# spread over all of them, are active at once over 8 connections for ACTIVE_SECONDS, lists
# and searches in turn; the directory builds during that run are counted in the server log
# (a rebuild storm would show as many more builds than users).
#
# Writes bench/results/users.csv, prints one table, and draws the plots (bench/plot.py).
# Settings: USER_STEPS="100 300 1000" PER_USER=1000 ACTIVE=200 ACTIVE_SECONDS=15
#           DIRECTORY_CACHE_MB (the server's default unless set)
#           BENCH_RESULTS=bench/results BENCH_PLOTS=docs/bench (where the CSV and the plots go)
set -euo pipefail
cd "$(dirname "$0")/.."

USER_STEPS=${USER_STEPS:-100 300 1000}
PER_USER=${PER_USER:-1000}
ACTIVE=${ACTIVE:-200}
ACTIVE_SECONDS=${ACTIVE_SECONDS:-15}
NAME=users
# shellcheck source=bench/lib.sh
source bench/lib.sh
need wrk
bench_build

RESULTS=${BENCH_RESULTS:-bench/results}
OUT="$RESULTS/users.csv"
mkdir -p "$RESULTS" "$WORK/csv"
ROWS_OUT="$WORK/rows.csv"
: >"$ROWS_OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
generate_csv "$WORK/csv" "$PER_USER" "$PER_USER"
CSV="$WORK/csv/contacts-000.csv"

start_server
made=0
step_no=0
for users in $USER_STEPS; do
    echo "== $users users x $PER_USER contacts" >&2
    t0=$(date +%s.%N)
    seq "$made" $((users - 1)) | xargs -P2 -I{} sh -c \
        'printf "%s\n" "$1" | "$2" user add "user$3" --role user --password-stdin >/dev/null' \
        _ "$PASSWORD" "$BIN" {}
    SETUP=$("$LOAD" users-setup --base "$BASE" --password "$PASSWORD" --from "$made" \
        --to "$users" --csv "$CSV")
    echo "   users added and imported in $(python3 -c "import time; print(f'{time.time() - $t0:.0f}')") s ($SETUP)" >&2
    made=$users
    stop_server
    start_server
    before=$(builds)
    COLD=$("$LOAD" users-cold --base "$BASE" --password "$PASSWORD" --count "$users" \
        --octet $((4 + step_no)) --tokens-out "$WORK/tokens")
    echo "   $COLD" >&2
    RSS_SIGNED=$(rss_mb)
    cold_builds=$(($(builds) - before))
    active=$(( ACTIVE < users ? ACTIVE : users ))
    before=$(builds)
    RUN=$("$LOAD" users-active --base "$BASE" --tokens "$WORK/tokens" --users "$active" \
        --seconds "$ACTIVE_SECONDS")
    active_builds=$(($(builds) - before))
    echo "   $RUN; directory builds during it: $active_builds" >&2
    [[ "$(field errors "$RUN")" == 0 ]] || { echo "bench: errors in the active run" >&2; exit 1; }
    echo "$users,$((users * PER_USER)),$(field cold_p50_ms "$COLD"),$(field cold_p95_ms "$COLD"),$(field cold_max_ms "$COLD"),$(field warm_p50_ms "$COLD"),$(field warm_p95_ms "$COLD"),$cold_builds,$RSS_SIGNED,$active,$(field per_second "$RUN"),$(field p50_ms "$RUN"),$(field p95_ms "$RUN"),$(field p99_ms "$RUN"),$active_builds,$(rss_mb),$(hwm_mb)" >>"$ROWS_OUT"
    step_no=$((step_no + 1))
done

save_results "$OUT" "$ROWS_OUT" \
    "# bash bench/run.sh --users: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load before $LOAD_BEFORE, $PER_USER contacts a user, DIRECTORY_CACHE_MB=${DIRECTORY_CACHE_MB:-default}" \
    "users,contacts,cold_list_p50,cold_list_p95,cold_list_max,warm_search_p50,warm_search_p95,cold_builds,rss_signed_in_mb,active_users,active_per_second,active_p50,active_p95,active_p99,active_builds,rss_end_mb,peak_mb"
python3 bench/table.py "$OUT"
bash bench/plot.sh
