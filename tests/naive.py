"""Plain NumPy reference implementations (stumpy style): slow, obvious, independent.

Activation formulas are written here again with NumPy/SciPy rather than imported, so the
kernels' activations are checked too.
"""

import numpy as np
from scipy.special import erfc, expit, log_expit, logsumexp

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def activation(name, z, alpha):
    """(phi(z), phi'(z)) in NumPy."""
    if name == "linear":
        return z, np.ones_like(z)
    if name == "sigmoid":
        s = expit(z)
        return s, s * (1 - s)
    if name == "tanh":
        return np.tanh(z), 1 - np.tanh(z) ** 2
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z), np.where(z > 0, 1.0, alpha)
    if name == "elu":
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))), np.where(
            z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))
        )
    if name == "selu":
        neg = SELU_SCALE * SELU_ALPHA
        return np.where(z > 0, SELU_SCALE * z, neg * np.expm1(np.minimum(z, 0))), np.where(
            z > 0, SELU_SCALE, neg * np.exp(np.minimum(z, 0))
        )
    if name == "gelu":
        cdf = 0.5 * erfc(-z / np.sqrt(2))
        return z * cdf, cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    if name == "silu":
        s = expit(z)
        return z * s, s * (1 + z * (1 - s))
    if name == "softplus":
        return np.logaddexp(0, z), expit(z)
    raise KeyError(name)


def loss(name, out, y):
    """(mean loss, dL/d out) for labels y (classification) or targets y (mse)."""
    n = out.shape[0]
    if name == "softmax_ce":
        log_p = out - logsumexp(out, axis=1, keepdims=True)
        onehot = np.eye(out.shape[1])[y]
        return -(onehot * log_p).sum() / n, (np.exp(log_p) - onehot) / n
    if name == "sigmoid_bce":
        o, t = out[:, 0], y.astype(float)
        value = -(t * log_expit(o) + (1 - t) * log_expit(-o)).mean()
        return value, ((expit(o) - t) / n)[:, None]
    if name == "mse":
        t = y.reshape(n, -1)
        return ((out - t) ** 2).mean(), 2 * (out - t) / out.size
    raise KeyError(name)


def forward(W, b, X, act, alpha):
    """Lists of pre-activations and activations per layer (output layer linear)."""
    zs, acts, slopes = [], [X], []
    for i, (w, bias) in enumerate(zip(W, b)):
        z = acts[-1] @ w.T + bias
        zs.append(z)
        if i < len(W) - 1:
            a, d = activation(act, z, alpha)
            acts.append(a)
            slopes.append(d)
    return zs, acts, slopes


def loss_and_grads(W, b, X, y, act, loss_name, alpha):
    zs, acts, slopes = forward(W, b, X, act, alpha)
    value, delta = loss(loss_name, zs[-1], y)
    dW, db = [None] * len(W), [None] * len(W)
    for layer in range(len(W) - 1, -1, -1):
        dW[layer] = delta.T @ acts[layer]
        db[layer] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ W[layer]) * slopes[layer - 1]
    return value, dW, db


def train(W, b, X, y, act, loss_name, alpha, lr, momentum, order, batch_size, steps,
          weight_decay=0.0):  # fmt: skip
    """Minibatch SGD with torch-style momentum and L2 weight decay: step s trains on rows
    ``order[s]``."""
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    vW, vb = [np.zeros_like(w) for w in W], [np.zeros_like(v) for v in b]
    for step in range(steps):
        rows = np.arange(X.shape[0]) if batch_size >= X.shape[0] else order[step]
        _, dW, db = loss_and_grads(W, b, X[rows], y[rows], act, loss_name, alpha)
        for i in range(len(W)):
            vW[i] = momentum * vW[i] + dW[i] + weight_decay * W[i]
            vb[i] = momentum * vb[i] + db[i] + weight_decay * b[i]
            W[i] -= lr * vW[i]
            b[i] -= lr * vb[i]
    return W, b


def probe_metrics(snapshots, X, act, alpha, bounds):
    """Probe metrics per logged step and layer, from (W, b) at each logged step.

    Columns: act mean, act std, saturated, dead, newly dead, revived (as in
    loop.LAYER_METRICS; NaN where a metric has no meaning).
    """
    out = np.full((len(snapshots), len(snapshots[0][0]), 6), np.nan)
    alive_at_init = died = None
    for s, (W, b) in enumerate(snapshots):
        zs, acts, _ = forward(W, b, X, act, alpha)
        active = [(z > 0).any(axis=0) for z in zs[:-1]]
        if s == 0:
            alive_at_init = active
            died = [np.zeros_like(a) for a in active]
        for layer, z in enumerate(zs):
            a = acts[layer + 1] if layer < len(W) - 1 else z
            out[s, layer, :2] = a.mean(), a.std()
            if layer == len(W) - 1:
                continue
            if bounds:
                lo, hi = bounds
                margin = 0.01 * (hi - lo)
                out[s, layer, 2] = ((a <= lo + margin) | (a >= hi - margin)).mean()
            gone = alive_at_init[layer] & ~active[layer]
            out[s, layer, 3] = (~active[layer]).mean()
            out[s, layer, 4] = gone.mean()
            out[s, layer, 5] = (died[layer] & active[layer]).mean()
            died[layer] = died[layer] | gone
    return out
