#!/usr/bin/env bash
# A worker host lost mid-sweep (scripts/multihost.sh): three hosts, the master on host 1; once a
# run has finished and a checkpoint has reached host 1, every process of host 3 is killed with
# SIGKILL, its namespace holder included (the machine is gone). Checks:
#   - the job ends promptly (Open MPI aborts it; no hang);
#   - a restart on the remaining hosts 1 and 2 resumes from host 1's results file and checkpoints:
#     every run done exactly once (runs finished before the loss keep their record, none re-run),
#     nothing written on host 2, and the metrics bit-identical to the same sweep uninterrupted on
#     one host with the same thread counts.
# Exit 77 (skipped) where the machine does not allow namespaces.
#
# usage: test_host_loss.sh TINYFRONT_BINARY SOURCE_DIR
set -uo pipefail
TF="$1"
ROOT="$2"
source "$ROOT/scripts/env.sh"
source "$ROOT/scripts/multihost.sh"
source "$ROOT/tests/multihost/lib.sh"

mh_test_start loss

# Six runs of about 2 s each here, checkpointed every 5 steps.
cat >"$work/spec.toml" <<EOF
[sweep]
name = "hostloss"
threads_per_rank = 1
checkpoint_steps = 5

[defaults]
data.path = "$ROOT/data/tinyshakespeare.txt"
model.arch = "mlp"
model.d_model = 8
model.hidden = [32]
train.epochs = 1
train.windows_per_epoch = 12800
train.batch = 32
train.eval_windows = 200
model.dropout = 0.1

[grid]
model.context = [4, 8, 16]
train.lr = [1e-3, 3e-3]
EOF

step "reference: the sweep on one host (3 ranks, 1 thread each)"
mkdir -p "$work/ref"
(cd "$work/ref" && timeout 300 mpirun -n 3 "$TF" sweep "$work/spec.toml" --out ref.h5 --quiet) ||
  fail "the one-host sweep failed"
"$TF" export --csv "$work/ref/ref.h5" >"$work/ref.csv" || fail "export of the reference"
echo "reference done at ${SECONDS}s"

mh_up 3 "$work/wd" $$ >/dev/null || fail "mh_up failed"
id="$(mh_get "$MH_STATE" id)"
scratch() { echo "$MH_STATE/scratch/$id-h$1"; }
cp "$work/spec.toml" "$(scratch 1)/spec.toml"

step "3 hosts: the sweep; host 3 killed (SIGKILL, every process) mid-sweep"
mh_mpirun -n 3 --map-by node "$TF" sweep spec.toml --out results.h5 >"$work/run1.log" 2>&1 &
job=$!
ready() {
  grep -q "] [1-9][0-9]*/6 finished" "$work/run1.log" &&
    [[ -n "$(find "$(scratch 1)/results.h5.ckpt" -name '*.h5' 2>/dev/null)" ]]
}
for ((i = 0; i < 1200; ++i)); do
  ready && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.05
done
ready || fail "no finished run and checkpoint before the kill: $(cat "$work/run1.log")"
h3_ns="$(cat "$MH_STATE/hosts/$id-h3.ns")"
victims="$(mh_pids_in "$h3_ns")"
echo "host 3's processes: $(echo "$victims" | xargs -r ps -o comm= -p | sort | uniq -c | tr -s ' \n' ' ')"
tf_comm="$(basename "$TF" | cut -c1-15)"  # a process's comm is at most 15 characters
echo "$victims" | xargs -r ps -o comm= -p | grep -qxF "$tf_comm" || fail "no tinyfront rank on host 3"
killed_at=$SECONDS
kill -KILL $victims
for ((i = 0; i < 600; ++i)); do
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$job" 2>/dev/null && fail "the job still runs 60 s after host 3 was lost: $(cat "$work/run1.log")"
wait "$job"
rc=$?
echo "the job ended with code $rc, $((SECONDS - killed_at)) s after the kill"
((rc != 0)) || fail "the job reported success although host 3 was lost"
[[ -z "$(mh_pids_in "$h3_ns")" ]] || fail "host 3 still has processes"
"$TF" export --csv "$(scratch 1)/results.h5" >"$work/before.csv" || fail "export after the loss"
echo "recorded before the restart: $(($(wc -l <"$work/before.csv") - 1)) run(s)"

step "restart on hosts 1 and 2"
mh_mpirun -n 2 --host "$id-h1,$id-h2" "$TF" sweep spec.toml --out results.h5 >"$work/run2.log" 2>&1 ||
  fail "the restarted sweep failed: $(cat "$work/run2.log")"
grep -E "resuming|runs done" "$work/run2.log"
[[ -z "$(ls -A "$(scratch 2)")" ]] || fail "host 2's working directory is not empty: $(ls -AR "$(scratch 2)")"
"$TF" export --csv "$(scratch 1)/results.h5" >"$work/after.csv" || fail "export after the restart"
/usr/bin/python3 - "$work/ref.csv" "$work/before.csv" "$work/after.csv" "$id" <<'EOF' || fail "results after the restart"
import csv, sys
ref, before, after = (list(csv.DictReader(open(p))) for p in sys.argv[1:4])
cid = sys.argv[4]
ids = [r["run_id"] for r in after]
assert len(after) == 6 and len(set(ids)) == 6, f"runs after the restart: {ids}"
assert all(r["status"] == "done" for r in after), [r["status"] for r in after]
# Runs done before the loss were not run again: same record, same finish time and host.
done_before = {r["run_id"]: r for r in before if r["status"] == "done"}
assert done_before, "no run was done before the loss"
now = {r["run_id"]: r for r in after}
for rid, r in done_before.items():
    assert now[rid]["finished_at"] == r["finished_at"] and now[rid]["host"] == r["host"], rid
# The runs left were finished by host 2 (host 3 is gone).
for rid, r in now.items():
    if rid not in done_before:
        assert r["host"] == cid + "-h2", (rid, r["host"])
skip = {"rank", "host", "started_at", "finished_at", "wall_seconds", "tokens_per_second"}
cols = [c for c in ref[0] if c not in skip]
by_id = {r["run_id"]: r for r in ref}
for r in after:
    for c in cols:
        assert r[c] == by_id[r["run_id"]][c], f"{r['run_id']} {c}: {r[c]} vs {by_id[r['run_id']][c]}"
print(f"{len(done_before)} run(s) kept from before the loss, {6 - len(done_before)} finished "
      f"after it; {len(cols)} columns identical to the one-host sweep")
EOF
echo "checked at ${SECONDS}s"

step "teardown leaves nothing (host 3 already gone)"
ns="$(cat "$MH_STATE"/hosts/*.ns)"
mh_down || fail "teardown reported leftovers"
left="$(mh_leftovers "$id" "$ns")"
[[ -z "$left" ]] || fail "left behind: $left"
echo "PASS (${SECONDS}s)"
