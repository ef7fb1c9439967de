"""Pennington, Schoenholz & Ganguli 2017: dynamical isometry needs orthogonal weights and a
sigmoidal activation at the edge of chaos, and it makes deep nets train faster.

What the paper claims (abstract, sections 2-4): at criticality (chi = 1) the spread of the
squared singular values of the input-output Jacobian J = prod D^l W^l grows like
L (mu_2/mu_1^2 - 1 - s_1): with Gaussian weights (s_1 = -1) at least like the depth L,
with orthogonal weights (s_1 = 0) only like 8 L q*^2 for tanh near q* = 0, so a small q*
keeps the spectrum concentrated; ReLU's derivative is 0 or 1, so its spread grows like L
whatever the weights ("ReLU networks are incapable of dynamical isometry"). Isometric
nets "learn orders of magnitude faster".

The setting: tanh at the critical point for sigma_b2 = 1e-5 (sigma_w2 = 1.04, q* = 0.020,
near the paper's sigma_w2 = 1.05) with the input scaled to that fixed point
(``feature_rms``), against ReLU's critical point (He). The rule, fixed before the runs,
reads the normalized spread var(lambda) / mean(lambda)^2 of lambda = s^2 over every
singular value of J(x) on the probe rows.
"""

from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect, paired
from ..outcomes import TARGET_FRACTION, first_step_reaching, median_curve, param
from ..plotting import grid_axis, step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

CONCENTRATED = 1.0  # tanh orthogonal: the spread of lambda = s^2 below its mean squared
CONTRAST = 1.0  # log10 Gaussian / orthogonal spread: an order of magnitude
FASTER = 1.0  # log2 steps to target, Gaussian over orthogonal: at least 2x faster
SPECTRA, TRAINING = "isometry_spectra", "isometry_training"


def spectra(runs):
    """Per run: its arm (activation, weights), depth, seed and normalized spread."""
    return runs.assign(
        weights=param(runs, "weights", "normal"),
        spread=runs["init_jacobian_var_sq"] / runs["init_jacobian_mean_sq"] ** 2,
    )


def spectrum_effects(spec):
    """At the deepest depth: tanh orthogonal's spread below CONCENTRATED, tanh's Gaussian
    over orthogonal spread above 10^CONTRAST, and ReLU orthogonal's spread above
    CONCENTRATED (per seed; paired by seed where two arms meet)."""
    deep = spec[spec["depth"].eq(spec["depth"].max())]
    depth = int(deep["depth"].max())
    effects = []
    tanh = deep[deep["activation"].eq("tanh")]
    ortho = tanh[tanh["weights"].eq("orthogonal")]
    if len(ortho):
        label = f"tanh orthogonal, depth {depth}: spread of s^2 over its mean^2"
        effects.append(Effect(label, tuple(ortho["spread"]), CONCENTRATED, False))
    log_spread = tanh.assign(log_spread=np.log10(tanh["spread"]))
    diff = paired(log_spread, "weights", "log_spread", "normal", "orthogonal")
    if len(diff):
        label = f"tanh, depth {depth}: log10 spread, Gaussian over orthogonal"
        effects.append(Effect(label, tuple(diff), CONTRAST, True))
    relu = deep[deep["activation"].eq("relu") & deep["weights"].eq("orthogonal")]
    if len(relu):
        label = f"relu orthogonal, depth {depth}: spread of s^2 over its mean^2"
        effects.append(Effect(label, tuple(relu["spread"]), CONCENTRATED, True))
    return effects


def speed(runs, curves):
    """Per (weights, seed): steps to TARGET_FRACTION x the study's best final train
    accuracy, at the arm's best lr (fewest steps); never reached: the budget, censored."""
    target = TARGET_FRACTION * runs["final_train_accuracy"].max()
    first = first_step_reaching(curves, target).rename("steps").reset_index()
    settings = runs.groupby("cell")[["init_params", "lr", "steps"]].first()
    first = first.join(settings.rename(columns={"steps": "budget"}), on="cell")
    first["weights"] = param(first, "weights", "normal")
    first["censored"] = first["steps"].isna()
    first["steps"] = first["steps"].fillna(first["budget"]).clip(lower=1)
    best = first.sort_values("steps").groupby(["weights", "seed"], as_index=False).first()
    return best, target


