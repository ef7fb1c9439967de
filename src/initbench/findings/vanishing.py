"""The seed: gradients vanish with sigmoid and tanh, and ReLU overcomes it.

The quantity is mean-field theory's, measured at init: how much of the back-propagated
gradient reaches the first hidden layer of a deep net, log10 ||dL/dz_1|| / ||dL/dz_L||
(L: the output layer), one value per seed (outcomes.first_layer_decades). "Vanished" is
below one tenth (outcomes.VANISHED_DECADES), the definition the leaky_relu claim shares.

A fair comparison gives each activation the init that gives it its best chance: its
critical init, where the mean field's chi1 = 1 (the gradient's expected norm neither
shrinks nor grows from layer to layer) at sigma_b^2 = 1e-5: sigmoid sigma_w^2 = 103
(q* = 45.6: most units saturated, and still chi1 = 1), tanh 1.04, ReLU 2 (He's). The
verdict turns on this arm. The second arm gives all three one init, Xavier's (the sigmoid
era's standard) and He's (the seed's sqrt(2/n)): shown beside it, not decided on, because
an init scaled for one activation says little about another's.

Mean-field theory predicts the critical arm's ratio near 1 for every activation (no
vanishing), and Xavier's to vanish for sigmoid (chi1 = 0.06) and ReLU (0.5) but hardly for
tanh (1.0); the rule was fixed before the sized runs on that prediction and a pilot at
width 32.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect
from ..outcomes import VANISHED_DECADES, first_layer_decades
from ..plotting import CI95
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

COMMON, CRITICAL, SIGMOID_CRITICAL = "vanishing", "vanishing_critical", "vanishing_sigmoid"
DEEP = 50  # "deep networks": the depth (weight layers) the effects are read at
ACTIVATIONS = ("sigmoid", "tanh", "relu")
GRADIENT_COLUMNS = ("cell", "seed", "step", "layer", "depth", "grad_z_norm")


def decades_per_run(results, studies, arm):
    """first_layer_decades of every run of ``studies``, with its cell's settings and arm."""
    runs = results.rows("runs", *studies)[["cell", "seed", "activation", "init", "depth"]]
    layers = results.rows("layers", *studies, columns=GRADIENT_COLUMNS)
    return first_layer_decades(layers).merge(runs, on=["cell", "seed"]).assign(arm=arm)


@published_claim(
    "relu_vanishing",
    "Sigmoid and tanh gradients vanish in deep nets; ReLU's do not",
    f"In a deep net ({DEEP} layers), the gradient that reaches the first layer vanishes "
    "(below a tenth of the output layer's) with sigmoid and tanh, and not with ReLU, each "
    "activation at the init that gives it its best chance.",
    "The seed (parameter-initialization.txt); Glorot & Bengio 2010; Schoenholz et al. 2017 "
    "(chi1, the critical init).",
    [COMMON, CRITICAL, SIGMOID_CRITICAL],
    partial=True,
    quote="However, you can run into the *problem of vanishing gradients* especially with "
    "*sigmoid* or *tanh* activation functions. This will prevent weights from changing their "
    "value. **ReLU overcomes the problem of vanishing gradients since the gradient is** 0 "
    "**for numbers** ≤ 0 **and** 1 **for positive numbers.**",
    seed=True,
)
def check_relu_vanishing(results):
    critical = [s for s in (SIGMOID_CRITICAL, CRITICAL) if results.has(s)]
    if not critical:
        raise NotTestable("neither critical-init study (vanishing_critical, vanishing_sigmoid) ran")
    best = decades_per_run(results, critical, "critical init")
    common = decades_per_run(results, [COMMON], "one init") if results.has(COMMON) else None
    deep = best[best["depth"].eq(DEEP)]
    missing = [a for a in ACTIVATIONS if not deep["activation"].eq(a).any()]
    if missing:
        raise NotTestable(
            f"the critical-init studies have no depth-{DEEP} cells of {', '.join(missing)}"
        )
    effects = []
    for activation in ACTIVATIONS:
        per_seed = deep[deep["activation"].eq(activation)].groupby("seed")["decades"].mean()
        relu = activation == "relu"
        effects.append(
            Effect(
                f"{activation} at its critical init, depth {DEEP}: log10 ||dL/dz_1|| / "
                f"||dL/dz_L|| at init",
                tuple(per_seed),
                VANISHED_DECADES,
                relu,  # ReLU's must stay above the line; sigmoid's and tanh's fall below it
            )
        )
    shown = pd.concat([best, common], ignore_index=True)
    shown = shown.assign(label=shown["arm"] + ": " + shown["init"])
    medians = shown.groupby(["label", "activation", "depth"])["decades"].median()
    rows = [
        (
            f"{label}, {activation}: median log10 ratio by depth",
            "; ".join(f"depth {d}: {gnum(v, 3)}" for d, v in g.droplevel([0, 1]).items()),
        )
        for (label, activation), g in medians.groupby(level=[0, 1])
    ]
    caption = (
        "log10 of the back-propagated gradient's norm at the first hidden layer over the "
        "output layer's, at init, against depth (median and 95% interval over seeds). Left: "
        "each activation at its critical init (chi1 = 1); right: one init for all. Dotted: "
        "the line below which the gradient has vanished (a tenth)."
    )
    panels = 1 + (common is not None)
    return Evidence(
        effects,
        rows,
        method=(
            f"Per seed, at init: log10 ||dL/dz_1|| / ||dL/dz_L|| of a depth-{DEEP} net (width "
            f"as the studies set it, on one batch of training rows); the verdict turns on the "
            f"critical-init arm (sigmoid sigma_w^2 103, tanh 1.04, ReLU 2, sigma_b^2 1e-5)."
        ),
        notes=(
            "The one-init arm (Xavier, He) is shown, not decided on. Only init is measured: "
            "how a gradient that reached the first layer moves its weights is the training "
            "claims' question (normal_small, he_xavier)."
        ),
        figure=Figure(
            partial(plot, shown), caption, ncols=panels, size=(5.2 * panels, 3.8), sharey=True
        ),
    )


def plot(shown, fig, axes):
    for ax, (arm, g) in zip(axes, shown.groupby("arm", sort=False)):
        finite = g[np.isfinite(g["decades"])]
        style = "init" if finite["init"].nunique() > 1 and arm != "critical init" else None
        sns.lineplot(
            finite,
            x="depth",
            y="decades",
            hue="activation",
            style=style,
            ax=ax,
            hue_order=list(ACTIVATIONS),
            marker="o",
            **CI95,
        )
        ax.axhline(VANISHED_DECADES, color="grey", ls=":", lw=1)
        ax.set_title(arm)
        ax.set_ylabel("log10 ||dL/dz_1|| / ||dL/dz_L|| at init")
