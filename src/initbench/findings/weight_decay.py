"""AdamW's weight decay under muP: the timescale 1/(lr lambda) is what transfers.

What the paper claims (Wang & Aitchison 2024, "How to set AdamW's weight decay as you
scale model and dataset size", abstract and section 4): AdamW's weights are an
exponential moving average of recent updates with timescale tau_iter = 1/(eta lambda);
the optimal timescale, in epochs, is roughly constant as the model grows (between one
epoch and the run's length), so under muP, where the hidden layers' Adam lr falls as
1/width, the optimal decay grows with the width (lambda* proportional to width). Under
``weight_decay_scaling: layer_lr`` a muP hidden layer decays by lr (base/width) lambda a
step: the prediction is a slope of log2 lambda* on log2 width of +1. Under
``width_invariant`` (the mup package's MuAdamW) lr x decay is already free of the width:
the prediction is a slope of 0.

Counter-claims, and what would favour each:
- Fan et al. 2025 ("Robust layerwise scaling rules by proper weight decay tuning"): for
  AdamW's matrix parameters the decay should scale as sqrt(width) at a 1/width lr, so
  that eta lambda falls as width^-1/2: a slope of +1/2 under layer_lr (-1/2 under
  width_invariant). A slope whose interval lies below the prediction minus 1/4 favours it.
- Kosson et al. 2025 ("Weight decay may matter more than muP for learning rate transfer in
  practice"): the equilibrium relative update size sqrt(2 eta lambda) sets the update
  size late in training, so with independent decay (eta lambda fixed) the lr transfers
  whether or not muP's lr scaling holds. It predicts the same slope (+1) as Wang &
  Aitchison; what would favour it over muP is a best base lr that stays put only at the
  tuned decay, which this study does not sweep.

The rule, fixed before the sized runs. Per convention, width and seed, lambda* is the
vertex of the parabola through the lowest final test loss on the lambda grid and its two
neighbours (in log2 lambda; outcomes.lr_optimum), one on the grid's edge a bound. Per seed,
the least-squares slope of log2 lambda* on log2 width, with its lowest and highest values
where an optimum is a bound (a censored bound, never dropped). Reproduced when the slope's
interval lies within 1/4 of the prediction (NEAR): its excess over the prediction and its
shortfall below it both under 1/4.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..outcomes import lr_optimum
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim
from .depth_transfer import optimum_interval
from .mup import bound_effect

NEAR = 0.25  # the slope within 1/4 of the prediction: half-way to Fan et al.'s sqrt(width)
PREDICTED = {"layer_lr": 1.0, "width_invariant": 0.0}  # Wang & Aitchison's slope
STUDIES = ("weight_decay_mup",)
KEYS = ["weight_decay_scaling", "width", "seed"]


def decay_optima(runs):
    """Per (convention, width, seed): log2 lambda*, the best test loss, and the side."""
    ok = runs["status"].eq("completed") & np.isfinite(runs["final_test_loss"])
    runs = runs.assign(
        log2_wd=np.log2(runs["weight_decay"]), loss=runs["final_test_loss"].where(ok, np.inf)
    )
    rows = [
        (*key, *lr_optimum(g["log2_wd"].to_numpy(), g["loss"].to_numpy()))
        for key, g in runs.groupby(KEYS)
    ]
    return pd.DataFrame(rows, columns=[*KEYS, "log2_wd_opt", "best_loss", "side"])


def slope_bounds(table):
    """Per seed: the (lowest, highest) least-squares slope of log2 lambda* on log2 width
    allowed by each width's optimum or bound (at most the lowest lambda: side -1; at least
    the highest: side +1)."""
    out = {}
    for seed, g in table.groupby("seed"):
        x = np.log2(g["width"].to_numpy(float))
        w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
        y, side = g["log2_wd_opt"].to_numpy(), g["side"].to_numpy()
        lo = np.where(side > 0, np.inf, y)  # the optimum's possible range per width
        lo, hi = np.where(side < 0, -np.inf, y), lo
        with np.errstate(invalid="ignore"):
            lowest = np.sum(np.where(w > 0, w * lo, w * hi))
            highest = np.sum(np.where(w > 0, w * hi, w * lo))
        out[seed] = (lowest, highest)
    return out


def slope_effects(table, convention):
    """The slope within NEAR of the prediction, as two censored lower bounds each below
    NEAR (findings/mup.py's fall and rise): the slope's excess over the prediction (its
    lowest value minus the prediction) and its shortfall (the prediction minus its highest
    value). A bound can fail an effect, never hold it."""
    bounds = slope_bounds(table)
    lowest = np.array([b[0] for b in bounds.values()])
    highest = np.array([b[1] for b in bounds.values()])
    exact = lowest == highest
    predicted = PREDICTED[convention]
    label = (
        f"{convention}: {{}} of the slope of log2 lambda* on log2 width (prediction {predicted:g})"
    )
    return [
        bound_effect(
            label.format("excess over the prediction"), lowest - predicted, exact, NEAR, False
        ),
        bound_effect(
            label.format("shortfall below the prediction"), predicted - highest, exact, NEAR, False
        ),
    ]


@published_claim(
    "weight_decay_mup",
    "AdamW under muP: the decay timescale 1/(lr lambda) transfers across width",
    "Under muP with AdamW, the weight decay that minimises the loss keeps the timescale "
    "1/(lr x lambda) of the hidden layers fixed: with the decay coupled to each layer's lr, "
    "the best lambda grows in proportion to the width.",
    "Wang & Aitchison 2024, 'How to set AdamW's weight decay as you scale model and dataset "
    "size' (section 4); counter-claims: Fan et al. 2025, Kosson et al. 2025.",
    STUDIES,
    decided_by="paper",
    quote="Thus, if the optimal EMA timescale is constant, that implies that as the dataset "
    "size increases, the optimal weight decay should fall and as the model size increases, "
    "the optimal weight decay should increase (if we follow the muP recommendation for "
    "scaling the learning rate).",
)
def check_weight_decay(results):
    runs = results.rows("runs", *STUDIES)
    if runs["width"].nunique() < 2 or runs["weight_decay"].nunique() < 3:
        raise NotTestable("the decay study needs two or more widths and three or more decays")
    table = decay_optima(runs)
    effects = []
    for convention, g in table.groupby("weight_decay_scaling"):
        effects += slope_effects(g, convention)
    rows = []
    for (convention, width), g in table.groupby(["weight_decay_scaling", "width"]):
        mean, lo, hi = optimum_interval(g["log2_wd_opt"])
        edges = int(g["side"].ne(0).sum())
        edge = f", {edges} on the grid's edge (kept as bounds)" if edges else ""
        rows.append(
            (
                f"{convention}, width {width}: log2 lambda* (mean [95% interval])",
                f"{gnum(mean, 3)} [{gnum(lo, 3)}, {gnum(hi, 3)}]{edge}",
            )
        )
    diverged = int((~runs["status"].eq("completed")).sum())
    rows.append(
        ("Runs that did not complete (counted at infinite loss)", f"{diverged} of {len(runs)}")
    )
    lr = ", ".join(gnum(v, 3) for v in sorted(runs["lr"].unique()))
    method = (
        "Per convention (weight_decay_scaling), width and seed: the final test loss over the "
        "weight-decay grid (a diverged run counts as infinite); lambda* is the vertex of the "
        "parabola through the lowest loss and its two neighbours in log2 lambda, one on the "
        "grid's edge a bound. Per seed: the least-squares slope of log2 lambda* on log2 "
        "width, its lowest and highest values where an optimum is a bound (censored)."
    )
    notes = (
        f"Wang & Aitchison predict a slope of {PREDICTED['layer_lr']:g} under layer_lr "
        "(0 under width_invariant); Fan et al. 2025 predict 1/2 (-1/2): an interval wholly "
        "below the prediction minus 1/4 favours them. Kosson et al. 2025 predict the same "
        "slope as Wang & Aitchison and differ on why the lr transfers. Setting: a muP ReLU "
        f"MLP of 2 hidden layers on mnist1d, AdamW at base lr {lr}, judged on the test loss "
        "after a few epochs; the paper trains ResNets and LLMs to the end of a cosine "
        "schedule. Every parameter decays with the one lambda, so the input layer's and "
        "the biases' decay per step (lr lambda under Adam's muP) grows with lambda*."
    )
    curves = runs.assign(
        log2_wd=np.log2(runs["weight_decay"]),
        loss=runs["final_test_loss"].where(runs["status"].eq("completed")),
    )
    curves = curves.groupby(["weight_decay_scaling", "width", "log2_wd"], as_index=False)[
        "loss"
    ].median()
    caption = (
        "Left: final test loss (median over seeds) against log2 weight decay, one line per "
        "width. Right: log2 lambda* per width (mean and 95% interval over seeds) against "
        "Wang & Aitchison's slope (dashed) and Fan et al.'s (dotted), both through the "
        "narrowest width's mean."
    )
    figure = Figure(partial(plot, curves, table), caption, ncols=2, size=(10.0, 4.0))
    return Evidence(effects, rows, method=method, notes=notes, figure=figure)


def plot(curves, table, fig, axes):
    widths = sorted(table["width"].unique())
    palette = dict(zip(widths, sns.color_palette("viridis", len(widths))))
    for (convention, width), g in curves.groupby(["weight_decay_scaling", "width"]):
        axes[0].plot(
            g["log2_wd"],
            g["loss"],
            marker=".",
            color=palette[width],
            label=f"{convention}, {width}",
        )
    axes[0].set_xlabel("log2 weight decay lambda")
    axes[0].set_ylabel("final test loss (median)")
    axes[0].legend(fontsize=7)
    x = np.log2(widths)
    for convention, g in table.groupby("weight_decay_scaling"):
        agg = pd.DataFrame(
            [optimum_interval(v) for _, v in g.groupby("width")["log2_wd_opt"]],
            index=sorted(g["width"].unique()),
            columns=["mean", "lo", "hi"],
        )
        axes[1].errorbar(
            np.log2(agg.index),
            agg["mean"],
            yerr=[agg["mean"] - agg["lo"], agg["hi"] - agg["mean"]],
            marker="o",
            capsize=2,
            label=convention,
        )
        start = agg["mean"].iloc[0]
        slope = PREDICTED[convention]
        axes[1].plot(x, start + slope * (x - x[0]), ls="--", color="k", lw=0.8)
        axes[1].plot(x, start + (slope - 0.5) * (x - x[0]), ls=":", color="k", lw=0.8)
    axes[1].set_xlabel("log2 width")
    axes[1].set_ylabel("log2 lambda*")
    axes[1].legend(fontsize=7)