def speed_effect(best, depth):
    table = best.pivot_table(index="seed", columns="weights", values="steps")
    censored = best.pivot_table(index="seed", columns="weights", values="censored")
    if "normal" not in table or "orthogonal" not in table:
        return None
    ratio = np.log2(table["normal"] / table["orthogonal"]).dropna()
    # the orthogonal time must be known; a Gaussian run that never got there is a bound.
    # A seed without both times, or whose orthogonal run never got there, is counted missing
    keep = censored["orthogonal"].reindex(ratio.index).eq(0)
    return Effect(
        f"tanh, depth {depth}: log2 steps to target, Gaussian over orthogonal",
        tuple(ratio[keep]),
        FASTER,
        True,
        censored=tuple(censored["normal"].reindex(ratio[keep].index).astype(bool)),
        missing=len(table) - int(keep.sum()),
    )


@published_claim(
    "isometry",
    "Dynamical isometry: orthogonal tanh nets keep the Jacobian's spectrum, and train faster",
    "At the edge of chaos, tanh networks with orthogonal weights keep the singular values of "
    "the input-output Jacobian concentrated at any depth, while Gaussian weights spread them "
    "with depth; ReLU networks cannot achieve this; the isometric networks train much faster.",
    "Pennington, Schoenholz & Ganguli 2017, 'Resurrecting the sigmoid in deep learning "
    "through dynamical isometry: theory and practice'.",
    [SPECTRA, TRAINING],
    partial=True,
)
def check_isometry(results):
    spec = results.rows("runs", SPECTRA)
    if len(spec) and spec.get("init_jacobian_factors", pd.Series(dtype=float)).isna().all():
        raise NotTestable(f"the {SPECTRA} study has no Jacobian spectra (probe: jacobian)")
    spec = spectra(spec) if len(spec) else spec.assign(weights="", spread=np.nan)
    effects = spectrum_effects(spec) if len(spec) else []
    runs = results.rows("runs", TRAINING)
    runs = runs[runs["activation"].eq("tanh")]
    best, target, train_curves = None, np.nan, None
    if len(runs):
        curves = results.rows("curves", TRAINING)
        best, target = speed(runs, curves[curves["cell"].isin(runs["cell"])])
        effect = speed_effect(best, int(runs["depth"].max()))
        if effect is not None:
            effects.append(effect)
        train_curves = best_lr_curves(runs, curves, best)
    if not effects:
        raise NotTestable("the isometry studies lack the tanh and ReLU arms the rule compares")
    summary = spec.groupby(["activation", "weights", "depth"])["spread"].median()
    rows = [
        (
            f"{act} {w}: spread of s^2 over its mean^2 by depth (median)",
            ", ".join(f"{d}: {gnum(v, 3)}" for (_, _, d), v in g.items()),
        )
        for (act, w), g in summary.groupby(level=[0, 1])
    ]
    if best is not None:
        rows.append(
            (
                f"tanh: steps to train accuracy {gnum(target, 3)} at the best lr (median; "
                "censored: never)",
                ", ".join(
                    f"{w}: {gnum(g['steps'].median(), 3)} "
                    f"({int(g['censored'].sum())}/{len(g)} censored)"
                    for w, g in best.groupby("weights")
                ),
            )
        )
    sb2 = ", ".join(f"{v:g}" for v in sorted(param(spec, "sigma_b2").dropna().unique()))
    widths = ", ".join(str(w) for w in sorted(spec["width"].unique()))
    depth = int(runs["depth"].max()) if len(runs) else None
    caption = (
        "Left: the singular values of the hidden layers' Jacobian at init against depth "
        "(median line, 5-95% band, pooled over probe rows, median over seeds; cut at 1e-8). "
        "Middle: their normalized spread var(s^2)/mean(s^2)^2 (dotted: 1). Right: training "
        "accuracy of the critical tanh net, orthogonal against Gaussian, each at its best lr "
        "(dotted: the target)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Spectra at init on the probe rows (J from the first to the last hidden layer, "
            f"sigma_b2 {sb2}, width {widths}): per seed, the spread var(s^2) / mean(s^2)^2 at "
            f"the deepest depth, and its log10 Gaussian over orthogonal (10^{CONTRAST:g}). "
            f"Training: steps to {TARGET_FRACTION:g} x the study's best final train accuracy, "
            f"each arm at its best lr, as log2 Gaussian over orthogonal (2^{FASTER:g}; a "
            f"Gaussian run that never gets there counts as the budget, a lower bound)."
        ),
        figure=Figure(
            partial(plot, spec, train_curves, target, depth), caption, ncols=3, size=(14.0, 3.8)
        ),
    )


