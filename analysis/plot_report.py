#!/usr/bin/env python3
"""Plots of a tinyfront analysis report directory (written by tinyfront's write_report).

Usage:  plot_report.py REPORT_DIR [--out OUT_DIR]

Reads the CSV files of REPORT_DIR (runs.csv, frontier_flops.csv, frontier_params.csv,
curves.csv, fit.csv, fit_points.csv, compute_optimal.csv and analysis.json) and writes, into
OUT_DIR (default REPORT_DIR/plots), one PNG and one SVG of each figure:

  nll_vs_flops_<dataset>_<protocol>        test NLL vs training FLOPs (log x) under the report's
                                           main convention, one colour per architecture, the
                                           all-architecture frontier drawn as a step line
  nll_vs_flops_conventions_<dataset>_<protocol>
                                           the same under flops_study / flops_kaplan / flops_exact
                                           side by side (what changes with the convention)
  nll_vs_params_<dataset>_<protocol>       test NLL vs parameters, frontier highlighted
  curves_<dataset>_<protocol>              validation NLL vs training tokens of the frontier runs
  scaling_law_<dataset>_<protocol>_<arch>  only for fitted laws (fit.csv status "fitted"): the fit
                                           points vs N, the law along iso-FLOP lines C = 6ND and
                                           the compute-optimal N* on each line; a fit of the
                                           iso-FLOP runs alone ends in _iso_flops
  compute_scaled_<dataset>_<protocol>      seed-mean test NLL per depth, one line per budget rule
                                           (fixed vs compute-scaled), seed range as error bars

Every figure is 8 x 5 inches at 100 dpi, so every PNG is exactly 800 x 500 pixels (saved
without bbox_inches="tight", which would change the size). Needs matplotlib (Agg backend, no
display) and numpy; reads CSV with the csv module, so pandas is not needed.
"""

import argparse
import csv
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIG_SIZE = (8, 5)  # inches
DPI = 100  # -> 800 x 500 px

# One colour per architecture, the same in every figure.
ARCH_COLOURS = {
    "linear": "tab:blue",
    "mlp": "tab:orange",
    "attention": "tab:green",
    "transformer": "tab:red",
}
CONVENTIONS = ["flops_study", "flops_kaplan", "flops_exact"]


