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


def scheduled_lr(lr, step, steps, schedule="constant", warmup_steps=0, decay_every=0,
                 decay_factor=0.1):  # fmt: skip
    """The lr of the update at ``step``: the schedule counted after a linear warm-up."""
    t = max(step - warmup_steps, 0)
    if schedule == "step":
        lr = lr * decay_factor ** (t // decay_every)
    elif schedule == "cosine":
        lr = lr * 0.5 * (1 + np.cos(np.pi * min(t / (steps - warmup_steps), 1)))
    elif schedule != "constant":
        raise ValueError(f"the reference has no schedule {schedule!r}")
    if step < warmup_steps:
        lr = lr * (step + 1) / warmup_steps
    return lr


def train(W, b, X, y, act, loss_name, alpha, lr, momentum, order, batch_size, steps,
          weight_decay=0.0, optimizer="sgd", nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8,
          lr_scale=None, residual=None, decay_scale=None, eps_scale=None,
          **schedule):  # fmt: skip
    """Minibatch training as torch.optim.SGD (momentum, Nesterov, L2 weight decay), Adam
    (L2 decay in the gradient) and AdamW (decoupled decay) step: step s trains on rows
    ``order[s]`` at ``scheduled_lr(lr, s, steps, **schedule)`` times ``lr_scale[l]``
    (weights, biases) for layer l, with weight decay ``weight_decay * decay_scale[l]`` and
    Adam's ``eps * eps_scale[l]`` (each 1 when not given): torch's per-group lr,
    weight_decay and eps.

    ``residual``: a residual net's {block_size, gates, norm_gains, norm_biases (None
    without a norm), train_gates, extra_scale (gates, norms), and optionally
    extra_decay_scale and extra_eps_scale (gates, norms), final_gain and final_bias (a
    final norm's, trained as the norms)}; returns (W, b, extras)."""
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    params = [p for pair in zip(W, b) for p in pair]  # W0, b0, W1, b1, ...

    def per_param(scale):
        return [1.0] * len(params) if scale is None else np.ravel(scale).tolist()

    scales, decays, epss = per_param(lr_scale), per_param(decay_scale), per_param(eps_scale)
    extras, trained = {}, []
    if residual is not None:
        names = ("gates", "norm_gains", "norm_biases", "final_gain", "final_bias")
        extras = {k: None if residual.get(k) is None else np.array(residual[k], dtype=float)
                  for k in names}  # fmt: skip
        trained = ["gates"] * residual["train_gates"]
        trained += ["norm_gains", "norm_biases"] * (extras["norm_gains"] is not None)
        trained += ["final_gain", "final_bias"] * (extras["final_gain"] is not None)
        params += [extras[k] for k in trained]
        for into, key in ((scales, "extra_scale"), (decays, "extra_decay_scale"),
                          (epss, "extra_eps_scale")):  # fmt: skip
            into += [residual.get(key, (1.0, 1.0))[int(k != "gates")] for k in trained]
    if optimizer not in ("sgd", "adam", "adamw"):
        raise ValueError(f"the reference has no optimizer {optimizer!r}")
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(steps):
        rows = np.arange(X.shape[0]) if batch_size >= X.shape[0] else order[step]
        if residual is None:
            _, dW, db = loss_and_grads(W, b, X[rows], y[rows], act, loss_name, alpha)
            d_extras = {}
        else:
            _, dW, db, d_extras = residual_loss_and_grads(
                W, b, X[rows], y[rows], act, loss_name, alpha, residual["block_size"],
                extras["gates"], extras["norm_gains"], extras["norm_biases"],
                final=None if extras["final_gain"] is None else
                (extras["final_gain"], extras["final_bias"]))  # fmt: skip
        grads = [g for pair in zip(dW, db) for g in pair] + [d_extras[k] for k in trained]
        rate = scheduled_lr(lr, step, steps, **schedule)
        t = step + 1
        for p, g, m, v, scale, decay, e in zip(params, grads, first, second, scales, decays, epss):
            decay = weight_decay * decay
            if optimizer in ("sgd", "adam"):  # L2 decay in the gradient; adamw's is decoupled
                g = g + decay * p
            if optimizer == "sgd":
                m *= momentum
                m += g
                direction = g + momentum * m if nesterov else m
            else:  # adam, adamw
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                direction = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps * e)
            if optimizer == "adamw":
                p *= 1 - rate * scale * decay
            p -= rate * scale * direction
    return (W, b) if residual is None else (W, b, extras)


