"""Glorot & Bengio 2010: sigmoid's top hidden layer saturates; normalized init flattens
the back-propagated gradients.

As in the paper: the "standard" init U[-1/sqrt(n), 1/sqrt(n)] with zero biases
(glorot_standard), minibatches of 10, activation statistics on a fixed set of 300 held-out
examples (the probe rows), and a window stated in updates: the saturation unfolds over tens
of thousands of updates, so a shorter run cannot decide it.
"""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import HOLDS, Effect, paired
from ..outcomes import gradient_ratio_at_init
from ..plotting import integer_axis, step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

SATURATED_MEAN = 0.1  # sigmoid's top hidden layer "near 0": mean activation at most this
WINDOW = 20_000  # updates in which the top layer must get there (the paper's early epochs)
STANDARD, NORMALIZED = "glorot_standard", "xavier_uniform"


def top_layer_means(hidden):
    """Hidden layers' mean activation on the probe rows per step (median over seeds), the
    top layer's rows, and per (cell, seed) the top layer's lowest mean within the WINDOW."""
    means = hidden.groupby(["cell", "steps", "depth", "layer", "step"], as_index=False)[
        ["probe_act_mean", "probe_saturated_frac"]
    ].median()
    top = means[means["layer"].eq(means["depth"] - 1)]
    runs = hidden[hidden["layer"].eq(hidden["depth"] - 1) & (hidden["step"] <= WINDOW)]
    return means, top, runs.groupby(["cell", "seed"])["probe_act_mean"].min()


def gradient_spread(start):
    """Per run at init: |log10(||dL/dz_1|| / ||dL/dz_top hidden||)|, 0 when the
    back-propagated gradient is as large at the input as at the top hidden layer."""
    ratio = gradient_ratio_at_init(start, top="hidden")
    first = start.assign(spread=np.abs(np.log10(ratio)))[start["layer"].eq(1)]
    return first[["dataset", "depth", "width", "scheme", "seed", "spread"]]


@published_claim(
    "glorot",
    "Glorot & Bengio: sigmoid's top layer saturates; normalized init flattens gradients",
    "With sigmoid and the standard init U(+-1/sqrt(n)), the top hidden layer is driven to 0, its "
    "saturated value, early in training (within the first epochs of tens of thousands of "
    "updates at batch 10). With tanh, the normalized (Xavier) init keeps the "
    "back-propagated gradients flatter across layers at init than the standard init does.",
    "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural "
    "networks' (figures 2 and 7).",
    ["glorot", "glorot_tanh"],  # glorot_tanh: tanh at init alone, where sigmoid's run is long
    partial=True,
)
def check_glorot(results):
    layers = results.rows("layers", "glorot", "glorot_tanh")
    hidden = layers[layers["layer"] < layers["depth"]]
    sigmoid = hidden[hidden["activation"].eq("sigmoid") & hidden["scheme"].eq(STANDARD)]
    tanh = hidden[hidden["activation"].eq("tanh") & hidden["scheme"].isin([STANDARD, NORMALIZED])]
    if sigmoid.empty or tanh["scheme"].nunique() < 2:
        raise NotTestable(
            f"the glorot study lacks sigmoid with {STANDARD}, or tanh with both {STANDARD} "
            f"and {NORMALIZED}"
        )
    if sigmoid["probe_act_mean"].isna().all():
        raise NotTestable("the glorot study logged no probe statistics (set probe: test, 300)")
    means, top, lowest = top_layer_means(sigmoid)
    steps = int(top["steps"].min())
    start = tanh[tanh["step"].eq(0)]
    spread = gradient_spread(start)
    effects = [
        Effect(
            f"sigmoid, {STANDARD}: top hidden layer's lowest mean activation within {WINDOW} "
            "updates",
            tuple(lowest),
            SATURATED_MEAN,
            False,
        )
    ] + [
        Effect(
            f"tanh, depth {depth}, width {width}, {dataset}: gradient spread at init, "
            f"{STANDARD} minus {NORMALIZED}",
            tuple(paired(g, "scheme", "spread", STANDARD, NORMALIZED)),
            0.0,
            True,
        )
        for (dataset, depth, width), g in spread.groupby(["dataset", "depth", "width"])
    ]
    saturates = effects[0].outcome
    spread = spread.groupby(["dataset", "depth", "width", "scheme"])["spread"].median()
    spread = spread.unstack("scheme")
    short = steps < WINDOW and saturates != HOLDS
    caption = (
        f"Left: mean activation of each sigmoid hidden layer on the probe rows during training "
        f"with the standard init (shaded: the first {WINDOW} updates; dotted: "
        f"{SATURATED_MEAN}); the top layer's lowest value in the window is "
        f"{gnum(lowest.min(), 3)}. Right: tanh's back-propagated gradient norm per hidden layer "
        f"at init; layer-1-to-top spread (log10) {gnum(spread[STANDARD].median(), 3)} with "
        f"{STANDARD} vs {gnum(spread[NORMALIZED].median(), 3)} with {NORMALIZED}."
    )
    return Evidence(
        effects,
        glorot_rows(top, lowest, spread),
        method=(
            f"Per seed: for sigmoid with {STANDARD}, the top hidden layer's lowest mean "
            f"activation on the fixed probe rows at a logged step within the first {WINDOW} "
            f"updates (it starts near 0.5); for tanh, the spread |log10(||dL/dz_1|| / "
            f"||dL/dz_top hidden||)| at init with {STANDARD} minus with {NORMALIZED} (paired "
            f"seeds)."
        ),
        notes=f"A run shorter than {WINDOW} updates cannot decide the first effect.",
        inconclusive=(
            f"the top layer had not reached {SATURATED_MEAN} after {steps} updates, short of "
            f"the {WINDOW} the claim is judged on: a run of {WINDOW} updates decides"
            if short
            else ""
        ),
        figure=Figure(partial(plot, means, start, steps), caption, ncols=2, size=(10.5, 3.8)),
    )


