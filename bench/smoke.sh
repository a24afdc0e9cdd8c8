#!/usr/bin/env bash
# The benchmark scripts at toy sizes, so that they keep working (run by .ci/run; about a
# minute). Their figures mean nothing at these sizes; the CSV files and plots go to a
# temporary folder, not over the checked-in ones. Checks that every script ran to its table
# and that each plot was drawn.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d /tmp/cv-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
export BENCH_RESULTS="$OUT/results" BENCH_PLOTS="$OUT/plots"
SIZES=2000 OLD_SIZES=500 SEARCH_SECONDS=1 bash bench/run.sh --curves >"$OUT/curves.txt"
USER_STEPS="10 25" PER_USER=200 ACTIVE=10 ACTIVE_SECONDS=2 bash bench/run.sh --users >"$OUT/users.txt"
CARDS=300 RUNS=5 bash bench/carddav.sh >"$OUT/carddav.txt"
grep -q '^| app | 2,000 |' "$OUT/curves.txt"
grep -q '^| no-cache | 500 |' "$OUT/curves.txt"
grep -q '^| 25 | 5,000 |' "$OUT/users.txt"
grep -q '^| sync with nothing changed' "$OUT/carddav.txt"
for plot in search book-size memory users; do
    [[ -s "$BENCH_PLOTS/$plot.svg" ]] || { echo "bench smoke: $plot.svg was not drawn" >&2; exit 1; }
done
cat "$OUT/curves.txt" "$OUT/users.txt"
echo "bench smoke: the scripts ran"
