"""The findings: each published claim's verdict, as the findings job wrote it."""

import shutil
from pathlib import Path

from ...findings import read_findings
from ...text import slug


def build(findings_json, figure_dir):
    """The findings block of the page from ``findings_json``; the claims' figures (next to
    it, in ``findings/``) are copied into ``figure_dir``."""
    findings_json = Path(findings_json)
    if not findings_json.is_file():
        return {"available": False, "items": [], "counts": [],
                "message": f"No findings: {findings_json} does not exist."}  # fmt: skip
    source_dir = findings_json.parent / "findings"
    rendered = []
    for f in read_findings(findings_json):
        file = Path(f.figure).name if f.figure else None
        if file and (source_dir / file).is_file():
            shutil.copy2(source_dir / file, Path(figure_dir) / file)
        exists = bool(file) and (Path(figure_dir) / file).is_file()
        rendered.append({
            "key": f.key, "anchor": slug(f.key), "title": f.title, "claim": f.claim,
            "source": f.source, "studies": list(f.studies),
            "measured": [(str(label), str(value)) for label, value in f.measured],
            "verdict": f.verdict, "verdict_class": slug(f.verdict.replace(" ", "-")),
            "rule": f.rule, "figure": file if exists else None,
            "missing_figure": file if file and not exists else None, "caption": f.caption,
        })  # fmt: skip
    counts = {}
    for f in rendered:
        counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
    return {
        "available": True,
        "message": "" if rendered else "No findings were evaluated.",
        "items": rendered,
        "counts": [(v, n, slug(v.replace(" ", "-"))) for v, n in counts.items()],
    }
