"""The page: report/index.html from the drawn sections (build.py) and the findings.

The pipeline's last job, alone on the machine, so it imports nothing that draws or
computes (matplotlib, SciPy, the claims): the findings come from findings.json
(``verdicts``), the sections from the JSON that ``build.build_sections`` wrote.
"""

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from ..files import atomic_path
from ..layout import Layout
from . import html
from .sections import findings as findings_section


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
