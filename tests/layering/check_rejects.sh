#!/usr/bin/env bash
# scripts/check-includes.sh must fail on a tree with upward includes and name each one: a copy of
# include/ and src/ where the model includes the store, a public header of the spec module
# includes toml++, and the store includes Boost.MPI. (CTest: Layering.CheckIncludesRejectsUpwardInclude)
set -euo pipefail
SRC="$(cd "$1" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tinyfront_layering_XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
cp -r "$SRC/include" "$SRC/src" "$TMP/"
echo '#include "tinyfront/store/results_file.hpp"' >>"$TMP/src/model/config.cpp"
echo '#include <toml++/toml.h>' >>"$TMP/include/tinyfront/spec/job_spec.hpp"
echo '#include <boost/mpi/communicator.hpp>' >>"$TMP/src/store/h5.cpp"
if bash "$SRC/scripts/check-includes.sh" "$TMP" >"$TMP/out" 2>&1; then
  cat "$TMP/out"
  echo "check-includes.sh passed a tree with upward includes" >&2
  exit 1
fi
cat "$TMP/out"
for expected in \
  "src/model/config.cpp:.*module 'model' may not include 'store'" \
  "include/tinyfront/spec/job_spec.hpp:.*toml++/ is private to module 'spec'" \
  "src/store/h5.cpp:.*boost/mpi belongs to module(s) mpi, not 'store'" \
  "check-includes: 3 include(s) cross the layering"; do
  grep -q -- "$expected" "$TMP/out" || { echo "missing from the output: $expected" >&2; exit 1; }
done
echo "check-includes.sh rejects the three upward includes"
