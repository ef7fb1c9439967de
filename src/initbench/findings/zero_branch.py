"""Fixup, SkipInit, ReZero: a residual branch that starts at zero trains deep nets unnormalized.

What the papers claim: with standard (He) init, an un-normalized residual net's output and
gradients explode with the number of branches, which is why normalization was thought
essential (Zhang et al. 2019, Fixup's lower bound on the gradient norm); starting every
branch at zero - Fixup's zero last layer with the other branch layers rescaled by
L^(-1/(2m-2)), SkipInit's and ReZero's scalar gate alpha = 0 - trains such nets as deep
as normalized ones (Fixup: "as stable as training with normalization"; SkipInit and
ReZero: thousands of layers). De & Smith (2020): the largest stable learning rate of an
un-normalized net falls with depth.

The rule, fixed before the runs, compares each arm at its best lr from one small grid
(SGD with momentum 0.9, the same steps for all): the standard He net's largest trainable
lr must fall with depth (else there is nothing to cure, and the claim is inconclusive),
and at the deepest depth each zero-start arm must make progress and reach a best final
training loss no worse than 1.25 x the pre-LayerNorm net's.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import FAILS, UNDECIDED, Effect
from ..outcomes import STALL_MARGIN, largest_trainable_lr, n_hidden
from ..plotting import grid_axis
from ..text import gnum, listed
from .base import Evidence, Figure, NotTestable, published_claim

FALLS = 1.0  # He: the largest trainable lr at the deepest net at least 2x below the shallowest's
AS_WELL = 1.25  # a zero-start arm's best train loss at most this x pre-LayerNorm's
STUDIES = ("residual_standard", "residual_gate", "residual_fixup")
HE, LAYERNORM, GATE, FIXUP = "He", "He + pre-LayerNorm", "He + zero gate", "Fixup"
ZERO_START = (GATE, FIXUP)


def arm_of(runs):
    """Which arm each residual run belongs to, from its scheme, branch scaling and norm;
    None for other combinations."""
    he = runs["scheme"].eq("he_normal") & runs["branch_scaling"].eq("fixed")
    none = runs["norm"].eq("none")
    arms = np.select(
        [
            runs["scheme"].eq("fixup") & none,
            runs["scheme"].eq("he_normal") & runs["branch_scaling"].eq("gate") & none,
            he & runs["norm"].eq("layernorm"),
            he & none,
        ],
        [FIXUP, GATE, LAYERNORM, HE],
        default="",
    )
    return pd.Series(arms, index=runs.index).replace("", None)


def per_seed(runs):
    """Per (arm, blocks, seed): the best final train loss over the lr grid (diverged: inf),
    its lr, its final train accuracy above chance (``gap``; -1 when every lr diverged) and
    the largest trainable lr (NaN: none)."""
    runs = runs.assign(
        loss=runs["final_train_loss"].where(
            runs["status"].eq("completed") & np.isfinite(runs["final_train_loss"]), np.inf
        )
    )
    rows = []
    for (arm, blocks, seed), g in runs.groupby(["arm", "blocks", "seed"]):
        best = g.loc[g["loss"].idxmin()]
        finite = np.isfinite(best["loss"])
        gap = best["final_train_accuracy"] - best["majority_rate"] if finite else -1.0
        rows.append((arm, blocks, seed, best["loss"], best["lr"], gap, largest_trainable_lr(g)))
    columns = ["arm", "blocks", "seed", "best_loss", "best_lr", "gap", "max_lr"]
    return pd.DataFrame(rows, columns=columns)


def zero_branch_effects(table, lowest_lr):
    """He's fall of the largest trainable lr (octaves, shallowest minus deepest; none
    trainable at the deepest: at least down to half the lowest lr, censored), and per
    zero-start arm at the deepest depth: progress (best final train accuracy over chance)
    and best loss over pre-LayerNorm's."""
    shallow, deep = table["blocks"].min(), table["blocks"].max()
    he = table[table["arm"].eq(HE)]
    he = he.pivot_table(index="seed", columns="blocks", values="max_lr", dropna=False)
    effects = []
    if shallow in he and deep in he:
        none_deep = he[deep].isna()
        fall = np.log2(he[shallow] / he[deep].fillna(lowest_lr / 2))
        label = f"He: log2 largest trainable lr at {shallow} blocks over {deep} blocks"
        effects.append(Effect(label, tuple(fall), FALLS, True, censored=tuple(none_deep)))
    deepest = table[table["blocks"].eq(deep)]
    at_deep = deepest.pivot_table(index="seed", columns="arm", values="best_loss", dropna=False)
    progress = deepest.pivot_table(index="seed", columns="arm", values="gap", dropna=False)
    for arm in ZERO_START:
        if arm in progress:
            label = f"{arm}, {deep} blocks: best final train accuracy minus chance"
            effects.append(Effect(label, tuple(progress[arm]), STALL_MARGIN, True))
        if arm in at_deep and LAYERNORM in at_deep:
            label = f"{arm}, {deep} blocks: best train loss over pre-LayerNorm's"
            ratio = at_deep[arm] / at_deep[LAYERNORM]
            effects.append(Effect(label, tuple(ratio), AS_WELL, False))
    return effects


