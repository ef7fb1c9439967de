"""Pennington, Schoenholz & Ganguli 2017: dynamical isometry needs orthogonal weights and a
sigmoidal activation at the edge of chaos, and it makes deep nets train faster.

What the paper claims (abstract; section 2's moments of J J^T's spectrum): at criticality
the normalized variance of lambda = s^2, the squared singular values of the input-output
Jacobian J = prod D^l W^l at one input at the fixed point q*, is
sigma^2 / m_1^2 = L (mu_2/mu_1^2 - 1 - s_1) (``theory.jacobian_moments``): with orthogonal
weights (s_1 = 0) and tanh it is about 8 L q*^2, small at small q* ("sigmoidal networks can
achieve isometry, but only with orthogonal weight initialization"); Gaussian weights
(s_1 = -1) add L; ReLU's D^2 is 0 or 1, so its term is L whatever the weights ("ReLU
networks are incapable of dynamical isometry"). Isometric nets "learn orders of magnitude
faster".

The setting: tanh at the critical point for sigma_b2 = 1e-5 (sigma_w2 = 1.04, q* = 0.020,
near the paper's sigma_w2 = 1.05), against ReLU's critical point (He); the probe rows each
scaled to the init's q* (``probe: {at_q_star: true}``), so that every row is one input at
q*, as the moments assume.

Old rule: tanh orthogonal's spread of lambda pooled over all probe rows (rows at q from
0.008 to 0.5) < 1 at the deepest depth; Gaussian over orthogonal > 10x; ReLU orthogonal's > 1.
New rule: each row at q*, its own spread averaged over rows; tanh orthogonal's within a
factor 1.5 of L (mu_2/mu_1^2 - 1 - s_1) at every depth; at the deepest depth tanh Gaussian
over orthogonal > 10x and ReLU orthogonal's spread > 0.5 L. The prediction is the
infinite-width one; at the study's widths (128-256) Monte Carlo puts tanh orthogonal within
6% of it up to L = 254 (``theory``), inside the factor 1.5.
"""

import math
from functools import partial

import numpy as np
import pandas as pd
import seaborn as sns

from ..effects import Effect, paired
from ..outcomes import TARGET_FRACTION, first_step_reaching, median_curve, param
from ..plotting import CI95, grid_axis, step_axis
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

AGREE = math.log(1.5)  # tanh orthogonal: |log(measured / predicted spread)| at every depth
CONTRAST = 1.0  # log10 Gaussian / orthogonal spread: an order of magnitude
PER_LAYER = 0.5  # ReLU orthogonal: spread / L, 1 in theory (0.75-0.9 at L / N of 0.5-1)
FASTER = 1.0  # log2 steps to target, Gaussian over orthogonal: at least 2x faster
SPECTRA, TRAINING = "isometry_spectra", "isometry_training"


def spectra(runs):
    """Per run: its arm (activation, weights), depth, seed, the per-row spread of lambda
    at q* (``spread``), its prediction there and the number L of D W factors."""
    return runs.assign(
        weights=param(runs, "weights", "normal"),
        spread=runs["init_jacobian_row_spread"],
        predicted=runs["init_jacobian_predicted_var_sq"]
        / runs["init_jacobian_predicted_mean_sq"] ** 2,
        layers=runs["init_jacobian_factors"],
    )


def agreement_effect(spec):
    """Per seed: the largest |log(spread / predicted)| of tanh orthogonal over the study's
    depths (a spectrum that overflowed is infinitely far: counted, not dropped)."""
    ortho = spec[spec["activation"].eq("tanh") & spec["weights"].eq("orthogonal")]
    if not len(ortho):
        return None
    distance = np.abs(np.log(ortho["spread"] / ortho["predicted"])).fillna(np.inf)
    worst = distance.groupby(ortho["seed"]).max()
    depths = ", ".join(str(d) for d in sorted(ortho["depth"].unique()))
    label = f"tanh orthogonal at q*, depths {depths}: largest |log(spread / predicted)|"
    return Effect(label, tuple(worst), AGREE, False)


