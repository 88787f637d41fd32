#!/usr/bin/env bash
# The whole test suite: set up, build, run every test with CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/build.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT/build"
ctest --output-on-failure --timeout 1500 -j1 "$@"
