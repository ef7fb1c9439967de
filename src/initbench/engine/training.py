"""Python entry points around the compiled kernels: ``loss_and_grads`` and ``train``.

Everything here runs once per call: check the arguments (before anything compiles),
pack parameters into flat buffers, call one kernel, and turn its arrays into tables.
"""

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..config import TRAINING_DEFAULTS
from ..text import unknown_name_message
from .activations import get_activation
from .jit import call_specialised, kernel
from .loop import LAYER_METRICS, RUN_METRICS, STATUS, train_loop
from .losses import LOSSES, loss_and_delta, targets_for
from .network import backward, forward, layout, pack, unit_view, unpack

_DEFAULT = TRAINING_DEFAULTS


@dataclass
class TrainResult:
    """Trained parameters, how the run ended, and its metrics as tidy tables.

    The tables are kept as columns (name -> array) and become pandas frames when first
    asked for: a study trains thousands of runs, and the pipeline stores the columns."""

    weights: list
    biases: list
    status: str  # "completed" or "diverged"
    diverged_step: int | None
    history_columns: dict = field(repr=False)  # one row per logged step
    layer_columns: dict = field(repr=False)  # one row per logged step and layer

    @cached_property
    def history(self):
        return pd.DataFrame(self.history_columns)

    @cached_property
    def layers(self):
        return pd.DataFrame(self.layer_columns)


def result_from_logs(w, bias, w_off, b_off, sizes, status, diverged_at, run_log, layer_log):
    """A TrainResult from a training loop's flat parameters and its logged rows."""
    shapes = list(zip(sizes[1:], sizes[:-1]))
    n_layers = len(shapes)
    steps = run_log[:, 0].astype(np.int64)
    per_layer = layer_log.reshape(-1, len(LAYER_METRICS))
    return TrainResult(
        weights=unpack(w, w_off, shapes),
        biases=unpack(bias, b_off, [(s,) for s in sizes[1:]]),
        status=STATUS[int(status)],
        diverged_step=None if diverged_at < 0 else int(diverged_at),
        history_columns={"step": steps, **{name: run_log[:, i + 1]
                                           for i, name in enumerate(RUN_METRICS)}},
        layer_columns={"step": np.repeat(steps, n_layers),
                       "layer": np.tile(np.arange(1, n_layers + 1), len(steps)),
                       **{name: per_layer[:, i] for i, name in enumerate(LAYER_METRICS)}},
    )  # fmt: skip


def log_schedule(steps, points=40):
    """Logged steps: every step early, geometrically sparser later; always 0 and ``steps``."""
    grid = np.geomspace(1, max(steps, 1), num=max(points - 1, 1))
    return np.unique(np.concatenate([[0, steps], np.floor(grid).astype(np.int64)]))


def batch_order(seed, n_samples, batch_size, steps):
    """One permutation of the training rows per epoch, enough epochs for ``steps + 1`` batches.

    Drawn in Python from ``seed`` so the order is the same whatever the thread count or
    back end; empty for full-batch training.
    """
    if batch_size >= n_samples:
        return np.empty((0, 0), np.int64)
    epochs = (steps + 1) // (n_samples // batch_size) + 1
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((epochs, n_samples)), axis=1)


def _check_network(W, b, activation, loss):
    if not isinstance(W, (list, tuple)) or not isinstance(b, (list, tuple)) or not W:
        raise ValueError("W and b must be non-empty lists of arrays, one per layer")
    if len(W) != len(b):
        raise ValueError(f"W has {len(W)} layers but b has {len(b)}")
    W = [np.asarray(w) for w in W]
    dtype = W[0].dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"W must be float32 or float64, got {dtype}")
    sizes = [W[0].shape[1] if W[0].ndim == 2 else -1]
    for i, (w, bias) in enumerate(zip(W, b)):
        bias = np.asarray(bias)
        if w.ndim != 2 or w.shape[1] != sizes[-1]:
            raise ValueError(f"W[{i}] has shape {w.shape}; expected (fan_out, {sizes[-1]})")
        if w.dtype != dtype or bias.dtype != dtype:
            raise ValueError(f"W[{i}]/b[{i}] dtype differs from W[0]'s {dtype}")
        if bias.reshape(-1).shape != (w.shape[0],):
            raise ValueError(f"b[{i}] has shape {bias.shape}; expected ({w.shape[0]},)")
        sizes.append(w.shape[0])
    act = get_activation(activation)
    if loss not in LOSSES:
        raise ValueError(unknown_name_message("loss", loss, LOSSES))
    return sizes, dtype, act


def _check_data(X, y, sizes, dtype, loss, names=("X", "y")):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"{names[0]} has shape {X.shape}; expected (n_samples, {sizes[0]})")
    if len(y) != X.shape[0]:
        raise ValueError(f"{names[1]} has {len(y)} rows but {names[0]} has {X.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{names[0]} contains NaN or inf")
    targets = targets_for(loss, y, sizes[-1], dtype, name=names[1])
    if not np.all(np.isfinite(targets)):
        raise ValueError(f"{names[1]} contains NaN or inf")
    return np.ascontiguousarray(X, dtype=dtype), targets


