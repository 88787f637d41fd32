# shellcheck shell=bash
# Small assertions for the multi-host tests (sourced).
step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
expect_eq() {
  [[ "$1" == "$2" ]] || fail "$3: got '$1', expected '$2'"
}
expect_contains() {
  [[ "$1" == *"$2"* ]] || fail "$3: '$2' not in: $1"
}

# The start of every test that runs tinyfront on a cluster: skip (exit 77) where namespaces are not
# allowed, check the binary $TF, make the working directory $work (under /tmp/tfmh-NAME-*) and
# tear the cluster down and remove $work on exit, whatever happens.
mh_test_start() {
  local name="$1" reason
  if reason="$(mh_unsupported)"; then
    echo "SKIP: $reason"
    exit 77
  fi
  [[ -x "$TF" ]] || fail "no tinyfront binary at $TF"
  work="$(mktemp -d "/tmp/tfmh-$name-XXXXXX")"
  trap mh_test_cleanup EXIT
  SECONDS=0
}
mh_test_cleanup() {
  mh_down || echo "FAIL: teardown left something behind" >&2
  rm -rf "$work"
}
