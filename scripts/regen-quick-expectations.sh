#!/usr/bin/env bash
# Regenerates the stored results of the quick sweep that the tests compare against
# (tests/data/quick_sweep.csv: sweeps/quick.toml as shipped, checked by
# MpiSweep.QuickSweepThenAnalyzeMakesReportAndPlots; tests/data/quick_sweep_small.csv: the same
# grid with the small budget of the install test, Install.EndToEnd). Run it only after a change
# that is MEANT to change results (say, new trainer numerics), from a clean build of that change,
# and say so in the commit message: these files are what "results stay bit-identical" is checked
# against. The quick sweep has no dropout, so dropout-only numerics changes leave them as they are.
#
#   bash scripts/build.sh && bash scripts/regen-quick-expectations.sh [path/to/tinyfront]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/build/tinyfront}"
source "$ROOT/scripts/env.sh"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# The small budget: keep in step with SETS in tests/install_test.sh.
SMALL=(--set train.epochs=1 --set train.windows_per_epoch=1280 --set train.eval_windows=500)
mpirun -n 2 "$BIN" sweep "$ROOT/sweeps/quick.toml" --out "$TMP/quick.h5" --quiet >/dev/null
"$BIN" export "$TMP/quick.h5" --csv >"$ROOT/tests/data/quick_sweep.csv"
echo "wrote tests/data/quick_sweep.csv with $BIN"