@published_claim(
    "zero_branch",
    "Zero-start residual branches: deep un-normalized nets train",
    "Deep residual networks without normalization train at 64 and more blocks, as well as "
    "pre-LayerNorm networks, when every residual branch starts at zero (a zero gate, or "
    "Fixup's rescaling with a zero last layer); with standard He init the largest stable "
    "learning rate falls with depth.",
    "Zhang, Dauphin & Ma 2019 'Fixup initialization'; De & Smith 2020 'Batch normalization "
    "biases residual blocks towards the identity function' (SkipInit); Bachlechner et al. "
    "2020 'ReZero is all you need'.",
    STUDIES,
    partial=True,
)
def check_zero_branch(results):
    runs = results.rows("runs", *STUDIES)
    runs = runs[runs["architecture"].eq("residual")]
    runs = runs.assign(arm=arm_of(runs)).dropna(subset=["arm"])
    runs["blocks"] = (n_hidden(runs) - 1) // runs["block_size"]
    if runs["blocks"].nunique() < 2 or not runs["arm"].isin([HE]).any():
        raise NotTestable("the residual studies need He nets of two or more depths")
    table = per_seed(runs)
    effects = zero_branch_effects(table, runs["lr"].min())
    summary = table.groupby(["arm", "blocks"]).agg(
        best_loss=("best_loss", "median"),
        max_lr=("max_lr", "median"),
        trainable=("max_lr", lambda v: int(v.notna().sum())),
        seeds=("seed", "size"),
    )
    rows = [
        (
            f"{arm}: best final train loss (median) / largest trainable lr (median; seeds with "
            "one) by blocks",
            ", ".join(
                f"{b}: {gnum(r.best_loss, 3)} / "
                f"{gnum(r.max_lr, 2) if np.isfinite(r.max_lr) else 'none'} "
                f"({r.trainable}/{r.seeds})"
                for b, r in g.droplevel(0).iterrows()
            ),
        )
        for arm, g in summary.groupby(level=0)
    ]
    settings = (
        f"block size {listed(runs['block_size'])}, width {listed(runs['width'])}, optimizer "
        f"{listed(runs['optimizer'])}, momentum {listed(runs['momentum'], '{:g}')}, "
        f"{listed(runs['steps'])} steps, lrs {listed(runs['lr'], '{:g}')}"
    )
    he_effect = effects[0] if effects and effects[0].label.startswith("He:") else None
    he_outcome = None if he_effect is None else he_effect.outcome
    undecided = " Whether the He net degrades is undecided, so the claim is too."
    return Evidence(
        effects,
        rows,
        method=(
            f"Each arm at each depth and seed is judged at its best lr on the grid (lowest "
            f"final train loss; a diverged run counts as infinite). A run is trainable when it "
            f"completes with a final train accuracy above chance + {STALL_MARGIN}. He's largest "
            f"trainable lr at the shallowest depth over the deepest's (none trainable at the "
            f"deepest: at least down to half the lowest lr, a lower bound) is the condition: "
            f"if it does not fall there is nothing to cure; at the deepest depth, each "
            f"zero-start arm ({', '.join(ZERO_START)}) is compared with pre-LayerNorm."
        ),
        notes=f"Setting: {settings}." + (undecided if he_outcome == UNDECIDED else ""),
        inconclusive=(
            "the standard He net's largest trainable lr did not fall with depth here: nothing "
            "to cure, so the zero-start arms are not judged"
            if he_outcome == FAILS
            else ""
        ),
        figure=Figure(partial(plot, table), CAPTION, ncols=2, size=(10.0, 3.8)),
    )


CAPTION = (
    "Left: the largest learning rate at which each arm still trains (solid; a cross at the "
    "bottom: no lr on the grid trains) and its best lr (dashed), against the number of "
    "residual blocks (medians over seeds). Right: each arm's best final training loss over "
    "the grid (median and range over seeds)."
)


def plot(table, fig, axes):
    """Left: each arm's largest trainable and best lr against blocks; right: its best loss."""
    palette = dict(zip([HE, LAYERNORM, GATE, FIXUP], sns.color_palette()))
    floor = table["best_lr"].min() / 2
    for arm, g in table.groupby("arm"):
        med = g.groupby("blocks")["max_lr"].median()
        axes[0].plot(med.index, med.fillna(floor), marker="o", color=palette[arm], label=arm)
        none = med[med.isna()]
        axes[0].scatter(none.index, [floor] * len(none), marker="x", s=70, color=palette[arm])
        best = g[np.isfinite(g["best_loss"])].groupby("blocks")["best_lr"].median()
        axes[0].plot(best.index, best, ls="--", lw=1, color=palette[arm])
        loss = g.groupby("blocks")["best_loss"].agg(["median", "min", "max"])
        loss = loss.replace(np.inf, np.nan)
        axes[1].plot(loss.index, loss["median"], marker="o", color=palette[arm], label=arm)
        axes[1].fill_between(loss.index, loss["min"], loss["max"], color=palette[arm], alpha=0.15)
    for ax in axes:
        grid_axis(ax, table["blocks"].unique())
        ax.set_xlabel("residual blocks")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("largest trainable lr")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("best final train loss")
    axes[1].legend(fontsize=8)
