"""Mean field (Poole et al. 2016): back-propagated gradients shrink or grow by chi1 per layer."""

from functools import partial

import numpy as np
import seaborn as sns

from ..effects import FAILS, Effect, decide
from ..outcomes import theory_curve, with_mean_field_params, with_theory
from ..plotting import legend_outside
from ..text import gnum
from .base import Evidence, Figure, NotTestable, published_claim

SKIP_LAYERS = 3  # mean field: layers skipped while q^l settles towards q*
CHI1_TOL = 0.15  # measured gradient ratio within this relative distance of chi1
STUDIES = ("mean_field", "mean_field_relu")


def gradient_ratios(layers):
    """log(||dL/dz_l||^2 / ||dL/dz_{l+1}||^2) at init for the middle hidden layers.

    Skips the first SKIP_LAYERS layers (q^l still settling) and ratios that involve the
    output layer (a handful of outputs: its gradient norm is noisy). Returns the finite
    ratios and how many were not (a gradient norm of 0 or inf), which the rule names.
    """
    init = layers[layers["step"].eq(0)].sort_values(["cell", "seed", "layer"])
    sq = np.log(init["grad_z_norm"] ** 2)
    above = sq.groupby([init["cell"], init["seed"]]).shift(-1)
    keep = (init["layer"] > SKIP_LAYERS) & (init["layer"] + 1 < init["depth"])
    ratios = with_mean_field_params(init).assign(log_ratio=sq - above)[keep]
    finite = np.isfinite(ratios["log_ratio"])
    return ratios[finite], int((~finite).sum())


@published_claim(
    "chi1",
    "Mean field: gradients shrink or grow by chi1 per layer",
    "At init, the per-layer ratio of back-propagated squared gradient norms ||dL/dz_l||^2 / "
    "||dL/dz_{l+1}||^2 equals chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]: below 1 gradients vanish, "
    "above 1 they explode. For ReLU chi1 = sigma_w^2 / 2.",
    "Poole et al. 2016; Schoenholz et al. 2017, 'Deep information propagation'.",
    STUDIES,
    partial=True,
)
def check_chi1(results):
    ratios, not_finite = gradient_ratios(results.rows("layers", *STUDIES))
    if ratios.empty:
        raise NotTestable(
            f"no mean-field cell is deep enough: the ratio needs depth >= "
            f"{SKIP_LAYERS + 3} (first {SKIP_LAYERS} layers and the output skipped)"
        )
    groups = ratios.groupby(["activation", "sigma_b2", "sigma_w2"])["log_ratio"]
    table = groups.agg(["mean", "size"]).reset_index()
    table["measured"] = np.exp(table["mean"])
    theory = results.tables["theory"]
    table = with_theory(table, theory)
    if table["chi1"].isna().any():
        raise NotTestable("the theory table has no chi1 at these settings: rerun the aggregate")
    predicted = table.set_index(["activation", "sigma_b2", "sigma_w2"])["chi1"]
    table["error"] = table["measured"] / table["chi1"] - 1
    effects = []
    for (a, b, w), g in ratios.groupby(["activation", "sigma_b2", "sigma_w2"]):
        per_seed = g.groupby("seed")["log_ratio"].mean() - np.log(predicted[a, b, w])
        effects.append(
            Effect(
                f"{a}, sigma_b2 {b:g}, sigma_w2 {w:g}: |log(measured / chi1)|",
                tuple(per_seed.abs()),
                float(np.log1p(CHI1_TOL)),
                False,
            )
        )
    rows = [
        (
            f"{r.activation}, sigma_b2 {r.sigma_b2:g}, sigma_w2 {r.sigma_w2:g}: measured ratio vs "
            f"chi1",
            f"{gnum(r.measured, 3)} vs {gnum(r.chi1, 3)} ({r.error:+.1%}, {r.size} layer ratios)",
        )
        for r in table.itertuples()
    ]
    missing = [s for s in STUDIES if not results.has(s)]
    caption = (
        f"Per-layer ratio of squared back-propagated gradient norms at init (points: geometric "
        f"mean over middle layers and seeds) against chi1 from theory (lines), over the sigma_w^2 "
        f"sweep; dotted: 1, the edge of chaos. Largest relative deviation "
        f"{table['error'].abs().max():.1%}."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Measured ratio: geometric mean over seeds, depths and layers l = "
            f"{SKIP_LAYERS + 1} .. depth - 2 (the first {SKIP_LAYERS}, while q settles, and the "
            f"output layer skipped) of ||dL/dz_l||^2 / ||dL/dz_(l+1)||^2 at init. Per seed and "
            f"(activation, sigma_b2, sigma_w2), |log(measured / chi1)| over the middle layers "
            f"of every depth, against log(1 + {CHI1_TOL:g}) (within {CHI1_TOL:.0%} of "
            f"theory.chi1)."
        ),
        notes=(
            "The mean-field prediction is exact only at infinite width, so seeds are needed "
            "here too."
            + (
                f" {not_finite} of {len(ratios) + not_finite} layer ratios were not finite (a "
                f"gradient norm of 0 or inf) and are left out."
                if not_finite
                else ""
            )
        ),
        inconclusive=(results.not_run(missing) if missing and decide(effects) != FAILS else ""),
        figure=Figure(partial(plot, table, theory), caption, size=(7.2, 4.2)),
    )


def plot(table, theory, fig, axes):
    """Measured ratios against chi1 from theory over the sigma_w^2 sweep."""
    ax = axes[0]
    palette = dict(zip(table["activation"].unique(), sns.color_palette()))
    for (act, sb2), g in table.groupby(["activation", "sigma_b2"]):
        curve = theory_curve(theory, act, sb2)
        ax.plot(
            curve["sigma_w2"],
            curve["chi1"],
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