def glorot_rows(top, lowest, spread):
    """The sigmoid top layer's mean activation over training, and tanh's gradient spreads."""
    rows = []
    for cell, g in top.groupby("cell"):
        first, last = g.iloc[0], g.iloc[-1]
        rows.append(
            (
                f"sigmoid, {STANDARD}, depth {int(first.depth)}: top hidden layer's mean "
                f"activation on the probe rows at init / lowest in {WINDOW} updates / at the end",
                f"{gnum(first.probe_act_mean, 3)} / {gnum(lowest[cell].median(), 3)} / "
                f"{gnum(last.probe_act_mean, 3)} (largest saturated fraction "
                f"{gnum(g['probe_saturated_frac'].max(), 3)})",
            )
        )
    for (dataset, depth, _), row in spread.iterrows():
        rows.append(
            (
                f"tanh, depth {depth}, {dataset}: |log10 ||dL/dz_1|| / ||dL/dz_top hidden|| | at "
                f"init, {STANDARD} vs {NORMALIZED}",
                f"{gnum(row[STANDARD], 3)} vs {gnum(row[NORMALIZED], 3)}",
            )
        )
    return rows


def plot(means, start, steps, fig, axes):
    """Left: sigmoid's hidden layers' mean activation in training; right: tanh's gradients."""
    sig_line = means.groupby(["layer", "step"], as_index=False)["probe_act_mean"].median()
    grads = start.groupby(["scheme", "layer"], as_index=False)["grad_z_norm"].median()
    sns.lineplot(
        sig_line,
        x="step",
        y="probe_act_mean",
        hue="layer",
        palette="viridis",
        ax=axes[0],
        legend="full",
    )
    axes[0].axhline(SATURATED_MEAN, color="grey", ls=":", lw=1)
    axes[0].axvspan(0, min(WINDOW, steps), color="grey", alpha=0.08)
    step_axis(axes[0])
    axes[0].set_ylabel("mean activation (median over seeds)")
    axes[0].set_title(f"sigmoid, {STANDARD}: hidden layers")
    axes[0].legend(title="hidden layer", loc="lower left", ncols=2)
    sns.lineplot(grads, x="layer", y="grad_z_norm", hue="scheme", marker="o", ax=axes[1])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("||dL/dz_l|| at init (median over seeds)")
    axes[1].set_title("tanh: back-propagated gradient per hidden layer")
    integer_axis(axes[1])
    axes[1].legend(title="init", loc="lower right")