def read_csv(path):
    """Rows of a CSV file as dicts; [] if the file does not exist."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fnum(s):
    """A CSV number ("nan", "", "inf" included) as float."""
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


def colour(arch):
    return ARCH_COLOURS.get(arch, "tab:gray")


def slug(*parts):
    return "_".join(re.sub(r"[^A-Za-z0-9.=-]+", "-", p).strip("-") for p in parts)


def new_figure(ncols=1):
    fig, axes = plt.subplots(1, ncols, figsize=FIG_SIZE, dpi=DPI, squeeze=False)
    return fig, list(axes[0])


def save(fig, out_dir, name, written):
    fig.tight_layout()
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(path, dpi=DPI)  # no bbox_inches="tight": the pixel size stays fixed
        written.append(path)
    plt.close(fig)


def slices_of(runs):
    seen = []
    for r in runs:
        key = (r["dataset"], r["protocol"])
        if key not in seen:
            seen.append(key)
    return seen


def scatter_runs(ax, runs, cost_key):
    """All runs of a slice, one colour per architecture; returns whether anything was drawn."""
    drawn = False
    for arch in sorted({r["arch"] for r in runs}):
        pts = [(fnum(r[cost_key]), fnum(r["test_nll"])) for r in runs if r["arch"] == arch]
        pts = [(c, l) for c, l in pts if c > 0 and math.isfinite(c) and math.isfinite(l)]
        if not pts:
            continue
        c, l = zip(*pts)
        ax.scatter(c, l, s=14, alpha=0.45, color=colour(arch), label=arch, edgecolors="none")
        drawn = True
    return drawn


def draw_frontier(ax, members, cost_key):
    """The frontier as a step line (the best NLL reachable at each cost) plus ringed members."""
    pts = sorted((fnum(m[cost_key]), fnum(m["test_nll"]), m["arch"]) for m in members)
    pts = [p for p in pts if p[0] > 0 and math.isfinite(p[1])]
    if not pts:
        return
    c = [p[0] for p in pts]
    l = [p[1] for p in pts]
    ax.step(c, l, where="post", color="black", linewidth=1.2, label="frontier")
    for x, y, arch in pts:
        ax.scatter([x], [y], s=48, facecolors=colour(arch), edgecolors="black", linewidths=1.0, zorder=3)


def plot_nll_vs_flops(report_dir, out_dir, runs, frontier, main, written):
    for dataset, protocol in slices_of(runs):
        sr = [r for r in runs if r["dataset"] == dataset and r["protocol"] == protocol]
        fr = [f for f in frontier if f["dataset"] == dataset and f["protocol"] == protocol
              and f["scope"] == "all"]
        # Main convention.
        fig, (ax,) = new_figure()
        if scatter_runs(ax, sr, main):
            draw_frontier(ax, [dict(f, **{main: f["flops"]}) for f in fr if f["convention"] == main], main)
            ax.set_xscale("log")
        ax.set_xlabel(f"training FLOPs ({main})")
        ax.set_ylabel("test NLL (nats/token)")
        ax.set_title(f"{dataset} / {protocol}: test NLL vs training FLOPs")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, out_dir, "nll_vs_flops_" + slug(dataset, protocol), written)
        # The three conventions side by side.
        fig, axes = new_figure(3)
        for ax, conv in zip(axes, CONVENTIONS):
            if scatter_runs(ax, sr, conv):
                draw_frontier(ax, [dict(f, **{conv: f["flops"]}) for f in fr if f["convention"] == conv], conv)
                ax.set_xscale("log")
            ax.set_title(conv, fontsize=10)
            ax.set_xlabel("FLOPs", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("test NLL (nats/token)")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{dataset} / {protocol}: frontier under each FLOP convention", fontsize=11)
        save(fig, out_dir, "nll_vs_flops_conventions_" + slug(dataset, protocol), written)


def plot_nll_vs_params(out_dir, runs, frontier, written):
    for dataset, protocol in slices_of(runs):
        sr = [r for r in runs if r["dataset"] == dataset and r["protocol"] == protocol]
        fr = [f for f in frontier if f["dataset"] == dataset and f["protocol"] == protocol
              and f["scope"] == "all"]
        fig, (ax,) = new_figure()
        if scatter_runs(ax, sr, "params"):
            draw_frontier(ax, fr, "params")
            ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("test NLL (nats/token)")
        ax.set_title(f"{dataset} / {protocol}: test NLL vs parameters")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, out_dir, "nll_vs_params_" + slug(dataset, protocol), written)


def plot_curves(out_dir, runs, curves, written):
    by_run = {}
    for c in curves:
        by_run.setdefault(c["run_id"], []).append(c)
    run_info = {r["run_id"]: r for r in runs}
    for dataset, protocol in slices_of(runs):
        ids = [i for i in by_run if i in run_info and run_info[i]["dataset"] == dataset
               and run_info[i]["protocol"] == protocol]
        if not ids:
            continue
        fig, (ax,) = new_figure()
        for run_id in ids:
            pts = sorted((fnum(p["tokens"]), fnum(p["val_loss"])) for p in by_run[run_id])
            pts = [p for p in pts if p[0] > 0 and math.isfinite(p[1])]
            if not pts:
                continue
            info = run_info[run_id]
            t, v = zip(*pts)
            label = f"{info['arch']} {run_id[:8]} ({int(fnum(info['params'])):,} params)"
            ax.plot(t, v, marker=".", linewidth=1.0, color=colour(info["arch"]), alpha=0.8, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("training tokens (window tokens)")
        ax.set_ylabel("validation NLL (nats/token)")
        ax.set_title(f"{dataset} / {protocol}: learning curves of frontier runs")
        ax.grid(True, which="both", alpha=0.3)
        if len(ids) <= 10:
            ax.legend(fontsize=7)
        else:  # one entry per architecture
            from matplotlib.lines import Line2D
            archs = sorted({run_info[i]["arch"] for i in ids})
            ax.legend([Line2D([0], [0], color=colour(a)) for a in archs],
                      [f"{a} ({sum(run_info[i]['arch'] == a for i in ids)} runs)" for a in archs], fontsize=8)
        save(fig, out_dir, "curves_" + slug(dataset, protocol), written)


def plot_compute_scaled(out_dir, rows, written):
    by_slice = {}
    for r in rows:
        by_slice.setdefault((r["dataset"], r["protocol"]), []).append(r)
    for (dataset, protocol), rs in by_slice.items():
        fig, (ax,) = new_figure()
        lines = {}
        for r in rs:
            lines.setdefault((r["budget"], r["group"]), []).append(r)
        for (budget, group), pts in sorted(lines.items()):
            pts.sort(key=lambda r: int(r["layers"]))
            x = [int(r["layers"]) for r in pts]
            y = np.array([fnum(r["mean_nll"]) for r in pts])
            lo = y - np.array([fnum(r["min_nll"]) for r in pts])
            hi = np.array([fnum(r["max_nll"]) for r in pts]) - y
            ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, linewidth=1.2,
                        linestyle="--" if budget == "fixed" else "-",
                        label=f"{budget} (group {group})")
        ax.set_xlabel("layers (attention block = 1)")
        ax.set_ylabel("test NLL (nats/token), seed mean")
        ax.set_title(f"{dataset} / {protocol}: depth under fixed and compute-scaled budgets", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
        save(fig, out_dir, "compute_scaled_" + slug(dataset, protocol), written)


def plot_fits(out_dir, fits, points, optimal, written):
    for fit in fits:
        if fit.get("status") != "fitted":
            continue
        runs_used = fit.get("runs_used", "all")
        key = (fit["dataset"], fit["protocol"], fit["arch"], runs_used)
        E, A, B = fnum(fit["E"]), fnum(fit["A"]), fnum(fit["B"])
        alpha, beta = fnum(fit["alpha"]), fnum(fit["beta"])

        def law(n, d):
            return E + A / n ** alpha + B / d ** beta

        pts = [p for p in points if (p["dataset"], p["protocol"], p["arch"], p.get("runs_used", "all")) == key]
        opts = [o for o in optimal if (o["dataset"], o["protocol"], o["arch"], o.get("runs_used", "all")) == key]
        if not pts:
            continue
        N = np.array([fnum(p["N"]) for p in pts])
        D = np.array([fnum(p["D"]) for p in pts])
        L = np.array([fnum(p["L"]) for p in pts])
        fig, (ax,) = new_figure()
        sc = ax.scatter(N, L, c=np.log10(D), cmap="viridis", s=22, edgecolors="none", label="fit points")
        fig.colorbar(sc, ax=ax, label="log10 training tokens D")
        # Iso-FLOP lines over the compute range of the data: L(N, C / 6N).
        C_data = 6 * N * D
        lo, hi = math.floor(math.log10(C_data.min())), math.ceil(math.log10(C_data.max()))
        n_grid = np.logspace(math.log10(N.min()) - 0.5, math.log10(N.max()) + 0.5, 200)
        cmap = plt.get_cmap("plasma")
        decades = list(range(lo, hi + 1))
        for k, dec in enumerate(decades):
            C = 10.0 ** dec
            d_grid = C / (6 * n_grid)
            ok = d_grid >= 1
            colour_k = cmap(k / max(1, len(decades) - 1) * 0.85)
            ax.plot(n_grid[ok], law(n_grid[ok], d_grid[ok]), color=colour_k, linewidth=1.0,
                    label=f"C = 1e{dec} FLOPs")
            for o in opts:
                if abs(math.log10(fnum(o["flops_6ND"])) - dec) < 1e-6 and math.isfinite(fnum(o["n_opt"])):
                    ax.scatter([fnum(o["n_opt"])], [fnum(o["loss_opt"])], marker="*", s=90,
                               color=colour_k, edgecolors="black", linewidths=0.6, zorder=4)
        ax.set_xscale("log")
        span = max(L.max() - L.min(), 1e-3)
        ax.set_ylim(L.min() - 0.2 * span, L.max() + 0.15 * span)
        ax.set_xlabel("parameters N")
        ax.set_ylabel("test NLL (nats/token)")
        which = "" if runs_used == "all" else f" ({runs_used} runs)"
        ax.set_title(f"{key[0]} / {key[1]} {key[2]}{which}: L = {E:.3g} + {A:.3g}/N^{alpha:.3f} + "
                     f"{B:.3g}/D^{beta:.3f}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        name = slug(*key[:3]) + ("" if runs_used == "all" else "_" + runs_used)
        save(fig, out_dir, "scaling_law_" + name, written)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report_dir")
    ap.add_argument("--out", help="output directory (default REPORT_DIR/plots)")
    args = ap.parse_args(argv)
    d = args.report_dir
    if not os.path.exists(os.path.join(d, "runs.csv")):
        print(f"plot_report: {d} has no runs.csv; is it a report directory?", file=sys.stderr)
        return 2
    out_dir = args.out or os.path.join(d, "plots")
    os.makedirs(out_dir, exist_ok=True)
    main_conv = "flops_study"
    try:
        with open(os.path.join(d, "analysis.json")) as f:
            main_conv = json.load(f).get("main_convention", main_conv)
    except (OSError, ValueError):
        pass
    if main_conv not in CONVENTIONS:
        main_conv = "flops_study"

    runs = read_csv(os.path.join(d, "runs.csv"))
    written = []
    if runs:
        plot_nll_vs_flops(d, out_dir, runs, read_csv(os.path.join(d, "frontier_flops.csv")), main_conv, written)
        plot_nll_vs_params(out_dir, runs, read_csv(os.path.join(d, "frontier_params.csv")), written)
        plot_curves(out_dir, runs, read_csv(os.path.join(d, "curves.csv")), written)
        plot_fits(out_dir, read_csv(os.path.join(d, "fit.csv")), read_csv(os.path.join(d, "fit_points.csv")),
                  read_csv(os.path.join(d, "compute_optimal.csv")), written)
        plot_compute_scaled(out_dir, read_csv(os.path.join(d, "compute_scaled.csv")), written)
    else:
        print("plot_report: runs.csv has no usable runs; nothing to plot", file=sys.stderr)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
