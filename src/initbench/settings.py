"""How a network trains: ``TrainSettings``, the one object a setting travels in, and its defaults.

A training setting is born here and nowhere else: its field (type, default, and the check
every value passes) is read by the planner (a study config's ``defaults:`` block and each
study override it), carried by ``Cell``, stored as a table column, and passed whole to
``train`` and ``train_many``, which hand the kernels its values. To add one: a field
here, its entry in config.schema.json, and the kernels that use it (see
docs/architecture.md, "Adding a training setting").
"""

import math
import numbers
from dataclasses import dataclass, field, fields

import numpy as np

# The settings one CUDA block (one network) may set on its own inside one ``train_many``
# call; the others must be equal across the call's networks (one schedule, one launch).
# The kernels read them from one float64 row per network, in this order.
PER_NETWORK = ("lr", "momentum", "weight_decay")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def positive(name, value, kind=float):
    """A positive finite ``kind`` (bools are not numbers here); else ValueError."""
    ok = _is_number(value)
    try:
        ok = ok and kind(value) == value and value > 0 and math.isfinite(value)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
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


def setting(default, check):
    """A TrainSettings field: its default and the check every value passes."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class TrainSettings:
    """Minibatch SGD with momentum (and optional L2 weight decay), and what it logs.

    ``weight_decay`` adds ``weight_decay * W`` (biases too) to the gradient before the
    momentum update, as torch.optim.SGD does; 0 (the default) leaves the loop as it was.
    """

    steps: int = setting(500, _positive_int)
    lr: float = setting(0.05, positive)
    batch_size: int = setting(64, _positive_int)  # >= the training rows: full batch
    momentum: float = setting(0.0, fraction)
    log_points: int = setting(40, _positive_int)  # logged steps (engine.training.log_schedule)
    eval_rows: int = setting(2048, _positive_int)  # rows the train loss/accuracy are logged on
    weight_decay: float = setting(0.0, non_negative)

    def __post_init__(self):
        for f in fields(self):
            f.metadata["check"](f.name, getattr(self, f.name))

    @classmethod
    def of(cls, settings=None, **values):
        """``settings`` (or the defaults) with ``values`` replacing some fields."""
        base = {} if settings is None else {f.name: getattr(settings, f.name) for f in fields(cls)}
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown training setting(s) {unknown}; known: {', '.join(FIELDS)}")
        return cls(**{**base, **values})

    def per_network(self):
        """The values of ``PER_NETWORK``, as floats (one row of the kernels' ``hyper``)."""
        return [float(getattr(self, name)) for name in PER_NETWORK]

    def shared(self):
        """The settings one ``train_many`` call shares across its networks."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in PER_NETWORK}


FIELDS = tuple(f.name for f in fields(TrainSettings))
_CHECKS = {f.name: f.metadata["check"] for f in fields(TrainSettings)}


def check_setting(name, value, label=None):
    """Check one value of setting ``name`` as TrainSettings does; errors name ``label``."""
    _CHECKS[name](label or name, value)


DEFAULTS = TrainSettings()

# The settings a study sets for its cells besides TrainSettings, and their defaults.
CELL_DEFAULTS = {"dtype": "float64", "seeds": (0, 1, 2)}
