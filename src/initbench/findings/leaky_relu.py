"""The seed: Leaky ReLU keeps units from dying, where ReLU units die.

A unit "dies" when it was active at init (z > 0 on some training row) and training leaves it
inactive on every training row; the probe statistics count this on the whole training set
at every logged step (probe_newly_dead), and whether units come back (probe_revived). ReLU
units die at high learning rates, so the study sweeps the rate; zeros and constant inits,
whose units start dead or identical, are left out. A Leaky unit with z <= 0 everywhere still
passes gradient alpha, so it can come back: the claim is that fewer of them stay inactive.
"""

import seaborn as sns

from ..outcomes import finite
from ..plotting import legend_outside
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

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
)
def check_leaky_relu(claim, results):
    runs = results.rows("runs", "leaky_relu")
    runs = runs[runs["activation"].isin(["relu", "leaky_relu"]) & ~runs["scheme"].isin(SYMMETRIC)]
    layers = results.rows("layers", "leaky_relu")
    if "probe_newly_dead" not in layers or layers["probe_newly_dead"].isna().all():
        raise NotTestable("the leaky_relu study logged no probe statistics (set probe: train)")
    completed = (
        runs["status"].eq("completed").groupby([runs[k] for k in (*SETTING, "activation")]).mean()
    )
    per_run = dying_per_run(runs[runs["status"].eq("completed")], layers)
    table = per_run.pivot_table(index=list(SETTING), columns="activation",
                                values="probe_newly_dead", aggfunc="median")  # fmt: skip
    # a rate decides only where most runs of both activations completed (did not diverge)
    survived = completed.unstack().reindex(index=table.index, columns=table.columns)
    table = table[(survived >= 0.5).all(axis=1)].dropna()
    if table.empty or set(table.columns) != {"relu", "leaky_relu"}:
        raise NotTestable(
            "no setting has ReLU and Leaky ReLU runs that mostly completed (did not diverge)"
        )
    dying = table[table["relu"] >= DYING]
    if dying.empty:
        verdict, why = (
            INCONCLUSIVE,
            (
                f"in no setting did ReLU leave {DYING:.0%} of its units dead (largest "
                f"{table['relu'].max():.1%}, at rates up to "
                f"{table.index.get_level_values('lr').max():g}): the budget cannot decide; "
                f"higher rates or longer training would"
            ),
        )
    elif bool((dying["leaky_relu"] <= dying["relu"] - FEWER).all()):
        verdict, why = (
            REPRODUCED,
            f"Leaky leaves fewer units dead in all {len(dying)} dying settings",
        )
    else:
        verdict, why = NOT_REPRODUCED, "Leaky leaves as many units dead in some dying setting"
    revived = per_run.groupby("activation")["probe_revived"].median()
    measured = [
        (f"{setting_text(key)}: newly dead share of hidden units, ReLU vs Leaky (median)",
         f"{r['relu']:.1%} vs {r['leaky_relu']:.1%}")
        for key, r in table.iterrows()
    ] + [
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
        f"(z <= 0 on every row) at the end of training, mean over hidden layers, median over "
        f"runs of one setting (dataset, depth, width, learning rate; zeros/constant inits and "
        f"diverged runs left out; a setting in which most runs of either activation diverged "
        f"cannot decide). The dying regime is the settings in which ReLU leaves >= {DYING:.0%} "
        f"dead. Reproduced if Leaky ReLU's share is at least {FEWER:.0%} points lower in every "
        f"such setting; not reproduced otherwise; inconclusive if no setting reaches the dying "
        f"regime. Here: {why}."
    )
    shown = per_run.assign(newly_dead=finite(per_run["probe_newly_dead"]))

    def plot(fig, axes):
        sns.pointplot(shown, x="lr", y="newly_dead", hue="activation", ax=axes[0],
                      estimator="median", errorbar=("pi", 50), dodge=0.2)  # fmt: skip
        axes[0].axhline(DYING, color="grey", ls=":", lw=1)
        axes[0].set_ylabel("newly dead share of hidden units")
        axes[0].set_xlabel("learning rate")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(7.0, 3.8))
    caption = (
        f"Share of hidden units that were active at init and are inactive on every training "
        f"row after training, per learning rate (median and interquartile range over runs); "
        f"dotted: the dying regime's {DYING:.0%}. {why[0].upper() + why[1:]}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
