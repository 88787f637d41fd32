#!/usr/bin/env bash
# The install, end to end: `cmake --install` of this build into a fresh prefix; every installed
# piece in place and no source path in the binary; a program outside the tree built against the
# install with find_package(tinyfront); then, from an unrelated directory, the installed binary's
# quick sweep on 2 MPI ranks (small budget) whose results must equal those stored before the
# issue-14 restructuring (tests/data/quick_sweep_small.csv; regenerate after a change meant to
# alter results with scripts/regen-quick-expectations.sh), its report with plots (the analysis
# scripts found beside the binary), a Slurm batch script from the installed template, and the
# TINYFRONT_SHARE_DIR override for a binary copied away from its share directory.
#
#   tests/install_test.sh SOURCE_DIR BUILD_DIR      (CTest: Install.EndToEnd)
set -euo pipefail
SRC="$(cd "$1" && pwd)"
BUILD="$(cd "$2" && pwd)"
source "$SRC/scripts/env.sh"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tinyfront_install_XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
PREFIX="$TMP/prefix"
fail() {
  echo "install test: $*" >&2
  exit 1
}

cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log"
for f in bin/tinyfront share/tinyfront/slurm/sweep.sbatch.in share/tinyfront/slurm/sweep-array.sbatch.in \
  share/tinyfront/analysis/plot_report.py share/tinyfront/analysis/load_results.py \
  share/tinyfront/sweeps/quick.toml share/tinyfront/jobs/linear.toml \
  share/tinyfront/data/tinyshakespeare.txt include/tinyfront/version.hpp \
  include/tinyfront/run/config.hpp include/tinyfront/store/results_file.hpp \
  lib/cmake/tinyfront/tinyfrontConfig.cmake lib/cmake/tinyfront/tinyfrontTargets.cmake; do
  [ -e "$PREFIX/$f" ] || fail "$f was not installed"
done
[ ! -e "$PREFIX/include/tinyfront/cli" ] || fail "the CLI's private headers were installed"
if grep -qF "$SRC" "$PREFIX/bin/tinyfront"; then
  fail "the installed binary has the source path $SRC compiled in"
fi
TF="$PREFIX/bin/tinyfront"

# A consumer project against the installed tree.
cmake -S "$SRC/tests/install_consumer" -B "$TMP/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DCMAKE_BUILD_TYPE=Release >"$TMP/consumer-configure.log" 2>&1 ||
  { cat "$TMP/consumer-configure.log"; fail "configuring the consumer failed"; }
cmake --build "$TMP/consumer" >"$TMP/consumer-build.log" 2>&1 ||
  { cat "$TMP/consumer-build.log"; fail "building the consumer failed"; }

# The installed binary, from another directory, on its own installed spec and data.
mkdir -p "$TMP/elsewhere"
cd "$TMP/elsewhere"
SETS=(train.epochs=1 train.windows_per_epoch=1280 train.eval_windows=500)
SET_ARGS=()
for s in "${SETS[@]}"; do SET_ARGS+=(--set "$s"); done
mpirun -n 2 "$TF" sweep "$PREFIX/share/tinyfront/sweeps/quick.toml" --out small.h5 --quiet \
  "${SET_ARGS[@]}" >sweep.log 2>&1 || { cat sweep.log; fail "the installed binary's sweep failed"; }
"$TF" export small.h5 --csv >small.csv
python3 "$SRC/tests/compare_results_csv.py" "$SRC/tests/data/quick_sweep_small.csv" small.csv ||
  fail "the installed binary's quick sweep results differ from the stored ones"
"$TMP/consumer/consumer" small.h5 "$PREFIX/share/tinyfront/sweeps/quick.toml" "${SETS[@]}" ||
  fail "the consumer disagrees with the results file"

# The report with plots: analysis/plot_report.py found beside the installed binary.
"$TF" analyze small.h5 --out report >analyze.log 2>&1 || { cat analyze.log; fail "analyze failed"; }
[ -s report/report.md ] || fail "no report.md"
ls report/plots/*.png >/dev/null 2>&1 || { cat analyze.log; fail "no plots: plot_report.py not found?"; }

# A Slurm batch script from the installed template, naming the installed binary.
"$TF" submit "$PREFIX/share/tinyfront/sweeps/quick.toml" --out "$TMP/elsewhere/q.h5" --dry-run \
  >submit.log 2>&1 || { cat submit.log; fail "submit --dry-run failed"; }
grep -qF "$TF" q.sbatch || fail "the batch script does not run the installed binary"
grep -qF "$SRC" q.sbatch && fail "the batch script refers to the source tree"

# A copy of the binary with no share directory beside it: no plots (a warning), then the
# TINYFRONT_SHARE_DIR override finds them again.
mkdir -p "$TMP/lonely/bin"
cp "$TF" "$TMP/lonely/bin/tinyfront"
"$TMP/lonely/bin/tinyfront" analyze small.h5 --out report2 >lonely.log 2>&1 ||
  { cat lonely.log; fail "analyze from a lone binary failed"; }
grep -q "no plots: analysis/plot_report.py not found" lonely.log ||
  { cat lonely.log; fail "a lone binary should warn that it found no plotting script"; }
TINYFRONT_SHARE_DIR="$PREFIX/share/tinyfront" "$TMP/lonely/bin/tinyfront" analyze small.h5 \
  --out report3 >override.log 2>&1 || { cat override.log; fail "analyze with the override failed"; }
ls report3/plots/*.png >/dev/null 2>&1 || { cat override.log; fail "TINYFRONT_SHARE_DIR ignored"; }
echo "install test: installed to $PREFIX, consumer built, quick sweep results identical, plots and batch script from the installed share directory"
