"""The training loop's cold compile, in two parts that compile side by side in two processes.

Numba compiles a function's callees before the function, one at a time in a process,
each into its own library in the on-disk cache. The loop calls its largest kernels by
address (``loop_kernels``), so its own compile needs only their declared signatures
(``by_address_signatures``), not their code: the two parts split the work there.

- ``passes``: the forward passes (plain and residual), the loss, the plain backward pass,
  and the per-layer and probe metrics: kernels the loop calls by address, which call
  nothing of each other or of the loop;
- ``loop``: the loop itself (``loop_signature``), after the helpers it links (the
  optimizer's kernels; ``work_buffers``, whose numpy array constructors are each a
  compile of their own; ``network_forward`` and ``evaluate``, which take the passes as
  function types), then the residual backward pass and the block metrics, by address:
  there the two parts' CPU comes out even for a residual net's loop, a plain net's, and
  both, and a residual net after a plain one compiles its two passes side by side.

A warm-up then loads the loop and every kernel from the cache. Where the loop compiled
after parts that held the passes alone (3.5-5 s more, in one process), it is now ready
1-5 s sooner (float64 and float32, 2 cores; docs/performance-log.md). ``KernelCache`` makes
the concurrent writes safe.

Calling by address keeps the loop's compile small: Numba links a callee's code into its
caller's module, where LLVM optimises and emits it again, so calling the passes directly
made the loop's own compile re-optimise 35k lines of IR, of which its own are 4k
(float64: the loop 9.3-10.9 s of CPU, 6.1-7.0 s by address, its steps unchanged and
bitwise equal; docs/performance-log.md). For the same reason the passes part holds both
forward passes rather than a kernel that calls them: ``loop.network_forward``, which
picks one at run time, and ``loop.evaluate`` each linked both and compiled them again.
The small kernels the loop calls once per layer (the optimizer's state and update) stay
linked, so LLVM inlines them; its own code is lowered at -O1 (jit.OrchestrationCompiler).

A plain net never calls the residual kernels (the passes and the block metrics: a third
of the parts' CPU, 4.8 of 13.7 s in float64), so ``train`` hands a plain net's loop
stand-ins in their place (``RESIDUAL_KERNELS``: same signatures, a few lines each), and a
first ``train`` of a plain net compiles no residual kernel. The loop's code and its cache
entry are the same either way: it is typed on the kernels' signatures, not on which
kernels they are. The pipeline's parts compile both.

Outside the pipeline, a first ``train`` in a cold cache does the same in two processes of
its own (``compile_parts_side_by_side``): the passes in a fresh interpreter, the loop part
in the caller's, each for its kind of net only.

Each part compiles its kernels for the signatures the loop calls them with: every array
C-contiguous, the network's buffers in the run's dtype, the settings (``hyper``) and the
metric rows in float64, a built-in activation as its int64 code (a plugin activation's
loop compiles in one piece: rules/common.smk). A part compiled for any other signature
would still be correct, only useless: tests/test_jit.py checks that a first ``train``
adds no signature to a part's kernels, nor to the loop.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from numba import typeof, types

from ..processes import in_own_process, usable_cpus
from . import loop, losses, metrics, network, optimizers, residual
from .jit import kernel

# side by side only where the cache's writes lock between processes (POSIX flock)
ALL_PARTS = ("passes", "loop")
PARTS = ALL_PARTS if os.name == "posix" else ()


@kernel
def no_residual_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, Hs, Ps, Xh, Rs,
                        alpha, block_size, use_norm, final_norm, keep_layers):  # fmt: skip
    """``residual_forward``'s stand-in in a loop for plain nets: an output of NaN, so a
    residual net that reached it would diverge at its first step instead of training."""
    out = Z[: X.shape[0] * sizes[-1]].reshape((X.shape[0], sizes[-1]))
    out[:] = np.nan
    return out


@kernel
def no_residual_backward(w, extra, sizes, w_off, b_off, X, Z, A, D, G, Xh, Rs, block_size,
                         use_norm, final_norm, gw, gb, gextra, stream, scratch):  # fmt: skip
    """``residual_backward``'s stand-in in a loop for plain nets: NaN gradients."""
    gw[:] = np.nan
    gb[:] = np.nan


@kernel
def no_block_statistics(extra, Z, Hs, rows, width, blocks, block, last, use_norm, into):
    """``metrics.block_statistics``' stand-in in a loop for plain nets: NaN metrics."""
    into[:] = np.nan


