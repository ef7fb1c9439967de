"""Residual MLPs: pre-activation blocks with an optional pre-LayerNorm, forward and backward.

A residual net of ``blocks`` blocks of ``m`` dense layers (all ``width`` wide) is, with
phi the activation and P_j the branch's input::

    H_0 = W_0 X + b_0                                  the input layer (linear)
    P_j = LayerNorm_j(H_j) (or H_j)                   pre-norm, gain and bias per block
    a = P_j;  a = W_l phi(a) + b_l  for its m layers   the branch (pre-activation)
    H_{j+1} = H_j + alpha_j a                          the skip, scaled branch
    P_L = LayerNorm_f(H_L) (or H_L)                    the final norm (final_norm)
    out = W_out phi(P_L) + b_out                       the readout

so with no skips it is the plain MLP. The dense layers keep the plain layout (flat ``w``
and ``b``, ``network.layout``) and its per-sample buffers: Z holds each dense layer's
output, A and D the activation (and its derivative) that the next dense layer reads, in
the slot of the layer before it, and G dL/dZ. The stream adds ``Hs`` (H_j per block),
``Ps`` (P_j, and P_L = H_L), and LayerNorm's x_hat and 1/std (``Xh``, ``Rs``). The
trainable extras live in one flat vector (``extra_layout``): the branch scales alpha_j,
then the LayerNorm gains, then their biases, then (with a final norm, from ``end``) the
final norm's gain and bias; its x_hat and 1/std take block ``blocks``' slot of Xh and Rs.
"""

import math

import numpy as np

from .activations import apply_activation
from .jit import kernel
from .network import layer_totals, unit_view, weight_view

LN_EPS = 1e-5  # LayerNorm's variance floor, as torch.nn.LayerNorm's default
EXTRAS = ("gates", "norm_gains", "norm_biases")  # the flat extras' order (extra_layout)
FINAL_EXTRAS = ("final_gain", "final_bias")  # after them, with a final norm


@kernel
def extra_layout(blocks, width):
    """Offsets of the extras: (gates, gains, biases, end) in the flat ``extra`` vector."""
    return 0, blocks, blocks + blocks * width, blocks + 2 * blocks * width


@kernel
def block_view(buffer, rows, width, block):
    """Block ``block``'s (rows, width) view of a per-block buffer."""
    size = rows * width
    return buffer[block * size : (block + 1) * size].reshape((rows, width))


@kernel
def copy_into(dst, src):
    """dst[:] = src for two (rows, width) arrays, element by element: Numba's array-to-slice
    assignment compiles its shape-mismatch message (string formatting), 1.4 s a signature."""
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@kernel
def layernorm_forward(H, gain, bias, P, xhat, rstd):
    """P = gain * (H - mean) / sqrt(var + LN_EPS) + bias over each row; keeps x_hat, 1/std."""
    n, width = H.shape
    for i in range(n):
        mean = 0.0
        for j in range(width):
            mean += H[i, j]
        mean /= width
        var = 0.0
        for j in range(width):
            var += (H[i, j] - mean) ** 2
        r = 1.0 / math.sqrt(var / width + LN_EPS)
        rstd[i] = r
        for j in range(width):
            x = (H[i, j] - mean) * r
            xhat[i, j] = x
            P[i, j] = gain[j] * x + bias[j]


@kernel
def layernorm_backward(dP, xhat, rstd, gain, dgain, dbias):
    """dP <- dL/dH (in place) from dL/dP; dgain and dbias get their gradients."""
    n, width = dP.shape
    dgain[:] = 0.0
    dbias[:] = 0.0
    for i in range(n):
        mean_g = 0.0
        mean_gx = 0.0
        for j in range(width):
            g = dP[i, j] * gain[j]
            mean_g += g
            mean_gx += g * xhat[i, j]
            dgain[j] += dP[i, j] * xhat[i, j]
            dbias[j] += dP[i, j]
        mean_g /= width
        mean_gx /= width
        for j in range(width):
            dP[i, j] = rstd[i] * (dP[i, j] * gain[j] - mean_g - xhat[i, j] * mean_gx)


@kernel
def dense(a, w, b, sizes, w_off, b_off, layer, z):
    """z = a W_layer^T + b_layer."""
    np.dot(a, weight_view(w, w_off, sizes, layer).T, z)
    bias = b[b_off[layer] : b_off[layer + 1]]
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] += bias[j]


@kernel(forceinline=True)
def slot(keep_layers, width, max_width, layer):
    """Layer ``layer``'s unit offset in Z, A, D: its own, or one of two alternating slots."""
    return layer * width if keep_layers else (layer % 2) * max_width


@kernel(forceinline=True)
def kept(keep_layers, block):
    """Block ``block``'s index in the stream buffers: its own, or 0 (updated in place)."""
    return block if keep_layers else 0


@kernel
def activate(act, src, A, D, n, start, alpha):
    """phi(src) and phi'(src) into the A and D slot from unit ``start``; returns the A view."""
    width = src.shape[1]
    a = unit_view(A, n, start, width)
    apply_activation(act, src, a, unit_view(D, n, start, width), alpha)
    return a


