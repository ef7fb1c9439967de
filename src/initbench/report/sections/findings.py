"""The findings: each published claim's verdict, as the findings job wrote it."""

import shutil
from pathlib import Path

from ...findings import INCONCLUSIVE, read_findings
from ...text import slug


def build(findings_json, figure_dir):
    """The findings block of the page from ``findings_json``; the claims' figures (next to
    it, in ``findings/``) are copied into ``figure_dir``."""
    findings_json = Path(findings_json)
    if not findings_json.is_file():
        return {"available": False, "items": [], "counts": [],
                "message": f"No findings: {findings_json} does not exist."}  # fmt: skip
    source_dir = findings_json.parent / "findings"
    current = read_findings(findings_json)
    others = other_tiers(findings_json, {f.tier for f in current})
    rendered = []
    for f in current:
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
            "tier": f.tier, "budget_text": budget_text(f.budget),
            "other_tiers": [
                {"tier": tier, "verdict": o.verdict, "budget_text": budget_text(o.budget),
                 "verdict_class": slug(o.verdict.replace(" ", "-")),
                 "disagrees": INCONCLUSIVE not in (o.verdict, f.verdict) and o.verdict != f.verdict}
                for tier, found in others.items() if (o := found.get(f.key)) is not None
            ],
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


def other_tiers(findings_json, shown):
    """{tier: {claim key: Finding}} from the findings-<tier>.json files beside
    ``findings_json`` for the tiers not ``shown``: the last run of each tier."""
    found = {}
    for path in sorted(Path(findings_json).parent.glob("findings-*.json")):
        tier = path.stem.removeprefix("findings-")
        if tier not in shown:
            found[tier] = {f.key: f for f in read_findings(path)}
    return found


def budget_text(budget):
    if not budget:
        return "no runs"
    return "; ".join(
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in budget.items()
    )
