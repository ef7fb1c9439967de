"""best_linear_accuracy on sets whose best half-plane is known by construction."""

import math

import numpy as np
import pytest

from initbench import baselines
from initbench.baselines import best_linear_accuracy


def line_points(n, flips):
    """n points along a tilted line, class 0 on the first half, with the labels at ``flips``
    swapped: isolated swaps deep in each half, so the best cut is still the middle."""
    t = np.arange(n, dtype=float)
    X = np.column_stack([t, 2 * t + 1])
    y = (t >= n / 2).astype(int)
    y[flips] = 1 - y[flips]
    return X, y


def brute_threshold(p, y):
    """Best accuracy of any threshold on the 1-d values p, either side, by plain loops."""
    values = np.unique(p)
    cuts = [values[0] - 1, *(values[:-1] + values[1:]) / 2, values[-1] + 1]
    best = 0
    for t in cuts:
        right = sum(int((pi > t) == bool(yi)) for pi, yi in zip(p, y, strict=True))
        best = max(best, right, len(y) - right)
    return best / len(y)


def test_collinear_points_with_misplaced_labels():
    X, y = line_points(20, [2, 15])
    assert best_linear_accuracy(X, y) == pytest.approx(18 / 20)
    assert brute_threshold(X[:, 0], y) == pytest.approx(18 / 20)
    X, y = line_points(40, [3, 8, 25, 31, 36])
    assert best_linear_accuracy(X, y) == pytest.approx(35 / 40)


def test_separable_data_reaches_one():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (120, 2))
    margin = X[:, 1] - (0.3 * X[:, 0] + 0.1)
    X, margin = X[np.abs(margin) > 0.01], margin[np.abs(margin) > 0.01]
    assert best_linear_accuracy(X, (margin > 0).astype(int)) == 1.0
    assert best_linear_accuracy(X, (margin < 0).astype(int)) == 1.0


def test_xor_clusters_reach_three_quarters():
    rng = np.random.default_rng(1)
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    X = np.repeat(centres, 25, axis=0) + 0.1 * rng.standard_normal((100, 2))
    y = np.repeat([0, 0, 1, 1], 25)
    assert best_linear_accuracy(X, y) == pytest.approx(0.75)


def test_concentric_rings_reach_only_a_cap():
    # an inner disc (class 1) inside a ring (class 0): a half-plane is best cutting off a cap
    # of the ring, so it beats the majority class but stays far from 1
    theta = np.linspace(0, 2 * math.pi, 120, endpoint=False)
    X = np.vstack([np.column_stack([np.cos(theta), np.sin(theta)]), 0.1 * np.eye(2)])
    y = np.r_[np.zeros(120, int), np.ones(2, int)]
    assert best_linear_accuracy(X, y) == pytest.approx(120 / 122)
    X = np.vstack([X[:120], 0.5 * X[:120]])
    y = np.r_[np.zeros(120, int), np.ones(120, int)]
    acc = best_linear_accuracy(X, y)
    # a chord at distance h from the centre with cos(a) = h: the inner ring is fully on the
    # far side when h >= 0.5, so the best cut takes the outer arc beyond h = 0.5: 1/3 of it
    assert acc == pytest.approx((1 + 1 / 3) / 2, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_dense_sweep_of_directions_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((12, 2)), rng.integers(0, 2, 12)
    phi = np.linspace(0, math.pi, 20000, endpoint=False)
    P = X @ np.vstack([np.cos(phi), np.sin(phi)])  # (12, directions)
    # predict 1 above each projected value (and above -inf): every cut between points
    cuts = np.vstack([np.full((1, phi.size), -np.inf), P])
    right = ((P[None, :, :] > cuts[:, None, :]) == y[None, :, None].astype(bool)).sum(axis=1)
    swept = np.maximum(right, 12 - right).max() / 12
    assert best_linear_accuracy(X, y) == pytest.approx(swept)


def test_many_chunks_of_directions_with_ties_match_a_threshold_per_direction(monkeypatch):
    """Each chunk of directions sorts the rows along its first direction first; ties then
    come out in another order, which must change no count."""
    rng = np.random.default_rng(4)
    X, y = rng.integers(-2, 3, (15, 2)).astype(float), rng.integers(0, 2, 15)  # ties, lines
    monkeypatch.setattr(baselines, "_CHUNK", 5)
    angles = sorted({math.atan2(b[0] - a[0], a[1] - b[1]) % math.pi
                     for a in X for b in X if (a != b).any()})  # fmt: skip
    mids = [(a + b) / 2 for a, b in zip(angles, [*angles[1:], angles[0] + math.pi], strict=True)]
    assert len(mids) > 4 * baselines._CHUNK
    expected = max(brute_threshold(X @ [math.cos(m), math.sin(m)], y) for m in mids)
    assert best_linear_accuracy(X, y) == expected


def test_invariances():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 2)), rng.integers(0, 2, 60)
    base = best_linear_accuracy(X, y)
    assert best_linear_accuracy(X, 1 - y) == base  # label flip
    assert best_linear_accuracy(X, np.where(y == 1, "b", "a")) == base  # any two label values
    A = np.array([[2.0, 0.5], [-1.0, 3.0]])  # any invertible affine map keeps half-planes
    assert best_linear_accuracy(X @ A.T + [5.0, -2.0], y) == base
    order = rng.permutation(60)
    assert best_linear_accuracy(X[order], y[order]) == base


def test_ties_and_degenerate_sets():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    assert best_linear_accuracy(X, [0, 1, 0, 1]) == 0.5  # equal points cannot be split
    assert best_linear_accuracy(X, [0, 0, 1, 1]) == 1.0
    assert best_linear_accuracy(np.zeros((5, 2)), [0, 1, 1, 1, 0]) == 0.6  # one point: majority
    assert best_linear_accuracy(np.ones((3, 2)), [1, 1, 1]) == 1.0
    assert best_linear_accuracy(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 1, 0, 1]) == 0.75


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.zeros((4, 3)), [0, 1, 0, 1], "exact only for 1-d and 2-d inputs, got d = 3"),
        (np.zeros((4, 2)), [0, 1, 2, 1], "binary"),
        (np.zeros((4, 2)), [0, 1, 0], r"y must have shape \(4,\)"),
        (np.zeros(4), [0, 1, 0, 1], r"\(n, d\)"),
        (np.full((2, 2), np.nan), [0, 1], "finite"),
    ],
)
def test_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        best_linear_accuracy(X, y)
