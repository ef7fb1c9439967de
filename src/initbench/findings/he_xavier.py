"""He et al. 2015: deep ReLU nets converge with He init; at 30 layers Xavier stalls.

The paper's two statements, each tested at its own depth:
- 22 layers: both inits converge, He sooner;
- 30 layers: He converges, Xavier "completely stalls".
"Stalls" is told from "slower" by the budget: a Xavier net that has not reached the target
after STALL_FACTOR times the steps He needed has stalled only if it also made no progress
at all; with less budget than that, the verdict is inconclusive and names the budget.
"""

import math

import numpy as np
import seaborn as sns

from ..outcomes import STALL_MARGIN, first_step_reaching, made_no_progress, median_curve
from ..plotting import legend_outside, step_axis
from ..text import gnum
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

DEPTHS = {22: "both converge, He sooner", 30: "He converges, Xavier stalls"}
TARGET_GAIN = 0.25  # "converged": train accuracy at least the majority rate + this
STALL_FACTOR = 10  # "stalls" needs a budget of this many times He's steps to the target


def families(runs):
    family = np.select(
        [runs["scheme"].str.startswith("he_"), runs["scheme"].str.startswith("xavier_")],
        ["He", "Xavier"],
        "",
    )
    runs = runs.assign(family=family)
    return runs[(runs["family"] != "") & runs["activation"].eq("relu")]


def per_cell(runs, curves):
    """One row per cell: family, depth, steps to the target (median over seeds; inf when
    fewer than half the seeds reach it), whether it made no progress, final accuracy."""
    target = runs.groupby("cell")["majority_rate"].first() + TARGET_GAIN
    reached = first_step_reaching(curves, target).fillna(np.inf)
    cells = runs.groupby("cell")[["family", "init", "depth", "dataset", "steps"]].first()
    return cells.assign(
        target=target,
        to_target=reached.groupby(level="cell").median(),
        no_progress=made_no_progress(runs).groupby(runs["cell"]).mean() >= 0.5,
        accuracy=runs.groupby("cell")["final_train_accuracy"].median(),
    )


def judge_depth(cells, depth):
    """(verdict, sentence) for one depth's He and Xavier cells."""
    he = cells[cells["family"].eq("He")]
    xavier = cells[cells["family"].eq("Xavier")]
    budget = int(cells["steps"].min())
    he_steps, xavier_steps = he["to_target"].max(), xavier["to_target"].max()
    if not math.isfinite(he_steps):
        return INCONCLUSIVE, (
            f"depth {depth}: He did not reach the target within {budget} steps, so neither "
            f"'converges' nor 'sooner' can be judged; a longer run is needed"
        )
    needed = STALL_FACTOR * he_steps
    if math.isfinite(xavier_steps):
        ratio = xavier_steps / he_steps
        text = (f"depth {depth}: He reached the target in {he_steps:.0f} steps, Xavier in "
                f"{xavier_steps:.0f} ({gnum(ratio, 3)}x)")  # fmt: skip
        if depth >= 30:
            return NOT_REPRODUCED, text + ": Xavier is slower, it does not stall"
        return (REPRODUCED if ratio > 1 else NOT_REPRODUCED), text
    if budget < needed:
        return INCONCLUSIVE, (
            f"depth {depth}: He reached the target in {he_steps:.0f} steps; Xavier had not "
            f"after {budget}, fewer than {STALL_FACTOR}x He's steps, so 'slower' cannot be told "
            f"from 'stalls': a budget of {needed:.0f} steps decides"
        )
    stalled = bool(xavier["no_progress"].all())
    text = (f"depth {depth}: He reached the target in {he_steps:.0f} steps; Xavier not in "
            f"{budget} (>= {STALL_FACTOR}x) and "
            + ("made no progress at all" if stalled else "made some progress"))  # fmt: skip
    if depth >= 30:
        return (REPRODUCED if stalled else NOT_REPRODUCED), text
    return NOT_REPRODUCED, text + " (the paper has both converge at 22 layers)"


