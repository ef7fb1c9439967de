"""The classic initialization results, re-derived from the study tables, each with a verdict.

One module per published claim: importing it registers its claim. To add a claim, write a
module with one ``@published_claim`` check (see ``base``) and name it in CLAIM_MODULES,
which is also the order of the report.
"""

import importlib

from .base import (
    CLAIMS,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    Claim,
    Finding,
    NotTestable,
    evaluate_findings,
    published_claim,
    read_findings,
    write_findings,
)

CLAIM_MODULES = ("symmetry", "course", "normal_small", "glorot", "he_xavier", "leaky_relu",
                 "chi1", "depth_scale", "saxe", "lsuv")  # fmt: skip
for _module in CLAIM_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "CLAIMS", "INCONCLUSIVE", "NOT_REPRODUCED", "REPRODUCED", "VERDICTS", "Claim", "Finding",
    "NotTestable", "evaluate_findings", "published_claim", "read_findings", "write_findings",
]  # fmt: skip
