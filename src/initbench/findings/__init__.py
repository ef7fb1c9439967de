"""The classic initialization results, re-derived from the study tables, each with a verdict.

One module per published claim: importing it registers its claim (``@published_claim``,
see ``base``). To add a claim, write such a module and import it below; the import order
is the order of the report.
"""

from ..verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    Finding,
    read_findings,
    write_findings,
)
from .base import (
    CLAIMS,
    Claim,
    Evidence,
    Figure,
    NotTestable,
    evaluate_findings,
    published_claim,
)

# isort: off
# the seed's claims in the seed's order, then the papers'
from . import symmetry, course, normal_small, vanishing, exploding, leaky_relu  # noqa: E402, F401
from . import he_xavier, glorot  # noqa: E402, F401
from . import chi1, depth_scale, saxe, lsuv  # noqa: E402, F401
from . import isometry, hanin_rolnick, zero_branch, mup  # noqa: E402, F401
from . import depth_transfer, completep, weight_decay  # noqa: E402, F401

# isort: on

__all__ = [
    "CLAIMS",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "VERDICTS",
    "Claim",
    "Evidence",
    "Figure",
    "Finding",
    "NotTestable",
    "evaluate_findings",
    "published_claim",
    "read_findings",
    "write_findings",
]
