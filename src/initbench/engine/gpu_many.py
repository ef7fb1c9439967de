"""Host side of the CUDA back end: copy K packed networks to the GPU, launch, copy back.

``many.train_many(..., device="cuda")`` calls ``gpu_train_many``, the twin of the CPU's
``training.train_checked``; the kernel itself is in ``gpu_loop``, the twin of ``loop``.
Importing this module imports numba.cuda, so the CPU path never does.
"""

import math

import numpy as np
from numba import cuda, from_dtype
from numba import types as nbtypes

from ..parametrizations import optimizer_scales
from .gpu_loop import train_kernel
from .losses import LOSSES
from .metrics import LAYER_METRICS, RUN_COLUMNS
from .network import layout, pack
from .residual import extras_by_name, initial_extras
from .training import log_schedule, result_from_logs


def kernel_signature(dtype):
    """The training kernel's argument types, as ``gpu_train_many`` launches it.

    For compiling ahead of a launch, e.g. ``cuda.compile_ptx`` on a machine without a GPU.
    """
    item, f64, i64, i32 = from_dtype(np.dtype(dtype)), nbtypes.float64, nbtypes.int64, nbtypes.int32

    def arr(kind, ndim):
        return nbtypes.Array(kind, ndim, "C")

    mat, i64s = arr(item, 2), arr(i64, 1)
    return (
        mat, mat, mat, mat, mat, mat, mat, mat,  # w, b, optimizer states sw sb sw2 sb2, gw, gb
        mat, mat, mat, mat,  # a residual net's extras, their gradient and optimizer states
        i64s, i64s, i64s,  # sizes, offsets
        mat, mat, i64, mat, mat, i64,  # X, T, n_eval, X_test, T_test, n_test
        arr(i32, 3), i64, arr(f64, 2), arr(f64, 4), arr(f64, 3),  # batches .. optimizer scales
        f64, f64, f64, i64s, i64,  # alpha, bounds, log_steps, loss
        mat, mat, mat, mat, mat,  # Z, A, D, G, Tb
        mat, mat, mat, mat, mat, mat,  # the residual stream: Hs, Ps, Xh, Rs, GH, Tw
        arr(f64, 3), arr(f64, 4), arr(i32, 1), i64s, arr(i32, 1),  # logs, status, step, rows
    )  # fmt: skip


def _memory_budget():
    """Bytes of GPU memory one launch may use: most of what is free (1 GiB on the simulator)."""
    free, _ = cuda.current_context().get_memory_info()
    return int(0.8 * free) if math.isfinite(free) else 1 << 30  # the simulator reports inf


def gpu_train_many(act, loss, nets, sizes, dtype, X, T, X_test, T_test, batches, settings,
                   alpha, tile=16, max_registers=None):  # fmt: skip
    """Train the networks ``nets`` on the GPU, as ``train_loop`` trains each; a TrainResult each.

    The arguments are ``train_many``'s, checked: ``batches[k]`` holds network k's training
    rows at every step (``batch_order``), ``settings[k]`` its TrainSettings (equal but for
    settings.PER_NETWORK). Networks that do not fit in GPU memory at once train in several
    launches.
    """
    shared = settings[0]
    layout_sizes, w_off, b_off = layout(sizes)
    w = np.stack([pack(W, dtype) for W, _ in nets])
    b = np.stack([pack(bias, dtype) for _, bias in nets])
    hyper = np.array([s.kernel_row() for s in settings])
    scales = [optimizer_scales(s, sizes) for s in settings]  # (layers, extras) a network
    scale = np.stack([layers for layers, _ in scales])
    # a residual net's extras, one row a network (padded to the longest; 1 for plain nets)
    extras = [initial_extras(s, sizes, dtype) for s in settings]
    extra = np.zeros((len(nets), max(1, *(e.size for e in extras))), dtype)
    for i, e in enumerate(extras):
        extra[i, : e.size] = e
    extra_scale = np.stack([extras for _, extras in scales])
    blocks = [(len(sizes) - 3) // s.block_size if s.architecture == "residual" else 0
              for s in settings]  # fmt: skip
    logged = log_schedule(shared.steps, shared.log_points)
    status, diverged_at, n_logged, run_log, layer_log = _launch(
        act, loss, w, b, extra, layout_sizes, X, T, min(shared.eval_rows, X.shape[0]), X_test,
        T_test, np.ascontiguousarray(np.stack(batches), dtype=np.int32), shared.steps, hyper,
        scale, extra_scale, max(blocks), alpha, act.bounds if act.bounds else (0.0, 0.0),
        logged, tile, max_registers,
    )  # fmt: skip
    return [
        result_from_logs(w[i], b[i], w_off, b_off, layout_sizes, status[i], diverged_at[i],
                         run_log[i, : n_logged[i]], layer_log[i, : n_logged[i]],
                         extras_by_name(extra[i, : extras[i].size], blocks[i], sizes[1]))
        for i in range(len(nets))
    ]  # fmt: skip


