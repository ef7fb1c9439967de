"""The findings file (results/findings.json): one record per claim, with its verdict.

Written by the findings job, read by the report's page, ``initbench status`` and
``load_results``. Apart from the claims and their statistics (``findings``), so that a
reader of verdicts imports neither (the page is rendered in the pipeline's last job).
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


@dataclass
class Finding:
    """One claim with what the study measured and the verdict of its rule."""

    key: str
    title: str
    claim: str
    source: str
    studies: list
    measured: list  # (label, value text) pairs: measurements other than the effects
    verdict: str  # one of VERDICTS
    rule: str
    figure: str | None = None  # PNG file name inside the figure directory
    caption: str = ""
    tier: str = "default"  # the config's tier: default, paper, ...
    budget: dict = field(default_factory=dict)  # what the claim's cells spent deciding it
    effects: list = field(default_factory=list)  # effects.Effect.as_record(); first: headline
    quote: str = ""  # the sentence of the seed text or paper the claim tests, verbatim
    seed: bool = False  # one of the seed text's claims


def spent_text(budget):
    """What a finding's cells spent (Finding.budget), as one line: 'cells 4; runs 12; ...'."""
    if not budget:
        return "no runs"
    return "; ".join(
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in budget.items()
    )


def write_findings(findings, path):
    """results/findings.json: one object per claim, in report order."""
    Path(path).write_text(json.dumps([asdict(f) for f in findings], indent=1, default=str))


def read_verdicts(path):
    """A findings file as written: one dict per claim (a Finding's fields)."""
    return json.loads(Path(path).read_text())


def read_findings(path):
    """The findings file as ``Finding`` records, in report order."""
    return [Finding(**item) for item in read_verdicts(path)]
