"""Saxe et al. 2013: in deep linear nets, orthogonal init makes learning time depth-independent.

Old rule: orthogonal slowest / fastest time over depths < 2x; Gaussian deepest / shallowest > 2x.
New rule: Gaussian / orthogonal time, deepest over shallowest > 2x; orthogonal spread < 2x.
Both per seed, a never-reached target counted at the budget (censored). The old Gaussian
effect partly measured LeCun init's head start at depth 2 from its 10 -> 32 input layer
(variance 1/10, where the semi-orthogonal layer keeps the norm); dividing by orthogonal at
the same depth cancels it. The passage followed (section 3, on figure 6A left): "the
discrepancy in learning times between the scaled Gaussian initialization and the orthogonal
or pre-training initializations is modest for the depths of around 6 ... but is magnified
at larger depths".
"""

from functools import partial

import numpy as np
import seaborn as sns
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..effects import Effect
from ..outcomes import median_curve
from ..plotting import step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

LEARNED = 0.9  # Saxe: learned once 90% of the way from the initial loss to the floor
FLAT = 2.0  # orthogonal: learning times over depth within this factor
GROWTH = 2.0  # Gaussian / orthogonal learning time: at least this x larger deepest than shallowest
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
    "grows with depth, so the Gaussian init's lag behind orthogonal grows with depth.",
    "Saxe, McClelland & Ganguli 2013, 'Exact solutions to the nonlinear dynamics of learning "
    "in deep linear neural networks', section 3 and figure 6A.",
    ["saxe"],
    quote="We empirically show (Fig. 6A, left, red curve) that if we choose the initial "
    "weights in each layer to be a random orthogonal matrix (satisifying W^T W = I), instead "
    "of a scaled random Gaussian matrix, then this orthogonal random initialization condition "
    "yields depth independent learning times just like greedy layerwise pre-training.",
)
def check_saxe(results):
    curves = results.rows("curves", "saxe")
    curves = curves[curves["activation"].eq("linear")]
    times, floor = learning_times(curves)
    cells = curves.groupby("cell")[["scheme", "init", "depth", "lr"]].first()
    rates = sorted(set(zip(cells["depth"], cells["lr"])))
    by_depth = ", ".join(f"{d}: {lr:g}" for d, lr in rates)
    if not np.allclose([d * lr for d, lr in rates], rates[0][0] * rates[0][1], rtol=1e-9):
        raise NotTestable(
            "the claim holds at learning rates proportional to 1/depth, and the saxe study's "
            f"rates are not (set lr_scaling: inverse_depth); rates by depth: {by_depth}"
        )
    budget = int(curves["step"].max())
    runs = censored_times(cells, times, budget)
    ortho_depths = set(runs.loc[runs["scheme"].eq("orthogonal"), "depth"])
    gauss_depths = set(runs.loc[runs["scheme"].isin(GAUSSIAN_SCHEMES), "depth"])
    depths = sorted(ortho_depths & gauss_depths)
    if len(depths) < 2:
        raise NotTestable(
            "the saxe study lacks linear nets of two or more depths with both "
            "orthogonal and Gaussian init"
        )
    runs = runs[runs["depth"].isin(depths)]
    effects, left_out = saxe_effects(runs)
    table = lag_table(runs)
    rows = [("Loss floor (lowest train loss in the study)", gnum(floor, 3))]
    rows += [
        (
            f"{init}: learning time (steps, median over seeds) by depth",
            ", ".join(
                f"{d}: {gnum(t, 3)}" + ("+" if c else "")
                for d, t, c in zip(g["depth"], g["time"], g["censored"])
            ),
        )
        for init, g in table.groupby("init")
    ]
    rows += [
        (
            f"{init} over orthogonal: learning-time ratio (median over seeds) by depth",
            ", ".join(f"{d}: {gnum(r, 3)}" for d, r in zip(g["depth"], g["lag"])),
        )
        for init, g in table[table["scheme"].isin(GAUSSIAN_SCHEMES)].groupby("init")
    ]
    censored = int(runs["censored"].sum())
    uncounted = "; ".join(
        f"{init}: {upper} seeds left out (orthogonal at the deepest or {init} at the "
        f"shallowest never reached the target: the ratio is only an upper bound)"
        + (f", {unpaired} seeds without a partner run" if unpaired else "")
        for init, (upper, unpaired) in left_out.items()
        if upper or unpaired
    )
    caption = (
        f"Left: the Gaussian init's learning time over orthogonal's (same seed), median over "
        f"seeds, per depth; the rule compares the deepest with the shallowest. Middle: steps "
        f"until the loss is {LEARNED:.0%} of the way to the floor ({gnum(floor, 3)}), median "
        f"over seeds (open marker: the median run never got there; drawn at the budget). "
        f"Right: the remaining loss fraction for the shallowest and deepest nets (dotted: the "
        f"threshold)."
    )
    scaled = ", ".join(sorted({f"{d * lr:g}" for d, lr in rates}))
    return Evidence(
        effects,
        rows,
        method=(
            f"Learning time: the first logged step where the train loss has come {LEARNED:.0%} "
            f"of the way from its initial value to the floor (the lowest train loss of any run "
            f"in the study); a run that never gets there counts as the budget ({budget} "
            f"steps), a lower bound ({censored} of {len(runs)} runs). Per seed: log2 of the "
            f"Gaussian over the orthogonal learning time at the deepest depth minus the same "
            f"at the shallowest (dividing by orthogonal at each depth cancels what the input "
            f"layer alone does), and log2 of the orthogonal nets' slowest over fastest "
            f"learning time across depths."
        ),
        notes=(
            f"Setting that decides it: the learning rate scales as 1/depth (lr x depth = "
            f"{scaled}), as Saxe et al. compare depths (they tuned it per depth and found "
            f"O(1/depth)); rates by depth: {by_depth}."
            + (f" Not counted: {uncounted}." if uncounted else "")
        ),
        figure=Figure(partial(plot, curves, table, floor), caption, ncols=3, size=(14.5, 3.8)),
    )


