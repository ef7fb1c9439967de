"""The classic initialization results, re-derived from the study tables, each with a verdict.

``evaluate_findings`` runs one small check per published claim. A check takes its sub-study's
cells, measures the claim's quantity, applies a rule whose thresholds are fixed module
constants (quoted in the finding's ``rule`` text) and draws one figure. The verdict comes
from the rule alone, so a claim that fails is reported as failing with its numbers. A claim
whose study was not run, or ran without the cells the claim needs, is "inconclusive".
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator, ScalarFormatter

from .study import CELL_PARAMETERS, STALL_LOSS_FRACTION, STALL_MARGIN, made_no_progress
from .theory import chi1, depth_scale

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)

# A run stalls when it diverges or ends no better than the majority class (regression: its
# train loss barely fell). The same rule as the report's overview, so the two agree.

IDENTICAL_TOL = 1e-12  # symmetry (largest distance between two units) that counts as 0
COURSE_STEPS = 15000  # the course's iterations
COURSE_PUBLISHED = {  # init -> (cost at iteration 14000, train accuracy, test accuracy)
    "zeros": (math.log(2), 0.50, 0.50),
    "normal std 10": (0.383, 0.83, 0.86),
    "he_normal": (0.0736, 0.993, 0.96),
}
LN2_TOL = 1e-3  # zeros: every logged cost within this of ln 2
CHANCE_TOL = 0.02  # zeros: accuracy within this of 0.5
HE_ACCURACY = 0.97  # "about 99%" train accuracy
MUCH_LOWER = 0.05  # normal std 10 ends at least this far below He in train accuracy
DEEP = 10  # "deep nets": depth (weight layers) at least this
VANISHED = 1e-3  # ||dL/dz_1|| / ||dL/dz_top|| at init below this: the gradient vanished
STALLED_SHARE = 0.8  # "deep nets stall": at least this share of the deep cells
SATURATED_MEAN = 0.1  # sigmoid's top hidden layer "near 0": mean activation at most this
EARLY = 0.5  # "early in training": within this fraction of the steps
HE_DEPTH = 30  # He et al.'s claim is about 30-layer nets
FEWER_DEAD = 0.01  # leaky ReLU: mean dead fraction lower by at least this (1% of the units)
SKIP_LAYERS = 3  # mean field: layers skipped while q^l settles towards q*
CHI1_TOL = 0.15  # measured gradient ratio within this relative distance of chi1
XI_FACTOR = 6  # trainable depth ~ 6 xi_c
AGREEMENT = 0.8  # share of cells where "trained" agrees with depth <= 6 xi_c
LEARNED = 0.9  # Saxe: learned once 90% of the way from the initial loss to the floor
FLAT = 2.0  # orthogonal: learning times over depth within this factor
GROWTH = 2.0  # Gaussian: learning time at the deepest net at least this x the shallowest
GAUSSIAN_SCHEMES = ("lecun_normal", "xavier_normal", "he_normal", "normal", "mean_field")
LSUV_TOL = 0.1  # the tolerance LSUV itself used
LSUV_ROWS = 512  # LSUV measured its variances on the first 512 training rows
SAMPLING_SE = 2  # allowance in standard errors sqrt(2/n) of a variance from n rows
DPI = 110


@dataclass
class Finding:
    """One claim with what the study measured and the verdict of its rule."""

    key: str
    title: str
    claim: str
    source: str
    studies: list
    measured: list  # (label, value text) pairs
    verdict: str  # one of VERDICTS
    rule: str
    figure: str | None = None  # PNG file name inside the figure directory
    caption: str = ""


class NotTestable(Exception):
    """The study ran, but without the cells the claim needs: the finding is inconclusive."""


@dataclass(frozen=True)
class Claim:
    """A published claim and the check that tests it against the tables."""

    key: str
    title: str
    claim: str
    source: str
    studies: tuple
    check: Callable
    partial: bool = False  # testable on a subset of its studies (the rest: inconclusive)

    def finding(self, verdict, rule, measured=(), figure=None, caption=""):
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        return Finding(
            self.key,
            self.title,
            self.claim,
            self.source,
            list(self.studies),
            list(measured),
            verdict,
            rule,
            figure,
            caption,
        )

    def evaluate(self, results):
        missing = [s for s in self.studies if not results.has(s)]
        if len(missing) == len(self.studies) or (missing and not self.partial):
            return self.finding(INCONCLUSIVE, f"Not evaluated: {results.not_run(missing)}.")
        try:
            return self.check(self, results)
        except NotTestable as reason:
            return self.finding(INCONCLUSIVE, f"Not evaluated: {reason}.")

    @property
    def figure_name(self):
        return f"finding-{self.key}.png"


CLAIMS = []


def published_claim(key, title, text, source, studies, partial=False):
    """Register the decorated check for one claim; claims are reported in this order."""

    def register(check):
        CLAIMS.append(Claim(key, title, text, source, tuple(studies), check, partial))
        return check

    return register


class Results:
    """The aggregated tables, sliced by sub-study, and where figures go."""

    def __init__(self, tables, config, figure_dir):
        self.tables = tables
        self.configured = set((config or {}).get("studies", {}))
        self.cells = {s: set(g["cell"]) for s, g in tables["studies"].groupby("study")}
        self.figure_dir = None if figure_dir is None else Path(figure_dir)

    def has(self, study):
        return study in self.cells

    def not_run(self, studies):
        """Why these studies have no results: not in the config, or configured but not run."""
        return "; ".join(
            f"study {study} was not run ("
            + (
                "configured, but it has no results"
                if study in self.configured
                else "not in this configuration"
            )
            + ")"
            for study in studies
        )

    def rows(self, kind, *studies):
        cells = set().union(*(self.cells.get(s, set()) for s in studies))
        table = self.tables[kind]
        return table[table["cell"].isin(cells)]

    def draw(self, claim, plot, ncols=1, size=(6.4, 4.0), sharey=False):
        """Draw ``plot(fig, axes)`` on ``ncols`` axes into the claim's PNG and return its file
        name; None when figures are off (figure_dir None: verdicts only)."""
        if self.figure_dir is None:
            return None
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.8):
            fig = Figure(figsize=size, layout="constrained")
            plot(fig, fig.subplots(1, ncols, squeeze=False, sharey=sharey)[0])
            self.figure_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.figure_dir / claim.figure_name, dpi=DPI)
        return claim.figure_name


def evaluate_findings(tables, config, figure_dir):
    """One Finding per claim, in the issue's order, each figure written into figure_dir.

    ``tables``: the aggregated runs, curves, layers, cost and studies tables; ``config``:
    the study config (to tell a study that was not configured from one without results);
    ``figure_dir`` None computes the verdicts without drawing.
    """
    results = Results(tables, config, figure_dir)
    return [c.evaluate(results) for c in CLAIMS]


# ---------------------------------------------------------------------------------------
# Shared measurements


def param(df, name, default=np.nan):
    """One init parameter per row, from the JSON ``init_params`` column."""
    values = {s: json.loads(s).get(name, default) for s in df["init_params"].unique()}
    return df["init_params"].map(values).astype(float)


def n_hidden(df):
    return df["hidden"].map(lambda h: len(json.loads(h)))


def stalled(runs):
    """Per run: diverged, or no better than the majority class (regression: loss barely fell)."""
    return made_no_progress(runs) | runs["status"].eq("diverged")


def stalled_cells(runs):
    """Per cell: stalled in at least half its seeds."""
    return stalled(runs).groupby(runs["cell"]).mean() >= 0.5


def median_curve(curves, keys, value):
    """Median over seeds of ``value`` at each logged step, per group of ``keys``."""
    return curves.groupby([*keys, "step"], as_index=False)[value].median()


def num(x, digits=3):
    if x is None or np.isnan(x):
        return "n/a"
    return f"{x:.{digits}g}"


def legend_outside(fig, axes):
    """One legend right of the axes, so no plot is covered by it."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", frameon=False)


