"""CompleteP: branches times 1/L transfer the best lr across depth and keep layers learning.

What the paper claims (Dey, Zhang, Noci, Li, Bordelon, Bergsma, Pehlevan, Hanin &
Hestness 2025, "Don't be lazy: CompleteP enables compute-efficient deep transformers",
abstract, section 3, figure 1 left): of the depth parametrizations (branch multiplier
L^-alpha), alpha = 1 "achieves both depth-wise HP transfer and non-lazy learning in all
layers", while alpha = 1/2 (Depth-muP) transfers but leaves the layers "in the lazy
learning regime where layers learn only features close to their linearization": under
Adam its blocks' lr falls as L^-1/2, so each layer's weights move less, relative to their
init, the deeper the net. CompleteP's Table 1 (alpha = 1: branches times L^-1, the blocks'
lr unscaled, Adam's eps times m_N^-1 L^-1) is ``parametrization: completep``.

The rule, fixed before the sized runs. Transfer: CompleteP's optimal log2 lr (findings/
depth_transfer.py's optimum per depth and seed, edges as censored bounds) falls and rises
by less than one octave (STAYS) from the shallowest to the deepest net, blocks of two
layers. Laziness: per seed and depth, at the arm's transferred lr (the grid's lr nearest
the shallowest net's median optimum), how far the blocks' weights moved: the median over
the blocks' dense layers of |log2 (||W_T|| / ||W_0||)|; per seed, the least-squares slope
of its log2 on log2 blocks. Non-lazy: CompleteP's slope above -1/4 (a layer's movement
independent of depth has slope 0; Depth-muP's L^-1/2 step predicts about -1/2); and
CompleteP's slope minus Depth-muP's (same seed) above 1/4.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim
from .depth_transfer import (
    ALPHA_NAMES,
    BLOCK2,
    METHOD,
    SETTING,
    depth_optima,
    depth_rows,
    depth_runs,
    transfer_effects,
    with_arms,
)

NON_LAZY = -0.25  # CompleteP: slope of log2 weight movement on log2 blocks above this
LAZIER = 0.25  # CompleteP's slope minus Depth-muP's above this


def transferred_lrs(table, runs):
    """Per alpha (blocks of two layers): the grid's lr nearest its shallowest net's median
    optimum."""
    grid = np.sort(np.log2(runs["lr"].unique()))
    lrs = {}
    for alpha, g in table[table["block_size"].eq(2)].groupby("alpha"):
        best = g[g["blocks"].eq(g["blocks"].min())]["log2_lr_opt"].median()
        lrs[alpha] = float(grid[np.argmin(np.abs(grid - best))])
    return lrs


def movement(layers, runs, lrs):
    """Per (alpha, blocks, seed) at the arm's transferred lr: the median over the blocks'
    dense layers (not the input layer or the readout) of |log2 ||W_T|| / ||W_0|| |."""
    arms = with_arms(runs)
    arms = arms[arms["block_size"].eq(2) & arms["log2_lr"].eq(arms["alpha"].map(lrs))]
    cells = arms.groupby("cell")[["alpha", "blocks", "depth", "steps"]].first()
    rows = layers[layers["cell"].isin(cells.index)].join(cells, on="cell")
    inside = rows["layer"].gt(1) & rows["layer"].lt(rows["depth"])
    rows = rows[inside & (rows["step"].eq(0) | rows["step"].eq(rows["steps"]))]
    norms = rows.pivot_table(
        index=["alpha", "blocks", "seed", "layer"],
        columns="step",
        values="weight_norm",
        aggfunc="first",
    )
    start, end = norms[0], norms.drop(columns=0).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.abs(np.log2(end / start))
    return moved.groupby(level=["alpha", "blocks", "seed"]).median().rename("moved").reset_index()


def slopes(moved):
    """Per (alpha, seed): the least-squares slope of log2 movement on log2 blocks (NaN when
    a depth's movement is 0 or unmeasured: counted missing)."""
    out = {}
    for (alpha, seed), g in moved.groupby(["alpha", "seed"]):
        y = np.log2(g["moved"].to_numpy())
        x = np.log2(g["blocks"].to_numpy())
        ok = np.isfinite(y).all() and len(np.unique(x)) > 1
        out[(alpha, seed)] = np.polyfit(x, y, 1)[0] if ok else np.nan
    return pd.Series(out, dtype=float)


def laziness_effects(slope, seeds):
    """CompleteP's slope above NON_LAZY; CompleteP's minus Depth-muP's above LAZIER."""
    complete = np.array([slope.get((1.0, s), np.nan) for s in seeds])
    depth_mup = np.array([slope.get((0.5, s), np.nan) for s in seeds])
    label = "slope of log2 |log2 ||W_T||/||W_0||| (blocks' layers) on log2 blocks"
    return [
        Effect(f"alpha 1: {label}", tuple(complete), NON_LAZY, True),
        Effect(f"alpha 1 minus alpha 1/2: {label}", tuple(complete - depth_mup), LAZIER, True),
    ]


@published_claim(
    "completep",
    "CompleteP: alpha = 1 transfers across depth and keeps every layer learning",
    "With residual branches scaled by 1/L (and CompleteP's rules for Adam's lr and eps) the "
    "best learning rate stays put as the net deepens, and the blocks' weights move as much "
    "at every depth (non-lazy), while under Depth-muP (1/sqrt L) they move less the deeper "
    "the net.",
    "Dey, Zhang, Noci, Li, Bordelon, Bergsma, Pehlevan, Hanin & Hestness 2025, 'Don't be "
    "lazy: CompleteP enables compute-efficient deep transformers' (Table 1; section 3; "
    "figure 1).",
    BLOCK2,
    partial=True,
    decided_by="paper",
    quote="Finally, we identify and adopt the parameterization we call CompleteP that "
    "achieves both depth-wise HP transfer and non-lazy learning in all layers.",
)
def check_completep(results):
    runs = depth_runs(results, BLOCK2)
    table = depth_optima(runs)
    if not table["alpha"].eq(1.0).any():
        raise NotTestable("no CompleteP (alpha 1) runs")
    lrs = transferred_lrs(table, runs)
    layers = results.rows(
        "layers", *BLOCK2, columns=("cell", "seed", "step", "layer", "weight_norm")
    )
    moved = movement(layers, runs, lrs)
    seeds = sorted(runs["seed"].unique())
    effects = [*transfer_effects(table, 2, 1.0), *laziness_effects(slopes(moved), seeds)]
    rows = [r for r in depth_rows(runs, table) if "blocks of 2" in r[0] or "diverged" in r[0]]
    rows.append(
        (
            "Transferred lr per alpha (the grid's lr nearest the shallowest net's optimum)",
            ", ".join(f"{gnum(a, 2)}: 2^{gnum(v, 3)}" for a, v in lrs.items()),
        )
    )
    method = METHOD + (
        " Laziness: at each arm's transferred lr, per seed and depth, the median over the "
        "blocks' dense layers of |log2 ||W_T|| / ||W_0|| |, the weights' movement from init; "
        "per seed, the slope of its log2 on log2 blocks."
    )
    notes = SETTING + (
        " The weights' norm change is a proxy for Dey et al.'s laziness (features close to "
        "their linearization): a lazy layer's weights stay near their init."
    )
    caption = (
        "How far the blocks' weights move from init (median over the blocks' dense layers "
        "of |log2 ||W_T||/||W_0|| |, median and range over seeds) against depth, at each "
        "arm's transferred lr: flat means every layer keeps learning as the net deepens."
    )
    figure = Figure(partial(plot, moved, lrs), caption, size=(5.6, 4.0))
    return Evidence(effects, rows, method=method, notes=notes, figure=figure)


def plot(moved, lrs, fig, axes):
    (ax,) = axes
    palette = dict(zip(sorted(lrs), sns.color_palette("deep", len(lrs))))
    for alpha, g in moved.groupby("alpha"):
        agg = g.groupby("blocks")["moved"].agg(["median", "min", "max"])
        ax.errorbar(
            agg.index,
            agg["median"],
            yerr=[agg["median"] - agg["min"], agg["max"] - agg["median"]],
            marker="o",
            capsize=2,
            color=palette[alpha],
            label=f"{ALPHA_NAMES.get(alpha, alpha)}, lr 2^{gnum(lrs[alpha], 3)}",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("blocks (L)")
    ax.set_ylabel("|log2 ||W_T|| / ||W_0|| | (blocks' layers)")
    ax.legend(fontsize=7)