# {name in loop.BY_ADDRESS: (the kernel, its stand-in in a loop for plain nets, its part)}
RESIDUAL_KERNELS = {
    "residual_forward": (residual.residual_forward, no_residual_forward, "passes"),
    "residual_backward": (residual.residual_backward, no_residual_backward, "loop"),
    "block_statistics": (metrics.block_statistics, no_block_statistics, "loop"),
}


def part_signatures(part, dtype, act=types.int64, residual=None):
    """[(kernel, argument types)] that ``part`` compiles for a loop of ``dtype``; ``act``
    is the activation's type (the built-ins' int64 code, a jit.PluginActivation). With
    ``residual`` True or False, only what a residual or a plain net's loop calls (the
    residual kernels, or their stand-ins); None, both (the pipeline's parts)."""
    F, F2, N, R, i, f, b = _types(dtype)
    by_address = by_address_signatures(dtype, act)
    kernel_type = {name: types.FunctionType(sig) for name, sig in by_address.items()}
    passes = kernel_type["forward"], kernel_type["residual_forward"]
    net = (F, F, F, N, N, N)  # w, b, extra, sizes, w_off, b_off
    stream = types.UniTuple(F, 4)
    residual_kernels = [
        (kernel, by_address[name].args)
        for name, (real, stand_in, home) in RESIDUAL_KERNELS.items() if home == part
        for kernel in {None: (real, stand_in), True: (real,), False: (stand_in,)}[residual]
    ]  # fmt: skip
    if part == "passes":
        return [
            *((kernel, by_address[kernel.py_func.__name__].args)
              for kernel in (network.forward, losses.loss_and_delta, network.backward,
                             metrics.layer_statistics, metrics.probe_statistics)),
            *residual_kernels,
        ]  # fmt: skip
    if part == "loop":
        return [
            # what the loop links, which its compile would otherwise compile first
            (loop.work_buffers, (F, F, F, N, R, i, i, i, i, i)),
            (loop.layer_slices, (N, N, i)),
            (metrics.phi_input, (F, F2, i, b, i, i)),
            (loop.network_forward, (*passes, act, *net, F2, F, F, F, stream, f, R, b)),
            (loop.evaluate,
             (*passes, kernel_type["loss_and_delta"], act, i, *net, F2, F2, F, F, F, stream, f, R)),
            (loop.stream_buffers, (F, R, N, i, b)),
            (optimizers.update_state, (F, F, F, R, f, f, f)),
            (optimizers.apply_update, (F, F, F, F, f, f, f, R, f, f)),
            (optimizers.scheduled_lr, (R, i, i)),
            (optimizers.bias_corrections, (R, i)),
            (optimizers.decays_gradient, (R,)),
            (optimizers.add_weight_decay, (F, F, f)),
            (loop.train_loop, loop_signature(dtype, act)),
            # by address, here to even out the parts' CPU
            *residual_kernels,
        ]  # fmt: skip
    raise ValueError(f"unknown compile part {part!r}: expected passes or loop")


def loop_signature(dtype, act=types.int64):
    """The argument types of ``loop.train_loop`` for a loop of ``dtype`` (what
    ``training.train_checked`` calls it with), its kernels as their function types."""
    F, F2, N, R, i, f, _ = _types(dtype)
    rows = typeof(np.empty((0, 0), np.int64))  # batches
    R2, R3 = typeof(np.empty((0, 0))), typeof(np.empty((0, 0, 0)))
    data = (F2,) * 7  # X, T, their evaluated rows, the test rows, the probe rows
    return (act, i, F, F, F, N, N, N, *data, rows, i, R, R3, R2, f, R, N, R2, R3,
            kernels_type(by_address_signatures(dtype, act)))  # fmt: skip


def kernels_type(by_address):
    """The Numba type of the loop's ``kernels`` argument: their function types, in
    ``loop.BY_ADDRESS``'s order."""
    return types.Tuple([types.FunctionType(by_address[name]) for name in loop.BY_ADDRESS])


def by_address_signatures(dtype, act=types.int64):
    """{name: signature} of the kernels that ``loop.train_loop`` calls by address, for a
    loop of ``dtype``: their return types declared, so that a part can compile the loop's
    helpers that take them as function types without compiling them first."""
    F, F2, N, R, i, f, b = _types(dtype)
    B = typeof(np.empty(0, np.bool_))  # flags
    none = types.none
    return {
        "forward": F2(act, F, F, N, N, N, F2, F, F, F, f, b),
        "residual_forward":
            F2(act, F, F, F, N, N, N, F2, F, F, F, F, F, F, F, f, i, b, b, b),
        "loss_and_delta": types.Tuple((f, i))(i, F2, F2, F2, b),
        "residual_backward":
            none(F, F, N, N, N, F2, F, F, F, F, F, F, i, b, b, F, F, F, F, F),
        "backward": none(F, N, N, N, F2, F, F, F, F, F),
        "layer_statistics": none(F2, F2, F2, F2, F, F2, F, f, f, b, f, f, R),
        "block_statistics": none(F, F, F, i, i, i, i, i, b, R),
        "probe_statistics": none(F2, F2, b, f, f, b, B, B, R),
    }  # fmt: skip


