#!/usr/bin/env python3
"""Load a tinyfront results file (HDF5) into pandas.

    from load_results import load_runs, load_curve
    runs = load_runs("results.h5")          # one row per run, dotted config columns
    curve = load_curve("results.h5", runs.run_id[0])

Schema (version 2, written by src/store): `/runs` is a 1-D compound dataset, one row per run;
its columns are `run_id`, `status`, the config fields as dotted names (`data.name`,
`model.arch`, `train.lr`, ...) and the result fields (`params`, `train_tokens`, `flops_study`,
`flops_kaplan`, `flops_exact`, `test_nll`, ...). Strings are fixed-length byte strings (decoded
here to str); a string longer than its column is cut there and stored in full in
`/long_strings` (run_id, column, value), which this loader puts back. Lists such as
`model.hidden` are JSON text. Booleans are int8 0/1. Learning curves are `/curves/<run_id>`,
compound datasets with step, tokens, train_loss, val_loss, lr, seconds.

The loader is deliberately tolerant: unknown columns are kept as they are, missing optional
parts (/long_strings, /curves) are fine, and a `/runs` *group* of 1-D column datasets is read too.
Note that h5py sees the file as of the writer's last journal fold; tinyfront's own reader
(store_read_runs) also replays the journal.
"""

import sys

import h5py
import numpy as np
import pandas as pd


def _decode(value):
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    return value


def _decode_column(col):
    """A numpy column as a pandas-friendly one: byte strings -> str, objects decoded."""
    arr = np.asarray(col)
    if arr.dtype.kind == "S":  # fixed-length byte strings
        return [_decode(v) for v in arr.tolist()]
    if arr.dtype.kind == "O":  # variable-length strings (bytes or str)
        return [_decode(v) for v in arr.tolist()]
    return arr


def _table_from_compound(ds):
    data = ds[()]
    if data.dtype.names is None:
        raise ValueError(f"{ds.name} is not a compound dataset")
    return pd.DataFrame({name: _decode_column(data[name]) for name in data.dtype.names})


def _table_from_group(group):
    cols = {}
    for name, item in group.items():
        if isinstance(item, h5py.Dataset) and item.ndim == 1:
            cols[name] = _decode_column(item[()])
    return pd.DataFrame(cols)


def load_runs(path, dataset="runs"):
    """The /runs table of a results file as a pandas DataFrame (one row per run).

    Fixed-length byte strings are decoded to str; values cut to their column width are restored
    from /long_strings when present.
    """
    with h5py.File(path, "r") as f:
        if dataset not in f:
            raise KeyError(f"{path}: no /{dataset} in this file (is it a tinyfront results file?)")
        node = f[dataset]
        df = _table_from_compound(node) if isinstance(node, h5py.Dataset) else _table_from_group(node)
        if "long_strings" in f and isinstance(f["long_strings"], h5py.Dataset) and "run_id" in df:
            longs = f["long_strings"][()]
            if longs.dtype.names and len(longs):
                row_of = {rid: i for i, rid in enumerate(df["run_id"])}
                for rec in longs:
                    rid, column, value = (_decode(rec[k]) for k in ("run_id", "column", "value"))
                    if rid in row_of and column in df.columns:
                        df.at[row_of[rid], column] = value
    return df


def load_curve(path, run_id):
    """The learning curve of one run as a DataFrame (empty if the run has none)."""
    with h5py.File(path, "r") as f:
        key = f"curves/{run_id}"
        if key not in f:
            return pd.DataFrame(columns=["step", "tokens", "train_loss", "val_loss", "lr", "seconds"])
        node = f[key]
        return _table_from_compound(node) if isinstance(node, h5py.Dataset) else _table_from_group(node)


def load_curves(path, run_ids=None):
    """Curves of several runs (default: all) in one DataFrame with a run_id column."""
    frames = []
    with h5py.File(path, "r") as f:
        if "curves" not in f:
            return pd.DataFrame(columns=["run_id", "step", "tokens", "train_loss", "val_loss", "lr", "seconds"])
        ids = list(f["curves"].keys()) if run_ids is None else list(run_ids)
    for rid in ids:
        c = load_curve(path, rid)
        c.insert(0, "run_id", rid)
        frames.append(c)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: load_results.py RESULTS.h5", file=sys.stderr)
        sys.exit(2)
    runs = load_runs(sys.argv[1])
    print(f"{len(runs)} runs, {len(runs.columns)} columns")
    if "status" in runs:
        print(runs["status"].value_counts().to_string())
    print(runs.head().to_string())
