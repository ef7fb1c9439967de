"""Glorot & Bengio 2010: sigmoid's top hidden layer saturates; normalized init flattens
the back-propagated gradients.

As in the paper: the "standard" init U[-1/sqrt(n), 1/sqrt(n)] with zero biases
(glorot_standard), minibatches of 10, activation statistics on a fixed set of 300 held-out
examples (the probe rows), and a window stated in updates: the saturation unfolds over tens
of thousands of updates, so a shorter run cannot decide it.
"""

import numpy as np
import seaborn as sns

from ..plotting import integer_axis, step_axis
from ..text import gnum
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

SATURATED_MEAN = 0.1  # sigmoid's top hidden layer "near 0": mean activation at most this
WINDOW = 20_000  # updates in which the top layer must get there (the paper's early epochs)
STANDARD, NORMALIZED = "glorot_standard", "xavier_uniform"


def top_layer_means(hidden):
    """Hidden layers' mean activation on the probe rows per step (median over seeds), the
    top layer's rows, and per cell the top layer's lowest mean within the WINDOW."""
    means = hidden.groupby(["cell", "steps", "depth", "layer", "step"], as_index=False)[
        ["probe_act_mean", "probe_saturated_frac"]
    ].median()
    top = means[means["layer"].eq(means["depth"] - 1)]
    early = top[top["step"] <= WINDOW]
    return means, top, early.groupby("cell")["probe_act_mean"].min()


def gradient_spread(start):
    """|log10(||dL/dz_1|| / ||dL/dz_top hidden||)| at init, median over seeds, one column per
    scheme: 0 when the back-propagated gradient is as large at the input as at the top."""
    by_run = start.set_index(["cell", "seed"])
    first = by_run.loc[by_run["layer"].eq(1), "grad_z_norm"]
    top = by_run.loc[by_run["layer"].eq(by_run["depth"] - 1), "grad_z_norm"]
    keys = by_run.groupby(level=["cell", "seed"])[["dataset", "depth", "width", "scheme"]].first()
    spread = keys.assign(spread=np.abs(np.log10(first / top)))
    spread = spread.groupby(["dataset", "depth", "width", "scheme"])["spread"].median()
    return spread.unstack("scheme")


@published_claim(
    "glorot",
    "Glorot & Bengio: sigmoid's top layer saturates; normalized init flattens gradients",
    "With sigmoid and the standard init U(+-1/sqrt(n)), the top hidden layer is driven to 0, its "
    "saturated value, early in training (within the first epochs of tens of thousands of "
    "updates at batch 10). With tanh, the normalized (Xavier) init keeps the "
    "back-propagated gradients flatter across layers at init than the standard init does.",
    "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural "
    "networks' (figures 2 and 7).",
    ["glorot"],
)
def check_glorot(claim, results):
    layers = results.rows("layers", "glorot")
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
    flatter = bool((spread[NORMALIZED] < spread[STANDARD]).all())
    if bool((lowest <= SATURATED_MEAN).all()):
        saturates, part_a = (
            True,
            f"the top layer reached <= {SATURATED_MEAN} within {WINDOW} updates",
        )
    elif steps < WINDOW:
        saturates, part_a = (
            None,
            (
                f"the top layer had not reached {SATURATED_MEAN} after {steps} updates, short of "
                f"the {WINDOW} the claim is judged on: a run of {WINDOW} updates decides"
            ),
        )
    else:
        saturates, part_a = (
            False,
            f"the top layer stayed above {SATURATED_MEAN} for {WINDOW} updates",
        )
    if saturates is False or not flatter:
        verdict = NOT_REPRODUCED
    elif saturates is None:
        verdict = INCONCLUSIVE
    else:
        verdict = REPRODUCED
    measured = []
    for cell, g in top.groupby("cell"):
        first, last = g.iloc[0], g.iloc[-1]
        measured.append(
            (
                f"sigmoid, {STANDARD}, depth {int(first.depth)}: top hidden layer's mean "
                f"activation on the probe rows at init / lowest in {WINDOW} updates / at the end",
                f"{gnum(first.probe_act_mean, 3)} / {gnum(lowest[cell], 3)} / "
                f"{gnum(last.probe_act_mean, 3)} (largest saturated fraction "
                f"{gnum(g['probe_saturated_frac'].max(), 3)})",
            )
        )
    for (dataset, depth, _), row in spread.iterrows():
        measured.append(
            (
                f"tanh, depth {depth}, {dataset}: |log10 ||dL/dz_1|| / ||dL/dz_top hidden|| | at "
                f"init, {STANDARD} vs {NORMALIZED}",
                f"{gnum(row[STANDARD], 3)} vs {gnum(row[NORMALIZED], 3)}",
            )
        )
    rule = (
        f"Reproduced if (a) for sigmoid with {STANDARD} the top hidden layer's mean activation "
        f"on the fixed probe rows (median over seeds) falls to <= {SATURATED_MEAN} at some "
        f"logged step within the first {WINDOW} updates (it starts near 0.5), and (b) for tanh "
        f"the spread |log10(||dL/dz_1|| / ||dL/dz_top hidden||)| at init (median over seeds) "
        f"is smaller with {NORMALIZED} than with {STANDARD}. Not reproduced if either fails; "
        f"inconclusive if (a) is not reached in a run shorter than {WINDOW} updates. "
        f"Here: {part_a}."
    )

    def plot(fig, axes):
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

    figure = results.draw(claim, plot, ncols=2, size=(10.5, 3.8))
    caption = (
        f"Left: mean activation of each sigmoid hidden layer on the probe rows during training "
        f"with the standard init (shaded: the first {WINDOW} updates; dotted: "
        f"{SATURATED_MEAN}); the top layer's lowest value in the window is "
        f"{gnum(lowest.min(), 3)}. Right: tanh's back-propagated gradient norm per hidden layer "
        f"at init; layer-1-to-top spread (log10) {gnum(spread[STANDARD].median(), 3)} with "
        f"{STANDARD} vs {gnum(spread[NORMALIZED].median(), 3)} with {NORMALIZED}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
