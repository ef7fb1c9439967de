"""Tensor Programs V: under muP the best learning rate stays put as the width grows.

What the paper claims (Yang et al. 2021, section 3 and figure 3; section 4): for an MLP
trained by SGD, the learning rate that minimises the training loss "shifts by roughly an
order of magnitude as the width increases from 256 to 8192" in the standard
parametrization, while under muP it "is stable", and "performance for a fixed learning rate
always weakly improves with width in muP, but not in SP". Appendix J.3: with Adam the
stable rate of SP must fall like 1/width. The mup package's MLP script trains with SGD,
momentum 0.9, batch 64.

The rule, fixed before the runs: each width's optimum is the vertex of a parabola through
the lowest final training loss on the lr grid and its two neighbours (in log2 lr); a
minimum on the grid's edge leaves the optimum unknown (that seed is dropped). Per seed,
the shift is the widest net's optimum minus the narrowest's, in octaves.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect
from ..outcomes import lr_optimum
from ..plotting import grid_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

STAYS = 1.0  # muP: the optimum moves by less than one octave (x2) across the widths
SHIFTS = -1.0  # SP: the optimum falls by more than one octave across the widths
NO_WORSE = 1.05  # muP: the widest net's best loss at most 5% above the narrowest's
COORDINATE_STEPS = 4  # the coordinate check: steps 0 .. 3 (mup's t = 1 .. 4)
STUDIES = ("mup_sgd", "mup_adam")


def optima(runs):
    """Per (optimizer, parametrization, width, seed): the optimal log2 lr (NaN when the
    grid's edge holds the minimum) and the best final train loss (diverged: inf)."""
    runs = runs.assign(
        log2_lr=np.log2(runs["lr"]),
        loss=runs["final_train_loss"].where(
            runs["status"].eq("completed") & np.isfinite(runs["final_train_loss"]), np.inf
        ),
    )
    keys = ["optimizer", "parametrization", "width", "seed"]
    rows = []
    for key, g in runs.groupby(keys):
        log2_lr, best = lr_optimum(g["log2_lr"].to_numpy(), g["loss"].to_numpy())
        rows.append((*key, log2_lr, best))
    return pd.DataFrame(rows, columns=[*keys, "log2_lr_opt", "best_loss"])


def mup_effects(table):
    """Per optimizer: muP's shift within +-STAYS and its widest/narrowest best loss below
    NO_WORSE; SP's shift below SHIFTS. One value per seed."""
    effects = []
    for optimizer, g in table.groupby("optimizer", sort=False):
        narrow, wide = g["width"].min(), g["width"].max()
        for par, p in g.groupby("parametrization"):
            at = p.pivot_table(index="seed", columns="width", values="log2_lr_opt", dropna=False)
            if narrow not in at or wide not in at:
                continue
            shift = (at[wide] - at[narrow]).to_numpy()
            label = f"{optimizer} {par}: optimal log2 lr at width {wide} minus width {narrow}"
            if par == "mup":
                effects += [
                    Effect(label + " (claim: > -1)", tuple(shift), -STAYS, True),
                    Effect(label + " (claim: < 1)", tuple(shift), STAYS, False),
                ]
                loss = p.pivot_table(
                    index="seed", columns="width", values="best_loss", dropna=False
                )
                effects.append(
                    Effect(
                        f"{optimizer} mup: best train loss at width {wide} over width {narrow}",
                        tuple((loss[wide] / loss[narrow]).to_numpy()),
                        NO_WORSE,
                        False,
                    )
                )
            elif par == "sp":
                effects.append(Effect(label, tuple(shift), SHIFTS, False))
    return effects


def coordinate_sizes(layers, runs, lrs):
    """The coordinate check: per (optimizer, parametrization, width, layer, step <
    COORDINATE_STEPS), the RMS of the layer's output (sqrt(mean^2 + std^2) over the batch),
    median over seeds, at one lr per optimizer (``lrs``)."""
    cells = runs.groupby("cell")[["optimizer", "parametrization", "width", "lr"]].first()
    cells = cells[cells["lr"].eq(cells["optimizer"].map(lrs))]
    early = layers[layers["cell"].isin(cells.index) & (layers["step"] < COORDINATE_STEPS)]
    early = early.join(cells, on="cell").assign(
        rms=np.sqrt(early["act_mean"] ** 2 + early["act_std"] ** 2)
    )
    keys = ["optimizer", "parametrization", "width", "layer", "step"]
    return early.groupby(keys, as_index=False)["rms"].median()


@published_claim(
    "mup",
    "muP: the best learning rate transfers across width",
    "Under the maximal update parametrization (muP) the learning rate that minimises the "
    "training loss stays put as the width grows, and wider nets are no worse at it; under the "
    "standard parametrization it shifts to smaller rates (for SGD and, more strongly, Adam).",
    "Yang et al. 2021, 'Tensor Programs V: Tuning Large Neural Networks via Zero-Shot "
    "Hyperparameter Transfer' (section 3, figure 3; appendix J.3); the coordinate check of "
    "the mup package.",
    STUDIES,
    partial=True,
)
def check_mup(results):
    runs = results.rows("runs", *STUDIES)
    runs = runs[runs["parametrization"].isin(["sp", "mup"])]
    if runs["width"].nunique() < 2 or runs["lr"].nunique() < 3:
        raise NotTestable("the muP studies need two or more widths and three or more lrs")
    table = optima(runs)
    effects = mup_effects(table)
    if not effects:
        raise NotTestable("the muP studies lack SP and muP runs at two widths")
    edge = table["log2_lr_opt"].isna().sum()
    summary = table.groupby(["optimizer", "parametrization", "width"])[
        ["log2_lr_opt", "best_loss"]
    ].median()
    rows = [
        (
            f"{opt} {par}: optimal lr by width (median over seeds)",
            ", ".join(f"{w}: 2^{gnum(v, 3)}" for (_, _, w), v in g["log2_lr_opt"].items()),
        )
        for (opt, par), g in summary.groupby(level=[0, 1], sort=False)
    ]
    if edge:
        rows.append(("Runs whose best lr lay on the grid's edge (dropped)", str(edge)))
    budget = ", ".join(
        f"{o}: {s} steps" for o, s in runs.groupby("optimizer")["steps"].max().items()
    )
    check_lr = coordinate_check_lrs(table, runs)
    layers = results.rows(
        "layers", *STUDIES, columns=("cell", "seed", "step", "layer", "act_mean", "act_std")
    )
    coords = coordinate_sizes(layers, runs, check_lr)
    curves = runs.assign(
        log2_lr=np.log2(runs["lr"]),
        loss=runs["final_train_loss"].where(runs["status"].eq("completed")),
    ).groupby(["optimizer", "parametrization", "width", "log2_lr"], as_index=False)["loss"]
    curves = curves.median()
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    caption = (
        "Left pair: final training loss against log2 learning rate, one line per width (median "
        "over seeds; dotted: each width's optimum), under SP and muP, per optimizer. Right "
        f"pair: muP's coordinate check - the RMS size of each layer's output at steps 0 to "
        f"{COORDINATE_STEPS - 1} (faint to solid) against width, at the lr nearest muP's "
        f"optimum at the base width; flat lines mean the updates keep every layer's "
        f"coordinates the same size at every width."
    )
    return Evidence(
        effects,
        rows,
        method=(
            "Per optimizer, parametrization, width and seed: the final training loss over "
            "the lr grid (a diverged run counts as infinite); the optimum is the vertex of the "
            "parabola through the lowest loss and its two neighbours in log2 lr (a minimum on "
            "the grid's edge drops that seed). Per seed, the shift is the widest net's optimum "
            "minus the narrowest's, in octaves; muP's best loss is compared as widest over "
            "narrowest."
        ),
        notes=(
            f"muP's base width is the narrowest width, where muP and SP coincide. Budget: {budget}."
        ),
        figure=Figure(
            partial(plot, table, summary, curves, coords, check_lr, optimizers),
            caption,
            ncols=4,
            nrows=len(optimizers),
            size=(15.0, 3.6 * len(optimizers)),
        ),
    )


def coordinate_check_lrs(table, runs):
    """Per optimizer: the grid's lr nearest muP's median optimum at the base width."""
    base = table[table["parametrization"].eq("mup") & table["width"].eq(table["width"].min())]
    grid = np.log2(np.sort(runs["lr"].unique()))
    return {
        opt: float(2 ** grid[np.argmin(np.abs(grid - np.nanmedian(g["log2_lr_opt"])))])
        for opt, g in base.groupby("optimizer")
        if g["log2_lr_opt"].notna().any()
    }


def plot(table, summary, curves, coords, check_lr, optimizers, fig, axes):
    """Per optimizer: loss against lr under SP and muP, and muP's coordinate check."""
    widths = sorted(table["width"].unique())
    palette = dict(zip(widths, sns.color_palette("viridis", len(widths))))
    for row, opt in enumerate(optimizers):
        for col, par in enumerate(["sp", "mup"]):
            ax = axes[row, col]
            c = curves[curves["optimizer"].eq(opt) & curves["parametrization"].eq(par)]
            for w, g in c.groupby("width"):
                ax.plot(g["log2_lr"], g["loss"], marker=".", color=palette[w], label=w)
                best = summary.loc[(opt, par, w)] if (opt, par, w) in summary.index else None
                if best is not None and np.isfinite(best["log2_lr_opt"]):
                    ax.axvline(best["log2_lr_opt"], color=palette[w], lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_xlabel("log2 learning rate")
            ax.set_ylabel("final train loss (median)")
            ax.set_title(f"{opt}, {par.upper() if par == 'sp' else 'muP'}")
            ax.legend(title="width", fontsize=7)
            ax = axes[row, 2 + col]
            k = coords[coords["optimizer"].eq(opt) & coords["parametrization"].eq(par)]
            for (layer, step), g in k.groupby(["layer", "step"]):
                ax.plot(
                    g["width"],
                    g["rms"],
                    marker="o",
                    ms=3,
                    color=sns.color_palette()[int(layer) % 10],
                    alpha=0.35 + 0.65 * step / (COORDINATE_STEPS - 1),
                    label=f"layer {int(layer)}" if step == 0 else None,
                )
            grid_axis(ax, widths)
            ax.set_yscale("log")
            ax.set_xlabel("width")
            ax.set_ylabel("coordinate size (RMS)")
            lr = check_lr.get(opt)
            ax.set_title(
                f"coordinate check, {opt} {'SP' if par == 'sp' else 'muP'}, "
                f"lr {gnum(lr, 2) if lr else '?'}",
                fontsize=8,
            )
            ax.legend(fontsize=6)
