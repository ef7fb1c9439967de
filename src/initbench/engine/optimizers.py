"""Optimizers and learning-rate schedules, as the compiled loops run them on both devices.

A step has two passes over each parameter slice. ``update_state`` folds the step's gradient
into the optimizer's state (``s1``: SGD's velocity or Adam's first moment; ``s2``: Adam's
second moment) and returns the squared norms the metrics need; ``apply_update`` then moves
the parameters, after the step's metrics are logged. The per-element formulas
(``sgd_velocity`` ... ``adam_direction``) are the one definition of each optimizer: the CPU
loops here call them over a slice, the GPU loop (``gpu_loop``) over each thread's share,
compiled from the same source. Everything reads the settings from the network's ``hyper``
row (settings.KERNEL_ROW), but for a slice's weight decay and Adam's eps, which the loops
pass as the setting times the slice's multiplier (parametrizations.optimizer_scales).
"""

import math

from .hyper import (
    ADAM,
    ADAMW,
    BETA1,
    BETA2,
    CONSTANT,
    COSINE,
    DECAY_EVERY,
    DECAY_FACTOR,
    LR,
    MOMENTUM,
    NESTEROV,
    OPTIMIZER,
    SCHEDULE,
    SGD,
    STEP_DECAY,
    WARMUP_STEPS,
    WEIGHT_DECAY,
)
from .jit import kernel


@kernel(forceinline=True)
def scheduled_lr(hyper, step, steps):
    """The learning rate of the update at ``step`` (0-based) of ``steps``.

    Constant, step decay (times decay_factor every decay_every steps) or cosine (to 0 at
    the last step), counted from the end of the linear warm-up, during which step s
    trains at (s + 1) / warmup_steps of it. A constant lr without warm-up is hyper[LR]
    exactly. A schedule code without a branch here gives NaN, never another schedule.
    """
    lr = hyper[LR]
    warmup = hyper[WARMUP_STEPS]
    schedule = hyper[SCHEDULE]
    t = max(step - warmup, 0.0)
    if schedule == STEP_DECAY:
        lr *= hyper[DECAY_FACTOR] ** math.floor(t / hyper[DECAY_EVERY])
    elif schedule == COSINE:
        lr *= 0.5 * (1.0 + math.cos(math.pi * min(t / (steps - warmup), 1.0)))
    elif schedule != CONSTANT:  # none such (checks.check_kernel_choices stops it before a run)
        lr = math.nan
    if step < warmup:
        lr *= (step + 1) / warmup
    return lr


@kernel(forceinline=True)
def bias_corrections(hyper, step):
    """Adam's (1 - beta1^t, 1 - beta2^t) for the update at ``step``: t = step + 1 updates."""
    t = step + 1.0
    return 1.0 - hyper[BETA1] ** t, 1.0 - hyper[BETA2] ** t


@kernel(forceinline=True)
def adam_like(optimizer):
    """Whether ``optimizer`` steps along Adam's moments: adam and adamw (which decays apart)."""
    return optimizer == ADAM or optimizer == ADAMW  # noqa: SIM109 (Numba has no tuple `in`)


@kernel(forceinline=True)
def sgd_velocity(g, v, momentum):
    """Heavy-ball velocity, as torch.optim.SGD keeps it (no dampening)."""
    return momentum * v + g


@kernel(forceinline=True)
def nesterov_direction(g, v, momentum):
    """Nesterov's step direction from the updated velocity, as torch.optim.SGD takes it."""
    return g + momentum * v


@kernel(forceinline=True)
def adam_moments(g, m, v, beta1, beta2):
    """Adam's first and second moments after gradient g."""
    return beta1 * m + (1.0 - beta1) * g, beta2 * v + (1.0 - beta2) * g * g


@kernel(forceinline=True)
def adam_direction(m, v, bc1, bc2, eps):
    """Adam's bias-corrected step direction m_hat / (sqrt(v_hat) + eps)."""
    return (m / bc1) / (math.sqrt(v / bc2) + eps)


