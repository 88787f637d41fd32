#!/usr/bin/env bash
# Open MPI's remote-launch agent (plm_rsh_agent) for the multi-host harness (scripts/multihost.sh).
#
# Open MPI calls it the way it calls ssh:  multihost-agent.sh HOST WORD...
# where the words, joined by spaces, form the remote shell's command line (" orted", "-mca",
# "\"env\"", ...). Instead of a remote shell this agent enters HOST's network, UTS and mount
# namespaces with nsenter and executes the command as an argument vector. The command line is
# tokenized here with a strict subset of sh's rules (blanks separate words; "..." and '...' quote
# literally) and anything else a shell would interpret ($, `, \, ;, |, &, <, >, globs, ...) is
# refused, so no shell ever sees it and the words reach orted exactly as sh would have passed them.
#
# Like an ssh login, the command starts with a fresh environment (nothing leaks from mpirun's).
# The cluster's state directory comes from TFMH_STATE (set by multihost.sh for mpirun).
set -euo pipefail

die() {
  echo "multihost-agent: $*" >&2
  exit 255  # what ssh returns when it cannot run the command
}

state="${TFMH_STATE:-}"
[[ -n "$state" && -f "$state/cluster" ]] ||
  die "TFMH_STATE does not name a multihost state directory (got '${state}')"
[[ $# -ge 2 ]] || die "usage: multihost-agent.sh HOST COMMAND..."
host="$1"
shift
[[ "$host" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || die "bad host name '$host'"
pidfile="$state/hosts/$host.pid"
[[ -f "$pidfile" ]] || die "host '$host' is not part of the cluster in $state"
pid="$(<"$pidfile")"
[[ "$pid" =~ ^[0-9]+$ ]] || die "$pidfile: not a process id"
# The pid must still be this host's namespace holder (not a recycled pid).
cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
[[ "$cmdline" == *"tfmh-holder $host "* ]] ||
  die "host '$host' is down (its namespace holder $pid is gone)"

# Tokenize "$*" (ssh joins its arguments with single spaces).
line="$*"
argv=()
word=""
have_word=0
i=0
n=${#line}
while ((i < n)); do
  c="${line:i:1}"
  case "$c" in
    ' ' | $'\t' | $'\n')
      if ((have_word)); then argv+=("$word"); fi
      word=""
      have_word=0
      i=$((i + 1))
      ;;
    '"')
      rest="${line:i+1}"
      [[ "$rest" == *'"'* ]] || die "unterminated \" in the command"
      inner="${rest%%\"*}"
      # Inside double quotes sh still expands $, ` and \: refuse them rather than emulate them.
      [[ "$inner" != *[\$\`\\]* ]] || die "refusing a shell expansion inside \"$inner\""
      word+="$inner"
      have_word=1
      i=$((i + 2 + ${#inner}))
      ;;
    "'")
      rest="${line:i+1}"
      [[ "$rest" == *"'"* ]] || die "unterminated ' in the command"
      inner="${rest%%\'*}"
      word+="$inner"
      have_word=1
      i=$((i + 2 + ${#inner}))
      ;;
    [A-Za-z0-9_./,:=+@%^-])
      word+="$c"
      have_word=1
      i=$((i + 1))
      ;;
    *)
      die "refusing the shell character '$c' in the remote command (this agent runs no shell)"
      ;;
  esac
done
if ((have_word)); then argv+=("$word"); fi
((${#argv[@]} > 0)) || die "empty remote command"

# A login-like environment, as ssh would give; nsenter switches the namespaces (and, for the
# mount namespace, the root and working directory) before executing the command.
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="${HOME:-/root}" USER="$(id -un)" LOGNAME="$(id -un)" LANG=C.UTF-8 \
  nsenter --target "$pid" --net --uts --mount -- "${argv[@]}"
