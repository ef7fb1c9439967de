"""The first screen: what became of the seed's claims, one sentence each.

Each seed claim (``Finding.seed``) gets its verdict in every tier at hand, the seed's words
(``Finding.quote``), the number it turned on (``turning_effect``: the headline, the first of
``Finding.effects``, when reproduced; else the effect that failed or stayed undecided) and a
link to its section, in the registry's order.
"""

import re

from ...effects import FAILS, UNDECIDED
from ...text import gnum, slug
from ...verdicts import INCONCLUSIVE, NOT_REPRODUCED


def build(current, others):
    """One entry per seed finding of ``current`` (this page's tier); ``others`` is
    {tier: {claim key: Finding}} of the other tiers' findings files."""
    entries = []
    for f in current:
        if not f.seed:
            continue
        elsewhere = [(tier, found[f.key]) for tier, found in others.items() if f.key in found]
        entries.append({
            "anchor": slug(f.key),
            "title": f.title,
            "quote": plain_text(f.quote),
            "verdicts": [verdict_entry(tier, g.verdict) for tier, g in [(f.tier, f), *elsewhere]],
            "number": headline_text(f),
            "other_numbers": [(tier, headline_text(g, like=f)) for tier, g in elsewhere
                              if g.effects],
        })  # fmt: skip
    return entries


def verdict_entry(tier, verdict):
    return {"tier": tier, "verdict": verdict, "verdict_class": slug(verdict.replace(" ", "-"))}


def headline_text(finding, like=None):
    """'label = 0.12, 95% interval [0.05, 0.19] over 5 seeds (the claim needs > 0.1)' for the
    finding's headline effect; the rule's first sentence when it measured none (a claim
    that was not evaluated says why). Without the label and the threshold where they are
    those of ``like``'s headline effect (another tier's finding, already shown)."""
    if not finding.effects:
        return rule_gist(finding.rule)
    effect = turning_effect(finding)
    lo, hi = effect.get("lo"), effect.get("hi")
    seeds = f"{effect['n']} seed" + ("" if effect["n"] == 1 else "s")
    if lo is None or lo != lo:
        spread = f"over {seeds}"
    elif effect.get("exact"):
        spread = f"range [{gnum(lo, 3)}, {gnum(hi, 3)}] over {seeds}"
    else:
        spread = f"95% interval [{gnum(lo, 3)}, {gnum(hi, 3)}] over {seeds}"
    text = f"{gnum(effect['estimate'], 3)}, {spread}"
    shown = turning_effect(like) if like is not None and like.effects else {}
    if all(shown.get(k) == effect[k] for k in ("label", "threshold", "above")):
        return text
    side = ">" if effect["above"] else "<"
    return f"{effect['label']} = {text} (the claim needs {side} {gnum(effect['threshold'], 3)})"


LATEX = {"\\ ": " ", "\\Theta": "Θ", "\\epsilon": "ε", "\\leq": "≤"}


def plain_text(quote):
    """The seed's words as a reader sees them: its Markdown emphasis and LaTeX written out
    ('$J(\\Theta)$' -> 'J(Θ)', its sqrt of a fraction -> '√(2/size^[l-1])'); the quote
    itself is kept verbatim in findings.json."""

    def math(match):
        text = match.group(1)
        for latex, plain in LATEX.items():
            text = text.replace(latex, plain)
        # \frac lost its "\f" in the seed text (a form feed): "rac{a}{b}" is a fraction
        text = re.sub(r"\\sqrt\{\\?f?rac\{(.+?)\}\{(.+?)\}\}", r"√(\1/\2)", text)
        return text.replace("{", "").replace("}", "")

    text = re.sub(r"\$\$?(.+?)\$\$?", math, quote.strip())
    return re.sub(r"\*+", "", text)


def turning_effect(finding):
    """The effect the verdict turned on: the headline (the first effect) when reproduced;
    else the first that fails (not reproduced) or is undecided (inconclusive)."""
    wanted = {NOT_REPRODUCED: FAILS, INCONCLUSIVE: UNDECIDED}.get(finding.verdict)
    return next((e for e in finding.effects if e["outcome"] == wanted), finding.effects[0])


def rule_gist(rule):
    """The rule's first sentence: for a claim that measured nothing, why not."""
    return rule.split(". ")[0].rstrip(".")
