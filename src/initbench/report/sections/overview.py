"""Overview: which cells train, as heatmaps of init x depth per activation; whether the
study trained to its plateau, and how close its best cells come to a tuned MLP."""

from ...baselines import MLP_REFERENCE_SOURCE, MLP_REFERENCE_WIDTH, MLP_REFERENCES
from ...outcomes import (
    CELL_CLASSES,
    PLATEAU_RULE,
    PLATEAU_SHARE,
    STALL_LOSS_FRACTION,
    STALL_MARGIN,
    finite,
    plateau_check,
)
from ...text import fnum, gnum, join_words, plural
from .. import html

CURVE_COLUMNS = ("cell", "seed", "step", "train_accuracy", "train_loss")


def build(r, section):
    cells = r.cells_of("overview")
    scope = "the overview study's" if "overview" in r.studies else "all"
    section["intro"].append(
        f"Median over seeds of the final test accuracy (test loss for regression) for "
        f"{scope} {len(cells)} cells, one heatmap per activation. Hatched: stalled in at "
        f"least half the seeds (final train accuracy <= chance + {STALL_MARGIN}, or train "
        f"loss >= {STALL_LOSS_FRACTION} x its initial value). Red ✕: at least one seed "
        "diverged (inf/NaN); a grey cell with ✕ diverged in every seed."
    )
    section["intro"].append(training_text(cells))
    plateau(r, section)
    best_against_reference(r, section, cells)
    for dataset in r.ordered(cells["dataset"], r.dataset_order):
        sub = cells[cells["dataset"] == dataset]
        regression = sub["task"].iloc[0] == "regression"
        value = "test_loss" if regression else "test_acc"
        acts = r.ordered(sub["activation"], r.activation_order)
        widths = sorted(sub["width"].unique())
        facets = [
            (
                act if len(widths) == 1 else f"{act}, width {w}",
                sub[(sub["activation"] == act) & (sub["width"] == w)],
            )
            for act in acts
            for w in widths
        ]
        facets = [(title, f) for title, f in facets if len(f)]
        label = "median final test loss" if regression else "median final test accuracy"
        fig = r.heatmaps(
            facets,
            value,
            "test loss" if regression else "test accuracy",
            regression=regression,
            ncols=min(3, len(facets)),
        )
        fig.suptitle(f"{dataset}: {label} by init and depth", fontweight="bold")
        caption = overview_caption(r, dataset, sub, value, regression)
        section["figures"].append(
            r.save(fig, f"overview-{dataset}", caption, f"Heatmaps of {label} on {dataset}")
        )


def overview_caption(r, dataset, sub, value, regression):
    metric = "test loss" if regression else "test accuracy"
    parts = []
    for act in r.ordered(sub["activation"], r.activation_order):
        s = sub[(sub["activation"] == act)]
        s = s[s["depth"] == s["depth"].max()]
        vals = finite(s.groupby("variant")[value].median()).dropna()
        if not len(vals):
            parts.append(f"{act} at depth {s['depth'].max()}: no finite value")
            continue
        show = (lambda v: gnum(v, 2)) if regression else fnum
        parts.append(f"{act} at depth {s['depth'].max()}: {extremes_text(vals, show, regression)}")
    chance = sub["majority_rate"].dropna()
    n_div = int((sub["n_diverged"] > 0).sum())
    n_stall = int(sub["stalled"].sum())
    caption = (
        f"{dataset}: median final {metric} of {len(sub)} cells "
        f"({plural(int(sub['seeds'].max()), 'seed')}). Best and worst init at each "
        f"activation's largest depth — " + "; ".join(parts) + ". "
    )
    if len(chance):
        caption += f"Chance (majority class) is {chance.max():.2f}. "
    caption += (
        f"{plural(n_stall, 'cell')} stalled (hatched); {plural(n_div, 'cell')} "
        f"had a diverged seed (✕)."
    )
    return caption


def extremes_text(vals, show, regression):
    """'best he_normal 0.97, worst zeros 0.50' from {init: value}; inits whose values print
    alike are a tie, and said to be one ('every init 0.50' when all tie)."""
    shown = vals.map(show)
    if shown.nunique() == 1:
        return (
            f"every init {shown.iloc[0]}" if len(vals) > 1 else f"{vals.index[0]} {shown.iloc[0]}"
        )
    best = vals.idxmin() if regression else vals.idxmax()
    worst = vals.idxmax() if regression else vals.idxmin()

    def group(at):
        names = list(shown.index[shown == shown[at]])
        if len(names) == 1:
            return names[0]
        return (join_words(names) if len(names) <= 3 else f"{len(names)} inits") + " (tied)"

    return f"best {group(best)} {shown[best]}, worst {group(worst)} {shown[worst]}"


