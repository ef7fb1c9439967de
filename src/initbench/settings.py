"""How a network trains: ``TrainSettings``, the one object a setting travels in, and its defaults.

A training setting is born here and nowhere else: its field (type, default, and the check
every value passes) is read by the planner (a study config's ``defaults:`` block and each
study override it), carried by ``Cell``, stored as a table column, and passed whole to
``train`` and ``train_many``, which hand the kernels its values. Its check here is the
only one: the config's schema takes the setting's name from ``FIELDS`` and leaves its
values to this check (config.py). To add one: a field here and the kernels that use it
(see docs/architecture.md, "Adding a training setting").

Where an integer is meant (steps, batch_size, ...), an integral float such as 8.0 is
refused, in the API as in a config: the value must be written as an integer.
"""

import math
import numbers
from dataclasses import dataclass, field, fields

import numpy as np

# Each optimizer and schedule, named with the settings that belong to it alone (any other
# optimizer's or schedule's keep their defaults with it). The kernels read a choice as its
# index in its tuple, and run each value by its own branch (engine/hyper.py).
OPTIMIZER_SETTINGS = {
    "sgd": ("momentum", "nesterov"),
    "adam": ("beta1", "beta2", "eps"),
    "adamw": ("beta1", "beta2", "eps"),
}
SCHEDULE_SETTINGS = {"constant": (), "step": ("decay_every", "decay_factor"), "cosine": ()}
OPTIMIZERS = tuple(OPTIMIZER_SETTINGS)
SCHEDULES = tuple(SCHEDULE_SETTINGS)
PARAMETRIZATIONS = ("sp", "ntk", "mup", "depth_mup", "completep")  # see parametrizations.py
# The depth parametrizations: their residual branch exponent alpha (branches times blocks^-alpha)
DEPTH_ALPHA = {"depth_mup": 0.5, "completep": 1.0}
ARCHITECTURES = ("plain", "residual")
RESIDUAL_ONLY = (
    "block_size", "norm", "branch_scaling", "branch_scale", "branch_exponent", "final_norm",
)  # fmt: skip
NORMS = ("none", "layernorm")
BRANCH_SCALINGS = ("fixed", "inv_sqrt_blocks", "gate", "depth_power")
WEIGHT_DECAY_SCALINGS = ("layer_lr", "width_invariant")  # see parametrizations.py

