"""The kernels' view of a network's settings: indices into its ``hyper`` row and the codes
of its choices (settings.KERNEL_ROW, read by both loops)."""

from ..settings import ARCHITECTURES, BRANCH_SCALINGS, KERNEL_ROW, NORMS, OPTIMIZERS, SCHEDULES

(LR, MOMENTUM, WEIGHT_DECAY, OPTIMIZER, NESTEROV, BETA1, BETA2, EPS, SCHEDULE, WARMUP_STEPS,
 DECAY_EVERY, DECAY_FACTOR, ARCHITECTURE, BLOCK_SIZE, NORM, BRANCH_SCALING) = map(
    KERNEL_ROW.index, (
        "lr", "momentum", "weight_decay", "optimizer", "nesterov", "beta1", "beta2", "eps",
        "schedule", "warmup_steps", "decay_every", "decay_factor", "architecture",
        "block_size", "norm", "branch_scaling",
    ))  # fmt: skip
SGD, ADAM, ADAMW = map(OPTIMIZERS.index, ("sgd", "adam", "adamw"))
CONSTANT, STEP_DECAY, COSINE = map(SCHEDULES.index, ("constant", "step", "cosine"))
RESIDUAL = ARCHITECTURES.index("residual")
LAYERNORM = NORMS.index("layernorm")
GATE = BRANCH_SCALINGS.index("gate")
