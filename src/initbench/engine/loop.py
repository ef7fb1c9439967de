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

from .hyper import (
    ARCHITECTURE,
    BLOCK_SIZE,
    BRANCH_SCALING,
    GATE,
    LAYERNORM,
    NORM,
    RESIDUAL,
    WEIGHT_DECAY,
)
from .jit import FASTMATH, kernel
from .losses import loss_and_delta
from .network import backward, forward, unit_view, weight_view
from .optimizers import (
    add_weight_decay,
    apply_update,
    bias_corrections,
    decays_gradient,
    scheduled_lr,
    update_state,
)
from .residual import block_view, residual_backward, residual_forward

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
    # Residual nets (engine/residual.py), per block on the row of its last dense layer;
    # NaN elsewhere and in plain nets.
    "branch_ratio",  # ||alpha_j branch_j|| / ||h_j||: the branch against the skip
    "gate",  # the branch scale alpha_j (trained when branch_scaling is gate)
    "norm_gain_mean",  # of the block's LayerNorm gain (NaN without a norm)
    "norm_gain_std",
)
(GRAD_W, GRAD_Z, ACT_MEAN, ACT_STD, PREACT_MEAN, PREACT_SQ, SATURATED, DEAD, WEIGHT_NORM,
 UPDATE_RATIO, SYMMETRY, PROBE_ACT_MEAN, PROBE_ACT_STD, PROBE_SATURATED, PROBE_DEAD,
 PROBE_NEWLY_DEAD, PROBE_REVIVED, BRANCH_RATIO, GATE_VALUE, NORM_GAIN_MEAN,
 NORM_GAIN_STD) = range(len(LAYER_METRICS))  # fmt: skip


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
def layer_statistics(out, z, phi_in, grad, grad_w, w_layer, bias, direction_norm, lr, hidden, lo,
                     hi, into):  # fmt: skip
    """Fill one layer's metric row from its buffers at a logged step (fill_layer_row).

    ``phi_in`` is what the activation reads after the layer (its z in a plain net), on
    which dead units are counted."""
    width = z.shape[1]
    out_mean = total(out) / out.size
    saturated = dead = 0
    largest_sq = 0.0
    if hidden:
        saturated = saturated_count(out, lo, hi)
        for j in range(width):
            dead += int(not unit_is_active(phi_in, j))
        largest_sq = largest_squared_unit_distance(w_layer, bias)
    fill_layer_row(
        into, hidden, lo, hi, z.size, width, lr, direction_norm, sum_sq(grad_w), sum_sq(grad),
        z.sum(), sum_sq(z), out_mean, squared_deviation(out, out_mean), sum_sq(w_layer),
        saturated, dead, largest_sq,
    )  # fmt: skip


@kernel
def probe_statistics(out, phi_in, hidden, lo, hi, first, alive_at_init, died, into):
    """Fill one layer's probe metrics and update its per-unit state.

    ``alive_at_init`` (active at the first logged step; set when ``first``) and ``died``
    (newly dead at some logged step so far) hold one entry per unit of the layer; units
    are counted on ``phi_in``, as in layer_statistics.
    """
    into[PROBE_ACT_MEAN], into[PROBE_ACT_STD] = mean_std(out)
    into[PROBE_SATURATED] = into[PROBE_DEAD] = np.nan  # output layer: not defined
    into[PROBE_NEWLY_DEAD] = into[PROBE_REVIVED] = np.nan
    if not hidden:
        return
    into[PROBE_SATURATED] = saturated_count(out, lo, hi) / out.size if lo < hi else np.nan
    width = phi_in.shape[1]
    dead = newly_dead = revived = 0
    for j in range(width):
        active = unit_is_active(phi_in, j)
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
def network_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, stream, alpha, hyper,
                    keep_layers):  # fmt: skip
    """The forward pass of a plain or a residual net (hyper's architecture); ``stream`` holds
    a residual net's buffers (Hs, Ps, Xh, Rs: see residual.py)."""
    if hyper[ARCHITECTURE] != RESIDUAL:
        return forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, keep_layers)
    Hs, Ps, Xh, Rs = stream
    block_size, use_norm = int(hyper[BLOCK_SIZE]), hyper[NORM] == LAYERNORM
    return residual_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, Hs, Ps, Xh, Rs,
                            alpha, block_size, use_norm, keep_layers)  # fmt: skip


@kernel
def stream_buffers(hyper, sizes, rows, keep_layers, dtype):
    """A residual net's stream buffers (Hs, Ps, Xh, Rs) for ``rows`` rows: one per block
    with ``keep_layers``, else one (evaluation); empty for a plain net."""
    n_layers = sizes.size - 1
    blocks = 0
    if hyper[ARCHITECTURE] == RESIDUAL:
        blocks = (n_layers - 2) // int(hyper[BLOCK_SIZE]) if keep_layers else 1
    size = rows * sizes[1] if blocks > 0 else 0
    per_row = rows if blocks > 0 else 0
    return (np.empty((blocks + 1) * size, dtype), np.empty((blocks + 1) * size, dtype),
            np.empty(blocks * size, dtype), np.empty(blocks * per_row, dtype))  # fmt: skip


