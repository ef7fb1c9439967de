"""The report's sections, in page order: one module each, with a ``build(report, section)``.

To add a section: write a module here and list it in ``SECTIONS``.
"""

from . import (
    activations,
    cells,
    convergence,
    divergence,
    gradient_flow,
    overview,
    provenance,
    symmetry,
)

# (anchor, title, builder, needs the layers table); the findings block comes first and
# is built from findings.json (see .findings).
SECTIONS = (
    ("overview", "Overview: which cells train", overview.build, False),
    ("gradient-init", "Gradient flow at initialization", gradient_flow.at_init, True),
    ("gradient-training", "Gradient flow during training", gradient_flow.during_training, True),
    ("activations", "Activation statistics", activations.build, True),
    ("convergence", "Convergence", convergence.build, False),
    ("divergence", "Divergence", divergence.build, False),
    ("symmetry", "Symmetry", symmetry.build, True),
    ("provenance", "Provenance and cost", provenance.build, False),
    ("cells", "All cells", cells.build, False),
)
