"""Measured cells near a network shape: what ``initbench advise`` cites as evidence.

Reads the aggregated tables only (``outcomes``), no kernels: the cells of one activation
whose depth and width lie within a factor of the net's (plain nets in SP, trained at least
MIN_STEPS steps), whether each trained (the stall rule), its steps to target, and the
published claims whose studies hold it.
"""

import json
from pathlib import Path

from .outcomes import load_tables, stalled_cells, steps_to_target, summarize_cells

NEAR_DEPTH = 1.5  # a nearby cell's depth lies within this factor of the net's
NEAR_WIDTH = 2.0  # and its width within this one
MIN_STEPS = 100  # a cell measured at init (1 step) says nothing about whether a net trains


def nearby(results_dir, activation, depth, width):
    """(cells, claims): the nearby cells, one row each (``summarize_cells``' columns plus
    ``trained`` and ``steps``, its median run's first step at the target), and the claims
    as (key, verdict, set of its cells). None when ``results_dir`` holds no runs table."""
    tables = load_tables(results_dir)
    runs = tables["runs"]
    if not len(runs):
        return None
    cells = summarize_cells(runs)
    near = cells[
        cells["activation"].eq(activation)
        & cells["steps"].ge(MIN_STEPS)
        & cells["architecture"].eq("plain")  # advise's theory: plain nets in SP
        & cells["parametrization"].eq("sp")
        & cells["depth"].between(depth / NEAR_DEPTH, depth * NEAR_DEPTH)
        & cells["width"].between(width / NEAR_WIDTH, width * NEAR_WIDTH)
    ]
    curves = tables["curves"]
    curves = curves[curves["cell"].isin(near.index)] if len(curves) else curves
    _, steps = steps_to_target(cells, curves)  # targets from every cell of each dataset
    stalled = stalled_cells(runs[runs["cell"].isin(near.index)])
    near = near.assign(
        trained=~stalled.reindex(near.index, fill_value=True).astype(bool),
        steps=steps.reindex(near.index),
    )
    return near, claims_over(results_dir, tables["studies"])


def claims_over(results_dir, studies):
    """[(claim key, verdict, its studies' cells)] from results/findings.json (none without)."""
    path = Path(results_dir) / "findings.json"
    if not path.exists() or not len(studies):
        return []
    return [
        (item["key"], item["verdict"],
         set(studies.loc[studies["study"].isin(item["studies"]), "cell"]))
        for item in json.loads(path.read_text())
    ]  # fmt: skip
