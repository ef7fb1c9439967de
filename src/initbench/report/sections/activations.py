"""Activation statistics: per-layer profile, saturation and dead units."""

import numpy as np
import pandas as pd

from ... import plotting
from ...outcomes import finite, quantiles
from ...text import fnum, gnum, join_words
from ..base import MAX_LINES


def build(r, section):
    activation_profile(r, section)
    saturation(r, section)
    dead_units(r, section)


def activation_profile(r, section):
    selection = r.deep_selection()
    if selection is None or not selection[1]:
        section["intro"].append("No cell with a hidden layer: no activation profile.")
        return
    dataset, chosen = selection
    names = pd.concat(chosen.values()).index
    rows = r.layer_rows(names, ["act_mean", "act_std"])
    rows = rows[(rows["step"] == 0) & (rows["layer"] < rows["depth"])]
    if not len(rows):
        return
    acts = list(chosen)
    fig, axes = r.figure(2, len(acts), 11.5, 3.9 * len(acts) + 1.0, sharex="row")
    used, parts = [], []
    for i, act, sub, variants, depth in r.activation_panels(rows, acts, used):
        agg = quantiles(sub, ["variant", "layer"], "act_mean")
        r.lines(axes[i][0], agg, "layer", variants)
        axes[i][0].set_title(f"{act}, depth {depth}: mean activation")
        axes[i][0].set_ylabel("mean of layer output")
        positive = sub[finite(sub["act_std"]) > 0]
        agg = quantiles(positive, ["variant", "layer"], "act_std")
        if not r.lines(axes[i][1], agg, "layer", variants):
            axes[i][1].text(0.5, 0.5, "all zero", ha="center", transform=axes[i][1].transAxes)
        plotting.log_axis(axes[i][1], agg[["lo", "mid", "hi"]])
        axes[i][1].set_title(f"{act}, depth {depth}: activation std")
        axes[i][1].set_ylabel("std of layer output")
        for ax in axes[i]:
            ax.set_xlabel("hidden layer")
        med = sub.groupby(["variant", "layer"])["act_std"].median().unstack()
        if med.shape[1] >= 2:
            first, last = med.iloc[:, 0], med.iloc[:, -1]
            ratio = (last / first).replace([np.inf, -np.inf], np.nan).dropna()
            if len(ratio):
                lo, hi = ratio.idxmin(), ratio.idxmax()
                parts.append(
                    f"{act}: {lo} {gnum(first[lo])} → {gnum(last[lo])}, "
                    f"{hi} {gnum(first[hi])} → {gnum(last[hi])}"
                )
            dead = [v for v in med.index if (med.loc[v].fillna(0) == 0).all()]
            if dead:
                parts.append(f"{act}: {join_words(dead)} output exactly 0 (not on log axis)")
    r.legend(fig, r.ordered(used, r.variant_order))
    caption = (
        f"Mean and standard deviation of each hidden layer's output at initialization on "
        f"{dataset} (median over seeds). Std from the first to the last hidden layer, "
        "for the inits where it shrinks and grows most: " + ("; ".join(parts) or "n/a") + "."
    )
    section["figures"].append(
        r.save(fig, "activations-profile", caption, "Per-layer activation mean and std at init")
    )


