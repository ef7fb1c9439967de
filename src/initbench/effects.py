"""Effects over seeds: an estimate, its confidence interval, and the decision it allows.

A claim's rule names a quantity measured once per seed (or per pair of seeds: one run of
each arm with the same seed index), a threshold, and the side of it the claim predicts.
The interval is Student's t at LEVEL over those values. With the 2-5 seeds a study can
afford, a percentile bootstrap cannot reach beyond the values it saw and would understate
the noise; t's heavier tails do not. A rule decides only when the whole interval lies on
one side of its threshold; otherwise the effect is undecided, and ``seeds_needed`` says how
many seeds the measured spread would need.

A value may be censored: known only to be at least as large as recorded (steps to a
target that a run never reached within its budget). Censored values make the interval's
lower end a lower bound still, but not its upper end, so they can decide only "above".
Exact quantities (a symmetry that algebra preserves) decide on one seed.

No value leaves an effect silently: a seed with nothing to measure (NaN: a diverged run,
an arm that never ran) is counted in ``missing``, and the effect's text and the rule say
how many of the seeds it lost. A rule that can give a failed run a value (a failure, a
censored bound, chance accuracy) should: ``paired(fill=...)``.
"""

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from .imports import imported
from .text import gnum

LEVEL = 0.95  # two-sided confidence level of every effect's interval
MAX_SEEDS_NAMED = 100  # beyond this many seeds the budget is "more than" this
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"


@functools.cache
def t_quantile(df):
    """Student's t quantile at (1 + LEVEL) / 2 with ``df`` degrees of freedom. SciPy is
    imported here, on first use (imports.py): readers of verdicts (the page) never need it."""
    return imported("scipy.stats").t.ppf(0.5 + LEVEL / 2, df)


@dataclass(frozen=True)
class Effect:
    """One measured effect of a claim and what its interval decides.

    ``above``: the claim predicts values above ``threshold`` (else below). ``values``: one
    per seed; NaN values (a run with nothing to measure) are left out of the interval and
    counted in ``missing``, with any seeds the caller left out before. ``censored``: per
    value, True when the true value is at least the recorded one."""

    label: str
    values: tuple
    threshold: float
    above: bool
    unit: str = ""
    exact: bool = False
    censored: tuple = ()
    missing: int = 0

    def __post_init__(self):
        values = np.asarray(self.values, dtype=float)
        censored = np.asarray(self.censored or np.zeros(values.size, bool), dtype=bool)
        if censored.shape != values.shape:
            raise ValueError(f"effect {self.label!r}: one censored flag per value")
        keep = ~np.isnan(values)
        count = isinstance(self.missing, int | np.integer) and not isinstance(self.missing, bool)
        if not (count and self.missing >= 0):
            raise ValueError(f"effect {self.label!r}: missing must be a count >= 0")
        object.__setattr__(self, "missing", int(self.missing + (~keep).sum()))
        object.__setattr__(self, "values", tuple(values[keep].tolist()))
        object.__setattr__(self, "censored", tuple(censored[keep].tolist()))

    @property
    def n(self):
        return len(self.values)

    @property
    def estimate(self):
        return float(np.mean(self.values)) if self.n else math.nan

    @property
    def interval(self):
        """(lo, hi) at LEVEL; the values' range for an exact effect; NaN for one seed."""
        v = np.asarray(self.values)
        if self.n == 0:
            return math.nan, math.nan
        if self.exact:
            return float(v.min()), float(v.max())
        if self.n < 2:
            return math.nan, math.nan
        if not np.isfinite(v).all():
            lo = -math.inf if np.isneginf(v).any() else math.nan
            hi = math.inf if np.isposinf(v).any() else math.nan
            return lo, hi
        half = t_quantile(self.n - 1) * v.std(ddof=1) / math.sqrt(self.n)
        return float(v.mean() - half), float(v.mean() + half)

    @property
    def outcome(self):
        """HOLDS when the interval clears the threshold on the claim's side, FAILS when it
        clears it on the other, UNDECIDED otherwise; an exact effect holds when every seed's
        value does."""
        if self.exact and self.n:  # every seed must hold: one that does not is a failure
            v = np.asarray(self.values)
            ok = v > self.threshold if self.above else v < self.threshold
            return HOLDS if ok.all() else FAILS
        lo, hi = self.interval
        is_censored = any(self.censored)
        if self.above:
            if lo > self.threshold:
                return HOLDS
            if hi < self.threshold and not is_censored:
                return FAILS
        else:
            if hi < self.threshold and not is_censored:
                return HOLDS
            if lo > self.threshold:
                return FAILS
        return UNDECIDED

    def seeds_needed(self):
        """Seeds at which the measured mean and spread would clear the threshold (None when
        no number can: mean on the threshold, no spread measured, or censored values)."""
        v = np.asarray(self.values)
        if self.exact or self.n < 2 or not np.isfinite(v).all() or any(self.censored):
            return None
        gap, sd = abs(v.mean() - self.threshold), v.std(ddof=1)
        if gap == 0:
            return None
        if sd == 0:
            return 2
        for n in range(2, MAX_SEEDS_NAMED + 1):
            if t_quantile(n - 1) * sd / math.sqrt(n) < gap:
                return n
        return MAX_SEEDS_NAMED + 1

    def text(self):
        """'0.12 [0.05, 0.19] (3 seeds; claim: > 0.1)'."""
        lo, hi = self.interval
        unit = f" {self.unit}" if self.unit else ""
        if self.n == 0:
            lost = f"; {self.missing} seeds with nothing to measure" if self.missing else ""
            return f"not measured (claim: {self.side_text()}{lost})"
        span = "" if math.isnan(lo) else f" [{gnum(lo, 3)}, {gnum(hi, 3)}]"
        kind = "exact, " if self.exact else ""
        censored = f", {sum(self.censored)} censored" if any(self.censored) else ""
        seeds = f"{self.n} seed" + ("s" if self.n != 1 else "")
        missing = f", {self.missing} not measured" if self.missing else ""
        return (
            f"{gnum(self.estimate, 3)}{span}{unit} ({kind}{seeds}{censored}{missing}; "
            f"claim: {self.side_text()}) - {self.outcome}"
        )

    def side_text(self):
        return f"{'>' if self.above else '<'} {gnum(self.threshold, 3)}"

    def as_record(self):
        """What findings.json keeps of the effect."""
        lo, hi = self.interval
        record = asdict(self)
        record.update(
            estimate=self.estimate,
            lo=lo,
            hi=hi,
            n=self.n,
            level=LEVEL,
            outcome=self.outcome,
            seeds_needed=self.seeds_needed(),
        )
        return record


