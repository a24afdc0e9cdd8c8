#!/usr/bin/env bash
# How the figures grow with the size of one book (issue 14): `bash bench/run.sh --curves`.
#
# For each size in SIZES (1k, 10k, 100k; --million adds 1,000,000) a fresh server and data
# directory: import through POST /api/contacts/import/csv, the first search after it (builds
# the directory), the CSV export, search at one connection by kind (one word, several words,
# no match, phone digits), the first list page, RSS, then a restart and the first search on a
# cold directory. The same search and list run again at the sizes in OLD_SIZES with
# DIRECTORY_CACHE_MB=0: no directory kept, every request decrypts the whole book, as the old
# app did (its source is not here to run; this is a stand-in for it, labelled so).
#
# Writes bench/results/books.csv, prints one table, and draws the plots (bench/plot.py).
# Settings: SIZES="1000 10000 100000" OLD_SIZES="1000 10000" SEARCH_SECONDS=5 CHUNK=25000
#           BENCH_RESULTS=bench/results BENCH_PLOTS=docs/bench (where the CSV and the plots go)
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-1000 10000 100000}
[[ "${1:-}" == --million ]] && SIZES="$SIZES 1000000"
OLD_SIZES=${OLD_SIZES:-1000 10000}
SEARCH_SECONDS=${SEARCH_SECONDS:-5}
CHUNK=${CHUNK:-25000}
NAME=curves
# shellcheck source=bench/lib.sh
source bench/lib.sh
need wrk
bench_build

RESULTS=${BENCH_RESULTS:-bench/results}
OUT="$RESULTS/books.csv"
mkdir -p "$RESULTS"
ROWS_OUT="$WORK/rows.csv"
: >"$ROWS_OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# measure ROWS CACHE_MB LABEL: one CSV row of figures for a book of ROWS contacts.
measure() {
    local rows=$1 cache=$2 label=$3
    local csv="$WORK/csv-$rows"
    export DATA_DIR="$WORK/data-$label-$rows" DIRECTORY_CACHE_MB=$cache
    echo "== $label, $rows contacts (DIRECTORY_CACHE_MB=$cache)" >&2
    if [[ ! -d "$csv" ]]; then
        mkdir -p "$csv"
        generate_csv "$csv" "$rows" "$CHUNK"
    fi
    start_server
    add_user bench
    local token import_s total first export_s lines kinds list rss hwm cold builds_before
    token=$(sign_in bench)
    import_s=$(import_csv "$csv" "$token")
    total=$(book_total "$token")
    [[ "$total" == "$rows" ]] || { echo "bench: the book has $total contacts, not $rows" >&2; exit 1; }
    first=$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
        "$BASE/api/contacts?q=anna+berg")
    export_s=$(curl -fsS -m 300 -o "$WORK/export.csv" -w '%{time_total}' \
        -H "Authorization: Bearer $token" "$BASE/api/contacts/export/csv")
    lines=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8"))))' "$WORK/export.csv") - 1))
    [[ "$lines" == "$rows" ]] || { echo "bench: the export has $lines rows, not $rows" >&2; exit 1; }
    rm -f "$WORK/export.csv"
    builds_before=$(builds)
    kinds=$(search_kinds "$token" "$SEARCH_SECONDS" | awk '{printf "%s,%s,", $2, $3}')
    list=$(wrk_run "$token" 1 "$SEARCH_SECONDS" "/api/contacts?sort=name&page=1")
    echo "   search p50,p95 by kind: $kinds list: $list; directory builds meanwhile: $(($(builds) - builds_before))" >&2
    rss=$(rss_mb)
    hwm=$(hwm_mb)
    stop_server
    start_server
    cold=$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
        "$BASE/api/contacts?q=anna+berg")
    local rss_cold
    rss_cold=$(rss_mb)
    stop_server
    rm -rf "$DATA_DIR"
    echo "$label,$rows,$import_s,$export_s,$(ms "$first"),$(ms "$cold"),$kinds$(field p50_ms "$list"),$(field p95_ms "$list"),$rss,$hwm,$rss_cold" >>"$ROWS_OUT"
}

for rows in $SIZES; do measure "$rows" 128 app; done
for rows in $OLD_SIZES; do measure "$rows" 0 no-cache; done

save_results "$OUT" "$ROWS_OUT" \
    "# bash bench/run.sh --curves: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load before $LOAD_BEFORE" \
    "label,contacts,import_s,export_s,first_search_ms,cold_search_ms,one_word_p50,one_word_p95,several_p50,several_p95,no_match_p50,no_match_p95,phone_p50,phone_p95,list_p50,list_p95,rss_mb,peak_mb,rss_cold_mb"
python3 bench/table.py "$OUT"
bash bench/plot.sh
