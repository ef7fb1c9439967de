"""Divergence: the runs that hit inf/NaN, and when."""

from ...text import fnum, gnum, plural
from .. import html


def build(r, section):
    runs = r.tables["runs"]
    div = runs[runs["status"] == "diverged"]
    if not len(div):
        section["intro"].append(
            f"No run produced inf or NaN: all {len(runs)} runs of {len(r.cells)} cells completed."
        )
        return
    cells = r.cells[r.cells["n_diverged"] > 0]
    steps = div.groupby("cell")["diverged_step"].agg(lambda s: ", ".join(map(str, sorted(s))))
    section["intro"].append(
        f"{plural(len(div), 'run')} of {len(runs)} ({plural(len(cells), 'cell')} of "
        f"{len(r.cells)}) stopped on a non-finite loss or gradient; the step is where "
        f"the first inf/NaN appeared (median {fnum(float(div['diverged_step'].median()), 0)}, "
        f"earliest {int(div['diverged_step'].min())})."
    )
    rows = []
    for name, c in r.sorted_cells(cells).iterrows():
        rows.append(
            [
                *r.cell_id_columns(name, c),
                html.cell(gnum(c["lr"], 3), float(c["lr"])),
                html.cell(f"{int(c['n_diverged'])}/{int(c['seeds'])}", int(c["n_diverged"])),
                html.cell(steps[name], float(c["first_div_step"])),
            ]
        )
    section["tables"].append(
        html.table(
            "divergence-table",
            [
                ("cell", False),
                ("dataset", False),
                ("activation", False),
                ("init", False),
                ("depth", True),
                ("lr", True),
                ("diverged seeds", True),
                ("divergence step(s)", True),
            ],
            rows,
            scroll=len(rows) > 25,
            caption="Cells with at least one diverged run.",
        )
    )