@kernel
def update_state(grad, s1, s2, hyper, bc1, bc2, eps):
    """Fold ``grad`` into the optimizer's state; return (|grad|^2, |direction|^2).

    The direction is what ``apply_update`` steps along, times the lr: SGD's velocity (or
    Nesterov's look-ahead), Adam's bias-corrected ratio (with the slice's ``eps``). Loops
    run over slices from index 0: with offset ranges Numba cannot rule out negative
    indices, and the wraparound check stops vectorisation (3x slower).
    """
    g_sq = 0.0
    d_sq = 0.0
    optimizer = hyper[OPTIMIZER]
    if optimizer == SGD:
        momentum = hyper[MOMENTUM]
        if hyper[NESTEROV] != 0:
            for i in range(grad.size):
                g = grad[i]
                v = sgd_velocity(g, s1[i], momentum)
                s1[i] = v
                d = nesterov_direction(g, v, momentum)
                g_sq += g * g
                d_sq += d * d
        else:
            for i in range(grad.size):
                g = grad[i]
                v = sgd_velocity(g, s1[i], momentum)
                s1[i] = v
                g_sq += g * g
                d_sq += v * v
    elif adam_like(optimizer):
        beta1, beta2 = hyper[BETA1], hyper[BETA2]
        for i in range(grad.size):
            g = grad[i]
            m, v = adam_moments(g, s1[i], s2[i], beta1, beta2)
            s1[i] = m
            s2[i] = v
            d = adam_direction(m, v, bc1, bc2, eps)
            g_sq += g * g
            d_sq += d * d
    else:  # no such optimizer (checks.check_kernel_choices stops it before a kernel runs)
        return math.nan, math.nan
    return g_sq, d_sq


@kernel
def apply_update(param, grad, s1, s2, lr, weight_decay, eps, hyper, bc1, bc2):
    """param <- param - lr * direction (AdamW first shrinks it by lr * weight_decay); the
    slice's own ``weight_decay`` and Adam ``eps``."""
    optimizer = hyper[OPTIMIZER]
    if optimizer == SGD:
        momentum = hyper[MOMENTUM]
        if hyper[NESTEROV] != 0:
            for i in range(param.size):
                param[i] -= lr * nesterov_direction(grad[i], s1[i], momentum)
        else:
            for i in range(param.size):
                param[i] -= lr * s1[i]
    elif adam_like(optimizer):
        if optimizer == ADAMW and weight_decay != 0:
            shrink = 1.0 - lr * weight_decay
            for i in range(param.size):
                param[i] *= shrink
        for i in range(param.size):
            param[i] -= lr * adam_direction(s1[i], s2[i], bc1, bc2, eps)
    else:  # no such optimizer (checks.check_kernel_choices stops it before a kernel runs)
        param[:] = math.nan


@kernel
def add_weight_decay(grad, param, weight_decay):
    """grad <- grad + weight_decay * param: L2 weight decay, as torch.optim.SGD adds it."""
    for i in range(grad.size):
        grad[i] += weight_decay * param[i]


@kernel(forceinline=True)
def decays_gradient(hyper):
    """Whether weight decay enters the gradient (sgd, adam) rather than the step (adamw)."""
    optimizer = hyper[OPTIMIZER]
    return hyper[WEIGHT_DECAY] != 0 and (optimizer == SGD or optimizer == ADAM)  # noqa: SIM109


@kernel(forceinline=True)
def new_state(hyper, g, s1, s2):
    """One element's optimizer state (s1, s2) after gradient g (the GPU's per-thread form)."""
    optimizer = hyper[OPTIMIZER]
    if optimizer == SGD:
        return sgd_velocity(g, s1, hyper[MOMENTUM]), s2
    if adam_like(optimizer):
        return adam_moments(g, s1, s2, hyper[BETA1], hyper[BETA2])
    return math.nan, math.nan  # no such optimizer (stopped by checks.check_kernel_choices)


@kernel(forceinline=True)
def direction(hyper, g, s1, s2, bc1, bc2, eps):
    """One element's step direction from its updated state (the GPU's per-thread form)."""
    optimizer = hyper[OPTIMIZER]
    if optimizer == SGD:
        if hyper[NESTEROV] != 0:
            return nesterov_direction(g, s1, hyper[MOMENTUM])
        return s1
    if adam_like(optimizer):
        return adam_direction(s1, s2, bc1, bc2, eps)
    return math.nan  # no such optimizer (stopped by checks.check_kernel_choices)