@kernel
def residual_forward(
    act,
    w,
    b,
    extra,
    sizes,
    w_off,
    b_off,
    X,
    Z,
    A,
    D,
    Hs,
    Ps,
    Xh,
    Rs,
    alpha,
    block_size,
    use_norm,
    final_norm,
    keep_layers,
):
    """Z, A, D of every dense layer and the stream for the rows of X; returns the output view.

    With ``keep_layers`` every layer and block has its own slot (for the backward pass);
    without, two slots alternate and the stream is updated in place (evaluation).
    """
    n = X.shape[0]
    n_layers = sizes.size - 1
    width = sizes[1]
    blocks = (n_layers - 2) // block_size
    max_width = layer_totals(sizes)[1]
    g0, gains, biases, final = extra_layout(blocks, width)
    z = unit_view(Z, n, slot(keep_layers, width, max_width, 0), width)
    dense(X, w, b, sizes, w_off, b_off, 0, z)
    copy_into(block_view(Hs, n, width, 0), z)
    for j in range(blocks):
        H = block_view(Hs, n, width, kept(keep_layers, j))
        P = block_view(Ps, n, width, kept(keep_layers, j))
        if use_norm:
            layernorm_forward(
                H,
                extra[gains + j * width : gains + (j + 1) * width],
                extra[biases + j * width : biases + (j + 1) * width],
                P,
                block_view(Xh, n, width, kept(keep_layers, j)),
                Rs[kept(keep_layers, j) * n : kept(keep_layers, j) * n + n],
            )
        else:
            copy_into(P, H)
        prev = P
        for i in range(block_size):
            layer = 1 + j * block_size + i
            a = activate(act, prev, A, D, n, slot(keep_layers, width, max_width, layer - 1), alpha)
            prev = unit_view(Z, n, slot(keep_layers, width, max_width, layer), width)
            dense(a, w, b, sizes, w_off, b_off, layer, prev)
        after = block_view(Hs, n, width, kept(keep_layers, j + 1))
        gate = extra[g0 + j]
        for r in range(n):
            for c in range(width):
                after[r, c] = H[r, c] + gate * prev[r, c]
    top = kept(keep_layers, blocks)
    last = block_view(Ps, n, width, top)
    if final_norm:
        layernorm_forward(
            block_view(Hs, n, width, top),
            extra[final : final + width],
            extra[final + width : final + 2 * width],
            last,
            block_view(Xh, n, width, top),
            Rs[top * n : top * n + n],
        )
    else:
        copy_into(last, block_view(Hs, n, width, top))
    readout = n_layers - 1
    a = activate(act, last, A, D, n, slot(keep_layers, width, max_width, readout - 1), alpha)
    out = unit_view(Z, n, slot(keep_layers, width, max_width, readout), sizes[-1])
    dense(a, w, b, sizes, w_off, b_off, readout, out)
    return out


@kernel
def dense_backward(delta, a, w, sizes, w_off, b_off, layer, gw, gb, below):
    """gw, gb of dense layer ``layer`` from its dL/dz ``delta`` and input ``a``; below =
    delta W (dL/d its input)."""
    fan_in = sizes[layer]
    width = sizes[layer + 1]
    np.dot(delta.T, a, gw[w_off[layer] : w_off[layer + 1]].reshape((width, fan_in)))
    grad_b = gb[b_off[layer] : b_off[layer + 1]]
    grad_b[:] = 0.0
    for i in range(delta.shape[0]):
        for j in range(width):
            grad_b[j] += delta[i, j]
    if below.size > 0:
        np.dot(delta, weight_view(w, w_off, sizes, layer), below)


