#!/usr/bin/env bash
# A private single-node Slurm cluster for tests, without systemd:
#
#   bash tests/slurm/start_slurm.sh DIR [OWNER_PID]
#   source DIR/env.sh          # SLURM_CONF=DIR/slurm.conf for sbatch, squeue, scontrol ...
#   bash tests/slurm/stop_slurm.sh DIR
#
# Everything lives in DIR (created if needed): its own munged (own key and socket, run as the
# munge user), slurm.conf, slurmctld and slurmd on free TCP ports, state, spool, logs and pid
# files. Nothing system-wide is used or changed, so several instances can run side by side and
# beside a real Slurm. The node is this machine, as `slurmd -C` describes it, in partition
# "debug"; jobs run as the submitting user (root here).
#
# With OWNER_PID, a watchdog stops the cluster (stop_slurm.sh) when that process ends, so a test
# process that crashes or is killed leaves no daemons behind.
#
# Exit status 0 when the node is idle and a job can be submitted; otherwise 1, after printing
# the daemons' logs and stopping whatever was started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ]; then echo "usage: $0 DIR [OWNER_PID]" >&2; exit 2; fi
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
OWNER="${2:-}"

fail() {
  echo "start_slurm: $*" >&2
  for f in "$DIR"/munge/munged.log "$DIR"/log/slurmctld.stdout "$DIR"/log/slurmctld.log \
           "$DIR"/log/slurmd.stdout "$DIR"/log/slurmd.log; do
    if [ -s "$f" ]; then echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; fi
  done
  bash "$HERE/stop_slurm.sh" "$DIR" >&2 || true
  exit 1
}

for cmd in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$cmd" >/dev/null 2>&1 ||
    PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 ||
    fail "$cmd not found: install slurm-wlm and munge (scripts/install-deps.sh)"
done
export PATH="$PATH:/usr/sbin:/sbin"
if [ "$(id -u)" -ne 0 ]; then fail "needs root (slurmd runs jobs as their users)"; fi

# The socket's directory and its parents must be searchable by everyone (munged checks).
chmod 755 "$DIR"
mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/tmp"

# ---- munge: a private key and daemon
MUNGE_USER=munge
id "$MUNGE_USER" >/dev/null 2>&1 || MUNGE_USER=root
KEY="$DIR/munge/munge.key"
if [ ! -s "$KEY" ]; then
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$KEY" >/dev/null 2>&1 || rm -f "$KEY"
  fi
  [ -s "$KEY" ] || dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
fi
chown -R "$MUNGE_USER:" "$DIR/munge"
chmod 755 "$DIR/munge"
chmod 0400 "$KEY"
SOCKET="$DIR/munge/munge.socket"
MUNGED_ARGS=(--socket="$SOCKET" --key-file="$KEY" --pid-file="$DIR/munge/munged.pid"
             --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed")
if [ "$MUNGE_USER" = root ]; then
  munged --force "${MUNGED_ARGS[@]}" </dev/null >/dev/null 2>&1 || fail "munged did not start"
else
  runuser -u "$MUNGE_USER" -- munged "${MUNGED_ARGS[@]}" </dev/null >/dev/null 2>&1 ||
    fail "munged did not start"
fi
munge -S "$SOCKET" -n 2>/dev/null | unmunge -S "$SOCKET" >/dev/null 2>&1 ||
  fail "munge credentials do not round-trip through $SOCKET"

# ---- two free TCP ports (nothing listening on them now)
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
CTLD_PORT=$(free_port) || fail "no free port"
SLURMD_PORT=$(free_port) || fail "no free port"
while [ "$SLURMD_PORT" = "$CTLD_PORT" ]; do SLURMD_PORT=$(free_port); done

# ---- slurm.conf
HOST=$(hostname -s)
# Job ids of their own: Open MPI names a directly launched (srun) job's shared-memory segments
# after the Slurm job and step ids, so two clusters both at job 1 on one machine would collide.
FIRST_JOB_ID=$(( ((RANDOM << 15) | RANDOM) % 60000000 + 1000 ))
NODE_LINE=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1)
[ -n "$NODE_LINE" ] || fail "slurmd -C printed no NodeName line"
CONF="$DIR/slurm.conf"
cat > "$CONF" <<EOF
# Written by tests/slurm/start_slurm.sh: a private one-node cluster in $DIR.
ClusterName=tinyfront-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
TmpFS=$DIR/tmp
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
JobRequeue=1
FirstJobId=$FIRST_JOB_ID
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=120
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
echo "export SLURM_CONF=$CONF" > "$DIR/env.sh"
export SLURM_CONF="$CONF"

# ---- daemons (both daemonize and write their pid files)
slurmctld -c -f "$CONF" </dev/null >"$DIR/log/slurmctld.stdout" 2>&1 ||
  fail "slurmctld did not start"
slurmd -f "$CONF" </dev/null >"$DIR/log/slurmd.stdout" 2>&1 || fail "slurmd did not start"

if [ -n "$OWNER" ]; then
  # Stops the cluster when the owner process is gone (its own session: no terminal signals).
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    echo "owner $1 is gone: stopping the cluster"
    TINYFRONT_SLURM_WATCHDOG=1 exec bash "$3/stop_slurm.sh" "$2"' watchdog "$OWNER" "$DIR" "$HERE" \
    </dev/null >>"$DIR/log/watchdog.log" 2>&1 &
  echo $! > "$DIR/watchdog.pid"
fi

# ---- ready when the node is idle
for _ in $(seq 1 120); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
  if [ "$state" = idle ]; then
    echo "start_slurm: node $HOST idle (slurmctld port $CTLD_PORT, slurmd port $SLURMD_PORT)," \
         "SLURM_CONF=$CONF"
    exit 0
  fi
  sleep 0.25
done
fail "node not idle after 30 s (state: ${state:-none})"
