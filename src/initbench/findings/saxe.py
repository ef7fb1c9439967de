"""Saxe et al. 2013: in deep linear nets, orthogonal init makes learning time depth-independent."""

from functools import partial

import numpy as np
import seaborn as sns
from matplotlib.ticker import ScalarFormatter

from ..effects import Effect
from ..outcomes import median_curve
from ..plotting import step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

LEARNED = 0.9  # Saxe: learned once 90% of the way from the initial loss to the floor
FLAT = 2.0  # orthogonal: learning times over depth within this factor
GROWTH = 2.0  # Gaussian: learning time at the deepest net at least this x the shallowest
GAUSSIAN_SCHEMES = ("lecun_normal", "xavier_normal", "he_normal", "normal", "mean_field")


def learning_times(curves):
    """Per (cell, seed): first logged step whose train loss is LEARNED of the way to the floor.

    The floor is the lowest train loss any run of the study reached: the teacher is
    nonlinear, so a linear net cannot go below about it. inf where the run never got there.
    """
    floor = curves["train_loss"][np.isfinite(curves["train_loss"])].min()
    curves = curves.sort_values("step")
    start = curves[curves["step"].eq(0)].set_index(["cell", "seed"])["train_loss"]
    target = floor + (1 - LEARNED) * (start - floor)
    c = curves.join(target.rename("target"), on=["cell", "seed"])
    reached = c[c["train_loss"] <= c["target"]].groupby(["cell", "seed"])["step"].min()
    times = reached.astype(float).reindex(start.index, fill_value=np.inf)
    return times.rename("time"), floor


@published_claim(
    "saxe",
    "Saxe et al.: orthogonal init makes learning time independent of depth",
    "In deep linear networks trained at a learning rate proportional to 1/depth, learning time "
    "with random orthogonal init is nearly independent of depth; with scaled Gaussian init it "
    "grows with depth.",
    "Saxe, McClelland & Ganguli 2013, 'Exact solutions to the nonlinear dynamics of learning "
    "in deep linear neural networks'.",
    ["saxe"],
)
def check_saxe(results):
    curves = results.rows("curves", "saxe")
    curves = curves[curves["activation"].eq("linear")]
    times, floor = learning_times(curves)
    cells = curves.groupby("cell")[["scheme", "init", "depth", "lr"]].first()
    table = cells.join(times.groupby("cell").median())
    rates = sorted(set(zip(cells["depth"], cells["lr"])))
    by_depth = ", ".join(f"{d}: {lr:g}" for d, lr in rates)
    if not np.allclose([d * lr for d, lr in rates], rates[0][0] * rates[0][1], rtol=1e-9):
        raise NotTestable(
            "the claim holds at learning rates proportional to 1/depth, and the saxe study's "
            f"rates are not (set lr_scaling: inverse_depth); rates by depth: {by_depth}"
        )
    orthogonal = table[table["scheme"].eq("orthogonal")].sort_values("depth")
    gaussian = table[table["scheme"].isin(GAUSSIAN_SCHEMES)].sort_values("depth")
    if orthogonal["depth"].nunique() < 2 or gaussian["depth"].nunique() < 2:
        raise NotTestable(
            "the saxe study lacks linear nets of two or more depths with "
            "orthogonal and with Gaussian init"
        )
    effects = saxe_effects(cells, times, int(curves["step"].max()))
    rows = [("Loss floor (lowest train loss in the study)", gnum(floor, 3))] + [
        (
            f"{init}: learning time (steps, median over seeds) by depth",
            ", ".join(
                f"{d}: {gnum(t, 3) if np.isfinite(t) else 'never'}"
                for d, t in zip(g["depth"], g["time"])
            ),
        )
        for init, g in table.sort_values("depth").groupby("init")
    ]
    spread = orthogonal["time"].max() / orthogonal["time"].min()
    growth = {init: g["time"].iloc[-1] / g["time"].iloc[0] for init, g in gaussian.groupby("init")}
    caption = (
        f"Left: steps until the loss is {LEARNED:.0%} of the way to the floor ({gnum(floor, 3)}), "
        f"median over seeds, per depth (missing points: never reached). Right: the remaining "
        f"loss fraction during training for the shallowest and deepest nets (dotted: the "
        f"threshold). Orthogonal slowest/fastest {gnum(spread, 3)}; Gaussian deepest/shallowest "
        + ", ".join(f"{k} {gnum(v, 3)}" for k, v in growth.items())
        + "."
    )
    scaled = ", ".join(sorted({f"{d * lr:g}" for d, lr in rates}))
    return Evidence(
        effects,
        rows,
        method=(
            f"Learning time: the first logged step where the train loss has come {LEARNED:.0%} "
            f"of the way from its initial value to the floor (the lowest train loss of any run "
            f"in the study; a run that never gets there counts as the budget, a lower bound). "
            f"Per seed: log2 of the orthogonal nets' slowest over fastest learning time across "
            f"depths, and of each Gaussian init's deepest over shallowest."
        ),
        notes=(
            f"Setting that decides it: the learning rate scales as 1/depth (lr x depth = "
            f"{scaled}), as Saxe et al. compare depths; rates by depth: {by_depth}."
        ),
        figure=Figure(partial(plot, curves, table, floor), caption, ncols=2, size=(10.5, 3.8)),
    )


