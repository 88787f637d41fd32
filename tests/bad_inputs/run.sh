#!/usr/bin/env bash
# The bad-input corpus: every case in cases.txt is a command that must fail cleanly.
#
#   run.sh TINYFRONT_BINARY SOURCE_DIR [NAME_PATTERN]
#
# Each case runs in a fresh copy of a fixture directory (specs, a results file, a FIFO, ...) and
# must: exit non-zero within a time limit (no hang), print the expected message (a substring
# naming the file or option and the reason), and leave the directory exactly as it was (no file
# created, removed, changed or re-moded). Prints one line per failure and a summary.
set -uo pipefail
TF="$(realpath "$1")"
SRC="$(realpath "$2")"
PATTERN="${3:-}"
LIMIT=30  # seconds per case
source "$SRC/scripts/env.sh"
MPI="mpiexec -n 2 --oversubscribe $TF"
DATA="$SRC/data/tinyshakespeare.txt"
export TF MPI DATA SRC

WORK="$(mktemp -d /tmp/tinyfront-bad-inputs-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
FIX="$WORK/fixture"
mkdir -p "$FIX"

# ---- the fixture: good inputs to break, and bad ones ----
tiny_sweep() {  # tiny_sweep DATA_PATH [EXTRA_TOML]
  printf '[sweep]\nname = "tiny"\n[defaults]\ndata.path = "%s"\nmodel.arch = "linear"\nmodel.d_model = 8\nmodel.context = 8\ntrain.epochs = 1\ntrain.windows_per_epoch = 100\ntrain.eval_windows = 100\n[grid]\ntrain.lr = [1e-3, 2e-3]\n%b' "$1" "${2:-}"
}
tiny_job() {  # tiny_job DATA_PATH
  printf '[data]\npath = "%s"\n[model]\narch = "linear"\ncontext = 8\nd_model = 8\n[train]\nepochs = 1\nwindows_per_epoch = 100\neval_windows = 100\n' "$1"
}
(
  cd "$FIX" || exit 1
  mkfifo fifo
  tiny_sweep "$DATA" > good.toml
  tiny_job "$DATA" > job.toml
  tiny_sweep "$FIX/fifo" > fifo_data.toml
  tiny_job "$FIX/fifo" > fifo_job.toml
  tiny_sweep /dev/zero > devzero.toml
  mkdir -p splitdir/train.txt && cp "$DATA" splitdir/valid.txt && cp "$DATA" splitdir/test.txt
  tiny_sweep "$FIX/splitdir" > dirsplit.toml
  mkdir -p fifosplit && mkfifo fifosplit/train.txt && cp "$DATA" fifosplit/valid.txt && cp "$DATA" fifosplit/test.txt
  tiny_sweep "$FIX/fifosplit" > fifosplit.toml
  { printf 'abc\0'; head -c 20000 "$DATA"; } > binary.txt
  tiny_sweep "$FIX/binary.txt" > binary.toml
  axes=""
  for f in train.seed train.batch train.eval_windows train.warmup_steps train.patience model.d_model train.lr; do
    if [ "$f" = train.lr ]; then v="[1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4, 9e-4, 1e-3]"
    else v="[8, 16, 24, 32, 40, 48, 56, 64, 72, 80]"; fi
    axes="$axes$f = $v\n"
  done
  printf '[defaults]\ndata.path = "%s"\nmodel.arch = "linear"\n[grid]\n%b' "$DATA" "$axes" > giant.toml
  for b in 'mode = "tokens_per_param"\ntokens_per_param = [1e300]' \
           'mode = "tokens_per_param"\ntokens_per_param = [nan]' \
           'mode = "tokens_per_param"\ntokens_per_param = [inf]' \
           'mode = "iso_flops"\niso_flops = [100]' \
           'mode = "iso_flops"\niso_flops = [-5]' \
           'tokens_per_param = [20]' \
           'mode = "iso_flops"\ntokens_per_param = [20]'; do
    n=$((${n:-0} + 1))
    tiny_sweep "$DATA" "[budget]\n$b\n" > "budget$n.toml"
  done
  printf '[model\n' > syntax.toml
  tiny_sweep "$DATA" '[swep]\nname = "x"\n' > section.toml
  tiny_sweep "$DATA" 'train.seed = []\n' > empty_axis.toml
  tiny_sweep "$DATA" '[[exclude]]\nmodel.contxt = 8\n' > exclude_unknown.toml
  tiny_sweep "$DATA" '[[exclude]]\ntrain.lr = [1e-3, 2e-3]\n' > exclude_all.toml
  tiny_sweep "$DATA" '[[subgrid]]\nname = "a"\nsets.model.arch = "mlp"\n' > subgrid_unknown.toml
  tiny_sweep "$DATA" '[budget]\nmode = "fixed"\nfoo = 1\n' > budget_unknown.toml
  # structure: tables of the wrong shape, values that could never be used
  tiny_sweep "$DATA" '[exclude]\ntrain.lr = 1e-3\n' > exclude_single.toml
  tiny_sweep "$DATA" '[include]\ntrain.lr = 5e-3\n' > include_single.toml
  tiny_sweep "$DATA" '[subgrid]\nname = "a"\ngrid.train.seed = [1]\n' > subgrid_single.toml
  { printf 'exclude = [1, 2]\n'; tiny_sweep "$DATA"; } > exclude_ints.toml
  { printf 'include = "x"\n'; tiny_sweep "$DATA"; } > include_string.toml
  { printf 'budget = 3\n'; tiny_sweep "$DATA"; } > budget_scalar.toml
  tiny_sweep "$DATA" '[[exclude]]\ntrain.lr = "fast"\n' > exclude_type.toml
  tiny_sweep "$DATA" '[[exclude]]\nmodel.context = [8, 100000]\n' > exclude_range.toml
  tiny_sweep "$DATA" '[[exclude]]\n' > exclude_empty.toml
  tiny_sweep "$DATA" '[[subgrid]]\nname = 3\ngrid.train.seed = [1]\n' > subgrid_int_name.toml
  tiny_sweep "$DATA" '[[subgrid]]\nname = "a"\nset = 5\n' > subgrid_set_scalar.toml
  tiny_sweep "$DATA" '[budget]\nmode = "scaled_epochs"\nreference = 5\n' > budget_reference_scalar.toml
  : > empty.toml
  printf '# only a comment\n\n' > comment_only.toml
  tiny_sweep "$DATA" | grep -v '^data.path' > no_data_path.toml
  tiny_job "$DATA" | grep -v '^path' > job_no_data_path.toml
  tiny_sweep "$DATA" '[budget]\nmode = "chinchilla"\n' > budget_mode.toml
  tiny_sweep "$DATA" | sed 's/train.lr = \[1e-3, 2e-3\]/train.lr = [5e-3]/' > other.toml
  tiny_sweep "$DATA" | sed 's/model.context = 8/model.context = 200\ndata.split = [0.9998, 0.0001, 0.0001]/' > long_context.toml
  mkdir -p rep_ro && echo "by tinyfront" > rep_ro/.tinyfront-report && echo "old" > rep_ro/report.md
  chmod 444 rep_ro/report.md
  echo "my notes" > notes.txt
  mkdir -p mine && echo "my report" > mine/report.md
  printf '#!/bin/bash\necho mine\n' > user.sbatch
  $MPI sweep good.toml --out r.h5 -q > /dev/null 2>&1 || { echo "fixture: sweep failed"; exit 1; }
  rm -f r.h5.progress.json
  cp r.h5 ro.h5 && cp r.h5.journal ro.h5.journal && chmod 444 ro.h5
  mkfifo results_fifo.h5
) || { echo "could not build the fixture"; exit 1; }

