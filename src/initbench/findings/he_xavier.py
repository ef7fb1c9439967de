"""He et al. 2015: deep ReLU nets converge with He init; at 30 layers Xavier stalls.

The paper's figure 3 trains a 30-layer net without batch norm by SGD with momentum 0.9 and
lr 0.01: the Xavier curve stays flat over the epochs shown ("completely stalls"), and the
text says its gradients are "all diminishing"; at 22 layers both inits converge, He sooner
(figure 2). Each statement is one effect over paired seeds, judged in windows stated here
before any run, the same in every tier:
- depth 30, within WINDOW updates: He gains at least CONVERGED over chance, and Xavier
  gains less than FLAT (a flat curve);
- depth 30, at init: Xavier's first-layer weight gradient is below GRADIENT_RATIO of He's
  (diminishing gradients: the mechanism, measured directly);
- depth 22, within BUDGET updates: Xavier gains at least CONVERGED too, and needs more
  steps than He to get there (a run that never gets there counts as BUDGET steps, a
  lower bound);
- the slowdown grows with depth: Xavier's log2 step ratio over He at 30 layers exceeds
  that at 22.
The engine trains biases (He's nets had them too, initialised at 0) and keeps lr constant.
"""

import math
from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect
from ..outcomes import first_step_reaching, value_at
from ..plotting import legend_outside, step_axis
from ..text import gnum, listed
from .base import Evidence, Figure, NotTestable, published_claim

STALL_DEPTH, BOTH_DEPTH = 30, 22
WINDOW = 1000  # updates in which the 30-layer Xavier curve must stay flat (a few epochs)
BUDGET = 3000  # updates in which the 22-layer nets must both converge
CONVERGED = 0.25  # "converges": train accuracy at least chance (majority rate) + this
FLAT = 0.02  # "stalls": train accuracy gained over chance within the window below this
GRADIENT_RATIO = 0.01  # "diminishing": ||dL/dW_1|| at init below 1% of He's


def families(runs):
    family = np.select(
        [runs["scheme"].str.startswith("he_"), runs["scheme"].str.startswith("xavier_")],
        ["He", "Xavier"],
        "",
    )
    runs = runs.assign(family=family)
    return runs[(runs["family"] != "") & runs["activation"].eq("relu")]


def gain_at(curves, runs, step):
    """Per run: train accuracy over the majority rate at the last logged step <= ``step``."""
    runs = runs.set_index(["cell", "seed"])
    return (value_at(curves, step).reindex(runs.index) - runs["majority_rate"]).rename("gain")


def steps_to(curves, runs, gain, budget):
    """Per run: first logged step <= budget with train accuracy >= majority + gain, and
    whether it is censored (never reached: recorded as ``budget``)."""
    target = runs.groupby("cell")["majority_rate"].first() + gain
    first = first_step_reaching(curves[curves["step"] <= budget], target)
    first = first.reindex(pd.MultiIndex.from_frame(runs[["cell", "seed"]]))
    return first.fillna(budget).clip(lower=1).rename("steps"), first.isna().rename("censored")


def per_run(runs, curves, layers):
    """One row per (family, depth, seed): steps trained, gains in the window and budget,
    steps to the target, and the first layer's weight-gradient norm at init."""
    keys = runs.set_index(["cell", "seed"])[["family", "depth", "steps", "init"]]
    keys = keys.rename(columns={"steps": "trained"})
    init = layers[layers["step"].eq(0) & layers["layer"].eq(1)]
    grad = init.set_index(["cell", "seed"])["grad_w_norm"].rename("grad_w1")
    steps, censored = steps_to(curves, runs, CONVERGED, BUDGET)
    gains = [
        gain_at(curves, runs, n).rename(f"{name}_gain")
        for name, n in (("window", WINDOW), ("budget", BUDGET))
    ]
    table = keys.join([*gains, steps, censored, grad])
    return table.reset_index()


def by_seed(table, depth, family, column):
    at = table[table["depth"].eq(depth) & table["family"].eq(family)]
    return at.set_index("seed")[column]


def effects_of(table):
    """The claim's effects from the per-run table (NotTestable without both depths)."""
    for depth in (STALL_DEPTH, BOTH_DEPTH):
        at = table[table["depth"].eq(depth)]
        if at["family"].nunique() < 2:
            raise NotTestable(
                f"the he_xavier study has no ReLU nets with both He and Xavier init at depth "
                f"{depth} (depths run: {', '.join(map(str, sorted(table['depth'].unique())))})"
            )
    too_short = table.loc[table["trained"] < BUDGET, "depth"]
    if len(too_short):
        raise NotTestable(f"the he_xavier study trains fewer steps than the claim's {BUDGET}")

    def log2_ratio(depth):
        xavier, he = (by_seed(table, depth, f, "steps") for f in ("Xavier", "He"))
        censored = by_seed(table, depth, "Xavier", "censored") & ~by_seed(
            table, depth, "He", "censored"
        )
        return np.log2(xavier / he), censored

    grad_w1 = [by_seed(table, STALL_DEPTH, f, "grad_w1") for f in ("Xavier", "He")]
    grad = np.log10(grad_w1[0] / grad_w1[1])
    slow30, cens30 = log2_ratio(STALL_DEPTH)
    slow22, cens22 = log2_ratio(BOTH_DEPTH)
    growth = slow30 - slow22  # NaN (a seed without one of the runs): counted, not measured
    he_censored_22 = by_seed(table, BOTH_DEPTH, "He", "censored")
    return [
        Effect(
            f"depth {STALL_DEPTH}: He's accuracy gain over chance within {WINDOW} updates",
            tuple(by_seed(table, STALL_DEPTH, "He", "window_gain")),
            CONVERGED,
            True,
        ),
        Effect(
            f"depth {STALL_DEPTH}: Xavier's accuracy gain over chance within {WINDOW} updates",
            tuple(by_seed(table, STALL_DEPTH, "Xavier", "window_gain")),
            FLAT,
            False,
        ),
        Effect(
            f"depth {STALL_DEPTH}: log10 of Xavier's ||dL/dW_1|| over He's at init",
            tuple(grad),
            math.log10(GRADIENT_RATIO),
            False,
        ),
        Effect(
            f"depth {BOTH_DEPTH}: Xavier's accuracy gain over chance within {BUDGET} updates",
            tuple(by_seed(table, BOTH_DEPTH, "Xavier", "budget_gain")),
            CONVERGED,
            True,
        ),
        Effect(
            f"depth {BOTH_DEPTH}: log2 of Xavier's steps to the target over He's",
            tuple(slow22),
            0.0,
            True,
            censored=tuple((cens22 | he_censored_22).reindex(slow22.index, fill_value=False)),
        ),
        Effect(
            f"log2 step ratio Xavier / He at depth {STALL_DEPTH} minus at {BOTH_DEPTH}",
            tuple(growth),
            0.0,
            True,
            censored=tuple(cens30.reindex(growth.index, fill_value=False)),
        ),
    ]