def spectrum_effects(spec):
    """Tanh orthogonal's spread against the prediction at every depth; at the deepest
    depth, tanh's Gaussian over orthogonal spread above 10^CONTRAST (paired by seed) and
    ReLU orthogonal's spread per layer above PER_LAYER."""
    effects = [e for e in [agreement_effect(spec)] if e is not None]
    deep = spec[spec["depth"].eq(spec["depth"].max())]
    depth = int(deep["depth"].max())
    tanh = deep[deep["activation"].eq("tanh")]
    log_spread = tanh.assign(log_spread=np.log10(tanh["spread"]))
    diff = paired(log_spread, "weights", "log_spread", "normal", "orthogonal")
    if len(diff):
        label = f"tanh, depth {depth}: log10 spread, Gaussian over orthogonal"
        effects.append(Effect(label, tuple(diff), CONTRAST, True))
    relu = deep[deep["activation"].eq("relu") & deep["weights"].eq("orthogonal")]
    if len(relu):
        label = f"relu orthogonal, depth {depth}: spread per layer (spread / L)"
        per_layer = (relu["spread"] / relu["layers"]).fillna(np.inf)  # overflow: no isometry
        effects.append(Effect(label, tuple(per_layer), PER_LAYER, True))
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
    quote="Intriguingly, we find that ReLU networks are incapable of dynamical isometry. On "
    "the other hand, sigmoidal networks can achieve isometry, but only with orthogonal weight "
    "initialization.",
)
def check_isometry(results):
    spec = results.rows("runs", SPECTRA)
    if len(spec):
        missing = pd.Series(dtype=float)
        if spec.get("init_jacobian_factors", missing).isna().all():
            raise NotTestable(f"the {SPECTRA} study has no Jacobian spectra (probe: jacobian)")
        if spec.get("init_jacobian_predicted_var_sq", missing).isna().all():
            raise NotTestable(
                f"the {SPECTRA} study's probe rows were not scaled to q* (probe: at_q_star), "
                "where the predicted spread holds"
            )
        spec = spectra(spec)
    else:
        spec = spec.assign(weights="", spread=np.nan, predicted=np.nan, layers=np.nan)
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
    summary = spec.groupby(["activation", "weights", "depth"])[["spread", "predicted"]].median()
    rows = [
        (
            f"{act} {'Gaussian' if w == 'normal' else w}: per-row spread of s^2 at q* by depth, "
            "median over seeds (predicted)",
            ", ".join(
                f"{d}: {gnum(r['spread'], 3)} ({gnum(r['predicted'], 3)})"
                for (_, _, d), r in g.iterrows()
            ),
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
        "Left: the singular values of the hidden layers' Jacobian at init against depth, "
        "the probe rows at q* (median line, 5-95% band, pooled over rows, median over seeds; "
        "cut at 1e-8). Middle: each row's normalized spread var(s^2)/mean(s^2)^2, averaged "
        "over rows (median over seeds; dashed: the infinite-width prediction "
        "L (mu_2/mu_1^2 - 1 - s_1)). Right: training accuracy of the critical tanh net, "
        "orthogonal against Gaussian, each at its best lr (dotted: the target)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Spectra at init of J from the first to the last hidden layer (L = depth - 2 "
            f"factors D W; sigma_b2 {sb2}, width {widths}), on probe rows each scaled so that "
            f"its first-layer pre-activation's second moment is q*: per row, the spread "
            f"var(s^2) / mean(s^2)^2, averaged over rows. Per seed: tanh orthogonal's largest "
            f"|log(spread / predicted)| over the depths, the prediction "
            f"L (mu_2/mu_1^2 - 1 - s_1) of theory.jacobian_moments at the run's L and q* "
            f"(within a factor {math.exp(AGREE):g}); at the deepest depth, tanh's log10 "
            f"spread Gaussian over orthogonal (10^{CONTRAST:g}) and ReLU orthogonal's spread "
            f"/ L (theory: 1). A spectrum that overflowed counts as infinitely far, not as "
            f"missing. Training: steps to {TARGET_FRACTION:g} x the study's best final train "
            f"accuracy, each arm at its best lr, as log2 Gaussian over orthogonal "
            f"(2^{FASTER:g}; a Gaussian run that never gets there counts as the budget, a "
            f"lower bound)."
        ),
        notes=(
            "The prediction is for infinite width; at widths 64-256, Monte Carlo puts tanh "
            "orthogonal's spread within 6% of it up to L = 254, Gaussian and ReLU's at "
            "0.75-0.9 of it where L / N is 0.5-1."
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
    """Left: the Jacobian's singular values against depth; middle: their spread per row
    against the prediction; right: training accuracy of the tanh arms at their best lr."""
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
        med = med.groupby("depth")[["spread", "predicted"]].median()
        axes[1].plot(med.index, med["spread"], marker="o", color=palette[arm], label=label)
        axes[1].plot(med.index, med["predicted"], color=palette[arm], ls="--", lw=1)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("singular value of J (median, 5-95%)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("var(s^2) / mean(s^2)^2 per row at q*")
    axes[0].set_ylim(bottom=max(axes[0].get_ylim()[0], 1e-8))
    for ax in axes[:2]:
        grid_axis(ax, spec["depth"].unique())
        ax.set_xlabel("depth (weight layers)")
    axes[1].legend(fontsize=7)
    if train_curves is not None:
        sns.lineplot(train_curves, x="step", y="train_accuracy", hue="weights", ax=axes[2], **CI95)
        axes[2].axhline(target, color="grey", ls=":", lw=1)
        axes[2].set_title(f"tanh, depth {depth}, best lr", fontsize=9)
        step_axis(axes[2])
