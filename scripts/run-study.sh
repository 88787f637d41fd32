#!/usr/bin/env bash
# The study reproduction (issue 13): every spec of sweeps/study/, one resumable sweep each, into
# results/study/<spec>.h5, cheapest first, then the analysis against the study's figures.
#
#   bash scripts/run-study.sh                 # all specs (about 40 hours on 2 cores)
#   bash scripts/run-study.sh table1 word_ptb # only these
#   bash scripts/run-study.sh --report        # only the analysis: REPRODUCTION.md and its plots
#
# Stop it at any time with SIGTERM or Ctrl-C (to the process group: `kill -TERM -- -PGID`):
# every rank checkpoints its run and the sweep exits with 75. Run the same command again to
# resume; finished runs are never run again. Commit results/study/*.h5 (not the checkpoints) to
# let another machine resume. RANKS (default 2: a master and one worker) sets the MPI ranks;
# TINYFRONT (default build/tinyfront) the binary (a copy keeps a long study off later rebuilds).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
RANKS="${RANKS:-2}"
TINYFRONT="${TINYFRONT:-$ROOT/build/tinyfront}"
SPECS=(sweep_linear_context sweep_mlp_hidden sweep_attention_heads table1 sweep_transformer_depth
       word_ptb word_wikitext2 open_iso_flops_causal open_compute_scaled_tpp open_causal_rankings
       open_causal_rope table3_rope open_compute_scaled)
if [ "${1:-}" = "--report" ]; then SPECS=(); elif [ $# -gt 0 ]; then SPECS=("$@"); fi
mkdir -p "$ROOT/results/study"
for spec in "${SPECS[@]+"${SPECS[@]}"}"; do
  if [ ! -f "$ROOT/sweeps/study/$spec.toml" ]; then
    echo "run-study: no spec sweeps/study/$spec.toml" >&2
    exit 2
  fi
  echo "run-study: $spec ($(date -u +%FT%TZ))"
  mpirun -n "$RANKS" --oversubscribe "$TINYFRONT" sweep "$ROOT/sweeps/study/$spec.toml" \
    --out "$ROOT/results/study/$spec.h5"
done
# The report and REPRODUCTION.md, from the repository root with relative paths: the command
# written at the top of REPRODUCTION.md then works on any clone. 1.15e10 FLOP/s per worker is the
# rate sweeps/study/README.md planned with (this 2-core machine under load).
cd "$ROOT"
"$TINYFRONT" analyze results/study/*.h5 --reference analysis/reference/study.toml \
  --out results/study/report --reproduction REPRODUCTION.md --plan-flops-per-second 1.15e10
