"""The findings: each published claim's verdict, as the findings job wrote it."""

import shutil
from pathlib import Path

from ...effects import FAILS, UNDECIDED
from ...layout import Layout
from ...text import gnum, slug
from ...verdicts import INCONCLUSIVE, read_findings, spent_text
from .. import html
from . import seed_claims


def build(findings_json, figure_dir):
    """The findings block of the page from ``findings_json``; the claims' figures (next to
    it, in ``findings/``) are copied into ``figure_dir``."""
    findings_json = Path(findings_json)
    if not findings_json.is_file():
        return {"available": False, "items": [], "counts": [], "seed": [],
                "message": f"No findings: {findings_json} does not exist."}  # fmt: skip
    source_dir = Layout(findings_json.parent).claim_figures
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
            "measured": [(str(label), str(value)) for label, value in f.measured
                         if label not in {e["label"] for e in f.effects}],  # once: as effects
            "verdict": f.verdict, "verdict_class": slug(f.verdict.replace(" ", "-")),
            "rule": f.rule, "figure": file if exists else None,
            "src": html.data_uri(Path(figure_dir) / file) if exists else None,
            "missing_figure": file if file and not exists else None, "caption": f.caption,
            "tier": f.tier, "budget_text": spent_text(f.budget), "quote": f.quote, "seed": f.seed,
            "effects": [effect_row(e) for e in f.effects],
            "key_effect": key_effect_text(f.effects) or seed_claims.rule_gist(f.rule),
            "other_tiers": [
                {"tier": tier, "verdict": o.verdict, "budget_text": spent_text(o.budget),
                 "verdict_class": slug(o.verdict.replace(" ", "-")),
                 "key_effect": key_effect_text(o.effects),
                 "disagrees": INCONCLUSIVE not in (o.verdict, f.verdict) and o.verdict != f.verdict}
                for tier, found in others.items() if (o := found.get(f.key)) is not None
            ],
        })  # fmt: skip
    counts = {}
    for f in rendered:
        counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
    disagreements = [
        {"title": f["title"], "anchor": f["anchor"],
         "verdicts": [(f["tier"], f["verdict"])] + [(o["tier"], o["verdict"])
                                                    for o in f["other_tiers"]]}
        for f in rendered
        if len({f["verdict"], *(o["verdict"] for o in f["other_tiers"])} - {INCONCLUSIVE}) > 1
    ]  # fmt: skip
    return {
        "available": True,
        "message": "" if rendered else "No findings were evaluated.",
        "items": rendered,
        "seed": seed_claims.build(current, others),
        "disagreements": disagreements,
        "tiers": sorted({f.tier for f in current} | set(others)),
        "counts": [(v, n, slug(v.replace(" ", "-"))) for v, n in counts.items()],
    }


def other_tiers(findings_json, shown):
    """{tier: {claim key: Finding}} from the tiers' findings files beside ``findings_json``
    (``Layout.tier_findings``) for the tiers not ``shown``: the last run of each tier."""
    found = {}
    for tier, path in Layout(Path(findings_json).parent).tiers().items():
        if tier not in shown:
            found[tier] = {f.key: f for f in read_findings(path)}
    return found


def effect_row(effect):
    """One effect of findings.json as the page's table shows it."""
    lo, hi = effect.get("lo"), effect.get("hi")
    interval = "-" if lo is None or lo != lo else f"[{gnum(lo, 3)}, {gnum(hi, 3)}]"
    side = ">" if effect["above"] else "<"
    return {"label": effect["label"], "estimate": gnum(effect["estimate"], 3),
            "interval": interval, "n": effect["n"], "exact": effect.get("exact", False),
            "threshold": f"{side} {gnum(effect['threshold'], 3)}",
            "outcome": effect["outcome"], "seeds_needed": effect.get("seeds_needed")}  # fmt: skip


def key_effect(effects):
    """The effect a verdict turns on: the first that fails, else the first undecided, else
    the one whose interval comes nearest its threshold."""
    for outcome in (FAILS, UNDECIDED):
        for effect in effects:
            if effect["outcome"] == outcome:
                return effect

    def margin(effect):
        edge = effect["lo"] if effect["above"] else effect["hi"]
        gap = abs(edge - effect["threshold"]) if edge == edge else float("inf")
        return gap / max(abs(effect["threshold"]), 1e-12)

    return min(effects, key=margin, default=None)


def key_effect_text(effects):
    """'label: 0.12 [0.05, 0.19], 3 seeds' for the effect a verdict turns on."""
    effect = key_effect(effects)
    if effect is None:
        return ""
    row = effect_row(effect)
    interval = "" if row["interval"] == "-" else f" {row['interval']}"
    seeds = f"{row['n']} seed" + ("" if row["n"] == 1 else "s")
    return f"{row['label']}: {row['estimate']}{interval} ({seeds}; claim {row['threshold']})"
