"""Build report/index.html from the aggregated tables and results/findings.json.

Two stages, so that the pipeline draws the report's figures while the findings job runs:
``build_sections`` draws every section's figures from the tables and saves the sections
as JSON; ``page.render_page`` adds the findings and writes the page. Figures are drawn
into a temporary folder that replaces ``figures/`` when complete, and every file is
written atomically, so an interrupted build leaves the previous report intact.

To add a section: write a module in ``sections/`` with a ``build(report, section)`` and
list it in ``SECTIONS``.
"""

import json
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import matplotlib as mpl

from .. import plotting
from ..files import atomic_path, job_log
from ..layout import Layout
from ..processes import side_by_side
from ..results import load_results
from .base import Report
from .page import render_page
from .sections import (
    activations,
    cells,
    convergence,
    divergence,
    glance,
    gradient_flow,
    overview,
    provenance,
    summary,
    symmetry,
)

# The sections are drawn by two processes side by side, the report's longest serial step
# in a small study (the quick study's 16 figures: 5.2 s in one process), the costliest
# first (as the default tier's and the quick study's logs measure them).
SECTION_PROCESSES = 2
DRAWING_ORDER = ("convergence", "overview", "activations", "gradient-training",
                 "gradient-init", "symmetry", "provenance", "cells", "divergence")  # fmt: skip
# (anchor, title, builder, needs the layers table), in page order; the findings block
# comes first and is built from findings.json (page.py, sections/findings.py).
SECTIONS = (
    ("overview", "Overview: which cells train", overview.build, False),
    ("gradient-init", "Gradient flow at initialization", gradient_flow.at_init, True),
    ("gradient-training", "Gradient flow during training", gradient_flow.during_training, True),
    ("activations", "Activation statistics", activations.build, True),
    ("convergence", "Convergence", convergence.build, False),
    ("divergence", "Divergence", divergence.build, False),
    ("symmetry", "Symmetry", symmetry.build, True),
    ("provenance", "Provenance and cost", provenance.build, False),
    ("cells", "All cells", cells.build, False),
)


def build_report(results_dir, findings_json, out_html, config, log=print):
    """Write ``out_html``, its figures (``figures/*.png`` beside it) and the claims'
    figures (``findings/``); ``results_dir`` holds runs/curves/layers/cost/studies
    ``.parquet``, ``findings_json`` the findings job's verdicts, ``config`` the study's."""
    with tempfile.TemporaryDirectory() as scratch:
        sections_json = Path(scratch) / "sections.json"
        figure_dir = Layout(report=Path(out_html).parent).page_figures
        build_sections(results_dir, config, figure_dir, sections_json, log=log)
        return render_page(sections_json, findings_json, out_html, log=log)


def sections_job(config, results_dir, figure_dir, sections_json, log_path):
    """``build_sections`` with its job log: what the report_sections job runs in a process
    of its own, which imports this module, matplotlib and pandas but not the pipeline's
    jobs (the plan, Numba) nor seaborn."""
    with job_log(log_path) as log:
        build_sections(results_dir, config, figure_dir, sections_json, log=log)


def build_sections(results_dir, config, figure_dir, sections_json, log=print):
    """Every section of the page from the tables: figures into ``figure_dir``, the rest
    (text, tables, figure entries) into ``sections_json``."""
    start = time.perf_counter()
    figure_dir = Path(figure_dir)
    figure_dir.parent.mkdir(parents=True, exist_ok=True)
    building = figure_dir.with_name(f".{figure_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    try:
        tables = load_results(results_dir, lean_layers=True).tables
        log(f"read tables in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{k} {len(v)} rows" for k, v in tables.items()))  # fmt: skip
        report = Report(tables, config or {}, building, log)
        with mpl.rc_context(plotting.STYLE):
            context = {"summary": summary.build(report), "glance": glance.build(report),
                       "sections": sections(report, SECTION_PROCESSES)}  # fmt: skip
        if figure_dir.exists():
            shutil.rmtree(figure_dir)
        os.replace(building, figure_dir)
        with atomic_path(sections_json) as tmp:
            tmp.write_text(json.dumps(context, default=_plain), encoding="utf-8")
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(f"{len(list(figure_dir.glob('*.png')))} section figures in {figure_dir} "
        f"in {time.perf_counter() - start:.1f} s")  # fmt: skip


def sections(report, processes):
    """Every section's template entry, in page order, drawn by ``processes`` processes
    side by side (processes.side_by_side: each draws whole sections, its figures into
    files of their own)."""
    ids = [sid for sid, *_ in SECTIONS]
    order = [ids.index(sid) for sid in DRAWING_ORDER]
    return side_by_side(partial(_section, report), len(SECTIONS), processes, order, _plain)


def _section(report, number):
    """Section ``number`` of SECTIONS: its template entry, its figures drawn."""
    sid, title, build, needs_layers = SECTIONS[number]
    start = time.perf_counter()
    section = {"id": sid, "title": title, "intro": [], "figures": [], "tables": [],
               "empty": None, "pre": None, "facts": []}  # fmt: skip
    if not len(report.cells) and sid != "provenance":
        section["empty"] = "The runs table is empty: there is nothing to show."
    elif needs_layers and not len(report.tables["layers"]):
        section["empty"] = "The layers table is missing or empty: nothing to show."
    else:
        build(report, section)
    if not any(section[k] for k in ("figures", "tables", "empty", "pre", "facts", "intro")):
        section["empty"] = "Nothing to show for this study."
    seconds = time.perf_counter() - start
    report.log(f"section {sid}: {len(section['figures'])} figures, "
               f"{len(section['tables'])} tables in {seconds:.1f} s")  # fmt: skip
    return section


def _plain(value):
    """NumPy scalars in the sections' JSON as Python numbers."""
    return value.item()
