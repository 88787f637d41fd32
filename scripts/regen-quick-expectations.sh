#!/usr/bin/env bash
# Regenerates the stored results of the quick sweep that the tests compare against
# (tests/data/quick_sweep.csv: sweeps/quick.toml as shipped, on 2 ranks, as `tinyfront export
# --csv` writes it). Run it only after a change that is MEANT to change results (say, new trainer
# numerics), from a clean build of that change, and say so in the commit message: this file is
# what "results stay bit-identical" is checked against (MpiSweep.QuickSweepThenAnalyzeMakesReport
# AndPlots, through tests/compare_results_csv.py).
#
#   bash scripts/build.sh && bash scripts/regen-quick-expectations.sh [path/to/tinyfront]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/build/tinyfront}"
source "$ROOT/scripts/env.sh"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mpirun -n 2 "$BIN" sweep "$ROOT/sweeps/quick.toml" --out "$TMP/quick.h5" --quiet >/dev/null
"$BIN" export "$TMP/quick.h5" --csv >"$ROOT/tests/data/quick_sweep.csv"
echo "wrote tests/data/quick_sweep.csv with $BIN"
