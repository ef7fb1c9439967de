"""Overview: which cells train, as heatmaps of init x depth per activation."""

from ...outcomes import STALL_LOSS_FRACTION, STALL_MARGIN, finite
from ...text import fnum, gnum, join_words, plural


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
