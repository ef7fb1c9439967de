"""The compiled training loop: minibatch training (optimizers.py) with in-loop metrics
(metrics.py), for plain and residual nets (network.py, residual.py).

The CUDA twin is ``gpu_loop``: both read the metrics' names (log columns, metric indices,
the saturation margin) and share the per-row loss (``losses.loss_sum``), the per-element
saturation test, the optimizers' formulas and the order of the training rows
(``training.batch_order``).

One call trains one network for all its steps; Python only prepares buffers before and
reads the metric arrays after. Divergence (non-finite loss or gradient) ends the loop
with a status, never an exception; so does reaching ``stop_at_test_accuracy`` at a logged
step (``stopped``).
"""

import math

import numpy as np

from .hyper import (
    ARCHITECTURE,
    BIASES,
    BLOCK_SIZE,
    BRANCH_SCALING,
    DECAY_SCALE,
    EPS,
    EPS_SCALE,
    FINAL_NORM,
    GATE,
    GATES,
    LAYERNORM,
    LR_SCALE,
    NORM,
    NORM_PARAMS,
    RESIDUAL,
    STOP_AT_TEST_ACCURACY,
    WEIGHT_DECAY,
    WEIGHTS,
)
from .jit import OrchestrationCompiler, kernel
from .metrics import (
    BATCH_LOSS,
    GRAD_NORM,
    STEP,
    TEST_ACCURACY,
    TEST_LOSS,
    TRAIN_ACCURACY,
    TRAIN_LOSS,
    phi_input,
)
from .network import layer_totals, unit_view, weight_view
from .optimizers import (
    add_weight_decay,
    apply_update,
    bias_corrections,
    decays_gradient,
    scheduled_lr,
    update_state,
)

COMPLETED, DIVERGED, STOPPED = 0, 1, 2
STATUS = {COMPLETED: "completed", DIVERGED: "diverged", STOPPED: "stopped"}
# train_loop's ``kernels``: the large kernels it calls by address (compile_parts.loop_kernels)
BY_ADDRESS = ("forward", "residual_forward", "loss_and_delta", "residual_backward", "backward",
              "layer_statistics", "block_statistics", "probe_statistics")  # fmt: skip


@kernel(forceinline=True)
def network_forward(forward, residual_forward, act, w, b, extra, sizes, w_off, b_off, X, Z, A, D,
                    stream, alpha, hyper, keep_layers):  # fmt: skip
    """The forward pass of a plain net or a residual one (``hyper``'s architecture), by
    address: ``forward`` and ``residual_forward`` as ``train_loop`` gets them; ``stream``
    holds a residual net's buffers (Hs, Ps, Xh, Rs: see residual.py).

    One compiled loop serves both architectures: a run-time branch per pass, where a
    loop specialised on the type of ``extra`` compiled the whole loop twice. A kernel of
    its own, it linked both passes into its module and compiled them again there (1.4 s
    of LLVM's time, and as much again in the evaluation that called it)."""
    if hyper[ARCHITECTURE] != RESIDUAL:
        return forward(act, w, b, sizes, w_off, b_off, X, Z, A, D, alpha, keep_layers)
    Hs, Ps, Xh, Rs = stream
    block_size, use_norm = int(hyper[BLOCK_SIZE]), hyper[NORM] == LAYERNORM
    final_norm = hyper[FINAL_NORM] == LAYERNORM
    return residual_forward(act, w, b, extra, sizes, w_off, b_off, X, Z, A, D, Hs, Ps, Xh, Rs,
                            alpha, block_size, use_norm, final_norm, keep_layers)  # fmt: skip


@kernel
def stream_buffers(like, hyper, sizes, rows, keep_layers):
    """A residual net's stream buffers (Hs, Ps, Xh, Rs) for ``rows`` rows, of ``like``'s
    dtype: one per block and one for the readout's input with ``keep_layers``, else one
    (evaluation); empty for a plain net."""
    blocks, kept_rows = 0, 0
    if hyper[ARCHITECTURE] == RESIDUAL:
        blocks = (sizes.size - 3) // int(hyper[BLOCK_SIZE]) if keep_layers else 1
        kept_rows = rows
    size = kept_rows * sizes[1]
    dtype = like.dtype
    return (np.empty((blocks + 1) * size, dtype), np.empty((blocks + 1) * size, dtype),
            np.empty((blocks + 1) * size, dtype),
            np.empty((blocks + 1) * kept_rows, dtype))  # fmt: skip


