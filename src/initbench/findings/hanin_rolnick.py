"""Hanin & Rolnick 2018: with He init, the sum of reciprocal widths, not depth, sets how a
ReLU net starts training.

What the paper claims: He's variance 2/fan_in keeps the mean squared activation M_d
constant over depth (failure mode FM1 avoided), but the fluctuations of M_d grow with
beta = sum_j 1/n_j over the hidden widths (FM2), "avoided by keeping constant the sum of
the reciprocals of layer widths"; a deeper net "need not take longer to start training"
if both are avoided. Their figures time early training as the epochs to 20% accuracy on
vectorized MNIST. For a fixed input, log M_d is close to Gaussian with variance 5 beta
(Hanin & Nica 2018): each ReLU layer of width n multiplies M by a factor of variance 5/n.

The rule, fixed before the runs: the across-seed variance of log M at the last hidden
layer (one fixed test input) must grow with beta with a slope between 2.5 and 10 (half
and twice 5); nets of equal beta but different depth must reach 20% train accuracy within
a factor 2 of each other, and at one depth the largest beta must take at least twice as
long as the smallest.
"""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import Effect
from ..outcomes import first_step_reaching
from ..tables import decoded
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

SLOPE_RANGE = (2.5, 10.0)  # Var[log M] per unit beta: within half and twice the theory's 5
ALIKE = 1.0  # equal beta: |log2 steps-to-20% ratio| below this
SLOWER = 1.0  # same depth: log2 steps-to-20%, largest beta over smallest, above this
START = 0.2  # "training has started": 20% train accuracy, the paper's criterion
INIT, TRAINING = "hanin_rolnick_init", "hanin_rolnick"


def with_beta(frame):
    widths = decoded(frame["hidden"])
    return frame.assign(beta=widths.map(lambda h: round(sum(1 / n for n in h), 9)))


def log_sizes(layers):
    """Per run: log M, the mean squared activation of the last hidden layer at init on the
    probe row (M = mean^2 + std^2 over its units); NaN where every unit is 0 (a dead
    layer, which a narrow ReLU layer can be, has no log size)."""
    top = layers[layers["step"].eq(0) & layers["layer"].eq(layers["depth"] - 1)]
    m = top["probe_act_mean"] ** 2 + top["probe_act_std"] ** 2
    return top.assign(log_m=np.log(m.where(m > 0)))


def slope_values(sizes):
    """Per seed, its share of the least-squares slope of Var[log M] against beta: with
    d = the seed's squared deviation from its architecture's mean (unbiased), the slope is
    sum_a w_a mean_s d_as, so its per-seed terms sum_a w_a d_as average to it."""
    g = sizes.groupby("hidden")["log_m"]
    n = g.transform("size")
    d = (sizes["log_m"] - g.transform("mean")) ** 2 * n / (n - 1)
    betas = sizes.groupby("hidden")["beta"].first()
    w = (betas - betas.mean()) / ((betas - betas.mean()) ** 2).sum()
    terms = d * sizes["hidden"].map(w)
    return terms.groupby(sizes["seed"]).sum()


def hr_effects(sizes, starts):
    effects = []
    if sizes is not None and sizes["beta"].nunique() >= 2:
        values = tuple(slope_values(sizes))
        lo, hi = SLOPE_RANGE
        label = "slope of Var[log M] over seeds against beta"
        effects += [
            Effect(label + f" (claim: > {lo:g})", values, lo, True),
            Effect(label + f" (claim: < {hi:g})", values, hi, False),
        ]
    if starts is None:
        return effects
    # equal beta: the level whose nets span the widest range of depths
    if (found := widest(starts, "beta", "depth")) is not None:
        beta, level, shallow, deep = found
        ratio, censored, lost = _log2_ratio(
            level, level["depth"].eq(deep), level["depth"].eq(shallow)
        )
        label = (
            f"beta {gnum(beta, 3)}: log2 steps to {START:.0%}, depth {deep} over depth {shallow}"
        )
        counted = {"censored": censored, "missing": lost}
        effects += [
            Effect(label + f" (claim: > -{ALIKE:g})", ratio, -ALIKE, True, **counted),
            Effect(label + f" (claim: < {ALIKE:g})", ratio, ALIKE, False, **counted),
        ]
    # one depth: the largest beta against the smallest
    if (found := widest(starts, "depth", "beta")) is not None:
        depth, same, small, big = found
        ratio, censored, lost = _log2_ratio(same, same["beta"].eq(big), same["beta"].eq(small))
        label = (
            f"depth {depth}: log2 steps to {START:.0%}, beta {gnum(big, 3)} over beta "
            f"{gnum(small, 3)}"
        )
        effects.append(Effect(label, ratio, SLOWER, True, censored=censored, missing=lost))
    return effects


