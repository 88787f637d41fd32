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
