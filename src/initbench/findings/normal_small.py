"""The seed: with weights randn x 0.01, gradients vanish towards the input and deep nets stall.

Two effects per seed over the overview's deep normal(std 0.01) cells: the largest layer-1
gradient ratio at init (outcomes.gradient_ratio_at_init, input to output layer), and the
share of those cells' runs that made no progress."""

import numpy as np
import seaborn as sns

from ..effects import Effect
from ..outcomes import (
    STALL_LOSS_FRACTION,
    STALL_MARGIN,
    gradient_ratio_at_init,
    made_no_progress,
    param,
    stalled_cells,
)
from ..plotting import integer_axis
from ..text import gnum
from .base import NotTestable, published_claim

DEEP = 10  # "deep nets": depth (weight layers) at least this
VANISHED = 1e-3  # ||dL/dz_1|| / ||dL/dz_top|| at init below this: the gradient vanished
STALLED_SHARE = 0.8  # "deep nets stall": at least this share of the deep cells
GRADIENT_COLUMNS = ("cell", "seed", "step", "layer", "depth", "grad_z_norm")


def gradient_profile(layers):
    """||dL/dz_l|| / ||dL/dz_top|| at init per (cell, seed, layer); top = the output layer."""
    init = layers[layers["step"].eq(0)]
    return init.assign(relative=gradient_ratio_at_init(init, top="output"))


@published_claim(
    "normal_small",
    "Small normal init: gradients vanish, deep nets stall",
    f"With weights randn x 0.01, the back-propagated gradient vanishes towards the input, and "
    f"deep nets (>= {DEEP} layers) stall.",
    "The seed (parameter-initialization.txt): random init times 0.01; vanishing gradients.",
    ["overview"],
    quote="randomly choose the initial weight values that are between -1 and 1 and multiply "
    "them by a small scalar such as 0.01",
    seed=True,
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
    first_layer = profile[profile["layer"].eq(1) & profile["depth"].ge(DEEP)]
    effects = [
        Effect(f"depth >= {DEEP}: largest log10 ||dL/dz_1|| / ||dL/dz_top|| at init over cells",
               tuple(np.log10(first_layer.groupby("seed")["relative"].max())),
               float(np.log10(VANISHED)), False),
        Effect(f"depth >= {DEEP}: share of cells whose run made no progress",
               tuple(made_no_progress(deep).groupby(deep["seed"]).mean()), STALLED_SHARE, True),
    ]  # fmt: skip
    measured = (
        [
            (
                f"Depth {d}: ||dL/dz_1|| / ||dL/dz_top|| at init (median; largest over cells)",
                f"{gnum(g['ratio'].median(), 3)}; {gnum(g['ratio'].max(), 3)}  ({len(g)} cells)",
            )
            for d, g in cells.groupby("depth")
        ]
        + [
            (f"Depth {d}: cells stalled", f"{int(g['stalled'].sum())} of {len(g)}")
            for d, g in cells.groupby("depth")
        ]
        + [(e.label, e.text()) for e in effects]
    )
    rule = (
        f"Per seed, over the overview's normal(std 0.01) cells with depth >= {DEEP}: the "
        f"largest ratio ||dL/dz_1|| / ||dL/dz_top|| at init (log10), and the share of cells "
        f"whose run made no progress (diverged, or final train accuracy <= majority rate + "
        f"{STALL_MARGIN}; regression: final loss >= {STALL_LOSS_FRACTION} x initial). "
        f"Reproduced if the 95% intervals over seeds lie below log10 {VANISHED:g} and above "
        f"{STALLED_SHARE:.0%}; not reproduced if one lies on the other side; otherwise "
        f"inconclusive."
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
    return claim.decided(effects, rule, measured, figure, caption)
