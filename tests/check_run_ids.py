#!/usr/bin/env python3
"""The run ids of the shipped sweep specs must not change: a sweep resumed across a change of
tinyfront skips the runs it finds by id, so a changed id would train a finished run again.

tests/data/sweep_run_ids.txt lists, for every spec in it, each run id in the order `tinyfront plan
SPEC --json` lists them ("SPEC RUN_ID" lines, SPEC relative to the source tree). It was written by
the build before the issue-14 restructuring (c0a64b0). This script plans each spec again with the
given binary and compares.

  check_run_ids.py TINYFRONT SOURCE_DIR [--write SPEC...]

--write rewrites the file from the given specs; do that only for a change MEANT to alter run ids
(none so far), and say so in the commit message.
"""
import json
import os
import subprocess
import sys

DATA = os.path.join("tests", "data", "sweep_run_ids.txt")


def plan_ids(binary, root, spec):
    r = subprocess.run([binary, "plan", os.path.join(root, spec), "--json",
                        "--flops-per-second", "1e9"], capture_output=True, text=True)
    # Exit 3: a limit of the spec is exceeded on 2 ranks; the runs are listed all the same.
    if r.returncode not in (0, 3):
        sys.exit(f"tinyfront plan {spec} failed ({r.returncode}):\n{r.stderr}")
    return [run["run_id"] for run in json.loads(r.stdout)["list"]]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, root = sys.argv[1], sys.argv[2]
    path = os.path.join(root, DATA)
    if len(sys.argv) > 3 and sys.argv[3] == "--write":
        with open(path, "w") as f:
            for spec in sys.argv[4:]:
                for run_id in plan_ids(binary, root, spec):
                    f.write(f"{spec} {run_id}\n")
        print(f"wrote {path}")
        return 0
    expected = {}
    with open(path) as f:
        for line in f:
            spec, run_id = line.split()
            expected.setdefault(spec, []).append(run_id)
    problems = []
    for spec, ids in expected.items():
        actual = plan_ids(binary, root, spec)
        if actual != ids:
            gone = [i for i in ids if i not in actual]
            new = [i for i in actual if i not in ids]
            problems.append(f"{spec}: {len(ids)} run ids expected, {len(actual)} planned; "
                            f"missing {gone[:5]}, new {new[:5]}"
                            + ("; same ids, other order" if not gone and not new else ""))
    if problems:
        print("run ids changed (a resumed sweep would train finished runs again):")
        for p in problems:
            print("  " + p)
        return 1
    total = sum(len(v) for v in expected.values())
    print(f"{len(expected)} specs, {total} run ids unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