# The settings the kernels read from one float64 row per network (``hyper``), in this
# order; a choice is its index, a bool 0 or 1.
KERNEL_ROW = (
    "lr", "momentum", "weight_decay", "optimizer", "nesterov", "beta1", "beta2", "eps",
    "schedule", "warmup_steps", "decay_every", "decay_factor", "architecture", "block_size",
    "norm", "branch_scaling", "final_norm", "stop_at_test_accuracy",
)  # fmt: skip
# The settings one CUDA block (one network) may set on its own inside one ``train_many``
# call; the others must be equal across the call's networks (one schedule, one launch).
PER_NETWORK = (*KERNEL_ROW, "parametrization", "base_width", "branch_scale", "branch_exponent",
               "weight_decay_scaling")  # fmt: skip


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value):
    """An integer, Python's or NumPy's; not a bool, and not an integral float (8.0)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive(name, value, kind=float):
    """A positive finite ``kind`` (bools are not numbers here, nor 8.0 an int); else
    ValueError."""
    ok = is_integer(value) if kind is int else _is_number(value) and math.isfinite(value)
    if not (ok and value > 0):
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


def fraction(name, value):
    """A number in [0, 1) (bools are not numbers here); else ValueError."""
    if not (_is_number(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def non_negative(name, value):
    """A finite number >= 0 (bools are not numbers here); else ValueError."""
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _positive_int(name, value):
    positive(name, value, int)


def _non_negative_int(name, value):
    if not (is_integer(value) and value >= 0):
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _log_points(name, value):
    """Step 0 and the last step are always logged (engine.training.log_schedule): 1 would
    log what 2 does, so 2 is the least that says what it gets."""
    if not (is_integer(value) and value >= 2):
        raise ValueError(f"{name} must be an integer >= 2 (step 0 and the last), got {value!r}")


def _boolean(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")


def one_of(choices):
    """A check that a value is one of ``choices``."""

    def check(name, value):
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _owners(choices, name):
    """The choices whose own settings include ``name``, as text ("adam or adamw")."""
    return " or ".join(choice for choice, own in choices.items() if name in own)


def setting(default, check):
    """A TrainSettings field: its default and the check every value passes."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class TrainSettings:
    """How a network trains (optimizer, learning-rate schedule, parametrization) and what
    it logs. The defaults are plain minibatch SGD at a constant lr in the standard
    parametrization, as every study before these settings existed.

    - ``optimizer``: ``sgd`` (heavy-ball ``momentum``, or Nesterov's with ``nesterov``, as
      torch.optim.SGD), ``adam`` or ``adamw`` (``beta1``, ``beta2``, ``eps``, as torch.optim.Adam
      and AdamW, bias-corrected).
    - ``weight_decay``: for sgd and adam, ``weight_decay * W`` (biases too) is added to the
      gradient, as torch adds it; for adamw the weights shrink by ``lr * weight_decay`` per
      step, decoupled from the gradient (Loshchilov & Hutter). ``weight_decay_scaling``: how a
      layer's decay follows its lr multiplier (``layer_lr``: times it, as torch param groups
      with scaled lrs; ``width_invariant``: lr x decay per step independent of the width, as
      the mup package's MuAdam and MuSGD; parametrizations.py).
    - ``schedule``: ``constant``, ``step`` (the lr times ``decay_factor`` every
      ``decay_every`` steps) or ``cosine`` (to 0 at the last step); after a linear warm-up
      over ``warmup_steps`` steps (lr (s + 1) / warmup_steps at step s), when set.
    - ``parametrization``: ``sp``, ``ntk`` or ``mup``, per-layer init and lr multipliers as
      functions of the widths relative to ``base_width`` (parametrizations.py); at the base
      width every parametrization is the standard one. ``depth_mup`` (Tensor Programs VI)
      and ``completep`` (Dey et al. 2025) are mup with depth rules for residual nets whose
      branches scale as blocks^-1/2 and blocks^-1 (``branch_scaling: depth_power``).
    - ``architecture``: ``plain`` (the MLP) or ``residual``: an input layer, blocks of
      ``h <- h + alpha_j * branch(h)`` with ``block_size`` dense layers a branch (each after
      the activation: pre-activation), ``norm`` (``layernorm``: pre-norm on the branch, a
      trainable gain and bias), then the readout of phi(h), or of phi(LayerNorm(h)) with
      ``final_norm: layernorm`` (the final norm of pre-LN nets as they are built: it needs
      ``norm: layernorm``; engine/residual.py). The
      branch scale ``alpha_j`` is ``branch_scale`` (``branch_scaling: fixed``), that over
      sqrt(blocks) (``inv_sqrt_blocks``), that times blocks^-``branch_exponent``
      (``depth_power``), or a trainable scalar per block starting at 0 (``gate``: ReZero /
      SkipInit).
    - ``stop_at_test_accuracy``: above 0, training ends (status ``stopped``) at the first
      logged step whose test accuracy reaches it: for studies whose claim reads only when
      a run first gets there (Hanin & Rolnick's steps to 20%), so a long budget costs only
      the slow runs. Every row up to that step is the one a full run logs.
    """

    steps: int = setting(500, _positive_int)
    lr: float = setting(0.05, positive)
    batch_size: int = setting(64, _positive_int)  # >= the training rows: full batch
    momentum: float = setting(0.0, fraction)
    log_points: int = setting(40, _log_points)  # logged steps (engine.training.log_schedule)
    eval_rows: int = setting(2048, _positive_int)  # rows the train loss/accuracy are logged on
    weight_decay: float = setting(0.0, non_negative)
    optimizer: str = setting("sgd", one_of(OPTIMIZERS))
    nesterov: bool = setting(False, _boolean)
    beta1: float = setting(0.9, fraction)
    beta2: float = setting(0.999, fraction)
    eps: float = setting(1e-8, positive)
    schedule: str = setting("constant", one_of(SCHEDULES))
    warmup_steps: int = setting(0, _non_negative_int)
    decay_every: int = setting(0, _non_negative_int)  # steps between decays (schedule step)
    decay_factor: float = setting(0.1, positive)
    parametrization: str = setting("sp", one_of(PARAMETRIZATIONS))
    base_width: int = setting(0, _non_negative_int)  # 0: none; sp ignores it
    architecture: str = setting("plain", one_of(ARCHITECTURES))
    block_size: int = setting(2, _positive_int)  # dense layers a residual branch
    norm: str = setting("none", one_of(NORMS))
    branch_scaling: str = setting("fixed", one_of(BRANCH_SCALINGS))
    branch_scale: float = setting(1.0, positive)
    branch_exponent: float = setting(1.0, non_negative)  # alpha of depth_power
    weight_decay_scaling: str = setting("layer_lr", one_of(WEIGHT_DECAY_SCALINGS))
    final_norm: str = setting("none", one_of(NORMS))  # a LayerNorm before the readout
    stop_at_test_accuracy: float = setting(0.0, fraction)  # 0: train every step

    def __post_init__(self):
        for f in fields(self):
            f.metadata["check"](f.name, getattr(self, f.name))
        for name, message in self._conflicts():
            raise ValueError(f"{name}: {message}")

    def _conflicts(self):
        """(setting, why) for each combination of values that makes no sense."""
        own = OPTIMIZER_SETTINGS[self.optimizer]
        if "momentum" not in own and self.momentum != 0:
            its_own = " (its beta1 is one)" if "beta1" in own else ""
            yield "momentum", f"{self.optimizer} has no momentum setting{its_own}"
        if self.nesterov and ("nesterov" not in own or self.momentum == 0):
            sgd = _owners(OPTIMIZER_SETTINGS, "nesterov")
            yield "nesterov", f"needs optimizer {sgd} with a momentum > 0"
        for name in ("beta1", "beta2", "eps"):
            if name not in own and getattr(self, name) != DEFAULT_VALUES[name]:
                yield name, f"applies to optimizer {_owners(OPTIMIZER_SETTINGS, name)} only"
        own = SCHEDULE_SETTINGS[self.schedule]
        step = _owners(SCHEDULE_SETTINGS, "decay_every")
        if ("decay_every" in own) != (self.decay_every > 0):
            yield "decay_every", f"schedule {step} needs decay_every > 0, and only it uses it"
        if "decay_factor" not in own and self.decay_factor != DEFAULT_VALUES["decay_factor"]:
            yield "decay_factor", f"applies to schedule {step} only"
        if self.warmup_steps >= self.steps:
            yield "warmup_steps", f"{self.warmup_steps} leaves no step after the warm-up"
        if self.architecture == "plain":
            for name in RESIDUAL_ONLY:
                if getattr(self, name) != DEFAULT_VALUES[name]:
                    yield name, "applies to architecture residual only"
        if self.block_size > 2:
            yield "block_size", f"a branch has 1 or 2 dense layers, got {self.block_size}"
        if self.branch_scaling == "gate" and self.branch_scale != DEFAULT_VALUES["branch_scale"]:
            yield "branch_scale", "a gate starts at 0 and learns its scale: give no branch_scale"
        if self.parametrization != "sp" and self.base_width == 0:
            why = f"parametrization {self.parametrization} needs a base_width > 0 (where it is sp)"
            yield "base_width", why
        if self.final_norm != "none" and self.norm == "none":
            yield "final_norm", "a final norm ends a pre-norm net: it needs norm layernorm"
        default_exponent = DEFAULT_VALUES["branch_exponent"]
        if self.branch_scaling != "depth_power" and self.branch_exponent != default_exponent:
            yield "branch_exponent", "applies to branch_scaling depth_power only"
        yield from self._depth_conflicts()

    def _depth_conflicts(self):
        """(setting, why) for a depth parametrization without the net and optimizer it needs."""
        alpha = DEPTH_ALPHA.get(self.parametrization)
        if alpha is None:
            return
        needs = f"parametrization {self.parametrization} needs"
        if self.architecture != "residual":
            yield "architecture", f"{needs} architecture residual"
        elif self.branch_scaling != "depth_power" or self.branch_exponent != alpha:
            yield "branch_scaling", f"{needs} branch_scaling depth_power, branch_exponent {alpha}"
        if self.parametrization == "completep":
            if self.optimizer == "sgd":
                yield "optimizer", "completep's rules (Dey et al. 2025, Table 1) are Adam's"
            if self.weight_decay > 0 and self.weight_decay_scaling != "width_invariant":
                why = "completep's hidden weight decay is lambda x width ratio: width_invariant"
                yield "weight_decay_scaling", why

    @classmethod
    def of(cls, settings=None, **values):
        """``settings`` (or the defaults) with ``values`` replacing some fields."""
        base = {} if settings is None else {f.name: getattr(settings, f.name) for f in fields(cls)}
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown training setting(s) {unknown}; known: {', '.join(FIELDS)}")
        return cls(**{**base, **values})

    def kernel_row(self):
        """The values of ``KERNEL_ROW``, as floats (one row of the kernels' ``hyper``)."""
        return [float(_CHOICES[name].index(value) if name in _CHOICES else value)
                for name, value in ((n, getattr(self, n)) for n in KERNEL_ROW)]  # fmt: skip

    def shared(self):
        """The settings one ``train_many`` call shares across its networks."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in PER_NETWORK}


FIELDS = tuple(f.name for f in fields(TrainSettings))
DEFAULT_VALUES = {f.name: f.default for f in fields(TrainSettings)}
_CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "architecture": ARCHITECTURES,
            "norm": NORMS, "branch_scaling": BRANCH_SCALINGS, "final_norm": NORMS}  # fmt: skip
_CHECKS = {f.name: f.metadata["check"] for f in fields(TrainSettings)}


def check_setting(name, value, label=None):
    """Check one value of setting ``name`` as TrainSettings does; errors name ``label``."""
    _CHECKS[name](label or name, value)


DEFAULTS = TrainSettings()

# The settings a study sets for its cells besides TrainSettings, and their defaults.
CELL_DEFAULTS = {"dtype": "float64", "seeds": (0, 1, 2)}
