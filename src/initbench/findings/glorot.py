"""4. Glorot & Bengio 2010: the published claim, its thresholds and its check."""

import numpy as np
import seaborn as sns

from ..plotting import integer_axis, step_axis
from ..text import gnum
from .base import NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

SATURATED_MEAN = 0.1  # sigmoid's top hidden layer "near 0": mean activation at most this
EARLY = 0.5  # "early in training": within this fraction of the steps


def top_layer_means(hidden):
    """Hidden layers' mean activation per step (median over seeds), the top layer's rows, and
    per cell the top layer's lowest mean within the first EARLY of training."""
    means = hidden.groupby(["cell", "steps", "depth", "layer", "step"], as_index=False)[
        ["act_mean", "saturated_frac"]
    ].median()
    top = means[means["layer"].eq(means["depth"] - 1)]
    early = top[top["step"] <= EARLY * top["steps"]]
    return means, top, early.groupby("cell")["act_mean"].min()


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
    "saturated value, early in training. With tanh, the normalized (Xavier) init keeps the "
    "back-propagated gradients flatter across layers at init than the standard init does.",
    "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural "
    "networks' (figures 2 and 7).",
    ["glorot"],
)
def check_glorot(claim, results):
    layers = results.rows("layers", "glorot")
    hidden = layers[layers["layer"] < layers["depth"]]
    sigmoid = hidden[hidden["activation"].eq("sigmoid") & hidden["scheme"].eq("torch_default")]
    tanh = hidden[
        hidden["activation"].eq("tanh") & hidden["scheme"].isin(["torch_default", "xavier_uniform"])
    ]
    if sigmoid.empty or tanh["scheme"].nunique() < 2:
        raise NotTestable(
            "the glorot study lacks sigmoid with torch_default, or tanh with both "
            "torch_default and xavier_uniform"
        )
    means, top, lowest = top_layer_means(sigmoid)
    saturates = bool((lowest <= SATURATED_MEAN).all())
    start = tanh[tanh["step"].eq(0)]
    spread = gradient_spread(start)
    flatter = bool((spread["xavier_uniform"] < spread["torch_default"]).all())
    verdict = REPRODUCED if saturates and flatter else NOT_REPRODUCED
    measured = []
    for cell, g in top.groupby("cell"):
        first, last = g.iloc[0], g.iloc[-1]
        measured.append(
            (
                f"sigmoid, torch_default, depth {int(first.depth)}: top hidden layer's mean "
                f"activation at init / lowest in the first {EARLY:.0%} / at the end",
                f"{gnum(first.act_mean, 3)} / {gnum(lowest[cell], 3)} / {gnum(last.act_mean, 3)} "
                f"(largest saturated fraction {gnum(g['saturated_frac'].max(), 3)})",
            )
        )
    for (dataset, depth, _), row in spread.iterrows():
        measured.append(
            (
                f"tanh, depth {depth}, {dataset}: |log10 ||dL/dz_1|| / ||dL/dz_top hidden|| | at "
                f"init, torch_default vs xavier_uniform",
                f"{gnum(row['torch_default'], 3)} vs {gnum(row['xavier_uniform'], 3)}",
            )
        )
    rule = (
        f"Reproduced if (a) for sigmoid with torch_default the top hidden layer's mean activation "
        f"(median over seeds) falls to <= {SATURATED_MEAN} at some logged step in the first "
        f"{EARLY:.0%} of training (it starts near 0.5), and (b) for tanh the spread "
        f"|log10(||dL/dz_1|| / ||dL/dz_top hidden||)| at init (median over seeds) is smaller "
        f"with xavier_uniform than with torch_default. Not reproduced if either fails."
    )

    def plot(fig, axes):
        sig_line = means.groupby(["layer", "step"], as_index=False)["act_mean"].median()
        grads = start.groupby(["scheme", "layer"], as_index=False)["grad_z_norm"].median()
        sns.lineplot(
            sig_line,
            x="step",
            y="act_mean",
            hue="layer",
            palette="viridis",
            ax=axes[0],
            legend="full",
        )
        axes[0].axhline(SATURATED_MEAN, color="grey", ls=":", lw=1)
        axes[0].axvspan(0, EARLY * int(top["steps"].max()), color="grey", alpha=0.08)
        step_axis(axes[0])
        axes[0].set_ylabel("mean activation (median over seeds)")
        axes[0].set_title("sigmoid, torch_default: hidden layers")
        axes[0].legend(title="hidden layer", loc="lower left", ncols=2)
        sns.lineplot(grads, x="layer", y="grad_z_norm", hue="scheme", marker="o", ax=axes[1])
        axes[1].set_yscale("log")
        axes[1].set_ylabel("||dL/dz_l|| at init (median over seeds)")
        axes[1].set_title("tanh: back-propagated gradient per hidden layer")
        integer_axis(axes[1])
        axes[1].legend(title="init", loc="lower right")

    figure = results.draw(claim, plot, ncols=2, size=(10.5, 3.8))
    caption = (
        f"Left: mean activation of each sigmoid hidden layer during training with the standard "
        f"init (shaded: the first {EARLY:.0%} of training; dotted: {SATURATED_MEAN}); the top "
        f"layer's lowest early value is {gnum(lowest.min(), 3)}. Right: tanh's back-propagated "
        f"gradient norm per hidden layer at init; layer-1-to-top spread (log10) "
        f"{gnum(spread['torch_default'].median(), 3)} with torch_default vs "
        f"{gnum(spread['xavier_uniform'].median(), 3)} with xavier_uniform."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
