"""What the CUDA kernels are built from: device functions made from the CPU's source, and
the block-level primitives every kernel shares (tree reductions, tiled matrix products,
row gathers). One thread block works on one network; every primitive here is called by
all of a block's threads and ends with the block synchronised.
"""

import math
import types
from functools import cache

from numba import cuda
from numba.core.registry import CPUDispatcher

from . import vecmath


@cuda.jit(device=True)
def _cuda_exp(x):
    return math.exp(x)


@cuda.jit(device=True)
def _cuda_expm1(x):
    return math.expm1(x)


@cuda.jit(device=True)
def _cuda_tanh(x):
    """vecmath.tanh's formula on libdevice's expm1."""
    e = math.expm1(2.0 * min(abs(x), 20.0))
    t = e / (e + 2.0)
    return t if x >= 0 else -t


# vecmath's exp/expm1/tanh are CPU intrinsics; on the GPU libdevice's are as accurate.
_CUDA_VECMATH = types.ModuleType("initbench_cuda_vecmath")
_CUDA_VECMATH.exp, _CUDA_VECMATH.expm1, _CUDA_VECMATH.tanh = _cuda_exp, _cuda_expm1, _cuda_tanh


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


@cuda.jit(device=True)
def block_reduce(red, res, ncols, take_max):
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
def block_matmul(C, c_off, M, N, K, A, a_off, a_si, a_sk, B, b_off, b_sk, b_sj, mode, E, e_off,
                 zero, sA, sB):  # fmt: skip
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
def block_gather(src, rows, first, n, into):
    """into[i, :] = src[rows[i], :] (or src[first + i, :] when rows is empty), for i < n."""
    width = src.shape[1]
    for e in range(cuda.threadIdx.x, n * width, cuda.blockDim.x):
        i = e // width
        into[e] = src[rows[i] if rows.size > 0 else first + i, e % width]


@cuda.jit(device=True)
def dense_backward(layer, start, sizes, w_off, b_off, w, A, D, G, gw, gb, n, below, below_off,
                   with_below, zero, sA, sB):  # fmt: skip
    """One dense layer's step of a backward pass: gw and gb of layer ``layer`` from its
    dL/dz (G from unit ``start``) and its input (A, whose first block is the input X);
    with ``with_below``, dL/d(its input) times the activation's slope D, into ``below``
    from ``below_off``. The layout is gpu_loop's: Z, D, G hold n rows per unit, A the
    input X and then each layer's activations."""
    width, fan_in = sizes[layer + 1], sizes[layer]
    below_units = n * (start - fan_in)
    block_matmul(gw, w_off[layer], width, fan_in, n, G, n * start, 1, width,
                 A, n * sizes[0] + below_units, fan_in, 1, 0, gb, 0, zero, sA, sB)  # fmt: skip
    for j in range(cuda.threadIdx.x, width, cuda.blockDim.x):
        s = zero
        for i in range(n):
            s += G[n * start + i * width + j]
        gb[b_off[layer] + j] = s
    if with_below:
        block_matmul(below, below_off, n, fan_in, width, G, n * start, width, 1,
                     w, w_off[layer], fan_in, 1, 2, D, below_units, zero, sA, sB)  # fmt: skip