@kernel
def evaluate(act, loss_code, w, b, extra, sizes, w_off, b_off, X, targets, Z, A, D, stream, alpha,
             hyper):  # fmt: skip
    """(loss, accuracy) of the network on a whole set, with two-layer scratch memory."""
    out = network_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, stream, alpha, hyper,
                          False)  # fmt: skip
    loss, correct = loss_and_delta(loss_code, out, targets, out, False)
    return loss, correct / X.shape[0]


@kernel
def block_statistics(extra, Z, Hs, rows, width, blocks, block, last, use_norm, into):
    """Block ``block``'s residual metrics (branch_ratio, gate, norm gain) into its last
    dense layer's row (``last``)."""
    gate = extra[block]
    branch = math.sqrt(sum_sq(unit_view(Z, rows, last * width, width)))
    skip = math.sqrt(sum_sq(block_view(Hs, rows, width, block)))
    into[GATE_VALUE] = gate
    into[BRANCH_RATIO] = abs(gate) * branch / skip if skip > 0 else math.nan
    if use_norm:
        start = blocks + block * width
        into[NORM_GAIN_MEAN], into[NORM_GAIN_STD] = mean_std(extra[start : start + width])


@kernel(forceinline=True)
def layer_slices(w_off, b_off, layer):
    """Layer ``layer``'s slices of the flat weight and bias buffers."""
    return slice(w_off[layer], w_off[layer + 1]), slice(b_off[layer], b_off[layer + 1])


