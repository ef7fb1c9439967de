"""The seed: with weights randn x 0.01, gradients vanish towards the input and deep nets stall.

Two effects per seed over the overview's deep normal(std 0.01) cells: the largest layer-1
gradient ratio at init (outcomes.gradient_ratio_at_init, input to output layer), and the
share of those cells' runs that made no progress."""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import Effect
from ..outcomes import (
    STALL_RULE,
    gradient_ratio_at_init,
    made_no_progress,
    param,
    stalled_cells,
)
from ..plotting import integer_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

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
    quote="So, it's best to randomly choose the initial weight values that are between -1 and "
    "1 and multiply them by a small scalar such as 0.01 to make the activation units active "
    "and be on the regions where activation functions' derivatives are not close to zero.",
    seed=True,
)
def check_normal_small(results):
    runs = results.rows("runs", "overview")
    runs = runs[runs["scheme"].eq("normal") & param(runs, "std").eq(0.01)]
    deep = runs[runs["depth"] >= DEEP]
    if deep.empty:
        depths = ", ".join(map(str, sorted(runs["depth"].unique()))) or "none"
        raise NotTestable(
            f"the overview study has no normal(std 0.01) cell with depth >= {DEEP} "
            f"(depths run: {depths})"
        )
    layers = results.rows("layers", "overview", columns=GRADIENT_COLUMNS)
    profile = gradient_profile(layers[layers["cell"].isin(runs["cell"])])
    first = profile[profile["layer"].eq(1)].groupby("cell")["relative"].median()
    cells = runs.groupby("cell")[["depth"]].first().assign(ratio=first, stalled=stalled_cells(runs))
    first_layer = profile[profile["layer"].eq(1) & profile["depth"].ge(DEEP)]
    effects = [
        Effect(
            f"depth >= {DEEP}: largest log10 ||dL/dz_1|| / ||dL/dz_top|| at init over cells",
            tuple(np.log10(first_layer.groupby("seed")["relative"].max())),
            float(np.log10(VANISHED)),
            False,
        ),
        Effect(
            f"depth >= {DEEP}: share of cells whose run made no progress",
            tuple(made_no_progress(deep).groupby(deep["seed"]).mean()),
            STALLED_SHARE,
            True,
        ),
    ]
    rows = [
        (
            f"Depth {d}: ||dL/dz_1|| / ||dL/dz_top|| at init (median; largest over cells)",
            f"{gnum(g['ratio'].median(), 3)}; {gnum(g['ratio'].max(), 3)}  ({len(g)} cells)",
        )
        for d, g in cells.groupby("depth")
    ] + [
        (f"Depth {d}: cells stalled", f"{int(g['stalled'].sum())} of {len(g)}")
        for d, g in cells.groupby("depth")
    ]
    deep_cells = cells[cells["depth"] >= DEEP]
    caption = (
        f"Left: back-propagated gradient norm per layer at init relative to the output layer "
        f"(median over activations, datasets and seeds) for randn x 0.01. Right: share of those "
        f"cells that stalled, per depth. At depth >= {DEEP} the layer-1 ratio is at most "
        f"{gnum(deep_cells['ratio'].max(), 3)} and {deep_cells['stalled'].mean():.0%} of "
        f"{len(deep_cells)} cells stalled."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Per seed, over the overview's normal(std 0.01) cells with depth >= {DEEP}: the "
            f"largest ratio ||dL/dz_1|| / ||dL/dz_top|| at init (log10; threshold log10 "
            f"{VANISHED:g}), and the share of cells whose run made no progress ({STALL_RULE})."
        ),
        figure=Figure(partial(plot, profile, cells), caption, ncols=2, size=(10, 3.8)),
    )


def plot(profile, cells, fig, axes):
    """Left: the gradient ratio per layer and depth; right: the share of cells stalled."""
    line = profile.groupby(["depth", "layer"], as_index=False)["relative"].median()
    bars = cells.groupby("depth", as_index=False)["stalled"].mean()
    sns.lineplot(
        line, x="layer", y="relative", hue="depth", palette="viridis", ax=axes[0], legend="full"
    )
    axes[0].set_yscale("log")
    axes[0].set_ylabel("||dL/dz_l|| / ||dL/dz_top|| at init")
    integer_axis(axes[0])
    axes[0].legend(title="depth", loc="lower right")
    sns.barplot(bars, x="depth", y="stalled", color="tab:red", ax=axes[1])
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("share of cells stalled")
