"""Mishkin & Matas 2016: LSUV lets very deep, thin nets train, to an accuracy at least as good.

What the paper claims (section 4, tables 2-3): after a whole training schedule (FitNets of
11-19 thin layers, SGD with momentum 0.9, a step-decayed lr, ~230 epochs), the final test
accuracy with LSUV is "better or equal to" that of standard inits. It does not claim LSUV
trains faster than orthonormal init, and its own tanh column shows no LSUV advantage.
So the effect is a non-inferiority test on final test accuracy, per activation, with
paired seeds: LSUV minus each rival > -MARGIN.

Theory predicts a tanh gap: LSUV sets every pre-activation's variance to 1 with zero biases,
which for tanh is sigma_w^2 ~ 2.5 and chi1 ~ 1.2, the chaotic phase, while orthogonal init
with gain 1 sits at the critical point (sigma_w^2 = 1, sigma_b^2 = 0). tanh is therefore
its own sub-claim, reported beside the verdict, which rests on the ReLU-family activations
for which the paper reports its gains.
"""

from functools import partial

import seaborn as sns

from ..effects import Effect, paired
from ..plotting import legend_outside
from ..text import gnum, listed
from .base import Evidence, Figure, NotTestable, published_claim

MIN_DEPTH = 20  # "very deep": the paper's thin FitNets have 11-19 layers; we go deeper
RIVALS = ("orthogonal", "he_normal")  # the standard inits LSUV is set against
MARGIN = 0.02  # "equal": LSUV's final test accuracy at most 2 points below a rival's
SUB_CLAIM = ("tanh",)  # activations reported as a sub-claim, not in the verdict


def effects_of(runs):
    """One non-inferiority effect per (dataset, activation, depth, rival)."""
    effects, sub = [], []
    for (dataset, activation, depth), g in runs.groupby(["dataset", "activation", "depth"]):
        for rival in RIVALS:
            diff = paired(g, "scheme", "final_test_accuracy", "lsuv", rival)
            if not len(diff):
                continue
            label = (
                f"{dataset}, {activation}, depth {depth}: LSUV minus {rival}, final test accuracy"
            )
            effect = Effect(label, tuple(diff), -MARGIN, True)
            (sub if activation in SUB_CLAIM else effects).append(effect)
    return effects, sub


@published_claim(
    "lsuv",
    "LSUV: very deep, thin networks train, as well as with other inits",
    "Layer-sequential unit-variance init (orthonormal, then each layer rescaled to unit output "
    "variance) lets very deep, thin networks train, to a final test accuracy better than or "
    "equal to what standard inits give.",
    "Mishkin & Matas 2016, 'All you need is a good init' (section 4, tables 2-3).",
    ["lsuv"],
)
def check_lsuv(results):
    runs = results.rows("runs", "lsuv")
    compared = runs["scheme"].eq("lsuv") | runs["scheme"].isin(RIVALS)
    runs = runs[(runs["depth"] >= MIN_DEPTH) & compared]
    effects, sub = effects_of(runs)
    if not effects:
        raise NotTestable(
            f"the lsuv study has no net of depth >= {MIN_DEPTH} with LSUV and one of "
            f"{', '.join(RIVALS)} on an activation other than {', '.join(SUB_CLAIM)}"
        )
    keys = ["dataset", "activation", "depth", "init"]
    cells = runs.groupby(keys, as_index=False)["final_test_accuracy"].median()
    rows = [
        (
            f"{r.dataset}, {r.activation}, depth {r.depth}, {r.init}: median final test accuracy",
            gnum(r.final_test_accuracy, 3),
        )
        for r in cells.itertuples()
    ] + [(f"Sub-claim (not in the verdict): {e.label}", e.text()) for e in sub]
    momenta, steps = listed(runs["momentum"], "{:g}"), listed(runs["steps"])
    shown = runs.assign(net=runs["activation"] + ", d" + runs["depth"].astype(str))
    caption = (
        f"Final test accuracy of nets of depth >= {MIN_DEPTH} under LSUV and the standard inits, "
        f"per activation (mean and 95% interval over seeds)."
    )
    return Evidence(
        effects,
        rows,
        method=(
            f"Non-inferiority at the end of training, per dataset, activation, depth (>= "
            f"{MIN_DEPTH}) and rival ({', '.join(RIVALS)}): LSUV's final test accuracy minus "
            f"the rival's over paired seeds, against -{MARGIN} (better or equal)."
        ),
        notes=(
            f"{', '.join(SUB_CLAIM)} is a sub-claim shown beside the verdict: theory puts "
            f"LSUV's tanh net in the chaotic phase (chi1 ~ 1.2) and the paper's tanh column "
            f"shows no LSUV gain. The paper's setting: SGD with momentum 0.9 and a step-decayed "
            f"lr for ~230 epochs; here momentum {momenta}, a constant lr (the engine has no "
            f"schedule), {steps} steps."
        ),
        figure=Figure(
            partial(plot, shown), caption, size=(2.2 * shown["net"].nunique() + 3.0, 4.0)
        ),
    )


def plot(shown, fig, axes):
    """Final test accuracy per net and init."""
    sns.barplot(
        shown, x="net", y="final_test_accuracy", hue="init", ax=axes[0], errorbar=("ci", 95)
    )
    axes[0].set_ylabel("final test accuracy (mean, 95% CI)")
    axes[0].set_xlabel("")
    legend_outside(fig, axes)