@kernel
def train_loop(
    act, loss_code, w, b, extra, sizes, w_off, b_off, X, T, X_eval, T_eval, X_test, T_test,
    X_probe, batches, steps, hyper, lr_scale, extra_scale, alpha, bounds, log_steps, run_log,
    layer_log,
):  # fmt: skip
    """Train in place; return (status, step where it diverged or -1, rows logged).

    ``batches[s]`` holds the training rows of step s (one row of all rows for full-batch
    training; see training.batch_order); ``hyper`` the network's settings.KERNEL_ROW
    values (optimizer, schedule, architecture); ``lr_scale[l]`` the lr multipliers of
    layer l's weights and biases (parametrizations.lr_scales); ``extra`` a residual net's
    branch scales and LayerNorm parameters (residual.extra_layout; empty for a plain net),
    trained at ``extra_scale`` (gates, norms) times the lr where trainable; (X_eval,
    T_eval) are the training rows on which train loss and accuracy are logged. At every
    step s in 0..steps the batch is forwarded and back-propagated; logged steps record
    metrics before the update, so step 0 is the network at initialisation and step
    ``steps`` the trained one (which receives no update). With probe rows (X_probe not
    empty), logged steps also forward them for the probe metrics.
    """
    n_layers = sizes.size - 1
    total_units = sizes[1:].sum()
    n, n_in = X.shape
    rows = batches.shape[1]
    full_batch = rows >= n
    decay_in_gradient = decays_gradient(hyper)
    weight_decay = hyper[WEIGHT_DECAY]
    residual = hyper[ARCHITECTURE] == RESIDUAL
    block_size = int(hyper[BLOCK_SIZE])
    use_norm = hyper[NORM] == LAYERNORM
    blocks = (n_layers - 2) // block_size if residual else 0
    gated = residual and hyper[BRANCH_SCALING] == GATE
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
    stream = stream_buffers(hyper, sizes, max(rows, n_probe), True, dtype)
    eval_stream = stream_buffers(hyper, sizes, max(X_eval.shape[0], X_test.shape[0]), False,
                                 dtype)  # fmt: skip
    Hs, _, Xh, Rs = stream
    width = sizes[1]
    stream_grad = np.empty(rows * width if residual else 0, dtype)
    scratch = np.empty_like(stream_grad)
    gw = np.empty_like(w)
    gb = np.empty_like(b)
    ge = np.zeros_like(extra)
    sw, sb, se = np.zeros_like(w), np.zeros_like(b), np.zeros_like(extra)  # velocity, moment
    sw2, sb2, se2 = np.zeros_like(w), np.zeros_like(b), np.zeros_like(extra)  # Adam's second
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
        out = network_forward(act, w, b, extra, sizes, w_off, b_off, Xb, Z, A, D, stream, alpha,
                              hyper, True)  # fmt: skip
        delta = unit_view(G, rows, total_units - sizes[-1], sizes[-1])
        batch_loss, _ = loss_and_delta(loss_code, out, Tb, delta, True)
        if residual:
            residual_backward(w, extra, sizes, w_off, b_off, Xb, Z, A, D, G, Xh, Rs, block_size,
                              use_norm, gw, gb, ge, stream_grad, scratch)  # fmt: skip
        else:
            backward(w, sizes, w_off, b_off, Xb, A, D, G, gw, gb)
        # the trained extras: the gates (when gated), then the norms' gains and biases
        first_extra = 0 if gated else blocks
        last_extra = ge.size if use_norm else blocks
        if decay_in_gradient:
            add_weight_decay(gw, w, weight_decay)
            add_weight_decay(gb, b, weight_decay)
            add_weight_decay(ge[first_extra:last_extra], extra[first_extra:last_extra],
                             weight_decay)  # fmt: skip
        lr = scheduled_lr(hyper, step, steps)
        bc1, bc2 = bias_corrections(hyper, step)
        grad_sq = 0.0
        for layer in range(n_layers):
            wl, bl = layer_slices(w_off, b_off, layer)
            grad_sq += update_state(gb[bl], sb[bl], sb2[bl], hyper, bc1, bc2)[0]
            g_sq, d_sq = update_state(gw[wl], sw[wl], sw2[wl], hyper, bc1, bc2)
            grad_sq += g_sq
            direction_norms[layer] = math.sqrt(d_sq)
        if last_extra > first_extra:
            grad_sq += update_state(ge[first_extra:last_extra], se[first_extra:last_extra],
                                    se2[first_extra:last_extra], hyper, bc1, bc2)[0]  # fmt: skip
        finite = math.isfinite(batch_loss) and math.isfinite(grad_sq)
        if not finite or (logged < log_steps.size and log_steps[logged] == step):
            row = run_log[logged]
            row[:] = np.nan
            row[STEP] = step
            row[BATCH_LOSS] = batch_loss
            row[GRAD_NORM] = math.sqrt(grad_sq)
            if finite:
                row[TRAIN_LOSS], row[TRAIN_ACCURACY] = evaluate(
                    act, loss_code, w, b, extra, sizes, w_off, b_off, X_eval, T_eval, Ze, Ae, De,
                    eval_stream, alpha, hyper,
                )  # fmt: skip
                if X_test.shape[0] > 0:
                    row[TEST_LOSS], row[TEST_ACCURACY] = evaluate(
                        act, loss_code, w, b, extra, sizes, w_off, b_off, X_test, T_test, Ze, Ae,
                        De, eval_stream, alpha, hyper,
                    )  # fmt: skip
            start = 0
            for layer in range(n_layers):
                units = sizes[layer + 1]
                hidden = layer < n_layers - 1
                z = unit_view(Z, rows, start, units)
                layer_statistics(
                    unit_view(A, rows, start, units) if hidden else z, z,
                    phi_input(stream[1], z, rows, residual and hidden, block_size, layer),
                    unit_view(G, rows, start, units), gw[w_off[layer] : w_off[layer + 1]],
                    weight_view(w, w_off, sizes, layer), b[b_off[layer] : b_off[layer + 1]],
                    direction_norms[layer], lr * lr_scale[layer, 0], hidden, bounds[0], bounds[1],
                    layer_log[logged, layer],
                )  # fmt: skip
                if residual and 0 < layer < n_layers - 1 and layer % block_size == 0:
                    block_statistics(extra, Z, Hs, rows, width, blocks, layer // block_size - 1,
                                     layer, use_norm, layer_log[logged, layer])  # fmt: skip
                start += units
            if finite and n_probe > 0:
                network_forward(act, w, b, extra, sizes, w_off, b_off, X_probe, Ze, Ae, De,
                                stream, alpha, hyper, True)  # fmt: skip
                start = 0
                for layer in range(n_layers):
                    units = sizes[layer + 1]
                    hidden = layer < n_layers - 1
                    z = unit_view(Ze, n_probe, start, units)
                    probe_statistics(
                        unit_view(Ae, n_probe, start, units) if hidden else z,
                        phi_input(stream[1], z, n_probe, residual and hidden, block_size, layer),
                        hidden,
                        bounds[0], bounds[1], logged == 0, alive_at_init[start : start + units],
                        died[start : start + units], layer_log[logged, layer],
                    )  # fmt: skip
                    start += units
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
            if gated:
                apply_update(extra[:blocks], ge[:blocks], se[:blocks], se2[:blocks],
                             lr * extra_scale[0], hyper, bc1, bc2)  # fmt: skip
            if use_norm and residual:
                apply_update(extra[blocks:], ge[blocks:], se[blocks:], se2[blocks:],
                             lr * extra_scale[1], hyper, bc1, bc2)  # fmt: skip
    return COMPLETED, -1, logged


@kernel
def phi_input(Ps, z, rows, residual_hidden, block_size, layer):
    """What the activation reads after dense layer ``layer``: its z, but after a residual
    net's input layer and each block's last layer the stream P_j (residual_hidden: the
    layer is a residual net's, and not its readout)."""
    if residual_hidden and layer % block_size == 0:
        return block_view(Ps, rows, z.shape[1], layer // block_size)
    return z
