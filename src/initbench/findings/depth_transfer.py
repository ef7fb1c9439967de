"""Tensor Programs VI: with branches scaled by L^-1/2 the best lr transfers across depth.

What the paper claims (Yang, Yu, Zhu & Hayou 2023, "Tensor Programs VI: Feature Learning
in Infinite-Depth Neural Networks", abstract, sections 1 and 9; Bordelon et al. 2023 for
the same L^-1/2 branch multiplier): "in resnets where each block has only one layer, we
identify a unique optimal parametrization, called Depth-muP ... and show empirically it
admits depthwise hyperparameter transfer", while "if each block is deeper ... we find
fundamental limitations in all possible infinite-depth limits of such parametrizations,
which we illustrate both theoretically and empirically". The standard residual net (no
branch multiplier, alpha = 0) is the comparator: its best lr falls as the net deepens.
Depth-muP here: branch multiplier L^-1/2, Adam's lr of the blocks times L^-1/2 (TP6's
eta L^-gamma, gamma = 1/2 for Adam), muP for the width (``parametrizations.py``).

The rule, fixed before the sized runs. Per arm (alpha, block size) and seed, each depth's
optimum is the vertex of the parabola through the lowest final training loss on the lr
grid and its two neighbours (in log2 lr); one on the grid's edge is the edge's log2 lr as
a bound and the seed's shift a censored bound (findings/mup.py's rule, with depth in
width's place). The shift is the deepest net's optimum minus the shallowest's, in octaves.
- ``depth_mup`` (blocks of one layer): Depth-muP's fall and rise below one octave
  (STAYS) from 2 to 32 blocks, the comparator's fall above one octave (SHIFTS).
- ``depth_mup_block2`` (blocks of two layers): TP6's limitation, read as the absence of
  the same transfer: Depth-muP's |shift| above one octave. A transfer within one octave
  with blocks of two layers does not reproduce the limitation at this depth range.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect
from ..outcomes import lr_optimum
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim
from .mup import bound_effect, shift_bounds

STAYS = 1.0  # a transferring arm: the optimum moves by less than one octave across depths
SHIFTS = 1.0  # the comparator: the optimum falls by more than one octave across depths
BLOCK1 = ("depth_alpha0_block1", "depth_mup_block1")
BLOCK2 = ("depth_alpha0_block2", "depth_mup_block2", "depth_completep")
STUDIES = BLOCK1 + BLOCK2
KEYS = ["block_size", "alpha", "blocks", "seed"]
ALPHA_NAMES = {0.0: "alpha 0 (standard)", 0.5: "alpha 1/2 (Depth-muP)", 1.0: "alpha 1 (CompleteP)"}


def with_arms(runs):
    """``runs`` with the arm's columns: alpha (the branch multiplier's exponent: 0 for
    unscaled branches), blocks, log2 lr, and the final train loss (diverged: inf)."""
    alpha = runs["branch_exponent"].where(runs["branch_scaling"].eq("depth_power"), 0.0)
    ok = runs["status"].eq("completed") & np.isfinite(runs["final_train_loss"])
    return runs.assign(
        alpha=alpha.astype(float),
        blocks=(runs["depth"] - 2) // runs["block_size"],
        log2_lr=np.log2(runs["lr"]),
        loss=runs["final_train_loss"].where(ok, np.inf),
    )


def depth_optima(runs):
    """Per (block size, alpha, blocks, seed): the optimal log2 lr, the best final train loss
    and the side (0 inside the grid, -1 at most the lowest lr, +1 at least the highest)."""
    rows = [
        (*key, *lr_optimum(g["log2_lr"].to_numpy(), g["loss"].to_numpy()))
        for key, g in with_arms(runs).groupby(KEYS)
    ]
    return pd.DataFrame(rows, columns=[*KEYS, "log2_lr_opt", "best_loss", "side"])


def arm_bounds(table, block_size, alpha):
    """Per seed of one arm: the (lowest, highest) possible shift of the optimum from its
    shallowest to its deepest net, in octaves, the two depths, and whether it is exact."""
    arm = table[table["block_size"].eq(block_size) & table["alpha"].eq(alpha)]
    if arm["blocks"].nunique() < 2:
        raise NotTestable(f"alpha {alpha}, blocks of {block_size}: fewer than two depths")
    at = arm.pivot_table(
        index="seed", columns="blocks", values=["log2_lr_opt", "side"], dropna=False
    )
    shallow, deep = arm["blocks"].min(), arm["blocks"].max()
    lowest, highest = shift_bounds(at, shallow, deep)
    return lowest, highest, (shallow, deep)


def moved(name, block_size, depths):
    return (
        f"{name}, blocks of {block_size}: {{}} of the optimal log2 lr from {depths[0]} "
        f"to {depths[1]} blocks"
    )


def transfer_effects(table, block_size, alpha):
    """A transferring arm's fall and rise of the optimum, each below STAYS."""
    lowest, highest, depths = arm_bounds(table, block_size, alpha)
    exact = lowest == highest
    label = moved(f"alpha {gnum(alpha, 2)}", block_size, depths)
    return [
        bound_effect(label.format("fall"), -highest, exact, STAYS, False),
        bound_effect(label.format("rise"), lowest, exact, STAYS, False),
    ]


