"""Claims, findings and their registry: what every claim module builds on.

A claim module says three things: which cells, which effects, which figure. Its check
takes the tables and returns ``Evidence``; this module turns that into a ``Finding``: the
verdict (``effects.decide`` over the effects' intervals), the rule's sentence and the
effects' table (both generated from the effects, once, here), and the figure. A module
adds only what is particular to it: prose on how its quantity is measured, rows of other
measurements, and a condition outside the effects under which it cannot decide.

A claim module, in full::

    SLOPE = 0.5  # the claim's threshold, stated before any run

    @published_claim(
        "key", "Title", "The claim, in a sentence.", "Author 2020, 'Paper' (figure 2).",
        studies=["my_study"],
        quote="The sentence of the paper (or seed text) the claim tests, verbatim.",
    )
    def check(results):
        runs = results.rows("runs", "my_study")            # which cells
        if runs.empty:
            raise NotTestable("the my_study study has no ReLU cells")
        slope = Effect("slope of y on x", tuple(per_seed(runs)), SLOPE, True)  # which effects
        return Evidence(
            [slope],                                        # the first is the headline
            rows=[("Cells", str(runs["cell"].nunique()))],  # other measurements
            method="Per seed: the least-squares slope of y on x.",
            figure=Figure(partial(plot, runs), "What the figure shows.", ncols=2),
        )

    def plot(runs, fig, axes): ...                          # which figure

The rule then reads: "<method> Reproduced if each effect's 95% interval over seeds lies on
the claim's side of its threshold: slope of y on x > 0.5. Not reproduced if any lies on the
other side; otherwise inconclusive. <notes>", with what would decide an undecided effect
appended. Effects appear once, in the finding's effects; ``rows`` never repeat them.

Conventions:
- a finding's first effect is its headline: the number the verdict turns on;
- ``quote`` is the sentence of the seed text or paper that the claim tests, verbatim, and
  ``seed`` marks the claims of the seed text (parameter-initialization.txt);
- a claim whose study was not run, or ran without the cells it needs (``NotTestable``),
  is "inconclusive"; a check that raises anything else is a bug and fails the job.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np

from .. import plotting
from ..effects import FAILS, HOLDS, UNDECIDED, decide, missing_text, what_would_decide
from ..files import atomic_path, job_log
from ..layout import Layout, dataset_file
from ..outcomes import StudyTables
from ..results import load_results
from ..verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    Finding,
    write_findings,
)

VERDICT_OF = {HOLDS: REPRODUCED, FAILS: NOT_REPRODUCED, UNDECIDED: INCONCLUSIVE}


class NotTestable(Exception):
    """The study ran, but without the cells the claim needs: the finding is inconclusive."""


@dataclass(frozen=True)
class Figure:
    """A claim's figure: ``plot(fig, axes)`` on ``ncols`` axes (a grid of ``nrows`` rows
    when nrows > 1), and its caption."""

    plot: Callable
    caption: str
    ncols: int = 1
    nrows: int = 1
    size: tuple = (6.4, 4.0)
    sharey: bool = False


@dataclass(frozen=True)
class Evidence:
    """What a claim's check measured.

    ``effects``: the effects the verdict turns on, the headline first. ``rows``: other
    measurements, (label, value text). ``method``: how the quantities are measured, before
    the generated decision sentence; ``notes``: after it (setting, caveats).
    ``inconclusive``: why the claim cannot be decided whatever the effects say (a
    condition outside them, such as a run shorter than the claim's window); empty when the
    effects decide."""

    effects: list
    rows: list = field(default_factory=list)
    method: str = ""
    notes: str = ""
    inconclusive: str = ""
    figure: Figure | None = None


def decision_text(effects):
    """The rule's sentence, generated from the effects: each effect's label, side and
    threshold; an exact effect is decided by every seed's value, not an interval."""
    listed = "; ".join(
        f"{e.label} {e.side_text()}" + (" (exact: every seed)" if e.exact else "") for e in effects
    )
    return (
        f"Reproduced if each effect's 95% interval over seeds lies on the claim's side of its "
        f"threshold: {listed}. Not reproduced if any lies on the other side; otherwise "
        f"inconclusive."
    )


@dataclass(frozen=True)
class Claim:
    """A published claim and the check that tests it against the tables: ``check(results)``
    returns Evidence, or raises NotTestable."""

    key: str
    title: str
    claim: str
    source: str
    studies: tuple
    check: Callable
    partial: bool = False  # testable on a subset of its studies (the rest: inconclusive)
    quote: str = ""  # the sentence of the seed text or paper the claim tests, verbatim
    seed: bool = False  # one of the seed text's claims
    # the tier sized to decide the claim, named when a smaller tier leaves it undecided
    decided_by: str = ""

    def finding(self, verdict, rule, measured=(), figure=None, caption="", effects=()):
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        return Finding(
            self.key,
            self.title,
            self.claim,
            self.source,
            list(self.studies),
            list(measured),
            verdict,
            rule,
            figure,
            caption,
            effects=[e.as_record() for e in effects],
            quote=self.quote,
            seed=self.seed,
        )

    def judged(self, evidence, results):
        """The finding of ``evidence``: the effects decide (effects.decide) unless the
        evidence says why it cannot; an undecided rule says what would decide it."""
        verdict = VERDICT_OF[decide(evidence.effects)]
        parts = [evidence.method, decision_text(evidence.effects), evidence.notes]
        if lost := missing_text(evidence.effects):
            parts.append(f"Seeds with nothing to measure, left out of the interval: {lost}.")
        if evidence.inconclusive:
            verdict = INCONCLUSIVE
            parts.append(f"Inconclusive here: {evidence.inconclusive}.")
        elif verdict == INCONCLUSIVE and (needed := what_would_decide(evidence.effects)):
            parts.append(f"Undecided; what would decide: {needed}.")
        if verdict == INCONCLUSIVE and self.decided_by and results.tier != self.decided_by:
            parts.append(
                f"Inconclusive at the {results.tier} tier's budget: the {self.decided_by} tier "
                f"is sized to decide it (snakemake --cores 2 --config tier={self.decided_by})."
            )
        figure = evidence.figure
        drawn = None if figure is None else results.draw(self, figure)
        rule = " ".join(p for p in parts if p)
        caption = "" if figure is None else figure.caption
        return self.finding(verdict, rule, evidence.rows, drawn, caption, evidence.effects)

    def evaluate(self, results):
        missing = [s for s in self.studies if not results.has(s)]
        if len(missing) == len(self.studies) or (missing and not self.partial):
            finding = self.finding(INCONCLUSIVE, f"Not evaluated: {results.not_run(missing)}.")
        else:
            try:
                finding = self.judged(self.check(results), results)
            except NotTestable as reason:
                finding = self.finding(INCONCLUSIVE, f"Not evaluated: {reason}.")
        finding.tier = results.tier
        finding.budget = results.budget(*self.studies)
        return finding

    @property
    def figure_name(self):
        return f"finding-{self.key}.png"


CLAIMS = []


def published_claim(
    key, title, text, source, studies, partial=False, quote="", seed=False, decided_by=""
):
    """Register the decorated check for one claim; claims are reported in this order."""

    def register(check):
        claim = Claim(key, title, text, source, tuple(studies), check, partial, quote, seed,
                      decided_by)  # fmt: skip
        CLAIMS.append(claim)
        return check

    return register


class Results(StudyTables):
    """The aggregated tables, sliced by sub-study (see StudyTables), and where figures go."""

    def __init__(self, tables, config, figure_dir, data_dir=None):
        super().__init__(tables, config)
        self.tier = self.config.get("tier", "default")
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.figure_dir = None if figure_dir is None else Path(figure_dir)

    def budget(self, *studies):
        """What the studies' cells spent: training steps, seeds, widths, batch sizes."""
        runs = self.rows("runs", *studies)
        if not len(runs):
            return {}
        seeds = runs.groupby("cell").size()
        return {
            "cells": int(runs["cell"].nunique()),
            "runs": len(runs),
            "steps": sorted(int(s) for s in runs["steps"].unique()),
            "seeds per cell": sorted(int(s) for s in seeds.unique()),
            "widths": sorted(int(w) for w in runs["width"].unique()),
            "batch sizes": sorted(int(b) for b in runs["batch_size"].unique()),
        }

    def standardized(self, label):
        """Whether the dataset ``label`` feeds standardized features (the default)."""
        return bool(self.config.get("datasets", {}).get(label, {}).get("standardize", True))

    def dataset(self, label):
        """The data split a study trained on (results/data/<label>.npz), for comparators
        that need the rows themselves; NotTestable when it is not at hand."""
        path = None if self.data_dir is None else dataset_file(self.data_dir, label)
        if path is None or not path.is_file():
            raise NotTestable(f"the data of dataset {label!r} is not available")
        with np.load(path) as f:
            return {key: f[key] for key in f.files}

    def draw(self, claim, figure):
        """Draw ``figure`` into the claim's PNG and return its file name; None when figures
        are off (figure_dir None: verdicts only)."""
        if self.figure_dir is None:
            return None
        with mpl.rc_context(plotting.STYLE), plotting.figure_seed():
            fig, axes = plotting.figure(
                figure.ncols, figure.nrows, *figure.size, sharey=figure.sharey
            )
            figure.plot(fig, axes[0] if figure.nrows == 1 else axes)
            plotting.save(fig, self.figure_dir / claim.figure_name)
        return claim.figure_name


def evaluate_findings(tables, config, figure_dir, log=None, data_dir=None):
    """One Finding per claim, in the registry's order, each figure written into figure_dir.

    ``tables``: the aggregated runs, curves, layers, cost and studies tables; ``config``:
    the study config (to tell a study that was not configured from one without results);
    ``figure_dir`` None computes the verdicts without drawing. A check that raises is a
    bug: the error propagates, with the claim's key added to its message.
    """
    results = Results(tables, config, figure_dir, data_dir)
    findings = []
    for claim in CLAIMS:
        try:
            finding = claim.evaluate(results)
        except Exception as error:
            error.add_note(f"initbench: while evaluating the claim {claim.key!r}")
            raise
        if log is not None:
            log(f"{claim.key}: {finding.verdict}")
        findings.append(finding)
    return findings


def evaluate_job(config, results_dir, out_jsons, figure_dir, log_path):
    """Every claim evaluated on the aggregated tables: the verdicts into each of
    ``out_jsons``, one figure per claim into ``figure_dir``. What the findings job runs in
    a process of its own, which imports the claims but not the pipeline's jobs (the plan,
    Numba). A claim whose code raises fails the job, naming the claim."""
    Path(figure_dir).mkdir(parents=True, exist_ok=True)
    with job_log(log_path) as log:
        # the layers without the cell parameters their rows repeat: rows() adds those asked for
        tables = load_results(results_dir, lean_layers=True).tables
        findings = evaluate_findings(tables, config, figure_dir,
                                     log=log, data_dir=Layout(results_dir).data_dir)  # fmt: skip
        for path in out_jsons:
            with atomic_path(path) as tmp:
                write_findings(findings, tmp)
        log(f"{len(findings)} findings written to {', '.join(map(str, out_jsons))}")
