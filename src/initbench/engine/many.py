"""Train many networks of one architecture at once: ``train_many`` on the CPU or a CUDA GPU.

The study is thousands of small networks. On the CPU the K networks train side by side in
threads, each through the same compiled loop as ``train`` (the kernels release the GIL), so
every network's numbers equal what ``train`` gives for it alone. On a GPU one CUDA kernel
trains all of them, one thread block per network (``gpu_many`` launches ``gpu_loop``'s
kernel); its numbers agree with the CPU's to floating-point rounding.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..settings import PER_NETWORK, check_setting, positive
from .checks import (
    check_alpha,
    check_architecture,
    check_data,
    check_network,
    check_settings,
    check_test,
)
from .device import DEVICES, cuda_unavailable_reason
from .jit import limit_blas
from .residual import initial_extras
from .training import batch_order, train_checked

# CUDA threads per block are tile**2; a power of two for the tree reductions, and at most
# 256 threads for the kernel's registers (about 220 a thread) and shared memory.
TILES = (2, 4, 8, 16)


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
            sizes, dtype, act = check_network(net[0], net[1], activation, loss)
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


def _check_settings(settings, training, k):
    """One TrainSettings per network: PER_NETWORK settings may differ, the rest may not."""
    for name in training:
        if name not in PER_NETWORK and isinstance(training[name], (list, tuple, np.ndarray)):
            raise ValueError(f"{name} takes one value for all networks in one train_many call")
    lists = {name: _per_network(name, value, k) for name, value in training.items()}
    for name, values in lists.items():
        if name in PER_NETWORK:
            for i, value in enumerate(values):
                check_setting(name, value, f"{name}[{i}]" if k > 1 else name)
    return [check_settings(settings, {n: v[i] for n, v in lists.items()}) for i in range(k)]


def _check_seeds(seeds, k):
    seed_list = _per_network("seeds", seeds, k)
    for i, s in enumerate(seed_list):
        if not (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0):
            raise ValueError(f"seeds[{i}] must be a non-negative integer, got {s!r}")
    return [int(s) for s in seed_list]


def train_many(
    nets, X, y, *, activation, loss, seeds, X_test=None, y_test=None, alpha=None, device="cpu",
    threads=None, tile=16, max_registers=None, settings=None, **training,
):  # fmt: skip
    """Train copies of the networks ``nets = [(W, b), ...]`` (one architecture); a result each.

    The training settings come as in ``train`` (``settings`` and/or keywords); those in
    settings.PER_NETWORK (``lr``, ``optimizer``, ``parametrization``, ...) and ``seeds`` take one
    value for all networks or one per network. Network i's batch order comes from
    ``seeds[i]`` exactly as in ``train``. On ``device="cpu"`` network i's result equals
    ``train(*nets[i], ..., seed=seeds[i])`` bit for bit; ``threads`` (default: Numba's
    thread count) networks train at once. On ``device="cuda"`` all K train in one kernel on
    the GPU, a block of ``tile**2`` threads each (``max_registers`` caps its registers a
    thread: a tuning knob), and agree with the CPU to rounding.
    Every argument is checked before anything compiles or runs.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    sizes, dtype, act = _check_nets(nets, activation, loss)
    per_net = _check_settings(settings, training, len(nets))
    for net_settings in per_net:
        check_architecture(net_settings, sizes)
    seed_list = _check_seeds(seeds, len(nets))
    if threads is not None:
        positive("threads", threads, int)
    if tile not in TILES:
        raise ValueError(f"tile must be one of {', '.join(map(str, TILES))}, got {tile!r}")
    if max_registers is not None:
        positive("max_registers", max_registers, int)
    alpha = check_alpha(act, alpha)
    X, T = check_data(X, y, sizes, dtype, loss)
    stops = any(s.stop_at_test_accuracy > 0 for s in per_net)
    X_test, T_test = check_test(X_test, y_test, sizes, dtype, loss, T.shape[1], stops)
    shared = per_net[0]
    rows = min(shared.batch_size, X.shape[0])
    batches = [batch_order(seed, X.shape[0], rows, shared.steps) for seed in seed_list]
    if device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"device='cuda': {reason}")
        from .gpu_many import gpu_train_many

        return gpu_train_many(act, loss, nets, sizes, dtype, X, T, X_test, T_test, batches,
                              per_net, alpha, tile, max_registers)  # fmt: skip
    no_probe = np.empty((0, sizes[0]), dtype)

    def one(i):
        W, b = nets[i]
        return train_checked(W, b, sizes, dtype, act, loss, X, T, X_test, T_test, no_probe,
                             batches[i], per_net[i], alpha,
                             initial_extras(per_net[i], sizes, dtype))  # fmt: skip

    workers = min(threads or numba.get_num_threads(), len(nets))
    with limit_blas(1), ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(nets))))
