"""The training loop's cold compile, in parts that compile side by side in two processes.

Numba compiles a function's callees before the function, one at a time in a process,
each into its own library in the on-disk cache. The loop's two largest subtrees (the
forward passes, plain and residual, with the loss; and the backward passes with the
per-layer metrics) do not call each other, so two processes can compile them at once
into the shared cache; the loop's own compile then loads them from there (float64, cold,
quiet, CPU: forward 7.9-8.2 s and backward 7.6-8.3 s side by side, then the loop 6.5-7.8 s,
where one process took 23 s; docs/performance.md). The forward part also compiles the
optimizer's kernels, and the backward part the loop's small helpers, which the loop's own
compile would otherwise do first (about 1 s less there); the optimizer's kernels are in
the forward part to even out the two parts' CPU.
``KernelCache`` makes the concurrent writes safe.

The loop calls the largest of these kernels by address (``loop_kernels``): Numba links a
callee's code into its caller's module, where LLVM optimises and emits it again, so
calling them directly made the loop's own compile re-optimise 35k lines of IR, of which
its own are 4k (float64: the loop 9.3-10.9 s of CPU, 6.1-7.0 s by address, its steps
unchanged and bitwise equal; docs/performance.md). For the same reason the part holds
both forward passes rather than a kernel that calls them: ``loop.network_forward``, which
picks one at run time, and ``loop.evaluate`` each linked both and compiled them again
(3 s of the part's 12-15 s). The small kernels the loop calls once per layer (the
optimizer's state and update) stay linked, so LLVM inlines them.

Each part compiles its kernels for the signatures the loop calls them with: every array
C-contiguous, the network's buffers in the run's dtype, the settings (``hyper``) and the
metric rows in float64, a built-in activation as its int64 code (a plugin activation's
loop compiles in one piece: rules/common.smk). A part compiled for any
other signature would still be correct, only useless: tests/test_jit.py checks that the
loop adds no signature to a part's kernels.
"""

import os
from functools import cache

import numpy as np
from numba import typeof, types

from . import loop, losses, metrics, network, optimizers, residual

# side by side only where the cache's writes lock between processes (POSIX flock)
ALL_PARTS = ("forward", "backward")
PARTS = ALL_PARTS if os.name == "posix" else ()


def part_signatures(part, dtype, act=types.int64):
    """[(kernel, argument types)] that ``part`` compiles for a loop of ``dtype``; ``act``
    is the activation's type (the built-ins' int64 code, a jit.PluginActivation)."""
    F, F2 = typeof(np.empty(0, dtype)), typeof(np.empty((0, 0), dtype))  # network buffers
    R = typeof(np.empty(0))  # the settings row and metric rows: float64
    N, B = typeof(np.empty(0, np.int64)), typeof(np.empty(0, np.bool_))  # sizes, offsets; flags
    i, f, b = types.int64, types.float64, types.boolean
    if part == "forward":
        return [
            (network.forward, (act, F, F, N, N, N, F2, F, F, F, f, b)),
            (residual.residual_forward,
             (act, F, F, F, N, N, N, F2, F, F, F, F, F, F, F, f, i, b, b, b)),
            (losses.loss_and_delta, (i, F2, F2, F2, b)),
            # the optimizer's kernels, which the loop links: here to even out the parts
            (optimizers.update_state, (F, F, F, R, f, f, f)),
            (optimizers.apply_update, (F, F, F, F, f, f, f, R, f, f)),
            (optimizers.scheduled_lr, (R, i, i)),
            (optimizers.bias_corrections, (R, i)),
            (optimizers.decays_gradient, (R,)),
            (optimizers.add_weight_decay, (F, F, f)),
        ]  # fmt: skip
    if part == "backward":
        return [
            (residual.residual_backward,
             (F, F, N, N, N, F2, F, F, F, F, F, F, i, b, b, F, F, F, F, F)),
            (network.backward, (F, N, N, N, F2, F, F, F, F, F)),
            (metrics.layer_statistics, (F2, F2, F2, F2, F, F2, F, f, f, b, f, f, R)),
            (metrics.probe_statistics, (F2, F2, b, f, f, b, B, B, R)),
            (metrics.block_statistics, (F, F, F, i, i, i, i, i, b, R)),
            # the loop's small helpers, which its own compile would otherwise do first
            (loop.stream_buffers, (F, R, N, i, b)),
            (loop.layer_slices, (N, N, i)),
            (metrics.phi_input, (F, F2, i, b, i, i)),
        ]  # fmt: skip
    raise ValueError(f"unknown compile part {part!r}: expected forward or backward")


@cache
def loop_kernels(act, dtype):
    """(the kernels that ``loop.train_loop`` calls by address, in ``loop.BY_ADDRESS``'s
    order; their Numba type, a tuple of function types): each compiled, or loaded from the
    cache, for the signature a loop of ``dtype`` calls it with, for activation type
    ``act``."""
    signatures = {
        dispatcher.py_func.__name__: (dispatcher, argtypes)
        for part in ALL_PARTS
        for dispatcher, argtypes in part_signatures(part, np.dtype(dtype), act)
    }
    kernels, kernel_types = [], []
    for name in loop.BY_ADDRESS:
        dispatcher, argtypes = signatures[name]
        dispatcher.compile(argtypes)
        kernels.append(dispatcher)
        kernel_types.append(types.FunctionType(dispatcher.overloads[argtypes].signature))
    return tuple(kernels), types.Tuple(kernel_types)


def is_cached(part, dtype):
    """Whether Numba's cache holds every kernel of ``part`` for ``dtype`` (an index entry
    under the key it would load), so that compiling the part would only load it."""
    for dispatcher, signature in part_signatures(part, np.dtype(dtype)):
        cache = dispatcher._cache
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
        if key not in cache._cache_file._load_index():
            return False
    return True


def compile_part(part, dtype):
    """Compile (or load from the cache) the kernels of ``part`` for a loop of ``dtype``."""
    for dispatcher, signature in part_signatures(part, np.dtype(dtype)):
        dispatcher.compile(signature)
