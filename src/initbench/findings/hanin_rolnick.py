"""Hanin & Rolnick 2018: with He init, the sum of reciprocal widths, not depth, sets how a
ReLU net starts training.

What the paper claims (the passage followed: the abstract's FM2 sentence, the quote
below, and the figures' timing of early training): He's variance 2/fan_in keeps the mean
squared activation M_d constant over depth (failure mode FM1 avoided), but the
fluctuations of M_d grow with beta = sum_j 1/n_j over the hidden widths (FM2), "avoided by
keeping constant the sum of the reciprocals of layer widths". Their figures time early
training as the epochs to 20% test accuracy on vectorized MNIST over nets of several
depths and width profiles. For a fixed input, log M_d is close to Gaussian with a
variance that adds one term per layer (Hanin & Nica 2018; 5/n per layer of width n at
large width, the "5 beta"); at the study's widths 16-64 the exact term
(spectra.relu_log_norm_variance) is 6-34% off 5/n.

Old rule: slope of Var[log M] on beta within 2.5-10 (5 beta); steps to 20% train accuracy,
at the beta with the widest depth range deepest/shallowest within +-1 log2, and at the
depth with the widest beta range (first on ties) largest/smallest beta above 1 log2.
New rule, fixed before the sized runs: weighted (1/prediction^2) least-squares slope of
Var[log M] on its exact prediction within 2/3-3/2; per seed, log2 steps to 20% test
accuracy = a + b beta + c log2 depth over all profiles, b x (beta range) above 1 and
c x (log2 depth range) within +-1; a run that never gets there counts at its budget, as a
bound, never dropped. Where depth's effect stays undecided, the rule names the seeds its
measured mean and spread would need and their measured cost: on a pilot (600 steps, seeds
100-114, depths 5-33) it sat on its threshold, 0.955 (sd 0.886), about 1,500 seeds away;
on seeds 0-19, 0.834 (sd 0.954), about 127. The paper tier is sized on those (300 seeds,
4000 steps; runs stop at 20%, ``stop_at_test_accuracy``, the rule unchanged).
"""

import math
from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats

from .. import spectra
from ..effects import LEVEL, MAX_SEEDS_NAMED, UNDECIDED, Effect
from ..outcomes import first_step_reaching
from ..tables import decoded
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

SLOPE_RANGE = (2 / 3, 1.5)  # measured Var[log M] per unit of its exact prediction
ALIKE = 1.0  # depth's effect over the study's log2 depth range, log2 steps: within +-this
SLOWER = 1.0  # beta's effect over the study's beta range, log2 steps: above this
START = 0.2  # "training has started": 20% test accuracy, the paper's criterion
ACCURACY = "test_accuracy"  # the paper's figures time test accuracy
INIT, TRAINING = "hanin_rolnick_init", "hanin_rolnick"
DEPTH = f"log2 steps to {START:.0%} test accuracy per seed fit: depth's effect"


def with_profile(frame):
    """``frame`` with each width profile's beta = sum 1/n and the exact Var[log M] of a He
    ReLU net of those widths (``exact``)."""
    profiles = frame["hidden"].drop_duplicates()
    widths = decoded(profiles)
    beta = dict(zip(profiles, widths.map(lambda h: round(sum(1 / n for n in h), 9))))
    exact = dict(zip(profiles, widths.map(spectra.relu_log_norm_variance)))
    return frame.assign(beta=frame["hidden"].map(beta), exact=frame["hidden"].map(exact))


def log_sizes(layers):
    """Per run: log M, the mean squared activation of the last hidden layer at init on the
    probe row (M = mean^2 + std^2 over its units); NaN where every unit is 0 (a dead
    layer, which a narrow ReLU layer can be, has no log size)."""
    top = layers[layers["step"].eq(0) & layers["layer"].eq(layers["depth"] - 1)]
    m = top["probe_act_mean"] ** 2 + top["probe_act_std"] ** 2
    return top.assign(log_m=np.log(m.where(m > 0)))


def slope_values(sizes):
    """Per seed, its share of the weighted least-squares slope of Var[log M] (per width
    profile a, over seeds) on the exact prediction V_a, weights 1 / V_a^2: a variance
    measured over seeds has a spread proportional to itself, so these weights are the
    efficient ones (at 60 seeds, about half the ordinary slope's interval). With d_as the
    seed's squared deviation from its profile's mean (unbiased), the slope is
    sum_a w_a mean_s d_as, so the terms sum_a w_a d_as S / n_a (S seeds in all, n_a with a
    measured log M in profile a) average over the S seeds to it."""
    g = sizes.groupby("hidden")["log_m"]
    n = g.transform("size")
    d = (sizes["log_m"] - g.transform("mean")) ** 2 * n / (n - 1)
    exact = sizes.groupby("hidden")["exact"].first()
    u = 1 / exact**2
    centred = exact - (u * exact).sum() / u.sum()
    w = u * centred / (u * centred**2).sum()
    terms = d * sizes["hidden"].map(w) * sizes["seed"].nunique() / n
    return terms.groupby(sizes["seed"]).sum()


