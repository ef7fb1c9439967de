"""Reference accuracies that a trained network is judged against.

``best_linear_accuracy`` is the fair comparator for a network whose hidden units are identical
(zero or constant init): such a network computes a monotone function of one projection w.x,
so its decision boundary is a half-plane, and no trained linear model can beat the best one.
"""

import math
from typing import NamedTuple

import numpy as np


class MlpReference(NamedTuple):
    """A test accuracy a tuned MLP reaches on a dataset, and a published number beside it."""

    accuracy: float
    published: str = ""


MLP_REFERENCE_WIDTH = 32
MLP_REFERENCE_SOURCE = (
    f"a tuned MLP of width {MLP_REFERENCE_WIDTH}: the best median-over-3-seeds final test "
    "accuracy over 1 and 2 hidden layers, ReLU and tanh at He init, lr 0.003, 0.01 and 0.03, "
    "SGD with momentum 0.9, batch 64, 4,000 steps (benchmarks/overview_reference.yaml)"
)
# What the overview's datasets allow an MLP of its width, measured as
# MLP_REFERENCE_SOURCE says: the bar the report's overview section holds its best cells to.
MLP_REFERENCES = {
    "circles": MlpReference(0.96),
    "digits": MlpReference(0.975),
    "mnist1d": MlpReference(0.597, "Greydanus 2020's MLP of width 100: 0.68 (MNIST-1D README)"),
}

_CHUNK = 2048  # directions scored at once: a (_CHUNK, n) block of projections


def best_linear_accuracy(X, y):
    """The best training accuracy of any half-plane {x : w.x > t}, either side labelled 1.

    Exact for 1-d and 2-d inputs. In 2-d the order of the projections w.x changes only where
    w is perpendicular to a difference x_i - x_j, so one direction inside each arc between
    consecutive such angles (with every threshold between distinct projections, and the two
    constant predictors) covers every half-plane: O(n^2) directions of O(n log n) each.
    Labels are binary: any two values (or one). Raises ValueError for d > 2.
    """
    X, y = _check(X, y)
    n, d = X.shape
    if d == 1:
        return _best_split(X.T, y)
    i, j = np.triu_indices(n, k=1)
    diff = X[j] - X[i]
    diff = diff[np.any(diff != 0, axis=1)]  # equal points never split: no direction from them
    # angle of the normal to each difference, mod pi (w and -w give the same splits)
    angles = np.unique(np.mod(np.arctan2(diff[:, 0], -diff[:, 1]), math.pi))
    if angles.size == 0:
        mids = np.zeros(1)
    else:
        mids = (angles + np.append(angles[1:], angles[0] + math.pi)) / 2
    best = 0.0
    for start in range(0, mids.size, _CHUNK):
        phi = mids[start : start + _CHUNK]
        # The rows in their order along the chunk's first direction: the chunk's directions
        # are consecutive angles, so each row of projections is nearly sorted already, which
        # a stable (merge) sort exploits. Ties may come out in another order, which changes
        # no allowed cut's count.
        first = np.argsort(X @ [math.cos(phi[0]), math.sin(phi[0])], kind="stable")
        directions = np.column_stack([np.cos(phi), np.sin(phi)])
        best = max(best, _best_split(directions @ X[first].T, y[first]))
    return best


def _best_split(P, y):
    """Best accuracy of thresholding each row of projections P (k, n), either orientation
    (rows, not columns: sorts and sums then run along contiguous memory)."""
    n = P.shape[1]
    order = np.argsort(P, axis=1, kind="stable")
    ones = np.zeros((P.shape[0], n + 1), np.int64)  # ones among the k = 0..n smallest
    np.cumsum(y[order], axis=1, out=ones[:, 1:])
    correct = (np.arange(n + 1) - ones) + (ones[:, -1:] - ones)  # zeros below the cut, ones above
    ranked = np.take_along_axis(P, order, axis=1)
    allowed = np.ones_like(correct, dtype=bool)
    allowed[:, 1:-1] = ranked[:, 1:] > ranked[:, :-1]  # no cut between tied projections
    correct = np.where(allowed, np.maximum(correct, n - correct), 0)
    return float(correct.max()) / n


def _check(X, y):
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty (n, d) array, got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite")
    classes = np.unique(y)
    if classes.size > 2:
        raise ValueError(f"y must be binary, got {classes.size} classes")
    if X.shape[1] > 2:
        raise ValueError(
            f"best_linear_accuracy is exact only for 1-d and 2-d inputs, got d = {X.shape[1]}; "
            "in higher dimensions it is NP-hard in general (a trained linear model gives a "
            "lower bound)"
        )
    return X, (y == classes[-1]).astype(np.int64)
