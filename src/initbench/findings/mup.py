"""Tensor Programs V: under muP the best learning rate stays put as the width grows.

What the paper claims (Yang et al. 2021, section 3 and figure 3; section 4): for an MLP
trained by SGD, the learning rate that minimises the training loss "shifts by roughly an
order of magnitude as the width increases from 256 to 8192" in the standard
parametrization, while under muP it "is stable", and "performance for a fixed learning rate
always weakly improves with width in muP, but not in SP". Appendix J.3: with Adam the
stable rate of SP must fall like 1/width. The mup package's MLP script (examples/MLP, "the
script we use in the MLP experiment in our paper") trains with SGD, momentum 0.9, batch 64,
for 20 epochs, its readout initialised to zero in SP and muP alike (the studies' ``readout:
zero``; the package's README recommends it, so that no width starts with a head start).

The rule, fixed before the runs. Each width's optimum is the vertex of a parabola through
the lowest final training loss on the lr grid and its two neighbours (in log2 lr). Per
seed, the shift is the widest net's optimum minus the narrowest's, in octaves: muP's fall
(narrowest minus widest) and rise (widest minus narrowest) each below one octave, SP's fall
above one.
- Old rule: a minimum on the grid's edge left the optimum unknown, and that seed was dropped.
- New rule: it is the edge's log2 lr as a bound (the optimum at most the lowest lr, at
  least the highest; no finite loss: below the grid), and the seed's fall or rise enters as
  a censored lower bound (-inf where it has none): it can only fail muP's effects and only
  hold SP's, so a muP failure cannot hide beyond the grid.
The passage followed: section 3's "the optimal learning rate ... is stable" against "shifts
by roughly an order of magnitude" (figure 3), read per seed from the optimum, wherever it
lies. Each horizon (optimizer and steps) is judged on its own: 100 steps (1.6 epochs of
mnist1d) tests early-training transfer; the paper tier adds SGD for 1250 steps at widths
64, 256 and 1024 and 8 rates, on 40,000 rows of MNIST-1D (2 epochs: ``mnist1d_40k``).
- Old long horizon: 1250 steps on mnist1d's 4000 rows (20 epochs, the mup package's
  budget). The widest nets memorised them (best final train loss 0.0014 under SP, 0.0024
  under muP at width 512): the train loss no longer separated the lrs, and SP's fall,
  0.01 [-0.47, 0.49] octaves, measured where memorising is best, not the paper's optimum.
- New long horizon, fixed before its run: the same steps, rule and quantity (the final
  training loss, as the paper's figure 3) on a set a width-512 MLP cannot memorise in
  1250 steps, as the paper's 20 epochs of CIFAR-10 are far from memorised; the lr grid
  and seeds from a pilot (seeds 100-101).
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
SHIFTS = 1.0  # SP: the optimum falls by more than one octave across the widths
NO_WORSE = 1.05  # muP: the widest net's best loss at most 5% above the narrowest's
COORDINATE_STEPS = 4  # the coordinate check: steps 0 .. 3 (mup's t = 1 .. 4)
STUDIES = ("mup_sgd", "mup_adam", "mup_sgd_long")  # mup_sgd_long: the paper tier only
KEYS = ["horizon", "parametrization", "width", "seed"]


def optima(runs):
    """Per (horizon, parametrization, width, seed): the optimal log2 lr, its side (0 inside
    the grid, -1 at most the lowest lr, +1 at least the highest) and the best final train
    loss (diverged: inf). The horizon: "<optimizer>, <steps> steps"; the shortest first,
    SGD (the paper's figure 3) before Adam."""
    order = runs.assign(adam=runs["optimizer"].ne("sgd"))[["steps", "adam"]]
    runs = runs.loc[order.sort_values(["steps", "adam"], kind="stable").index]
    runs = with_horizon(runs).assign(
        log2_lr=np.log2(runs["lr"]),
        loss=runs["final_train_loss"].where(
            runs["status"].eq("completed") & np.isfinite(runs["final_train_loss"]), np.inf
        ),
    )
    rows = [
        (*key, *lr_optimum(g["log2_lr"].to_numpy(), g["loss"].to_numpy()))
        for key, g in runs.groupby(KEYS, sort=False)
    ]
    table = pd.DataFrame(rows, columns=[*KEYS, "log2_lr_opt", "best_loss", "side"])
    rank = table["horizon"].map({h: i for i, h in enumerate(dict.fromkeys(table["horizon"]))})
    return table.iloc[np.lexsort([table["seed"], table["width"], table["parametrization"], rank])]


def with_horizon(runs):
    """``runs`` with a ``horizon`` column, "<optimizer>, <steps> steps"."""
    return runs.assign(horizon=runs["optimizer"] + ", " + runs["steps"].astype(str) + " steps")


def shift_bounds(at, narrow, wide):
    """Per seed: the (lowest, highest) possible shift, widest optimum minus narrowest, in
    octaves, from optima and sides (``at``: seed x (value or side, width))."""
    w, n = at["log2_lr_opt"][wide], at["log2_lr_opt"][narrow]
    sw, sn = at["side"][wide], at["side"][narrow]
    lowest = w.where(sw >= 0, -np.inf) - n.where(sn <= 0, np.inf)
    highest = w.where(sw <= 0, np.inf) - n.where(sn >= 0, -np.inf)
    return lowest.to_numpy(), highest.to_numpy()


def bound_effect(label, lower, exact, threshold, above):
    """An effect on per-seed lower bounds: censored where the seed's value is not exact."""
    return Effect(label, tuple(lower), threshold, above, censored=tuple(~exact))


def mup_effects(table):
    """Per horizon: muP's fall and rise of the optimum below STAYS and its widest/narrowest
    best loss below NO_WORSE; SP's fall above SHIFTS. One value per seed, none dropped."""
    effects = []
    for horizon, g in table.groupby("horizon", sort=False):
        narrow, wide = g["width"].min(), g["width"].max()
        for par, p in g.groupby("parametrization"):
            at = p.pivot_table(
                index="seed", columns="width", values=["log2_lr_opt", "side"], dropna=False
            )
            if narrow == wide or (wide not in at["side"]) or (narrow not in at["side"]):
                continue
            lowest, highest = shift_bounds(at, narrow, wide)
            exact = lowest == highest
            moved = f"of the optimal log2 lr from width {narrow} to {wide}"
            if par == "mup":
                effects += [
                    bound_effect(f"{horizon} mup: fall {moved}", -highest, exact, STAYS, False),
                    bound_effect(f"{horizon} mup: rise {moved}", lowest, exact, STAYS, False),
                ]
                loss = p.pivot_table(
                    index="seed", columns="width", values="best_loss", dropna=False
                )
                with np.errstate(invalid="ignore"):
                    ratio = (loss[wide] / loss[narrow]).to_numpy()
                effects.append(
                    Effect(
                        f"{horizon} mup: best train loss at width {wide} over width {narrow}",
                        tuple(ratio),
                        NO_WORSE,
                        False,
                    )
                )
            elif par == "sp":
                effects.append(
                    bound_effect(f"{horizon} sp: fall {moved}", -highest, exact, SHIFTS, True)
                )
    return effects


def coordinate_sizes(layers, runs, lrs):
    """The coordinate check: per (horizon, parametrization, width, layer, step <
    COORDINATE_STEPS), the RMS of the layer's output (sqrt(mean^2 + std^2) over the batch),
    median over seeds, at one lr per horizon (``lrs``)."""
    columns = ["horizon", "parametrization", "width", "lr"]
    cells = with_horizon(runs).groupby("cell")[columns].first()
    cells = cells[cells["lr"].eq(cells["horizon"].map(lrs))]
    early = layers[layers["cell"].isin(cells.index) & (layers["step"] < COORDINATE_STEPS)]
    early = early.join(cells, on="cell").assign(
        rms=np.sqrt(early["act_mean"] ** 2 + early["act_std"] ** 2)
    )
    keys = ["horizon", "parametrization", "width", "layer", "step"]
    return early.groupby(keys, as_index=False)["rms"].median()


def edge_rows(table):
    """Per horizon and parametrization: how many optima lay on the grid's edge (kept as
    bounds), and on which; and the seeds whose two widths diverged at every lr."""
    rows = []
    for (horizon, par), g in table.groupby(["horizon", "parametrization"], sort=False):
        low, high = int(g["side"].eq(-1).sum()), int(g["side"].eq(1).sum())
        if low or high:
            rows.append(
                (
                    f"{horizon} {par}: optima on the grid's edge (kept as bounds)",
                    f"{low + high} of {len(g)} (lowest lr: {low}, highest: {high})",
                )
            )
        dead = g[g["width"].isin([g["width"].min(), g["width"].max()])]
        dead = dead.groupby("seed")["best_loss"].apply(lambda v: np.isinf(v).all()).sum()
        if par == "mup" and dead:
            rows.append((f"{horizon} mup: seeds diverged at every lr at both widths (no loss "
                         "ratio)", str(int(dead))))  # fmt: skip
    return rows


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
    keys = ["horizon", "parametrization", "width"]
    summary = table.groupby(keys, sort=False)[["log2_lr_opt", "best_loss"]].median()
    rows = [
        (
            f"{horizon} {par}: optimal lr by width (median over seeds, edges as bounds)",
            ", ".join(f"{w}: 2^{gnum(v, 3)}" for (_, _, w), v in g["log2_lr_opt"].items()),
        )
        for (horizon, par), g in summary.groupby(level=[0, 1], sort=False)
    ]
    rows += [  # how far from its floor each horizon trains: an optimum near it is noisy
        (
            f"{horizon} {par}: best final train loss by width (median over seeds)",
            ", ".join(f"{w}: {gnum(v, 3)}" for (_, _, w), v in g["best_loss"].items()),
        )
        for (horizon, par), g in summary.groupby(level=[0, 1], sort=False)
    ]
    rows += edge_rows(table)
    horizons = list(dict.fromkeys(table["horizon"]))
    batch = ", ".join(str(b) for b in sorted(runs["batch_size"].unique()))
    check_lr = coordinate_check_lrs(table, runs)
    layers = results.rows(
        "layers", *STUDIES, columns=("cell", "seed", "step", "layer", "act_mean", "act_std")
    )
    coords = coordinate_sizes(layers, runs, check_lr)
    curves = (
        with_horizon(runs)
        .assign(
            log2_lr=np.log2(runs["lr"]),
            loss=runs["final_train_loss"].where(runs["status"].eq("completed")),
        )
        .groupby([*keys, "log2_lr"], as_index=False)["loss"]
    )
    curves = curves.median()
    caption = (
        "Left pair: final training loss against log2 learning rate, one line per width (median "
        "over seeds; dotted: each width's optimum), under SP and muP, per optimizer and "
        "horizon. Right pair: muP's coordinate check - the RMS size of each layer's output at "
        f"steps 0 to {COORDINATE_STEPS - 1} (faint to solid) against width, at the lr nearest "
        "muP's optimum at the base width; flat lines mean the updates keep every layer's "
        "coordinates the same size at every width (a zero readout is 0 at step 0)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            "Per horizon (optimizer and steps), parametrization, width and seed: the final "
            "training loss over the lr grid (a diverged run counts as infinite); the optimum "
            "is the vertex of the parabola through the lowest loss and its two neighbours in "
            "log2 lr. A minimum on the grid's edge is kept as a bound (the optimum at most the "
            "lowest lr, at least the highest; no finite loss: below the grid), and the seed's "
            "fall or rise as a censored lower bound (-inf where it has none): it can fail "
            "muP's effects and hold SP's, never the reverse. Per seed, the fall is the "
            "narrowest net's optimum minus the widest's, the rise its negative, in octaves; "
            "muP's best loss is compared as widest over narrowest."
        ),
        notes=(
            "muP's base width is the narrowest width, where muP and SP coincide; the readout "
            "starts at zero in SP and muP alike (the mup package's MLP example). The verdict "
            f"holds for the horizons measured, batch {batch}: {'; '.join(horizons)} (100 steps "
            "of mnist1d's 4000 rows: 1.6 epochs, early-training transfer; 1250 steps on "
            "40,000 rows: 2 epochs, a long horizon short of memorising; the paper trains 20 "
            "epochs of CIFAR-10)."
            + (
                " An optimum on the grid's edge bounds its effects on one side only: a wider "
                "lr grid would decide them."
                if table["side"].ne(0).any()
                else ""
            )
        ),
        figure=Figure(
            partial(plot, table, summary, curves, coords, check_lr, horizons),
            caption,
            ncols=4,
            nrows=len(horizons),
            size=(15.0, 3.6 * len(horizons)),
        ),
    )


def coordinate_check_lrs(table, runs):
    """Per horizon: its grid's lr nearest muP's median optimum at the base width."""
    runs = with_horizon(runs)
    lrs = {}
    for horizon, g in table[table["parametrization"].eq("mup")].groupby("horizon"):
        base = g[g["width"].eq(g["width"].min())]["log2_lr_opt"]
        grid = np.log2(np.sort(runs.loc[runs["horizon"].eq(horizon), "lr"].unique()))
        lrs[horizon] = float(2 ** grid[np.argmin(np.abs(grid - base.median()))])
    return lrs


def plot(table, summary, curves, coords, check_lr, horizons, fig, axes):
    """Per horizon: loss against lr under SP and muP, and muP's coordinate check."""
    axes = np.atleast_2d(axes)  # one horizon: one row of axes
    widths = sorted(table["width"].unique())
    palette = dict(zip(widths, sns.color_palette("viridis", len(widths))))
    for row, opt in enumerate(horizons):
        for col, par in enumerate(["sp", "mup"]):
            ax = axes[row, col]
            c = curves[curves["horizon"].eq(opt) & curves["parametrization"].eq(par)]
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
            k = coords[coords["horizon"].eq(opt) & coords["parametrization"].eq(par)]
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
