"""The seed: Leaky ReLU keeps units from dying, where ReLU units die.

A unit "dies" when it was active at init (z > 0 on some training row) and training leaves it
inactive on every training row; the probe statistics count this on the whole training set
at every logged step (probe_newly_dead), and whether units come back (probe_revived). ReLU
units die at high learning rates, so the study sweeps the rate; zeros and constant inits,
whose units start dead or identical, are left out. A Leaky unit with z <= 0 everywhere still
passes gradient alpha, so it can come back: the claim is that fewer of them stay inactive.

The claim is conditional on a dying regime, which a setting is in only when ReLU's newly
dead share clears DYING beyond seed noise; there, Leaky's share must be lower by FEWER
beyond seed noise, runs paired by seed. Both tiers train the same settings (the paper tier
with more seeds), so they measure the same quantity.
"""

import seaborn as sns

from ..effects import HOLDS, Effect
from ..outcomes import finite
from ..plotting import legend_outside
from .base import INCONCLUSIVE, NotTestable, published_claim

DYING = 0.1  # the dying regime: a rate at which ReLU leaves >= 10% of its units newly dead
FEWER = 0.05  # Leaky must leave at least 5 percentage points fewer units dead there
SYMMETRIC = ("zeros", "constant")
SETTING = ("dataset", "depth", "width", "lr")  # one comparison per training setting


def setting_text(key):
    dataset, depth, width, lr = key
    return f"{dataset}, depth {depth}, width {width}, lr {lr:g}"


def dying_per_run(runs, layers):
    """Per completed run: newly dead and revived share of hidden units at the last logged
    step, and the dead share at init (means over hidden layers)."""
    hidden = layers[(layers["layer"] < layers["depth"]) & layers["probe_newly_dead"].notna()]
    last = hidden["step"].eq(hidden.groupby(["cell", "seed"])["step"].transform("max"))
    end = hidden[last].groupby(["cell", "seed"])[["probe_newly_dead", "probe_revived"]].mean()
    start = hidden[hidden["step"].eq(0)].groupby(["cell", "seed"])["probe_dead_frac"].mean()
    per_run = end.join(start.rename("dead_at_init")).reset_index()
    return runs.merge(per_run, on=["cell", "seed"])


