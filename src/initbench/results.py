"""A study's results as pandas frames: ``load_results``, the one loader of what a run wrote.

The findings job, the report and ``initbench advise`` read the tables through it, and a
notebook reads the same frames::

    import initbench as ib
    r = ib.load_results("results")
    r.runs, r.curves, r.layers, r.studies  # the study tables (docs/tables.md)
    r.findings  # one row per claim and tier: verdict, rule, budget, ...
    r.effects  # one row per effect of a verdict: estimate, interval, threshold, outcome

Each frame is read on first use, so that a look at the runs does not read the layers.
"""

from functools import cached_property

import pandas as pd
import pyarrow.parquet as pq

from .cell import CELL_PARAMETERS
from .layout import RESULTS, TABLE_NAMES, Layout
from .tables import PROVENANCE_COLUMNS
from .verdicts import read_verdicts

# The findings frame: the claim's key and the tier first, then every field of a Finding
# but its effects (the effects frame), and whether the row is of the last findings job.
FINDING_FIRST = ("key", "tier", "latest", "verdict", "title")
EFFECT_FIRST = ("key", "tier", "label", "estimate", "lo", "hi", "n", "threshold", "above",
                "outcome")  # fmt: skip


def load_results(path=RESULTS, lean_layers=False):
    """The results a run wrote under ``path`` (the pipeline's ``results/``), as a
    ``StudyResults`` of pandas frames. A table that is not there reads as an empty frame.

    ``lean_layers``: the layers table with the cell id but without the cell parameters
    and provenance its rows repeat (join them from the runs on ``cell``): they are most of
    the cost of reading it."""
    return StudyResults(path, lean_layers)


class _Table:
    """A study table as an attribute of ``StudyResults``, read on first use and kept."""

    def __init__(self, doc):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, results, owner=None):
        if results is None:
            return self
        results.__dict__[self.name] = table = results._read(self.name)  # read once
        return table


class StudyResults:
    """The tables and verdicts under one results directory (see ``load_results``)."""

    def __init__(self, path=RESULTS, lean_layers=False):
        self.layout = Layout(path)
        if not self.layout.results.is_dir():
            raise FileNotFoundError(f"no results directory at {str(path)!r}")
        self.lean_layers = lean_layers

    def __repr__(self):
        found = [name for name in TABLE_NAMES if self.layout.table(name).exists()]
        return f"StudyResults({str(self.layout.results)!r}; tables: {', '.join(found) or 'none'})"

    @property
    def tables(self):
        """{name: frame} of every table of TABLE_NAMES: what findings and report read."""
        return {name: getattr(self, name) for name in TABLE_NAMES}

    runs = _Table("One row per run (cell x seed): final metrics, status, divergence step.")
    curves = _Table("One row per run and logged step: losses, accuracies, gradient norm.")
    layers = _Table("One row per run, logged step and layer: norms, activation statistics.")
    cost = _Table("One row per training job: cells, wall time, CPU time, peak memory.")
    studies = _Table("One row per (study, cell): which cells each study holds.")
    theory = _Table("The mean-field predictions at the studies' settings and along curves.")

    @cached_property
    def findings(self):
        """One row per claim and tier: the last verdicts of each tier on disk, and those
        of the last findings job (``latest`` True; older results: tier "default")."""
        rows = [finding for finding, _ in self._verdicts()]
        return _frame(rows, FINDING_FIRST)

    @cached_property
    def effects(self):
        """One row per effect of each verdict in ``findings`` (key, tier): its estimate,
        interval (lo, hi), seeds (n), the claim's threshold and side (above), and outcome."""
        rows = [
            {"key": finding["key"], "tier": finding["tier"], **effect}
            for finding, effects in self._verdicts()
            for effect in effects
        ]
        return _frame(rows, EFFECT_FIRST)

    def _read(self, name):
        path = self.layout.table(name)
        if not path.exists():
            return pd.DataFrame()
        columns = None
        if name == "layers" and self.lean_layers:
            repeated = {*CELL_PARAMETERS, *PROVENANCE_COLUMNS}
            columns = [c for c in pq.read_schema(path).names if c not in repeated]
        return pd.read_parquet(path, columns=columns)

    def _verdicts(self):
        """[(finding dict without effects, its effects)]: the last findings job's, then
        each other tier's last."""
        latest = self.layout.findings
        files = [(latest, True)] if latest.is_file() else []
        files += [(path, False) for path in self.layout.tiers().values()]
        found, seen = [], set()
        for path, is_latest in files:
            for item in read_verdicts(path):
                finding = {k: v for k, v in item.items() if k != "effects"}
                finding.update(tier=item.get("tier", "default"), latest=is_latest)
                if (finding["key"], finding["tier"]) not in seen:  # the latest job's copy
                    seen.add((finding["key"], finding["tier"]))
                    found.append((finding, item.get("effects", [])))
        return found


def _frame(rows, first):
    """A frame of dicts with the ``first`` columns first (NaN where a file has none)."""
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=[*first, *(c for c in frame if c not in first)])
