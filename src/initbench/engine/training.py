"""Python entry points around the compiled kernels: ``loss_and_grads`` and ``train``.

Everything here runs once per call: check the arguments (before anything compiles),
pack parameters into flat buffers, call one kernel, and turn its arrays into tables.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..parametrizations import optimizer_scales
from ..settings import DEFAULTS
from .checks import (
    check_alpha,
    check_architecture,
    check_data,
    check_network,
    check_probe,
    check_settings,
    check_test,
)
from .compile_parts import loop_kernels
from .jit import call_specialised, kernel, selector_type
from .loop import STATUS, train_loop
from .losses import LOSSES, loss_and_delta
from .metrics import LAYER_METRICS, RUN_COLUMNS, STEP
from .network import backward, forward, layout, pack, unit_view, unpack
from .residual import extras_by_name, initial_extras, residual_backward, residual_forward


@dataclass
class TrainResult:
    """Trained parameters, how the run ended, and its metrics as tidy tables.

    The tables are kept as columns (name -> array) and become pandas frames when first
    asked for: a study trains thousands of runs, and the pipeline stores the columns."""

    weights: list
    biases: list
    status: str  # "completed", "diverged" or "stopped" (at stop_at_test_accuracy)
    diverged_step: int | None
    history_columns: dict = field(repr=False)  # one row per logged step
    layer_columns: dict = field(repr=False)  # one row per logged step and layer
    # a residual net's trained gates, norm_gains and norm_biases (residual.extras_by_name)
    extras: dict = field(default_factory=dict)

    @cached_property
    def history(self):
        return pd.DataFrame(self.history_columns)

    @cached_property
    def layers(self):
        return pd.DataFrame(self.layer_columns)


def result_from_logs(w, bias, w_off, b_off, sizes, status, diverged_at, run_log, layer_log,
                     extras=None):  # fmt: skip
    """A TrainResult from a training loop's flat parameters and its logged rows."""
    shapes = list(zip(sizes[1:], sizes[:-1]))
    n_layers = len(shapes)
    steps = run_log[:, STEP].astype(np.int64)
    per_layer = layer_log.reshape(-1, len(LAYER_METRICS))
    return TrainResult(
        weights=unpack(w, w_off, shapes),
        biases=unpack(bias, b_off, [(s,) for s in sizes[1:]]),
        status=STATUS[int(status)],
        diverged_step=None if diverged_at < 0 else int(diverged_at),
        history_columns={"step": steps, **{name: run_log[:, i]
                                           for i, name in enumerate(RUN_COLUMNS) if i != STEP}},
        layer_columns={"step": np.repeat(steps, n_layers),
                       "layer": np.tile(np.arange(1, n_layers + 1), len(steps)),
                       **{name: per_layer[:, i] for i, name in enumerate(LAYER_METRICS)}},
        extras=extras or {},
    )  # fmt: skip


def log_schedule(steps, points=DEFAULTS.log_points):
    """Logged steps: every step early, geometrically sparser later; always 0 and ``steps``."""
    grid = np.geomspace(1, max(steps, 1), num=max(points - 1, 1))
    return np.unique(np.concatenate([[0, steps], np.floor(grid).astype(np.int64)]))


def batch_order(seed, n_samples, batch_size, steps):
    """The training rows of every step 0..steps: a (steps + 1, batch_size) array.

    Each epoch visits the rows in a fresh permutation drawn in Python from ``seed``, so the
    order is the same whatever the thread count or back end; both loops (``loop`` and
    ``gpu_loop``) and the references read step s's rows as ``batches[s]``. Full-batch
    training (``batch_size >= n_samples``) gives one row, all rows in order, for every step.
    """
    if batch_size >= n_samples:
        return np.arange(n_samples, dtype=np.int64)[None, :]
    per_epoch = n_samples // batch_size
    epochs = (steps + 1) // per_epoch + 1
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((epochs, n_samples)), axis=1)
    epoch, position = np.divmod(np.arange(steps + 1), per_epoch)
    return order[epoch[:, None], position[:, None] * batch_size + np.arange(batch_size)]


@kernel
def _loss_and_grads(act, loss_code, w, b, extra, sizes, w_off, b_off, X, T, alpha, block_size,
                    use_norm, final_norm, gw, gb, ge):  # fmt: skip
    rows, total_units = X.shape[0], sizes[1:].sum()
    Z = np.empty(rows * total_units, w.dtype)
    A, D, G = np.empty_like(Z), np.empty_like(Z), np.empty_like(Z)
    delta = unit_view(G, rows, total_units - sizes[-1], sizes[-1])
    if extra is None:  # a type: a plain net's gradients compile no residual code
        out = forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, True)
        loss, _ = loss_and_delta(loss_code, out, T, delta, True)
        backward(w, sizes, w_off, b_off, X, A, D, G, gw, gb)
        return loss
    width = sizes[1]
    blocks = (sizes.size - 3) // block_size
    Hs, Ps = (
        np.empty((blocks + 1) * rows * width, w.dtype),
        np.empty((blocks + 1) * rows * width, w.dtype),
    )
    Xh, Rs = np.empty((blocks + 1) * rows * width, w.dtype), np.empty((blocks + 1) * rows, w.dtype)
    out = residual_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, Hs, Ps, Xh, Rs,
                           alpha, block_size, use_norm, final_norm, True)  # fmt: skip
    loss, _ = loss_and_delta(loss_code, out, T, delta, True)
    stream, scratch = np.empty(rows * width, w.dtype), np.empty(rows * width, w.dtype)
    residual_backward(w, extra, sizes, w_off, b_off, X, Z, A, D, G, Xh, Rs, block_size, use_norm,
                      final_norm, gw, gb, ge, stream, scratch)  # fmt: skip
    return loss