def comparator_effect(table, block_size):
    """The standard net's (alpha 0) fall of the optimum, above SHIFTS."""
    lowest, highest, depths = arm_bounds(table, block_size, 0.0)
    label = moved("alpha 0 (standard)", block_size, depths).format("fall")
    return bound_effect(label, -highest, lowest == highest, SHIFTS, True)


def size_effect(table, block_size, alpha):
    """|shift| of an arm's optimum, a lower bound per seed: 0 where its bounds straddle 0."""
    lowest, highest, depths = arm_bounds(table, block_size, alpha)
    size = np.where(
        (lowest <= 0) & (highest >= 0), 0.0, np.minimum(np.abs(lowest), np.abs(highest))
    )
    label = moved(f"alpha {gnum(alpha, 2)}", block_size, depths).format("|shift|")
    return bound_effect(label, size, lowest == highest, SHIFTS, True)


def optimum_interval(values):
    """(mean, lo, hi): the seeds' optimal log2 lr and its 95% interval (effects.Effect's
    Student t; an edge value enters as the edge, so the interval is a bound there)."""
    e = Effect("optimum", tuple(values), 0.0, True)
    lo, hi = e.interval
    return e.estimate, lo, hi


def optimum_rows(table):
    """Per arm: each depth's optimum, mean over seeds with its 95% interval, edges counted."""
    rows = []
    for (bs, alpha), g in table.groupby(["block_size", "alpha"]):
        parts = []
        for blocks, d in g.groupby("blocks"):
            mean, lo, hi = optimum_interval(d["log2_lr_opt"])
            edges = int(d["side"].ne(0).sum())
            edge = f", {edges} on the grid's edge (bounds)" if edges else ""
            parts.append(f"{blocks}: 2^{gnum(mean, 3)} [{gnum(lo, 3)}, {gnum(hi, 3)}]{edge}")
        name = ALPHA_NAMES.get(alpha, f"alpha {gnum(alpha, 2)}")
        label = f"{name}, blocks of {bs}: optimal log2 lr by blocks (mean [95% interval])"
        rows.append((label, "; ".join(parts)))
    return rows


def loss_curves(runs):
    """Median final train loss per (block size, alpha, blocks, log2 lr); diverged: NaN."""
    runs = with_arms(runs)
    runs = runs.assign(loss=runs["loss"].where(np.isfinite(runs["loss"])))
    keys = ["block_size", "alpha", "blocks", "log2_lr"]
    return runs.groupby(keys, as_index=False)["loss"].median()


def depth_figure(runs, table):
    """Loss against log2 lr, one curve per depth, one panel per alpha; a row per block size;
    each depth's optimum (median over seeds) marked, with its range over seeds."""
    curves = loss_curves(runs)
    sizes = sorted(table["block_size"].unique())
    alphas = sorted(table["alpha"].unique())
    caption = (
        "Final training loss (median over seeds) against log2 learning rate, one line per "
        "depth (blocks), one panel per branch exponent alpha (branches times L^-alpha: 0 the "
        "standard residual net, 1/2 Depth-muP, 1 CompleteP), one row per block size. The "
        "marker above each curve is that depth's optimal log2 lr (mean over seeds), its bar "
        "the 95% interval over seeds; a hollow marker: some seeds' optima on the grid's edge "
        "(kept as bounds)."
    )
    return Figure(
        partial(plot, curves, table, sizes, alphas),
        caption,
        ncols=len(alphas),
        nrows=len(sizes),
        size=(4.2 * len(alphas), 3.4 * len(sizes)),
    )


def plot(curves, table, sizes, alphas, fig, axes):
    axes = np.atleast_2d(axes)
    depths = sorted(table["blocks"].unique())
    palette = dict(zip(depths, sns.color_palette("viridis", len(depths))))
    for row, bs in enumerate(sizes):
        for col, alpha in enumerate(alphas):
            ax = axes[row, col]
            c = curves[curves["block_size"].eq(bs) & curves["alpha"].eq(alpha)]
            if c.empty:
                ax.set_axis_off()
                continue
            top = np.nanmax(c["loss"].to_numpy()) if c["loss"].notna().any() else 1.0
            for blocks, g in c.groupby("blocks"):
                ax.plot(
                    g["log2_lr"],
                    g["loss"],
                    marker=".",
                    color=palette[blocks],
                    label=f"{blocks} blocks",
                )
                o = table[
                    table["block_size"].eq(bs)
                    & table["alpha"].eq(alpha)
                    & table["blocks"].eq(blocks)
                ]
                mean, lo, hi = optimum_interval(o["log2_lr_opt"])
                y = top * (1.05 + 0.07 * depths.index(blocks))
                ax.errorbar(
                    mean,
                    y,
                    xerr=[[mean - lo], [hi - mean]],
                    fmt="v",
                    color=palette[blocks],
                    capsize=2,
                    ms=5,
                    mfc="none" if o["side"].ne(0).any() else palette[blocks],
                )
            ax.set_xlabel("log2 learning rate")
            ax.set_ylabel("final train loss (median)")
            ax.set_title(f"{ALPHA_NAMES.get(alpha, alpha)}, blocks of {bs}", fontsize=9)
            ax.legend(fontsize=7)


