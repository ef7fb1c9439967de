"""The facts under the verdicts: what the study ran and what became of its cells."""

from ...text import fnum, gnum, plural, seconds_text


def build(r):
    """The facts grid: the study's extent, its cells' outcomes and each dataset's best cell
    (what the dataset allows, against which the other numbers read)."""
    cells, runs = r.cells, r.tables["runs"]
    if not len(cells):
        return {"facts": [("runs", "none: the results tables are empty")]}
    n_div = int(cells["n_diverged"].sum())
    div_cells = int((cells["n_diverged"] > 0).sum())
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
        ("cells that trained", f"{int(trained.sum())} of {len(cells)}; the others made no "
                               "progress in at least half their seeds"),
        ("runs that hit inf/NaN", f"{n_div}, in {plural(div_cells, 'cell')}"),
    ]  # fmt: skip
    return {"facts": facts + best_cells(r)}


def best_cells(r):
    """('best on <dataset>', 'value: activation, init, depth') per dataset, medians over
    seeds: test accuracy, or test loss for regression."""
    facts = []
    for dataset in r.dataset_order:
        sub = r.cells[r.cells["dataset"] == dataset]
        regression = sub["task"].iloc[0] == "regression"
        value = sub["test_loss"] if regression else sub["test_acc"]
        if not value.notna().any():
            continue
        row = sub.loc[value.idxmin() if regression else value.idxmax()]
        shown = f"test loss {gnum(row['test_loss'], 3)}" if regression else fnum(row["test_acc"])
        facts.append(
            (
                f"best on {dataset}",
                f"{shown} ({row['activation']}, {row['variant']}, depth {row['depth']})",
            )
        )
    return facts
