#!/usr/bin/env bash
# Draws docs/bench/*.svg from bench/results/*.csv (bench/plot.py), with matplotlib from a venv
# in /tmp/cv-plot-venv made on first use (pip, from PyPI) unless the python at hand has it.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c 'import matplotlib' 2>/dev/null; then
    exec python3 bench/plot.py
fi
VENV=${PLOT_VENV:-/tmp/cv-plot-venv}
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'matplotlib==3.9.2'
fi
exec "$VENV/bin/python" bench/plot.py
