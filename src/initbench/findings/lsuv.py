"""Mishkin & Matas 2016: very deep, thin networks train with LSUV as well as with others.

The claim is about training, not about LSUV's stopping rule (unit output variance), which
only a bug could break: deep thin nets (depth >= MIN_DEPTH) under LSUV must train, and to an
accuracy no worse than orthogonal and He init reach on the same grid.
"""

import seaborn as sns

from ..outcomes import STALL_MARGIN, stalled_cells
from ..plotting import legend_outside
from ..text import gnum
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

MIN_DEPTH = 20  # "very deep": the paper's thin FitNets have 11-19 layers; we go deeper
RIVALS = ("orthogonal", "he_normal", "he_uniform")  # the schemes LSUV is set against
ACCURACY_TOL = 0.03  # "as good as": median final test accuracy at most this below the best


def judge_group(g):
    """(passed, undecided, sentence) for one (dataset, activation, depth) group of cells."""
    name = f"{g['dataset'].iloc[0]}, {g['activation'].iloc[0]}, depth {g['depth'].iloc[0]}"
    lsuv, rivals = g[g["scheme"].eq("lsuv")], g[~g["scheme"].eq("lsuv")]
    trained = rivals[~rivals["stalled"]]
    if bool(lsuv["stalled"].all()):
        if trained.empty:
            return False, True, f"{name}: no init trains, so nothing to compare"
        return False, False, f"{name}: LSUV stalls while {', '.join(trained['init'])} train"
    best = rivals["accuracy"].max()
    gap = best - lsuv["accuracy"].max()
    text = (f"{name}: LSUV {gnum(lsuv['accuracy'].max(), 3)} against the best other "
            f"{gnum(best, 3)}")  # fmt: skip
    return bool(gap <= ACCURACY_TOL), False, text


@published_claim(
    "lsuv",
    "LSUV: very deep, thin networks train, as well as with other inits",
    "Layer-sequential unit-variance init (orthonormal, then each layer rescaled to unit output "
    "variance) lets very deep, thin networks train, to an accuracy at least as good as more "
    "complex init schemes give.",
    "Mishkin & Matas 2016, 'All you need is a good init' (section 4, FitNets).",
    ["lsuv"],
)
def check_lsuv(claim, results):
    runs = results.rows("runs", "lsuv")
    runs = runs[runs["depth"] >= MIN_DEPTH]
    runs = runs[runs["scheme"].eq("lsuv") | runs["scheme"].isin(RIVALS)]
    keys = ["dataset", "activation", "depth"]
    cells = runs.groupby("cell")[[*keys, "init", "scheme"]].first()
    cells = cells.assign(
        stalled=stalled_cells(runs), accuracy=runs.groupby("cell")["final_test_accuracy"].median()
    )
    groups = [g for _, g in cells.groupby(keys) if g["scheme"].eq("lsuv").any()
              and g["scheme"].isin(RIVALS).any()]  # fmt: skip
    if not groups:
        raise NotTestable(
            f"the lsuv study has no net of depth >= {MIN_DEPTH} with LSUV and one of "
            f"{', '.join(RIVALS)}"
        )
    judged = [judge_group(g) for g in groups]
    decided = [passed for passed, undecided, _ in judged if not undecided]
    if decided and not all(decided):
        verdict = NOT_REPRODUCED
    elif decided and len(decided) == len(judged):
        verdict = REPRODUCED
    else:
        verdict = INCONCLUSIVE
    measured = [
        (f"{r.dataset}, {r.activation}, depth {r.depth}, {r.init}: median final test accuracy",
         gnum(r.accuracy, 3) + (" (stalled)" if r.stalled else ""))
        for r in cells.sort_values([*keys, "init"]).itertuples()
    ]  # fmt: skip
    rule = (
        f"Nets of depth >= {MIN_DEPTH}, per dataset, activation and depth: LSUV must train "
        f"(not stall: a cell stalls when at least half its seeds diverge or end with train "
        f"accuracy <= majority + {STALL_MARGIN}) and reach a median final test accuracy at most "
        f"{ACCURACY_TOL} below the best of {', '.join(RIVALS)}. Reproduced if every group "
        f"passes; not reproduced if one fails; a group where no init trains cannot decide "
        f"(inconclusive). " + "; ".join(text for _, _, text in judged) + "."
    )
    shown = cells.reset_index()

    def plot(fig, axes):
        ax = axes[0]
        shown["net"] = shown["activation"] + ", d" + shown["depth"].astype(str)
        sns.barplot(shown, x="net", y="accuracy", hue="init", ax=ax)
        ax.set_ylabel("median final test accuracy")
        ax.set_xlabel("")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(2.2 * len(groups) + 3.0, 4.0))
    caption = (
        f"Median final test accuracy of nets of depth >= {MIN_DEPTH} under LSUV and the other "
        "inits, per activation. " + "; ".join(text for _, _, text in judged) + "."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