@kernel
def residual_backward(
    w,
    extra,
    sizes,
    w_off,
    b_off,
    X,
    Z,
    A,
    D,
    G,
    Xh,
    Rs,
    block_size,
    use_norm,
    final_norm,
    gw,
    gb,
    gextra,
    stream,
    scratch,
):
    """Gradients into gw, gb and gextra, given dL/dz of the readout in G (its slot); G gets
    dL/dz of every dense layer. ``stream`` and ``scratch``: (rows x width) work buffers."""
    n = X.shape[0]
    n_layers = sizes.size - 1
    width = sizes[1]
    blocks = (n_layers - 2) // block_size
    g0, gains, biases, final = extra_layout(blocks, width)
    gextra[:] = 0.0
    gh = stream[: n * width].reshape((n, width))  # dL/dH_j, block by block
    t = scratch[: n * width].reshape((n, width))
    readout = n_layers - 1
    dense_backward(
        unit_view(G, n, readout * width, sizes[-1]),
        unit_view(A, n, (readout - 1) * width, width),
        w,
        sizes,
        w_off,
        b_off,
        readout,
        gw,
        gb,
        gh,
    )
    gh *= unit_view(D, n, (readout - 1) * width, width)
    if final_norm:
        layernorm_backward(
            gh,
            block_view(Xh, n, width, blocks),
            Rs[blocks * n : (blocks + 1) * n],
            extra[final : final + width],
            gextra[final : final + width],
            gextra[final + width : final + 2 * width],
        )
    for j in range(blocks - 1, -1, -1):
        last = j * block_size + block_size
        z_last = unit_view(Z, n, last * width, width)
        gate_grad = 0.0
        for r in range(n):
            for c in range(width):
                gate_grad += gh[r, c] * z_last[r, c]
        gextra[g0 + j] = gate_grad
        gate = extra[g0 + j]
        g_last = unit_view(G, n, last * width, width)
        for r in range(n):
            for c in range(width):
                g_last[r, c] = gate * gh[r, c]
        for i in range(block_size - 1, -1, -1):
            layer = 1 + j * block_size + i
            below = unit_view(G, n, (layer - 1) * width, width) if i > 0 else t
            dense_backward(
                unit_view(G, n, layer * width, width),
                unit_view(A, n, (layer - 1) * width, width),
                w,
                sizes,
                w_off,
                b_off,
                layer,
                gw,
                gb,
                below,
            )
            below *= unit_view(D, n, (layer - 1) * width, width)
        if use_norm:
            layernorm_backward(
                t,
                block_view(Xh, n, width, j),
                Rs[j * n : (j + 1) * n],
                extra[gains + j * width : gains + (j + 1) * width],
                gextra[gains + j * width : gains + (j + 1) * width],
                gextra[biases + j * width : biases + (j + 1) * width],
            )
        gh += t
    g_first = unit_view(G, n, 0, width)
    copy_into(g_first, gh)
    dense_backward(g_first, X, w, sizes, w_off, b_off, 0, gw, gb, t[:0])


def residual_blocks(settings, sizes):
    """(blocks, width) of a residual net of layer ``sizes``; ValueError naming what is wrong."""
    hidden = list(sizes[1:-1])
    m = settings.block_size
    if len(set(hidden)) > 1:
        raise ValueError(f"a residual net's hidden layers share one width, got {hidden}")
    if len(hidden) < 1 + m or (len(hidden) - 1) % m:
        raise ValueError(
            f"block_size {m}: a residual net's {len(hidden) + 1} weight layers must be the "
            f"input layer, whole blocks of {m} and the readout (depth 2 + k x {m}, k >= 1)"
        )
    return (len(hidden) - 1) // m, hidden[0]


def initial_extras(settings, sizes, dtype, given=None):
    """A residual net's flat extras at initialisation: each branch scale (branch_scale,
    over sqrt(blocks) for inv_sqrt_blocks, times blocks^-branch_exponent for depth_power, 0
    for a gate), LayerNorm gains 1 and biases 0 (the final norm's too, with final_norm);
    ``given`` (a dict as ``extras_by_name`` returns) replaces any of them. Empty for a
    plain net."""
    if settings.architecture != "residual":
        if given:
            raise ValueError("extras apply to architecture residual only")
        return np.empty(0, dtype)
    blocks, width = residual_blocks(settings, sizes)
    scale = {
        "fixed": settings.branch_scale,
        "gate": 0.0,
        "inv_sqrt_blocks": settings.branch_scale / math.sqrt(blocks),
        "depth_power": settings.branch_scale * blocks ** -float(settings.branch_exponent),
    }
    values = {
        "gates": np.full(blocks, scale[settings.branch_scaling]),
        "norm_gains": np.ones((blocks, width)),
        "norm_biases": np.zeros((blocks, width)),
    }
    names = EXTRAS
    if settings.final_norm == "layernorm":
        values.update(final_gain=np.ones(width), final_bias=np.zeros(width))
        names = EXTRAS + FINAL_EXTRAS
    for name, value in (given or {}).items():
        if name not in values:
            raise ValueError(f"unknown extra {name!r}; known: {', '.join(values)}")
        if np.shape(value) != values[name].shape:
            raise ValueError(
                f"extras[{name!r}] has shape {np.shape(value)}; expected {values[name].shape}"
            )
        values[name] = np.asarray(value, dtype=np.float64)
    return np.concatenate([values[name].reshape(-1) for name in names]).astype(dtype)


def extras_by_name(flat, blocks, width):
    """The flat extras as {gates: (blocks,), norm_gains, norm_biases: (blocks, width)}, and
    final_gain, final_bias: (width,) when ``flat`` holds a final norm's."""
    if flat.size == 0:
        return {}
    g0, gains, biases, end = extra_layout(blocks, width)
    named = {
        "gates": flat[g0:gains].copy(),
        "norm_gains": flat[gains:biases].reshape(blocks, width).copy(),
        "norm_biases": flat[biases:end].reshape(blocks, width).copy(),
    }
    if flat.size > end:
        named.update(final_gain=flat[end : end + width].copy(),
                     final_bias=flat[end + width : end + 2 * width].copy())  # fmt: skip
    return named