def plot(curves, table, floor, fig, axes):
    """Left: learning time against depth per init; right: the remaining loss fraction."""
    curves = curves.join(
        curves[curves["step"].eq(0)].set_index(["cell", "seed"])["train_loss"].rename("start"),
        on=["cell", "seed"],
    )
    curves["progress"] = (curves["train_loss"] - floor) / (curves["start"] - floor)
    depths = sorted(table["depth"].unique())
    ends = [depths[0], depths[-1]]
    line = median_curve(curves[curves["depth"].isin(ends)], ["init", "depth"], "progress")
    palette = dict(zip(sorted(table["init"].unique()), sns.color_palette()))
    last = int(curves["step"].max())
    for init, g in table.sort_values("depth").groupby("init"):
        reached = np.isfinite(g["time"])
        axes[0].plot(
            g.loc[reached, "depth"], g.loc[reached, "time"], marker="o", color=palette[init]
        )
        if not reached.all():
            axes[0].scatter(
                g.loc[~reached, "depth"],
                [last] * int((~reached).sum()),
                marker="^",
                s=60,
                color=palette[init],
                label=f"{init}: not reached (drawn at step {last})",
            )
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].xaxis.set_major_formatter(ScalarFormatter())
    axes[0].set_xlabel("depth (weight layers)")
    axes[0].set_ylabel("learning time (steps, median over seeds)")
    axes[0].set_title("learning time against depth")
    sns.lineplot(
        line, x="step", y="progress", hue="init", style="depth", palette=palette, ax=axes[1]
    )
    axes[1].axhline(1 - LEARNED, color="grey", ls=":", lw=1)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("(loss - floor) / (initial - floor)")
    axes[1].set_title(f"depth {ends[0]} and {ends[-1]}")
    step_axis(axes[1])
    handles, labels = axes[1].get_legend_handles_labels()
    axes[1].get_legend().remove()
    extra = axes[0].get_legend_handles_labels()
    fig.legend(handles + extra[0], labels + extra[1], loc="outside right upper", frameon=False)


def saxe_effects(cells, times, budget):
    """Per seed: log2 slowest / fastest orthogonal learning time over depths (claim: below
    log2 FLAT), and log2 deepest / shallowest per Gaussian init (claim: above log2 GROWTH);
    a never-reached time is the budget, censored."""
    runs = cells.join(times.reset_index("seed"), how="inner").reset_index()
    runs["censored"] = ~np.isfinite(runs["time"])
    runs["time"] = runs["time"].where(~runs["censored"], budget).clip(lower=1)
    effects = []
    ortho = runs[runs["scheme"].eq("orthogonal")]
    spread = ortho.groupby("seed").apply(
        lambda g: (np.log2(g["time"].max() / g["time"].min()), g["censored"].any()),
        include_groups=False,
    )
    effects.append(
        Effect(
            "orthogonal: log2 slowest / fastest learning time over depths",
            tuple(v for v, _ in spread),
            float(np.log2(FLAT)),
            False,
            censored=tuple(c for _, c in spread),
        )
    )
    for init, g in runs[runs["scheme"].isin(GAUSSIAN_SCHEMES)].groupby("init"):
        shallow, deep = g["depth"].min(), g["depth"].max()
        at = {d: g[g["depth"].eq(d)].set_index("seed") for d in (shallow, deep)}
        ratio = np.log2(at[deep]["time"] / at[shallow]["time"])
        seeds = len(ratio)  # a shallow time never reached bounds the ratio from neither side
        ratio = ratio[~at[shallow]["censored"].reindex(ratio.index, fill_value=True)].dropna()
        censored = at[deep]["censored"].reindex(ratio.index, fill_value=False)  # lower bounds
        effects.append(
            Effect(
                f"{init}: log2 learning time at depth {deep} over depth {shallow}",
                tuple(ratio),
                float(np.log2(GROWTH)),
                True,
                censored=tuple(censored),
                missing=seeds - len(ratio),
            )
        )
    return effects
