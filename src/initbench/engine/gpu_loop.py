"""CUDA twin of ``loop.train_loop``: K networks of one architecture train in one kernel.

One thread block trains one network for all its steps: forward, loss, backward, the
optimizer's step (the per-element formulas of optimizers.py) and, at logged steps, the
same run and layer metrics as the CPU loop, all on the GPU; the host copies data and batch
orders in once and metric rows and weights out once.

Inside a block the tile x tile threads share every piece of work: matrix products go
through (tile, tile) tiles in shared memory (each thread owns one output element of a
tile), elementwise passes stride over the threads, and sums and maxima are tree
reductions in shared memory (float64). Per-network buffers (pre-activations, activations,
derivatives, back-propagated gradients: batch x units each) live in global memory, where
the L1/L2 caches hold them for the small widths of the study. Each activation's CUDA
device function is compiled from the same Python source as its CPU kernel.
"""

import math
import types
from functools import cache

import numpy as np
from numba import cuda, from_dtype
from numba.core.registry import CPUDispatcher

from . import vecmath
from .hyper import ADAMW, OPTIMIZER, WEIGHT_DECAY
from .loop import (
    BATCH_LOSS,
    COMPLETED,
    DIVERGED,
    GRAD_NORM,
    STEP,
    TEST_ACCURACY,
    TEST_LOSS,
    TRAIN_ACCURACY,
    TRAIN_LOSS,
    fill_layer_row,
    is_saturated,
)
from .losses import loss_sum
from .optimizers import (
    bias_corrections,
    decays_gradient,
    direction,
    new_state,
    scheduled_lr,
)

N_REDUCE = 9  # columns of the shared reduction buffer: the most sums one pass needs


@cuda.jit(device=True)
def _cuda_exp(x):
    return math.exp(x)


@cuda.jit(device=True)
def _cuda_expm1(x):
    return math.expm1(x)


# vecmath's exp/expm1 are CPU intrinsics; on the GPU libdevice's are as accurate.
_CUDA_VECMATH = types.ModuleType("initbench_cuda_vecmath")
_CUDA_VECMATH.exp, _CUDA_VECMATH.expm1 = _cuda_exp, _cuda_expm1


@cache
def device_function(fn):
    """A CUDA device function of a CPU-jitted (or plain) function, from its Python source.

    Globals it calls that are CPU-jitted get twins too, and ``vecmath`` becomes libdevice.
    """
    py = getattr(fn, "py_func", fn)
    swapped = {}
    for name in py.__code__.co_names:
        value = py.__globals__.get(name)
        if value is vecmath:
            swapped[name] = _CUDA_VECMATH
        elif isinstance(value, CPUDispatcher):
            swapped[name] = device_function(value)
    twin = types.FunctionType(py.__code__, {**py.__globals__, **swapped}, py.__name__,
                              py.__defaults__, py.__closure__)  # fmt: skip
    return cuda.jit(device=True)(twin)


# The CPU's definitions, compiled for the GPU from the same source: one definition each.
_loss_sum = device_function(loss_sum)
_is_saturated = device_function(is_saturated)
_fill_layer_row = device_function(fill_layer_row)
_scheduled_lr = device_function(scheduled_lr)
_bias_corrections = device_function(bias_corrections)
_decays_gradient = device_function(decays_gradient)
_new_state = device_function(new_state)
_direction = device_function(direction)


@cuda.jit(device=True)
def _reduce(red, res, ncols, take_max):
    """Reduce columns 0..ncols-1 of red (one row per thread) into res; all threads see res."""
    tid = cuda.threadIdx.x
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if tid < half:
            for c in range(ncols):
                if take_max:
                    red[tid, c] = max(red[tid, c], red[tid + half, c])
                else:
                    red[tid, c] += red[tid + half, c]
        cuda.syncthreads()
        half //= 2
    if tid == 0:
        for c in range(ncols):
            res[c] = red[0, c]
    cuda.syncthreads()