def fit_values(starts):
    """Per seed: the least-squares fit log2 steps = a + b beta + c log2 depth over its runs,
    as b x (beta range) and c x (log2 depth range) over the study's profiles; each with its
    bound: "exact", or, where runs never got there (counted at their budget), "lower" or
    "upper" when every such run's weight in the coefficient has one sign, else "none" (as
    for a seed whose runs cannot separate beta from depth)."""
    beta_range = starts["beta"].max() - starts["beta"].min()
    depth_range = np.log2(starts["depth"].max() / starts["depth"].min())
    fits = {}
    for seed, runs in starts.groupby("seed"):
        x = design(runs)
        if np.linalg.matrix_rank(x) < 3:
            fits[seed] = [(np.nan, "none")] * 2
            continue
        weights = np.linalg.pinv(x)  # coefficient = weights[k] @ log2 steps
        censored = runs["censored"].to_numpy()
        fits[seed] = [
            (scale * weights[k] @ runs["log2_steps"].to_numpy(), _bound(weights[k][censored]))
            for k, scale in ((1, beta_range), (2, depth_range))
        ]
    return fits


def design(runs):
    """The fit's design matrix: 1, beta, log2 depth."""
    return np.column_stack([np.ones(len(runs)), runs["beta"], np.log2(runs["depth"])])


def _bound(weights):
    """How censored values (true >= recorded) bound a coefficient with these weights."""
    if not len(weights):
        return "exact"
    if (weights >= -1e-12).all():
        return "lower"
    return "upper" if (weights <= 1e-12).all() else "none"


def fit_effect(label, fitted, threshold, above):
    """The effect of per-seed (value, bound) pairs: a lower bound is kept as censored (it can
    decide only "above"); a seed bounded only from above, or not at all, is -inf for a claim
    above its threshold (+inf below): counted, it leaves the effect undecided."""
    unknown = -np.inf if above else np.inf
    values = tuple(v if bound in ("exact", "lower") else unknown for v, bound in fitted)
    censored = tuple(bound == "lower" for _, bound in fitted)
    return Effect(label, values, threshold, above, censored=censored)


def hr_effects(sizes, starts):
    effects = []
    if sizes is not None and sizes["exact"].nunique() >= 2:
        values = tuple(slope_values(sizes))
        lo, hi = SLOPE_RANGE
        label = "slope of Var[log M] over seeds against its exact prediction"
        effects += [
            Effect(label + f" (claim: > {lo:.2g})", values, lo, True),
            Effect(label + f" (claim: < {hi:g})", values, hi, False),
        ]
    if starts is None or np.linalg.matrix_rank(design(starts)) < 3:
        return effects  # beta and depth not separable: no training effects
    fits = fit_values(starts)
    beta_fit = [fit[0] for fit in fits.values()]
    depth_fit = [fit[1] for fit in fits.values()]
    lo_beta, hi_beta = starts["beta"].min(), starts["beta"].max()
    shallow, deep = starts["depth"].min(), starts["depth"].max()
    beta_label = (
        f"log2 steps to {START:.0%} test accuracy per seed fit: beta's effect, {gnum(lo_beta, 3)} "
        f"to {gnum(hi_beta, 3)} at equal depth"
    )
    depth_label = f"{DEPTH}, {shallow} to {deep} at equal beta"
    return [
        *effects,
        fit_effect(beta_label, beta_fit, SLOWER, True),
        fit_effect(depth_label + f" (claim: > -{ALIKE:g})", depth_fit, -ALIKE, True),
        fit_effect(depth_label + f" (claim: < {ALIKE:g})", depth_fit, ALIKE, False),
    ]


