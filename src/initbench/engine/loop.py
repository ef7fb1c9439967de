"""The compiled training loop: minibatch training (optimizers.py) with in-loop metrics.

The CUDA twin is ``gpu_loop``: both read the names below (log columns, metric indices,
the saturation margin) and share the per-row loss (``losses.loss_sum``), the per-element
saturation test and the order of the training rows (``training.batch_order``).

One call trains one network for all its steps; Python only prepares buffers before and
reads the metric arrays after. Divergence (non-finite loss or gradient) ends the loop
with a status, never an exception.
"""

import math

import numpy as np

from .jit import FASTMATH, kernel
from .losses import loss_and_delta
from .network import backward, forward, unit_view, weight_view
from .optimizers import (
    WEIGHT_DECAY,
    add_weight_decay,
    apply_update,
    bias_corrections,
    decays_gradient,
    scheduled_lr,
    update_state,
)

COMPLETED, DIVERGED = 0, 1
STATUS = {COMPLETED: "completed", DIVERGED: "diverged"}

RUN_METRICS = (
    "batch_loss", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "grad_norm",
)  # fmt: skip
# Columns of a run-log row: the step, then RUN_METRICS in order.
RUN_COLUMNS = ("step", *RUN_METRICS)
(STEP, BATCH_LOSS, TRAIN_LOSS, TRAIN_ACCURACY, TEST_LOSS, TEST_ACCURACY,
 GRAD_NORM) = range(len(RUN_COLUMNS))  # fmt: skip
SATURATION_MARGIN = 0.01  # saturated: within this share of the range from either end
LAYER_METRICS = (
    "grad_w_norm",  # ||dL/dW_l||_F
    "grad_z_norm",  # ||dL/dz_l||_F, the back-propagated gradient
    "act_mean",  # of the layer's output (activations; logits for the output layer)
    "act_std",
    "preact_mean",  # of the layer's pre-activations z
    "preact_sq_mean",  # mean z^2: the mean-field q^l
    "saturated_frac",  # outputs within SATURATION_MARGIN of a bounded range's ends
    "dead_frac",  # units with z <= 0 on every sample of the batch
    "weight_norm",  # ||W_l||_F
    "update_ratio",  # ||step of W_l|| / ||W_l||: lr times the optimizer's direction
    "symmetry",  # largest distance between two units' incoming weights and bias
    # On the fixed probe rows (train's X_probe; NaN without one), as Glorot & Bengio
    # measure on 300 held-out examples. Fractions are of the layer's units.
    "probe_act_mean",  # of the layer's output over probe rows and units
    "probe_act_std",
    "probe_saturated_frac",  # as saturated_frac
    "probe_dead_frac",  # units with z <= 0 on every probe row
    "probe_newly_dead",  # units active (z > 0 on some probe row) at step 0, dead now
    "probe_revived",  # units newly dead at an earlier logged step, active again now
)
(GRAD_W, GRAD_Z, ACT_MEAN, ACT_STD, PREACT_MEAN, PREACT_SQ, SATURATED, DEAD, WEIGHT_NORM,
 UPDATE_RATIO, SYMMETRY, PROBE_ACT_MEAN, PROBE_ACT_STD, PROBE_SATURATED, PROBE_DEAD,
 PROBE_NEWLY_DEAD, PROBE_REVIVED) = range(len(LAYER_METRICS))  # fmt: skip


@kernel
def sum_sq(x):
    total = 0.0
    for v in x.reshape(-1):
        total += v * v
    return total


@kernel
def largest_squared_unit_distance(W, bias):
    """Largest squared Euclidean distance between two rows of [W | b]: 0 when all units
    are equal."""
    largest = 0.0
    for i in range(W.shape[0]):
        for j in range(i + 1, W.shape[0]):
            d = (bias[i] - bias[j]) ** 2
            for k in range(W.shape[1]):
                d += (W[i, k] - W[j, k]) ** 2
            largest = max(largest, d)
    return largest


@kernel
def total(x):
    """Sum of all entries, in order."""
    value = 0.0
    for v in x.reshape(-1):
        value += v
    return value


