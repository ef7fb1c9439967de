"""The seed: zero or constant weights keep every hidden unit identical (no better than a line)."""

from functools import partial

import numpy as np
import seaborn as sns

from ..baselines import best_linear_accuracy
from ..effects import FAILS, HOLDS, Effect, decide
from ..outcomes import STALL_MARGIN, SYMMETRIC_INITS, median_curve, n_hidden
from ..plotting import legend_outside, step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

IDENTICAL_TOL = 1e-12  # symmetry (largest distance between two units) that counts as 0
NO_BETTER = 1e-12  # accuracy over the best linear boundary's that counts as none


@published_claim(
    "symmetry",
    "Zero and constant init leave the hidden units identical",
    "Zero, and constant, init leaves every hidden unit identical through training, so the "
    "network computes a function of one projection w.x and does no better than a single "
    "linear boundary.",
    "The seed (parameter-initialization.txt): the problem of symmetric weights; the course's "
    "remark that such a network is no more powerful than a one-unit-wide one.",
    ["symmetry"],
    quote="This basically makes you neural network no better than a linear model. This is "
    "also called the **problem of symmetric** weights.",
    seed=True,
)
def check_symmetry(results):
    runs = results.rows("runs", "symmetry")
    runs = runs.assign(linear=n_hidden(runs).eq(0), symmetric=runs["scheme"].isin(SYMMETRIC_INITS))
    nets = runs[~runs["linear"]]
    if not nets["symmetric"].any() or nets["symmetric"].all():
        raise NotTestable(
            "the symmetry study needs zeros/constant networks with hidden layers and a "
            "randomly initialised one to compare with"
        )
    ceilings = linear_ceilings(results, nets["dataset"].unique())
    layers = results.rows("layers", "symmetry")
    symmetric_cells = nets.loc[nets["symmetric"], "cell"]
    hidden = layers[layers["cell"].isin(symmetric_cells) & (layers["layer"] < layers["depth"])]
    nets = nets.assign(over_linear=nets["final_train_accuracy"] - nets["dataset"].map(ceilings))
    by_seed = nets.groupby(["symmetric", "seed"])["over_linear"].max()
    effects = [
        Effect(
            "zeros/constant: largest distance between two hidden units, any layer and step",
            tuple(hidden.groupby("seed")["symmetry"].max()),
            IDENTICAL_TOL,
            False,
            exact=True,
        ),
        Effect(
            "zeros/constant: largest final train accuracy minus the best linear boundary's",
            tuple(by_seed[True]),
            NO_BETTER,
            False,
            exact=True,
        ),
        Effect(
            "control, random init: largest final train accuracy over the best linear boundary's",
            tuple(by_seed[False]),
            STALL_MARGIN,
            True,
        ),
    ]
    largest = hidden["symmetry"].max()
    acc = nets.groupby(["dataset", "activation", "init", "hidden", "symmetric"], as_index=False)[
        "final_train_accuracy"
    ].median()
    rows = (
        [
            (
                "Largest distance between two hidden units (zeros/constant, any layer, any step)",
                gnum(largest, 3),
            )
        ]
        + [
            (
                f"{label}: best accuracy of any single linear boundary on the training rows",
                gnum(value, 4),
            )
            for label, value in ceilings.items()
        ]
        + [
            (
                f"{r.dataset}, {r.activation}, {r.init}, hidden {r.hidden}: median final train "
                "accuracy",
                gnum(r.final_train_accuracy, 3),
            )
            for r in acc.itertuples()
        ]
    )
    symmetric_acc = acc.loc[acc["symmetric"], "final_train_accuracy"]
    caption = (
        f"Train accuracy during training (median over seeds) of the zeros, constant and random "
        f"networks per activation, against the linear model. The zeros/constant networks' "
        f"units stayed identical (largest distance {gnum(largest, 3)}); their final accuracies "
        f"range {gnum(symmetric_acc.min(), 3)}-{gnum(symmetric_acc.max(), 3)}, against "
        f"{gnum(max(ceilings.values()), 3)} for the best single linear boundary (dotted)."
    )
    activations = sorted(nets["activation"].unique())
    curves = results.rows("curves", "symmetry")
    blind = decide(effects[:2]) == HOLDS and effects[2].outcome == FAILS
    return Evidence(
        effects,
        rows,
        method=(
            "With identical units a network computes a monotone function of one projection "
            "w.x, so its decision boundary is a half-plane: the fair comparator is the best "
            "accuracy any single linear boundary reaches on the same training rows (computed "
            "exactly). Per seed, over every zeros/constant network: the largest distance "
            "between two units' incoming weights and bias in any hidden layer at any logged "
            "step, and the largest final train accuracy over that comparator; and, the "
            "control, the best randomly initialised network's gain over it."
        ),
        notes=(
            "The first two are exact: identical units stay identical under any batch order, "
            "so one seed decides them; every seed is checked. If the control does not beat "
            "the comparator, the data cannot tell a half-plane from a learned boundary."
        ),
        inconclusive=(
            f"no randomly initialised network beats the best linear boundary by more than "
            f"{STALL_MARGIN}: the data cannot tell a half-plane from a learned boundary"
            if blind
            else ""
        ),
        figure=Figure(
            partial(plot, curves, ceilings, activations),
            caption,
            ncols=len(activations),
            size=(3.0 * len(activations) + 2.2, 3.4),
            sharey=True,
        ),
    )


def linear_ceilings(results, datasets):
    """{dataset: the best accuracy any single linear boundary reaches on its training rows}."""
    ceilings = {}
    for label in datasets:
        data = results.dataset(label)
        try:
            ceilings[label] = best_linear_accuracy(data["X_train"], data["y_train"])
        except ValueError as error:
            raise NotTestable(f"dataset {label}: no exact linear comparator ({error})") from None
    return ceilings


def plot(curves, ceilings, activations, fig, axes):
    """Train accuracy per activation: each init's median curve and the linear model's."""
    linear = n_hidden(curves).eq(0)
    curves = curves.assign(
        model=np.where(linear, "linear model (hidden [])", curves["init"] + " " + curves["hidden"])
    )
    for ax, act in zip(axes, activations):
        line = median_curve(
            curves[curves["activation"].eq(act) | linear], ["model"], "train_accuracy"
        )
        sns.lineplot(
            line,
            x="step",
            y="train_accuracy",
            hue="model",
            ax=ax,
            hue_order=sorted(line["model"].unique()),
        )
        for ceiling in ceilings.values():
            ax.axhline(ceiling, color="grey", ls=":", lw=1)
        ax.set_title(act)
        ax.set_ylabel("train accuracy (median over seeds)")
        step_axis(ax)
    legend_outside(fig, axes)