@cuda.jit(device=True)
def _matmul(C, c_off, M, N, K, A, a_off, a_si, a_sk, B, b_off, b_sk, b_sj, mode, E, e_off, zero,
            sA, sB):  # fmt: skip
    """C[c_off + i N + j] = sum_k A(i, k) B(k, j) over shared-memory tiles, for i < M, j < N.

    A(i, k) = A[a_off + i a_si + k a_sk], likewise B, so one routine serves X W^T, delta^T A
    and delta W. mode 1 adds E[e_off + j] (a bias); mode 2 multiplies by E[e_off + i N + j].
    Tiles hold sA[r, c] = A(i0 + r, k0 + c) and sB[r, c] = B(k0 + r, j0 + c); an operand
    contiguous along its other index is loaded transposed, so that neighbouring threads
    read neighbouring addresses (the tiles are padded by a column against bank conflicts).
    """
    tile = sA.shape[0]
    ty, tx = cuda.threadIdx.x // tile, cuda.threadIdx.x % tile
    a_t = a_si == 1 and a_sk != 1
    b_t = b_sk == 1 and b_sj != 1
    for i0 in range(0, M, tile):
        for j0 in range(0, N, tile):
            i, j = i0 + ty, j0 + tx
            acc = zero
            for k0 in range(0, K, tile):
                r, c = (tx, ty) if a_t else (ty, tx)
                ok = i0 + r < M and k0 + c < K
                sA[r, c] = A[a_off + (i0 + r) * a_si + (k0 + c) * a_sk] if ok else zero
                r, c = (tx, ty) if b_t else (ty, tx)
                ok = k0 + r < K and j0 + c < N
                sB[r, c] = B[b_off + (k0 + r) * b_sk + (j0 + c) * b_sj] if ok else zero
                cuda.syncthreads()
                for kk in range(tile):
                    acc += sA[ty, kk] * sB[kk, tx]
                cuda.syncthreads()
            if i < M and j < N:
                if mode == 1:
                    acc += E[e_off + j]
                elif mode == 2:
                    acc *= E[e_off + i * N + j]
                C[c_off + i * N + j] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def _gather(src, rows, first, n, into):
    """into[i, :] = src[rows[i], :] (or src[first + i, :] when rows is empty), for i < n."""
    width = src.shape[1]
    for e in range(cuda.threadIdx.x, n * width, cuda.blockDim.x):
        i = e // width
        into[e] = src[rows[i] if rows.size > 0 else first + i, e % width]


@cuda.jit(device=True)
def _loss(code, Z, out_off, Tb, n, k, G, with_delta, red, res):
    """(sum of the loss over n rows, correct predictions); dL/d(out) of the mean into G.

    Each thread takes every blockDim-th row through losses.loss_sum's device twin."""
    tid = cuda.threadIdx.x
    out = Z[out_off : out_off + n * k].reshape((n, k))
    delta = G[out_off : out_off + n * k].reshape((n, k))
    targets = Tb[: n * k].reshape((n, k))
    total, correct = _loss_sum(code, out, targets, delta, with_delta, tid, cuda.blockDim.x)
    red[tid, 0] = total
    red[tid, 1] = correct
    _reduce(red, res, 2, False)
    return res[0], res[1]


@cuda.jit(device=True)
def _backward(w, sizes, w_off, b_off, A, D, G, gw, gb, n, zero, sA, sB):
    """gw, gb and every layer's dL/dz in G, given the output layer's in G (see network)."""
    n_in = sizes[0]
    start = 0
    for layer in range(sizes.size - 1):
        start += sizes[layer + 1]
    for layer in range(sizes.size - 2, -1, -1):
        width, fan_in = sizes[layer + 1], sizes[layer]
        start -= width
        _matmul(gw, w_off[layer], width, fan_in, n, G, n * start, 1, width,
                A, n * (n_in + start - fan_in), fan_in, 1, 0, gb, 0, zero, sA, sB)  # fmt: skip
        for j in range(cuda.threadIdx.x, width, cuda.blockDim.x):
            s = zero
            for i in range(n):
                s += G[n * start + i * width + j]
            gb[b_off[layer] + j] = s
        if layer > 0:
            below = n * (start - fan_in)
            _matmul(G, below, n, fan_in, width, G, n * start, width, 1,
                    w, w_off[layer], fan_in, 1, 2, D, below, zero, sA, sB)  # fmt: skip
    cuda.syncthreads()


