#!/usr/bin/env bash
# The main job: set up, build, run the quick sweep on Tiny Shakespeare with 2 MPI ranks (1 master
# + 1 worker), print the results table, and write the frontier report and plots.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/build.sh"
source "$ROOT/scripts/env.sh"
OUT="${OUT:-$ROOT/results}"
mkdir -p "$OUT"
mpirun -n 2 --oversubscribe "$ROOT/build/tinyfront" sweep "$ROOT/sweeps/quick.toml" \
  --out "$OUT/quick.h5"
"$ROOT/build/tinyfront" analyze "$OUT/quick.h5" --out "$OUT/quick-report"
echo "report: $OUT/quick-report/report.md"