def loss_and_grads(W, b, X, y, *, activation, loss, alpha=None, extras=None, settings=None,
                   **architecture):  # fmt: skip
    """Mean loss over (X, y) and its gradients with respect to every W[l] and b[l].

    For a residual net (``architecture="residual"``, with ``block_size``, ``norm``,
    ``branch_scaling``, ``branch_scale``, ``final_norm``, as keywords or in ``settings``) it
    returns a fourth item, the gradients of its extras (gates, norm_gains, norm_biases; see
    residual.initial_extras, whose values ``extras`` may replace).
    """
    settings = check_settings(settings, architecture)
    sizes, dtype, act = check_network(W, b, activation, loss)
    check_architecture(settings, sizes)
    X, T = check_data(X, y, sizes, dtype, loss)
    alpha = check_alpha(act, alpha)
    extra = initial_extras(settings, sizes, dtype, extras)
    sizes, w_off, b_off = layout(sizes)
    w, bias = pack(W, dtype), pack(b, dtype)
    gw, gb, ge = np.empty_like(w), np.empty_like(bias), np.zeros_like(extra)
    value = call_specialised(
        _loss_and_grads, act.selector, LOSSES[loss], w, bias, extra if extra.size else None,
        sizes, w_off, b_off, X, T,
        alpha, settings.block_size, settings.norm == "layernorm",
        settings.final_norm == "layernorm", gw, gb, ge,
    )  # fmt: skip
    shapes = list(zip(sizes[1:], sizes[:-1]))
    grads = (value, unpack(gw, w_off, shapes), unpack(gb, b_off, [(s,) for s in sizes[1:]]))
    if extra.size == 0:
        return grads
    return (*grads, extras_by_name(ge, (len(sizes) - 3) // settings.block_size, sizes[1]))


def train(
    W, b, X, y, *, activation, loss, seed=0, X_test=None, y_test=None, alpha=None, X_probe=None,
    extras=None, settings=None, **training,
):  # fmt: skip
    """Train a copy of the network (W, b); see TrainResult.

    The training settings come as ``settings`` (a ``TrainSettings``), as keywords (``lr``,
    ``batch_size``, ``steps``, ``optimizer``, ``schedule``, ``parametrization``, ...: see
    settings.TrainSettings), or both (keywords win); the rest take TrainSettings'
    defaults, plain minibatch SGD. A parametrization other than sp scales each layer's lr
    here; draw (W, b) with the same parametrization (``init_params``), which scales the
    init. A residual net (``architecture="residual"``) starts its extras as
    residual.initial_extras sets them (``extras`` may replace any), and returns them
    trained in ``TrainResult.extras``. Each epoch visits the training rows in a fresh permutation
    drawn from ``seed``; a batch_size of at least n_samples means full-batch gradient
    descent. Train loss and accuracy are logged on the first ``eval_rows`` training rows
    (all of them for the bundled datasets but mnist1d), which bounds the cost of logging
    on large sets. ``X_probe``: fixed rows forwarded at every logged step for the
    ``probe_*`` layer metrics (activation statistics and dead units, see
    metrics.LAYER_METRICS); they stay NaN without it, and training without it does no extra
    work.
    """
    settings = check_settings(settings, training)
    sizes, dtype, act = check_network(W, b, activation, loss)
    check_architecture(settings, sizes)
    X, T = check_data(X, y, sizes, dtype, loss)
    X_test, T_test = check_test(
        X_test, y_test, sizes, dtype, loss, T.shape[1], settings.stop_at_test_accuracy > 0
    )
    X_probe = check_probe(X_probe, sizes, dtype)
    alpha = check_alpha(act, alpha)
    extra = initial_extras(settings, sizes, dtype, extras)
    batches = batch_order(seed, X.shape[0], settings.batch_size, settings.steps)
    return train_checked(W, b, sizes, dtype, act, loss, X, T, X_test, T_test, X_probe, batches,
                         settings, alpha, extra)  # fmt: skip


def train_checked(W, b, sizes, dtype, act, loss, X, T, X_test, T_test, X_probe, batches,
                  settings, alpha, extra):  # fmt: skip
    """``train`` on checked arguments (see checks), ``batches`` from ``batch_order`` and
    ``extra`` from ``initial_extras``."""
    logged = log_schedule(settings.steps, settings.log_points)
    run_log = np.empty((len(logged) + 1, len(RUN_COLUMNS)))
    layer_log = np.full((len(logged) + 1, len(sizes) - 1, len(LAYER_METRICS)), np.nan)
    sizes, w_off, b_off = layout(sizes)
    w, bias = pack(W, dtype), pack(b, dtype)
    bounds = np.array(act.bounds if act.bounds else (0.0, 0.0))
    eval_rows = settings.eval_rows
    extra = extra.copy()
    status, diverged_at, n_logged = call_specialised(
        train_loop, act.selector, LOSSES[loss], w, bias, extra, sizes, w_off, b_off, X, T,
        X[:eval_rows], T[:eval_rows], X_test, T_test, X_probe, batches, settings.steps,
        np.array(settings.kernel_row()), *optimizer_scales(settings, sizes), alpha, bounds, logged,
        run_log, layer_log,
        typed=loop_kernels(selector_type(act.selector), w.dtype,
                           residual=settings.architecture == "residual"),
    )  # fmt: skip
    blocks = (len(sizes) - 3) // settings.block_size
    return result_from_logs(w, bias, w_off, b_off, sizes, status, diverged_at,
                            run_log[:n_logged], layer_log[:n_logged],
                            extras_by_name(extra, blocks, sizes[1]))  # fmt: skip
