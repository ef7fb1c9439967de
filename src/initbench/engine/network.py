"""Forward and backward passes of a multilayer perceptron over flat parameter buffers.

All layers' weights live in one contiguous vector (``w``), biases in another (``b``);
``w_off``/``b_off`` give each layer's slice and ``sizes`` its widths. One buffer per
quantity keeps every kernel a plain function of contiguous arrays; the CUDA back end
(``gpu_many``) packs each network the same way, one row of a (K, size) array per network.
"""

import numpy as np

from .activations import apply_activation
from .jit import kernel


def layout(sizes):
    """Offsets of each layer's weights and biases in the flat buffers."""
    sizes = np.asarray(sizes, dtype=np.int64)
    w_off = np.concatenate([[0], np.cumsum(sizes[1:] * sizes[:-1])])
    b_off = np.concatenate([[0], np.cumsum(sizes[1:])])
    return sizes, w_off, b_off


def pack(arrays, dtype):
    """Concatenate per-layer arrays into one flat, owned buffer (inputs are never modified)."""
    return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays])


def unpack(flat, offsets, shapes):
    """Per-layer copies of a flat buffer."""
    return [
        flat[offsets[i] : offsets[i + 1]].reshape(shape).copy() for i, shape in enumerate(shapes)
    ]


@kernel
def weight_view(w, w_off, sizes, layer):
    """Layer ``layer``'s weight matrix, shape (fan_out, fan_in), as a view into ``w``."""
    return w[w_off[layer] : w_off[layer + 1]].reshape((sizes[layer + 1], sizes[layer]))


@kernel
def unit_view(buffer, rows, start, width):
    """A (rows, width) view of a per-sample buffer, starting at unit offset ``start``."""
    return buffer[rows * start : rows * (start + width)].reshape((rows, width))


@kernel(forceinline=True)
def layer_totals(sizes):
    """(units in all layers but the input, the widest such layer). A loop, where numpy's
    ``sum`` and ``max`` would each compile their own implementation (0.6 s for ``max``) in
    every kernel module that first calls them."""
    total_units, widest = 0, 0
    for units in sizes[1:]:
        total_units += units
        widest = max(widest, units)
    return total_units, widest


@kernel
def forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, keep_layers):
    """Pre-activations Z, activations A and derivatives D of every layer for the rows of X.

    With ``keep_layers`` each layer has its own block of the buffers (needed for the
    backward pass); without, two blocks alternate so evaluating a large set needs memory
    for two layers only. The output layer is linear. Returns the output view.
    """
    n = X.shape[0]
    n_layers = sizes.size - 1
    max_width = layer_totals(sizes)[1]
    prev = X
    out = X
    start = 0
    for layer in range(n_layers):
        width = sizes[layer + 1]
        slot = start if keep_layers else (layer % 2) * max_width
        z = unit_view(Z, n, slot, width)
        np.dot(prev, weight_view(w, w_off, sizes, layer).T, z)
        bias = b[b_off[layer] : b_off[layer + 1]]
        for i in range(n):
            for j in range(width):
                z[i, j] += bias[j]
        if layer == n_layers - 1:
            out = z
        else:
            a = unit_view(A, n, slot, width)
            apply_activation(act, z, a, unit_view(D, n, slot, width), alpha)
            prev = a
        start += width
    return out


@kernel
def backward(w, sizes, w_off, b_off, X, A, D, G, gw, gb):
    """Gradients of the loss into ``gw``/``gb``, given dL/dz of the output layer in G.

    G receives dL/dz_l for every layer (in the same layout as Z), which the per-layer
    gradient-flow metrics read.
    """
    n = X.shape[0]
    n_layers = sizes.size - 1
    start = layer_totals(sizes)[0]
    for layer in range(n_layers - 1, -1, -1):
        width = sizes[layer + 1]
        start -= width
        delta = unit_view(G, n, start, width)
        fan_in = sizes[layer]
        prev = X if layer == 0 else unit_view(A, n, start - fan_in, fan_in)
        np.dot(delta.T, prev, gw[w_off[layer] : w_off[layer + 1]].reshape((width, fan_in)))
        grad_b = gb[b_off[layer] : b_off[layer + 1]]
        grad_b[:] = 0.0
        for i in range(n):
            for j in range(width):
                grad_b[j] += delta[i, j]
        if layer > 0:
            below = unit_view(G, n, start - fan_in, fan_in)
            np.dot(delta, weight_view(w, w_off, sizes, layer), below)
            slope = unit_view(D, n, start - fan_in, fan_in)
            for i in range(n):
                for j in range(fan_in):
                    below[i, j] *= slope[i, j]
