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
