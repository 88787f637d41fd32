#!/usr/bin/env python3
"""Train the study's models in PyTorch and compare tokens/s with `tinyfront bench`.

Same architectures as src/model/model*.cpp (post-LN blocks: res1 = x + proj(attn(x)),
ln1 = LN(res1), res2 = ln1 + fc2(act(fc(ln1))), ln2 = LN(res2); final LayerNorm then head; token +
learned position embeddings), same batch sizes, same thread counts (torch.set_num_threads), float32,
Adam, random tokens. Like the study's PyTorch code, every position is computed in every block; under
the paper protocol only the last position goes through the final LayerNorm, head and loss.

Optional: PyTorch is not a dependency of tinyfront or of its CI (Debian: apt-get install
python3-torch). The script runs `tinyfront bench --json` itself, in the same session, unless given
--tinyfront-json, so that the two are measured under the same machine load. Ratios are what to read:
absolute figures move with the load of a shared machine.

    python3 bench/pytorch_compare.py --tinyfront build/tinyfront --threads 1,2
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The models of `tinyfront bench` (src/bench/bench.cpp, bench_models()).
MODELS = {
    "linear": dict(arch="linear", vocab=65, T=128, d=128, batch=64, protocol="paper"),
    "mlp": dict(arch="mlp", vocab=65, T=128, d=128, hidden=[256, 256], batch=64, protocol="paper"),
    "attention": dict(arch="transformer", vocab=65, T=128, d=128, layers=1, heads=4, ff=512,
                      batch=64, protocol="paper"),
    "transformer_paper": dict(arch="transformer", vocab=65, T=128, d=128, layers=3, heads=4,
                              ff=256, batch=64, protocol="paper"),
    "transformer_causal": dict(arch="transformer", vocab=65, T=128, d=128, layers=3, heads=4,
                               ff=256, batch=64, protocol="causal"),
    "transformer_word": dict(arch="transformer", vocab=9999, T=64, d=128, layers=3, heads=4,
                             ff=256, batch=32, protocol="causal"),
    # The nanoGPT-style block: GELU, pre-LN, FF 512, dropout 0.1.
    "transformer_gelu": dict(arch="transformer", vocab=65, T=128, d=128, layers=3, heads=4,
                             ff=512, batch=64, protocol="causal", norm="pre", act="gelu",
                             dropout=0.1),
}
# `tinyfront bench --model-set blocks` (bench_block_variants()): from transformer_gelu to the
# study's block, one setting at a time.
_G = MODELS["transformer_gelu"]
BLOCKS = {
    "gelu_pre_ff512_drop": dict(_G),
    "gelutanh_pre_ff512_drop": dict(_G, act="gelu_tanh"),
    "gelu_pre_ff512": dict(_G, dropout=0.0),
    "relu_pre_ff512": dict(_G, act="relu", dropout=0.0),
    "relu_pre_ff512_drop": dict(_G, act="relu"),
    "relu_pre_ff256": dict(_G, act="relu", dropout=0.0, ff=256),
    "relu_post_ff256": dict(_G, act="relu", dropout=0.0, ff=256, norm="post"),
}
MODEL_SETS = {"default": MODELS, "blocks": BLOCKS, "all": {**MODELS, **BLOCKS}}


class Linear(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.head = nn.Linear(c["T"] * c["d"], c["vocab"])

    def forward(self, idx):
        return self.head(self.wte(idx).flatten(1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d"])
        layers, n = [], c["T"] * c["d"]
        for h in c["hidden"]:
            layers += [nn.Linear(n, h), nn.ReLU()]
            n = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(n, c["vocab"])

    def forward(self, idx):
        return self.head(self.body(self.wte(idx).flatten(1)))


ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class Block(nn.Module):
    def __init__(self, d, heads, ff, T, norm="post", act="relu", dropout=0.0):
        super().__init__()
        self.heads = heads
        self.pre = norm == "pre"
        self.act = ACTIVATIONS[act]
        self.drop = nn.Dropout(dropout)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def attn(self, x):
        B, T, C = x.shape
        H = self.heads
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (C // H) ** 0.5)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
        return (att @ v).transpose(1, 2).reshape(B, T, C)

    def forward(self, x):
        if self.pre:  # x + drop(proj(attn(LN1 x))), then x + drop(fc2(act(fc(LN2 x))))
            x = x + self.drop(self.proj(self.attn(self.ln1(x))))
            return x + self.drop(self.fc2(self.act(self.fc(self.ln2(x)))))
        ln1 = self.ln1(x + self.drop(self.proj(self.attn(x))))
        return self.ln2(ln1 + self.drop(self.fc2(self.act(self.fc(ln1)))))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.paper = c["protocol"] == "paper"
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.wpe = nn.Embedding(c["T"], c["d"])
        self.drop = nn.Dropout(c.get("dropout", 0.0))
        self.blocks = nn.ModuleList(
            Block(c["d"], c["heads"], c["ff"], c["T"], c.get("norm", "post"), c.get("act", "relu"),
                  c.get("dropout", 0.0)) for _ in range(c["layers"]))
        self.lnf = nn.LayerNorm(c["d"])
        self.head = nn.Linear(c["d"], c["vocab"])

    def forward(self, idx):
        T = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
        for b in self.blocks:
            x = b(x)
        if self.paper:
            x = x[:, -1]  # only the token after the window is predicted
        return self.head(self.lnf(x))


def build(c):
    return {"linear": Linear, "mlp": MLP, "transformer": Transformer}[c["arch"]](c)


def set_threads(n):
    torch.set_num_threads(n)
    # Debian's torch calls whatever libblas.so.3 is installed (BLAS_INFO=generic). When that is
    # OpenBLAS (e.g. LD_LIBRARY_PATH=.../openblas-pthread), its own pool must be sized too.
    try:
        blas = ctypes.CDLL("libblas.so.3")
        if hasattr(blas, "openblas_set_num_threads"):
            blas.openblas_set_num_threads(n)
    except OSError:
        pass


def blas_library():
    """The file libblas.so.3 resolves to in this process (reference BLAS or OpenBLAS)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "blas" in line:
                    return os.path.realpath(line.split()[-1])
    except OSError:
        pass
    return "?"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def time_model(c, seconds, min_steps, warmup):
    torch.manual_seed(1)
    model = build(c)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    B, T, V = c["batch"], c["T"], c["vocab"]
    idx = torch.randint(0, V, (B, T))
    causal = c["protocol"] == "causal" and c["arch"] == "transformer"
    tgt = torch.randint(0, V, (B, T) if causal else (B,))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(idx)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    times = []
    t0 = time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - t0 < seconds:
        ts = time.perf_counter()
        step()
        times.append(time.perf_counter() - ts)
    med = median(times)
    return dict(ms_per_step=1e3 * med, tokens_per_second=B * T / med, steps=len(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tinyfront", default="build/tinyfront", help="tinyfront executable")
    ap.add_argument("--tinyfront-json", help="use this `tinyfront bench --json` output instead")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--model-set", default="default", choices=sorted(MODEL_SETS))
    ap.add_argument("--models", help="models of the set, comma separated (default: all of it)")
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per model")
    ap.add_argument("--quick", action="store_true", help="a few steps per model")
    ap.add_argument("--json-out", help="write the comparison as JSON here")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    models = MODEL_SETS[a.model_set]
    names = [m for m in (a.models or ",".join(models)).split(",") if m]

    if a.tinyfront_json:
        with open(a.tinyfront_json) as f:
            tf = json.load(f)
    else:
        cmd = [a.tinyfront, "bench", "--json", "--threads", a.threads, "--model-set", a.model_set,
               "--models", ",".join(names), "--seconds", str(a.seconds)] + \
            (["--quick"] if a.quick else [])
        print("running:", " ".join(cmd), file=sys.stderr)
        tf = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout)
    tf_rate = {(run["threads"], m["name"]): m for run in tf["runs"] for m in run["models"]}

    print(f"torch {torch.__version__}; BLAS: {blas_info()}", file=sys.stderr)
    rows = []
    for n in threads:
        set_threads(n)
        for name in names:
            pt = time_model(models[name], 0.0 if a.quick else a.seconds, 2 if a.quick else 5,
                            1 if a.quick else 3)
            t = tf_rate.get((n, name))
            row = dict(model=name, threads=n, torch_ms_per_step=pt["ms_per_step"],
                       torch_tokens_per_second=pt["tokens_per_second"], torch_steps=pt["steps"])
            if t:
                row.update(tinyfront_ms_per_step=t["ms_per_step"],
                           tinyfront_tokens_per_second=t["tokens_per_second"],
                           speedup=t["tokens_per_second"] / pt["tokens_per_second"])
            rows.append(row)
            print(f"threads {n}: {name:20s} torch {pt['ms_per_step']:9.2f} ms/step", file=sys.stderr)

    print(f"{'model':20s} {'thr':>3s} {'torch ms':>10s} {'torch tok/s':>12s} "
          f"{'tf ms':>10s} {'tf tok/s':>12s} {'tf/torch':>9s}")
    for r in rows:
        print(f"{r['model']:20s} {r['threads']:3d} {r['torch_ms_per_step']:10.2f} "
              f"{r['torch_tokens_per_second']:12.0f} {r.get('tinyfront_ms_per_step', 0):10.2f} "
              f"{r.get('tinyfront_tokens_per_second', 0):12.0f} {r.get('speedup', 0):8.2f}x")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(dict(torch=torch.__version__, blas=blas_info(), rows=rows, tinyfront=tf), f,
                      indent=2)


def blas_info():
    cfg = torch.__config__.show()
    for part in cfg.replace("\n", ",").split(","):
        if "BLAS_INFO" in part:
            info = part.strip()
            break
    else:
        info = "BLAS_INFO=?"
    return f"{info}, libblas.so.3 -> {blas_library()}"


if __name__ == "__main__":
    main()
