"""Measured cells near a network shape: what ``initbench advise`` cites as evidence.

Reads the aggregated tables only (``outcomes``), no kernels: the cells of one activation
whose depth and width lie within a factor of the net's (plain nets in SP, trained at least
MIN_STEPS steps), whether each trained (the stall rule), its steps to target, and the
published claims whose studies hold it.
"""

from .outcomes import stalled_cells, steps_to_target, summarize_cells
from .results import load_results

NEAR_DEPTH = 1.5  # a nearby cell's depth lies within this factor of the net's
NEAR_WIDTH = 2.0  # and its width within this one
MIN_STEPS = 100  # a cell measured at init (1 step) says nothing about whether a net trains


def nearby(results_dir, activation, depth, width):
    """(cells, claims): the nearby cells, one row each (``summarize_cells``' columns plus
    ``trained`` and ``steps``, its median run's first step at the target), and the claims
    as (key, verdict, set of its cells). None when ``results_dir`` holds no runs table."""
    results = load_results(results_dir)
    runs = results.runs
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
    curves = results.curves
    curves = curves[curves["cell"].isin(near.index)] if len(curves) else curves
    _, steps = steps_to_target(cells, curves)  # targets from every cell of each dataset
    stalled = stalled_cells(runs[runs["cell"].isin(near.index)])
    near = near.assign(
        trained=~stalled.reindex(near.index, fill_value=True).astype(bool),
        steps=steps.reindex(near.index),
    )
    return near, claims_over(results)


def claims_over(results):
    """[(claim key, verdict, its studies' cells)] of the last findings job (none without)."""
    findings, studies = results.findings, results.studies
    if not len(studies):
        return []
    latest = findings[findings["latest"]] if len(findings) else findings
    return [
        (key, verdict, set(studies.loc[studies["study"].isin(names), "cell"]))
        for key, verdict, names in zip(latest["key"], latest["verdict"], latest["studies"])
    ]