def _launch(act, loss, w, b, extra, sizes, X, T, n_eval, X_test, T_test, batches, steps, hyper,
            scale, extra_scale, blocks, alpha, bounds, log_steps, tile,
            max_registers):  # fmt: skip
    """Train K packed networks (rows of w, b and extra: trained in place); return their logs.

    ``blocks``: the most residual blocks of a network (0: all plain), which sizes the
    residual stream's buffers.

    ``batches[k, s]`` holds network k's training rows at step s (one row when full-batch);
    X[:n_eval] are the rows train loss and accuracy are logged on. Returns (status,
    diverged step or -1, rows logged, run_log, layer_log) for every network.
    """
    kernel = train_kernel(act.scalar, w.dtype.type, tile, max_registers)
    n_nets, rows = w.shape[0], batches.shape[2]
    n_layers, units = sizes.size - 1, int(sizes[1:].sum())
    _, w_off, b_off = layout(sizes)
    run_log = np.full((n_nets, log_steps.size + 1, len(RUN_COLUMNS)), np.nan)
    layer_log = np.full((n_nets, log_steps.size + 1, n_layers, len(LAYER_METRICS)), np.nan)
    status = np.empty(n_nets, np.int32)
    diverged = np.empty(n_nets, np.int64)
    n_logged = np.empty(n_nets, np.int32)
    scratch = 3 * rows * units + rows * (sizes[0] + units) + rows * sizes[-1]
    plane = rows * sizes[1] if blocks else 0  # a residual stream's rows x width
    stream = {"Hs": (blocks + 1) * plane, "Ps": (blocks + 1) * plane, "Xh": (blocks + 1) * plane,
              "Rs": (blocks + 1) * rows, "GH": plane, "Tw": plane}  # fmt: skip
    stream = {name: max(1, size) for name, size in stream.items()}  # no zero-size arrays
    scratch += sum(stream.values())
    per_net = (w.itemsize * (scratch + 4 * (w.shape[1] + b.shape[1] + extra.shape[1]))
               + batches[0].nbytes + 8 * (run_log[0].size + layer_log[0].size))  # fmt: skip
    chunk = max(1, min(n_nets, _memory_budget() // per_net))
    n_test = X_test.shape[0]
    if n_test == 0:  # a zero-size device array is not portable: send one unused row
        X_test, T_test = np.zeros((1, X.shape[1]), X.dtype), np.zeros((1, T.shape[1]), T.dtype)
    shared = [cuda.to_device(a) for a in (sizes, w_off, b_off, X, T, X_test, T_test, log_steps)]
    d_sizes, d_w_off, d_b_off, d_X, d_T, d_X_test, d_T_test, d_log = shared
    for first in range(0, n_nets, chunk):
        part = slice(first, min(n_nets, first + chunk))
        count = part.stop - part.start
        d_w, d_b = cuda.to_device(w[part]), cuda.to_device(b[part])
        states = [cuda.to_device(np.zeros_like(a[part])) for a in (w, b, w, b)]  # sw sb sw2 sb2
        d_extra = cuda.to_device(extra[part])
        extra_states = [cuda.to_device(np.zeros_like(extra[part])) for _ in range(3)]  # ge se se2
        buffers = [cuda.device_array((count, n), w.dtype) for n in stream.values()]
        d_gw, d_gb = cuda.device_array_like(w[part]), cuda.device_array_like(b[part])
        Z, D, G = (cuda.device_array((count, rows * units), w.dtype) for _ in range(3))
        A = cuda.device_array((count, rows * (sizes[0] + units)), w.dtype)
        Tb = cuda.device_array((count, rows * sizes[-1]), w.dtype)
        d_run, d_layer = cuda.to_device(run_log[part]), cuda.to_device(layer_log[part])
        d_status, d_div, d_logged = (cuda.device_array(count, a.dtype)
                                     for a in (status, diverged, n_logged))  # fmt: skip
        kernel[count, tile * tile](
            d_w, d_b, *states, d_gw, d_gb, d_extra, *extra_states, d_sizes, d_w_off, d_b_off, d_X,
            d_T, n_eval, d_X_test, d_T_test, n_test, cuda.to_device(batches[part]), steps,
            cuda.to_device(hyper[part]), cuda.to_device(scale[part]),
            cuda.to_device(extra_scale[part]), alpha, bounds[0],
            bounds[1], d_log, LOSSES[loss], Z, A, D, G, Tb, *buffers, d_run, d_layer, d_status,
            d_div, d_logged,
        )  # fmt: skip
        for host, dev in ((w, d_w), (b, d_b), (extra, d_extra), (run_log, d_run),
                          (layer_log, d_layer), (status, d_status), (diverged, d_div),
                          (n_logged, d_logged)):  # fmt: skip
            host[part] = dev.copy_to_host()
    return status, diverged, n_logged, run_log, layer_log
