"""The seed's source course: zeros stay at ln 2, large normal init lags He, He reaches ~99%.

The course trains on raw make_circles features (a dataset with ``standardize: false``).
Its std-10 numbers come from one particular draw (np.random.seed(3)); ours draws per seed,
so the std-10 accuracies scatter around the published ones: that gap is stated, not judged.
"""

import math
from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import HOLDS, Effect, decide, paired
from ..outcomes import accuracy_counting_divergence, median_curve, param
from ..plotting import legend_outside
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

COURSE_STEPS = 15000  # the course's iterations
COURSE_PUBLISHED = {  # init -> (cost at iteration 14000, train accuracy, test accuracy)
    "zeros": (math.log(2), 0.50, 0.50),
    "normal std 10": (0.383, 0.83, 0.86),
    "he_normal": (0.0736, 0.993, 0.96),
}
LN2_TOL = 1e-3  # zeros: every logged cost within this of ln 2
CHANCE_TOL = 0.02  # zeros: accuracy within this of 0.5
HE_ACCURACY = 0.97  # "about 99%" train accuracy
MUCH_LOWER = 0.05  # normal std 10 ends at least this far below He in train accuracy


def course_role(runs):
    """The course's init per row: zeros, normal std 10, he_normal, or "" for any other."""
    std = param(runs, "std")
    role = np.select(
        [
            runs["scheme"].eq("zeros"),
            runs["scheme"].eq("normal") & (std >= 1),
            runs["scheme"].eq("he_normal"),
        ],
        ["zeros", "normal std 10", "he_normal"],
        default="",
    )
    return pd.Series(role, index=runs.index)


@published_claim(
    "course",
    "The course: zeros stay at ln 2, large normal lags He, He reaches ~99%",
    "On circles with a [2, 10, 5, 1] ReLU net, full-batch gradient descent (lr 0.01, 15000 "
    "iterations): zeros init stays at cost ln 2 and 50% accuracy; normal init with std 10 ends "
    "at much lower accuracy than He init; He init reaches about 99% train accuracy. Published: "
    "zeros 0.6931 / 0.50 / 0.50; randn x 10 0.383 at 14000, train 0.83, test 0.86; He 0.0736, "
    "train 0.993, test 0.96.",
    "deeplearning.ai, Improving Deep Neural Networks, week 1, 'Initialization' (the seed's "
    "source course).",
    ["course"],
    quote="Their initial values for the weight matrices should not be zero since the cost "
    "reduction gradients would be the same value for each iteration (all weights associated "
    "with a particular parameters will be the same value) causing the learning algorithm to "
    "not learn.",
    seed=True,
)
def check_course(results):
    runs, curves = results.rows("runs", "course"), results.rows("curves", "course")
    runs, curves = runs.assign(role=course_role(runs)), curves.assign(role=course_role(curves))
    missing = [r for r in COURSE_PUBLISHED if not runs["role"].eq(r).any()]
    if missing:
        raise NotTestable(f"the course study has no {', '.join(missing)} cell")
    final = runs.groupby("role")[
        ["final_train_loss", "final_train_accuracy", "final_test_accuracy", "initial_train_loss"]
    ].median()
    steps = int(runs["steps"].min())
    effects = course_effects(runs, curves)
    large_acc = final.loc["normal std 10", "final_train_accuracy"]
    short = steps < COURSE_STEPS and decide(effects) != HOLDS
    return Evidence(
        effects,
        course_rows(results, runs, curves, final, steps),
        method=(
            "The zeros effects are exact: zeros and full-batch descent leave nothing random, "
            "so one seed decides them. He minus normal std 10 pairs the runs by seed; a diverged "
            "run counts at chance (its majority-class rate)."
        ),
        notes=(
            f"A run shorter than the course's {COURSE_STEPS} iterations that fails this is "
            f"inconclusive, not a failure. Our binary cross-entropy is computed from the logit "
            f"stably, so the course's 'inf' cost at iteration 0 of std 10 appears as a large "
            f"finite cost. The std-10 accuracies depend on the random draw: the gap between "
            f"ours (median {gnum(large_acc, 3)} train) and the published 0.83 / 0.86 is the "
            f"draw's, not the rule's."
        ),
        inconclusive=(
            f"the runs are shorter ({steps} iterations) than the course's {COURSE_STEPS}"
            if short
            else ""
        ),
        figure=Figure(
            partial(plot, curves, steps), course_caption(final, steps), ncols=2, size=(9.5, 3.6)
        ),
    )