@published_claim(
    "leaky_relu",
    "Leaky ReLU leaves fewer dead units than ReLU",
    "Leaky ReLU, with its small slope for z <= 0, keeps units from dying: where training "
    "leaves ReLU units inactive on every input, fewer Leaky ReLU units stay inactive.",
    "The seed (parameter-initialization.txt): use ReLU or Leaky ReLU in deep networks; "
    "Maas, Hannun & Ng 2013.",
    ["leaky_relu"],
    quote="Leaky ReLU overcomes vanishing gradients entirely by supplying a small, non-zero "
    "gradient",
    seed=True,
)
def check_leaky_relu(claim, results):
    runs = results.rows("runs", "leaky_relu")
    runs = runs[runs["activation"].isin(["relu", "leaky_relu"]) & ~runs["scheme"].isin(SYMMETRIC)]
    layers = results.rows("layers", "leaky_relu")
    if "probe_newly_dead" not in layers or layers["probe_newly_dead"].isna().all():
        raise NotTestable("the leaky_relu study logged no probe statistics (set probe: train)")
    per_run = dying_per_run(runs[runs["status"].eq("completed")], layers)
    table = per_run.pivot_table(index=[*SETTING, "seed"], columns="activation",
                                values="probe_newly_dead")  # fmt: skip
    if set(table.columns) != {"relu", "leaky_relu"}:
        raise NotTestable("the leaky_relu study lacks completed ReLU or Leaky ReLU runs")
    regime, fewer, diverging = [], [], []
    for key, g in table.groupby(level=list(SETTING)):
        both = g.dropna()  # seeds in which both activations completed (did not diverge)
        dying = Effect(f"{setting_text(key)}: ReLU's newly dead share", tuple(g["relu"]),
                       DYING, True)  # fmt: skip
        regime.append(dying)
        if dying.outcome != HOLDS:
            continue
        if 2 * len(both) < len(g):  # most runs of one activation diverged: cannot decide
            diverging.append(setting_text(key))
            continue
        fewer.append(
            Effect(
                f"{setting_text(key)}: ReLU minus Leaky newly dead share",
                tuple(both["relu"] - both["leaky_relu"]),
                FEWER,
                True,
            )
        )
    skipped = (f"; in the dying regime but left out, most runs of one activation diverged: "
               f"{'; '.join(diverging)}") if diverging else ""  # fmt: skip
    largest = max(regime, key=lambda e: e.estimate)
    if fewer:
        why = f"{len(fewer)} setting(s) are in the dying regime and decide{skipped}"
    elif diverging:
        why = f"no dying setting can decide{skipped}"
    else:
        why = (
            f"no setting is in the dying regime beyond seed noise (largest ReLU share "
            f"{largest.text()}); higher rates, more seeds or longer training would decide"
        )
    completed = runs["status"].eq("completed").groupby(
        [runs[k] for k in (*SETTING, "activation")]).mean()  # fmt: skip
    revived = per_run.groupby("activation")["probe_revived"].median()
    measured = [(e.label, e.text()) for e in regime + fewer] + [
        ("Dead at init (z <= 0 on every training row), ReLU vs Leaky",
         " vs ".join(f"{per_run.loc[per_run['activation'].eq(a), 'dead_at_init'].median():.1%}"
                     for a in ("relu", "leaky_relu"))),
        ("Revived (dead at a logged step, active again at the end), ReLU vs Leaky",
         " vs ".join(f"{revived.get(a, float('nan')):.1%}" for a in ("relu", "leaky_relu"))),
        ("Runs that diverged (left out): ReLU / Leaky",
         "; ".join(f"{setting_text(key)}: {1 - c.get('relu', 1):.0%} / "
                   f"{1 - c.get('leaky_relu', 1):.0%}"
                   for key, c in completed.unstack().iterrows())),
    ]  # fmt: skip
    rule = (
        f"Counted on every training row: the share of hidden units active at init and inactive "
        f"(z <= 0 on every row) at the end of training, mean over hidden layers, per run "
        f"(zeros/constant inits and diverged runs left out; a setting in which most runs of "
        f"either activation diverged cannot decide). A setting (dataset, depth, width, "
        f"learning rate) is in the dying regime when the 95% interval over seeds of ReLU's "
        f"share lies above {DYING:.0%}. Reproduced if at least one setting is, and in every such "
        f"setting the interval of ReLU's minus Leaky's share over paired seeds lies above "
        f"{FEWER:.0%} points; not reproduced if one lies below; inconclusive otherwise, and "
        f"when no setting is in the dying regime. Here: {why}."
    )
    shown = per_run.assign(newly_dead=finite(per_run["probe_newly_dead"]))

    def plot(fig, axes):
        sns.pointplot(shown, x="lr", y="newly_dead", hue="activation", ax=axes[0],
                      estimator="mean", errorbar=("ci", 95), dodge=0.2)  # fmt: skip
        axes[0].axhline(DYING, color="grey", ls=":", lw=1)
        axes[0].set_ylabel("newly dead share of hidden units")
        axes[0].set_xlabel("learning rate")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(7.0, 3.8))
    caption = (
        f"Share of hidden units that were active at init and are inactive on every training "
        f"row after training, per learning rate (mean and 95% interval over runs); dotted: the "
        f"dying regime's {DYING:.0%}. {why[0].upper() + why[1:]}."
    )
    if not fewer:  # the claim's condition is not met: nothing to decide
        # shown: the dying settings that could not decide, else the nearest to dying
        shown = [e for e in regime if e.outcome == HOLDS] or [largest]
        return claim.finding(INCONCLUSIVE, rule, measured, figure, caption, shown)
    return claim.decided(fewer, rule, measured, figure, caption)
