"""The seed: Leaky ReLU's small non-zero gradient overcomes vanishing gradients entirely.

The setting is Lu, Shin, Su & Karniadakis 2019 ("Dying ReLU and initialization"): deep,
narrow He-initialised ReLU nets are born dead, some layer inactive on every input, with a
probability that grows with depth, and then no gradient reaches the layers below it. The
comparison is at init, where it has no learning-rate edge and no late divergence to flip
it: the same weights (one draw per seed) with ReLU and with Leaky ReLU (alpha 0.01), on one
batch of training rows. A pilot at width 4 and 8 (100 nets each, seeds kept apart from the
deciding ones) fixed the width, 4, and the depth, 20, where half the ReLU nets are born
dead; the rule was fixed on it before the sized runs.

The sentence makes two claims, one effect each, one value per seed:
- a non-zero gradient: the net's first-layer gradient is exactly zero (born dead) with ReLU
  and not with Leaky ReLU, ReLU's indicator minus Leaky's above NONZERO;
- "overcomes vanishing gradients entirely": Leaky's log10 ||dL/dz_1|| / ||dL/dz_L|| at
  init stays above the line below which a gradient has vanished (a tenth,
  outcomes.VANISHED_DECADES, shared with relu_vanishing).
Each dead unit on the way down passes alpha = 0.01 of the gradient, so the second can fail
where the first holds: Leaky then avoids the zero gradient but not the vanishing one.
"""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import Effect
from ..outcomes import VANISHED_DECADES, first_layer_decades
from ..plotting import CI95
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

STUDY = "leaky_relu"
DEPTH = 20  # weight layers of the deciding nets (width as the study sets it)
NONZERO = 0.2  # born-dead share, ReLU minus Leaky, above this
GRADIENT_COLUMNS = ("cell", "seed", "step", "layer", "depth", "grad_z_norm")


@published_claim(
    "leaky_relu",
    "Leaky ReLU keeps a non-zero gradient where ReLU nets are born dead; does it stop vanishing?",
    f"In deep, narrow He-initialised nets (depth {DEPTH}) whose ReLU version is born dead (no "
    f"gradient reaches the first layer), Leaky ReLU's slope alpha = 0.01 keeps the gradient "
    f"non-zero, and keeps it from vanishing (above a tenth of the output layer's).",
    "The seed (parameter-initialization.txt); Maas, Hannun & Ng 2013; Lu, Shin, Su & "
    "Karniadakis 2019, 'Dying ReLU and initialization'.",
    [STUDY],
    quote="Leaky ReLU overcomes vanishing gradients entirely by supplying a small, non-zero "
    "gradient, α value (usually 0.01) for z values ≤ 0 .",
    seed=True,
)
def check_leaky_relu(results):
    runs = results.rows("runs", STUDY)[["cell", "seed", "activation", "depth", "width"]]
    layers = results.rows("layers", STUDY, columns=GRADIENT_COLUMNS)
    per_run = first_layer_decades(layers).merge(runs, on=["cell", "seed"])
    deep = per_run[per_run["depth"].eq(DEPTH)]
    table = deep.pivot_table(index="seed", columns="activation", values="decades")
    if not {"relu", "leaky_relu"} <= set(table.columns):
        raise NotTestable(f"the leaky_relu study has no ReLU and Leaky ReLU nets of depth {DEPTH}")
    table = table[["relu", "leaky_relu"]].dropna(how="all")
    dead = np.isneginf(table).astype(float).where(table.notna())  # no gradient reached z_1
    effects = [
        Effect(
            f"depth {DEPTH}: born dead (first-layer gradient exactly 0), ReLU minus Leaky",
            tuple(dead["relu"] - dead["leaky_relu"]),  # a seed without both: not measured
            NONZERO,
            True,
        ),
        Effect(
            f"depth {DEPTH}: Leaky ReLU's log10 ||dL/dz_1|| / ||dL/dz_L|| at init",
            tuple(table["leaky_relu"]),
            VANISHED_DECADES,
            True,
        ),
    ]
    per_run = per_run.assign(born_dead=np.isneginf(per_run["decades"]))
    shares = per_run.groupby(["activation", "depth"])["born_dead"].mean()
    medians = per_run.groupby(["activation", "depth"])["decades"].median()
    rows = [
        (
            f"{a}, depth {d}: nets born dead; median log10 ratio",
            f"{shares[(a, d)]:.0%}; {gnum(medians[(a, d)], 3)}",
        )
        for a, d in shares.index
    ]
    caption = (
        "Left: share of nets born dead (no gradient at the first layer) by depth. Right: log10 "
        "of the first layer's gradient over the output layer's at init, nets not born dead "
        "(dotted: a tenth, below which the gradient has vanished)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Per seed, one He-initialised net of depth {DEPTH} with ReLU and with Leaky ReLU, "
            f"at init on one batch of training rows: whether the first layer's gradient is "
            f"exactly zero, and Leaky's log10 ||dL/dz_1|| / ||dL/dz_L||."
        ),
        notes="Both effects are measured at init, so no divergence can drop or flip a run.",
        figure=Figure(partial(plot, per_run), caption, ncols=2, size=(10.5, 3.8)),
    )


def plot(per_run, fig, axes):
    sns.pointplot(
        per_run, x="depth", y="born_dead", hue="activation", ax=axes[0], dodge=0.2, **CI95
    )
    axes[0].set_ylabel("share of nets born dead")
    alive = per_run[np.isfinite(per_run["decades"])]
    sns.stripplot(alive, x="depth", y="decades", hue="activation", dodge=True, ax=axes[1])
    axes[1].axhline(VANISHED_DECADES, color="grey", ls=":", lw=1)
    axes[1].set_ylabel("log10 ||dL/dz_1|| / ||dL/dz_L|| at init")
