"""Build report/index.html from the aggregated tables and results/findings.json.

Figures are drawn into a temporary folder that replaces ``figures/`` once the page is
rendered, and the page is written atomically, so an interrupted build leaves the previous
report intact.
"""

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib as mpl

from .. import plotting
from ..outcomes import load_tables
from . import html
from .base import Report
from .sections import SECTIONS, summary
from .sections import findings as findings_section


def build_report(results_dir, findings_json, out_html, config, log=print):
    """Write ``out_html`` and its figures (``<dir of out_html>/figures/*.png``).

    ``results_dir`` holds runs/curves/layers/cost/studies ``.parquet``; ``findings_json``
    the findings job's verdicts (their figures in ``findings/`` beside it); ``config`` is
    the study configuration (shown in the report and used for ordering).
    """
    start = time.perf_counter()
    out_html = Path(out_html)
    out_dir = out_html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    figure_dir = out_dir / "figures"
    building = out_dir / f".figures.tmp{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    try:
        tables = load_tables(results_dir)
        log(f"read tables in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{k} {len(v)} rows" for k, v in tables.items()))  # fmt: skip
        report = Report(tables, config or {}, building, log)
        with mpl.rc_context(plotting.STYLE):
            context = page(report, findings_json)
        text = html.render(context)
        if figure_dir.exists():
            shutil.rmtree(figure_dir)
        os.replace(building, figure_dir)
        tmp_html = out_html.with_name(f".{out_html.name}.tmp{os.getpid()}")
        tmp_html.write_text(text, encoding="utf-8")
        os.replace(tmp_html, out_html)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(f"report {out_html} with {len(list(figure_dir.glob('*.png')))} figures "
        f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return out_html


def page(report, findings_json):
    """The template's context: summary, findings and every section."""
    sections = []
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
        sections.append(section)
        seconds = time.perf_counter() - start
        report.log(f"section {sid}: {len(section['figures'])} figures, "
                   f"{len(section['tables'])} tables in {seconds:.1f} s")  # fmt: skip
    return {
        "title": "initbench report",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "summary": summary.build(report),
        "toc": [{"id": "findings", "title": "Findings"}]
        + [{"id": sid, "title": title} for sid, title, _, _ in SECTIONS],
        "findings": findings_section.build(findings_json, report.figure_dir),
        "sections": sections,
    }
