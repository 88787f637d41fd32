#!/usr/bin/env bash
# A cluster of N "hosts" on this machine, for testing tinyfront across hosts without a cluster.
#
# Each host is a set of Linux namespaces held open by one small process (its "holder"):
#   - network: its own eth0 (a veth pair to a bridge in the root namespace) with a private
#     address 10.213.0.(10+i)/24, and its own loopback; nothing else, so MPI traffic between
#     hosts crosses the bridge over TCP like it would cross a real network;
#   - UTS: its own hostname, <id>-h<i>;
#   - mount: a private scratch directory bind-mounted over the working directory (the same path
#     on every host, like node-local scratch), the other hosts' scratch directories hidden, and
#     an /etc/hosts naming every host.
# Everything else (the tinyfront binary, /usr, the shipped data) stays shared, like an NFS-mounted
# software tree. Open MPI starts its daemons on the hosts through its ordinary rsh launch path:
# plm_rsh_agent is scripts/multihost-agent.sh, which enters the target host's namespaces.
#
# Every name carries the cluster's id, tfmh-XXXX (interfaces <id>-br, <id>-vN; hostnames <id>-hN;
# state directory $TMPDIR/<id>), so teardown removes exactly what setup made.
#
# By hand (as root):
#   state=$(bash scripts/multihost.sh up --hosts 3 --workdir /tmp/mh-work)
#   bash scripts/multihost.sh exec "$state" 2 -- hostname        # host 2 (index or name)
#   bash scripts/multihost.sh mpirun "$state" -n 3 --map-by node hostname
#   bash scripts/multihost.sh down "$state"                      # checks nothing is left
#
# From a test (bash): source this file, then
#   mh_up 3 /some/workdir $$ || exit 77     # skip with the reason printed, see mh_unsupported
#   trap mh_down EXIT                       # teardown even when the test fails
#   mh_mpirun -n 3 --map-by node ...
# With an owner pid (the third argument of mh_up), the holders also exit by themselves within a
# second of the owner's death, so even a test killed with SIGKILL leaves no namespace behind.
set -uo pipefail

MH_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MH_AGENT="$MH_SCRIPTS/multihost-agent.sh"
MH_SUBNET="10.213.0.0/24"

mh_log() { echo "multihost: $*" >&2; }

# Prints why this machine cannot run the harness (and returns 0), or returns 1 if it can.
mh_unsupported() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "needs root (network namespaces, veth pairs and mounts)"
    return 0
  fi
  local tool
  for tool in unshare nsenter ip mount mpirun; do
    command -v "$tool" >/dev/null || {
      echo "needs $tool on PATH"
      return 0
    }
  done
  if ! unshare --net --uts --mount true 2>/dev/null; then
    echo "this machine does not allow new network/UTS/mount namespaces (unshare -n -u -m failed)"
    return 0
  fi
  return 1
}

# Reads key from the cluster file of state directory $1.
mh_get() {
  local line
  while IFS= read -r line; do
    [[ "$line" == "$2="* ]] && {
      echo "${line#*=}"
      return 0
    }
  done <"$1/cluster"
  return 1
}

# Host name from an index (1..N) or a name.
mh_host() {
  local state="$1" h="$2"
  if [[ "$h" =~ ^[0-9]+$ ]]; then echo "$(mh_get "$state" id)-h$h"; else echo "$h"; fi
}

# The namespace identities (net, uts, mnt) of a process, e.g. "net:[4026532]" lines.
mh_ns_of() {
  local p="$1" t
  for t in net uts mnt; do readlink "/proc/$p/ns/$t" 2>/dev/null; done
}

# "PID NAMESPACE" for the net, uts and mnt namespace of every process (one pass over /proc).
mh_all_ns() {
  find /proc/[0-9]*/ns -maxdepth 1 \( -name net -o -name uts -o -name mnt \) -printf '%h %l\n' \
    2>/dev/null | sed -e 's#^/proc/##' -e 's#/ns # #'
}