def probe_metrics(snapshots, X, act, alpha, bounds):
    """Probe metrics per logged step and layer, from (W, b) at each logged step.

    Columns: act mean, act std, saturated, dead, newly dead, revived (as in
    metrics.LAYER_METRICS; NaN where a metric has no meaning).
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


def layernorm(h, gain, bias, eps=1e-5):
    """gain (h - mean) / sqrt(var + eps) + bias over each row (torch.nn.LayerNorm)."""
    mean = h.mean(axis=1, keepdims=True)
    var = h.var(axis=1, keepdims=True)
    return gain * (h - mean) / np.sqrt(var + eps) + bias


def residual_forward(W, b, X, act, alpha, block_size, gates, gains=None, norm_biases=None,
                     eps=1e-5, final=None):  # fmt: skip
    """Output of a pre-activation residual net (engine/residual.py's docstring), written
    from its definition: H_0 = W_0 X + b_0; per block j, P_j = LayerNorm_j(H_j) (or H_j),
    the branch a <- W phi(a) + b over its layers, H_{j+1} = H_j + gates[j] a; out = W_out
    phi(P_L) + b_out with P_L = LayerNorm_f(H_L) when ``final`` (its gain, bias), else H_L."""
    h = X @ W[0].T + b[0]
    blocks = (len(W) - 2) // block_size
    for j in range(blocks):
        a = h if gains is None else layernorm(h, gains[j], norm_biases[j], eps)
        for i in range(block_size):
            layer = 1 + j * block_size + i
            a = activation(act, a, alpha)[0] @ W[layer].T + b[layer]
        h = h + gates[j] * a
    if final is not None:
        h = layernorm(h, *final, eps)
    return activation(act, h, alpha)[0] @ W[-1].T + b[-1]


def residual_loss(W, b, X, y, act, loss_name, alpha, block_size, gates, gains=None,
                  norm_biases=None, final=None):  # fmt: skip
    out = residual_forward(W, b, X, act, alpha, block_size, gates, gains, norm_biases,
                           final=final)  # fmt: skip
    return loss(loss_name, out, y)[0]


def _layernorm_backward(d, h, gain, eps):
    """(dL/dh, dL/dgain, dL/dbias) of layernorm(h, gain, .) from d = its output's gradient."""
    rstd = 1 / np.sqrt(h.var(axis=1, keepdims=True) + eps)
    xhat = (h - h.mean(axis=1, keepdims=True)) * rstd
    dx = d * gain
    dh = rstd * (dx - dx.mean(axis=1, keepdims=True)
                 - xhat * (dx * xhat).mean(axis=1, keepdims=True))  # fmt: skip
    return dh, (d * xhat).sum(axis=0), d.sum(axis=0)


def residual_loss_and_grads(W, b, X, y, act, loss_name, alpha, block_size, gates, gains=None,
                            norm_biases=None, eps=1e-5, final=None):  # fmt: skip
    """(loss, dW, db, {gates, norm_gains, norm_biases} gradients) of residual_forward's net
    (norm gradients None without a norm; final_gain and final_bias too with ``final``), by
    the chain rule written out block by block."""
    blocks = (len(W) - 2) // block_size
    hs = [X @ W[0].T + b[0]]
    cache = []
    for j in range(blocks):
        h = hs[-1]
        xhat = rstd = None
        p = h
        if gains is not None:
            rstd = 1 / np.sqrt(h.var(axis=1, keepdims=True) + eps)
            xhat = (h - h.mean(axis=1, keepdims=True)) * rstd
            p = gains[j] * xhat + norm_biases[j]
        a, layers = p, []
        for i in range(block_size):
            phi, dphi = activation(act, a, alpha)
            a = phi @ W[1 + j * block_size + i].T + b[1 + j * block_size + i]
            layers.append((phi, dphi))
        cache.append((xhat, rstd, layers, a))
        hs.append(h + gates[j] * a)
    top = hs[-1] if final is None else layernorm(hs[-1], *final, eps)
    phi, dphi = activation(act, top, alpha)
    value, delta = loss(loss_name, phi @ W[-1].T + b[-1], y)
    dW, db = [None] * len(W), [None] * len(W)
    dW[-1], db[-1] = delta.T @ phi, delta.sum(axis=0)
    gh = (delta @ W[-1]) * dphi  # dL/dP_L
    d_final = {}
    if final is not None:  # dL/dH_L through the final norm
        gh, d_final["final_gain"], d_final["final_bias"] = _layernorm_backward(
            gh, hs[-1], final[0], eps
        )
    d_gates = np.zeros(blocks)
    d_gains = None if gains is None else np.zeros_like(gains)
    d_norm_biases = None if gains is None else np.zeros_like(norm_biases)
    for j in range(blocks - 1, -1, -1):
        xhat, rstd, layers, branch = cache[j]
        d_gates[j] = (gh * branch).sum()
        d = gates[j] * gh
        for i in range(block_size - 1, -1, -1):
            layer = 1 + j * block_size + i
            phi, dphi = layers[i]
            dW[layer], db[layer] = d.T @ phi, d.sum(axis=0)
            d = (d @ W[layer]) * dphi
        if gains is not None:  # d is dL/dP_j
            d_gains[j], d_norm_biases[j] = (d * xhat).sum(axis=0), d.sum(axis=0)
            dx = d * gains[j]
            d = rstd * (dx - dx.mean(axis=1, keepdims=True)
                        - xhat * (dx * xhat).mean(axis=1, keepdims=True))  # fmt: skip
        gh = gh + d
    dW[0], db[0] = gh.T @ X, gh.sum(axis=0)
    extras = {"gates": d_gates, "norm_gains": d_gains, "norm_biases": d_norm_biases, **d_final}
    return value, dW, db, extras


def finite_difference_mismatch(params, grads, loss_fn, h=1e-6):
    """||analytic - numeric|| / (||analytic|| + ||numeric||) over every entry of ``params``
    (arrays changed in place and restored), numeric by central differences of loss_fn()."""
    analytic, numeric = [], []
    for p, grad in zip(params, grads):
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + h
            up = loss_fn()
            p[idx] = saved - h
            down = loss_fn()
            p[idx] = saved
            numeric.append((up - down) / (2 * h))
            analytic.append(grad[idx])
    analytic, numeric = np.array(analytic), np.array(numeric)
    return np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