def best_lr_curves(runs, curves, best):
    """Median train accuracy curve per weights, each run at its arm's best lr."""
    chosen = runs.assign(weights=param(runs, "weights", "normal")).join(
        best.set_index(["weights", "seed"])["lr"].rename("best_lr"), on=["weights", "seed"]
    )
    chosen = chosen[chosen["lr"].eq(chosen["best_lr"])]
    keys = curves.set_index(["cell", "seed"]).index
    shown = curves[keys.isin(chosen.set_index(["cell", "seed"]).index)]
    shown = shown.assign(weights=param(shown, "weights", "normal"))
    return median_curve(shown, ["weights"], "train_accuracy")


def plot(spec, train_curves, target, depth, fig, axes):
    """Left: the Jacobian's singular values against depth; middle: their spread; right:
    training accuracy of the tanh arms at their best lr."""
    quantiles = [c for c in spec.columns if c.startswith("init_jacobian_sv_q")]
    bands = spec.groupby(["activation", "weights", "depth"])[quantiles].median().reset_index()
    arms = list(bands.groupby(["activation", "weights"]).groups)
    palette = dict(zip(arms, sns.color_palette()))
    for arm, g in bands.groupby(["activation", "weights"]):
        label = f"{arm[0]}, {'Gaussian' if arm[1] == 'normal' else arm[1]}"
        axes[0].plot(
            g["depth"], g["init_jacobian_sv_q50"], marker="o", color=palette[arm], label=label
        )
        axes[0].fill_between(
            g["depth"],
            g["init_jacobian_sv_q05"],
            g["init_jacobian_sv_q95"],
            color=palette[arm],
            alpha=0.15,
        )
        med = spec[(spec["activation"] == arm[0]) & (spec["weights"] == arm[1])]
        med = med.groupby("depth")["spread"].median()
        axes[1].plot(med.index, med, marker="o", color=palette[arm], label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("singular value of J (median, 5-95%)")
    axes[1].set_yscale("log")
    axes[1].axhline(CONCENTRATED, color="grey", ls=":", lw=1)
    axes[1].set_ylabel("var(s^2) / mean(s^2)^2")
    axes[0].set_ylim(bottom=max(axes[0].get_ylim()[0], 1e-8))
    for ax in axes[:2]:
        grid_axis(ax, spec["depth"].unique())
        ax.set_xlabel("depth (weight layers)")
    axes[1].legend(fontsize=7)
    if train_curves is not None:
        sns.lineplot(train_curves, x="step", y="train_accuracy", hue="weights", ax=axes[2])
        axes[2].axhline(target, color="grey", ls=":", lw=1)
        axes[2].set_title(f"tanh, depth {depth}, best lr", fontsize=9)
        step_axis(axes[2])
