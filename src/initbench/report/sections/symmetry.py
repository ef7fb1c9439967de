"""Symmetry: whether units that start identical ever become different."""

import math

import pandas as pd

from ... import plotting
from ...outcomes import SYMMETRIC_INITS, finite, n_hidden, quantiles
from ...text import gnum, join_words, plural
from ..base import DASHES, FEW_LINES


def symmetry_cells(r):
    cells = r.cells[r.cells["depth"] >= 2]
    if "symmetry" in r.studies:
        study = cells[cells.index.isin(r.studies["symmetry"])]
        if len(study) and study["scheme"].isin(SYMMETRIC_INITS).any():
            return study
    equal = cells[cells["scheme"].isin(SYMMETRIC_INITS)]
    if not len(equal):
        return equal
    setting = ["dataset", "hidden", "steps", "lr", "batch_size"]
    counts = equal.groupby(setting).size()
    rank = {d: i for i, d in enumerate(r.dataset_order)}
    layers = dict(zip(equal["hidden"], n_hidden(equal)))
    best = max(counts.index, key=lambda k: (counts[k], layers[k[1]], -rank.get(k[0], 0)))
    same = (cells[setting] == pd.Series(best, index=setting)).all(axis=1)
    group = cells[same]
    acts = group.loc[group["scheme"].isin(SYMMETRIC_INITS), "activation"].unique()
    group = group[group["activation"].isin(acts)]
    keep = [
        v
        for a in acts
        for v in r.few_variants(group.loc[group["activation"] == a, "variant"], FEW_LINES + 1)
    ]
    equal_variants = group.loc[group["scheme"].isin(SYMMETRIC_INITS), "variant"]
    return group[group["variant"].isin(set(keep) | set(equal_variants))]


def build(r, section):
    cells = symmetry_cells(r)
    if not len(cells):
        section["intro"].append(
            "No cell with zero or constant init and a hidden layer: no symmetry to show."
        )
        return
    rows = r.hidden_layer_rows(cells, ["symmetry"])
    per_run = rows.groupby(["cell", "seed", "step"])["symmetry"].max().reset_index()
    per_run = per_run.merge(
        cells[["variant", "activation", "scheme"]], left_on="cell", right_index=True
    )
    positive = finite(per_run["symmetry"])
    positive = positive[positive > 0]
    floor = 10 ** math.floor(math.log10(positive.min()) - 1) if len(positive) else 1e-3
    per_run["shown"] = finite(per_run["symmetry"]).clip(lower=floor)
    acts = r.ordered(cells["activation"], r.activation_order)
    # zeros and constant both sit at the floor: dashes keep the second one visible
    dashed = {v: DASHES[1] for v in cells.loc[cells["scheme"] == "constant", "variant"]}
    fig, axes = r.figure(len(acts), 1, max(4.6 * len(acts), 7.0), 4.8, sharey=True)
    used, parts = [], []
    for j, act, sub, variants, _ in r.activation_panels(per_run, acts, used):
        ax = axes[0][j]
        agg = quantiles(sub, ["variant", "step"], "shown")
        r.lines(ax, agg, "step", variants, marker=None, styles=dashed)
        plotting.step_axis(ax)
        plotting.log_axis(ax, per_run["shown"])  # shared y axis
        ax.axhline(floor, color="0.3", ls="--", lw=1)
        ax.text(
            0.98,
            floor,
            "exactly 0 (identical units)",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize="small",
            color="0.25",
        )
        depth = int(cells.loc[cells["activation"] == act, "depth"].max())
        ax.set_title(f"{act}, depth {depth}")
        ax.set_ylabel("largest distance between units" if j == 0 else "")
    for v, sub in per_run.groupby("variant"):
        last = sub.groupby(["cell", "seed"])["step"].transform("max")
        end = sub.loc[sub["step"] == last, "symmetry"]
        start = sub.loc[sub["step"] == 0, "symmetry"]
        if (sub["symmetry"].fillna(0) == 0).all():
            parts.append(
                f"{v}: exactly 0 at every logged step in all "
                f"{plural(sub[['cell', 'seed']].drop_duplicates().shape[0], 'run')}"
            )
        else:
            parts.append(f"{v}: {gnum(start.median())} at init → {gnum(end.median())} at the end")
    r.legend(fig, r.ordered(used, r.variant_order), styles=dashed)
    dataset = join_words(r.ordered(cells["dataset"], r.dataset_order))
    caption = (
        f"Symmetry on {dataset}: the largest distance between two units' incoming weights "
        "and biases, maximum over hidden layers (0 = all units of every layer identical, so "
        "the network is no wider than one unit per layer). Median over seeds; log y, with "
        f"exact zeros drawn at the floor {gnum(floor)}. " + "; ".join(parts) + "."
    )
    source = (
        "the symmetry study"
        if "symmetry" in r.studies
        else "cells with zero or constant init, and random-init cells of the same setting"
    )
    section["intro"].append(
        f"Zero and constant inits against random inits ({source}): gradient descent cannot "
        "break the symmetry between units that start identical."
    )
    section["figures"].append(r.save(fig, "symmetry", caption, "Symmetry measure over training"))
