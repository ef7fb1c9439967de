"""The top of the page: headline numbers over the whole study."""

from ...outcomes import STALL_RULE, finite
from ...text import fnum, gnum, plural, seconds_text


def build(r):
    """Headline numbers for the top of the page."""
    cells, runs = r.cells, r.tables["runs"]
    if not len(cells):
        return {"facts": [], "headline": ["No runs in the results tables."]}
    n_div = int(cells["n_diverged"].sum())
    trained = ~cells["stalled"] & (cells["n_diverged"] < cells["seeds"])
    facts = [
        ("cells", f"{len(cells)}"),
        ("runs", f"{len(runs)} ({plural(int(cells['seeds'].max()), 'seed')} max per cell)"),
        ("datasets", ", ".join(r.dataset_order)),
        ("activations", ", ".join(r.activation_order)),
        ("inits", f"{cells['init'].nunique()}"),
        ("depths", ", ".join(str(d) for d in sorted(cells["depth"].unique()))),
        ("studies", ", ".join(r.studies) or "none"),
        ("training time", seconds_text(float(cells["train_seconds"].sum()))),
    ]
    headline = [
        f"{len(cells)} cells, {len(runs)} runs: {int(trained.sum())} cells trained, "
        f"{int(cells['stalled'].sum())} stalled ({STALL_RULE}), "
        f"{int((cells['n_diverged'] > 0).sum())} had a diverged run "
        f"({plural(n_div, 'run')} hit inf/NaN)."
    ]
    best = []
    for dataset in r.dataset_order:
        sub = cells[cells["dataset"] == dataset]
        if sub["task"].iloc[0] == "classification":
            row = sub.loc[sub["test_acc"].idxmax()] if sub["test_acc"].notna().any() else None
            if row is not None:
                best.append(
                    f"{dataset}: {row['test_acc']:.2f} test accuracy "
                    f"({row['activation']}, {row['variant']}, depth {row['depth']})"
                )
        elif sub["test_loss"].notna().any():
            row = sub.loc[sub["test_loss"].idxmin()]
            best.append(
                f"{dataset}: test loss {gnum(row['test_loss'], 3)} "
                f"({row['activation']}, {row['variant']}, depth {row['depth']})"
            )
    if best:
        headline.append("Best cell per dataset (median over seeds): " + "; ".join(best) + ".")
    headline += deep_headline(r)
    return {"facts": facts, "headline": headline}


def deep_headline(r):
    """Per dataset and activation: best and worst init at the overview's largest depth."""
    cells = r.cells_of("overview")
    lines = []
    for dataset in r.ordered(cells["dataset"], r.dataset_order):
        sub = cells[cells["dataset"] == dataset]
        regression = sub["task"].iloc[0] == "regression"
        value = "test_loss" if regression else "test_acc"
        depth = int(sub["depth"].max())
        parts = []
        for act in r.ordered(sub["activation"], r.activation_order):
            s = sub[(sub["activation"] == act) & (sub["depth"] == depth)]
            vals = finite(s.groupby("variant")[value].median()).dropna()
            if len(vals) < 2:
                continue
            best = vals.idxmin() if regression else vals.idxmax()
            worst = vals.idxmax() if regression else vals.idxmin()
            show = (lambda v: gnum(v, 2)) if regression else fnum
            parts.append(f"{act} {best} {show(vals[best])} vs {worst} {show(vals[worst])}")
        if parts:
            what = "test loss" if regression else "test accuracy"
            lines.append(
                f"{dataset} at depth {depth}, best vs worst init by median {what}: "
                + "; ".join(parts)
                + "."
            )
    return lines
