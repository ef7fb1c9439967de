"""engine/training.py's batch order, rebuilt from docs/training.md's recipe alone."""

import naive
import numpy as np
import pytest

import initbench as ib
from initbench.engine.training import batch_order


def documented_order(seed, n, b, steps):
    """The rows of steps 0..steps as docs/training.md ("The batch order") states them, in
    plain NumPy: one rng.random(n) a epoch, argsorted; k = n // b batches an epoch, the
    partial last batch dropped; full batch: all rows in order."""
    if b >= n:
        return [np.arange(n)] * (steps + 1)
    rng = np.random.default_rng(seed)
    k = n // b
    rows, perm = [], None
    for s in range(steps + 1):
        e, j = divmod(s, k)
        if j == 0:  # a new epoch: its draw
            perm = np.argsort(rng.random(n))
        rows.append(perm[j * b : (j + 1) * b])
    return rows


@pytest.mark.parametrize(
    ("seed", "n", "b", "steps"),
    [(0, 10, 4, 9), (7, 23, 5, 40), (3, 12, 3, 0), (1, 6, 6, 5), (2, 5, 64, 3)],
)
def test_batch_order_is_the_documented_recipe(seed, n, b, steps):
    got = batch_order(seed, n, min(b, n), steps)
    expected = documented_order(seed, n, b, steps)
    for s in range(steps + 1):
        np.testing.assert_array_equal(got[s if b < n else 0], expected[s])


def test_the_partial_last_batch_is_dropped():
    """With 10 rows in batches of 4, each epoch visits 8 distinct rows; 2 wait."""
    order = batch_order(5, 10, 4, 29)
    for epoch in range(15):
        visited = order[2 * epoch : 2 * epoch + 2].ravel()
        assert len(set(visited.tolist())) == 8
    assert len(set(order[:10].ravel().tolist())) == 10  # over epochs every row is seen


def test_training_follows_the_documented_order():
    """Minibatch Adam on the documented rows, in the NumPy reference, ends where ib.train
    ends: the run trained on exactly those rows, in that order."""
    rng = np.random.default_rng(0)
    n, b, steps, seed = 22, 5, 17, 4
    X, y = rng.normal(size=(n, 3)), rng.integers(0, 2, n)
    W, bias = ib.init_params("xavier_normal", [3, 6, 2], seed=0)
    res = ib.train(
        W,
        bias,
        X,
        y,
        activation="tanh",
        loss="softmax_ce",
        seed=seed,
        optimizer="adam",
        lr=0.05,
        steps=steps,
        batch_size=b,
    )
    order = documented_order(seed, n, b, steps)
    ref_W, ref_b = naive.train(
        W, bias, X, y, "tanh", "softmax_ce", 0.0, 0.05, 0.0, order, b, steps, optimizer="adam"
    )
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    shuffled = documented_order(seed + 1, n, b, steps)
    other_W, _ = naive.train(
        W, bias, X, y, "tanh", "softmax_ce", 0.0, 0.05, 0.0, shuffled, b, steps, optimizer="adam"
    )
    assert not np.allclose(res.weights[0], other_W[0], rtol=1e-6)  # the order matters
