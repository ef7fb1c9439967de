"""CUDA twin of ``residual``: a residual net's forward and backward pass inside one block.

The net and its buffers are residual.py's, in gpu_loop's layout: n rows per unit in Z, D
and G, A starting with the input X, all hidden layers ``width`` wide, so dense layer l's
units start at l * width. Per network the stream adds Hs and Ps ((blocks + 1) x n x
width: H_j and P_j), LayerNorm's x_hat (Xh) and 1/std (Rs, n per block; block ``blocks``'
slot is the final norm's), and two n x width work buffers; the extras (gates, norm gains,
norm biases, a final norm's gain and bias) are residual.extra_layout's.
LayerNorm runs one row a thread (the sums over a row's units in order, as on the CPU);
its parameter gradients one unit a thread.
"""

import math

from numba import cuda

from .gpu_blocks import block_matmul, block_reduce, dense_backward
from .metrics import BRANCH_RATIO, GATE_VALUE, NORM_GAIN_MEAN, NORM_GAIN_STD
from .residual import LN_EPS


@cuda.jit(device=True)
def layernorm_rows(H, h_off, P, Xh, Rs, r_off, extra, gain_off, bias_off, n, width):
    """P = gain x_hat + bias for each of n rows of H (from h_off); keeps x_hat and 1/std."""
    for r in range(cuda.threadIdx.x, n, cuda.blockDim.x):
        row = h_off + r * width
        mean = 0.0
        for c in range(width):
            mean += H[row + c]
        mean /= width
        var = 0.0
        for c in range(width):
            var += (H[row + c] - mean) ** 2
        rstd = 1.0 / math.sqrt(var / width + LN_EPS)
        Rs[r_off + r] = rstd
        for c in range(width):
            x = (H[row + c] - mean) * rstd
            Xh[row + c] = x
            P[row + c] = extra[gain_off + c] * x + extra[bias_off + c]
    cuda.syncthreads()


@cuda.jit(device=True)
def layernorm_backward(T, Xh, x_off, Rs, r_off, extra, gain_off, ge, bias_off, n, width):
    """T <- dL/dH from dL/dP in T; the gain's and bias' gradients into ge (gain_off,
    bias_off), as residual.layernorm_backward."""
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    for c in range(tid, width, nt):
        dgain = 0.0
        dbias = 0.0
        for r in range(n):
            dgain += T[r * width + c] * Xh[x_off + r * width + c]
            dbias += T[r * width + c]
        ge[gain_off + c] = dgain
        ge[bias_off + c] = dbias
    cuda.syncthreads()
    for r in range(tid, n, nt):
        mean_g = 0.0
        mean_gx = 0.0
        for c in range(width):
            g = T[r * width + c] * extra[gain_off + c]
            mean_g += g
            mean_gx += g * Xh[x_off + r * width + c]
        mean_g /= width
        mean_gx /= width
        rstd = Rs[r_off + r]
        for c in range(width):
            g = T[r * width + c] * extra[gain_off + c]
            T[r * width + c] = rstd * (g - mean_g - Xh[x_off + r * width + c] * mean_gx)
    cuda.syncthreads()


def forward_kernel(phi, zero):
    """The forward pass as a device function, for the activation ``phi`` (a device function)."""

    @cuda.jit(device=True)
    def activate(src, src_off, A, a_off, D, d_off, count, alpha):
        for e in range(cuda.threadIdx.x, count, cuda.blockDim.x):
            a, d = phi(src[src_off + e], alpha)
            A[a_off + e] = a
            D[d_off + e] = d
        cuda.syncthreads()

    @cuda.jit(device=True)
    def forward(w, b, extra, sizes, w_off, b_off, A, Z, D, Hs, Ps, Xh, Rs, n, alpha, block_size,
                use_norm, final_norm, sA, sB):  # fmt: skip
        """Z, A, D and the stream for n rows (the input already in A); returns the output's
        offset in Z, as gpu_loop's plain forward does."""
        tid, nt = cuda.threadIdx.x, cuda.blockDim.x
        n_in, width, n_layers = sizes[0], sizes[1], sizes.size - 1
        blocks = (n_layers - 2) // block_size
        size = n * width
        block_matmul(Z, 0, n, width, n_in, A, 0, n_in, 1, w, w_off[0], 1, n_in, 1, b, b_off[0],
                     zero, sA, sB)  # fmt: skip
        for e in range(tid, size, nt):
            Hs[e] = Z[e]
        cuda.syncthreads()
        for j in range(blocks):
            if use_norm:
                gains = blocks + j * width
                layernorm_rows(Hs, j * size, Ps, Xh, Rs, j * n, extra, gains,
                               gains + blocks * width, n, width)  # fmt: skip
            else:
                for e in range(tid, size, nt):
                    Ps[j * size + e] = Hs[j * size + e]
                cuda.syncthreads()
            for i in range(block_size):
                layer = 1 + j * block_size + i
                below = (layer - 1) * size
                if i == 0:
                    activate(Ps, j * size, A, n * n_in + below, D, below, size, alpha)
                else:
                    activate(Z, below, A, n * n_in + below, D, below, size, alpha)
                block_matmul(Z, layer * size, n, width, width, A, n * n_in + below, width, 1, w,
                             w_off[layer], 1, width, 1, b, b_off[layer], zero, sA, sB)  # fmt: skip
            gate = extra[j]
            last = (j * block_size + block_size) * size
            for e in range(tid, size, nt):
                Hs[(j + 1) * size + e] = Hs[j * size + e] + gate * Z[last + e]
            cuda.syncthreads()
        if final_norm:
            final = blocks + 2 * blocks * width  # residual.extra_layout's end
            layernorm_rows(Hs, blocks * size, Ps, Xh, Rs, blocks * n, extra, final,
                           final + width, n, width)  # fmt: skip
        else:
            for e in range(tid, size, nt):
                Ps[blocks * size + e] = Hs[blocks * size + e]
            cuda.syncthreads()
        readout = n_layers - 1
        below = (readout - 1) * size
        activate(Ps, blocks * size, A, n * n_in + below, D, below, size, alpha)
        block_matmul(Z, readout * size, n, sizes[-1], width, A, n * n_in + below, width, 1, w,
                     w_off[readout], 1, width, 1, b, b_off[readout], zero, sA, sB)  # fmt: skip
        return readout * size

    return forward


