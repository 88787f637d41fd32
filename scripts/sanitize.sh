#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (issue 15).
#
#   bash scripts/sanitize.sh [ctest arguments, e.g. -R Hardening]
#
# Builds with -DTINYFRONT_SANITIZE=ON (-fsanitize=address,undefined) into build-sanitize/ (never
# the normal build/), then runs every test with CTest. Any sanitizer report fails the test that
# triggered it: UBSan is made fatal (halt_on_error), and ASan's leak checker is on. Slow: about
# 3-5x the normal suite's time (see docs/refusals.md for the last result).
# Set TINYFRONT_CMAKE_ARGS="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache" to reuse compiled objects.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${TINYFRONT_SANITIZE_BUILD:-$ROOT/build-sanitize}"
bash "$ROOT/scripts/install-deps.sh"
# Debug information and no -march=native: reports with line numbers, and a binary that the
# sanitizer runtime's own code generation assumptions hold for. RelWithDebInfo keeps -O2 (the
# suite stays bearable) while keeping frames.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTINYFRONT_SANITIZE=ON \
  -DTINYFRONT_NATIVE=OFF ${TINYFRONT_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
source "$ROOT/scripts/env.sh"
# Open MPI and HDF5 keep some allocations until exit by design; those are not our leaks. The
# suppressions name only third-party libraries.
SUPP="$BUILD/lsan.supp"
printf '%s\n' 'leak:libmpi' 'leak:libopen-pal' 'leak:libopen-rte' 'leak:libhwloc' \
  'leak:libevent' 'leak:libpmix' 'leak:mca_' 'leak:libhdf5' 'leak:libgomp' >"$SUPP"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
cd "$BUILD"
ctest --output-on-failure --timeout 3000 -j1 "$@"