@published_claim(
    "he_xavier",
    "He et al.: deep ReLU nets converge with He init; at 30 layers Xavier stalls",
    "A 22-layer ReLU network converges with both He (Var = 2/fan_in) and Xavier init, He "
    "sooner; at 30 layers it converges with He init, while with Xavier init it completely "
    "stalls, its gradients diminishing.",
    "He, Zhang, Ren & Sun 2015, 'Delving deep into rectifiers' (section 2.2, figures 2-3).",
    ["he_xavier"],
)
def check_he_xavier(claim, results):
    runs = families(results.rows("runs", "he_xavier"))
    curves = results.rows("curves", "he_xavier")
    curves = curves[curves["cell"].isin(runs["cell"])]
    cells = per_cell(runs, curves)
    judged = {}
    for depth in DEPTHS:
        at = cells[cells["depth"].eq(depth)]
        if at["family"].nunique() == 2:
            judged[depth] = judge_depth(at, depth)
    if not judged:
        raise NotTestable(
            "the he_xavier study has no ReLU nets with both He and Xavier init at depth "
            f"22 or 30 (depths run: {', '.join(map(str, sorted(cells['depth'].unique())))})"
        )
    verdicts = [v for v, _ in judged.values()]
    if NOT_REPRODUCED in verdicts:
        verdict = NOT_REPRODUCED
    elif INCONCLUSIVE in verdicts or len(judged) < len(DEPTHS):
        verdict = INCONCLUSIVE
    else:
        verdict = REPRODUCED
    measured = [
        (f"{r.dataset}, depth {r.depth}, {r.init}: steps to the target "
         f"({gnum(r.target, 3)}); final train accuracy",
         ("not reached" if not math.isfinite(r.to_target) else f"{r.to_target:.0f}")
         + f" of {r.steps}; {gnum(r.accuracy, 3)}")
        for r in cells.sort_values(["depth", "family"]).itertuples()
    ] + [(f"Depth {d}", text) for d, (_, text) in judged.items()]  # fmt: skip
    rule = (
        f"Target: train accuracy >= majority rate + {TARGET_GAIN}; steps to it are the median "
        f"over seeds of the first logged step reaching it. Depth 22 ({DEPTHS[22]}): reproduced "
        f"if both reach it and He in fewer steps. Depth 30 ({DEPTHS[30]}): reproduced if He "
        f"reaches it and Xavier does not within a budget of at least {STALL_FACTOR}x He's steps "
        f"while making no progress (train accuracy <= majority + {STALL_MARGIN} in at least "
        f"half the seeds); Xavier reaching it means 'slower', not 'stalls'. Less budget, or He "
        f"not converging, is inconclusive. Every depth must be reproduced. "
        + "; ".join(text for _, text in judged.values())
        + "."
    )
    panels = sorted(set(zip(cells["dataset"], cells["depth"])))

    def plot(fig, axes):
        line = median_curve(curves, ["dataset", "depth", "init"], "train_accuracy")
        for ax, (dataset, depth) in zip(axes, panels):
            sns.lineplot(line[line["dataset"].eq(dataset) & line["depth"].eq(depth)],
                         x="step", y="train_accuracy", hue="init",
                         hue_order=sorted(line["init"].unique()), ax=ax)  # fmt: skip
            target = cells.loc[cells["depth"].eq(depth), "target"].iloc[0]
            ax.axhline(target, color="grey", ls=":", lw=1)
            ax.set_title(f"{dataset}, depth {depth}")
            ax.set_ylabel("train accuracy (median over seeds)")
            step_axis(ax)
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, ncols=len(panels), size=(3.6 * len(panels) + 1.8, 3.4))
    caption = (
        "Train accuracy of ReLU nets, He against Xavier init, per depth (median over seeds); "
        "dotted: the target. " + "; ".join(text for _, text in judged.values()) + "."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