@published_claim(
    "hanin_rolnick",
    "Hanin & Rolnick: the sum of reciprocal widths, not depth, governs early training",
    "In He-initialised ReLU networks, the fluctuations of the activations' size at init grow "
    "with beta = sum_j 1/n_j (the variance of log ||z_L||^2 as the exact sum over layers "
    "predicts), and early training is governed by beta, not by depth: at equal beta, deeper "
    "nets start training alike; at equal depth, larger beta starts later.",
    "Hanin & Rolnick 2018, 'How to start training: the effect of initialization and "
    "architecture' (FM1, FM2; epochs to 20% test accuracy on MNIST); Hanin & Nica 2018 for "
    "the law of log ||z_L||^2.",
    [INIT, TRAINING],
    partial=True,
    quote="The second failure mode, exponentially large variance of activation length, can "
    "be avoided by keeping constant the sum of the reciprocals of layer widths.",
)
def check_hanin_rolnick(results):
    sizes, dead = init_sizes(results)
    starts = training_starts(results)
    effects = hr_effects(sizes, starts)
    if not effects:
        raise NotTestable("the Hanin & Rolnick studies need two or more width profiles")
    rows, notes = [], []
    if sizes is not None:
        var = profile_variances(sizes)
        rows.append(
            (
                "Var[log M] over seeds at init by width profile (beta): measured, exact, 5 beta",
                "; ".join(
                    f"{r.hidden} ({gnum(r.beta, 3)}): {gnum(r.log_m, 3)}, {gnum(r.exact, 3)}, "
                    f"{gnum(5 * r.beta, 3)}"
                    for r in var.itertuples()
                ),
            )
        )
        notes.append(
            f"Runs at init whose last hidden layer was all zero (no log M; the exact "
            f"prediction is conditional on no dead layer): {dead}, left out."
        )
    if starts is not None and np.linalg.matrix_rank(design(starts)) < 3:
        notes.append(
            "The training study's width profiles do not separate beta from log2 depth (all on "
            "one line): no training effects."
        )
    if starts is not None:
        med = starts.groupby(["hidden", "beta"]).agg(
            steps=("log2_steps", lambda v: 2 ** v.median()), never=("censored", "sum")
        )
        rows.append(
            (
                f"steps to {START:.0%} test accuracy (median; runs that never got there)",
                "; ".join(
                    f"{p} ({gnum(b, 3)}): {gnum(r.steps, 3)} ({int(r.never)})"
                    for (p, b), r in med.iterrows()
                ),
            )
        )
        notes.append(
            f"Runs that never reached {START:.0%} test accuracy (diverged ones included): "
            f"{int(starts['censored'].sum())} of {len(starts)}, each counted at its budget; "
            f"its seed's fitted effect is then a bound: kept as censored where it bounds the "
            f"effect from below, else infinite (the seed counts, and the effect stays undecided)."
        )
        if budget := depth_budget(effects, starts, results.rows("runs", TRAINING)):
            notes.append(budget)
    caption = (
        "Left: the variance over seeds of the log mean squared activation of the last hidden "
        "layer at init, per width profile, against beta (black bars: the exact prediction for the "
        "profile; dotted: Hanin & Nica's 5 beta). Right: steps until the net first reaches "
        f"{START:.0%} test accuracy (median over seeds), against beta; colour and marker give "
        "the depth."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"beta = sum of 1/width over the hidden layers. Init: per width profile, the "
            f"variance over seeds of log M (M: mean squared activation of the last hidden "
            f"layer on one fixed test input); its weighted least-squares slope (weights 1 / "
            f"prediction^2) against the exact Var[log M] of the profile (the sum over its "
            f"layers of Var[log chi^2_K], K ~ Binomial(width, 1/2)), each seed's share of the "
            f"slope giving the interval over seeds, within {SLOPE_RANGE[0]:.2g}-"
            f"{SLOPE_RANGE[1]:g}. Training: per seed, log2 steps to {START:.0%} test accuracy "
            f"(never: the budget) fitted over all width profiles as a + b beta + c log2 depth; "
            f"b times the beta range above {SLOWER:g} and c times the log2 depth range within "
            f"+-{ALIKE:g}."
        ),
        notes=" ".join(notes),
        figure=Figure(partial(plot, sizes, starts), caption, ncols=2, size=(10.0, 3.8)),
    )


