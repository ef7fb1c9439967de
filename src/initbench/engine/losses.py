"""Losses on the output layer's linear output, each the mean over the batch.

The loss owns the output link (softmax, sigmoid, identity), so the kernels never
form probabilities that can underflow: every loss is computed in its stable form.
"""

import math

import numpy as np

from .jit import kernel

LOSSES = {"softmax_ce": 0, "sigmoid_bce": 1, "mse": 2}
SOFTMAX_CE, SIGMOID_BCE, MSE = LOSSES["softmax_ce"], LOSSES["sigmoid_bce"], LOSSES["mse"]


@kernel(forceinline=True)
def loss_sum(code, out, targets, delta, with_delta, first, stride):
    """(sum of the loss, correct predictions) over rows first, first + stride, ... of ``out``.

    ``out``, ``targets`` and ``delta`` (dL/d(out) of the mean over all rows of ``out``,
    written if ``with_delta``) are (rows, outputs) matrices. The CPU loss
    (``loss_and_delta``: every row) and the CUDA kernel (``gpu_loop``, through its device
    twin: each thread a share of the rows) both call it, so each loss is defined once.
    """
    n, k = out.shape
    total = 0.0
    correct = 0
    for i in range(first, n, stride):
        if code == SOFTMAX_CE:
            top = out[i, 0]
            best = 0
            for j in range(1, k):
                if out[i, j] > top:
                    top, best = out[i, j], j
            norm = 0.0
            for j in range(k):
                norm += math.exp(out[i, j] - top)
            log_norm = top + math.log(norm)
            for j in range(k):
                total -= targets[i, j] * (out[i, j] - log_norm)
                if with_delta:
                    delta[i, j] = (math.exp(out[i, j] - log_norm) - targets[i, j]) / n
            correct += int(targets[i, best] > 0.5)
        elif code == SIGMOID_BCE:
            o, t = out[i, 0], targets[i, 0]
            total += max(o, 0.0) - o * t + math.log1p(math.exp(-abs(o)))
            if with_delta:
                p = 1.0 / (1.0 + math.exp(-o)) if o >= 0 else 1.0 - 1.0 / (1.0 + math.exp(o))
                delta[i, 0] = (p - t) / n
            correct += int((o > 0) == (t > 0.5))
        else:
            for j in range(k):
                r = out[i, j] - targets[i, j]
                total += r * r / k
                if with_delta:
                    delta[i, j] = 2.0 * r / (n * k)
    return total, correct


@kernel
def loss_and_delta(code, out, targets, delta, with_delta):
    """Mean loss over the rows of ``out``; writes dL/d(out) into ``delta`` if asked.

    ``targets`` is one-hot for softmax_ce, 0/1 in one column for sigmoid_bce, and the
    regression targets for mse. Returns (loss, number of correct predictions).
    """
    total, correct = loss_sum(code, out, targets, delta, with_delta, 0, 1)
    return total / out.shape[0], correct


def targets_for(loss, y, n_outputs, dtype, name="y"):
    """The target matrix the kernels use, from labels (classification) or values (mse)."""
    y = np.asarray(y)
    if loss == "mse":
        values = y.reshape(len(y), -1).astype(dtype)
        if values.shape[1] != n_outputs:
            raise ValueError(
                f"{name} has {values.shape[1]} target columns but the network has "
                f"{n_outputs} outputs"
            )
        return np.ascontiguousarray(values)
    if y.ndim != 1 or not np.all(np.mod(y, 1) == 0):
        raise ValueError(f"{name} must be a 1-d array of integer class labels for {loss}")
    labels = y.astype(np.int64)
    n_classes = 2 if loss == "sigmoid_bce" else n_outputs
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name} holds labels outside 0..{n_classes - 1} for {loss} with {n_outputs} outputs"
        )
    if loss == "sigmoid_bce":
        if n_outputs != 1:
            raise ValueError(f"sigmoid_bce needs an output width of 1, got {n_outputs}")
        return labels.astype(dtype).reshape(-1, 1)
    return np.ascontiguousarray(np.eye(n_outputs, dtype=dtype)[labels])