@cuda.jit(device=True)
def backward(w, extra, sizes, w_off, b_off, A, D, G, Z, Xh, Rs, n, block_size, use_norm,
             final_norm, gw, gb, ge, GH, T, red, res, zero, sA, sB):  # fmt: skip
    """gw, gb, ge and every dense layer's dL/dz in G, given the readout's in G (its slot):
    residual.residual_backward's steps."""
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    width, n_layers = sizes[1], sizes.size - 1
    blocks = (n_layers - 2) // block_size
    size = n * width
    for e in range(tid, ge.size, nt):
        ge[e] = 0.0
    readout = n_layers - 1
    dense_backward(readout, readout * width, sizes, w_off, b_off, w, A, D, G, gw, gb, n, GH, 0,
                   True, zero, sA, sB)  # fmt: skip
    if final_norm:
        final = blocks + 2 * blocks * width  # residual.extra_layout's end
        layernorm_backward(GH, Xh, blocks * size, Rs, blocks * n, extra, final, ge,
                           final + width, n, width)  # fmt: skip
    for j in range(blocks - 1, -1, -1):
        last = j * block_size + block_size
        partial = 0.0
        for e in range(tid, size, nt):
            partial += GH[e] * Z[last * size + e]
        red[tid, 0] = partial
        block_reduce(red, res, 1, False)
        if tid == 0:
            ge[j] = res[0]
        gate = extra[j]
        for e in range(tid, size, nt):
            G[last * size + e] = gate * GH[e]
        cuda.syncthreads()
        for i in range(block_size - 1, -1, -1):
            layer = 1 + j * block_size + i
            if i > 0:
                dense_backward(layer, layer * width, sizes, w_off, b_off, w, A, D, G, gw, gb, n,
                               G, (layer - 1) * size, True, zero, sA, sB)  # fmt: skip
            else:
                dense_backward(layer, layer * width, sizes, w_off, b_off, w, A, D, G, gw, gb, n,
                               T, 0, True, zero, sA, sB)  # fmt: skip
        if use_norm:
            gains = blocks + j * width
            layernorm_backward(T, Xh, j * size, Rs, j * n, extra, gains, ge,
                               gains + blocks * width, n, width)  # fmt: skip
        for e in range(tid, size, nt):
            GH[e] += T[e]
        cuda.syncthreads()
    for e in range(tid, size, nt):
        G[e] = GH[e]
    cuda.syncthreads()
    dense_backward(0, 0, sizes, w_off, b_off, w, A, D, G, gw, gb, n, G, 0, False, zero, sA, sB)
    cuda.syncthreads()


@cuda.jit(device=True)
def block_statistics(extra, Z, Hs, n, width, blocks, block, last, use_norm, into, red, res):
    """Block ``block``'s branch_ratio, gate and norm gain statistics into ``into`` (its last
    dense layer's row), as loop.block_statistics."""
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    size = n * width
    red[tid, 0] = 0.0
    red[tid, 1] = 0.0
    red[tid, 2] = 0.0
    for e in range(tid, size, nt):
        red[tid, 0] += Z[last * size + e] ** 2
        red[tid, 1] += Hs[block * size + e] ** 2
    gains = blocks + block * width
    for c in range(tid, width, nt):
        red[tid, 2] += extra[gains + c]
    block_reduce(red, res, 3, False)
    branch, skip, gain_mean = math.sqrt(res[0]), math.sqrt(res[1]), res[2] / width
    red[tid, 0] = 0.0
    for c in range(tid, width, nt):
        red[tid, 0] += (extra[gains + c] - gain_mean) ** 2
    block_reduce(red, res, 1, False)
    if tid == 0:
        gate = extra[block]
        into[GATE_VALUE] = gate
        into[BRANCH_RATIO] = abs(gate) * branch / skip if skip > 0 else math.nan
        if use_norm:
            into[NORM_GAIN_MEAN] = gain_mean
            into[NORM_GAIN_STD] = math.sqrt(res[0] / width)
    cuda.syncthreads()