def depth_budget(effects, starts, runs):
    """What would decide depth's effect where it is undecided: the seeds its measured mean
    and spread need (runs that never got there at their budget, as values), and their cost
    at this study's measured core-s per seed; "" when it is decided or cannot be sized."""
    undecided = [e for e in effects if e.label.startswith(DEPTH) and e.outcome == UNDECIDED]
    values = np.array([c for _, (c, _) in fit_values(starts).values()])
    if not undecided or len(values) < 2 or not np.isfinite(values).all():
        return ""
    sd = values.std(ddof=1)
    gap = min(abs(values.mean() - e.threshold) for e in undecided)
    if gap == 0 or sd == 0:
        return ""
    seeds = max(
        Effect(e.label, tuple(values), e.threshold, e.above).seeds_needed() for e in undecided
    )
    if seeds > MAX_SEEDS_NAMED:  # beyond the t table: the normal approximation
        seeds = math.ceil((stats.norm.ppf(0.5 + LEVEL / 2) * sd / gap) ** 2)
    per_seed = runs["train_cpu_seconds"].sum() / runs["seed"].nunique()
    return (
        f"Depth's effect, runs that never got there counted at their budget: "
        f"{gnum(values.mean(), 3)} (sd {gnum(sd, 3)} over {len(values)} seeds); at this mean "
        f"and spread about {seeds} seeds would decide it, at the {gnum(per_seed, 3)} core-s a "
        f"seed measured at this budget: about {gnum(seeds * per_seed, 3)} core-s."
    )


def profile_variances(sizes):
    """Per width profile: Var[log M] over seeds, beta, depth and the exact prediction."""
    keys = ["hidden", "beta", "depth", "exact"]
    return sizes.groupby(keys)["log_m"].var().reset_index()


def init_sizes(results):
    """Per run of the init study: log M with its width profile's beta and exact prediction
    (None without the study), and how many runs had an all-zero last hidden layer."""
    columns = (
        "cell",
        "seed",
        "step",
        "layer",
        "depth",
        "hidden",
        "probe_act_mean",
        "probe_act_std",
    )
    layers = results.rows("layers", INIT, columns=columns)
    if not len(layers):
        return None, 0
    sizes = with_profile(log_sizes(layers))
    if sizes["probe_act_std"].isna().all():
        raise NotTestable(f"the {INIT} study has no probe statistics (set probe rows)")
    dead = int(sizes["log_m"].isna().sum())
    return sizes.dropna(subset=["log_m"]), dead


def training_starts(results):
    """Per run of the training study: log2 steps to START test accuracy (never, a diverged
    run included: the budget, censored), with its depth and beta; None without the study.
    A run may stop once it gets there (stop_at_test_accuracy START), not before."""
    curves = results.rows("curves", TRAINING)
    if not len(curves):
        return None
    runs = results.rows("runs", TRAINING).set_index(["cell", "seed"])
    # results written before the setting existed have no such column: nothing stopped
    stop = runs.get("stop_at_test_accuracy", pd.Series(0.0, index=runs.index))
    if stop.between(0, START, inclusive="neither").any():
        raise NotTestable(
            f"the {TRAINING} study stops its runs at a test accuracy below {START:.0%} "
            f"(stop_at_test_accuracy {stop[stop > 0].min():g}): they end before the claim's "
            f"criterion"
        )
    first = first_step_reaching(curves, START, ACCURACY).rename("steps").reset_index()
    first = first.join(
        runs[["depth", "hidden", "steps"]].rename(columns={"steps": "budget"}),
        on=["cell", "seed"],
    )
    first["censored"] = first["steps"].isna()
    first["log2_steps"] = np.log2(first["steps"].fillna(first["budget"]).clip(lower=1))
    return with_profile(first)


def plot(sizes, starts, fig, axes):
    """Left: Var[log M] against beta; right: steps to START against beta."""
    if sizes is not None:
        var = profile_variances(sizes)
        scatter_by_depth(axes[0], var, "log_m")
        axes[0].scatter(var["beta"], var["exact"], marker="_", s=150, lw=2, color="black",
                        label="exact")  # fmt: skip
        grid = np.linspace(0, var["beta"].max() * 1.05, 50)
        axes[0].plot(grid, 5 * grid, color="grey", ls=":", lw=1, label="5 beta")
        axes[0].set_ylabel("Var over seeds of log M at init")
    if starts is not None:
        med = starts.groupby(["hidden", "beta", "depth"])["log2_steps"].median()
        scatter_by_depth(axes[1], (2**med).rename("steps").reset_index(), "steps")
        axes[1].set_yscale("log")
        axes[1].set_ylabel(f"steps to {START:.0%} test accuracy (median)")
    for ax in axes:
        ax.set_xlabel("beta = sum of 1 / width")
        if ax.has_data():
            ax.legend(fontsize=7, title="depth")


def scatter_by_depth(ax, frame, y):
    """``y`` against beta, one colour and marker per depth."""
    sns.scatterplot(
        frame, x="beta", y=y, hue="depth", style="depth", s=60, palette="viridis", ax=ax
    )