def saturation(r, section):
    layers = r.tables["layers"]
    bounded = layers.loc[layers["saturated_frac"].notna(), "cell"].unique()
    cells = r.cells[r.cells.index.isin(bounded) & (r.cells["depth"] >= 2)]
    if "glorot" in r.studies:
        glorot = cells[cells.index.isin(r.studies["glorot"])]
        cells = glorot if len(glorot) else cells
    if not len(cells):
        section["intro"].append(
            "Saturation: no cell with a bounded activation (sigmoid/tanh-like) and a hidden "
            "layer, so there is no saturation to show."
        )
        return
    combos = cells.groupby(["dataset", "depth"]).apply(
        lambda g: g[["activation", "variant"]].drop_duplicates().shape[0]
    )
    rank = {d: i for i, d in enumerate(r.dataset_order)}
    (dataset, depth) = max(combos.index, key=lambda k: (combos[k], k[1], -rank.get(k[0], 0)))
    cells = cells[(cells["dataset"] == dataset) & (cells["depth"] == depth)]
    cells = cells.sort_values(["width", "steps"], ascending=False).drop_duplicates(
        ["activation", "variant"]
    )
    rows = r.layer_rows(cells.index, ["saturated_frac"])
    rows = rows[rows["layer"] == rows["depth"] - 1]
    acts = r.ordered(cells["activation"], r.activation_order)
    fig, axes = r.figure(len(acts), 1, max(5.2 * len(acts), 7.0), 4.8, sharey=True)
    used, parts = [], []
    for j, act in enumerate(acts):
        ax = axes[0][j]
        sub = rows[rows["activation"] == act]
        variants = r.ordered(sub["variant"], r.variant_order)
        if len(variants) > MAX_LINES:
            variants = r.few_variants(variants, MAX_LINES)
        used += [v for v in variants if v not in used]
        agg = quantiles(sub, ["variant", "step"], "saturated_frac")
        r.lines(ax, agg, "step", variants, marker=None)
        plotting.step_axis(ax)
        top = float(agg["hi"].max()) if agg["hi"].notna().any() else 0.0
        ax.set_ylim(-0.01, min(1.02, max(0.05, 1.15 * top)))
        ax.set_title(f"{act} on {dataset}, depth {depth}: layer {depth - 1}")
        ax.set_ylabel("saturated fraction of the top hidden layer" if j == 0 else "")
        groups = dict(tuple(agg.groupby("variant")))
        never = []
        for v in variants:
            g = groups.get(v)
            g = None if g is None else g.dropna(subset=["mid"]).sort_values("step")
            if g is None or not len(g):
                continue
            if (g["mid"] == 0).all():
                never.append(v)
                continue
            peak = g.loc[g["mid"].idxmax()]
            parts.append(
                f"{act} {v}: {fnum(g['mid'].iloc[0])} at init, peak "
                f"{fnum(peak['mid'])} at step {int(peak['step'])}, "
                f"{fnum(g['mid'].iloc[-1])} at the end"
            )
        if never:
            parts.append(f"{act} {join_words(never)}: 0 at every logged step")
    r.legend(fig, r.ordered(used, r.variant_order))
    source = "the glorot study" if "glorot" in r.studies else "bounded-activation cells"
    caption = (
        f"Fraction of the top hidden layer's outputs within 1% of the activation's bounds "
        f"during training ({source} on {dataset}, depth {depth}; median over seeds with "
        "interquartile band), as in Glorot & Bengio (2010), Fig. 2. " + "; ".join(parts) + "."
    )
    section["figures"].append(
        r.save(
            fig,
            "activations-saturation",
            caption,
            "Saturation of the top hidden layer over training",
        )
    )


def dead_units(r, section):
    cells = r.cells_of("overview")
    cells = cells[cells["activation"].isin(["relu", "leaky_relu"]) & (cells["depth"] >= 2)]
    if not len(cells):
        section["intro"].append(
            "Dead units: no ReLU or Leaky ReLU cell with a hidden layer in the results."
        )
        return
    rows = r.hidden_layer_rows(cells, ["dead_frac"])
    last = rows.groupby(["cell", "seed"])["step"].transform("max")
    per_run = (
        rows[rows["step"] == last]
        .groupby(["cell", "seed"])["dead_frac"]
        .mean()
        .groupby("cell")
        .median()
    )
    at_init = (
        rows[rows["step"] == 0]
        .groupby(["cell", "seed"])["dead_frac"]
        .mean()
        .groupby("cell")
        .median()
    )
    summary = cells.assign(
        dead=per_run.reindex(cells.index), dead_init=at_init.reindex(cells.index)
    )
    acts = r.ordered(summary["activation"], r.activation_order)
    datasets = r.ordered(summary["dataset"], r.dataset_order)
    facets = [
        (f"{d} · {a}", summary[(summary["dataset"] == d) & (summary["activation"] == a)])
        for d in datasets
        for a in acts
    ]
    facets = [(t, f) for t, f in facets if len(f)]
    ncols = len(acts) if len(acts) > 1 else min(3, len(facets))
    fig = r.heatmaps(facets, "dead", "dead fraction", ncols=ncols, cmap="magma_r", marks=False)
    fig.suptitle("Dead units at the last step", fontweight="bold")
    parts = []
    for act in acts:
        s = summary[summary["activation"] == act]
        deepest = s[s["depth"] == s["depth"].max()]
        parts.append(
            f"{act}: median {fnum(s['dead'].median())} over all its cells, "
            f"{fnum(deepest['dead'].median())} at depth {int(s['depth'].max())} "
            f"(at init {fnum(deepest['dead_init'].median())})"
        )
    worst = summary.loc[summary["dead"].idxmax()] if summary["dead"].notna().any() else None
    caption = (
        "Fraction of hidden units that output z <= 0 on every sample of the batch at the "
        "last logged step, averaged over hidden layers, median over seeds. "
        + "; ".join(parts)
        + "."
    )
    if worst is not None:
        caption += (
            f" Most dead: {worst['activation']} {worst['variant']} depth "
            f"{worst['depth']} on {worst['dataset']} ({fnum(worst['dead'])})."
        )
    if "leaky_relu" not in acts:
        caption += " No Leaky ReLU cell in these results to compare with."
    section["figures"].append(
        r.save(fig, "activations-dead-units", caption, "Dead-unit fraction heatmaps")
    )
