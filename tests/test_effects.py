"""Effects over seeds: Student's t intervals, the decision at a threshold, censored and
exact values, and the number of seeds a spread would need."""

import math

import numpy as np
import pytest
from scipy import stats

from initbench.effects import (
    FAILS,
    HOLDS,
    LEVEL,
    UNDECIDED,
    Effect,
    decide,
    missing_text,
    paired,
    what_would_decide,
)


def test_interval_is_students_t_over_the_seeds():
    values = (0.31, 0.42, 0.38, 0.35)
    e = Effect("gap", values, 0.1, True)
    lo, hi = stats.t.interval(LEVEL, len(values) - 1, loc=np.mean(values),
                              scale=stats.sem(values))  # fmt: skip
    assert e.interval == pytest.approx((lo, hi))
    assert e.estimate == pytest.approx(np.mean(values)) and e.n == 4
    assert e.outcome == HOLDS


@pytest.mark.parametrize(
    "values, threshold, above, outcome",
    [
        ((0.5, 0.52, 0.48), 0.25, True, HOLDS),
        ((0.5, 0.52, 0.48), 0.25, False, FAILS),
        ((0.1, 0.2, 0.4), 0.25, True, UNDECIDED),  # the interval straddles the threshold
        ((0.1, 0.12, 0.11), 0.25, True, FAILS),
        ((0.3,), 0.25, True, UNDECIDED),  # one seed: no interval
    ],
)
def test_outcome_needs_the_whole_interval_on_one_side(values, threshold, above, outcome):
    assert Effect("e", values, threshold, above).outcome == outcome


def test_nan_values_are_counted_not_dropped_and_nothing_measured_is_undecided():
    e = Effect("e", (0.5, np.nan, 0.52, 0.51), 0.25, True, missing=2)
    assert e.n == 3 and e.outcome == HOLDS
    assert e.missing == 3 and "3 seeds, 3 not measured" in e.text()
    assert missing_text([e]) == "e: 3 of 6 seeds not measured"
    assert missing_text([Effect("f", (0.5, 0.6), 0.25, True)]) == ""
    empty = Effect("e", (), 0.25, True)
    assert empty.outcome == UNDECIDED and "not measured" in empty.text()
    with pytest.raises(ValueError, match="missing must be a count >= 0"):
        Effect("e", (0.5,), 0.25, True, missing=-1)


def test_censored_values_bound_from_below_only():
    # steps never reached within the budget: the truth is larger, so "above" can still hold
    above = Effect("slower", (3.0, 3.1, 2.9), 1.0, True, censored=(True, False, True))
    assert above.outcome == HOLDS
    # ... but a censored effect cannot be shown to lie below its threshold
    below = Effect("flat", (0.5, 0.55, 0.45), 1.0, False, censored=(False, True, False))
    assert below.outcome == UNDECIDED and below.seeds_needed() is None
    low = Effect("slower", (0.1, 0.12, 0.11), 1.0, True, censored=(True, False, False))
    assert low.outcome == UNDECIDED  # its upper end is not an upper bound
    with pytest.raises(ValueError, match="one censored flag per value"):
        Effect("e", (1.0, 2.0), 0.0, True, censored=(True,))


def test_exact_effects_decide_on_one_seed():
    e = Effect("symmetry", (0.0,), 1e-12, False, exact=True)
    assert e.interval == (0.0, 0.0) and e.outcome == HOLDS and "exact" in e.text()
    broken = Effect("symmetry", (0.0, 1e-3), 1e-12, False, exact=True)
    assert broken.outcome == FAILS  # the range, not an interval: every seed must hold


def test_seeds_needed_would_decide_at_the_measured_spread():
    values = (0.32, 0.18, 0.27)
    e = Effect("gap", values, 0.1, True)
    assert e.outcome == UNDECIDED
    n = e.seeds_needed()
    sd, gap = np.std(values, ddof=1), np.mean(values) - 0.1
    half = lambda k: stats.t.ppf(0.5 + LEVEL / 2, k - 1) * sd / math.sqrt(k)  # noqa: E731
    assert half(n) < gap <= half(n - 1)
    assert f"about {n} seeds" in what_would_decide([e])
    on_threshold = Effect("gap", (0.0, 0.2, 0.1), 0.1, True)
    assert on_threshold.seeds_needed() > 100
    assert "more than 100 seeds" in what_would_decide([on_threshold])
    assert "one seed gives no interval" in what_would_decide([Effect("one", (0.3,), 0.1, True)])
    on_mean = Effect("failures", (0.0, 1.0, 0.0, 0.0, 0.0), 0.2, False)  # mean 0.2 exactly
    assert "the mean sits on the threshold" in what_would_decide([on_mean])
    censored = Effect("slower", (0.1, 0.3, 0.2), 0.2, True, censored=(True, False, False))
    assert "a longer budget" in what_would_decide([censored])


def test_decide_combines_effects():
    holds = Effect("a", (1.0, 1.1, 0.9), 0.0, True)
    fails = Effect("b", (1.0, 1.1, 0.9), 0.0, False)
    undecided = Effect("c", (-1.0, 1.0, 0.5), 0.0, True)
    assert decide([holds, holds]) == HOLDS
    assert decide([holds, undecided]) == UNDECIDED
    assert decide([holds, undecided, fails]) == FAILS
    assert decide([]) == UNDECIDED


def test_paired_differences_match_seeds():
    import pandas as pd

    frame = pd.DataFrame({"seed": [0, 1, 2, 0, 1], "arm": ["a", "a", "a", "b", "b"],
                          "value": [1.0, 2.0, 3.0, 0.5, 1.0]})  # fmt: skip
    diff = paired(frame, "arm", "value", "a", "b")
    assert diff[:2].tolist() == [0.5, 1.0] and np.isnan(diff[2])  # seed 2 unpaired: kept
    assert len(paired(frame, "arm", "value", "a", "missing")) == 0


def test_a_diverged_run_in_a_paired_effect_is_counted_not_dropped():
    import pandas as pd

    frame = pd.DataFrame({"seed": [0, 1, 2, 0, 1, 2], "arm": ["a"] * 3 + ["b"] * 3,
                          "value": [0.9, np.nan, 0.92, 0.8, 0.81, 0.79]})  # fmt: skip
    diff = paired(frame, "arm", "value", "a", "b")  # seed 1's "a" run diverged
    assert len(diff) == 3 and np.isnan(diff[1])
    e = Effect("a minus b", tuple(diff), 0.0, True)
    assert e.n == 2 and e.missing == 1 and "1 not measured" in e.text()
    assert e.as_record()["missing"] == 1
    # as an outcome instead: the diverged run at chance (0.1) enters the interval
    filled = paired(frame, "arm", "value", "a", "b", fill=0.1)
    assert filled.tolist() == pytest.approx([0.1, -0.71, 0.13])
    assert Effect("a minus b", tuple(filled), 0.0, True).outcome == UNDECIDED


def test_record_carries_what_the_report_shows():
    record = Effect("gap", (0.3, 0.4, 0.35), 0.1, True, unit="points").as_record()
    for key in ("label", "estimate", "lo", "hi", "n", "level", "threshold", "above",
                "outcome", "seeds_needed", "censored", "exact", "missing"):  # fmt: skip
        assert key in record
    assert record["outcome"] == HOLDS and record["n"] == 3