@cuda.jit(device=True)
def _update_state(grad, s1, s2, param, hyper, decay_in_gradient):
    """Fold grad into the optimizer's state over the block's share; returns its |grad|^2.

    With weight decay in the gradient, grad first gets weight_decay * param, as
    optimizers.add_weight_decay adds it on the CPU.
    """
    g_sq = 0.0
    for e in range(cuda.threadIdx.x, grad.size, cuda.blockDim.x):
        g = grad[e]
        if decay_in_gradient:
            g += hyper[WEIGHT_DECAY] * param[e]
            grad[e] = g
        s1[e], s2[e] = _new_state(hyper, g, s1[e], s2[e])
        g_sq += g * g
    return g_sq


@cuda.jit(device=True)
def _apply_update(param, grad, s1, s2, first, stop, lr, hyper, bc1, bc2):
    """param[first:stop] <- param - lr * direction, over the block's share (as the CPU's
    optimizers.apply_update)."""
    shrink = 1.0
    if hyper[OPTIMIZER] == ADAMW:
        shrink -= lr * hyper[WEIGHT_DECAY]
    for e in range(first + cuda.threadIdx.x, stop, cuda.blockDim.x):
        p = param[e] * shrink if shrink != 1.0 else param[e]
        param[e] = p - lr * _direction(hyper, grad[e], s1[e], s2[e], bc1, bc2)


@cuda.jit(device=True)
def _layer_statistics(layer, sizes, w_off, b_off, w, b, sw, sw2, gw, Z, A, G, n, lr, hyper, bc1,
                      bc2, lo, hi, into, red, res):  # fmt: skip
    """One layer's row of LAYER_METRICS: its sums, reduced over the block, into
    loop.fill_layer_row (as loop.layer_statistics adds them up on the CPU)."""
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    n_layers = sizes.size - 1
    hidden = layer < n_layers - 1
    width, fan_in = sizes[layer + 1], sizes[layer]
    start = 0
    for lay in range(layer):
        start += sizes[lay + 1]
    z0 = n * start
    out, o0 = (A, n * (sizes[0] + start)) if hidden else (Z, z0)
    for c in range(N_REDUCE):
        red[tid, c] = 0.0
    for e in range(tid, width * fan_in, nt):
        i = w_off[layer] + e
        g, x = gw[i], w[i]
        d = _direction(hyper, g, sw[i], sw2[i], bc1, bc2)
        red[tid, 0] += g * g
        red[tid, 5] += x * x
        red[tid, 6] += d * d
    for e in range(tid, n * width, nt):
        z, o, g = Z[z0 + e], out[o0 + e], G[z0 + e]
        red[tid, 1] += g * g
        red[tid, 2] += z
        red[tid, 3] += z * z
        red[tid, 4] += o
        red[tid, 7] += _is_saturated(o, lo, hi)
    for j in range(tid, width, nt):
        active = False
        for i in range(n):
            active = active or Z[z0 + i * width + j] > 0
        red[tid, 8] += not active
    _reduce(red, res, N_REDUCE, False)
    size = n * width
    g_w, g_z, z_sum, z_sq, o_sum = res[0], res[1], res[2], res[3], res[4]
    w_sq, d_sq, saturated, dead = res[5], res[6], res[7], res[8]
    mean = o_sum / size
    var = 0.0
    for e in range(tid, size, nt):
        var += (out[o0 + e] - mean) ** 2
    red[tid, 0] = var
    _reduce(red, res, 1, False)
    var = res[0]
    largest = 0.0
    for p in range(tid, width * width if hidden else 0, nt):
        i, j = p // width, p % width
        if i < j:
            d = (b[b_off[layer] + i] - b[b_off[layer] + j]) ** 2
            for c in range(fan_in):
                d += (w[w_off[layer] + i * fan_in + c] - w[w_off[layer] + j * fan_in + c]) ** 2
            largest = max(largest, d)
    red[tid, 0] = largest
    _reduce(red, res, 1, True)
    if tid == 0:
        _fill_layer_row(into, hidden, lo, hi, size, width, lr, math.sqrt(d_sq), g_w, g_z,
                        z_sum, z_sq, mean, var, w_sq, saturated, dead, res[0])  # fmt: skip
    cuda.syncthreads()


