"""Small random problems the kernel tests share: a network, its inputs and its targets."""

import numpy as np

LOSS_OUTPUTS = {"softmax_ce": 3, "sigmoid_bce": 1, "mse": 2}


def make_problem(loss, sizes=(4, 6, 5), n=7, seed=0, dtype=np.float64):
    """(W, b, X, y): a net of layer ``sizes`` and the outputs ``loss`` needs, n rows of data."""
    rng = np.random.default_rng(seed)
    sizes = [*sizes, LOSS_OUTPUTS[loss]]
    W = [rng.normal(0, 1 / np.sqrt(a), (b, a)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    b = [rng.normal(0, 0.1, s).astype(dtype) for s in sizes[1:]]
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    mse = loss == "mse"
    y = rng.normal(size=(n, sizes[-1])) if mse else rng.integers(0, max(sizes[-1], 2), n)
    return W, b, X, y


def make_residual(loss, blocks=2, block_size=2, width=5, n=9, seed=0):
    """A residual net's (W, b, X, y) and random extras (gates, norm gains and biases)."""
    rng = np.random.default_rng(seed)
    sizes = [4, *[width] * (1 + blocks * block_size), LOSS_OUTPUTS[loss]]
    W = [rng.normal(0, 0.8 / np.sqrt(a), (o, a)) for a, o in zip(sizes, sizes[1:])]
    b = [rng.normal(0, 0.1, o) for o in sizes[1:]]
    X = rng.normal(size=(n, sizes[0]))
    y = rng.normal(size=(n, sizes[-1])) if loss == "mse" else rng.integers(0, max(sizes[-1], 2), n)
    extras = {
        "gates": rng.uniform(0.3, 1.0, blocks),
        "norm_gains": rng.normal(1, 0.3, (blocks, width)),
        "norm_biases": rng.normal(0, 0.3, (blocks, width)),
    }
    return W, b, X, y, extras
