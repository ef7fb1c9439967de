"""The seed: zero or constant weights keep every hidden unit identical (no better than a line)."""

import numpy as np
import seaborn as sns

from ..baselines import best_linear_accuracy
from ..effects import FAILS, HOLDS, Effect, decide
from ..outcomes import STALL_MARGIN, median_curve, n_hidden  # fmt: skip
from ..plotting import legend_outside, step_axis
from ..text import gnum
from .base import INCONCLUSIVE, NotTestable, published_claim

IDENTICAL_TOL = 1e-12  # symmetry (largest distance between two units) that counts as 0


@published_claim(
    "symmetry",
    "Zero and constant init leave the hidden units identical",
    "Zero, and constant, init leaves every hidden unit identical through training, so the "
    "network computes a function of one projection w.x and does no better than a single "
    "linear boundary.",
    "The seed (parameter-initialization.txt): the problem of symmetric weights; the course's "
    "remark that such a network is no more powerful than a one-unit-wide one.",
    ["symmetry"],
    quote="Their initial values for the weight matrices should not be zero ... This basically "
    "makes you neural network no better than a linear model.",
    seed=True,
)
def check_symmetry(claim, results):
    runs, layers = results.rows("runs", "symmetry"), results.rows("layers", "symmetry")
    runs = runs.assign(
        linear=n_hidden(runs).eq(0), symmetric=runs["scheme"].isin(["zeros", "constant"])
    )
    nets = runs[~runs["linear"]]
    if not nets["symmetric"].any() or nets["symmetric"].all():
        raise NotTestable(
            "the symmetry study needs zeros/constant networks with hidden layers and a "
            "randomly initialised one to compare with"
        )
    ceilings = {}
    for label in nets["dataset"].unique():
        data = results.dataset(label)
        try:
            ceilings[label] = best_linear_accuracy(data["X_train"], data["y_train"])
        except ValueError as error:
            raise NotTestable(f"dataset {label}: no exact linear comparator ({error})") from None
    symmetric_cells = nets.loc[nets["symmetric"], "cell"]
    hidden = layers[layers["cell"].isin(symmetric_cells) & (layers["layer"] < layers["depth"])]
    largest = hidden["symmetry"].max()
    acc = nets.groupby(["dataset", "activation", "init", "hidden", "symmetric"], as_index=False)[
        "final_train_accuracy"
    ].median()
    acc["ceiling"] = acc["dataset"].map(ceilings)
    sym_layers = hidden.groupby("seed")["symmetry"].max()
    sym_runs = nets[nets["symmetric"]].assign(ceiling=nets["dataset"].map(ceilings))
    over_linear = (sym_runs["final_train_accuracy"] - sym_runs["ceiling"]).groupby(
        sym_runs["seed"]).max()  # fmt: skip
    random_runs = nets[~nets["symmetric"]].assign(ceiling=nets["dataset"].map(ceilings))
    control_gain = (random_runs["final_train_accuracy"] - random_runs["ceiling"]).groupby(
        random_runs["seed"]).max()  # fmt: skip
    effects = [
        Effect("zeros/constant: largest distance between two hidden units, any layer and step",
               tuple(sym_layers), IDENTICAL_TOL, False, exact=True),
        Effect("zeros/constant: largest final train accuracy minus the best linear boundary's",
               tuple(over_linear), 1e-12, False, exact=True),
        Effect("control, random init: largest final train accuracy over the best linear "
               "boundary's", tuple(control_gain), STALL_MARGIN, True),
    ]  # fmt: skip
    best_linear = max(ceilings.values())
    measured = [
        ("Largest distance between two hidden units (zeros/constant, any layer, any step)",
         gnum(largest, 3)),
    ] + [
        (f"{label}: best accuracy of any single linear boundary on the training rows",
         gnum(value, 4))
        for label, value in ceilings.items()
    ] + [
        (f"{r.dataset}, {r.activation}, {r.init}, hidden {r.hidden}: median final train accuracy",
         gnum(r.final_train_accuracy, 3))
        for r in acc.itertuples()
    ]  # fmt: skip
    rule = (
        f"With identical units a network computes a monotone function of one projection w.x, "
        f"so its decision boundary is a half-plane: the fair comparator is the best accuracy "
        f"any single linear boundary reaches on the same training rows (computed exactly). "
        f"Reproduced if (a) every hidden layer of every zeros/constant network keeps symmetry "
        f"(largest distance between two units' incoming weights and bias) <= {IDENTICAL_TOL:g} "
        f"at every logged step and (b) each such network's median final train accuracy is at "
        f"most that best linear accuracy; not reproduced if (a) or (b) fails. Inconclusive if "
        f"no randomly initialised network beats it by more than {STALL_MARGIN} (then the data "
        f"cannot tell a half-plane from a learned boundary: per seed, the best random net's "
        f"gain over it, 95% interval over seeds). (a) and (b) are exact: identical units stay "
        f"identical under any batch order, so one seed decides them; every seed is checked."
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
            for ceiling in ceilings.values():
                ax.axhline(ceiling, color="grey", ls=":", lw=1)
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
        f"{gnum(best_linear, 3)} for the best single linear boundary (dotted)."
    )
    measured += [(e.label, e.text()) for e in effects]
    exact = effects[:2]
    if decide(exact) == HOLDS and effects[2].outcome == FAILS:  # the data cannot tell
        return claim.finding(INCONCLUSIVE, rule, measured, figure, caption, effects)
    return claim.decided(effects, rule, measured, figure, caption)
