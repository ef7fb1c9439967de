"""Schoenholz et al. 2017: networks train only up to a depth of about 6 xi_c.

xi_c = -1/ln(chi_c) is the depth scale of the correlation map (theory.depth_scale): chi_c
is chi1 in the ordered phase and is taken at the correlation fixed point c* < 1 in the
chaotic one. The predictor "trainable iff depth <= 6 xi_c" is judged by balanced accuracy
against a null predictor that knows only the depth, and only once training has run long
enough for the trainable region to stop growing.
"""

import math

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..outcomes import STALL_MARGIN, progress_at, stalled_cells, with_mean_field_params
from ..plotting import cell_edges, heatmap
from ..text import gnum
from ..theory import depth_scale
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

XI_FACTOR = 6  # trainable depth ~ 6 xi_c
MIN_BALANCED = 0.8  # 6 xi_c must sort trained from stalled cells at least this well
MIN_LIFT = 0.1  # ... and beat the best depth-only predictor by at least this
GROWTH_TOL = 0.05  # plateau: at most this share of cells became trainable in the second half


def balanced_accuracy(predicted, actual):
    """Mean of the true-positive and true-negative rates (NaN if a class is empty)."""
    predicted, actual = np.asarray(predicted, bool), np.asarray(actual, bool)
    if actual.all() or not actual.any():
        return math.nan
    return ((predicted & actual).sum() / actual.sum()
            + (~predicted & ~actual).sum() / (~actual).sum()) / 2  # fmt: skip


def depth_only(depth, trained):
    """The best balanced accuracy of any rule "trainable iff depth <= D" (or >= D), D
    chosen with hindsight: what knowing the depth alone can do."""
    depth = np.asarray(depth)
    scores = [balanced_accuracy(rule, trained) for d in np.unique(depth)
              for rule in (depth <= d, depth >= d)]  # fmt: skip
    return max(scores, default=math.nan)


def trainable_cells(runs, curves, step):
    """Per cell: made progress by ``step`` in at least half its seeds."""
    return progress_at(runs, curves, step).groupby(runs["cell"]).mean() >= 0.5