def widest(starts, within, across):
    """(value, its rows, smallest and largest ``across``) for the ``within`` value whose rows
    span the widest ratio of ``across`` (the first on ties); None when none spans any."""
    spans = starts.groupby(within)[across].agg(lambda v: v.max() / v.min())
    if not spans.max() > 1:
        return None
    rows = starts[starts[within].eq(spans.idxmax())]
    return spans.idxmax(), rows, rows[across].min(), rows[across].max()


def _log2_ratio(frame, first, second):
    """Per seed: log2 of the steps of the ``first`` rows over the ``second`` (several nets
    in one arm: their mean log), and whether it is only a lower bound (a ``first`` net
    never got there), and how many seeds are left out: those whose ``second`` nets never got
    there (their ratio is bounded from neither side) or that lack an arm."""
    arms = [
        frame[rows]
        .groupby("seed")
        .agg(log2_steps=("log2_steps", "mean"), censored=("censored", "any"))
        for rows in (first, second)
    ]
    both = arms[0].merge(arms[1], left_index=True, right_index=True, suffixes=("_a", "_b"))
    both = both[~both["censored_b"]]
    lost = len(arms[0].index.union(arms[1].index)) - len(both)
    return tuple(both["log2_steps_a"] - both["log2_steps_b"]), tuple(both["censored_a"]), lost


@published_claim(
    "hanin_rolnick",
    "Hanin & Rolnick: the sum of reciprocal widths, not depth, governs early training",
    "In He-initialised ReLU networks, the fluctuations of the activations' size at init grow "
    "with beta = sum_j 1/n_j (the variance of log ||z_L||^2 linearly in it), and early "
    "training is governed by beta, not by depth alone: networks with equal beta start "
    "training alike.",
    "Hanin & Rolnick 2018, 'How to start training: the effect of initialization and "
    "architecture' (FM1, FM2; figure 2); Hanin & Nica 2018 for the constant 5.",
    [INIT, TRAINING],
    partial=True,
)
def check_hanin_rolnick(results):
    sizes, dead = init_sizes(results)
    starts = training_starts(results)
    effects = hr_effects(sizes, starts)
    if not effects:
        raise NotTestable("the Hanin & Rolnick studies need two or more width profiles")
    rows = []
    if sizes is not None:
        var = sizes.groupby(["hidden", "beta", "depth"])["log_m"].var().reset_index()
        profiles = "; ".join(
            f"{r.hidden} ({gnum(r.beta, 3)}): {gnum(r.log_m, 3)}" for r in var.itertuples()
        )
        rows.append(("Var[log M] over seeds at init by width profile (beta)", profiles))
        rows.append(("Runs at init whose last hidden layer was all zero (dropped)", str(dead)))
    if starts is not None:
        med = starts.groupby(["hidden", "beta"]).agg(
            steps=("log2_steps", lambda v: 2 ** v.median()), never=("censored", "sum")
        )
        rows.append(
            (
                f"steps to {START:.0%} train accuracy (median; runs that never got there)",
                "; ".join(
                    f"{p} ({gnum(b, 3)}): {gnum(r.steps, 3)} ({int(r.never)})"
                    for (p, b), r in med.iterrows()
                ),
            )
        )
    caption = (
        "Left: the variance over seeds of the log mean squared activation of the last hidden "
        "layer at init, per width profile, against beta (dotted: Hanin & Nica's 5 beta). "
        f"Right: steps until the net first reaches {START:.0%} training accuracy (median over "
        "seeds), against beta; colour and marker give the depth."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"beta = sum of 1/width over the hidden layers. Init: per width profile, the "
            f"variance over seeds of log M (M: mean squared activation of the last hidden "
            f"layer on one fixed test input); its least-squares slope against beta, each "
            f"seed's share of the slope giving the interval over seeds, within "
            f"{SLOPE_RANGE[0]:g}-{SLOPE_RANGE[1]:g} (theory: 5). Training: steps to "
            f"{START:.0%} train accuracy (never: the budget, a lower bound), as log2 ratios per "
            f"seed: at the beta level with the widest range of depths, deepest over shallowest "
            f"within +-{ALIKE:g}; at the depth with the widest range of beta, the largest beta "
            f"over the smallest above {SLOWER:g}."
        ),
        notes=(
            f"{dead} runs at init whose last hidden layer was all zero (log M undefined) are "
            f"left out of Var[log M]."
            if dead
            else ""
        ),
        figure=Figure(partial(plot, sizes, starts), caption, ncols=2, size=(10.0, 3.8)),
    )


