"""Where a study's files lie: the one spelling of the ``results/`` (and ``report/``) layout.

The Snakemake rules declare their inputs and outputs through a ``Layout``, and every
reader (the jobs, ``initbench status`` and ``advise``, the findings, the report,
``load_results``) finds the files through one, so a path is written here and nowhere else.
Under ``results``, in the pipeline's order:

- ``data/<label>.npz``: each dataset's split (rule dataset);
- ``jit/builtin-<dtype>-<part>.done``: a part of the built-in kernels' loop compiled ahead
  of it, in a process of its own (rule compile_part), and ``jit/<kernels>-<dtype>.done``: a
  compiled kernel family's marker (rule warmup);
- ``measured/<cell>/{runs,curves,layers}.arrow``: each cell's tables, and
  ``batches/<job>.json``: each training job's cells and cost (rule train);
- ``<table>.parquet`` for each of ``TABLE_NAMES`` (rule aggregate; ``theory``: rule
  theory, from the plan);
- ``findings.json``, its copy ``findings-<tier>.json`` and the claims' figures in
  ``findings/`` (rule findings);
- ``report/sections.json``: the report's drawn sections (rule report_sections).

Under ``report``: ``index.html``, its ``figures/`` and the claims' figures, ``findings/``.
"""

from dataclasses import dataclass
from pathlib import Path

RESULTS, REPORT = Path("results"), Path("report")  # the pipeline's, below its working directory
TIER_PREFIX = "findings-"  # findings-<tier>.json: the last verdicts of each tier
# The study tables (tables.py builds them), each results/<name>.parquet.
TABLE_NAMES = ("runs", "curves", "layers", "cost", "studies", "theory")
TABLE_KINDS = TABLE_NAMES[:3]  # the tables each cell measures (results/measured/<cell>/)


@dataclass(frozen=True)
class Layout:
    """The paths of one study's files; ``Layout()`` is the pipeline's, relative to the
    working directory. Wildcards pass through: ``dataset("{dataset}")`` is the rule's
    pattern."""

    results: Path = RESULTS
    report: Path = REPORT

    def __post_init__(self):
        object.__setattr__(self, "results", Path(self.results))
        object.__setattr__(self, "report", Path(self.report))

    # ---- inputs of training -------------------------------------------------------------

    @property
    def data_dir(self):
        return self.results / "data"

    def dataset(self, label):
        return dataset_file(self.data_dir, label)

    def warmup(self, kernels, dtype):
        return self.results / "jit" / f"{kernels}-{dtype}.done"

    def compile_part(self, dtype, part):
        return self.results / "jit" / f"builtin-{dtype}-{part}.done"

    # ---- what training writes -----------------------------------------------------------

    @property
    def measured(self):
        """One folder per cell (undeclared in the rules: see rules/train.smk)."""
        return self.results / "measured"

    def cell_tables(self, name):
        """The cell's runs, curves and layers tables (Arrow IPC: a study has thousands, and
        the aggregate reads them all), in the order of ``TABLE_KINDS``."""
        return [self.measured / name / f"{kind}.arrow" for kind in TABLE_KINDS]

    @property
    def batches(self):
        return self.results / "batches"

    def batch(self, job):
        return self.batches / f"{job}.json"

    # ---- the study tables and the verdicts ----------------------------------------------

    def table(self, name):
        if name not in TABLE_NAMES:
            raise ValueError(f"table must be one of {TABLE_NAMES}, got {name!r}")
        return self.results / f"{name}.parquet"

    @property
    def findings(self):
        """The verdicts of the last findings job, whichever its tier."""
        return self.results / "findings.json"

    def tier_findings(self, tier):
        """The last verdicts of ``tier`` (the report sets the tiers side by side)."""
        return self.results / f"{TIER_PREFIX}{tier}.json"

    def tiers(self):
        """{tier: its findings file} of every tier whose findings are on disk, by name."""
        paths = sorted(self.results.glob(f"{TIER_PREFIX}*.json"))
        return {path.stem.removeprefix(TIER_PREFIX): path for path in paths}

    @property
    def claim_figures(self):
        """The findings job's figures, one per claim (``Claim.figure_name``)."""
        return self.results / "findings"

    @property
    def sections(self):
        return self.results / "report" / "sections.json"

    # ---- the report ---------------------------------------------------------------------

    @property
    def page(self):
        return self.report / "index.html"

    @property
    def page_figures(self):
        return self.report / "figures"

    @property
    def page_claim_figures(self):
        return self.report / "findings"


def dataset_file(data_dir, label):
    """The data split ``label`` in a folder of them (``Layout.data_dir``)."""
    return Path(data_dir) / f"{label}.npz"
