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
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .text import gnum

LEVEL = 0.95  # two-sided confidence level of every effect's interval
MAX_SEEDS_NAMED = 100  # beyond this many seeds the budget is "more than" this
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"


@dataclass(frozen=True)
class Effect:
    """One measured effect of a claim and what its interval decides.

    ``above``: the claim predicts values above ``threshold`` (else below). ``values``: one
    per seed; NaN values (a run with nothing to measure) are dropped. ``censored``: per
    value, True when the true value is at least the recorded one."""

    label: str
    values: tuple
    threshold: float
    above: bool
    unit: str = ""
    exact: bool = False
    censored: tuple = ()

    def __post_init__(self):
        values = np.asarray(self.values, dtype=float)
        censored = np.asarray(self.censored or np.zeros(values.size, bool), dtype=bool)
        if censored.shape != values.shape:
            raise ValueError(f"effect {self.label!r}: one censored flag per value")
        keep = ~np.isnan(values)
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
        half = stats.t.ppf(0.5 + LEVEL / 2, self.n - 1) * v.std(ddof=1) / math.sqrt(self.n)
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
            if stats.t.ppf(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n) < gap:
                return n
        return MAX_SEEDS_NAMED + 1

    def text(self):
        """'0.12 [0.05, 0.19] (3 seeds; claim: > 0.1)'."""
        lo, hi = self.interval
        unit = f" {self.unit}" if self.unit else ""
        if self.n == 0:
            return f"not measured (claim: {self.side_text()})"
        span = "" if math.isnan(lo) else f" [{gnum(lo, 3)}, {gnum(hi, 3)}]"
        kind = "exact, " if self.exact else ""
        censored = f", {sum(self.censored)} censored" if any(self.censored) else ""
        seeds = f"{self.n} seed" + ("s" if self.n != 1 else "")
        return (
            f"{gnum(self.estimate, 3)}{span}{unit} ({kind}{seeds}{censored}; "
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


def what_would_decide(effects):
    """What would decide the undecided effects: 'label: about N seeds' for each, or why not."""
    parts = []
    for effect in effects:
        if effect.outcome != UNDECIDED:
            continue
        needed = effect.seeds_needed()
        if needed is None:
            why = (
                "one seed gives no interval: 3 or more seeds"
                if effect.n < 2
                else "censored or unbounded values: a longer budget"
            )
            parts.append(f"{effect.label}: {why}")
        elif needed > MAX_SEEDS_NAMED:
            parts.append(
                f"{effect.label}: more than {MAX_SEEDS_NAMED} seeds at this spread "
                "(the effect sits on its threshold)"
            )
        else:
            parts.append(f"{effect.label}: about {needed} seeds at the measured spread")
    return "; ".join(parts)


def paired(frame, arm, value, first, second, on="seed"):
    """Per seed: ``value`` of arm ``first`` minus that of arm ``second``, pairing rows of
    ``frame`` by ``on`` (seeds present in both arms only)."""
    table = frame.pivot_table(index=on, columns=arm, values=value, aggfunc="mean")
    if first not in table or second not in table:
        return np.array([])
    return (table[first] - table[second]).dropna().to_numpy()
