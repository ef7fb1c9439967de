"""All cells: one sortable, filterable row per cell."""

import pandas as pd

from ...text import fnum, gnum
from .. import html


def build(r, section):
    cells = r.sorted_cells(r.cells)
    membership = {}
    for study, names in r.studies.items():
        for name in names:
            membership.setdefault(name, []).append(study)
    rows = []
    for name, c in zip(cells.index, cells.to_dict("records")):  # faster than iterrows
        reached = c["steps_to_target"]
        rows.append(
            [
                html.cell(name),
                html.cell(", ".join(membership.get(name, []))),
                html.cell(c["dataset"]),
                html.cell(c["activation"]),
                html.cell(c["variant"]),
                html.cell(str(c["depth"]), int(c["depth"])),
                html.cell(str(c["width"]), int(c["width"])),
                html.cell(str(c["steps"]), int(c["steps"])),
                html.cell(gnum(c["lr"], 3), float(c["lr"])),
                html.cell(str(c["batch_size"]), int(c["batch_size"])),
                html.cell(fnum(c["test_acc"]), float(c["test_acc"])),
                html.cell(fnum(c["train_acc"]), float(c["train_acc"])),
                html.cell(gnum(c["test_loss"], 3), float(c["test_loss"])),
                html.cell(f"{int(c['n_diverged'])}/{int(c['seeds'])}", int(c["n_diverged"])),
                html.cell("yes" if c["stalled"] else "no"),
                html.cell(
                    "never" if pd.isna(reached) else str(int(reached)),
                    "Infinity" if pd.isna(reached) else int(reached),
                ),
                html.cell(fnum(c["train_seconds"]), float(c["train_seconds"])),
            ]
        )
    section["intro"].append(
        f"All {len(cells)} cells, one row each (medians over seeds). Click a column header "
        "to sort; type in the box to keep only rows containing every word typed."
    )
    section["tables"].append(
        html.table(
            "cells-table",
            [
                ("cell", False),
                ("studies", False),
                ("dataset", False),
                ("activation", False),
                ("init", False),
                ("depth", True),
                ("width", True),
                ("steps", True),
                ("lr", True),
                ("batch", True),
                ("test acc", True),
                ("train acc", True),
                ("test loss", True),
                ("diverged", True),
                ("stalled", False),
                ("steps to target", True),
                ("train s", True),
            ],
            rows,
            scroll=True,
            caption="",
            filter=True,
        )
    )
