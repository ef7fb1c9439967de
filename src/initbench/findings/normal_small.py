"""Small normal init in deep nets: the published claim, its thresholds and its check."""

import seaborn as sns

from ..outcomes import STALL_LOSS_FRACTION, STALL_MARGIN, param, stalled_cells  # fmt: skip
from ..plotting import integer_axis
from ..text import gnum
from .base import NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

DEEP = 10  # "deep nets": depth (weight layers) at least this
VANISHED = 1e-3  # ||dL/dz_1|| / ||dL/dz_top|| at init below this: the gradient vanished
STALLED_SHARE = 0.8  # "deep nets stall": at least this share of the deep cells
GRADIENT_COLUMNS = ("cell", "seed", "step", "layer", "depth", "grad_z_norm")


def gradient_profile(layers):
    """||dL/dz_l|| / ||dL/dz_top|| at init per (cell, seed, layer); top = the output layer."""
    init = layers[layers["step"].eq(0)]
    top = init[init["layer"].eq(init["depth"])].set_index(["cell", "seed"])["grad_z_norm"]
    init = init.join(top.rename("top"), on=["cell", "seed"])
    return init.assign(relative=init["grad_z_norm"] / init["top"])


@published_claim(
    "normal_small",
    "Small normal init: gradients vanish, deep nets stall",
    f"With weights randn x 0.01, the back-propagated gradient vanishes towards the input, and "
    f"deep nets (>= {DEEP} layers) stall.",
    "The seed (parameter-initialization.txt): random init times 0.01; vanishing gradients.",
    ["overview"],
)
def check_normal_small(claim, results):
    runs = results.rows("runs", "overview")
    layers = results.rows("layers", "overview", columns=GRADIENT_COLUMNS)
    runs = runs[runs["scheme"].eq("normal") & param(runs, "std").eq(0.01)]
    deep = runs[runs["depth"] >= DEEP]
    if deep.empty:
        depths = ", ".join(map(str, sorted(runs["depth"].unique()))) or "none"
        raise NotTestable(
            f"the overview study has no normal(std 0.01) cell with depth >= {DEEP} "
            f"(depths run: {depths})"
        )
    profile = gradient_profile(layers[layers["cell"].isin(runs["cell"])])
    first = profile[profile["layer"].eq(1)].groupby("cell")["relative"].median()
    cells = runs.groupby("cell")[["depth"]].first().assign(ratio=first, stalled=stalled_cells(runs))
    deep_cells = cells[cells["depth"] >= DEEP]
    worst = deep_cells["ratio"].max()
    share = deep_cells["stalled"].mean()
    vanished, stall = bool(worst < VANISHED), bool(share >= STALLED_SHARE)
    verdict = REPRODUCED if vanished and stall else NOT_REPRODUCED
    measured = [
        (
            f"Depth {d}: ||dL/dz_1|| / ||dL/dz_top|| at init (median; largest over cells)",
            f"{gnum(g['ratio'].median(), 3)}; {gnum(g['ratio'].max(), 3)}  ({len(g)} cells)",
        )
        for d, g in cells.groupby("depth")
    ] + [
        (f"Depth {d}: cells stalled", f"{int(g['stalled'].sum())} of {len(g)}")
        for d, g in cells.groupby("depth")
    ]
    rule = (
        f"Reproduced if, over the overview's normal(std 0.01) cells with depth >= {DEEP}, the "
        f"largest ratio ||dL/dz_1|| / ||dL/dz_top|| at init (median over seeds) is below "
        f"{VANISHED:g}, and at least {STALLED_SHARE:.0%} of the cells stall (in at least half "
        f"the seeds: diverged, or final train accuracy <= majority rate + {STALL_MARGIN}; "
        f"regression: final loss >= {STALL_LOSS_FRACTION} x initial)."
    )

    def plot(fig, axes):
        line = profile.groupby(["depth", "layer"], as_index=False)["relative"].median()
        bars = cells.groupby("depth", as_index=False)["stalled"].mean()
        sns.lineplot(
            line,
            x="layer",
            y="relative",
            hue="depth",
            palette="viridis",
            ax=axes[0],
            legend="full",
        )
        axes[0].set_yscale("log")
        axes[0].set_ylabel("||dL/dz_l|| / ||dL/dz_top|| at init")
        integer_axis(axes[0])
        axes[0].legend(title="depth", loc="lower right")
        sns.barplot(bars, x="depth", y="stalled", color="tab:red", ax=axes[1])
        axes[1].set_ylim(0, 1)
        axes[1].set_ylabel("share of cells stalled")

    figure = results.draw(claim, plot, ncols=2, size=(10, 3.8))
    caption = (
        f"Left: back-propagated gradient norm per layer at init relative to the output layer "
        f"(median over activations, datasets and seeds) for randn x 0.01. Right: share of those "
        f"cells that stalled, per depth. At depth >= {DEEP} the layer-1 ratio is at most "
        f"{gnum(worst, 3)} and {share:.0%} of {len(deep_cells)} cells stalled."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