def decide(effects):
    """The verdict's basis: every effect holds -> HOLDS; any fails -> FAILS; else UNDECIDED."""
    outcomes = [e.outcome for e in effects]
    if not outcomes:
        return UNDECIDED
    if FAILS in outcomes:
        return FAILS
    return HOLDS if all(o == HOLDS for o in outcomes) else UNDECIDED


def missing_text(effects):
    """The seeds each effect lost, for the rule: 'label: 1 of 10 seeds not measured'."""
    return "; ".join(
        f"{e.label}: {e.missing} of {e.n + e.missing} seeds not measured"
        for e in effects
        if e.missing
    )


def why_no_number(effect):
    """Why ``seeds_needed`` names no number for an undecided effect."""
    if effect.n < 2:
        return "one seed gives no interval: 3 or more seeds"
    if any(effect.censored) or not np.isfinite(effect.values).all():
        return "censored or unbounded values: a longer budget"
    return "the mean sits on the threshold: no number of seeds at this mean"


def what_would_decide(effects):
    """What would decide the undecided effects: 'label: about N seeds' for each, or why not."""
    parts = []
    for effect in effects:
        if effect.outcome != UNDECIDED:
            continue
        needed = effect.seeds_needed()
        if needed is None:
            parts.append(f"{effect.label}: {why_no_number(effect)}")
        elif needed > MAX_SEEDS_NAMED:
            parts.append(
                f"{effect.label}: more than {MAX_SEEDS_NAMED} seeds at this spread "
                "(the effect sits on its threshold)"
            )
        else:
            parts.append(f"{effect.label}: about {needed} seeds at the measured spread")
    return "; ".join(parts)


def paired(frame, arm, value, first, second, on="seed", fill=None):
    """Per seed: ``value`` of arm ``first`` minus that of arm ``second``, pairing rows of
    ``frame`` by ``on``; one entry per seed that either arm ran (sorted by seed).

    A seed without a value in one arm (its run failed, or never ran) is NaN, which an
    Effect counts as not measured, never drops silently; ``fill`` gives such a value
    instead (a failed run at chance accuracy, say). Empty when an arm has no rows."""
    rows = frame[frame[arm].isin([first, second])]
    if not (rows[arm].eq(first).any() and rows[arm].eq(second).any()):
        return np.array([])
    values = rows[value] if fill is None else rows[value].fillna(fill)
    table = values.groupby([rows[on], rows[arm]]).mean().unstack(arm)
    table = table.reindex(columns=[first, second])
    if fill is not None:
        table = table.fillna(fill)
    return (table[first] - table[second]).to_numpy(dtype=float)
