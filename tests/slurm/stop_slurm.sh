#!/usr/bin/env bash
# Stops the private cluster started by start_slurm.sh DIR: cancels its jobs, waits for them to
# end, then stops slurmd, slurmctld and munged by the pids in their pid files (SIGTERM, then
# SIGKILL after 10 s). Idempotent. Exit status 1 if a job or a daemon had to be killed hard or
# could not be stopped.
set -uo pipefail

if [ $# -lt 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
DIR="$(cd "$1" 2>/dev/null && pwd)" || exit 0
export PATH="$PATH:/usr/sbin:/sbin"
export SLURM_CONF="$DIR/slurm.conf"
status=0

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -f "$1" ] && tr -dc '0-9' < "$1"; }

# The watchdog of start_slurm.sh first (unless this is it).
if [ -z "${TINYFRONT_SLURM_WATCHDOG:-}" ]; then
  wd=$(pid_of "$DIR/watchdog.pid")
  if alive "$wd"; then kill -TERM "$wd" 2>/dev/null; fi
  rm -f "$DIR/watchdog.pid"
fi

# Then the jobs: slurmstepd outlives slurmd, so jobs must end while the daemons still run.
ctld=$(pid_of "$DIR/slurmctld.pid")
if alive "$ctld" && [ -f "$SLURM_CONF" ]; then
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 1 120); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
    left=$(squeue -h -o "%i %T" 2>/dev/null)
    if [ -n "$left" ]; then echo "stop_slurm: jobs still there after 30 s: $left" >&2; status=1; fi
  fi
  # The job steps' processes (slurmstepd) end shortly after their jobs.
  # Each step has a socket <node>_<job>.<step> in the spool directory while it runs.
  for _ in $(seq 1 40); do
    [ -z "$(find "$DIR/spool" -maxdepth 1 -regex '.*_[0-9]+\.[0-9]+' 2>/dev/null)" ] && break
    sleep 0.25
  done
fi

# The daemons: SIGTERM to all three at once (each takes a few seconds to exit), SIGKILL to any
# still there after 10 s.
pids=()
for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
  pid=$(pid_of "$f")
  if alive "$pid"; then kill -TERM "$pid" 2>/dev/null && pids+=("$pid:$(basename "$f" .pid)"); fi
done
for _ in $(seq 1 40); do
  any=""
  for p in "${pids[@]}"; do alive "${p%%:*}" && any=1; done
  [ -z "$any" ] && break
  sleep 0.25
done
for p in "${pids[@]}"; do
  if alive "${p%%:*}"; then
    echo "stop_slurm: ${p#*:} (pid ${p%%:*}) ignored SIGTERM, killing it" >&2
    kill -KILL "${p%%:*}" 2>/dev/null
    status=1
  fi
done
rm -f "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"
exit $status