@kernel
def work_buffers(w, b, extra, sizes, hyper, rows, n_in, n_targets, eval_size, n_probe):
    """The loop's scratch memory and optimizer state, in the run's dtype but the
    direction norms: a batch's layers (Z, A, D, G) and rows (Xb, Tb); evaluation's and the
    probe pass's layers (Ze, Ae, De); the gradients (gw, gb); the optimizer's state (sw,
    sb: velocity or first moment; sw2, sb2: Adam's second moment); a residual net's
    extras' gradient and state (ge, se, se2) and stream buffers (stream_grad, scratch),
    empty for a plain net; per layer the update's norm, per unit the probe's liveness.

    A kernel of its own, compiled in the loop's part: the array constructors it
    types (each numpy function a compile of its own) then stay out of the loop's compile."""
    total_units, widest = layer_totals(sizes)
    dtype = w.dtype
    layers = np.empty((4, rows * total_units), dtype)
    # evaluation keeps two layers at a time; the probe pass keeps all of them
    eval_layers = np.empty((3, max(eval_size * 2 * widest, n_probe * total_units)), dtype)
    stream_size = rows * sizes[1] if hyper[ARCHITECTURE] == RESIDUAL else 0
    stream = np.empty((2, stream_size), dtype)
    weight_state, bias_state = np.zeros((3, w.size), dtype), np.zeros((3, b.size), dtype)
    extra_state = np.zeros((3, extra.size), dtype)
    alive = np.zeros((2, total_units), np.bool_)
    return ((layers[0], layers[1], layers[2], layers[3]),
            (np.empty((rows, n_in), dtype), np.empty((rows, n_targets), dtype)),
            (eval_layers[0], eval_layers[1], eval_layers[2]),
            (weight_state[0], bias_state[0]),
            (weight_state[1], bias_state[1], weight_state[2], bias_state[2]),
            (extra_state[0], extra_state[1], extra_state[2]),
            (stream[0], stream[1]),
            (np.zeros(sizes.size - 1), alive[0], alive[1]))  # fmt: skip


@kernel(fastmath=False)
def evaluate(forward, residual_forward, loss_and_delta, act, loss_code, w, b, extra, sizes, w_off,
             b_off, X, targets, Z, A, D, stream, alpha, hyper):  # fmt: skip
    """(loss, accuracy) of the network on a whole set, with two-layer scratch memory.

    Without fastmath: inlined into the loop with it, its division by the row count
    became a product with a reciprocal hoisted out of the steps (an accuracy of 0.57 read
    0.5700000000000001)."""
    out = network_forward(forward, residual_forward, act, w, b, extra, sizes, w_off, b_off, X, Z,
                          A, D, stream, alpha, hyper, False)  # fmt: skip
    loss, correct = loss_and_delta(loss_code, out, targets, out, False)
    return loss, correct / X.shape[0]


@kernel(forceinline=True)
def layer_slices(w_off, b_off, layer):
    """Layer ``layer``'s slices of the flat weight and bias buffers."""
    return slice(w_off[layer], w_off[layer + 1]), slice(b_off[layer], b_off[layer + 1])