@kernel
def squared_deviation(x, mean):
    """Sum of (x - mean)^2 over all entries."""
    value = 0.0
    for v in x.reshape(-1):
        value += (v - mean) ** 2
    return value


@kernel
def mean_std(x):
    """Mean and (population) standard deviation of all entries, in two passes."""
    mean = total(x) / x.size
    return mean, math.sqrt(squared_deviation(x, mean) / x.size)


@kernel(forceinline=True)
def is_saturated(v, lo, hi):
    """Whether output ``v`` lies within SATURATION_MARGIN of the range ends [lo, hi]."""
    margin = SATURATION_MARGIN * (hi - lo)
    return v <= lo + margin or v >= hi - margin


@kernel
def saturated_count(out, lo, hi):
    """How many outputs are saturated (is_saturated)."""
    saturated = 0
    for v in out.reshape(-1):
        saturated += int(is_saturated(v, lo, hi))
    return saturated


@kernel
def unit_is_active(z, unit):
    """Whether unit ``unit`` has z > 0 on some row."""
    for i in range(z.shape[0]):  # noqa: SIM110 (Numba compiles no any(generator))
        if z[i, unit] > 0:
            return True
    return False


# No "arcp" here: it lets LLVM turn the divisions by one ``size`` into products with one
# reciprocal, which moves the means by an ulp from a true division.
@kernel(forceinline=True, fastmath=set(FASTMATH - {"arcp"}))
def fill_layer_row(
    into, hidden, lo, hi, size, width, lr, direction_norm, g_w_sq, g_z_sq, z_sum, z_sq,
    out_mean, out_dev_sq, w_sq, saturated, dead, largest_sq,
):  # fmt: skip
    """One layer's LAYER_METRICS row (but the probe's) from its sums over the batch.

    The one definition of each metric: the CPU (``layer_statistics``) adds the sums up in
    order, the GPU (``gpu_loop``) in a tree over a block's threads. ``size`` is the
    layer's batch x width entries; the saturated and dead counts and the largest squared
    distance between two units (``largest_squared_unit_distance``) are read for hidden layers only.
    """
    into[GRAD_W] = math.sqrt(g_w_sq)
    into[GRAD_Z] = math.sqrt(g_z_sq)
    into[PREACT_SQ] = z_sq / size
    into[PREACT_MEAN] = z_sum / size
    into[ACT_MEAN] = out_mean
    into[ACT_STD] = math.sqrt(out_dev_sq / size)
    weight_norm = math.sqrt(w_sq)
    into[WEIGHT_NORM] = weight_norm
    into[UPDATE_RATIO] = lr * direction_norm / weight_norm if weight_norm > 0 else math.nan
    into[SATURATED] = saturated / size if hidden and lo < hi else math.nan  # NaN: unbounded
    into[DEAD] = dead / width if hidden else math.nan  # the output layer: not defined
    into[SYMMETRY] = math.sqrt(largest_sq) if hidden else math.nan


@kernel
def layer_statistics(out, z, grad, grad_w, w_layer, bias, direction_norm, lr, hidden, lo, hi,
                     into):  # fmt: skip
    """Fill one layer's metric row from its buffers at a logged step (fill_layer_row)."""
    width = z.shape[1]
    out_mean = total(out) / out.size
    saturated = dead = 0
    largest_sq = 0.0
    if hidden:
        saturated = saturated_count(out, lo, hi)
        for j in range(width):
            dead += int(not unit_is_active(z, j))
        largest_sq = largest_squared_unit_distance(w_layer, bias)
    fill_layer_row(
        into, hidden, lo, hi, z.size, width, lr, direction_norm, sum_sq(grad_w), sum_sq(grad),
        z.sum(), sum_sq(z), out_mean, squared_deviation(out, out_mean), sum_sq(w_layer),
        saturated, dead, largest_sq,
    )  # fmt: skip