def plateau(r, section):
    """The plateau check over the overview's cells, in the intro and as a table of the
    cells whose class changed."""
    if "overview" in r.studies:
        runs, curves = r.rows("runs", "overview"), r.rows("curves", "overview")
    else:
        runs, curves = r.tables["runs"], r.tables["curves"]
    if not len(curves):
        return
    check = plateau_check(runs, curves[list(CURVE_COLUMNS)])
    if not len(check):
        return
    changed = check[check["changed"]]
    share = len(changed) / len(check)
    steps = ", ".join(
        f"step {int(g['half_step'].iloc[0])} and step {steps}"
        for steps, g in check.groupby("steps")
    )
    counts = ", ".join(f"{(check['final'] == c).sum()} {c}" for c in CELL_CLASSES)
    verdict = "within" if share <= PLATEAU_SHARE else "more than"
    section["intro"].append(
        f"Plateau check: {len(changed)} of {len(check)} cells ({share:.1%}) changed class "
        f"between {steps}, {verdict} the {PLATEAU_SHARE:.0%} the rule allows. At the end: "
        f"{counts}. The rule: {PLATEAU_RULE}."
    )
    if not len(changed):
        return
    rows = [
        [*r.cell_id_columns(name, r.cells.loc[name]), html.cell(c["half"]), html.cell(c["final"])]
        for name, c in changed.iterrows()
    ]
    section["tables"].append(
        html.table(
            "overview-plateau",
            [("cell", False), ("dataset", False), ("activation", False), ("init", False),
             ("depth", True), ("class at half the steps", False), ("class at the end", False)],
            rows,
            scroll=len(rows) > 25,
            caption="Overview cells whose class changed between half their steps and the end.",
        )
    )  # fmt: skip


def best_against_reference(r, section, cells):
    """Per dataset: the best cell's median test accuracy against what a tuned MLP of the
    same width reaches there (baselines.MLP_REFERENCES), as a table; cells of another
    width are not held to it."""
    cells = cells[cells["width"].eq(MLP_REFERENCE_WIDTH) & cells["test_acc"].notna()]
    rows = []
    for dataset in r.ordered(cells["dataset"], r.dataset_order):
        sub = cells[cells["dataset"] == dataset]
        if not len(sub) or dataset not in MLP_REFERENCES:
            continue
        best = sub.loc[sub["test_acc"].idxmax()]
        reference = MLP_REFERENCES[dataset]
        gap = 100 * (best["test_acc"] - reference.accuracy)
        rows.append([
            html.cell(dataset),
            html.cell(f"{best['activation']}, {best['variant']}, depth {best['depth']}"),
            html.cell(fnum(best["test_acc"], 3), float(best["test_acc"])),
            html.cell(fnum(reference.accuracy, 3), reference.accuracy),
            html.cell(f"{gap:+.1f}", gap),
            html.cell(reference.published or "-"),
        ])  # fmt: skip
    if not rows:
        return
    section["intro"].append(
        f"The best cell on each dataset against what the dataset allows an MLP of that width: "
        f"{MLP_REFERENCE_SOURCE}."
    )
    section["tables"].append(
        html.table(
            "overview-reference",
            [("dataset", False), ("best cell", False), ("its median test accuracy", True),
             ("tuned MLP", True), ("points above the tuned MLP", True), ("published", False)],
            rows,
            caption="The overview's best cell per dataset against a tuned MLP of its width.",
        )
    )  # fmt: skip


def training_text(cells):
    """How the cells were trained: steps, optimizer and the learning rate per depth."""
    lrs = cells.groupby("depth")["lr"].agg(lambda lr: ", ".join(sorted({gnum(v, 3) for v in lr})))
    momentum = ", ".join(gnum(m, 2) for m in sorted(cells["momentum"].unique()))
    steps = ", ".join(str(int(n)) for n in sorted(cells["steps"].unique()))
    optimizer = ", ".join(sorted(cells["optimizer"].unique()))
    return (
        f"Trained {steps} steps with optimizer {optimizer} (momentum {momentum}, batch "
        f"{', '.join(str(int(b)) for b in sorted(cells['batch_size'].unique()))}); learning "
        "rate by depth: " + "; ".join(f"{d}: {lr}" for d, lr in lrs.items()) + "."
    )
