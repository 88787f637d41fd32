#!/usr/bin/env python3
"""Compares two `tinyfront export --csv` tables of the same sweep: the stored expectation and a
fresh export. Every column except those that record when, where and how fast a run ran must hold
the same text in both (the export writes each double as its shortest round-trip text, so equal
text is equal bits). Rows are matched by run_id. Exit 0 when equal; exit 1 listing differences.

  compare_results_csv.py EXPECTED.csv ACTUAL.csv
"""
import csv
import sys

# Wall time, throughput, placement and timestamps differ between any two runs of a sweep.
IGNORED = {"wall_seconds", "tokens_per_second", "rank", "host", "started_at", "finished_at"}


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        sys.exit(f"{path}: empty, expected a CSV export with a header line")
    header, body = rows[0], rows[1:]
    if "run_id" not in header:
        sys.exit(f"{path}: no run_id column; is this a `tinyfront export --csv` table?")
    by_id = {}
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            sys.exit(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        record = dict(zip(header, row))
        by_id[record["run_id"]] = record
    return [c for c in header if c not in IGNORED], by_id


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    expected_path, actual_path = sys.argv[1], sys.argv[2]
    exp_cols, exp = read(expected_path)
    act_cols, act = read(actual_path)
    problems = []
    if exp_cols != act_cols:
        problems.append(f"columns differ: only expected {sorted(set(exp_cols) - set(act_cols))}, "
                        f"only actual {sorted(set(act_cols) - set(exp_cols))}")
    for run_id in sorted(set(exp) - set(act)):
        problems.append(f"run {run_id}: expected, missing from the actual table")
    for run_id in sorted(set(act) - set(exp)):
        problems.append(f"run {run_id}: in the actual table, not expected")
    for run_id in sorted(set(exp) & set(act)):
        for col in exp_cols:
            if col in act[run_id] and exp[run_id][col] != act[run_id][col]:
                problems.append(f"run {run_id} {col}: expected {exp[run_id][col]}, "
                                f"got {act[run_id][col]}")
    if problems:
        print(f"{actual_path} differs from {expected_path} in {len(problems)} place(s):")
        for p in problems[:50]:
            print("  " + p)
        if len(problems) > 50:
            print(f"  ... and {len(problems) - 50} more")
        return 1
    print(f"{actual_path}: {len(exp)} runs, {len(exp_cols)} columns equal to {expected_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
