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
from functools import cache

import numpy as np
from numba import cuda, from_dtype

from .gpu_blocks import (
    block_gather,
    block_matmul,
    block_reduce,
    dense_backward,
    device_function,
)
from .gpu_residual import backward as residual_backward
from .gpu_residual import block_statistics, forward_kernel
from .hyper import (
    ADAMW,
    ARCHITECTURE,
    BIASES,
    BLOCK_SIZE,
    BRANCH_SCALING,
    DECAY_SCALE,
    EPS,
    EPS_SCALE,
    FINAL_NORM,
    GATE,
    GATES,
    LAYERNORM,
    LR_SCALE,
    NORM,
    NORM_PARAMS,
    OPTIMIZER,
    RESIDUAL,
    STOP_AT_TEST_ACCURACY,
    WEIGHT_DECAY,
    WEIGHTS,
)
from .loop import COMPLETED, DIVERGED, STOPPED
from .losses import loss_sum
from .metrics import (
    BATCH_LOSS,
    GRAD_NORM,
    STEP,
    TEST_ACCURACY,
    TEST_LOSS,
    TRAIN_ACCURACY,
    TRAIN_LOSS,
    fill_layer_row,
    is_saturated,
)
from .optimizers import (
    bias_corrections,
    decays_gradient,
    direction,
    new_state,
    scheduled_lr,
)

N_REDUCE = 9  # columns of the shared reduction buffer: the most sums one pass needs


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
    block_reduce(red, res, 2, False)
    return res[0], res[1]


@cuda.jit(device=True)
def _backward(w, sizes, w_off, b_off, A, D, G, gw, gb, n, zero, sA, sB):
    """gw, gb and every layer's dL/dz in G, given the output layer's in G (see network)."""
    start = 0
    for layer in range(sizes.size - 1):
        start += sizes[layer + 1]
    for layer in range(sizes.size - 2, -1, -1):
        start -= sizes[layer + 1]
        dense_backward(layer, start, sizes, w_off, b_off, w, A, D, G, gw, gb, n, G,
                       n * (start - sizes[layer]), layer > 0, zero, sA, sB)  # fmt: skip
    cuda.syncthreads()


@cuda.jit(device=True)
def _add_weight_decay(grad, param, first, stop, weight_decay):
    """grad[first:stop] += weight_decay * param over the block's share (weight decay in the
    gradient, as optimizers.add_weight_decay adds it on the CPU)."""
    for e in range(first + cuda.threadIdx.x, stop, cuda.blockDim.x):
        grad[e] += weight_decay * param[e]


@cuda.jit(device=True)
def _update_state(grad, s1, s2, hyper):
    """Fold grad into the optimizer's state over the block's share; returns its |grad|^2."""
    g_sq = 0.0
    for e in range(cuda.threadIdx.x, grad.size, cuda.blockDim.x):
        g = grad[e]
        s1[e], s2[e] = _new_state(hyper, g, s1[e], s2[e])
        g_sq += g * g
    return g_sq


@cuda.jit(device=True)
def _apply_update(param, grad, s1, s2, first, stop, lr, weight_decay, eps, hyper, bc1, bc2):
    """param[first:stop] <- param - lr * direction, over the block's share (as the CPU's
    optimizers.apply_update), with the slice's own weight decay and Adam eps."""
    shrink = 1.0
    if hyper[OPTIMIZER] == ADAMW:
        shrink -= lr * weight_decay
    for e in range(first + cuda.threadIdx.x, stop, cuda.blockDim.x):
        p = param[e] * shrink if shrink != 1.0 else param[e]
        param[e] = p - lr * _direction(hyper, grad[e], s1[e], s2[e], bc1, bc2, eps)


@cuda.jit(device=True)
def _apply_rule(param, grad, s1, s2, first, stop, lr, rule, hyper, bc1, bc2):
    """_apply_update with a parameter group's multipliers ``rule`` (parametrizations.RULES)."""
    _apply_update(param, grad, s1, s2, first, stop, lr * rule[LR_SCALE],
                  hyper[WEIGHT_DECAY] * rule[DECAY_SCALE], hyper[EPS] * rule[EPS_SCALE], hyper,
                  bc1, bc2)  # fmt: skip


