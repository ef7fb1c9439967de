"""The in-loop metrics: the run log's columns, the per-layer metrics and their one definition.

The CPU loop (``loop``) fills them from its buffers; the GPU loop (``gpu_loop``,
``gpu_residual``) reads the same names and compiles ``fill_layer_row`` and
``is_saturated`` from this source, so what each metric means is written once and only
how a layer's sums are added up differs by device.
"""

import math

import numpy as np

from .jit import FASTMATH, kernel
from .network import unit_view
from .residual import block_view

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


@kernel
def phi_input(Ps, z, rows, hidden, block_size, layer):
    """What the activation reads after a residual net's dense layer ``layer``: its z, but
    after the input layer and each block's last layer (not the readout) the stream P_j."""
    if hidden and layer % block_size == 0:
        return block_view(Ps, rows, z.shape[1], layer // block_size)
    return z
