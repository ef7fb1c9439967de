"""One grid cell: a network shape, activation, init and training settings, over several seeds.

``Cell`` is the model only (no kernels here): the planner makes cells, ``trainer`` trains
them, ``tables`` stores what they measured, each row carrying the cell's parameters
(``Cell.columns``, named in ``CELL_PARAMETERS``).
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property

import numpy as np

from .settings import CELL_DEFAULTS, DEFAULTS, FIELDS, TrainSettings


@dataclass(frozen=True)
class Cell:
    """Everything that determines a cell's numbers (the seeds too).

    ``init`` is the config's label for an init variant (scheme plus parameters);
    ``hidden`` lists the hidden layers' widths, so depth = len(hidden) + 1 weight layers;
    ``training`` is how every seed trains (see settings.TrainSettings).
    """

    dataset: str
    activation: str
    init: str
    scheme: str
    hidden: tuple
    seeds: tuple = CELL_DEFAULTS["seeds"]
    training: TrainSettings = DEFAULTS
    loss: str | None = None  # None: the dataset's natural loss
    dtype: str = CELL_DEFAULTS["dtype"]
    init_params: dict = field(default_factory=dict)
    # Fixed rows for the per-layer probe statistics: "none", or the first probe_rows rows
    # (0: all) of the "train" or "test" split.
    probe_split: str = "none"
    probe_rows: int = 0
    # Also the hidden layers' Jacobian spectrum at init on the probe rows (jacobian.py).
    probe_jacobian: bool = False
    # ... on each probe row scaled to the init's fixed point q* (jacobian.rows_at_q).
    probe_at_q_star: bool = False

    @property
    def depth(self):
        return len(self.hidden) + 1

    @property
    def width(self):
        return max(self.hidden, default=0)

    def settings(self):
        """The cell's settings as one flat dict: its fields with ``training``'s in its place."""
        flat = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "training":
                flat.update(asdict(value))
            else:
                flat[f.name] = value
        return flat

    @cached_property
    def key(self):
        """Stable id of the cell's settings: equal settings share one computation.

        Settings added after the first studies (every one not in _KEYED_ALWAYS) enter the
        key only when set, so a cell that leaves them at their defaults keeps its key."""
        settings = {name: value for name, value in self.settings().items()
                    if name in _KEYED_ALWAYS or value != _DEFAULTS[name]}  # fmt: skip
        blob = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]

    @cached_property
    def name(self):
        """Readable, path-safe cell id."""
        return (
            f"{self.dataset}-{self.activation}-{self.init}-d{self.depth}-w{self.width}-{self.key}"
        )

    def columns(self):
        """The cell's parameters as table columns (lists and dicts as JSON text)."""
        row = self.settings()
        row.pop("seeds")
        row["hidden"] = json.dumps(list(self.hidden))
        row["init_params"] = json.dumps(self.init_params, sort_keys=True)
        for name in _FLOAT_FIELDS:  # lr: 1 in a config is still a float column
            row[name] = float(row[name])
        return {"cell": self.name, "depth": self.depth, "width": self.width, **row}


# The settings every cell key has held since the first studies; any other enters the key
# only when it differs from its default. Frozen: a new setting needs no entry here.
_KEYED_ALWAYS = (
    "dataset", "activation", "init", "scheme", "hidden", "seeds", "steps", "lr", "batch_size",
    "loss", "momentum", "dtype", "log_points", "init_params",
)  # fmt: skip
_DEFAULTS = {**{f.name: f.default for f in fields(Cell)}, **asdict(DEFAULTS)}
_FLOAT_FIELDS = tuple(f.name for f in fields(TrainSettings) if f.type is float)

# The cell parameters every table row carries (Cell.columns() without the cell id).
CELL_PARAMETERS = ("depth", "width", *(
    name for f in fields(Cell) if f.name != "seeds"
    for name in (FIELDS if f.name == "training" else [f.name])
))  # fmt: skip


def layer_sizes(data, hidden):
    """[n_features, *hidden, n_outputs]."""
    return [data.n_features, *hidden, data.n_outputs]


def probe_rows(cell: Cell, data):
    """The cell's probe rows (None without a probe): Glorot & Bengio log activation
    statistics on 300 fixed test examples; dead units are counted on the training set."""
    if cell.probe_split == "none":
        return None
    X = data.X_train if cell.probe_split == "train" else data.X_test
    return X[: cell.probe_rows] if cell.probe_rows else X


def majority_rate(data):
    """Accuracy of always predicting the most frequent training class (NaN for regression)."""
    if data.task == "regression":
        return np.nan
    return np.bincount(data.y_train).max() / len(data.y_train)


STEP_WORK = 30_000  # cell_work's fixed cost of one step through one layer
# A training step's cost over plain SGD's, fitted to the kernels' thread CPU per cell of two
# default-tier runs, 2,032 cells (benchmarks/fit_step_factors.py), each cell against the
# SGD cells of its dataset and width: Adam 1.36 (95% interval 1.08-1.72), a residual net's
# pre-LayerNorm 1.15 (0.85-1.57). A residual net without a norm fitted 0.91 (0.76-1.09):
# no factor.
OPTIMIZER_STEP_FACTOR = {"sgd": 1.0, "adam": 1.36, "adamw": 1.36}
NORM_STEP_FACTOR = {"none": 1.0, "layernorm": 1.15}
# A float32 run's cost over float64's, the same fit on two quiet default-tier runs (1,812
# cells, 543 of them float32): 0.65 (0.62-0.67).
DTYPE_FACTOR = {"float64": 1.0, "float32": 0.65}
# A run that stops at a test accuracy (stop_at_test_accuracy) is counted at most this many
# steps: Hanin & Rolnick's runs, its one user, reached 20% in 84 steps on average (220 runs
# of the paper tier at 600 steps; the slowest took more than 600), so for them it is an
# upper bound, where counting the whole budget would overstate them 20-50 times.
STOPPING_RUN_STEPS = 250


def step_factor(training):
    """A training step's cost relative to plain SGD's (OPTIMIZER_STEP_FACTOR, and a
    residual net's NORM_STEP_FACTOR)."""
    return OPTIMIZER_STEP_FACTOR[training.optimizer] * NORM_STEP_FACTOR[training.norm]


def cell_work(cell, data=None):
    """The work of training a cell: multiply-adds of its training steps (three passes over
    each batch) and logged evaluations (eval_rows, test and probe rows), over every layer,
    input and output included, plus STEP_WORK per step and layer (the loop's fixed cost,
    which small batches feel); its steps (a stopping run's at most STOPPING_RUN_STEPS)
    times ``step_factor`` (Adam, LayerNorm), all of it times DTYPE_FACTOR. ``data``: the
    cell's Dataset (None: inputs and outputs as wide as its hidden layers, 500 evaluation
    rows)."""
    t = cell.training
    if data is None:
        sizes, rows = [cell.width, *cell.hidden, cell.width], 500
    else:
        sizes = layer_sizes(data, cell.hidden)
        probe = probe_rows(cell, data)
        rows = min(t.eval_rows, len(data.X_train)) + len(data.X_test)
        rows += 0 if probe is None else len(probe)
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    step = 3 * t.batch_size * weights + STEP_WORK * (len(sizes) - 1)
    steps = min(t.steps, STOPPING_RUN_STEPS) if t.stop_at_test_accuracy > 0 else t.steps
    per_seed = steps * step * step_factor(t) + t.log_points * rows * weights
    return len(cell.seeds) * DTYPE_FACTOR[cell.dtype] * float(per_seed)
