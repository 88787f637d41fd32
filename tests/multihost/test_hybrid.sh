#!/usr/bin/env bash
# threads_per_rank = "auto" across hosts (scripts/multihost.sh): the documented line for one rank
# per socket, `mpirun --map-by ppr:1:socket --bind-to socket`, on three hosts. Each worker
# resolves "auto" where it runs, from the cores Open MPI bound it to (no SLURM_CPUS_PER_TASK or
# OMP_NUM_THREADS reaches the hosts), and every run records that count, its host and its rank.
# Exit 77 (skipped) where the machine does not allow namespaces.
#
# usage: test_hybrid.sh TINYFRONT_BINARY SOURCE_DIR
set -uo pipefail
TF="$1"
ROOT="$2"
source "$ROOT/scripts/env.sh"
source "$ROOT/scripts/multihost.sh"
source "$ROOT/tests/multihost/lib.sh"
unset OMP_NUM_THREADS SLURM_CPUS_PER_TASK

mh_test_start hybrid

mh_up 3 "$work/wd" $$ >/dev/null || fail "mh_up failed"
id="$(mh_get "$MH_STATE" id)"
scratch() { echo "$MH_STATE/scratch/$id-h$1"; }
cat >"$(scratch 1)/spec.toml" <<EOF
[sweep]
name = "hybrid"
threads_per_rank = "auto"

[defaults]
data.path = "$ROOT/data/tinyshakespeare.txt"
model.arch = "mlp"
model.d_model = 8
model.hidden = [32]
train.epochs = 1
train.windows_per_epoch = 1280
train.batch = 32
train.eval_windows = 200

[grid]
model.context = [4, 8]
train.lr = [1e-3, 3e-3]
EOF

step "the cores each rank is bound to (one rank per socket on each host)"
bound="$(mh_mpirun --map-by ppr:1:socket --bind-to socket sh -c 'echo "$(hostname) $(nproc)"' 2>/dev/null)" ||
  fail "mpirun with one rank per socket failed"
echo "$bound"
expect_eq "$(echo "$bound" | wc -l)" 3 "ranks (one socket per host here)"

step "the sweep with threads_per_rank = \"auto\""
mh_mpirun --map-by ppr:1:socket --bind-to socket "$TF" sweep spec.toml --out results.h5 --quiet \
  >"$work/run.log" 2>&1 || fail "the sweep failed: $(cat "$work/run.log")"
"$TF" export --csv "$(scratch 1)/results.h5" >"$work/runs.csv" || fail "export"
/usr/bin/python3 - "$work/runs.csv" "$id" "$bound" <<'EOF' || fail "recorded threads"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cid = sys.argv[2]
cores = {h: int(n) for h, n in (line.split() for line in sys.argv[3].splitlines())}
assert len(rows) == 4 and all(r["status"] == "done" for r in rows), rows
for r in rows:
    assert r["host"] in (cid + "-h2", cid + "-h3"), r["host"]
    assert {"1": cid + "-h2", "2": cid + "-h3"}[r["rank"]] == r["host"], (r["rank"], r["host"])
    assert int(r["train.threads"]) == cores[r["host"]], (r["run_id"], r["train.threads"], cores)
print("threads recorded per run:", sorted((r["host"], r["train.threads"]) for r in rows))
EOF
echo "PASS (${SECONDS}s)"
