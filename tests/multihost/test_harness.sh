#!/usr/bin/env bash
# The multi-host harness itself (scripts/multihost.sh): three hosts with their own hostnames,
# addresses and working directories; Open MPI starts one rank on each through the rsh agent; and
# teardown leaves nothing behind, also when the test using the cluster fails mid-job or is killed.
# Exit 77 (skipped) where the machine does not allow namespaces.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/env.sh"
source "$ROOT/scripts/multihost.sh"
source "$ROOT/tests/multihost/lib.sh"

if reason="$(mh_unsupported)"; then
  echo "SKIP: $reason"
  exit 77
fi

work="$(mktemp -d /tmp/tfmh-test-XXXXXX)"
mh_up 3 "$work/wd" $$ >/dev/null || fail "mh_up failed"
trap 'mh_down; rm -rf "$work"' EXIT
id="$(mh_get "$MH_STATE" id)"

step "each host has its own hostname and address"
names=()
for h in 1 2 3; do
  name="$(mh_exec "$h" hostname)"
  expect_eq "$name" "$id-h$h" "hostname of host $h"
  names+=("$name")
  addr="$(mh_exec "$h" ip -o -4 addr show dev eth0 | awk '{print $4}')"
  expect_eq "$addr" "10.213.0.$((10 + h))/24" "address of host $h"
done
[[ "$(hostname)" != "$id"* ]] || fail "the test's own hostname changed"

step "a file written on one host is visible on no other"
mh_exec 2 --cd "$work/wd" -- sh -c 'echo from-h2 > only-h2.txt' || fail "write on host 2"
expect_eq "$(mh_exec 2 --cd "$work/wd" -- cat only-h2.txt)" "from-h2" "host 2 reads its file"
for h in 1 3; do
  mh_exec "$h" test -e "$work/wd/only-h2.txt" && fail "host $h sees host 2's file"
  # Nor can it reach host 2's scratch directory by its real path.
  [[ -z "$(mh_exec "$h" ls -A "$MH_STATE/scratch")" ]] || fail "host $h sees the scratch directories"
done
[[ ! -e "$work/wd/only-h2.txt" ]] || fail "the root namespace sees host 2's file"
mh_exec 2 rm "$work/wd/only-h2.txt"

step "mpirun starts one rank on each host through the rsh agent"
out="$(timeout 60 bash "$ROOT/scripts/multihost.sh" mpirun "$MH_STATE" -n 3 --map-by node sh -c 'echo "$OMPI_COMM_WORLD_RANK $(hostname)"' 2>"$work/mpirun.err")" ||
  fail "mpirun across the hosts failed: $out $(cat "$work/mpirun.err")"
echo "$out"
expect_eq "$(echo "$out" | sort | tr '\n' ' ')" "0 $id-h1 1 $id-h2 2 $id-h3 " "rank placement"

step "the agent refuses a command a shell would interpret"
err="$(TFMH_STATE="$MH_STATE" "$MH_AGENT" "$id-h2" echo 'a;' touch /tmp/x 2>&1)" &&
  fail "the agent ran a command with ';'"
expect_contains "$err" "refusing the shell character ';'" "agent refusal"
err="$(TFMH_STATE="$MH_STATE" "$MH_AGENT" "$id-h2" echo '"$HOME"' 2>&1)" &&
  fail "the agent expanded \$HOME"
expect_contains "$err" "refusing a shell expansion" "agent refusal"
err="$(TFMH_STATE="$MH_STATE" "$MH_AGENT" "$id-h9" true 2>&1)" && fail "the agent ran on a host that does not exist"
expect_contains "$err" "not part of the cluster" "agent refusal"
expect_eq "$(TFMH_STATE="$MH_STATE" "$MH_AGENT" "$id-h3" ' echo' '"a b"' "'c;d'")" "a b c;d" "agent quoting"

step "teardown of this cluster leaves nothing"
ns="$(cat "$MH_STATE"/hosts/*.ns)"
mh_down || fail "teardown reported leftovers"
left="$(mh_leftovers "$id" "$ns")"
[[ -z "$left" ]] || fail "left behind: $left"
[[ -z "$(ls -A "$work/wd")" ]] || fail "the root namespace's working directory is not empty"

step "a test that fails mid-job still tears everything down (trap)"
bash -c '
  source "$1/scripts/env.sh"; source "$1/scripts/multihost.sh"
  mh_up 3 "$2/wd2" $$ >/dev/null || exit 90
  trap mh_down EXIT
  mh_get "$MH_STATE" id > "$2/failing.id"; cat "$MH_STATE"/hosts/*.ns > "$2/failing.ns"
  mh_mpirun -n 3 --map-by node sleep 300 >/dev/null 2>&1 &
  for i in $(seq 100); do
    [ "$(mh_pids_in "$(cat "$2/failing.ns")" | xargs -r ps -o args= -p | grep -c -x "sleep 300")" -ge 3 ] && break
    sleep 0.1
  done
  mh_pids_in "$(cat "$2/failing.ns")" | xargs -r ps -o comm=,args= -p > "$2/failing.procs"
  exit 3   # the test fails while ranks and daemons run on every host
' failing "$ROOT" "$work"
rc=$?
expect_eq "$rc" 3 "exit code of the failing test"
# Two remote daemons and three ranks were running in the hosts' namespaces when it failed.
expect_eq "$(grep -c "^orted " "$work/failing.procs")" 2 "daemons running at the failure"
expect_eq "$(grep -c -E "^sleep +sleep 300$" "$work/failing.procs")" 3 "ranks running at the failure"
left="$(mh_leftovers "$(cat "$work/failing.id")" "$(cat "$work/failing.ns")")"
[[ -z "$left" ]] || fail "after a failing test, left behind: $left"

step "a test killed with SIGKILL: holders exit by themselves, gc removes the rest"
bash -c '
  source "$1/scripts/env.sh"; source "$1/scripts/multihost.sh"
  mh_up 3 "$2/wd3" $$ >/dev/null || exit 90
  mh_get "$MH_STATE" id > "$2/killed.id"; cat "$MH_STATE"/hosts/*.ns > "$2/killed.ns"
  mh_exec 2 sleep 300 &
  for i in $(seq 50); do
    mh_pids_in "$(cat "$2/killed.ns")" | xargs -r ps -o args= -p | grep -qx "sleep 300" && break
    sleep 0.1
  done
  kill -KILL $$
' killed "$ROOT" "$work"
kid="$(cat "$work/killed.id")"
for _ in $(seq 50); do
  pgrep -f "tfmh-holder $kid-" >/dev/null || break
  sleep 0.2
done
pgrep -f "tfmh-holder $kid-" >/dev/null && fail "the holders outlived their killed owner"
mh_gc
left="$(mh_leftovers "$kid" "$(cat "$work/killed.ns")")"
[[ -z "$left" ]] || fail "after SIGKILL and gc, left behind: $left"

echo "PASS"
