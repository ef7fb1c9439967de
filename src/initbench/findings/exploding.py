"""The seed: large weights make gradients explode; the net does not learn, or overflows to NaN.

What the sentence's setting does was worked out before the rule was fixed. Sigmoid with
large zero-mean weights (randn x 10, the course's "large random" init) saturates most
units (about 90% at width 32), yet mean-field theory's chi1 = sigma_w^2 E[phi'(h)^2] is
5.4 there (sigma_w^2 = 32 x 100; E[phi'^2] ~ 1/(6 sqrt(2 pi q*))): the few unsaturated
units carry a gradient that grows from layer to layer, and a pilot at init measured the
first layer's gradient 10^2-10^3 times the output layer's at depth 10. Read literally,
"large and > 0" (every weight positive, |randn| x 10) instead saturates every sigmoid unit
at 1, and the gradient vanishes (exactly 0 at depth 10 in the pilot): so the claim is
tested on randn x 10, the reading under which it can hold, and the literal reading is shown
beside it. Sigmoid's output is bounded, so overflow and NaN are tested where the seed's
last sentence puts no activation: ReLU with the same weights, whose forward signal grows
by about 40x a layer.

Three effects, one value per seed (runs paired by seed):
- explodes: log10 ||dL/dz_1|| / ||dL/dz_L|| at init, sigmoid randn x 10, depth 10;
- does not learn: sigmoid randn x 10's best final train accuracy over the lr grid minus
  Xavier's (the sigmoid nets' standard init), at depth 5, where Xavier trains; a run that
  diverged counts at chance accuracy (its majority-class rate), never dropped;
- overflows: ReLU randn x 10 at depth 10 and the grid's smallest lr (so the step size is
  not the cause): 1 if the run ended in inf/NaN, else 0.
The depth-10 nets (study exploding_deep) train 20 steps at the smallest lr only: their
gradient is read at init, and ReLU's overflow comes at step 2.
"""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import Effect
from ..outcomes import accuracy_counting_divergence, first_layer_decades
from ..plotting import CI95
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

STUDIES = ("exploding", "exploding_deep")  # depth 5 trained over an lr grid; depth 10
LARGE, POSITIVE, STANDARD = "normal_large", "positive_large", "xavier_normal"
INIT_DEPTH, TRAIN_DEPTH = 10, 5  # the depth the gradient is read at; the depth trained
EXPLODED = 1.0  # decades: the first layer's gradient at least 10x the output layer's
LEARNS_LESS = -0.2  # best final train accuracy, randn x 10 minus Xavier, below this
OVERFLOWS = 0.5  # share of ReLU randn x 10 runs ending in inf/NaN, above this
GRADIENT_COLUMNS = ("cell", "seed", "step", "layer", "depth", "grad_z_norm")


