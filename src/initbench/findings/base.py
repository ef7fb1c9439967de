"""Claims, findings and their registry: what every claim module builds on.

A claim module registers one check with ``@published_claim``. A check takes its
sub-study's cells, measures the claim's quantity, applies a rule whose thresholds are the
module's constants (quoted in the finding's ``rule`` text) and draws one figure. The
verdict comes from the rule alone, so a claim that fails is reported as failing with its
numbers. A claim whose study was not run, or ran without the cells the claim needs, is
"inconclusive".
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np

from .. import plotting
from ..effects import FAILS, HOLDS, UNDECIDED, budget_text, decide
from ..outcomes import StudyTables

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
VERDICT_OF = {HOLDS: REPRODUCED, FAILS: NOT_REPRODUCED, UNDECIDED: INCONCLUSIVE}


@dataclass
class Finding:
    """One claim with what the study measured and the verdict of its rule."""

    key: str
    title: str
    claim: str
    source: str
    studies: list
    measured: list  # (label, value text) pairs
    verdict: str  # one of VERDICTS
    rule: str
    figure: str | None = None  # PNG file name inside the figure directory
    caption: str = ""
    tier: str = "default"  # the config's tier: default, paper, ...
    budget: dict = field(default_factory=dict)  # what the claim's cells spent deciding it
    effects: list = field(default_factory=list)  # effects.Effect.as_record() of each effect
    quote: str = ""  # the seed's own words for the claim (seed claims only)
    seed: bool = False  # one of the seed text's claims: the report's first screen lists it


class NotTestable(Exception):
    """The study ran, but without the cells the claim needs: the finding is inconclusive."""


@dataclass(frozen=True)
class Claim:
    """A published claim and the check that tests it against the tables."""

    key: str
    title: str
    claim: str
    source: str
    studies: tuple
    check: Callable
    partial: bool = False  # testable on a subset of its studies (the rest: inconclusive)
    quote: str = ""  # the seed's sentence it tests, verbatim (seed claims only)
    seed: bool = False  # one of the seed text's claims

    def finding(self, verdict, rule, measured=(), figure=None, caption="", effects=()):
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        return Finding(self.key, self.title, self.claim, self.source, list(self.studies),
                       list(measured), verdict, rule, figure, caption,
                       effects=[e.as_record() for e in effects], quote=self.quote,
                       seed=self.seed)  # fmt: skip

    def decided(self, effects, rule, measured=(), figure=None, caption=""):
        """The finding whose verdict the effects' intervals decide (effects.decide): every
        effect holds -> reproduced, any fails -> not reproduced, else inconclusive, with
        the seeds that would decide appended to the rule."""
        verdict = VERDICT_OF[decide(effects)]
        if verdict == INCONCLUSIVE and (needed := budget_text(effects)):
            rule = f"{rule} Undecided; what would decide: {needed}."
        return self.finding(verdict, rule, measured, figure, caption, effects)

    def evaluate(self, results):
        missing = [s for s in self.studies if not results.has(s)]
        if len(missing) == len(self.studies) or (missing and not self.partial):
            finding = self.finding(INCONCLUSIVE, f"Not evaluated: {results.not_run(missing)}.")
        else:
            try:
                finding = self.check(self, results)
            except NotTestable as reason:
                finding = self.finding(INCONCLUSIVE, f"Not evaluated: {reason}.")
        finding.tier = results.tier
        finding.budget = results.budget(*self.studies)
        return finding

    @property
    def figure_name(self):
        return f"finding-{self.key}.png"


CLAIMS = []


def published_claim(key, title, text, source, studies, partial=False, quote="", seed=False):
    """Register the decorated check for one claim; claims are reported in this order.
    ``seed``: one of the seed text's claims, ``quote`` its words."""

    def register(check):
        CLAIMS.append(Claim(key, title, text, source, tuple(studies), check, partial, quote, seed))
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
        path = None if self.data_dir is None else self.data_dir / f"{label}.npz"
        if path is None or not path.is_file():
            raise NotTestable(f"the data of dataset {label!r} is not available")
        with np.load(path) as f:
            return {key: f[key] for key in f.files}

    def draw(self, claim, plot, ncols=1, size=(6.4, 4.0), sharey=False, nrows=1):
        """Draw ``plot(fig, axes)`` on ``ncols`` axes (a row of them; a grid of ``nrows``
        rows when given) into the claim's PNG and return its file name; None when figures
        are off (figure_dir None: verdicts only)."""
        if self.figure_dir is None:
            return None
        with mpl.rc_context(plotting.STYLE):
            fig, axes = plotting.figure(ncols, nrows, *size, sharey=sharey)
            plot(fig, axes[0] if nrows == 1 else axes)
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


def write_findings(findings, path):
    """results/findings.json: one object per claim, in report order."""
    Path(path).write_text(json.dumps([asdict(f) for f in findings], indent=1, default=str))


def read_findings(path):
    return [Finding(**item) for item in json.loads(Path(path).read_text())]
