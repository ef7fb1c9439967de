"""Schoenholz et al. 2017: networks train only up to a depth of about 6 xi_c.

xi_c = -1/ln(chi_c) is the depth scale of the correlation map (theory.depth_scale): chi_c
is chi1 in the ordered phase and is taken at the correlation fixed point c* < 1 in the
chaotic one. The paper (figure 5) overlays 6 xi_c on a heatmap of training accuracy over
depth x sigma_w^2: the trainable depth scales with xi_c and peaks at criticality; the
constant 6 is read off their training budget, and the depth grid here resolves only
factors of 2. So the predictor "trains iff depth <= 6 xi_c" is judged on the cells at least
a factor BAND away from the curve on either side, per seed, by balanced accuracy, once the
trainable region has stopped growing. The judged cells must include, at one depth, cells on
both sides of the curve, so that depth alone cannot sort them. A run "trains" when it gains
at least half the best gain over chance that any cell of the study reaches, a bar nearer
the paper's heatmap than "above chance".
"""

import math
from functools import partial

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..effects import Effect
from ..outcomes import (
    BAND,
    XI_FACTOR,
    theory_curve,
    value_at,
    with_mean_field_params,
    with_theory,
)
from ..plotting import cell_edges, heatmap
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

MIN_BALANCED = 0.8  # 6 xi_c must sort the judged cells at least this well, per seed
TRAINED_SHARE = 0.5  # trains: at least half the study's best gain over chance
GROWTH_TOL = 0.05  # plateau: at most this share of cells began to train in the second half


def balanced_accuracy(predicted, actual):
    """Mean of the true-positive and true-negative rates (NaN if a class is empty)."""
    predicted, actual = np.asarray(predicted, bool), np.asarray(actual, bool)
    if actual.all() or not actual.any():
        return math.nan
    hits = (predicted & actual).sum() / actual.sum()
    rejections = (~predicted & ~actual).sum() / (~actual).sum()
    return (hits + rejections) / 2


@published_claim(
    "depth_scale",
    "Mean field: trainable depth is about 6 xi_c",
    "Networks train only up to a depth of about 6 xi_c, where xi_c = -1/ln(chi_c) is the "
    "depth scale of signal propagation (chi_c at the correlation fixed point c*; chi1 in the "
    "ordered phase); at the edge of chaos any depth trains.",
    "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, 'Deep information propagation' (figure 5).",
    ["mean_field"],
)
def check_depth_scale(results):
    runs = with_mean_field_params(results.rows("runs", "mean_field"))
    curves = results.rows("curves", "mean_field")
    if runs["depth"].nunique() < 2:
        raise NotTestable("the mean_field study has a single depth")
    theory = results.tables["theory"]
    runs = with_theory(runs, theory)
    if runs["depth_scale"].isna().any():
        raise NotTestable("the theory table has no xi_c at these settings: rerun the aggregate")
    runs = runs.assign(limit=XI_FACTOR * runs["depth_scale"])
    steps = int(runs["steps"].min())
    logged = np.sort(curves["step"].unique())
    half = int(logged[logged <= steps / 2].max())
    best = runs.groupby("cell")["final_train_accuracy"].median().max()
    bar = (runs["majority_rate"] + TRAINED_SHARE * (best - runs["majority_rate"])).to_numpy()
    earlier = value_at(curves, half).reindex(pd.MultiIndex.from_frame(runs[["cell", "seed"]]))
    runs = runs.assign(
        trained=runs["final_train_accuracy"].to_numpy() >= bar,
        earlier=earlier.to_numpy() >= bar,
    )
    judged = runs[(runs["depth"] <= runs["limit"] / BAND) | (runs["depth"] >= runs["limit"] * BAND)]
    judged = judged.assign(predicted=judged["depth"] <= judged["limit"])
    mixed = judged.groupby("depth")["predicted"].nunique().eq(2)
    if not mixed.any():
        raise NotTestable(
            f"no depth has cells both well inside and well outside {XI_FACTOR} xi_c (by a "
            f"factor {BAND:g}): depth alone would sort them; widen the sigma_w^2 or depth grid"
        )
    per_seed = judged.groupby("seed")[["predicted", "trained"]].apply(
        lambda g: balanced_accuracy(g["predicted"], g["trained"])
    )
    growth = runs.groupby("seed").apply(
        lambda g: float((g["trained"] & ~g["earlier"]).mean()), include_groups=False
    )
    sorts = Effect(
        f"balanced accuracy of 'trains iff depth <= {XI_FACTOR} xi_c' on the cells a factor "
        f"{BAND:g} or more from the curve",
        tuple(per_seed),
        MIN_BALANCED,
        True,
    )
    plateau = Effect(
        f"share of cells that began to train between step {half} and {steps}",
        tuple(growth),
        GROWTH_TOL,
        False,
    )
    cells = runs.groupby("cell")[["activation", "sigma_w2", "sigma_b2", "depth", "limit"]].first()
    cells = cells.assign(
        trained=runs.groupby("cell")["trained"].mean() >= 0.5,
        accuracy=runs.groupby("cell")["final_train_accuracy"].median(),
    )
    cells["predicted"] = cells["depth"] <= cells["limit"]
    rows = [
        (plateau.label, plateau.text()),
        ("Judged cells (of all)", f"{judged['cell'].nunique()} of {len(cells)}"),
        (
            "Bar for 'trains': final train accuracy >=",
            f"chance + {TRAINED_SHARE:g} x (best {gnum(best, 3)} - chance)",
        ),
    ] + [
        (
            f"{a}, sigma_b2 {b:g}, sigma_w2 {w:g}: 6 xi_c; depths trained (in most seeds)",
            f"{gnum(g['limit'].iloc[0], 3)}; "
            + (", ".join(map(str, sorted(g.loc[g["trained"], "depth"]))) or "none"),
        )
        for (a, b, w), g in cells.groupby(["activation", "sigma_b2", "sigma_w2"])
    ]
    groups = list(cells.groupby(["activation", "sigma_b2"]))
    wrong = int((cells["predicted"] != cells["trained"]).sum())
    caption = (
        f"Median final train accuracy over depth x sigma_w^2 with the curve depth = {XI_FACTOR} "
        f"xi_c (white); red boxes mark cells whose outcome (trained or not, in most seeds) "
        f"disagrees with the curve: {wrong} of {len(cells)}, judged only a factor {BAND:g} or "
        f"more from it. {sorts.label}: {sorts.text()}."
    )
    still_grows = plateau.estimate >= GROWTH_TOL
    return Evidence(
        [sorts],
        rows,
        method=(
            f"A run trains when its final train accuracy is at least chance + "
            f"{TRAINED_SHARE:g} x (the best cell's median - chance). Per seed, the balanced "
            f"accuracy of 'trains iff depth <= {XI_FACTOR} xi_c' over the cells whose depth is "
            f"at most 1/{BAND:g} or at least {BAND:g} x {XI_FACTOR} xi_c."
        ),
        notes=(
            f"Inconclusive while the trainable region grows: when the share of cells that "
            f"began to train in the second half of the run is {GROWTH_TOL:.0%} or more (mean "
            f"over seeds: a condition on the budget, not the claim's effect)."
        ),
        inconclusive=(
            f"the region still grew: {plateau.text()}; train for {2 * steps} steps"
            if still_grows
            else ""
        ),
        figure=Figure(
            partial(plot, groups, theory),
            caption,
            ncols=len(groups),
            size=(6.8 * len(groups) + 1.2, 4.4),
        ),
    )


