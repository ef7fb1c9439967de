"""The argument checks ``train``, ``loss_and_grads`` and ``train_many`` share: one per argument.

Every check runs before anything compiles; each raises ValueError with one line naming the
argument. The training settings' own checks are in ``settings.TrainSettings``.
"""

import math
import numbers

import numpy as np

from ..settings import TrainSettings
from ..text import unknown_name_message
from .activations import get_activation
from .hyper import KERNEL_OPTIMIZERS, KERNEL_SCHEDULES
from .losses import LOSSES, targets_for
from .residual import residual_blocks


def check_network(W, b, activation, loss):
    """(layer sizes, dtype, Activation) of the network (W, b)."""
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


def check_data(X, y, sizes, dtype, loss, names=("X", "y")):
    """X as a contiguous array of the network's dtype, and the targets of y."""
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


def check_probe(X_probe, sizes, dtype):
    """The probe rows; a (0, n_features) array without them."""
    if X_probe is None:
        return np.empty((0, sizes[0]), dtype)
    X_probe = np.asarray(X_probe)
    if X_probe.ndim != 2 or X_probe.shape[1] != sizes[0] or X_probe.shape[0] == 0:
        raise ValueError(f"X_probe has shape {X_probe.shape}; expected (n_rows > 0, {sizes[0]})")
    if not np.all(np.isfinite(X_probe)):
        raise ValueError("X_probe contains NaN or inf")
    return np.ascontiguousarray(X_probe, dtype=dtype)


def check_test(X_test, y_test, sizes, dtype, loss, n_targets, stops=False):
    """The test rows and their targets; (0, ...) arrays when neither is given, unless a
    run ``stops`` at a test accuracy (stop_at_test_accuracy), which needs them."""
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is None and stops:
        raise ValueError("stop_at_test_accuracy needs test rows: give X_test and y_test")
    if X_test is None:
        return np.empty((0, sizes[0]), dtype), np.empty((0, n_targets), dtype)
    return check_data(X_test, y_test, sizes, dtype, loss, ("X_test", "y_test"))


def check_alpha(act, alpha):
    """The activation's parameter as a float: ``alpha``, or the activation's default."""
    if alpha is None:
        return act.alpha
    if not (isinstance(alpha, numbers.Real) and math.isfinite(alpha)):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")
    return float(alpha)


def check_settings(settings, values):
    """A TrainSettings from ``settings`` (or the defaults) and keyword ``values``."""
    if settings is not None and not isinstance(settings, TrainSettings):
        raise ValueError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    settings = TrainSettings.of(settings, **values)
    check_kernel_choices(settings)
    return settings


def check_kernel_choices(settings):
    """Every choice of ``settings`` has its own branch in the kernels (hyper.py), so a value
    the settings allow but no kernel runs stops here rather than running as another."""
    kernel_choices = {"optimizer": KERNEL_OPTIMIZERS, "schedule": KERNEL_SCHEDULES}
    for name, runs in kernel_choices.items():
        value = getattr(settings, name)
        if value not in runs:
            why = f"has no kernel branch (engine/hyper.py); the kernels run {', '.join(runs)}"
            raise ValueError(f"{name} {value!r} {why}")


def check_architecture(settings, sizes):
    """A residual net's layer sizes fit its blocks (residual.residual_blocks)."""
    if settings.architecture == "residual":
        residual_blocks(settings, sizes)
