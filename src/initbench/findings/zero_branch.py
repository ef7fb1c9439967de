"""Fixup, SkipInit, ReZero: a residual branch that starts at zero trains deep nets unnormalized.

What the papers claim, and against what: with standard (He) init, an un-normalized
residual net's output and gradients explode with the number of branches, which is why
normalization was thought essential (Zhang et al. 2019, Fixup's lower bound on the
gradient norm); starting every branch at zero - Fixup's zero last layer with the other
branch layers rescaled by L^(-1/(2m-2)), SkipInit's and ReZero's scalar gate alpha = 0 -
trains such nets as deep as normalized ones. The comparator is the normalized net as it
is built: Fixup and SkipInit compare with BatchNorm ResNets (pre-activation: a norm in
every block and a final norm before the readout), ReZero with residual nets with
LayerNorm, the pre-LN transformer keeping its final LN. Fixup: "as stable as training
with normalization"; SkipInit and ReZero: thousands of layers. De & Smith (2020): the
largest stable learning rate of an un-normalized net falls with depth.

The rule, fixed on a pilot (seeds 100-102) before the sized runs: every arm at each depth
and seed is judged at its best lr of one grid (SGD with momentum 0.9, the same steps for
all), the comparator being He with a pre-LayerNorm on every branch and a final
LayerNorm before the readout (``final_norm``). The standard He net's largest trainable
lr must fall with depth, measured from 1 block to FALL_BLOCKS blocks, where the pilot's He
nets still trained at some lr (the He net explodes at init by construction, so deeper it
trains at none: a fall known only as a bound), on residual_standard's seeds and
residual_he_fall's (the grid's half-decade steps make the fall 0, 1.6 or 3.3 octaves by
seed: it needs more seeds than the rest); if it does not fall there is nothing to cure
and the claim is inconclusive. At the deepest depth each zero-start arm must make
progress and reach a best final training loss no worse than AS_WELL x the comparator's;
a comparator whose best lr sits on the grid's edge gives a ratio known only as a lower
bound (censored), since beyond the grid it might do better.
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

FALLS = 1.0  # He: the largest trainable lr at FALL_BLOCKS at least 2x below 1 block's
FALL_BLOCKS = 4  # the deepest He net that trained at some lr in every pilot seed
AS_WELL = 1.25  # a zero-start arm's best train loss at most this x the comparator's
STUDIES = ("residual_standard", "residual_gate", "residual_fixup", "residual_he_fall")
HE, NORMALIZED, GATE, FIXUP = "He", "He + pre-LN + final LN", "He + zero gate", "Fixup"
ZERO_START = (GATE, FIXUP)


def arm_of(runs):
    """Which arm each residual run belongs to, from its scheme, branch scaling and norms;
    None for other combinations (a pre-LN net without its final norm among them)."""
    he = runs["scheme"].eq("he_normal") & runs["branch_scaling"].eq("fixed")
    none = runs["norm"].eq("none")
    final_norm = runs.get("final_norm", pd.Series("none", index=runs.index))  # tables before it
    arms = np.select(
        [
            runs["scheme"].eq("fixup") & none,
            runs["scheme"].eq("he_normal") & runs["branch_scaling"].eq("gate") & none,
            he & runs["norm"].eq("layernorm") & final_norm.eq("layernorm"),
            he & none,
        ],
        [FIXUP, GATE, NORMALIZED, HE],
        default="",
    )
    return pd.Series(arms, index=runs.index).replace("", None)


def per_seed(runs):
    """Per (arm, blocks, seed): the best final train loss over the lr grid (diverged: inf),
    its lr, whether that lr is the grid's lowest or highest (``edge``), its final train
    accuracy above chance (``gap``; -1 when every lr diverged), the largest trainable lr
    (NaN: none) and whether it is the grid's highest (``max_at_top``: a lower bound), and
    the initial train loss at the best lr."""
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
        edge = finite and best["lr"] in (g["lr"].min(), g["lr"].max())
        max_lr = largest_trainable_lr(g)
        rows.append((arm, blocks, seed, best["loss"], best["lr"], edge, gap, max_lr,
                     max_lr == g["lr"].max(), best["initial_train_loss"]))  # fmt: skip
    columns = ["arm", "blocks", "seed", "best_loss", "best_lr", "edge", "gap", "max_lr",
               "max_at_top", "initial_loss"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def he_fall(table, lowest_lr):
    """He's fall of the largest trainable lr in octaves, 1 block over FALL_BLOCKS (none
    trainable at FALL_BLOCKS: at least down to half the lowest lr; 1 block's on the grid's
    top: at least it; both censored); None when the table lacks either depth."""
    he = table[table["arm"].eq(HE)].set_index(["seed", "blocks"]).unstack("blocks")
    if 1 not in he["max_lr"] or FALL_BLOCKS not in he["max_lr"]:
        return None
    shallow, deep = he["max_lr"][1], he["max_lr"][FALL_BLOCKS]
    fall = np.log2(shallow / deep.fillna(lowest_lr / 2))
    censored = deep.isna() | he["max_at_top"][1].astype(bool)
    label = f"He: log2 largest trainable lr at 1 block over {FALL_BLOCKS} blocks"
    return Effect(label, tuple(fall), FALLS, True, censored=tuple(censored))


def zero_branch_effects(table, lowest_lr):
    """He's fall (``he_fall``), and per zero-start arm at the deepest depth: progress (best
    final train accuracy over chance) and best loss over the comparator's (censored where
    the comparator's best lr is on the grid's edge)."""
    fall = he_fall(table, lowest_lr)
    effects = [] if fall is None else [fall]
    deep = table["blocks"].max()
    deepest = table[table["blocks"].eq(deep)]
    at_deep = deepest.pivot_table(index="seed", columns="arm", values="best_loss", dropna=False)
    progress = deepest.pivot_table(index="seed", columns="arm", values="gap", dropna=False)
    edge = deepest.pivot_table(index="seed", columns="arm", values="edge", dropna=False)
    for arm in ZERO_START:
        if arm in progress:
            label = f"{arm}, {deep} blocks: best final train accuracy minus chance"
            effects.append(Effect(label, tuple(progress[arm]), STALL_MARGIN, True))
        if arm in at_deep and NORMALIZED in at_deep:
            label = f"{arm}, {deep} blocks: best train loss over pre-LN + final LN's"
            ratio = at_deep[arm] / at_deep[NORMALIZED]
            censored = edge[NORMALIZED].fillna(False).astype(bool)
            effects.append(Effect(label, tuple(ratio), AS_WELL, False, censored=tuple(censored)))
    return effects


def summary_rows(table):
    """Per arm: by blocks, the median best loss, largest trainable lr (seeds with one), best
    lr (seeds on the grid's edge) and initial loss at the best lr."""
    summary = table.groupby(["arm", "blocks"]).agg(
        best_loss=("best_loss", "median"),
        max_lr=("max_lr", "median"),
        trainable=("max_lr", "count"),
        best_lr=("best_lr", "median"),
        edge=("edge", "sum"),
        initial=("initial_loss", "median"),
        seeds=("seed", "size"),
    )

    def cell(b, r):
        max_lr = gnum(r.max_lr, 2) if np.isfinite(r.max_lr) else "none"
        parts = (
            gnum(r.best_loss, 3),
            f"{max_lr} ({int(r.trainable)}/{int(r.seeds)})",
            f"{gnum(r.best_lr, 2)} ({int(r.edge)} on an edge)",
            gnum(r.initial, 3),
        )
        return f"{b}: " + " / ".join(parts)

    return [
        (
            f"{arm}: best final train loss / largest trainable lr (seeds with one) / best lr "
            "(seeds whose best is the grid's lowest or highest) / initial loss at it, medians, "
            "by blocks",
            ", ".join(cell(b, r) for b, r in g.droplevel(0).iterrows()),
        )
        for arm, g in summary.groupby(level=0)
    ]


@published_claim(
    "zero_branch",
    "Zero-start residual branches: deep un-normalized nets train",
    "Deep residual networks without normalization train at 64 and more blocks, as well as "
    "normalized networks as they are built (pre-LayerNorm on every branch and a final "
    "LayerNorm before the readout), when every residual branch starts at zero (a zero gate, "
    "or Fixup's rescaling with a zero last layer); with standard He init the largest stable "
    "learning rate falls with depth.",
    "Zhang, Dauphin & Ma 2019 'Fixup initialization' (abstract, figure 1: against BatchNorm "
    "ResNets); De & Smith 2020 'Batch normalization biases residual blocks towards the "
    "identity function' (SkipInit); Bachlechner et al. 2020 'ReZero is all you need' "
    "(against residual networks with normalization).",
    STUDIES,
    partial=True,
    quote="We find training residual networks with Fixup to be as stable as training with "
    "normalization -- even for networks with 10,000 layers.",
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
        summary_rows(table),
        method=(
            f"Each arm at each depth and seed is judged at its best lr on the grid (lowest "
            f"final train loss; a diverged run counts as infinite, every lr diverged: progress "
            f"-1). A run is trainable when it completes with a final train accuracy above "
            f"chance + {STALL_MARGIN}. The comparator is the normalized net as it is built: He "
            f"init, a pre-LayerNorm on every branch and a final LayerNorm before the readout "
            f"({NORMALIZED}). He's largest trainable lr at 1 block over {FALL_BLOCKS} blocks "
            f"(none trainable there: at least down to half the lowest lr; 1 block's the grid's "
            f"highest: at least it; both lower bounds) is the condition: if it does not fall "
            f"there is nothing to cure; at the deepest depth, each zero-start arm "
            f"({', '.join(ZERO_START)}) is compared with the comparator, paired by seed; where "
            f"the comparator's best lr is the grid's lowest or highest the ratio is a lower "
            f"bound (censored)."
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
    "the grid (median and range over seeds); the comparator is He with pre-LayerNorm and a "
    "final LayerNorm."
)


def plot(table, fig, axes):
    """Left: each arm's largest trainable and best lr against blocks; right: its best loss."""
    palette = dict(zip([HE, NORMALIZED, GATE, FIXUP], sns.color_palette()))
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
