"""9. LSUV: the published claim, its thresholds and its check."""

import math

import seaborn as sns

from ..plotting import integer_axis, legend_outside
from ..text import gnum
from .base import NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

LSUV_TOL = 0.1  # the tolerance LSUV itself used
LSUV_ROWS = 512  # LSUV measured its variances on the first 512 training rows
SAMPLING_SE = 2  # allowance in standard errors sqrt(2/n) of a variance from n rows


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
        ("Largest |Var(z_l) - 1| over hidden layers and seeds, all activations", gnum(off.max(), 3))
    ] + [
        (
            f"{act}: largest |Var - 1| (hidden); output layer Var",
            f"{gnum(v, 3)}; {gnum(output[act], 3)}",
        )
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
        f"{tol:.3f}. Largest deviation {gnum(off.max(), 3)} ({off.idxmax()})."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