def course_rows(results, runs, curves, final, steps):
    """What the course printed, and ours beside it."""
    features = ", ".join(
        f"{label}: {'standardized' if results.standardized(label) else 'raw (as the course)'}"
        for label in sorted(runs["dataset"].unique())
    )
    large = runs[runs["role"].eq("normal std 10")]
    rows = [
        ("Iterations run", f"{steps} (the course: {COURSE_STEPS})"),
        ("Input features", features),
        (
            "normal std 10: final train / test accuracy per seed (published 0.83 / 0.86 from "
            "one draw, np.random.seed(3))",
            "; ".join(
                f"seed {r.seed}: {gnum(r.final_train_accuracy, 3)} / "
                f"{gnum(r.final_test_accuracy, 3)}"
                for r in large.itertuples()
            ),
        ),
    ]
    for role, (cost, train, test) in COURSE_PUBLISHED.items():
        row = final.loc[role]
        rows.append(
            (
                f"{role}: final cost / train acc / test acc (published)",
                f"{gnum(row.final_train_loss, 4)} / {gnum(row.final_train_accuracy, 3)} / "
                f"{gnum(row.final_test_accuracy, 3)} ({cost:.4g} / {train:.3g} / {test:.3g})",
            )
        )
    zero_costs = curves.loc[curves["role"].eq("zeros"), "train_loss"]
    return rows + [
        (
            "zeros: largest |cost - ln 2| at any logged step",
            gnum((zero_costs - math.log(2)).abs().max(), 3),
        ),
        (
            "normal std 10: cost at iteration 0",
            f"{gnum(final.loc['normal std 10', 'initial_train_loss'], 3)} (the course printed inf)",
        ),
    ]


def course_caption(final, steps):
    accuracy = final["final_train_accuracy"]
    return (
        f"Cost (log scale; dotted: ln 2) and train accuracy over {steps} full-batch iterations. "
        f"Final train accuracy: zeros {gnum(accuracy['zeros'], 3)}, normal std 10 "
        f"{gnum(accuracy['normal std 10'], 3)}, He {gnum(accuracy['he_normal'], 3)} (published "
        f"0.50, 0.83, 0.993)."
        + (" Stars: the published costs at iteration 14000." if steps >= 14000 else "")
    )


def plot(curves, steps, fig, axes):
    """Cost and train accuracy over the iterations, per init, with the published costs."""
    order = list(COURSE_PUBLISHED)
    line = median_curve(curves[curves["role"] != ""], ["role"], "train_loss")
    acc = median_curve(curves[curves["role"] != ""], ["role"], "train_accuracy")
    sns.lineplot(line, x="step", y="train_loss", hue="role", hue_order=order, ax=axes[0])
    axes[0].axhline(math.log(2), color="grey", ls=":", lw=1)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("train cost (median over seeds)")
    if steps >= 14000:
        published = [COURSE_PUBLISHED[r][0] for r in order]
        axes[0].scatter(
            [14000] * 3,
            published,
            marker="*",
            s=80,
            color="black",
            zorder=3,
            label="published at 14000",
        )
    sns.lineplot(acc, x="step", y="train_accuracy", hue="role", hue_order=order, ax=axes[1])
    axes[1].set_ylabel("train accuracy (median over seeds)")
    for ax in axes:
        ax.set_xlabel("iteration")
    legend_outside(fig, axes)


def course_effects(runs, curves):
    """Zeros' largest |cost - ln 2| and |train accuracy - 0.5| (exact), He's final train
    accuracy, and He's minus normal std 10's, per seed; a diverged run at chance."""
    runs = runs.assign(final_train_accuracy=accuracy_counting_divergence(runs))
    zeros = curves[curves["role"].eq("zeros")]
    off_ln2 = (zeros["train_loss"] - math.log(2)).abs().groupby(zeros["seed"]).max()
    zero_runs = runs[runs["role"].eq("zeros")]
    off_chance = (zero_runs["final_train_accuracy"] - 0.5).abs()
    he = runs[runs["role"].eq("he_normal")]["final_train_accuracy"]
    return [
        Effect(
            "zeros: largest |cost - ln 2| at a logged step",
            tuple(off_ln2),
            LN2_TOL,
            False,
            exact=True,
        ),
        Effect(
            "zeros: |final train accuracy - 0.5|", tuple(off_chance), CHANCE_TOL, False, exact=True
        ),
        Effect("He: final train accuracy", tuple(he), HE_ACCURACY, True),
        Effect(
            "He minus normal std 10: final train accuracy",
            tuple(paired(runs, "role", "final_train_accuracy", "he_normal", "normal std 10")),
            MUCH_LOWER,
            True,
        ),
    ]