@published_claim(
    "exploding",
    "Large weights: gradients explode, the net does not learn, ReLU overflows to NaN",
    f"With large weights (randn x 10) the back-propagated gradient grows towards the input "
    f"(sigmoid, depth {INIT_DEPTH}: the first layer's over ten times the output layer's), the "
    f"sigmoid net does not learn what Xavier's learns (depth {TRAIN_DEPTH}), and with ReLU "
    f"the run overflows to inf/NaN.",
    "The seed (parameter-initialization.txt); the course's large random init; Glorot & "
    "Bengio 2010; Schoenholz et al. 2017 (chi1 > 1: the chaotic phase).",
    list(STUDIES),
    quote="When weights are large and >0 and small activation functions like sigmoid are "
    "used, the change in cost $J(\\Theta)$ will be quite large and result in $exploding\\ "
    "gradients$ during back propagation. Exploding gradients may result in oscillating "
    "around the minima or even overshooting the optimum again and again causing the model "
    "to not learn. Exploding gradients can get so large they can also cause overflows and "
    "result in NaN.",
    seed=True,
)
def check_exploding(results):
    runs = results.rows("runs", *STUDIES)
    layers = results.rows("layers", *STUDIES, columns=GRADIENT_COLUMNS)
    need = {("sigmoid", LARGE), ("sigmoid", STANDARD), ("relu", LARGE)}
    have = set(zip(runs["activation"], runs["init"]))
    if missing := need - have:
        listed = ", ".join(f"{a} {i}" for a, i in sorted(missing))
        raise NotTestable(f"the exploding study has no cells of {listed}")
    decades = first_layer_decades(layers).merge(
        runs[["cell", "seed", "activation", "init", "depth", "lr"]], on=["cell", "seed"]
    )
    at_init = decades[decades["depth"].eq(INIT_DEPTH)]
    # the init does not depend on the lr: one value per seed (the cells agree)
    grows = at_init[at_init["activation"].eq("sigmoid") & at_init["init"].eq(LARGE)]
    runs = runs.assign(accuracy=accuracy_counting_divergence(runs))
    trained = runs[runs["depth"].eq(TRAIN_DEPTH) & runs["activation"].eq("sigmoid")]
    best = trained.groupby(["init", "seed"])["accuracy"].max().unstack("init")
    if LARGE not in best or STANDARD not in best:
        raise NotTestable(f"the exploding study has no sigmoid cells at depth {TRAIN_DEPTH}")
    relu = runs[runs["activation"].eq("relu") & runs["init"].eq(LARGE)]
    relu = relu[relu["depth"].eq(INIT_DEPTH) & relu["lr"].eq(relu["lr"].min())]
    effects = [
        Effect(
            f"sigmoid, randn x 10, depth {INIT_DEPTH}: log10 ||dL/dz_1|| / ||dL/dz_L|| at init",
            tuple(grows.groupby("seed")["decades"].mean()),
            EXPLODED,
            True,
        ),
        Effect(
            f"sigmoid, depth {TRAIN_DEPTH}: best final train accuracy over the lrs, randn x 10 "
            f"minus Xavier (diverged: chance)",
            tuple((best[LARGE] - best[STANDARD]).dropna()),
            LEARNS_LESS,
            False,
        ),
        Effect(
            f"ReLU, randn x 10, depth {INIT_DEPTH}, lr {gnum(relu['lr'].min(), 3)}: run ended "
            f"in inf/NaN (1) or not (0)",
            tuple(relu.groupby("seed")["status"].agg(lambda s: float(s.eq("diverged").any()))),
            OVERFLOWS,
            True,
        ),
    ]
    diverged = runs.groupby(["activation", "init"])["status"].agg(
        lambda s: f"{int(s.eq('diverged').sum())} of {len(s)}"
    )
    rows = [
        (
            f"{a}, {i}, depth {d}: median log10 ||dL/dz_1|| / ||dL/dz_L|| at init",
            gnum(g["decades"].median(), 3),
        )
        for (a, i, d), g in decades.groupby(["activation", "init", "depth"])
    ] + [(f"{a}, {i}: runs that ended in inf/NaN", text) for (a, i), text in diverged.items()]
    if POSITIVE not in set(runs["init"]):
        rows.append(("every weight > 0 (|randn| x 10)", "not run"))
    unpaired = int(best[[LARGE, STANDARD]].isna().any(axis=1).sum())
    caption = (
        f"Left: log10 of the gradient's norm at the first hidden layer over the output "
        f"layer's at init, by init and activation, depth {INIT_DEPTH} (dotted: 10x). Right: "
        f"final train accuracy of the depth-{TRAIN_DEPTH} sigmoid nets per learning rate "
        f"(diverged runs at chance)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            "Per seed: the gradient's growth at init (sigmoid, randn x 10); the best final "
            "train accuracy over the lr grid, randn x 10 minus Xavier (a diverged run counts "
            "at chance, never dropped); whether ReLU with randn x 10 overflowed at the "
            "smallest lr."
        ),
        notes=(
            "'Large and > 0' is read as large in scale (randn x 10); with every weight "
            "positive (|randn| x 10, shown in the rows) sigmoid saturates at 1 and the "
            "gradient vanishes instead. Oscillation is not measured apart from its outcome, "
            "the accuracy."
            + (f" {unpaired} seed(s) lack one of the two sigmoid arms." if unpaired else "")
        ),
        figure=Figure(partial(plot, at_init, trained), caption, ncols=2, size=(10.5, 3.8)),
    )


def plot(at_init, trained, fig, axes):
    shown = at_init.assign(decades=at_init["decades"].replace(-np.inf, np.nan))
    sns.stripplot(shown, x="init", y="decades", hue="activation", dodge=True, ax=axes[0])
    axes[0].axhline(EXPLODED, color="grey", ls=":", lw=1)
    axes[0].set_ylabel("log10 ||dL/dz_1|| / ||dL/dz_L|| at init")
    sns.pointplot(trained, x="lr", y="accuracy", hue="init", ax=axes[1], dodge=0.2, **CI95)
    axes[1].set_ylabel("final train accuracy (sigmoid)")