def lag_table(runs):
    """Per (init, depth): the median learning time over seeds, whether that median is
    censored, and for Gaussian inits the median over seeds of its time over orthogonal's."""
    ortho = runs[runs["scheme"].eq("orthogonal")].set_index(["depth", "seed"])["time"]
    runs = runs.join(ortho.rename("ortho"), on=["depth", "seed"])
    runs["lag"] = runs["time"] / runs["ortho"]
    return (
        runs.groupby(["init", "depth"])
        .agg(
            scheme=("scheme", "first"),
            time=("time", "median"),
            censored=("censored", lambda c: c.mean() >= 0.5),
            lag=("lag", "median"),
        )
        .reset_index()
    )


def plot(curves, table, floor, fig, axes):
    """Left: Gaussian over orthogonal learning time against depth; middle: learning time
    against depth per init; right: the remaining loss fraction."""
    curves = curves.join(
        curves[curves["step"].eq(0)].set_index(["cell", "seed"])["train_loss"].rename("start"),
        on=["cell", "seed"],
    )
    curves["progress"] = (curves["train_loss"] - floor) / (curves["start"] - floor)
    depths = sorted(table["depth"].unique())
    ends = [depths[0], depths[-1]]
    line = median_curve(curves[curves["depth"].isin(ends)], ["init", "depth"], "progress")
    palette = dict(zip(sorted(table["init"].unique()), sns.color_palette()))
    for init, g in table[table["scheme"].isin(GAUSSIAN_SCHEMES)].groupby("init"):
        axes[0].plot(g["depth"], g["lag"], marker="o", color=palette[init], label=init)
    axes[0].axhline(1, color="grey", ls=":", lw=1)
    axes[0].set_ylabel("Gaussian / orthogonal learning time")
    axes[0].set_title("the Gaussian init's lag against depth")
    for init, g in table.groupby("init"):
        axes[1].plot(g["depth"], g["time"], color=palette[init])
        for censored, face in ((False, palette[init]), (True, "none")):
            at = g[g["censored"].eq(censored)]
            axes[1].scatter(at["depth"], at["time"], facecolors=face, edgecolors=palette[init])
    axes[1].set_ylabel("learning time (steps, median over seeds)")
    axes[1].set_title("learning time against depth")
    for ax in axes[:2]:  # powers of 2 on both axes, written as plain numbers
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("depth (weight layers)")
    sns.lineplot(
        line, x="step", y="progress", hue="init", style="depth", palette=palette, ax=axes[2]
    )
    axes[2].axhline(1 - LEARNED, color="grey", ls=":", lw=1)
    axes[2].set_yscale("log")
    axes[2].set_ylabel("(loss - floor) / (initial - floor)")
    axes[2].set_title(f"depth {ends[0]} and {ends[-1]}")
    step_axis(axes[2])
    handles, labels = axes[2].get_legend_handles_labels()
    axes[2].get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", frameon=False)


