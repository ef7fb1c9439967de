"""The kernels' view of a network's settings: indices into its ``hyper`` row and the codes
of its choices (settings.KERNEL_ROW, read by both loops).

The kernels name every optimizer and schedule they run (``KERNEL_OPTIMIZERS``,
``KERNEL_SCHEDULES``); none runs one value as another. A value the settings allow but no
kernel branch runs is stopped by checks.check_kernel_choices before anything compiles.
Everything read here from outside engine/ is baked into the compiled kernels, so it is
part of their cache key (``BAKED``, read by jit.py).
"""

from ..parametrizations import SCALE_LAYOUT
from ..settings import ARCHITECTURES, BRANCH_SCALINGS, KERNEL_ROW, NORMS, OPTIMIZERS, SCHEDULES

(LR, MOMENTUM, WEIGHT_DECAY, OPTIMIZER, NESTEROV, BETA1, BETA2, EPS, SCHEDULE, WARMUP_STEPS,
 DECAY_EVERY, DECAY_FACTOR, ARCHITECTURE, BLOCK_SIZE, NORM, BRANCH_SCALING, FINAL_NORM,
 STOP_AT_TEST_ACCURACY) = map(
    KERNEL_ROW.index, (
        "lr", "momentum", "weight_decay", "optimizer", "nesterov", "beta1", "beta2", "eps",
        "schedule", "warmup_steps", "decay_every", "decay_factor", "architecture",
        "block_size", "norm", "branch_scaling", "final_norm", "stop_at_test_accuracy",
    ))  # fmt: skip
KERNEL_OPTIMIZERS = ("sgd", "adam", "adamw")
KERNEL_SCHEDULES = ("constant", "step", "cosine")
SGD, ADAM, ADAMW = map(OPTIMIZERS.index, KERNEL_OPTIMIZERS)
CONSTANT, STEP_DECAY, COSINE = map(SCHEDULES.index, KERNEL_SCHEDULES)
RESIDUAL = ARCHITECTURES.index("residual")
LAYERNORM = NORMS.index("layernorm")
GATE = BRANCH_SCALINGS.index("gate")

# The values above come from these; a compiled kernel is only valid for the same ones.
# The per-parameter multipliers' axes (parametrizations.optimizer_scales): which rule
# (lr, weight decay, eps), which of a layer's parameters, which extra
_RULES, _LAYER_PARAMS, _EXTRA_PARAMS = SCALE_LAYOUT
LR_SCALE, DECAY_SCALE, EPS_SCALE = map(_RULES.index, ("lr", "weight_decay", "eps"))
WEIGHTS, BIASES = map(_LAYER_PARAMS.index, ("weights", "biases"))
GATES, NORM_PARAMS = map(_EXTRA_PARAMS.index, ("gates", "norms"))

BAKED = (KERNEL_ROW, OPTIMIZERS, SCHEDULES, ARCHITECTURES, NORMS, BRANCH_SCALINGS, SCALE_LAYOUT)