def integer_axis(ax):
    """Layers and depths are whole numbers: no 1.5 ticks."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def steps_axis(ax):
    """Logged steps are geometric: a symlog axis shows step 0 and the late steps alike."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("step")


# ---------------------------------------------------------------------------------------
# 1. Symmetric weights


@published_claim(
    "symmetry",
    "Zero and constant init leave the hidden units identical",
    "Zero, and constant, init leaves every hidden unit identical through training, so the "
    "network does no better than a linear model.",
    "The seed (parameter-initialization.txt): the problem of symmetric weights.",
    ["symmetry"],
)
def check_symmetry(claim, results):
    runs, layers = results.rows("runs", "symmetry"), results.rows("layers", "symmetry")
    runs = runs.assign(
        linear=n_hidden(runs).eq(0), symmetric=runs["scheme"].isin(["zeros", "constant"])
    )
    linear, nets = runs[runs["linear"]], runs[~runs["linear"]]
    if linear.empty or not nets["symmetric"].any():
        raise NotTestable(
            "the symmetry study has no linear model (hidden []) or no zeros/"
            "constant network with hidden layers"
        )
    best_linear = linear["final_train_accuracy"].max()
    symmetric_cells = nets.loc[nets["symmetric"], "cell"]
    hidden = layers[layers["cell"].isin(symmetric_cells) & (layers["layer"] < layers["depth"])]
    largest = hidden["symmetry"].max()
    acc = nets.groupby(["activation", "init", "hidden", "symmetric"], as_index=False)[
        "final_train_accuracy"
    ].median()
    limit = best_linear + STALL_MARGIN
    identical = bool(largest <= IDENTICAL_TOL)
    no_better = bool((acc.loc[acc["symmetric"], "final_train_accuracy"] <= limit).all())
    control = bool((acc.loc[~acc["symmetric"], "final_train_accuracy"] > limit).any())
    if not (identical and no_better):
        verdict = NOT_REPRODUCED
    elif control:
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE
    measured = [
        (
            "Largest distance between two hidden units (zeros/constant, any layer, any step)",
            num(largest),
        ),
        ("Best linear model (hidden []) final train accuracy", num(best_linear)),
    ] + [
        (
            f"{r.activation}, {r.init}, hidden {r.hidden}: median final train accuracy",
            num(r.final_train_accuracy),
        )
        for r in acc.itertuples()
    ]
    rule = (
        f"Reproduced if (a) every hidden layer of every zeros/constant network keeps symmetry "
        f"(largest distance between two units' incoming weights and bias) <= {IDENTICAL_TOL:g} "
        f"at every logged step and (b) each such network's median final train accuracy is at "
        f"most the best linear-model run's + {STALL_MARGIN}; not reproduced if (a) or (b) "
        f"fails. Inconclusive if no random-init network beats the linear model by more than "
        f"{STALL_MARGIN} (then the comparison cannot tell the two apart)."
    )
    activations = sorted(nets["activation"].unique())

    def plot(fig, axes):
        curves = results.rows("curves", "symmetry")
        linear = n_hidden(curves).eq(0)
        curves = curves.assign(
            model=np.where(
                linear, "linear model (hidden [])", curves["init"] + " " + curves["hidden"]
            )
        )
        for ax, act in zip(axes, activations):
            sub = curves[curves["activation"].eq(act) | linear]
            line = median_curve(sub, ["model"], "train_accuracy")
            sns.lineplot(
                line,
                x="step",
                y="train_accuracy",
                hue="model",
                ax=ax,
                hue_order=sorted(line["model"].unique()),
            )
            ax.set_title(act)
            ax.set_ylabel("train accuracy (median over seeds)")
            steps_axis(ax)
        legend_outside(fig, axes)

    size = (3.0 * len(activations) + 2.2, 3.4)
    figure = results.draw(claim, plot, ncols=len(activations), size=size, sharey=True)
    caption = (
        f"Train accuracy during training (median over seeds) of the zeros, constant and random "
        f"networks per activation, against the linear model. The zeros/constant networks' "
        f"units stayed identical (largest distance {num(largest)}); their final accuracies "
        f"range {num(acc.loc[acc['symmetric'], 'final_train_accuracy'].min())}-"
        f"{num(acc.loc[acc['symmetric'], 'final_train_accuracy'].max())}, against "
        f"{num(best_linear)} for the best linear model. With identical units a network computes "
        f"a monotone function of one projection w.x, so its decision boundary is a line, as "
        f"the linear model's: accuracy differences between the two come from training."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 2. The seed's source course


def course_role(runs):
    """The course's init per row: zeros, normal std 10, he_normal, or "" for any other."""
    std = param(runs, "std")
    role = np.select(
        [
            runs["scheme"].eq("zeros"),
            runs["scheme"].eq("normal") & (std >= 1),
            runs["scheme"].eq("he_normal"),
        ],
        ["zeros", "normal std 10", "he_normal"],
        default="",
    )
    return pd.Series(role, index=runs.index)


@published_claim(
    "course",
    "The course: zeros stay at ln 2, large normal lags He, He reaches ~99%",
    "On circles with a [2, 10, 5, 1] ReLU net, full-batch gradient descent (lr 0.01, 15000 "
    "iterations): zeros init stays at cost ln 2 and 50% accuracy; normal init with std 10 ends "
    "at much lower accuracy than He init; He init reaches about 99% train accuracy. Published: "
    "zeros 0.6931 / 0.50 / 0.50; randn x 10 0.383 at 14000, train 0.83, test 0.86; He 0.0736, "
    "train 0.993, test 0.96.",
    "deeplearning.ai, Improving Deep Neural Networks, week 1, 'Initialization' (the seed's "
    "source course).",
    ["course"],
)
def check_course(claim, results):
    runs, curves = results.rows("runs", "course"), results.rows("curves", "course")
    runs, curves = runs.assign(role=course_role(runs)), curves.assign(role=course_role(curves))
    missing = [r for r in COURSE_PUBLISHED if not runs["role"].eq(r).any()]
    if missing:
        raise NotTestable(f"the course study has no {', '.join(missing)} cell")
    final = runs.groupby("role")[
        ["final_train_loss", "final_train_accuracy", "final_test_accuracy", "initial_train_loss"]
    ].median()
    zero_costs = curves.loc[curves["role"].eq("zeros"), "train_loss"]
    zeros_ok = bool(
        (zero_costs - math.log(2)).abs().max() <= LN2_TOL
        and (final.loc["zeros", ["final_train_accuracy", "final_test_accuracy"]] - 0.5).abs().max()
        <= CHANCE_TOL
    )
    he_acc = final.loc["he_normal", "final_train_accuracy"]
    large_acc = final.loc["normal std 10", "final_train_accuracy"]
    he_ok, large_ok = bool(he_acc >= HE_ACCURACY), bool(large_acc <= he_acc - MUCH_LOWER)
    steps = int(runs["steps"].min())
    short = steps < COURSE_STEPS
    if zeros_ok and he_ok and large_ok:
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE if short else NOT_REPRODUCED
    measured = [("Iterations run", f"{steps} (the course: {COURSE_STEPS})")]
    for role, (cost, train, test) in COURSE_PUBLISHED.items():
        row = final.loc[role]
        measured.append(
            (
                f"{role}: final cost / train acc / test acc (published)",
                f"{num(row.final_train_loss, 4)} / {num(row.final_train_accuracy)} / "
                f"{num(row.final_test_accuracy)} ({cost:.4g} / {train:.3g} / {test:.3g})",
            )
        )
    measured += [
        (
            "zeros: largest |cost - ln 2| at any logged step",
            num((zero_costs - math.log(2)).abs().max()),
        ),
        (
            "normal std 10: cost at iteration 0",
            f"{num(final.loc['normal std 10', 'initial_train_loss'])} (the course printed inf)",
        ),
    ]
    rule = (
        f"Reproduced if zeros keeps every logged cost within {LN2_TOL:g} of ln 2 and ends with "
        f"train and test accuracy within {CHANCE_TOL} of 0.5, He's median final train accuracy "
        f"is >= {HE_ACCURACY}, and normal std 10 ends at least {MUCH_LOWER} below He (medians "
        f"over seeds). A run shorter than the course's {COURSE_STEPS} iterations that fails "
        f"this is inconclusive, not a failure. Our binary cross-entropy is computed from the "
        f"logit stably, so the course's 'inf' cost at iteration 0 of std 10 appears as a large "
        f"finite cost."
    )

    def plot(fig, axes):
        order = list(COURSE_PUBLISHED)
        line = median_curve(curves[curves["role"] != ""], ["role"], "train_loss")
        acc = median_curve(curves[curves["role"] != ""], ["role"], "train_accuracy")
        sns.lineplot(line, x="step", y="train_loss", hue="role", hue_order=order, ax=axes[0])
        axes[0].axhline(math.log(2), color="grey", ls=":", lw=1)
        axes[0].set_yscale("log")
        axes[0].set_ylabel("train cost (median over seeds)")
        if steps >= 14000:
            published = [COURSE_PUBLISHED[r][0] for r in order]
            axes[0].scatter(
                [14000] * 3,
                published,
                marker="*",
                s=80,
                color="black",
                zorder=3,
                label="published at 14000",
            )
        sns.lineplot(acc, x="step", y="train_accuracy", hue="role", hue_order=order, ax=axes[1])
        axes[1].set_ylabel("train accuracy (median over seeds)")
        for ax in axes:
            ax.set_xlabel("iteration")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, ncols=2, size=(9.5, 3.6))
    caption = (
        f"Cost (log scale; dotted: ln 2) and train accuracy over {steps} full-batch iterations. "
        f"Final train accuracy: zeros {num(final.loc['zeros', 'final_train_accuracy'])}, normal "
        f"std 10 {num(large_acc)}, He {num(he_acc)} (published 0.50, 0.83, 0.993)."
        + (" Stars: the published costs at iteration 14000." if steps >= 14000 else "")
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 3. Small normal init in deep nets


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
    runs, layers = results.rows("runs", "overview"), results.rows("layers", "overview")
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
            f"{num(g['ratio'].median())}; {num(g['ratio'].max())}  ({len(g)} cells)",
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
        f"{num(worst)} and {share:.0%} of {len(deep_cells)} cells stalled."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 4. Glorot & Bengio 2010


def top_layer_means(hidden):
    """Hidden layers' mean activation per step (median over seeds), the top layer's rows, and
    per cell the top layer's lowest mean within the first EARLY of training."""
    means = hidden.groupby(["cell", "steps", "depth", "layer", "step"], as_index=False)[
        ["act_mean", "saturated_frac"]
    ].median()
    top = means[means["layer"].eq(means["depth"] - 1)]
    early = top[top["step"] <= EARLY * top["steps"]]
    return means, top, early.groupby("cell")["act_mean"].min()


def gradient_spread(start):
    """|log10(||dL/dz_1|| / ||dL/dz_top hidden||)| at init, median over seeds, one column per
    scheme: 0 when the back-propagated gradient is as large at the input as at the top."""
    by_run = start.set_index(["cell", "seed"])
    first = by_run.loc[by_run["layer"].eq(1), "grad_z_norm"]
    top = by_run.loc[by_run["layer"].eq(by_run["depth"] - 1), "grad_z_norm"]
    keys = by_run.groupby(level=["cell", "seed"])[["dataset", "depth", "width", "scheme"]].first()
    spread = keys.assign(spread=np.abs(np.log10(first / top)))
    spread = spread.groupby(["dataset", "depth", "width", "scheme"])["spread"].median()
    return spread.unstack("scheme")


@published_claim(
    "glorot",
    "Glorot & Bengio: sigmoid's top layer saturates; normalized init flattens gradients",
    "With sigmoid and the standard init U(+-1/sqrt(n)), the top hidden layer is driven to 0, its "
    "saturated value, early in training. With tanh, the normalized (Xavier) init keeps the "
    "back-propagated gradients flatter across layers at init than the standard init does.",
    "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural "
    "networks' (figures 2 and 7).",
    ["glorot"],
)
def check_glorot(claim, results):
    layers = results.rows("layers", "glorot")
    hidden = layers[layers["layer"] < layers["depth"]]
    sigmoid = hidden[hidden["activation"].eq("sigmoid") & hidden["scheme"].eq("torch_default")]
    tanh = hidden[
        hidden["activation"].eq("tanh") & hidden["scheme"].isin(["torch_default", "xavier_uniform"])
    ]
    if sigmoid.empty or tanh["scheme"].nunique() < 2:
        raise NotTestable(
            "the glorot study lacks sigmoid with torch_default, or tanh with both "
            "torch_default and xavier_uniform"
        )
    means, top, lowest = top_layer_means(sigmoid)
    saturates = bool((lowest <= SATURATED_MEAN).all())
    start = tanh[tanh["step"].eq(0)]
    spread = gradient_spread(start)
    flatter = bool((spread["xavier_uniform"] < spread["torch_default"]).all())
    verdict = REPRODUCED if saturates and flatter else NOT_REPRODUCED
    measured = []
    for cell, g in top.groupby("cell"):
        first, last = g.iloc[0], g.iloc[-1]
        measured.append(
            (
                f"sigmoid, torch_default, depth {int(first.depth)}: top hidden layer's mean "
                f"activation at init / lowest in the first {EARLY:.0%} / at the end",
                f"{num(first.act_mean)} / {num(lowest[cell])} / {num(last.act_mean)} "
                f"(largest saturated fraction {num(g['saturated_frac'].max())})",
            )
        )
    for (dataset, depth, _), row in spread.iterrows():
        measured.append(
            (
                f"tanh, depth {depth}, {dataset}: |log10 ||dL/dz_1|| / ||dL/dz_top hidden|| | at "
                f"init, torch_default vs xavier_uniform",
                f"{num(row['torch_default'])} vs {num(row['xavier_uniform'])}",
            )
        )
    rule = (
        f"Reproduced if (a) for sigmoid with torch_default the top hidden layer's mean activation "
        f"(median over seeds) falls to <= {SATURATED_MEAN} at some logged step in the first "
        f"{EARLY:.0%} of training (it starts near 0.5), and (b) for tanh the spread "
        f"|log10(||dL/dz_1|| / ||dL/dz_top hidden||)| at init (median over seeds) is smaller "
        f"with xavier_uniform than with torch_default. Not reproduced if either fails."
    )

    def plot(fig, axes):
        sig_line = means.groupby(["layer", "step"], as_index=False)["act_mean"].median()
        grads = start.groupby(["scheme", "layer"], as_index=False)["grad_z_norm"].median()
        sns.lineplot(
            sig_line,
            x="step",
            y="act_mean",
            hue="layer",
            palette="viridis",
            ax=axes[0],
            legend="full",
        )
        axes[0].axhline(SATURATED_MEAN, color="grey", ls=":", lw=1)
        axes[0].axvspan(0, EARLY * int(top["steps"].max()), color="grey", alpha=0.08)
        steps_axis(axes[0])
        axes[0].set_ylabel("mean activation (median over seeds)")
        axes[0].set_title("sigmoid, torch_default: hidden layers")
        axes[0].legend(title="hidden layer", loc="lower left", ncols=2)
        sns.lineplot(grads, x="layer", y="grad_z_norm", hue="scheme", marker="o", ax=axes[1])
        axes[1].set_yscale("log")
        axes[1].set_ylabel("||dL/dz_l|| at init (median over seeds)")
        axes[1].set_title("tanh: back-propagated gradient per hidden layer")
        integer_axis(axes[1])
        axes[1].legend(title="init", loc="lower right")

    figure = results.draw(claim, plot, ncols=2, size=(10.5, 3.8))
    caption = (
        f"Left: mean activation of each sigmoid hidden layer during training with the standard "
        f"init (shaded: the first {EARLY:.0%} of training; dotted: {SATURATED_MEAN}); the top "
        f"layer's lowest early value is {num(lowest.min())}. Right: tanh's back-propagated "
        f"gradient norm per hidden layer at init; layer-1-to-top spread (log10) "
        f"{num(spread['torch_default'].median())} with torch_default vs "
        f"{num(spread['xavier_uniform'].median())} with xavier_uniform."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 5. He et al. 2015


@published_claim(
    "he_xavier",
    "He et al.: a 30-layer ReLU net trains with He init and stalls with Xavier",
    f"A {HE_DEPTH}-layer ReLU network converges with He init (Var = 2/fan_in), while with "
    f"Xavier init it completely stalls, its gradients diminishing.",
    "He, Zhang, Ren & Sun 2015, 'Delving deep into rectifiers' (figure 3).",
    ["he_xavier"],
)
def check_he_xavier(claim, results):
    runs = results.rows("runs", "he_xavier")
    runs = runs[runs["activation"].eq("relu")]
    family = np.select(
        [runs["scheme"].str.startswith("he_"), runs["scheme"].str.startswith("xavier_")],
        ["He", "Xavier"],
        "",
    )
    runs = runs.assign(family=family)
    runs = runs[runs["family"] != ""]
    deep = runs[runs["depth"] >= HE_DEPTH]
    if deep["family"].nunique() < 2:
        raise NotTestable(
            f"the he_xavier study has no ReLU net with He and Xavier init at depth "
            f">= {HE_DEPTH} (deepest: {runs['depth'].max()} layers)"
        )
    cells = runs.groupby("cell")[["family", "init", "depth", "dataset", "majority_rate"]].first()
    cells = cells.assign(
        stalled=stalled_cells(runs),
        accuracy=runs.groupby("cell")["final_train_accuracy"].median(),
        n_stalled=stalled(runs).groupby(runs["cell"]).sum(),
        seeds=runs.groupby("cell").size(),
    )
    deep_cells = cells[cells["depth"] >= HE_DEPTH]
    he_trains = bool((~deep_cells.loc[deep_cells["family"].eq("He"), "stalled"]).all())
    xavier_stalls = bool(deep_cells.loc[deep_cells["family"].eq("Xavier"), "stalled"].all())
    verdict = REPRODUCED if he_trains and xavier_stalls else NOT_REPRODUCED
    measured = [
        (
            f"{r.dataset}, depth {r.depth}, {r.init}: median final train accuracy (majority rate)",
            f"{num(r.accuracy)} ({num(r.majority_rate)}); stalled in {r.n_stalled} of {r.seeds} "
            "seeds",
        )
        for r in cells.sort_values(["depth", "family"]).itertuples()
    ]
    rule = (
        f"At depth >= {HE_DEPTH}: reproduced if every He cell trains and every Xavier cell "
        f"stalls, a cell stalling when at least half its seeds diverge or end with train "
        f"accuracy <= majority rate + {STALL_MARGIN}; otherwise not reproduced. Shallower "
        f"cells are shown for context only."
    )
    panels = sorted(set(zip(cells["dataset"], cells["depth"])))

    def plot(fig, axes):
        curves = results.rows("curves", "he_xavier")
        curves = curves[curves["cell"].isin(cells.index)]
        line = median_curve(curves, ["dataset", "depth", "init"], "train_loss")
        for ax, (dataset, depth) in zip(axes, panels):
            sns.lineplot(
                line[line["dataset"].eq(dataset) & line["depth"].eq(depth)],
                x="step",
                y="train_loss",
                hue="init",
                hue_order=sorted(line["init"].unique()),
                ax=ax,
            )
            ax.set_title(f"{dataset}, depth {depth}")
            ax.set_ylabel("train loss (median over seeds)")
            steps_axis(ax)
        legend_outside(fig, axes)

    size = (3.6 * len(panels) + 1.8, 3.4)
    figure = results.draw(claim, plot, ncols=len(panels), size=size)
    he = deep_cells.loc[deep_cells["family"].eq("He"), "accuracy"]
    xavier = deep_cells.loc[deep_cells["family"].eq("Xavier"), "accuracy"]
    caption = (
        f"Train loss of ReLU nets during training, He against Xavier init, per depth (median "
        f"over seeds). At depth >= {HE_DEPTH}, median final train accuracy: He {num(he.min())}-"
        f"{num(he.max())}, Xavier {num(xavier.min())}-{num(xavier.max())}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 6. Leaky ReLU against ReLU

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
            f"{num(mean_relu)} vs {num(mean_leaky)}",
        ),
        (
            "Same at init",
            f"{num(start['dead_frac_relu'].mean())} vs {num(start['dead_frac_leaky'].mean())}",
        ),
        (
            "Pairs where leaky ReLU has fewer / more / as many dead units",
            f"{fewer} / {more} / {len(end) - fewer - more}",
        ),
    ] + [
        (
            f"Depth {d}: mean dead fraction after training, ReLU vs leaky ReLU",
            f"{num(g['dead_frac_relu'].mean())} vs {num(g['dead_frac_leaky'].mean())}",
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
        f"After training: {num(mean_relu)} (ReLU) vs {num(mean_leaky)} (leaky ReLU)."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 7. Mean-field theory


def mean_field_cells(df):
    return df.assign(sigma_w2=param(df, "sigma_w2"), sigma_b2=param(df, "sigma_b2", 0.0))


def gradient_ratios(layers):
    """log(||dL/dz_l||^2 / ||dL/dz_{l+1}||^2) at init for the middle hidden layers.

    Skips the first SKIP_LAYERS layers (q^l still settling) and ratios that involve the
    output layer (a handful of outputs: its gradient norm is noisy).
    """
    init = layers[layers["step"].eq(0)].sort_values(["cell", "seed", "layer"])
    sq = np.log(init["grad_z_norm"] ** 2)
    above = sq.groupby([init["cell"], init["seed"]]).shift(-1)
    keep = (init["layer"] > SKIP_LAYERS) & (init["layer"] + 1 < init["depth"])
    ratios = mean_field_cells(init).assign(log_ratio=sq - above)[keep]
    return ratios[np.isfinite(ratios["log_ratio"])]


@published_claim(
    "chi1",
    "Mean field: gradients shrink or grow by chi1 per layer",
    "At init, the per-layer ratio of back-propagated squared gradient norms ||dL/dz_l||^2 / "
    "||dL/dz_{l+1}||^2 equals chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]: below 1 gradients vanish, "
    "above 1 they explode. For ReLU chi1 = sigma_w^2 / 2.",
    "Poole et al. 2016; Schoenholz et al. 2017, 'Deep information propagation'.",
    ["mean_field", "mean_field_relu"],
    partial=True,
)
def check_chi1(claim, results):
    ratios = gradient_ratios(results.rows("layers", "mean_field", "mean_field_relu"))
    if ratios.empty:
        raise NotTestable(
            f"no mean-field cell is deep enough: the ratio needs depth >= "
            f"{SKIP_LAYERS + 3} (first {SKIP_LAYERS} layers and the output skipped)"
        )
    groups = ratios.groupby(["activation", "sigma_b2", "sigma_w2"])["log_ratio"]
    table = groups.agg(["mean", "size"]).reset_index()
    table["measured"] = np.exp(table["mean"])
    table["chi1"] = [
        chi1(a, w, b)
        for a, w, b in table[["activation", "sigma_w2", "sigma_b2"]].itertuples(index=False)
    ]
    table["error"] = table["measured"] / table["chi1"] - 1
    agrees = bool((table["error"].abs() <= CHI1_TOL).all())
    missing = [s for s in claim.studies if not results.has(s)]
    if not agrees:
        verdict = NOT_REPRODUCED
    elif missing:
        verdict = INCONCLUSIVE
    else:
        verdict = REPRODUCED
    measured = [
        (
            f"{r.activation}, sigma_b2 {r.sigma_b2:g}, sigma_w2 {r.sigma_w2:g}: measured ratio vs "
            f"chi1",
            f"{num(r.measured)} vs {num(r.chi1)} ({r.error:+.1%}, {r.size} layer ratios)",
        )
        for r in table.itertuples()
    ]
    rule = (
        f"Measured ratio: geometric mean over seeds, depths and layers l = {SKIP_LAYERS + 1} .. "
        f"depth - 2 (the first {SKIP_LAYERS}, while q settles, and the output layer skipped) of "
        f"||dL/dz_l||^2 / ||dL/dz_(l+1)||^2 at init. Reproduced if it is within "
        f"{CHI1_TOL:.0%} of theory.chi1 for every (activation, sigma_b2, sigma_w2); not "
        f"reproduced if any is further."
        + (f" Inconclusive otherwise, because {results.not_run(missing)}." if missing else "")
    )

    def plot(fig, axes):
        ax = axes[0]
        palette = dict(zip(table["activation"].unique(), sns.color_palette()))
        for (act, sb2), g in table.groupby(["activation", "sigma_b2"]):
            grid = np.linspace(g["sigma_w2"].min() * 0.9, g["sigma_w2"].max() * 1.05, 40)
            ax.plot(
                grid,
                [chi1(act, w, sb2) for w in grid],
                color=palette[act],
                label=f"{act}, sigma_b2 {sb2:g}: chi1",
            )
            ax.scatter(
                g["sigma_w2"],
                g["measured"],
                color=palette[act],
                edgecolor="black",
                zorder=3,
                label=f"{act}, sigma_b2 {sb2:g}: measured",
            )
        ax.axhline(1, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("sigma_w^2")
        ax.set_ylabel("||dL/dz_l||^2 / ||dL/dz_(l+1)||^2 at init")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(7.2, 4.2))
    caption = (
        f"Per-layer ratio of squared back-propagated gradient norms at init (points: geometric "
        f"mean over middle layers and seeds) against chi1 from theory (lines), over the sigma_w^2 "
        f"sweep; dotted: 1, the edge of chaos. Largest relative deviation "
        f"{table['error'].abs().max():.1%}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


@published_claim(
    "depth_scale",
    "Mean field: trainable depth is about 6 xi_c",
    "Networks train only up to a depth of about 6 xi_c, where xi_c = -1/ln(chi1) is the depth "
    "scale of gradient propagation; at the edge of chaos (chi1 = 1) any depth trains.",
    "Schoenholz et al. 2017, 'Deep information propagation' (figure 5).",
    ["mean_field"],
)
def check_depth_scale(claim, results):
    runs = mean_field_cells(results.rows("runs", "mean_field"))
    cells = runs.groupby("cell")[["activation", "sigma_w2", "sigma_b2", "depth"]].first()
    cells = cells.assign(
        trained=~stalled_cells(runs), accuracy=runs.groupby("cell")["final_test_accuracy"].median()
    )
    setups = list(cells[["activation", "sigma_w2", "sigma_b2"]].itertuples(index=False, name=None))
    limits = {setup: XI_FACTOR * depth_scale(*setup) for setup in set(setups)}
    cells["limit"] = [limits[s] for s in setups]
    cells["predicted"] = cells["depth"] <= cells["limit"]
    agree = (cells["predicted"] == cells["trained"]).mean()
    verdict = REPRODUCED if agree >= AGREEMENT else NOT_REPRODUCED
    measured = [
        (
            "Cells where 'trained' agrees with depth <= 6 xi_c",
            f"{int(round(agree * len(cells)))} of {len(cells)} ({agree:.0%})",
        ),
        (
            "Trained cells deeper than 6 xi_c",
            str(int((cells["trained"] & ~cells["predicted"]).sum())),
        ),
        ("Stalled cells within 6 xi_c", str(int((~cells["trained"] & cells["predicted"]).sum()))),
    ] + [
        (
            f"{a}, sigma_b2 {b:g}, sigma_w2 {w:g}: 6 xi_c; trained depths",
            f"{num(g['limit'].iloc[0])}; "
            + (", ".join(map(str, sorted(g.loc[g["trained"], "depth"]))) or "none"),
        )
        for (a, b, w), g in cells.groupby(["activation", "sigma_b2", "sigma_w2"])
    ]
    rule = (
        f"A cell trained unless it stalled in at least half its seeds (diverged, or final train "
        f"accuracy <= majority rate + {STALL_MARGIN}). Reproduced if 'trained' agrees with "
        f"depth <= {XI_FACTOR} xi_c in at least {AGREEMENT:.0%} of the cells, xi_c = "
        f"theory.depth_scale = 1/|ln chi1| (on the chaotic side this is the gradient-growth "
        f"scale, not Schoenholz's correlation depth scale); otherwise not reproduced."
    )
    groups = list(cells.groupby(["activation", "sigma_b2"]))

    def plot(fig, axes):
        for ax, ((act, sb2), g) in zip(axes, groups):
            mesh = draw_heatmap(ax, g)
            ax.set_title(f"{act}, sigma_b2 {sb2:g}: median test accuracy")
        fig.colorbar(mesh, ax=list(axes), label="median final test accuracy")

    figure = results.draw(claim, plot, ncols=len(groups), size=(6.8 * len(groups) + 1.2, 4.4))
    caption = (
        f"Median final test accuracy over depth x sigma_w^2 with the curve depth = {XI_FACTOR} "
        f"xi_c (white); red boxes mark cells whose outcome (trained or stalled) disagrees with "
        f"the curve: {len(cells) - int(round(agree * len(cells)))} of {len(cells)}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


def edges(values, log=False):
    """Cell edges half-way between sorted grid values (geometrically for a log axis)."""
    v = np.log(values) if log else np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2
    first = v[0] - (mid[0] - v[0] if len(v) > 1 else 0.5)
    last = v[-1] + (v[-1] - mid[-1] if len(v) > 1 else 0.5)
    out = np.concatenate([[first], mid, [last]])
    return np.exp(out) if log else out


def draw_heatmap(ax, cells):
    """Accuracy on the real (sigma_w2, depth) grid, with the 6 xi_c curve drawn over it and
    red boxes round the cells whose outcome disagrees with the curve."""
    grid = cells.pivot_table(index="depth", columns="sigma_w2", values="accuracy")
    sw2, depths = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    x_edges, y_edges = edges(sw2), edges(depths, log=True)
    mesh = ax.pcolormesh(x_edges, y_edges, grid.to_numpy(), cmap="viridis", vmin=0, vmax=1)
    for (depth, w), value in grid.stack().items():
        ax.text(
            w,
            depth,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value < 0.5 else "black",
        )
    wrong = cells[cells["predicted"] != cells["trained"]]
    for w, depth in zip(wrong["sigma_w2"], wrong["depth"]):
        i, j = np.searchsorted(sw2, w), np.searchsorted(depths, depth)
        ax.add_patch(
            Rectangle(
                (x_edges[i], y_edges[j]),
                x_edges[i + 1] - x_edges[i],
                y_edges[j + 1] - y_edges[j],
                fill=False,
                edgecolor="red",
                lw=2,
            )
        )
    act, sb2 = cells["activation"].iloc[0], cells["sigma_b2"].iloc[0]
    fine = np.linspace(x_edges[0], x_edges[-1], 60)
    curve = [XI_FACTOR * depth_scale(act, w, sb2) for w in fine]
    ax.plot(
        fine,
        curve,
        color="white",
        lw=2,
        path_effects=[patheffects.withStroke(linewidth=4, foreground="black")],
    )
    ax.grid(False)
    ax.set_yscale("log")
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(depths, [f"{d:g}" for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("depth (weight layers)")
    handles = [
        Line2D(
            [],
            [],
            color="white",
            lw=2,
            label=f"depth = {XI_FACTOR} xi_c",
            path_effects=[patheffects.withStroke(linewidth=4, foreground="black")],
        ),
        Patch(fill=False, edgecolor="red", lw=2, label="outcome disagrees with the curve"),
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False
    )
    return mesh


# ---------------------------------------------------------------------------------------
# 8. Saxe et al. 2013


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
    "In deep linear networks, learning time with random orthogonal init is nearly independent "
    "of depth; with scaled Gaussian init it grows with depth.",
    "Saxe, McClelland & Ganguli 2013, 'Exact solutions to the nonlinear dynamics of learning "
    "in deep linear neural networks'.",
    ["saxe"],
)
def check_saxe(claim, results):
    curves = results.rows("curves", "saxe")
    curves = curves[curves["activation"].eq("linear")]
    times, floor = learning_times(curves)
    cells = curves.groupby("cell")[["scheme", "init", "depth", "lr"]].first()
    table = cells.join(times.groupby("cell").median())
    rates = sorted(set(zip(cells["depth"], cells["lr"])))
    if len({lr for _, lr in rates}) == 1:
        lr_text = f"All depths share one learning rate, {rates[0][1]:g}."
    else:
        lr_text = "Learning rates by depth: " + ", ".join(f"{d}: {lr:g}" for d, lr in rates)
        lr_text += " (Saxe et al. compare depths at rates that shrink with depth)."
    orthogonal = table[table["scheme"].eq("orthogonal")].sort_values("depth")
    gaussian = table[table["scheme"].isin(GAUSSIAN_SCHEMES)].sort_values("depth")
    if orthogonal["depth"].nunique() < 2 or gaussian["depth"].nunique() < 2:
        raise NotTestable(
            "the saxe study lacks linear nets of two or more depths with "
            "orthogonal and with Gaussian init"
        )
    spread = orthogonal["time"].max() / orthogonal["time"].min()
    growth = {init: g["time"].iloc[-1] / g["time"].iloc[0] for init, g in gaussian.groupby("init")}
    flat, grows = bool(spread <= FLAT), all(v >= GROWTH for v in growth.values())
    verdict = REPRODUCED if flat and grows else NOT_REPRODUCED
    measured = (
        [("Loss floor (lowest train loss in the study)", num(floor))]
        + [
            (
                f"{init}: learning time (steps, median over seeds) by depth",
                ", ".join(
                    f"{d}: {num(t) if np.isfinite(t) else 'never'}"
                    for d, t in zip(g["depth"], g["time"])
                ),
            )
            for init, g in table.sort_values("depth").groupby("init")
        ]
        + [("orthogonal: slowest / fastest over depths", num(spread))]
        + [(f"{init}: deepest / shallowest", num(v)) for init, v in growth.items()]
    )
    rule = (
        f"Learning time: the first logged step where the train loss has come {LEARNED:.0%} of "
        f"the way from its initial value to the floor (the lowest train loss of any run in the "
        f"study; inf if never). Reproduced if, with medians over seeds, the orthogonal nets' "
        f"slowest depth takes at most {FLAT:g} x the fastest's time, and every Gaussian init "
        f"takes at least {GROWTH:g} x as long at the deepest as at the shallowest depth; "
        f"otherwise not reproduced. {lr_text}"
    )
    curves = curves.join(
        curves[curves["step"].eq(0)].set_index(["cell", "seed"])["train_loss"].rename("start"),
        on=["cell", "seed"],
    )
    curves["progress"] = (curves["train_loss"] - floor) / (curves["start"] - floor)
    depths = sorted(table["depth"].unique())
    ends = [depths[0], depths[-1]]
    line = median_curve(curves[curves["depth"].isin(ends)], ["init", "depth"], "progress")

    def plot(fig, axes):
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
        steps_axis(axes[1])
        handles, labels = axes[1].get_legend_handles_labels()
        axes[1].get_legend().remove()
        extra = axes[0].get_legend_handles_labels()
        fig.legend(handles + extra[0], labels + extra[1], loc="outside right upper", frameon=False)

    figure = results.draw(claim, plot, ncols=2, size=(10.5, 3.8))
    caption = (
        f"Left: steps until the loss is {LEARNED:.0%} of the way to the floor ({num(floor)}), "
        f"median over seeds, per depth (missing points: never reached). Right: the remaining "
        f"loss fraction during training for the shallowest and deepest nets (dotted: the "
        f"threshold). Orthogonal slowest/fastest {num(spread)}; Gaussian deepest/shallowest "
        + ", ".join(f"{k} {num(v)}" for k, v in growth.items())
        + "."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


# ---------------------------------------------------------------------------------------
# 9. LSUV


@published_claim(
    "lsuv",
    "LSUV: every layer's output variance is 1",
    "After LSUV init (orthonormal, then each layer rescaled until |Var - 1| < 0.1), every "
    "layer's output variance is 1 within tolerance, whatever the activation.",
    "Mishkin & Matas 2016, 'All you need is a good init'.",
    ["lsuv"],
)
def check_lsuv(claim, results):
    layers = results.rows("layers", "lsuv")
    init = layers[layers["step"].eq(0) & layers["scheme"].eq("lsuv")]
    init = init.assign(var=init["preact_sq_mean"] - init["preact_mean"] ** 2)
    hidden = init[init["layer"] < init["depth"]]
    if hidden.empty:
        raise NotTestable("the lsuv study has no LSUV cell with hidden layers")
    rows = int(min(hidden["batch_size"].min(), LSUV_ROWS))
    allowance = SAMPLING_SE * math.sqrt(2 / rows)
    tol = LSUV_TOL + allowance
    off = (hidden["var"] - 1).abs().groupby(hidden["activation"]).max()
    output = init[init["layer"].eq(init["depth"])].groupby("activation")["var"].median()
    verdict = REPRODUCED if bool((off <= tol).all()) else NOT_REPRODUCED
    measured = [
        ("Largest |Var(z_l) - 1| over hidden layers and seeds, all activations", num(off.max()))
    ] + [
        (f"{act}: largest |Var - 1| (hidden); output layer Var", f"{num(v)}; {num(output[act])}")
        for act, v in off.items()
    ]
    rule = (
        f"Var(z_l) = preact_sq_mean - preact_mean^2 at step 0, over the hidden layers. LSUV "
        f"reached |Var - 1| < {LSUV_TOL} on the first {LSUV_ROWS} training rows, while step 0 "
        f"measures a random batch of {rows} rows, so {SAMPLING_SE} standard errors of a "
        f"variance estimated from {rows} rows, {SAMPLING_SE} x sqrt(2/{rows}) = {allowance:.3f} "
        f"(the worst case, all units of a row moving together), are allowed on top. "
        f"Reproduced if every |Var - 1| <= {tol:.3f}; otherwise not reproduced."
    )
    line = hidden.groupby(["activation", "layer"], as_index=False)["var"].median()

    def plot(fig, axes):
        ax = axes[0]
        ax.axhspan(1 - tol, 1 + tol, color="grey", alpha=0.12, label=f"1 +- {tol:.3f}")
        ax.axhspan(
            1 - LSUV_TOL,
            1 + LSUV_TOL,
            color="grey",
            alpha=0.18,
            label=f"1 +- {LSUV_TOL} (LSUV's own)",
        )
        sns.lineplot(
            line,
            x="layer",
            y="var",
            hue="activation",
            marker="o",
            palette=sns.color_palette("tab10", line["activation"].nunique()),
            ax=ax,
        )
        ax.set_ylabel("Var(z_l) at init (median over seeds)")
        ax.set_xlabel("hidden layer")
        integer_axis(ax)
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(7.6, 4.0))
    caption = (
        f"Variance of each hidden layer's pre-activation at init after LSUV, per activation, on "
        f"the step-0 batch of {rows} rows; bands: LSUV's tolerance {LSUV_TOL} and the allowed "
        f"{tol:.3f}. Largest deviation {num(off.max())} ({off.idxmax()})."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