@cuda.jit(device=True)
def _layer_statistics(layer, sizes, w_off, b_off, w, b, sw, sw2, gw, Z, A, G, n, lr, eps, hyper,
                      bc1, bc2, lo, hi, phi_in, phi_off, into, red, res):  # fmt: skip
    """One layer's row of LAYER_METRICS: its sums, reduced over the block, into
    metrics.fill_layer_row (as metrics.layer_statistics adds them up on the CPU); dead units are
    counted on what the activation reads next (phi_in from phi_off; see loop.phi_input)."""
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
        d = _direction(hyper, g, sw[i], sw2[i], bc1, bc2, eps)
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
            active = active or phi_in[phi_off + i * width + j] > 0
        red[tid, 8] += not active
    block_reduce(red, res, N_REDUCE, False)
    size = n * width
    g_w, g_z, z_sum, z_sq, o_sum = res[0], res[1], res[2], res[3], res[4]
    w_sq, d_sq, saturated, dead = res[5], res[6], res[7], res[8]
    mean = o_sum / size
    var = 0.0
    for e in range(tid, size, nt):
        var += (out[o0 + e] - mean) ** 2
    red[tid, 0] = var
    block_reduce(red, res, 1, False)
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
    block_reduce(red, res, 1, True)
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
    forward_residual = forward_kernel(phi, zero)
    threads = tile * tile
    padded = tile + 1  # shared-memory shapes must be constants of the closure

    @cuda.jit(device=True)
    def forward(w, b, sizes, w_off, b_off, A, Z, D, n, alpha, sA, sB):
        """Z, A (after the input block) and D of every layer; returns the output's offset in Z."""
        n_in = sizes[0]
        start = 0
        for layer in range(sizes.size - 1):
            width, fan_in = sizes[layer + 1], sizes[layer]
            block_matmul(Z, n * start, n, width, fan_in, A, n * (n_in + start - fan_in), fan_in, 1,
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
    def forward_any(w, b, extra, sizes, w_off, b_off, A, Z, D, Hs, Ps, Xh, Rs, n, alpha, hyper,
                    sA, sB):  # fmt: skip
        """The forward pass of a plain or a residual net (hyper's architecture)."""
        if hyper[ARCHITECTURE] == RESIDUAL:
            return forward_residual(w, b, extra, sizes, w_off, b_off, A, Z, D, Hs, Ps, Xh, Rs, n,
                                    alpha, int(hyper[BLOCK_SIZE]), hyper[NORM] == LAYERNORM,
                                    hyper[FINAL_NORM] == LAYERNORM, sA, sB)  # fmt: skip
        return forward(w, b, sizes, w_off, b_off, A, Z, D, n, alpha, sA, sB)

    @cuda.jit(device=True)
    def evaluate(X, T, n_rows, rows, none, w, b, extra, sizes, w_off, b_off, A, Z, D, G, Tb, Hs,
                 Ps, Xh, Rs, alpha, hyper, loss_code, red, res, sA, sB):  # fmt: skip
        """(mean loss, accuracy) over n_rows rows, forwarded ``rows`` at a time."""
        total = 0.0
        correct = 0.0
        for first in range(0, n_rows, rows):
            m = min(rows, n_rows - first)
            block_gather(X, none, first, m, A)
            block_gather(T, none, first, m, Tb)
            cuda.syncthreads()
            out = forward_any(w, b, extra, sizes, w_off, b_off, A, Z, D, Hs, Ps, Xh, Rs, m, alpha,
                              hyper, sA, sB)  # fmt: skip
            s, c = _loss(loss_code, Z, out, Tb, m, T.shape[1], G, False, red, res)
            total += s
            correct += c
        return total / n_rows, correct / n_rows

    @cuda.jit(**({} if max_registers is None else {"max_registers": max_registers}))
    def train(w, b, sw, sb, sw2, sb2, gw, gb, extra, ge, se, se2, sizes, w_off, b_off, X, T,
              n_eval, X_test, T_test, n_test, batches, steps, hyper, scales, extra_scale, alpha,
              lo, hi, log_steps, loss_code, Z, A, D, G, Tb, Hs, Ps, Xh, Rs, GH, Tw, run_log,
              layer_log, status, diverged, n_logged):  # fmt: skip
        k, tid = cuda.blockIdx.x, cuda.threadIdx.x
        sA = cuda.shared.array((tile, padded), item)
        sB = cuda.shared.array((tile, padded), item)
        red = cuda.shared.array((threads, N_REDUCE), np.float64)
        res = cuda.shared.array(N_REDUCE, np.float64)
        wk, bk, gwk, gbk = w[k], b[k], gw[k], gb[k]
        swk, sbk, sw2k, sb2k = sw[k], sb[k], sw2[k], sb2[k]
        Zk, Ak, Dk, Gk, Tbk = Z[k], A[k], D[k], G[k], Tb[k]
        hyperk, scale, extra_rule = hyper[k], scales[k], extra_scale[k]
        extrak, gek, sek, se2k = extra[k], ge[k], se[k], se2[k]
        Hsk, Psk, Xhk, Rsk, GHk, Twk = Hs[k], Ps[k], Xh[k], Rs[k], GH[k], Tw[k]
        decay_in_gradient = _decays_gradient(hyperk)
        n_layers = sizes.size - 1
        rows = batches.shape[2]
        residual = hyperk[ARCHITECTURE] == RESIDUAL
        block_size = int(hyperk[BLOCK_SIZE])
        use_norm = residual and hyperk[NORM] == LAYERNORM
        final_norm = residual and hyperk[FINAL_NORM] == LAYERNORM
        blocks = (n_layers - 2) // block_size if residual else 0
        gated = residual and hyperk[BRANCH_SCALING] == GATE
        first_extra = 0 if gated else blocks  # the trained extras: as the CPU loop's
        last_extra = extrak.size if use_norm else blocks
        width = sizes[1]
        logged = 0
        for step in range(steps + 1):
            order = batches[k, step if batches.shape[1] > 1 else 0]
            block_gather(X, order, 0, rows, Ak)
            block_gather(T, order, 0, rows, Tbk)
            cuda.syncthreads()
            out = forward_any(wk, bk, extrak, sizes, w_off, b_off, Ak, Zk, Dk, Hsk, Psk, Xhk, Rsk,
                              rows, alpha, hyperk, sA, sB)  # fmt: skip
            total, _ = _loss(loss_code, Zk, out, Tbk, rows, T.shape[1], Gk, True, red, res)
            batch_loss = total / rows
            if residual:
                residual_backward(wk, extrak, sizes, w_off, b_off, Ak, Dk, Gk, Zk, Xhk, Rsk, rows,
                                  block_size, use_norm, final_norm, gwk, gbk, gek, GHk, Twk, red,
                                  res, zero, sA, sB)  # fmt: skip
            else:
                _backward(wk, sizes, w_off, b_off, Ak, Dk, Gk, gwk, gbk, rows, zero, sA, sB)
            lr = _scheduled_lr(hyperk, step, steps)
            bc1, bc2 = _bias_corrections(hyperk, step)
            if decay_in_gradient:
                decay = hyperk[WEIGHT_DECAY]
                for layer in range(n_layers):
                    _add_weight_decay(gwk, wk, w_off[layer], w_off[layer + 1],
                                      decay * scale[layer, WEIGHTS, DECAY_SCALE])  # fmt: skip
                    _add_weight_decay(gbk, bk, b_off[layer], b_off[layer + 1],
                                      decay * scale[layer, BIASES, DECAY_SCALE])  # fmt: skip
                _add_weight_decay(gek, extrak, first_extra, blocks,
                                  decay * extra_rule[GATES, DECAY_SCALE])  # fmt: skip
                _add_weight_decay(gek, extrak, blocks, last_extra,
                                  decay * extra_rule[NORM_PARAMS, DECAY_SCALE])  # fmt: skip
                cuda.syncthreads()
            red[tid, 0] = _update_state(gwk, swk, sw2k, hyperk)
            red[tid, 0] += _update_state(gbk, sbk, sb2k, hyperk)
            red[tid, 0] += _update_state(gek[first_extra:last_extra], sek[first_extra:last_extra],
                                         se2k[first_extra:last_extra], hyperk)  # fmt: skip
            block_reduce(red, res, 1, False)
            grad_sq = res[0]
            finite = math.isfinite(batch_loss) and math.isfinite(grad_sq)
            if not finite or (logged < log_steps.size and log_steps[logged] == step):
                start = 0
                for layer in range(n_layers):
                    into = layer_log[k, logged, layer]
                    boundary = residual and layer < n_layers - 1 and layer % block_size == 0
                    phi_in, phi_off = Zk, rows * start
                    if boundary:  # the stream P_j follows (loop.phi_input)
                        phi_in, phi_off = Psk, (layer // block_size) * rows * width
                    _layer_statistics(layer, sizes, w_off, b_off, wk, bk, swk, sw2k, gwk, Zk, Ak,
                                      Gk, rows, lr * scale[layer, WEIGHTS, LR_SCALE],
                                      hyperk[EPS] * scale[layer, WEIGHTS, EPS_SCALE], hyperk, bc1,
                                      bc2, lo, hi, phi_in, phi_off, into, red, res)  # fmt: skip
                    if boundary and layer > 0:
                        block_statistics(extrak, Zk, Hsk, rows, width, blocks,
                                         layer // block_size - 1, layer, use_norm, into, red,
                                         res)  # fmt: skip
                    start += sizes[layer + 1]
                train_loss = train_acc = test_loss = test_acc = math.nan
                if finite:  # the batch's buffers are free now: evaluation reuses them
                    train_loss, train_acc = evaluate(
                        X, T, n_eval, rows, order[:0], wk, bk, extrak, sizes, w_off, b_off, Ak,
                        Zk, Dk, Gk, Tbk, Hsk, Psk, Xhk, Rsk, alpha, hyperk, loss_code, red, res,
                        sA, sB)  # fmt: skip
                    if n_test > 0:
                        test_loss, test_acc = evaluate(
                            X_test, T_test, n_test, rows, order[:0], wk, bk, extrak, sizes, w_off,
                            b_off, Ak, Zk, Dk, Gk, Tbk, Hsk, Psk, Xhk, Rsk, alpha, hyperk,
                            loss_code, red, res, sA, sB)  # fmt: skip
                if tid == 0:
                    row = run_log[k, logged]
                    row[STEP], row[BATCH_LOSS] = step, batch_loss
                    row[GRAD_NORM] = math.sqrt(grad_sq)
                    row[TRAIN_LOSS], row[TRAIN_ACCURACY] = train_loss, train_acc
                    row[TEST_LOSS], row[TEST_ACCURACY] = test_loss, test_acc
                logged += 1
                stop_at = hyperk[STOP_AT_TEST_ACCURACY]
                if finite and stop_at > 0 and test_acc >= stop_at:  # as the CPU loop
                    if tid == 0:
                        status[k], diverged[k], n_logged[k] = STOPPED, -1, logged
                    return
            if not finite:
                if tid == 0:
                    status[k], diverged[k], n_logged[k] = DIVERGED, step, logged
                return
            if step < steps:
                for layer in range(n_layers):
                    _apply_rule(wk, gwk, swk, sw2k, w_off[layer], w_off[layer + 1], lr,
                                scale[layer, WEIGHTS], hyperk, bc1, bc2)  # fmt: skip
                    _apply_rule(bk, gbk, sbk, sb2k, b_off[layer], b_off[layer + 1], lr,
                                scale[layer, BIASES], hyperk, bc1, bc2)  # fmt: skip
                if gated:
                    _apply_rule(extrak, gek, sek, se2k, 0, blocks, lr, extra_rule[GATES], hyperk,
                                bc1, bc2)  # fmt: skip
                if use_norm:
                    _apply_rule(extrak, gek, sek, se2k, blocks, extrak.size, lr,
                                extra_rule[NORM_PARAMS], hyperk, bc1, bc2)  # fmt: skip
                cuda.syncthreads()
        if tid == 0:
            status[k], diverged[k], n_logged[k] = COMPLETED, -1, logged

    return train