@published_claim(
    "he_xavier",
    "He et al.: deep ReLU nets converge with He init; at 30 layers Xavier stalls",
    "A 22-layer ReLU network converges with both He (Var = 2/fan_in) and Xavier init, He "
    "sooner; at 30 layers it converges with He init, while with Xavier init it completely "
    "stalls, its gradients diminishing.",
    "He, Zhang, Ren & Sun 2015, 'Delving deep into rectifiers' (section 2.2, figures 2-3).",
    ["he_xavier"],
    quote="For ReLU we multiply our randomly generated weights by: "
    "$$\\sqrt{rac{2}{size^{[l-1]}}}$$",
    seed=True,
)
def check_he_xavier(results):
    runs = families(results.rows("runs", "he_xavier"))
    curves = results.rows("curves", "he_xavier")
    curves = curves[curves["cell"].isin(runs["cell"])]
    columns = ("cell", "seed", "step", "layer", "grad_w_norm")
    layers = results.rows("layers", "he_xavier", columns=columns)
    table = per_run(runs, curves, layers[layers["cell"].isin(runs["cell"])])
    effects = effects_of(table)
    summary = table.groupby(["depth", "family"]).agg(
        seeds=("seed", "size"),
        window_gain=("window_gain", "median"),
        budget_gain=("budget_gain", "median"),
        steps=("steps", "median"),
        censored=("censored", "sum"),
        grad_w1=("grad_w1", "median"),
    )
    rows = [
        (
            f"depth {d}, {f}: median gain over chance at {WINDOW} / {BUDGET} updates; median "
            f"steps to chance + {CONVERGED}; ||dL/dW_1|| at init",
            f"{gnum(r.window_gain, 3)} / {gnum(r.budget_gain, 3)}; {r.steps:.0f}"
            + (f" ({r.censored:.0f} of {r.seeds} never)" if r.censored else "")
            + f"; {gnum(r.grad_w1, 3)}",
        )
        for (d, f), r in summary.iterrows()
    ]
    momenta, rates = listed(runs["momentum"], "{:g}"), listed(runs["lr"], "{:g}")
    panels = sorted(runs["depth"].unique())
    caption = (
        f"Train accuracy of ReLU nets, He against Xavier init, per depth (median and range over "
        f"seeds); dotted: chance + {CONVERGED}; dashed: the window in which the claim is "
        f"judged ({WINDOW} updates at depth {STALL_DEPTH}, {BUDGET} otherwise)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Windows fixed before any run, the same in every tier. A gain 'within N updates' "
            f"is train accuracy over chance at the last logged step at or before N; steps to "
            f"the target count a run that never gets there as {BUDGET} steps, a lower bound."
        ),
        notes=(
            f"The paper's setting: SGD with momentum 0.9 and lr 0.01, no batch norm; here "
            f"momentum {momenta}, lr {rates}, constant (no schedule), biases trained from 0."
        ),
        figure=Figure(
            partial(plot, runs, curves, panels),
            caption,
            ncols=len(panels),
            size=(3.6 * len(panels) + 1.8, 3.4),
        ),
    )


def plot(runs, curves, panels, fig, axes):
    """Train accuracy per depth, He against Xavier, with the target and the window."""
    line = curves.merge(runs[["cell", "seed", "family"]], on=["cell", "seed"])
    for ax, depth in zip(axes, panels):
        sns.lineplot(
            line[line["depth"].eq(depth)],
            x="step",
            y="train_accuracy",
            hue="family",
            hue_order=["He", "Xavier"],
            estimator="median",
            errorbar=("pi", 100),
            ax=ax,
        )
        chance = runs.loc[runs["depth"].eq(depth), "majority_rate"].median()
        ax.axhline(chance + CONVERGED, color="grey", ls=":", lw=1)
        ax.axvline(WINDOW if depth == STALL_DEPTH else BUDGET, color="grey", ls="--", lw=1)
        ax.set_title(f"depth {depth}")
        ax.set_ylabel("train accuracy (median, range over seeds)")
        step_axis(ax)
    legend_outside(fig, axes)