@kernel(pipeline_class=OrchestrationCompiler)
def train_loop(
    act, loss_code, w, b, extra, sizes, w_off, b_off, X, T, X_eval, T_eval, X_test, T_test,
    X_probe, batches, steps, hyper, scale, extra_scale, alpha, bounds, log_steps, run_log,
    layer_log, kernels,
):  # fmt: skip
    """Train in place; return (status, step where it diverged or -1, rows logged). A run
    whose test accuracy at a logged step reaches hyper's stop_at_test_accuracy (> 0) ends
    there, stopped, with that step's row logged.

    ``batches[s]`` holds the training rows of step s (one row of all rows for full-batch
    training; see training.batch_order); ``hyper`` the network's settings.KERNEL_ROW
    values (optimizer, schedule, architecture); ``scale[l, WEIGHTS or BIASES]`` the
    multipliers of layer l's lr, weight decay and Adam eps (parametrizations.
    optimizer_scales); ``extra`` a residual net's branch scales and LayerNorm parameters
    (residual.extra_layout; empty for a plain net), trained where trainable with the
    multipliers ``extra_scale[GATES or NORM_PARAMS]``; (X_eval,
    T_eval) are the training rows on which train loss and accuracy are logged. At every
    step s in 0..steps the batch is forwarded and back-propagated; logged steps record
    metrics before the update, so step 0 is the network at initialisation and step
    ``steps`` the trained one (which receives no update). With probe rows (X_probe not
    empty), logged steps also forward them for the probe metrics.

    ``kernels`` are the kernels named in ``BY_ADDRESS``, typed as function types
    (compile_parts.loop_kernels): called by address, their code is not linked into the
    loop's, whose compile then optimises and emits its own code alone.
    """
    (forward, residual_forward, loss_and_delta, residual_backward, backward, layer_statistics,
     block_statistics, probe_statistics) = kernels  # fmt: skip
    n_layers = sizes.size - 1
    total_units = layer_totals(sizes)[0]
    n, n_in = X.shape
    rows = batches.shape[1]
    full_batch = rows >= n
    decay_in_gradient = decays_gradient(hyper)
    weight_decay, eps = hyper[WEIGHT_DECAY], hyper[EPS]
    n_probe = X_probe.shape[0]
    eval_size = max(X_eval.shape[0], X_test.shape[0])
    ((Z, A, D, G), (Xb, Tb), (Ze, Ae, De), (gw, gb), (sw, sb, sw2, sb2), (ge, se, se2),
     (stream_grad, scratch), (direction_norms, alive_at_init, died)) = work_buffers(
        w, b, extra, sizes, hyper, rows, n_in, T.shape[1], eval_size, n_probe)  # fmt: skip
    stream = stream_buffers(w, hyper, sizes, max(rows, n_probe), True)
    eval_stream = stream_buffers(w, hyper, sizes, eval_size, False)
    # a residual net's settings (its extras' gradient and state are empty for a plain net)
    residual = hyper[ARCHITECTURE] == RESIDUAL
    block_size = int(hyper[BLOCK_SIZE])
    use_norm = hyper[NORM] == LAYERNORM
    final_norm = hyper[FINAL_NORM] == LAYERNORM
    blocks = (n_layers - 2) // block_size if residual else 0
    gated = hyper[BRANCH_SCALING] == GATE
    width = sizes[1]
    # the trained extras: the gates (when gated), then the norms' gains and biases
    first_extra = 0 if gated else blocks
    last_extra = extra.size if use_norm else blocks
    stop_at = hyper[STOP_AT_TEST_ACCURACY]
    logged = 0
    for step in range(steps + 1):
        if full_batch:
            Xb, Tb = X, T
        else:
            rows_now = batches[step]
            for i in range(rows):  # element by element: a row copy compiles an error message
                for j in range(n_in):
                    Xb[i, j] = X[rows_now[i], j]
                for j in range(Tb.shape[1]):
                    Tb[i, j] = T[rows_now[i], j]
        out = network_forward(forward, residual_forward, act, w, b, extra, sizes, w_off, b_off, Xb,
                              Z, A, D, stream, alpha, hyper, True)  # fmt: skip
        delta = unit_view(G, rows, total_units - sizes[-1], sizes[-1])
        batch_loss, _ = loss_and_delta(loss_code, out, Tb, delta, True)
        if residual:
            residual_backward(w, extra, sizes, w_off, b_off, Xb, Z, A, D, G, stream[2],
                              stream[3], block_size, use_norm, final_norm, gw, gb, ge,
                              stream_grad, scratch)  # fmt: skip
        else:
            backward(w, sizes, w_off, b_off, Xb, A, D, G, gw, gb)
        if decay_in_gradient:
            for layer in range(n_layers):
                wl, bl = layer_slices(w_off, b_off, layer)
                add_weight_decay(gw[wl], w[wl], weight_decay * scale[layer, WEIGHTS, DECAY_SCALE])
                add_weight_decay(gb[bl], b[bl], weight_decay * scale[layer, BIASES, DECAY_SCALE])
            if residual:
                add_weight_decay(ge[first_extra:blocks], extra[first_extra:blocks],
                                 weight_decay * extra_scale[GATES, DECAY_SCALE])  # fmt: skip
                add_weight_decay(ge[blocks:last_extra], extra[blocks:last_extra],
                                 weight_decay * extra_scale[NORM_PARAMS, DECAY_SCALE])  # fmt: skip
        lr = scheduled_lr(hyper, step, steps)
        bc1, bc2 = bias_corrections(hyper, step)
        grad_sq = 0.0
        for layer in range(n_layers):
            wl, bl = layer_slices(w_off, b_off, layer)
            grad_sq += update_state(gb[bl], sb[bl], sb2[bl], hyper, bc1, bc2,
                                    eps * scale[layer, BIASES, EPS_SCALE])[0]  # fmt: skip
            g_sq, d_sq = update_state(gw[wl], sw[wl], sw2[wl], hyper, bc1, bc2,
                                      eps * scale[layer, WEIGHTS, EPS_SCALE])  # fmt: skip
            grad_sq += g_sq
            direction_norms[layer] = math.sqrt(d_sq)
        if residual:  # one pass: the extras' direction (and so their eps) is not logged
            grad_sq += update_state(ge[first_extra:last_extra], se[first_extra:last_extra],
                                    se2[first_extra:last_extra], hyper, bc1, bc2,
                                    eps)[0]  # fmt: skip
        finite = math.isfinite(batch_loss) and math.isfinite(grad_sq)
        if not finite or (logged < log_steps.size and log_steps[logged] == step):
            row = run_log[logged]
            row[:] = np.nan
            row[STEP] = step
            row[BATCH_LOSS] = batch_loss
            row[GRAD_NORM] = math.sqrt(grad_sq)
            if finite:
                row[TRAIN_LOSS], row[TRAIN_ACCURACY] = evaluate(
                    forward, residual_forward, loss_and_delta, act, loss_code, w, b, extra, sizes,
                    w_off, b_off, X_eval, T_eval, Ze, Ae, De, eval_stream, alpha, hyper,
                )  # fmt: skip
                if X_test.shape[0] > 0:
                    row[TEST_LOSS], row[TEST_ACCURACY] = evaluate(
                        forward, residual_forward, loss_and_delta, act, loss_code, w, b, extra,
                        sizes, w_off, b_off, X_test, T_test, Ze, Ae, De, eval_stream, alpha, hyper,
                    )  # fmt: skip
            start = 0
            for layer in range(n_layers):
                units = sizes[layer + 1]
                hidden = layer < n_layers - 1
                z = phi_in = unit_view(Z, rows, start, units)
                if residual:
                    phi_in = phi_input(stream[1], z, rows, hidden, block_size, layer)
                layer_statistics(
                    unit_view(A, rows, start, units) if hidden else z, z, phi_in,
                    unit_view(G, rows, start, units), gw[w_off[layer] : w_off[layer + 1]],
                    weight_view(w, w_off, sizes, layer), b[b_off[layer] : b_off[layer + 1]],
                    direction_norms[layer], lr * scale[layer, WEIGHTS, LR_SCALE], hidden, bounds[0],
                    bounds[1],
                    layer_log[logged, layer],
                )  # fmt: skip
                if residual and 0 < layer < n_layers - 1 and layer % block_size == 0:
                    block_statistics(extra, Z, stream[0], rows, width, blocks,
                                     layer // block_size - 1, layer, use_norm,
                                     layer_log[logged, layer])  # fmt: skip
                start += units
            if finite and n_probe > 0:
                network_forward(forward, residual_forward, act, w, b, extra, sizes, w_off, b_off,
                                X_probe, Ze, Ae, De, stream, alpha, hyper, True)  # fmt: skip
                start = 0
                for layer in range(n_layers):
                    units = sizes[layer + 1]
                    hidden = layer < n_layers - 1
                    z = phi_in = unit_view(Ze, n_probe, start, units)
                    if residual:
                        phi_in = phi_input(stream[1], z, n_probe, hidden, block_size, layer)
                    probe_statistics(
                        unit_view(Ae, n_probe, start, units) if hidden else z, phi_in, hidden,
                        bounds[0], bounds[1], logged == 0, alive_at_init[start : start + units],
                        died[start : start + units], layer_log[logged, layer],
                    )  # fmt: skip
                    start += units
            logged += 1
            if finite and stop_at > 0 and row[TEST_ACCURACY] >= stop_at:
                return STOPPED, -1, logged
        if not finite:
            return DIVERGED, step, logged
        if step < steps:
            for layer in range(n_layers):
                wl, bl = layer_slices(w_off, b_off, layer)
                rule = scale[layer, WEIGHTS]
                apply_update(w[wl], gw[wl], sw[wl], sw2[wl], lr * rule[LR_SCALE],
                             weight_decay * rule[DECAY_SCALE], eps * rule[EPS_SCALE], hyper, bc1,
                             bc2)  # fmt: skip
                rule = scale[layer, BIASES]
                apply_update(b[bl], gb[bl], sb[bl], sb2[bl], lr * rule[LR_SCALE],
                             weight_decay * rule[DECAY_SCALE], eps * rule[EPS_SCALE], hyper, bc1,
                             bc2)  # fmt: skip
            if residual:
                if gated:
                    rule = extra_scale[GATES]
                    apply_update(extra[:blocks], ge[:blocks], se[:blocks], se2[:blocks],
                                 lr * rule[LR_SCALE], weight_decay * rule[DECAY_SCALE],
                                 eps * rule[EPS_SCALE], hyper, bc1, bc2)  # fmt: skip
                if use_norm:
                    rule = extra_scale[NORM_PARAMS]
                    apply_update(extra[blocks:], ge[blocks:], se[blocks:], se2[blocks:],
                                 lr * rule[LR_SCALE], weight_decay * rule[DECAY_SCALE],
                                 eps * rule[EPS_SCALE], hyper, bc1, bc2)  # fmt: skip
    return COMPLETED, -1, logged
