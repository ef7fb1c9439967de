"""Build report/index.html from the aggregated tables and results/findings.json.

Two stages, so that the pipeline draws the report's figures while the findings job runs:
``build_sections`` draws every section's figures from the tables and saves the sections
as JSON; ``render_page`` adds the findings and writes the page. Figures are drawn into a
temporary folder that replaces ``figures/`` when complete, and every file is written
atomically, so an interrupted build leaves the previous report intact.
"""

import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import matplotlib as mpl

from .. import plotting
from ..files import atomic_path
from ..layout import Layout
from ..results import load_results
from . import html
from .base import Report
from .sections import SECTIONS, glance, summary
from .sections import findings as findings_section


def build_report(results_dir, findings_json, out_html, config, log=print):
    """Write ``out_html``, its figures (``figures/*.png`` beside it) and the claims'
    figures (``findings/``); ``results_dir`` holds runs/curves/layers/cost/studies
    ``.parquet``, ``findings_json`` the findings job's verdicts, ``config`` the study's."""
    with tempfile.TemporaryDirectory() as scratch:
        sections_json = Path(scratch) / "sections.json"
        figure_dir = Layout(report=Path(out_html).parent).page_figures
        build_sections(results_dir, config, figure_dir, sections_json, log=log)
        return render_page(sections_json, findings_json, out_html, log=log)


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
                       "sections": sections(report)}  # fmt: skip
        if figure_dir.exists():
            shutil.rmtree(figure_dir)
        os.replace(building, figure_dir)
        with atomic_path(sections_json) as tmp:
            tmp.write_text(json.dumps(context, default=_plain), encoding="utf-8")
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(f"{len(list(figure_dir.glob('*.png')))} section figures in {figure_dir} "
        f"in {time.perf_counter() - start:.1f} s")  # fmt: skip


def render_page(sections_json, findings_json, out_html, log=print):
    """The page from the sections and the findings, every figure embedded in it; the
    claims' figures are copied into ``findings/`` beside it too."""
    out_html = Path(out_html)
    claim_figures = Layout(report=out_html.parent).page_claim_figures
    building = out_html.parent / f".findings.tmp{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        context = json.loads(Path(sections_json).read_text())
        findings = findings_section.build(findings_json, building)
        top = [("seed", "What became of the seed's claims"), ("verdicts", "Every claim's verdict"),
               ("findings", "Findings")]  # fmt: skip
        if not findings["available"]:
            top.remove(("verdicts", "Every claim's verdict"))
        text = html.render({
            "title": "initbench report",
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "toc": [{"id": sid, "title": title} for sid, title in top]
            + [{"id": section["id"], "title": section["title"]} for section in context["sections"]],
            "findings": findings,
            **context,
        })  # fmt: skip
        if claim_figures.exists():
            shutil.rmtree(claim_figures)
        os.replace(building, claim_figures)
        with atomic_path(out_html) as tmp:
            tmp.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(f"report {out_html}")
    return out_html


def sections(report):
    """Every section's template entry, in page order."""
    built = []
    for sid, title, build, needs_layers in SECTIONS:
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
        built.append(section)
        seconds = time.perf_counter() - start
        report.log(f"section {sid}: {len(section['figures'])} figures, "
                   f"{len(section['tables'])} tables in {seconds:.1f} s")  # fmt: skip
    return built


def _plain(value):
    """NumPy scalars in the sections' JSON as Python numbers."""
    return value.item()