def _types(dtype):
    """The Numba types of a loop of ``dtype``'s arguments: the network's buffers (F, F2),
    its sizes and offsets (N), the settings row and metric rows (R, float64), and the
    scalars (int64, float64, bool)."""
    F, F2 = typeof(np.empty(0, dtype)), typeof(np.empty((0, 0), dtype))
    N, R = typeof(np.empty(0, np.int64)), typeof(np.empty(0))
    return F, F2, N, R, types.int64, types.float64, types.boolean


@cache
def loop_kernels(act, dtype, residual=True):
    """(the kernels that ``loop.train_loop`` calls by address, in ``loop.BY_ADDRESS``'s
    order; their Numba type, a tuple of function types): each compiled, or loaded from the
    cache, for the signature a loop of ``dtype`` calls it with, for activation type
    ``act``; without ``residual`` (a plain net's loop), the residual kernels' stand-ins. A
    kernel whose compiled return type is not the declared one is an error here, where it
    would otherwise make the loop's compile type its helpers again."""
    if act == types.int64:
        compile_parts_side_by_side(dtype, residual)
    dispatchers = {
        dispatcher.py_func.__name__: dispatcher
        for part in ALL_PARTS
        for dispatcher, _ in part_signatures(part, np.dtype(dtype), act)
    }
    declared = by_address_signatures(np.dtype(dtype), act)
    kernels = []
    for name in loop.BY_ADDRESS:
        dispatcher, signature = dispatchers[name], declared[name]
        if name in RESIDUAL_KERNELS and not residual:
            dispatcher = RESIDUAL_KERNELS[name][1]
        dispatcher.compile(signature.args)
        compiled = dispatcher.overloads[signature.args].signature.return_type
        if compiled != signature.return_type:
            raise TypeError(f"{name} returns {compiled}, declared {signature.return_type}")
        kernels.append(dispatcher)
    return tuple(kernels), kernels_type(declared)


def is_cached(part, dtype, residual=None):
    """Whether Numba's cache holds every kernel of ``part`` for ``dtype`` (for a residual
    or a plain net's loop, or both: ``part_signatures``), an index entry under the key it
    would load, so that compiling the part would only load it."""
    return not uncached(part, dtype, residual)


def uncached(part, dtype, residual=None):
    """The kernels of ``part`` for ``dtype`` without an entry in Numba's cache."""
    missing = []
    for dispatcher, signature in part_signatures(part, np.dtype(dtype), residual=residual):
        cache = dispatcher._cache
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
        if key not in cache._cache_file._load_index():
            missing.append(dispatcher)
    return missing


def compile_part(part, dtype, residual=None):
    """Compile (or load from the cache) the kernels of ``part`` for a loop of ``dtype``
    (for a residual or a plain net's loop, or both: ``part_signatures``)."""
    for dispatcher, signature in part_signatures(part, np.dtype(dtype), residual=residual):
        dispatcher.compile(signature)


def compile_parts_side_by_side(dtype, residual):
    """A first ``train`` in a cold cache: the passes compile in a fresh process of their
    own while this one compiles the loop part, each for a residual or a plain net's loop
    only, as the pipeline's parts do in two jobs. Only where both parts miss kernels, the
    passes more than stand-ins (which compile here faster than a process starts), and
    this process may run on two CPUs; one thread at a time (``train_many``'s first
    calls: the next finds the cache filled). The other process's failure is none of
    this one's: the loop's compile then compiles what is missing, and raises what there
    is to raise."""
    if PARTS != ALL_PARTS or usable_cpus() < 2:
        return
    with _SIDE_BY_SIDE:
        if not uncached("loop", dtype, residual) or all(
            kernel in _STAND_INS for kernel in uncached("passes", dtype, residual)
        ):
            return
        with ThreadPoolExecutor(1) as beside:
            beside.submit(in_own_process, compile_part, "passes",
                          np.dtype(dtype).name, residual, fresh=True)  # fmt: skip
            compile_part("loop", dtype, residual)


_SIDE_BY_SIDE = threading.Lock()
_STAND_INS = {stand_in for _, stand_in, _ in RESIDUAL_KERNELS.values()}