@kernel
def probe_statistics(out, z, hidden, lo, hi, first, alive_at_init, died, into):
    """Fill one layer's probe metrics and update its per-unit state.

    ``alive_at_init`` (active at the first logged step; set when ``first``) and ``died``
    (newly dead at some logged step so far) hold one entry per unit of the layer.
    """
    into[PROBE_ACT_MEAN], into[PROBE_ACT_STD] = mean_std(out)
    into[PROBE_SATURATED] = into[PROBE_DEAD] = np.nan  # output layer: not defined
    into[PROBE_NEWLY_DEAD] = into[PROBE_REVIVED] = np.nan
    if not hidden:
        return
    into[PROBE_SATURATED] = saturated_count(out, lo, hi) / out.size if lo < hi else np.nan
    width = z.shape[1]
    dead = newly_dead = revived = 0
    for j in range(width):
        active = unit_is_active(z, j)
        if first:
            alive_at_init[j] = active
        gone = alive_at_init[j] and not active
        dead += int(not active)
        newly_dead += int(gone)
        revived += int(died[j] and active)
        died[j] = died[j] or gone
    into[PROBE_DEAD] = dead / width
    into[PROBE_NEWLY_DEAD] = newly_dead / width
    into[PROBE_REVIVED] = revived / width


@kernel
def evaluate(act, loss_code, w, b, sizes, w_off, b_off, X, targets, Z, A, D, alpha):
    """(loss, accuracy) of the network on a whole set, with two-layer scratch memory."""
    out = forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, False)
    loss, correct = loss_and_delta(loss_code, out, targets, out, False)
    return loss, correct / X.shape[0]


@kernel(forceinline=True)
def layer_slices(w_off, b_off, layer):
    """Layer ``layer``'s slices of the flat weight and bias buffers."""
    return slice(w_off[layer], w_off[layer + 1]), slice(b_off[layer], b_off[layer + 1])