def plot(groups, theory, fig, axes):
    """One accuracy grid per (activation, sigma_b2), with the 6 xi_c curve over it."""
    for ax, ((act, sb2), g) in zip(axes, groups):
        mesh = draw_grid(ax, g, theory_curve(theory, act, sb2))
        ax.set_title(f"{act}, sigma_b2 {sb2:g}: median train accuracy")
    fig.colorbar(mesh, ax=list(axes), label="median final train accuracy")


def draw_grid(ax, cells, theory):
    """Accuracy on the real (sigma_w2, depth) grid, the 6 xi_c curve over it (``theory``:
    its rows of the theory table's curve), and red boxes round the cells whose outcome
    disagrees with the curve."""
    grid = cells.pivot_table(index="depth", columns="sigma_w2", values="accuracy")
    sw2, depths = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    x_edges, y_edges = cell_edges(sw2), cell_edges(depths, log=True)
    mesh = heatmap(
        ax, grid, "viridis", Normalize(0, 1), ".2f", fontsize=7, x_edges=x_edges, y_edges=y_edges
    )
    wrong = cells.loc[cells["predicted"] != cells["trained"], ["sigma_w2", "depth"]]
    for w, depth in wrong.to_numpy():
        i, j = np.searchsorted(sw2, w), np.searchsorted(depths, depth)
        width, height = x_edges[i + 1] - x_edges[i], y_edges[j + 1] - y_edges[j]
        box = Rectangle((x_edges[i], y_edges[j]), width, height, fill=False, ec="red", lw=2)
        ax.add_patch(box)
    curve = np.minimum(XI_FACTOR * theory["depth_scale"].to_numpy(float), 10 * y_edges[-1])
    halo = [patheffects.withStroke(linewidth=4, foreground="black")]
    ax.plot(theory["sigma_w2"], curve, color="white", lw=2, path_effects=halo)
    ax.set_yscale("log")
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(depths, [f"{d:g}" for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("depth (weight layers)")
    handles = [
        Line2D([], [], color="white", lw=2, label=f"depth = {XI_FACTOR} xi_c", path_effects=halo),
        Patch(fill=False, edgecolor="red", lw=2, label="outcome disagrees with the curve"),
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False
    )
    return mesh