@cache
def train_kernel(scalar, dtype, tile, max_registers=None):
    """The training kernel for one activation (its jitted scalar), dtype and tile size.

    Compiled, it holds about 220 registers a thread (ptxas, sm_90): one block of 256
    threads a multiprocessor. ``max_registers`` caps them (128: two blocks, with spills).
    """
    phi = device_function(scalar)
    item = from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0)
    threads = tile * tile
    padded = tile + 1  # shared-memory shapes must be constants of the closure

    @cuda.jit(device=True)
    def forward(w, b, sizes, w_off, b_off, A, Z, D, n, alpha, sA, sB):
        """Z, A (after the input block) and D of every layer; returns the output's offset in Z."""
        n_in = sizes[0]
        start = 0
        for layer in range(sizes.size - 1):
            width, fan_in = sizes[layer + 1], sizes[layer]
            _matmul(Z, n * start, n, width, fan_in, A, n * (n_in + start - fan_in), fan_in, 1,
                    w, w_off[layer], 1, fan_in, 1, b, b_off[layer], zero, sA, sB)  # fmt: skip
            if layer < sizes.size - 2:
                for e in range(cuda.threadIdx.x, n * width, cuda.blockDim.x):
                    a, d = phi(Z[n * start + e], alpha)
                    A[n * (n_in + start) + e] = a
                    D[n * start + e] = d
                cuda.syncthreads()
            start += width
        return n * (start - sizes[sizes.size - 1])

    @cuda.jit(device=True)
    def evaluate(X, T, n_rows, rows, none, w, b, sizes, w_off, b_off, A, Z, D, G, Tb, alpha,
                 loss_code, red, res, sA, sB):  # fmt: skip
        """(mean loss, accuracy) over n_rows rows, forwarded ``rows`` at a time."""
        total = 0.0
        correct = 0.0
        for first in range(0, n_rows, rows):
            m = min(rows, n_rows - first)
            _gather(X, none, first, m, A)
            _gather(T, none, first, m, Tb)
            cuda.syncthreads()
            out = forward(w, b, sizes, w_off, b_off, A, Z, D, m, alpha, sA, sB)
            s, c = _loss(loss_code, Z, out, Tb, m, T.shape[1], G, False, red, res)
            total += s
            correct += c
        return total / n_rows, correct / n_rows

    @cuda.jit(**({} if max_registers is None else {"max_registers": max_registers}))
    def train(w, b, sw, sb, sw2, sb2, gw, gb, sizes, w_off, b_off, X, T, n_eval, X_test, T_test,
              n_test, batches, steps, hyper, lr_scale, alpha, lo, hi, log_steps, loss_code, Z, A,
              D, G, Tb, run_log, layer_log, status, diverged, n_logged):  # fmt: skip
        k, tid = cuda.blockIdx.x, cuda.threadIdx.x
        sA = cuda.shared.array((tile, padded), item)
        sB = cuda.shared.array((tile, padded), item)
        red = cuda.shared.array((threads, N_REDUCE), np.float64)
        res = cuda.shared.array(N_REDUCE, np.float64)
        wk, bk, gwk, gbk = w[k], b[k], gw[k], gb[k]
        swk, sbk, sw2k, sb2k = sw[k], sb[k], sw2[k], sb2[k]
        Zk, Ak, Dk, Gk, Tbk = Z[k], A[k], D[k], G[k], Tb[k]
        hyperk, scale = hyper[k], lr_scale[k]
        decay_in_gradient = _decays_gradient(hyperk)
        n_layers = sizes.size - 1
        rows = batches.shape[2]
        logged = 0
        for step in range(steps + 1):
            order = batches[k, step if batches.shape[1] > 1 else 0]
            _gather(X, order, 0, rows, Ak)
            _gather(T, order, 0, rows, Tbk)
            cuda.syncthreads()
            out = forward(wk, bk, sizes, w_off, b_off, Ak, Zk, Dk, rows, alpha, sA, sB)
            total, _ = _loss(loss_code, Zk, out, Tbk, rows, T.shape[1], Gk, True, red, res)
            batch_loss = total / rows
            _backward(wk, sizes, w_off, b_off, Ak, Dk, Gk, gwk, gbk, rows, zero, sA, sB)
            lr = _scheduled_lr(hyperk, step, steps)
            bc1, bc2 = _bias_corrections(hyperk, step)
            red[tid, 0] = _update_state(gwk, swk, sw2k, wk, hyperk, decay_in_gradient)
            red[tid, 0] += _update_state(gbk, sbk, sb2k, bk, hyperk, decay_in_gradient)
            _reduce(red, res, 1, False)
            grad_sq = res[0]
            finite = math.isfinite(batch_loss) and math.isfinite(grad_sq)
            if not finite or (logged < log_steps.size and log_steps[logged] == step):
                for layer in range(n_layers):
                    into = layer_log[k, logged, layer]
                    _layer_statistics(layer, sizes, w_off, b_off, wk, bk, swk, sw2k, gwk, Zk, Ak,
                                      Gk, rows, lr * scale[layer, 0], hyperk, bc1, bc2, lo, hi,
                                      into, red, res)  # fmt: skip
                train_loss = train_acc = test_loss = test_acc = math.nan
                if finite:  # the batch's buffers are free now: evaluation reuses them
                    train_loss, train_acc = evaluate(
                        X, T, n_eval, rows, order[:0], wk, bk, sizes, w_off, b_off, Ak, Zk, Dk,
                        Gk, Tbk, alpha, loss_code, red, res, sA, sB)  # fmt: skip
                    if n_test > 0:
                        test_loss, test_acc = evaluate(
                            X_test, T_test, n_test, rows, order[:0], wk, bk, sizes, w_off, b_off,
                            Ak, Zk, Dk, Gk, Tbk, alpha, loss_code, red, res, sA, sB)  # fmt: skip
                if tid == 0:
                    row = run_log[k, logged]
                    row[STEP], row[BATCH_LOSS] = step, batch_loss
                    row[GRAD_NORM] = math.sqrt(grad_sq)
                    row[TRAIN_LOSS], row[TRAIN_ACCURACY] = train_loss, train_acc
                    row[TEST_LOSS], row[TEST_ACCURACY] = test_loss, test_acc
                logged += 1
            if not finite:
                if tid == 0:
                    status[k], diverged[k], n_logged[k] = DIVERGED, step, logged
                return
            if step < steps:
                for layer in range(n_layers):
                    _apply_update(wk, gwk, swk, sw2k, w_off[layer], w_off[layer + 1],
                                  lr * scale[layer, 0], hyperk, bc1, bc2)  # fmt: skip
                    _apply_update(bk, gbk, sbk, sb2k, b_off[layer], b_off[layer + 1],
                                  lr * scale[layer, 1], hyperk, bc1, bc2)  # fmt: skip
                cuda.syncthreads()
        if tid == 0:
            status[k], diverged[k], n_logged[k] = COMPLETED, -1, logged

    return train
