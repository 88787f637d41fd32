#!/usr/bin/env bash
# Measures the sweep scheduler at scale: RANKS oversubscribed MPI ranks run a grid of
# RUNS_PER_WORKER x (RANKS - 1) transformer runs with `tinyfront sweep --simulate` (workers sleep
# for each run's estimated time, scaled so that the sweep lasts about SECONDS), and prints the
# master's JSON summary: efficiency = sum of run durations / (workers x wall), dispatch ms per run.
# MPI start-up is reported apart (startup_seconds is from the first rank up to the last).
#
#   bash bench/simulate_scheduling.sh 64            # about 5 minutes in all
#   bash bench/simulate_scheduling.sh 1024 32 240   # Open MPI takes 10-20 min to start 1,024
#                                                   # processes on 2 cores before the sweep starts
set -euo pipefail
ranks=${1:?usage: simulate_scheduling.sh RANKS [RUNS_PER_WORKER] [SECONDS]}
per_worker=${2:-32}
seconds=${3:-240}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${TINYFRONT:-$here/build/tinyfront}
source "$here/scripts/env.sh"
# Ranks that wait must not spin: hundreds of them share two cores.
export OMPI_MCA_mpi_yield_when_idle=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=$(( (ranks - 1) * per_worker ))
seeds=$(( (runs + 2047) / 2048 ))
seed_list=$(seq -s ', ' 1 "$seeds")
cat > "$work/sim.toml" <<SPEC
[sweep]
name = "sim$ranks"
[defaults]
data.path = "$here/data/tinyshakespeare.txt"
model.arch = "transformer"
model.heads = 4
train.epochs = 1
train.windows_per_epoch = 20000
[grid]
model.d_model = [32, 64, 96, 128]
model.context = [16, 32, 64, 128]
model.layers = [1, 2, 3, 4]
model.ff = [64, 128, 256, 512]
train.lr = [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3]
train.seed = [$seed_list]
SPEC
fps=8e10
# Total estimated run-seconds (one worker) -> the scale that makes the sweep last `seconds`.
total=$("$bin" plan "$work/sim.toml" --ranks 2 --flops-per-second $fps --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["estimated_wall_hours"] * 3600)')
scale=$(python3 -c "print($seconds * ($ranks - 1) / $total)")
echo "simulating $(( seeds * 2048 )) runs on $ranks ranks, scale $scale" >&2
/usr/bin/time -f "mpirun wall %e s (MPI start-up included)" \
  mpirun -n "$ranks" --oversubscribe --bind-to none "$bin" sweep "$work/sim.toml" \
  --out "$work/sim.h5" --simulate --simulate-scale "$scale" --flops-per-second $fps --quiet --json