def init_sizes(results):
    """Per run of the init study: log M with its width profile's beta (None without the
    study), and how many runs had an all-zero last hidden layer (dropped)."""
    columns = (
        "cell",
        "seed",
        "step",
        "layer",
        "depth",
        "hidden",
        "probe_act_mean",
        "probe_act_std",
    )
    layers = results.rows("layers", INIT, columns=columns)
    if not len(layers):
        return None, 0
    sizes = with_beta(log_sizes(layers))
    if sizes["probe_act_std"].isna().all():
        raise NotTestable(f"the {INIT} study has no probe statistics (set probe rows)")
    dead = int(sizes["log_m"].isna().sum())
    return sizes.dropna(subset=["log_m"]), dead


def training_starts(results):
    """Per run of the training study: log2 steps to START (never: the budget, censored),
    with its depth and beta; None without the study."""
    curves = results.rows("curves", TRAINING)
    if not len(curves):
        return None
    first = first_step_reaching(curves, START).rename("steps").reset_index()
    runs = results.rows("runs", TRAINING).set_index(["cell", "seed"])
    first = first.join(
        runs[["depth", "hidden", "steps"]].rename(columns={"steps": "budget"}),
        on=["cell", "seed"],
    )
    first["censored"] = first["steps"].isna()
    first["log2_steps"] = np.log2(first["steps"].fillna(first["budget"]).clip(lower=1))
    return with_beta(first)


def plot(sizes, starts, fig, axes):
    """Left: Var[log M] against beta; right: steps to START against beta."""
    if sizes is not None:
        var = sizes.groupby(["hidden", "beta", "depth"])["log_m"].var().reset_index()
        scatter_by_depth(axes[0], var, "log_m")
        grid = np.linspace(0, var["beta"].max() * 1.05, 50)
        axes[0].plot(grid, 5 * grid, color="grey", ls=":", lw=1, label="5 beta")
        axes[0].set_ylabel("Var over seeds of log M at init")
    if starts is not None:
        med = starts.groupby(["hidden", "beta", "depth"])["log2_steps"].median()
        scatter_by_depth(axes[1], (2**med).rename("steps").reset_index(), "steps")
        axes[1].set_yscale("log")
        axes[1].set_ylabel(f"steps to {START:.0%} train accuracy (median)")
    for ax in axes:
        ax.set_xlabel("beta = sum of 1 / width")
        if ax.has_data():
            ax.legend(fontsize=7, title="depth")


def scatter_by_depth(ax, frame, y):
    """``y`` against beta, one colour and marker per depth."""
    sns.scatterplot(
        frame, x="beta", y=y, hue="depth", style="depth", s=60, palette="viridis", ax=ax
    )