@kernel
def train_loop(
    act, loss_code, w, b, sizes, w_off, b_off, X, T, X_eval, T_eval, X_test, T_test, X_probe,
    batches, steps, hyper, lr_scale, alpha, bounds, log_steps, run_log, layer_log,
):  # fmt: skip
    """Train in place; return (status, step where it diverged or -1, rows logged).

    ``batches[s]`` holds the training rows of step s (one row of all rows for full-batch
    training; see training.batch_order); ``hyper`` the network's settings.KERNEL_ROW
    values (optimizer, schedule and their settings); ``lr_scale[l]`` the lr multipliers of
    layer l's weights and biases (parametrizations.lr_scales); (X_eval, T_eval) are
    the training rows on which train loss and accuracy are logged. At every step s in
    0..steps the batch is forwarded and back-propagated; logged steps record metrics
    before the update, so step 0 is the network at initialisation and step ``steps``
    the trained one (which receives no update). With probe rows (X_probe not empty),
    logged steps also forward them for the probe metrics.
    """
    n_layers = sizes.size - 1
    total_units = sizes[1:].sum()
    n, n_in = X.shape
    rows = batches.shape[1]
    full_batch = rows >= n
    decay_in_gradient = decays_gradient(hyper)
    weight_decay = hyper[WEIGHT_DECAY]
    dtype = w.dtype
    Z = np.empty(rows * total_units, dtype)
    A = np.empty_like(Z)
    D = np.empty_like(Z)
    G = np.empty_like(Z)
    Xb = np.empty((rows, n_in), dtype)
    Tb = np.empty((rows, T.shape[1]), dtype)
    n_probe = X_probe.shape[0]
    # evaluation keeps two layers at a time; the probe pass keeps all of them
    eval_rows = max(max(X_eval.shape[0], X_test.shape[0]) * 2 * sizes[1:].max(),
                    n_probe * total_units)  # fmt: skip
    Ze = np.empty(eval_rows, dtype)
    Ae = np.empty_like(Ze)
    De = np.empty_like(Ze)
    gw = np.empty_like(w)
    gb = np.empty_like(b)
    sw, sb = np.zeros_like(w), np.zeros_like(b)  # optimizer state: velocity or first moment
    sw2, sb2 = np.zeros_like(w), np.zeros_like(b)  # Adam's second moment
    direction_norms = np.zeros(n_layers)
    alive_at_init = np.zeros(total_units, np.bool_)  # per unit, for the probe metrics
    died = np.zeros(total_units, np.bool_)
    logged = 0
    for step in range(steps + 1):
        if full_batch:
            Xb, Tb = X, T
        else:
            rows_now = batches[step]
            for i in range(rows):
                Xb[i] = X[rows_now[i]]
                Tb[i] = T[rows_now[i]]
        out = forward(act, w, b, sizes, w_off, b_off, Xb, Z, A, D, alpha, True)
        delta = unit_view(G, rows, total_units - sizes[-1], sizes[-1])
        batch_loss, _ = loss_and_delta(loss_code, out, Tb, delta, True)
        backward(w, sizes, w_off, b_off, Xb, A, D, G, gw, gb)
        if decay_in_gradient:
            add_weight_decay(gw, w, weight_decay)
            add_weight_decay(gb, b, weight_decay)
        lr = scheduled_lr(hyper, step, steps)
        bc1, bc2 = bias_corrections(hyper, step)
        grad_sq = 0.0
        for layer in range(n_layers):
            wl, bl = layer_slices(w_off, b_off, layer)
            grad_sq += update_state(gb[bl], sb[bl], sb2[bl], hyper, bc1, bc2)[0]
            g_sq, d_sq = update_state(gw[wl], sw[wl], sw2[wl], hyper, bc1, bc2)
            grad_sq += g_sq
            direction_norms[layer] = math.sqrt(d_sq)
        finite = math.isfinite(batch_loss) and math.isfinite(grad_sq)
        if not finite or (logged < log_steps.size and log_steps[logged] == step):
            row = run_log[logged]
            row[:] = np.nan
            row[STEP] = step
            row[BATCH_LOSS] = batch_loss
            row[GRAD_NORM] = math.sqrt(grad_sq)
            if finite:
                row[TRAIN_LOSS], row[TRAIN_ACCURACY] = evaluate(
                    act, loss_code, w, b, sizes, w_off, b_off, X_eval, T_eval, Ze, Ae, De, alpha
                )
                if X_test.shape[0] > 0:
                    row[TEST_LOSS], row[TEST_ACCURACY] = evaluate(
                        act, loss_code, w, b, sizes, w_off, b_off, X_test, T_test, Ze, Ae, De,
                        alpha,
                    )  # fmt: skip
            start = 0
            for layer in range(n_layers):
                width = sizes[layer + 1]
                hidden = layer < n_layers - 1
                z = unit_view(Z, rows, start, width)
                layer_statistics(
                    unit_view(A, rows, start, width) if hidden else z, z,
                    unit_view(G, rows, start, width), gw[w_off[layer] : w_off[layer + 1]],
                    weight_view(w, w_off, sizes, layer), b[b_off[layer] : b_off[layer + 1]],
                    direction_norms[layer], lr * lr_scale[layer, 0], hidden, bounds[0], bounds[1],
                    layer_log[logged, layer],
                )  # fmt: skip
                start += width
            if finite and n_probe > 0:
                forward(act, w, b, sizes, w_off, b_off, X_probe, Ze, Ae, De, alpha, True)
                start = 0
                for layer in range(n_layers):
                    width = sizes[layer + 1]
                    hidden = layer < n_layers - 1
                    z = unit_view(Ze, n_probe, start, width)
                    probe_statistics(
                        unit_view(Ae, n_probe, start, width) if hidden else z, z, hidden,
                        bounds[0], bounds[1], logged == 0, alive_at_init[start : start + width],
                        died[start : start + width], layer_log[logged, layer],
                    )  # fmt: skip
                    start += width
            logged += 1
        if not finite:
            return DIVERGED, step, logged
        if step < steps:
            for layer in range(n_layers):
                wl, bl = layer_slices(w_off, b_off, layer)
                apply_update(w[wl], gw[wl], sw[wl], sw2[wl], lr * lr_scale[layer, 0], hyper, bc1,
                             bc2)  # fmt: skip
                apply_update(b[bl], gb[bl], sb[bl], sb2[bl], lr * lr_scale[layer, 1], hyper, bc1,
                             bc2)  # fmt: skip
    return COMPLETED, -1, logged
