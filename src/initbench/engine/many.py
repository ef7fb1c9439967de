"""Train many networks of one architecture at once: ``train_many`` on the CPU or a CUDA GPU.

The study is thousands of small networks. On the CPU the K networks train side by side in
threads, each through the same compiled loop as ``train`` (the kernels release the GIL), so
every network's numbers equal what ``train`` gives for it alone. On a GPU one CUDA kernel
trains all of them, one thread block per network (see ``gpu_loop``); its numbers agree with
the CPU's to floating-point rounding.
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .network import layout, pack
from .training import (
    _check_data,
    _check_network,
    _positive,
    batch_order,
    log_schedule,
    result_from_logs,
    train,
)

DEVICES = ("cpu", "cuda")
# CUDA threads per block are tile**2; a power of two for the tree reductions, and at most
# 256 threads for the kernel's registers (about 220 a thread) and shared memory.
TILES = (2, 4, 8, 16)


def cuda_unavailable_reason():
    """None when a CUDA GPU can train (or Numba's simulator is on), else one line saying why not.

    The pipeline calls this before any job when a study asks for ``device: cuda``.
    """
    try:
        from numba import cuda
    except ImportError as error:
        return f"numba.cuda cannot be imported ({error}); install initbench[cuda]"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        if not cuda.is_available():
            cuda.current_context()  # raises with the driver's own reason
            return "numba.cuda reports no usable CUDA GPU"
        cc = cuda.get_current_device().compute_capability
    except Exception as error:  # CudaSupportError and driver errors, whose types vary by version
        return "no usable CUDA GPU: " + " ".join(str(error).split())
    if cc < (5, 0):
        return f"the CUDA GPU's compute capability {cc} is below 5.0, the least numba-cuda supports"
    return None


def _per_network(name, value, k):
    """One value per network from a scalar or a length-k sequence."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = value.tolist() if isinstance(value, np.ndarray) else list(value)
        if len(values) != k:
            raise ValueError(f"{name} has {len(values)} values for {k} networks")
        return values
    return [value] * k


def _check_nets(nets, activation, loss):
    if not isinstance(nets, (list, tuple)) or not nets:
        raise ValueError("nets must be a non-empty list of (W, b) pairs")
    first = None
    for i, net in enumerate(nets):
        if not isinstance(net, (list, tuple)) or len(net) != 2:
            raise ValueError(f"nets[{i}] must be a (W, b) pair")
        try:
            sizes, dtype, act = _check_network(net[0], net[1], activation, loss)
        except ValueError as error:
            raise ValueError(f"nets[{i}]: {error}") from None
        if first is None:
            first = sizes, dtype, act
        elif (sizes, dtype) != first[:2]:
            raise ValueError(
                f"nets[{i}] has layer sizes {sizes} and dtype {np.dtype(dtype)} but nets[0] has "
                f"{first[0]} and {np.dtype(first[1])}: train_many needs one architecture"
            )
    return first


def _check_hyper(lr, momentum, seeds, k):
    lrs = _per_network("lr", lr, k)
    momenta = _per_network("momentum", momentum, k)
    seed_list = _per_network("seeds", seeds, k)
    for i in range(k):
        _positive(f"lr[{i}]" if k > 1 else "lr", lrs[i])
        m = momenta[i]
        if not (isinstance(m, (int, float)) and not isinstance(m, bool) and 0 <= m < 1):
            raise ValueError(f"momentum[{i}] must be in [0, 1), got {m!r}")
        s = seed_list[i]
        if not (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0):
            raise ValueError(f"seeds[{i}] must be a non-negative integer, got {s!r}")
    return [float(v) for v in lrs], [float(v) for v in momenta], [int(s) for s in seed_list]


def train_many(
    nets, X, y, *, activation, loss, lr, batch_size, steps, seeds, momentum=0.0, X_test=None,
    y_test=None, alpha=None, log_points=40, eval_rows=2048, device="cpu", threads=None, tile=16,
    max_registers=None,
):  # fmt: skip
    """Train copies of the networks ``nets = [(W, b), ...]`` (one architecture); a result each.

    ``lr``, ``momentum`` and ``seeds`` take one value for all networks or one per network;
    network i's batch order comes from ``seeds[i]`` exactly as in ``train``. On
    ``device="cpu"`` network i's result equals ``train(*nets[i], ..., seed=seeds[i])``
    bit for bit; ``threads`` (default: Numba's thread count) networks train at once. On
    ``device="cuda"`` all K train in one kernel on the GPU, a block of ``tile**2`` threads
    each (``max_registers`` caps its registers a thread: a tuning knob), and agree with the
    CPU to rounding.
    Every argument is checked before anything compiles or runs.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    sizes, dtype, act = _check_nets(nets, activation, loss)
    lrs, momenta, seed_list = _check_hyper(lr, momentum, seeds, len(nets))
    for name, value in (("batch_size", batch_size), ("steps", steps),
                        ("log_points", log_points), ("eval_rows", eval_rows)):  # fmt: skip
        _positive(name, value, int)
    if threads is not None:
        _positive("threads", threads, int)
    if tile not in TILES:
        raise ValueError(f"tile must be one of {', '.join(map(str, TILES))}, got {tile!r}")
    if max_registers is not None:
        _positive("max_registers", max_registers, int)
    if alpha is not None and not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    X, T = _check_data(X, y, sizes, dtype, loss)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test, T_test = _check_data(X_test, y_test, sizes, dtype, loss, ("X_test", "y_test"))
    if device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"device='cuda': {reason}")
        return _train_cuda(nets, X, T, X_test, T_test if X_test is not None else None, sizes,
                           dtype, act, loss, lrs, momenta, seed_list, batch_size, steps, alpha,
                           log_points, eval_rows, (tile, max_registers))  # fmt: skip

    def one(i):
        W, b = nets[i]
        return train(W, b, X, y, activation=activation, loss=loss, lr=lrs[i],
                     batch_size=batch_size, steps=steps, seed=seed_list[i], X_test=X_test,
                     y_test=y_test, momentum=momenta[i], alpha=alpha, log_points=log_points,
                     eval_rows=eval_rows)  # fmt: skip

    from threadpoolctl import threadpool_limits

    workers = min(threads or numba.get_num_threads(), len(nets))
    with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(nets))))


def _train_cuda(nets, X, T, X_test, T_test, sizes, dtype, act, loss, lrs, momenta, seeds,
                batch_size, steps, alpha, log_points, eval_rows, launch):  # fmt: skip
    from .gpu_many import gpu_train_many

    rows = min(batch_size, X.shape[0])
    orders = [batch_order(seed, X.shape[0], rows, steps) for seed in seeds]
    if rows < X.shape[0]:
        per_epoch = X.shape[0] // rows
        step_index = np.arange(steps + 1)
        epoch, position = np.divmod(step_index, per_epoch)
        cols = position[:, None] * rows + np.arange(rows)
        batches = np.stack([order[epoch[:, None], cols] for order in orders])
    else:  # full batch: every step uses all rows in order
        batches = np.broadcast_to(np.arange(rows), (len(nets), 1, rows))
    logged = log_schedule(steps, log_points)
    layout_sizes, w_off, b_off = layout(sizes)
    w = np.stack([pack(W, dtype) for W, _ in nets])
    b = np.stack([pack(bias, dtype) for _, bias in nets])
    if X_test is None:
        X_test, T_test = np.empty((0, sizes[0]), dtype), np.empty((0, T.shape[1]), dtype)
    bounds = act.bounds if act.bounds else (0.0, 0.0)
    status, diverged_at, n_logged, run_log, layer_log = gpu_train_many(
        act, loss, w, b, layout_sizes, X, T, min(eval_rows, X.shape[0]), X_test, T_test,
        np.ascontiguousarray(batches, dtype=np.int32), steps, np.array(lrs), np.array(momenta),
        act.alpha if alpha is None else float(alpha), bounds, logged, *launch,
    )  # fmt: skip
    return [
        result_from_logs(w[i], b[i], w_off, b_off, layout_sizes, status[i], diverged_at[i],
                         run_log[i, : n_logged[i]], layer_log[i, : n_logged[i]])
        for i in range(len(nets))
    ]  # fmt: skip