def censored_times(cells, times, budget):
    """One row per run: its cell's settings, its learning time, and whether the target was
    never reached (then the time is the budget, a lower bound)."""
    runs = cells.join(times.reset_index("seed"), how="inner").reset_index()
    runs["censored"] = ~np.isfinite(runs["time"])
    runs["time"] = runs["time"].where(~runs["censored"], budget).clip(lower=1)
    return runs


def saxe_effects(runs):
    """The rule's effects, the headline first, and the seeds no effect could count.

    Per Gaussian init and seed: log2 of its learning time over the orthogonal net's of the
    same seed at the deepest depth, minus the same at the shallowest (claim: above log2
    GROWTH). A censored Gaussian time at the deepest (or orthogonal at the shallowest)
    makes the value a lower bound: censored. A censored orthogonal time at the deepest (or
    Gaussian at the shallowest) makes it an upper bound, which cannot count for the claim:
    such seeds are left out and counted; the orthogonal effect then carries the failure.
    Per seed: log2 of the orthogonal nets' slowest over fastest time across depths (claim:
    below log2 FLAT; a censored time makes it a lower bound)."""
    ortho = runs[runs["scheme"].eq("orthogonal")]
    shallow, deep = runs["depth"].min(), runs["depth"].max()
    effects, left_out = [], {}
    for init, g in runs[runs["scheme"].isin(GAUSSIAN_SCHEMES)].groupby("init"):
        at = {
            (arm, d): frame[frame["depth"].eq(d)].set_index("seed")
            for arm, frame in (("gauss", g), ("ortho", ortho))
            for d in (shallow, deep)
        }
        seeds = sorted(set.intersection(*(set(a.index) for a in at.values())))
        unpaired = sorted(set.union(*(set(a.index) for a in at.values())) - set(seeds))
        time = {k: a.loc[seeds, "time"].to_numpy() for k, a in at.items()}
        cens = {k: a.loc[seeds, "censored"].to_numpy(bool) for k, a in at.items()}
        growth = np.log2(time["gauss", deep] / time["ortho", deep]) - np.log2(
            time["gauss", shallow] / time["ortho", shallow]
        )
        at_least = cens["gauss", deep] | cens["ortho", shallow]
        at_most = cens["ortho", deep] | cens["gauss", shallow]
        effects.append(
            Effect(
                f"{init} over orthogonal: log2 learning-time ratio at depth {deep} minus at "
                f"depth {shallow}",
                tuple(growth[~at_most]),
                float(np.log2(GROWTH)),
                True,
                censored=tuple(at_least[~at_most]),
            )
        )
        left_out[init] = (int(at_most.sum()), len(unpaired))
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
    return effects, left_out