def _check_probe(X_probe, sizes, dtype):
    if X_probe is None:
        return np.empty((0, sizes[0]), dtype)
    X_probe = np.asarray(X_probe)
    if X_probe.ndim != 2 or X_probe.shape[1] != sizes[0] or X_probe.shape[0] == 0:
        raise ValueError(f"X_probe has shape {X_probe.shape}; expected (n_rows > 0, {sizes[0]})")
    if not np.all(np.isfinite(X_probe)):
        raise ValueError("X_probe contains NaN or inf")
    return np.ascontiguousarray(X_probe, dtype=dtype)


def _positive(name, value, kind=float):
    try:
        ok = kind(value) == value and value > 0 and math.isfinite(value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


def _alpha(act, alpha):
    return act.alpha if alpha is None else float(alpha)


@kernel
def _loss_and_grads(act, loss_code, w, b, sizes, w_off, b_off, X, T, alpha, gw, gb):
    rows, total_units = X.shape[0], sizes[1:].sum()
    Z = np.empty(rows * total_units, w.dtype)
    A, D, G = np.empty_like(Z), np.empty_like(Z), np.empty_like(Z)
    out = forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, True)
    delta = unit_view(G, rows, total_units - sizes[-1], sizes[-1])
    loss, _ = loss_and_delta(loss_code, out, T, delta, True)
    backward(w, sizes, w_off, b_off, X, A, D, G, gw, gb)
    return loss


def loss_and_grads(W, b, X, y, *, activation, loss, alpha=None):
    """Mean loss over (X, y) and its gradients with respect to every W[l] and b[l]."""
    sizes, dtype, act = _check_network(W, b, activation, loss)
    X, T = _check_data(X, y, sizes, dtype, loss)
    sizes, w_off, b_off = layout(sizes)
    w, bias = pack(W, dtype), pack(b, dtype)
    gw, gb = np.empty_like(w), np.empty_like(bias)
    value = call_specialised(
        _loss_and_grads, act.selector, LOSSES[loss], w, bias, sizes, w_off, b_off, X, T,
        _alpha(act, alpha), gw, gb,
    )  # fmt: skip
    shapes = list(zip(sizes[1:], sizes[:-1]))
    return value, unpack(gw, w_off, shapes), unpack(gb, b_off, [(s,) for s in sizes[1:]])


def train(
    W, b, X, y, *, activation, loss, lr, batch_size, steps, seed=0, X_test=None, y_test=None,
    momentum=_DEFAULT["momentum"], alpha=None, log_points=_DEFAULT["log_points"],
    eval_rows=_DEFAULT["eval_rows"], X_probe=None,
):  # fmt: skip
    """Train a copy of the network (W, b) by minibatch SGD; see TrainResult.

    Each epoch visits the training rows in a fresh permutation drawn from ``seed``; a
    batch_size of at least n_samples means full-batch gradient descent. Train loss and
    accuracy are logged on the first ``eval_rows`` training rows (all of them for the
    bundled datasets but mnist1d), which bounds the cost of logging on large sets.
    ``X_probe``: fixed rows forwarded at every logged step for the ``probe_*`` layer
    metrics (activation statistics and dead units, see loop.LAYER_METRICS); they stay
    NaN without it, and training without it does no extra work.
    """
    sizes, dtype, act = _check_network(W, b, activation, loss)
    _positive("lr", lr)
    _positive("batch_size", batch_size, int)
    _positive("steps", steps, int)
    _positive("log_points", log_points, int)
    _positive("eval_rows", eval_rows, int)
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    X, T = _check_data(X, y, sizes, dtype, loss)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is None:
        X_test, T_test = np.empty((0, sizes[0]), dtype), np.empty((0, T.shape[1]), dtype)
    else:
        X_test, T_test = _check_data(X_test, y_test, sizes, dtype, loss, ("X_test", "y_test"))
    X_probe = _check_probe(X_probe, sizes, dtype)

    rows = min(batch_size, X.shape[0])
    order = batch_order(seed, X.shape[0], rows, steps)
    logged = log_schedule(steps, log_points)
    run_log = np.empty((len(logged) + 1, 1 + len(RUN_METRICS)))
    layer_log = np.full((len(logged) + 1, len(sizes) - 1, len(LAYER_METRICS)), np.nan)
    sizes, w_off, b_off = layout(sizes)
    w, bias = pack(W, dtype), pack(b, dtype)
    bounds = np.array(act.bounds if act.bounds else (0.0, 0.0))
    status, diverged_at, n_logged = call_specialised(
        train_loop, act.selector, LOSSES[loss], w, bias, sizes, w_off, b_off, X, T, X[:eval_rows],
        T[:eval_rows], X_test, T_test, X_probe, order, rows, steps, float(lr), float(momentum),
        _alpha(act, alpha), bounds, logged, run_log, layer_log,
    )  # fmt: skip
    return result_from_logs(w, bias, w_off, b_off, sizes, status, diverged_at,
                            run_log[:n_logged], layer_log[:n_logged])  # fmt: skip