@published_claim(
    "depth_scale",
    "Mean field: trainable depth is about 6 xi_c",
    "Networks train only up to a depth of about 6 xi_c, where xi_c = -1/ln(chi_c) is the "
    "depth scale of signal propagation (chi_c at the correlation fixed point c*; chi1 in the "
    "ordered phase); at the edge of chaos any depth trains.",
    "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, 'Deep information propagation' (figure 5).",
    ["mean_field"],
)
def check_depth_scale(claim, results):
    runs = with_mean_field_params(results.rows("runs", "mean_field"))
    curves = results.rows("curves", "mean_field")
    if runs["depth"].nunique() < 2:
        raise NotTestable("the mean_field study has a single depth")
    cells = runs.groupby("cell")[["activation", "sigma_w2", "sigma_b2", "depth", "steps"]].first()
    cells = cells.assign(
        trained=~stalled_cells(runs), accuracy=runs.groupby("cell")["final_test_accuracy"].median()
    )
    setups = list(cells[["activation", "sigma_w2", "sigma_b2"]].itertuples(index=False, name=None))
    limits = {setup: XI_FACTOR * depth_scale(*setup) for setup in set(setups)}
    cells["limit"] = [limits[s] for s in setups]
    cells["predicted"] = cells["depth"] <= cells["limit"]
    steps = int(cells["steps"].min())
    logged = np.sort(curves["step"].unique())
    half = int(logged[logged <= steps / 2].max())
    earlier = trainable_cells(runs, curves, half).reindex(cells.index, fill_value=False)
    joined = int((cells["trained"] & ~earlier).sum())
    score = balanced_accuracy(cells["predicted"], cells["trained"])
    null = depth_only(cells["depth"], cells["trained"])
    n_trained = int(cells["trained"].sum())
    if joined > GROWTH_TOL * len(cells):
        verdict, why = (
            INCONCLUSIVE,
            (
                f"the trainable region was still growing: {joined} of {len(cells)} cells became "
                f"trainable between step {half} and {steps}; train for at least {2 * steps} steps"
            ),
        )
    elif math.isnan(score):
        verdict, why = (
            INCONCLUSIVE,
            (
                f"{n_trained} of {len(cells)} cells trained: with one outcome only, no predictor "
                "can be judged; widen the depth or sigma_w^2 range"
            ),
        )
    elif score >= MIN_BALANCED and score - null >= MIN_LIFT:
        verdict, why = REPRODUCED, "6 xi_c sorts the cells and beats depth alone"
    else:
        verdict, why = NOT_REPRODUCED, (
            "6 xi_c sorts the cells no better than required" if score < MIN_BALANCED
            else "6 xi_c does not beat the depth-only predictor by enough"
        )  # fmt: skip
    measured = [
        ("Balanced accuracy of 'trains iff depth <= 6 xi_c'", gnum(score, 3)),
        ("Best depth-only predictor's balanced accuracy", gnum(null, 3)),
        ("Cells trained (of all)", f"{n_trained} of {len(cells)}"),
        (f"Cells that became trainable after step {half} (of {steps})", str(joined)),
    ] + [
        (f"{a}, sigma_b2 {b:g}, sigma_w2 {w:g}: 6 xi_c; trained depths",
         f"{gnum(g['limit'].iloc[0], 3)}; "
         + (", ".join(map(str, sorted(g.loc[g["trained"], "depth"]))) or "none"))
        for (a, b, w), g in cells.groupby(["activation", "sigma_b2", "sigma_w2"])
    ]  # fmt: skip
    rule = (
        f"A cell trained unless it stalled in at least half its seeds (diverged, or final train "
        f"accuracy <= majority rate + {STALL_MARGIN}). Reproduced if 'trains iff depth <= "
        f"{XI_FACTOR} xi_c' has a balanced accuracy >= {MIN_BALANCED} and beats the best "
        f"predictor that knows only the depth (trains iff depth <= D or >= D, D chosen with "
        f"hindsight) by >= {MIN_LIFT}; otherwise not reproduced. Inconclusive while the "
        f"trainable region grows: more than {GROWTH_TOL:.0%} of the cells joining it between "
        f"half the steps and the end. Here: {why}."
    )
    groups = list(cells.groupby(["activation", "sigma_b2"]))

    def plot(fig, axes):
        for ax, ((act, sb2), g) in zip(axes, groups):
            mesh = draw_grid(ax, g)
            ax.set_title(f"{act}, sigma_b2 {sb2:g}: median test accuracy")
        fig.colorbar(mesh, ax=list(axes), label="median final test accuracy")

    figure = results.draw(claim, plot, ncols=len(groups), size=(6.8 * len(groups) + 1.2, 4.4))
    wrong = int((cells["predicted"] != cells["trained"]).sum())
    caption = (
        f"Median final test accuracy over depth x sigma_w^2 with the curve depth = {XI_FACTOR} "
        f"xi_c (white); red boxes mark cells whose outcome (trained or stalled) disagrees with "
        f"the curve: {wrong} of {len(cells)}. Balanced accuracy {gnum(score, 3)} against "
        f"{gnum(null, 3)} for depth alone."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


def draw_grid(ax, cells):
    """Accuracy on the real (sigma_w2, depth) grid, the 6 xi_c curve over it, and red
    boxes round the cells whose outcome disagrees with the curve."""
    grid = cells.pivot_table(index="depth", columns="sigma_w2", values="accuracy")
    sw2, depths = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    x_edges, y_edges = cell_edges(sw2), cell_edges(depths, log=True)
    mesh = heatmap(ax, grid, "viridis", Normalize(0, 1), ".2f", fontsize=7,
                   x_edges=x_edges, y_edges=y_edges)  # fmt: skip
    wrong = cells.loc[cells["predicted"] != cells["trained"], ["sigma_w2", "depth"]]
    for w, depth in wrong.to_numpy():
        i, j = np.searchsorted(sw2, w), np.searchsorted(depths, depth)
        width, height = x_edges[i + 1] - x_edges[i], y_edges[j + 1] - y_edges[j]
        box = Rectangle((x_edges[i], y_edges[j]), width, height, fill=False, ec="red", lw=2)
        ax.add_patch(box)
    act, sb2 = cells["activation"].iloc[0], cells["sigma_b2"].iloc[0]
    fine = np.linspace(x_edges[0], x_edges[-1], 80)
    curve = np.minimum([XI_FACTOR * depth_scale(act, w, sb2) for w in fine], 10 * y_edges[-1])
    halo = [patheffects.withStroke(linewidth=4, foreground="black")]
    ax.plot(fine, curve, color="white", lw=2, path_effects=halo)
    ax.set_yscale("log")
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(depths, [f"{d:g}" for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("depth (weight layers)")
    handles = [
        Line2D([], [], color="white", lw=2, label=f"depth = {XI_FACTOR} xi_c", path_effects=halo),
        Patch(fill=False, edgecolor="red", lw=2, label="outcome disagrees with the curve"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2,
              frameon=False)  # fmt: skip
    return mesh
