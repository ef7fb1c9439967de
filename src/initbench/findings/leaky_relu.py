"""6. Leaky ReLU against ReLU: the published claim, its thresholds and its check."""

import seaborn as sns

from ..cell import CELL_PARAMETERS
from ..plotting import legend_outside
from ..text import gnum
from .base import NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

FEWER_DEAD = 0.01  # leaky ReLU: mean dead fraction lower by at least this (1% of the units)


# a ReLU run and its leaky twin: equal in every cell parameter but the activation
MATCHED = [c for c in CELL_PARAMETERS if c not in ("activation", "loss", "log_points")] + ["seed"]


def dead_share(layers, runs, at_end):
    """Mean dead fraction over hidden layers per run, at init or at the final step."""
    keep = layers["layer"] < layers["depth"]
    keep &= layers["step"].eq(layers["steps"]) if at_end else layers["step"].eq(0)
    share = layers[keep].groupby(["cell", "seed"], as_index=False)["dead_frac"].mean()
    return runs.merge(share, on=["cell", "seed"])


@published_claim(
    "leaky_relu",
    "Leaky ReLU leaves fewer dead units than ReLU",
    "Leaky ReLU, with its small slope for z <= 0, leaves fewer dead units than ReLU.",
    "The seed (parameter-initialization.txt): use ReLU or Leaky ReLU in deep networks.",
    ["overview"],
)
def check_leaky_relu(claim, results):
    runs, layers = results.rows("runs", "overview"), results.rows("layers", "overview")
    runs = runs[runs["status"].eq("completed") & runs["activation"].isin(["relu", "leaky_relu"])]
    pairs = {}
    for when, at_end in (("at init", False), ("after training", True)):
        dead = dead_share(layers, runs, at_end)
        relu = dead[dead["activation"].eq("relu")]
        leaky = dead[dead["activation"].eq("leaky_relu")]
        pairs[when] = relu.merge(leaky, on=MATCHED, suffixes=("_relu", "_leaky"))
    end = pairs["after training"]
    if end.empty:
        raise NotTestable(
            "the overview study has no completed ReLU and leaky ReLU runs with the "
            "same dataset, init, shape and seed"
        )
    diff = end["dead_frac_leaky"] - end["dead_frac_relu"]
    fewer, more = int((diff < 0).sum()), int((diff > 0).sum())
    mean_relu, mean_leaky = end["dead_frac_relu"].mean(), end["dead_frac_leaky"].mean()
    fewer_on_average = mean_leaky <= mean_relu - FEWER_DEAD
    verdict = REPRODUCED if fewer_on_average and fewer > more else NOT_REPRODUCED
    start = pairs["at init"]
    measured = [
        ("Matched run pairs (same dataset, init, shape, seed; both completed)", str(len(end))),
        (
            "Mean dead fraction of hidden units after training: ReLU vs leaky ReLU",
            f"{gnum(mean_relu, 3)} vs {gnum(mean_leaky, 3)}",
        ),
        (
            "Same at init",
            f"{gnum(start['dead_frac_relu'].mean(), 3)} vs "
            f"{gnum(start['dead_frac_leaky'].mean(), 3)}",
        ),
        (
            "Pairs where leaky ReLU has fewer / more / as many dead units",
            f"{fewer} / {more} / {len(end) - fewer - more}",
        ),
    ] + [
        (
            f"Depth {d}: mean dead fraction after training, ReLU vs leaky ReLU",
            f"{gnum(g['dead_frac_relu'].mean(), 3)} vs {gnum(g['dead_frac_leaky'].mean(), 3)}",
        )
        for d, g in end.groupby("depth")
    ]
    rule = (
        "A unit is dead when its pre-activation is <= 0 on every row of the logged batch (for "
        "leaky ReLU such a unit still passes 1% of the gradient). Over matched pairs of completed "
        f"runs at the final step: reproduced if the mean dead fraction of hidden units is at "
        f"least {FEWER_DEAD} lower with leaky ReLU (a smaller gap is under 1% of the units) and "
        f"leaky ReLU has fewer dead units in more pairs than it has more; otherwise not "
        f"reproduced."
    )

    def plot(fig, axes):
        for ax, (when, pair) in zip(axes, pairs.items()):
            bars = pair.rename(columns={"dead_frac_relu": "relu", "dead_frac_leaky": "leaky_relu"})
            bars = bars.melt(
                id_vars=["depth"],
                value_vars=["relu", "leaky_relu"],
                var_name="activation",
                value_name="dead",
            )
            sns.barplot(
                bars,
                x="depth",
                y="dead",
                hue="activation",
                hue_order=["relu", "leaky_relu"],
                errorbar=None,
                ax=ax,
            )
            ax.set_title(when)
            ax.set_ylabel("mean dead fraction of hidden units")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, ncols=2, size=(10, 3.6), sharey=True)
    caption = (
        f"Mean share of dead hidden units (pre-activation <= 0 on the whole batch) per depth, "
        f"ReLU against leaky ReLU over {len(end)} matched runs, at init and after training. "
        f"After training: {gnum(mean_relu, 3)} (ReLU) vs {gnum(mean_leaky, 3)} (leaky ReLU)."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