snapshot() {  # every path with its type, mode and size; every regular file's checksum
  (cd "$1" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec md5sum {} + | sort)
}

pass=0
fail=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  name="${line%% :: *}"
  rest="${line#* :: }"
  expected="${rest%% :: *}"
  cmd="${rest#* :: }"
  [[ -n "$PATTERN" && "$name" != *$PATTERN* ]] && continue
  dir="$WORK/case"
  rm -rf "$dir" && cp -a "$FIX" "$dir"
  before="$(snapshot "$dir")"
  start=$(date +%s%N)
  out="$(cd "$dir" && timeout -k 5 "$LIMIT" bash -c "$cmd" 2>&1 < /dev/null)"
  code=$?
  took=$(( ($(date +%s%N) - start) / 1000000 ))
  after="$(snapshot "$dir")"
  problems=()
  [ "$code" -eq 0 ] && problems+=("exit code 0")
  [ "$code" -eq 124 ] || [ "$code" -eq 137 ] && problems+=("no answer within ${LIMIT} s (hang)")
  [[ "$out" != *"$expected"* ]] && problems+=("message lacks '$expected'")
  [ "$before" != "$after" ] && problems+=("files changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -3 | tr '\n' ' ')")
  if [ ${#problems[@]} -eq 0 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name (exit $code, ${took} ms): ${problems[*]}"
    echo "     command: $cmd"
    echo "     output:  $(echo "$out" | head -5)"
  fi
done < "$SRC/tests/bad_inputs/cases.txt"
echo "bad inputs: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
