"""1. Symmetric weights: the published claim, its thresholds and its check."""

import numpy as np
import seaborn as sns

from ..outcomes import STALL_MARGIN, median_curve, n_hidden  # fmt: skip
from ..plotting import legend_outside, step_axis
from ..text import gnum
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

IDENTICAL_TOL = 1e-12  # symmetry (largest distance between two units) that counts as 0


@published_claim(
    "symmetry",
    "Zero and constant init leave the hidden units identical",
    "Zero, and constant, init leaves every hidden unit identical through training, so the "
    "network does no better than a linear model.",
    "The seed (parameter-initialization.txt): the problem of symmetric weights.",
    ["symmetry"],
)
def check_symmetry(claim, results):
    runs, layers = results.rows("runs", "symmetry"), results.rows("layers", "symmetry")
    runs = runs.assign(
        linear=n_hidden(runs).eq(0), symmetric=runs["scheme"].isin(["zeros", "constant"])
    )
    linear, nets = runs[runs["linear"]], runs[~runs["linear"]]
    if linear.empty or not nets["symmetric"].any():
        raise NotTestable(
            "the symmetry study has no linear model (hidden []) or no zeros/"
            "constant network with hidden layers"
        )
    best_linear = linear["final_train_accuracy"].max()
    symmetric_cells = nets.loc[nets["symmetric"], "cell"]
    hidden = layers[layers["cell"].isin(symmetric_cells) & (layers["layer"] < layers["depth"])]
    largest = hidden["symmetry"].max()
    acc = nets.groupby(["activation", "init", "hidden", "symmetric"], as_index=False)[
        "final_train_accuracy"
    ].median()
    limit = best_linear + STALL_MARGIN
    identical = bool(largest <= IDENTICAL_TOL)
    no_better = bool((acc.loc[acc["symmetric"], "final_train_accuracy"] <= limit).all())
    control = bool((acc.loc[~acc["symmetric"], "final_train_accuracy"] > limit).any())
    if not (identical and no_better):
        verdict = NOT_REPRODUCED
    elif control:
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE
    measured = [
        (
            "Largest distance between two hidden units (zeros/constant, any layer, any step)",
            gnum(largest, 3),
        ),
        ("Best linear model (hidden []) final train accuracy", gnum(best_linear, 3)),
    ] + [
        (
            f"{r.activation}, {r.init}, hidden {r.hidden}: median final train accuracy",
            gnum(r.final_train_accuracy, 3),
        )
        for r in acc.itertuples()
    ]
    rule = (
        f"Reproduced if (a) every hidden layer of every zeros/constant network keeps symmetry "
        f"(largest distance between two units' incoming weights and bias) <= {IDENTICAL_TOL:g} "
        f"at every logged step and (b) each such network's median final train accuracy is at "
        f"most the best linear-model run's + {STALL_MARGIN}; not reproduced if (a) or (b) "
        f"fails. Inconclusive if no random-init network beats the linear model by more than "
        f"{STALL_MARGIN} (then the comparison cannot tell the two apart)."
    )
    activations = sorted(nets["activation"].unique())

    def plot(fig, axes):
        curves = results.rows("curves", "symmetry")
        linear = n_hidden(curves).eq(0)
        curves = curves.assign(
            model=np.where(
                linear, "linear model (hidden [])", curves["init"] + " " + curves["hidden"]
            )
        )
        for ax, act in zip(axes, activations):
            sub = curves[curves["activation"].eq(act) | linear]
            line = median_curve(sub, ["model"], "train_accuracy")
            sns.lineplot(
                line,
                x="step",
                y="train_accuracy",
                hue="model",
                ax=ax,
                hue_order=sorted(line["model"].unique()),
            )
            ax.set_title(act)
            ax.set_ylabel("train accuracy (median over seeds)")
            step_axis(ax)
        legend_outside(fig, axes)

    size = (3.0 * len(activations) + 2.2, 3.4)
    figure = results.draw(claim, plot, ncols=len(activations), size=size, sharey=True)
    caption = (
        f"Train accuracy during training (median over seeds) of the zeros, constant and random "
        f"networks per activation, against the linear model. The zeros/constant networks' "
        f"units stayed identical (largest distance {gnum(largest, 3)}); their final accuracies "
        f"range {gnum(acc.loc[acc['symmetric'], 'final_train_accuracy'].min(), 3)}-"
        f"{gnum(acc.loc[acc['symmetric'], 'final_train_accuracy'].max(), 3)}, against "
        f"{gnum(best_linear, 3)} for the best linear model. With identical units a network "
        "computes "
        f"a monotone function of one projection w.x, so its decision boundary is a line, as "
        f"the linear model's: accuracy differences between the two come from training."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
