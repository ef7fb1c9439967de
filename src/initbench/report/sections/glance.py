"""The seed's story at a glance: which of its inits train at which depth, per activation.

One figure for the top of the page, drawn from the overview study's cells: the seed's inits
(zero, x 0.01, large, Xavier, He) and activations (sigmoid, tanh, ReLU, Leaky ReLU) on one
dataset, each cell coloured by what became of its seeds, with its median test accuracy.
"""

import json

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from ...outcomes import STALL_MARGIN
from ...text import fnum, plural

SEED_INITS = ("zeros", "normal_small", "normal_large", "xavier_normal", "he_normal")
SEED_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
CLASSES = (
    ("trained", "#7cc48f"),
    ("stalled", "#d0d7de"),
    ("diverged", "#f08c8c"),
)


def cell_class(cells):
    """Per cell: 0 trained, 1 stalled (no progress in at least half its seeds, see
    outcomes.STALL_RULE), 2 diverged (inf/NaN in at least half its seeds)."""
    diverged = 2 * cells["n_diverged"] >= cells["seeds"]
    return np.where(diverged, 2, np.where(cells["stalled"], 1, 0))


def seed_cells(r):
    """(dataset, its overview cells at the seed's inits and activations): the classification
    dataset with the most such cells, the later one in the config's order on a tie (the
    harder one, as the configs list them). None when the overview has none."""
    cells = r.cells_of("overview")
    cells = cells[cells["task"].eq("classification")]
    for column, seeds in (("init", SEED_INITS), ("activation", SEED_ACTIVATIONS)):
        if cells[column].isin(seeds).any():
            cells = cells[cells[column].isin(seeds)]
    if not len(cells):
        return None
    counts = cells.groupby("dataset").size()
    order = r.ordered(counts.index, r.dataset_order)
    dataset = max(order, key=lambda d: (counts[d], order.index(d)))
    return dataset, cells[cells["dataset"].eq(dataset)]


def row_label(variant, init_params):
    """The init's name with its parameters: 'normal_small (std 0.01)'."""
    params = json.loads(init_params) if init_params else {}
    if not params or "(" in variant:
        return variant
    return f"{variant} (" + ", ".join(f"{k} {v}" for k, v in params.items()) + ")"


def build(r):
    """The figure's template entry, or None when the overview has no classification cell."""
    picked = seed_cells(r) if len(r.cells) else None
    if picked is None:
        return None
    dataset, cells = picked
    cells = cells.assign(cls=cell_class(cells))
    acts = r.ordered(cells["activation"], r.activation_order)
    variants = r.ordered(cells["variant"], r.variant_order)
    labels = cells.drop_duplicates("variant").set_index("variant")["init_params"]
    depths = sorted(cells["depth"].unique())
    panel_w = 0.54 * len(depths) + 0.45
    longest = max(len(row_label(v, labels[v])) for v in variants)
    fig, axes = r.figure(len(acts), 1, panel_w * len(acts) + 0.085 * longest + 0.6,
                         0.36 * len(variants) + 1.55, sharey=True)  # fmt: skip
    cmap = ListedColormap([colour for _, colour in CLASSES])
    for ax, act in zip(axes[0], acts):
        sub = cells[cells["activation"].eq(act)]
        grid = sub.pivot_table(index="variant", columns="depth", values="cls", aggfunc="max")
        grid = grid.reindex(index=variants, columns=depths).to_numpy(dtype=float)
        acc = sub.pivot_table(index="variant", columns="depth", values="test_acc",
                              aggfunc="median").reindex(index=variants, columns=depths)  # fmt: skip
        ax.pcolormesh(np.ma.masked_invalid(grid), cmap=cmap, vmin=-0.5, vmax=len(CLASSES) - 0.5,
                      edgecolors="white", linewidth=1.5)  # fmt: skip
        for i, j in zip(*np.nonzero(np.isfinite(grid))):
            text = "✕" if grid[i, j] == 2 else fnum(acc.iat[i, j])
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=9.5,
                    color="0.1").set_in_layout(False)  # fmt: skip
        ax.set_xlim(0, len(depths))
        ax.set_ylim(len(variants), 0)
        ax.set_xticks(np.arange(len(depths)) + 0.5, [str(d) for d in depths])
        ax.set_yticks(np.arange(len(variants)) + 0.5, [row_label(v, labels[v]) for v in variants])
        ax.tick_params(length=0)
        ax.grid(False)
        ax.set_facecolor("0.96")
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(act)
        ax.set_xlabel("depth")
    fig.legend(
        [Patch(facecolor=colour, edgecolor="none") for _, colour in CLASSES],
        [name for name, _ in CLASSES],
        loc="outside lower center",
        ncols=len(CLASSES),
    )
    seeds = int(cells["seeds"].max())
    steps = sorted(int(s) for s in cells["steps"].unique())
    fig.suptitle(f"{dataset}: which init trains at which depth", fontweight="bold")
    chance = cells["majority_rate"].max()
    caption = (
        f"The seed's question in one picture: the overview study's cells on {dataset} for the "
        f"seed's inits and activations ({plural(len(cells), 'cell')}, "
        f"{plural(seeds, 'seed')} each, {' or '.join(map(str, steps))} steps). Green: trained; "
        f"grey: stalled (in at least half the seeds, train accuracy <= chance + {STALL_MARGIN}, "
        f"or diverged); red ✕: diverged (inf/NaN) in at least half the seeds. The number is the "
        f"median final test accuracy; chance (the majority class) is {fnum(chance)}. Every "
        f"dataset, activation and init: the overview section."
    )
    alt = f"Grid of trained, stalled and diverged cells by init and depth on {dataset}"
    return r.save(fig, "seed-at-a-glance", caption, alt)