# mh_up N WORKDIR [OWNER_PID]: creates the cluster; sets MH_STATE (also printed on stdout).
# On failure, tears down what it made and returns 1.
mh_up() {
  local n="$1" workdir="$2" owner="${3:-}"
  local reason
  if reason="$(mh_unsupported)"; then
    mh_log "cannot build a cluster here: $reason"
    return 1
  fi
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 50)) || {
    mh_log "--hosts must be 1..50 (got '$n')"
    return 1
  }
  [[ "$workdir" == /* ]] || {
    mh_log "the working directory must be an absolute path (got '$workdir')"
    return 1
  }
  mh_gc
  local id tries=0
  while :; do
    id="tfmh-$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')"
    [[ ! -e "${TMPDIR:-/tmp}/$id" ]] && ! ip link show "$id-br" >/dev/null 2>&1 && break
    ((++tries < 20)) || {
      mh_log "no free cluster id"
      return 1
    }
  done
  MH_STATE="${TMPDIR:-/tmp}/$id"
  mkdir -p "$MH_STATE/hosts" "$MH_STATE/scratch" || return 1
  {
    echo "id=$id"
    echo "hosts=$n"
    echo "subnet=$MH_SUBNET"
    echo "bridge=$id-br"
    echo "workdir=$workdir"
    echo "creator=$$"
  } >"$MH_STATE/cluster"
  if ! mh_up_steps "$n" "$workdir" "$owner" "$id"; then
    mh_log "setup failed; tearing down"
    mh_down "$MH_STATE"
    return 1
  fi
  echo "$MH_STATE"
}

mh_up_steps() {
  local n="$1" workdir="$2" owner="$3" id="$4"
  local state="${MH_STATE:-}" i host pid addr self_net
  self_net="$(readlink /proc/self/ns/net)"
  mkdir -p "$workdir" || return 1
  # The mount point must be empty in the root namespace too: hosts mount over it.
  [[ -z "$(ls -A "$workdir")" ]] || {
    mh_log "$workdir is not empty; the cluster mounts each host's scratch over it"
    return 1
  }
  ip link add "$id-br" type bridge || return 1
  ip link set "$id-br" up || return 1
  : >"$state/etc-hosts"
  echo "127.0.0.1 localhost" >>"$state/etc-hosts"
  : >"$state/hostfile"
  for ((i = 1; i <= n; ++i)); do
    host="$id-h$i"
    addr="10.213.0.$((10 + i))"
    echo "$addr $host" >>"$state/etc-hosts"
    echo "$host slots=8" >>"$state/hostfile"
  done
  for ((i = 1; i <= n; ++i)); do
    host="$id-h$i"
    addr="10.213.0.$((10 + i))"
    mkdir -p "$state/scratch/$host" || return 1
    # The holder: its namespaces are the host. It exits by itself when the owner is gone.
    # (A fixed script; the host name and owner pid are passed as arguments, never spliced in.)
    unshare --net --uts --mount --propagation private -- bash -c \
      'while [ -z "$2" ] || kill -0 "$2" 2>/dev/null; do sleep 1; done' \
      tfmh-holder "$host" "$owner" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$state/hosts/$host.pid"
    local waited=0
    while [[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$self_net" ]]; do
      ((++waited < 100)) || {
        mh_log "$host: holder $pid never entered its namespaces"
        return 1
      }
      sleep 0.05
    done
    mh_ns_of "$pid" >"$state/hosts/$host.ns"
    if grep -qxF -f <(mh_ns_of self) "$state/hosts/$host.ns"; then
      mh_log "$host: holder $pid shares a namespace with this shell"
      rm -f "$state/hosts/$host.ns"
      return 1
    fi
    [[ -s "$state/hosts/$host.ns" ]] || {
      mh_log "$host: holder $pid died at start"
      return 1
    }
    ip link add "$id-v$i" type veth peer name "$id-p$i" || return 1
    ip link set "$id-p$i" netns "$pid" || return 1
    ip link set "$id-v$i" master "$id-br" up || return 1
    nsenter --target "$pid" --net ip link set lo up || return 1
    nsenter --target "$pid" --net ip link set "$id-p$i" name eth0 || return 1
    nsenter --target "$pid" --net ip addr add "$addr/24" dev eth0 || return 1
    nsenter --target "$pid" --net ip link set eth0 up || return 1
    nsenter --target "$pid" --uts hostname "$host" || return 1
    nsenter --target "$pid" --mount mount --bind "$state/scratch/$host" "$workdir" || return 1
    nsenter --target "$pid" --mount mount --bind "$state/etc-hosts" /etc/hosts || return 1
    # Last: hide every host's scratch directory (its own stays reachable as the workdir).
    nsenter --target "$pid" --mount mount -t tmpfs -o size=1m,mode=0700 tfmh-hidden \
      "$state/scratch" || return 1
  done
}

# Every process inside any of the namespaces listed (one a line) in $1, by pid.
mh_pids_in() {
  [[ -n "$1" ]] || return 0
  mh_all_ns | grep -F -f <(echo "$1") | cut -d' ' -f1 | sort -u
}

# mh_down [STATE]: kills every process in the hosts' namespaces (so the namespaces, their mounts
# and their veth ends go with the last of them), deletes the bridge, removes the state directory,
# then checks that nothing is left. Returns 1 if something is.
mh_down() {
  local state="${1:-${MH_STATE:-}}"
  [[ -n "$state" && -f "$state/cluster" ]] || return 0
  local id n i host pids tries
  id="$(mh_get "$state" id)"
  [[ "$id" =~ ^tfmh-[0-9a-f]{4}$ ]] || {
    mh_log "$state/cluster: bad id '$id'; not touching it"
    return 1
  }
  n="$(mh_get "$state" hosts)"
  # The hosts' namespaces, minus this shell's own (a guard: never signal the machine's processes).
  local all_ns
  all_ns="$(cat "$state"/hosts/*.ns 2>/dev/null | grep -vxF -f <(mh_ns_of self))"
  if [[ -n "$all_ns" ]]; then
    local sig
    for sig in TERM KILL; do
      pids="$(mh_pids_in "$all_ns")"
      [[ -n "$pids" ]] && kill -s "$sig" $pids 2>/dev/null
      for ((tries = 0; tries < 30; ++tries)); do
        pids="$(mh_pids_in "$all_ns")"
        [[ -z "$pids" ]] && break
        sleep 0.1
      done
      [[ -z "$pids" ]] && break
    done
  fi
  # Holders whose namespaces were never recorded (setup failed early).
  local f p
  for f in "$state"/hosts/*.pid; do
    [[ -e "$f" ]] || continue
    p="$(<"$f")"
    host="$(basename "$f" .pid)"
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "tfmh-holder $host "; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  wait 2>/dev/null
  for ((i = 1; i <= n; ++i)); do
    ip link show "$id-v$i" >/dev/null 2>&1 && ip link del "$id-v$i" 2>/dev/null
  done
  ip link show "$id-br" >/dev/null 2>&1 && ip link del "$id-br"
  # Open MPI's per-host session directories (named after the hosts) in the shared /tmp, left
  # when a daemon is killed.
  rm -rf -- /tmp/ompi."$id"-h* "${TMPDIR:-/tmp}"/ompi."$id"-h*
  rm -rf -- "$state"
  [[ "${MH_STATE:-}" == "$state" ]] && MH_STATE=""
  local left
  left="$(mh_leftovers "$id" "$all_ns")"
  if [[ -n "$left" ]]; then
    mh_log "teardown of $id left: $left"
    return 1
  fi
  return 0
}

# mh_leftovers ID [NAMESPACES]: prints what of cluster ID still exists (nothing if clean):
# interfaces, holder processes, processes in its namespaces, mounts, the state directory.
mh_leftovers() {
  local id="$1" namespaces="${2:-}" out="" links pids
  links="$(ip -o link show 2>/dev/null | grep -F "$id-" | awk -F': ' '{print $2}' | tr '\n' ' ')"
  [[ -n "$links" ]] && out+="interfaces: $links; "
  pids="$(pgrep -f "tfmh-holder $id-" | tr '\n' ' ')"
  [[ -n "$pids" ]] && out+="holder processes: $pids; "
  if [[ -n "$namespaces" ]]; then
    pids="$(mh_pids_in "$namespaces" | tr '\n' ' ')"
    [[ -n "$pids" ]] && out+="processes in its namespaces: $pids; "
    grep -F nsfs /proc/self/mountinfo | grep -qF -f <(echo "$namespaces") &&
      out+="a namespace bind-mounted; "
  fi
  grep -qF "$id" /proc/self/mountinfo && out+="mounts: $(grep -F "$id" /proc/self/mountinfo); "
  [[ -e "${TMPDIR:-/tmp}/$id" ]] && out+="state directory ${TMPDIR:-/tmp}/$id; "
  compgen -G "/tmp/ompi.$id-h*" >/dev/null && out+="Open MPI session directories /tmp/ompi.$id-h*; "
  echo -n "$out"
}

# mh_gc: tears down every cluster whose holders are all gone (its owner was killed before it
# could tear down): the holders then exited by themselves, and this removes the bridge, the
# session and state directories. Clusters with a live holder are left alone.
mh_gc() {
  local dir id
  for dir in "${TMPDIR:-/tmp}"/tfmh-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]; do
    [[ -f "$dir/cluster" ]] || continue
    id="$(basename "$dir")"
    pgrep -f "tfmh-holder $id-" >/dev/null && continue
    # Being set up right now (the creator still runs, no holder yet)?
    local creator
    creator="$(mh_get "$dir" creator)"
    [[ -n "$creator" ]] && kill -0 "$creator" 2>/dev/null && continue
    mh_log "removing the remains of cluster $id"
    mh_down "$dir"
  done
  local link
  for link in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' |
    grep -E '^tfmh-[0-9a-f]{4}-br$'); do
    id="${link%-br}"
    [[ -e "${TMPDIR:-/tmp}/$id" ]] && continue
    pgrep -f "tfmh-holder $id-" >/dev/null && continue
    mh_log "removing the orphan bridge $link"
    ip link del "$link"
  done
}

# mh_exec [STATE] HOST [--cd DIR] -- COMMAND...: runs COMMAND (an argument vector) on HOST.
mh_exec() {
  local state="${MH_STATE:-}"
  if [[ -f "$1/cluster" ]]; then
    state="$1"
    shift
  fi
  local host pid cd=()
  host="$(mh_host "$state" "$1")"
  shift
  if [[ "${1:-}" == --cd ]]; then
    cd=(--wdns="$2")
    shift 2
  fi
  [[ "${1:-}" == -- ]] && shift
  [[ -f "$state/hosts/$host.pid" ]] || {
    mh_log "no host $host in $state"
    return 2
  }
  pid="$(<"$state/hosts/$host.pid")"
  nsenter --target "$pid" --net --uts --mount "${cd[@]}" -- "$@"
}

# mh_mpirun [STATE] MPIRUN_ARGS...: mpirun on host 1, in the working directory, with the
# cluster's hostfile, the namespace-entering rsh agent and TCP restricted to the bridge's subnet.
mh_mpirun() {
  local state="${MH_STATE:-}"
  if [[ -f "${1:-}/cluster" ]]; then
    state="$1"
    shift
  fi
  local subnet workdir
  subnet="$(mh_get "$state" subnet)"
  workdir="$(mh_get "$state" workdir)"
  mh_exec "$state" 1 --cd "$workdir" -- env TFMH_STATE="$state" \
    OMPI_MCA_plm_rsh_agent="$MH_AGENT" \
    OMPI_MCA_plm_rsh_no_tree_spawn=1 \
    OMPI_MCA_btl=self,vader,tcp \
    OMPI_MCA_btl_tcp_if_include="$subnet" \
    OMPI_MCA_oob_tcp_if_include="$subnet" \
    mpirun --hostfile "$state/hostfile" "$@"
}

mh_usage() {
  cat >&2 <<'EOF'
usage: multihost.sh up [--hosts N] [--workdir DIR]    prints the state directory
       multihost.sh exec STATE HOST [--cd DIR] -- COMMAND...
       multihost.sh mpirun STATE MPIRUN_ARGS...
       multihost.sh down STATE                        exit 1 if anything is left behind
       multihost.sh gc                                tear down clusters whose owner died
       multihost.sh check                             exit 77 (with the reason) if unsupported
EOF
}

mh_main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    up)
      local n=3 workdir=""
      while [[ $# -gt 0 ]]; do
        case "$1" in
          --hosts) n="$2"; shift 2 ;;
          --workdir) workdir="$2"; shift 2 ;;
          *) mh_usage; return 2 ;;
        esac
      done
      [[ -n "$workdir" ]] || workdir="${TMPDIR:-/tmp}/tfmh-work-$$"
      mh_up "$n" "$workdir" "" || return 1
      ;;
    exec) mh_exec "$@" ;;
    mpirun) mh_mpirun "$@" ;;
    down) mh_down "$@" ;;
    gc) mh_gc ;;
    check)
      local reason
      if reason="$(mh_unsupported)"; then
        echo "multihost: unsupported: $reason"
        return 77
      fi
      echo "multihost: supported"
      ;;
    *) mh_usage; return 2 ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  mh_main "$@"
  exit $?
fi