def depth_rows(runs, table):
    """The measurements besides the effects: optima per depth, edges, diverged runs."""
    arms = with_arms(runs)
    failed = arms.groupby(["block_size", "alpha"])["loss"].apply(lambda v: np.isinf(v).sum())
    rows = optimum_rows(table)
    rows.append(
        (
            "Runs diverged (counted at infinite loss, never dropped), per (block size, alpha)",
            ", ".join(
                f"{bs}, {gnum(a, 2)}: {int(n)} of "
                f"{len(arms[arms['block_size'].eq(bs) & arms['alpha'].eq(a)])}"
                for (bs, a), n in failed.items()
            ),
        )
    )
    return rows


def depth_runs(results, studies):
    runs = results.rows("runs", *studies)
    if runs.empty or runs["lr"].nunique() < 3:
        raise NotTestable("the depth studies need three or more lrs")
    return runs


METHOD = (
    "Per arm (branch exponent alpha, block size), depth and seed: the final training loss "
    "over the lr grid (a diverged run counts as infinite); the optimum is the vertex of the "
    "parabola through the lowest loss and its two neighbours in log2 lr. A minimum on the "
    "grid's edge is kept as a bound (at most the lowest lr, at least the highest; no finite "
    "loss: below the grid) and the seed's shift as a censored bound, never dropped. The "
    "shift: the deepest net's optimum minus the shallowest's, in octaves (fall: its "
    "negative)."
)
SETTING = (
    "Setting: pre-LN residual ReLU MLPs of width 32 (= the base width) on mnist1d, Adam, "
    "100 steps of batch 64; the paper trains resnets on CIFAR-10 (and Megatron transformers) "
    "for many epochs: this is early-training transfer on a small problem."
)


@published_claim(
    "depth_mup",
    "Depth-muP: the best learning rate transfers across depth (blocks of one layer)",
    "With residual branches scaled by L^-1/2 (Depth-muP) the learning rate that minimises "
    "the training loss stays put as a resnet of one-layer blocks deepens; without branch "
    "scaling it falls.",
    "Yang, Yu, Zhu & Hayou 2023, 'Tensor Programs VI: Feature Learning in Infinite-Depth "
    "Neural Networks' (abstract, section 9); Bordelon et al. 2023, 'Depthwise hyperparameter "
    "transfer in residual networks'.",
    STUDIES,
    partial=True,
    decided_by="paper",
    quote="In resnets where each block has only one layer, we identify a unique optimal "
    "parametrization, called Depth-muP that extends muP and show empirically it admits "
    "depthwise hyperparameter transfer.",
)
def check_depth_mup(results):
    runs = depth_runs(results, STUDIES)
    table = depth_optima(runs)
    if not table["block_size"].eq(1).any():
        raise NotTestable("no residual nets of one-layer blocks")
    effects = [*transfer_effects(table, 1, 0.5), comparator_effect(table, 1)]
    return Evidence(
        effects,
        depth_rows(runs, table),
        method=METHOD,
        notes=SETTING,
        figure=depth_figure(runs, table),
    )


@published_claim(
    "depth_mup_block2",
    "Depth-muP's limitation: blocks of two layers",
    "With blocks of two or more layers no depth parametrization has an optimal limit: "
    "Depth-muP's best learning rate no longer transfers across depth.",
    "Yang, Yu, Zhu & Hayou 2023, 'Tensor Programs VI' (abstract; section 8, block depth "
    "two and more).",
    BLOCK2,
    partial=True,
    decided_by="paper",
    quote="However, if each block is deeper (such as modern transformers), then we find "
    "fundamental limitations in all possible infinite-depth limits of such "
    "parametrizations, which we illustrate both theoretically and empirically.",
)
def check_depth_mup_block2(results):
    runs = depth_runs(results, BLOCK2)
    table = depth_optima(runs)
    effects = [size_effect(table, 2, 0.5)]
    notes = (
        SETTING + " A |shift| within one octave means Depth-muP transfers with blocks of "
        "two layers over this depth range: the limitation, an infinite-depth statement, "
        "is then not visible here."
    )
    return Evidence(
        effects,
        depth_rows(runs, table),
        method=METHOD,
        notes=notes,
        figure=depth_figure(runs, table),
    )
