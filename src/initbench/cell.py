"""One grid cell: a network shape, activation, init and training setting, over several seeds.

The CLI and the pipeline both train through ``train_cell``, so a cell gives the same
numbers whichever way it is run. Results are tidy tables: one row per run, per logged
step, and per logged step and layer, each carrying the cell's parameters.
"""

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from itertools import repeat

import numpy as np
import pyarrow as pa

from .config import TRAINING_DEFAULTS
from .datasets import Dataset
from .engine.activations import get_activation
from .engine.training import train
from .inits import init_params


@dataclass(frozen=True)
class Cell:
    """Everything that determines a cell's numbers (the seeds too).

    ``init`` is the config's label for an init variant (scheme plus parameters);
    ``hidden`` lists the hidden layers' widths, so depth = len(hidden) + 1 weight layers.
    """

    dataset: str
    activation: str
    init: str
    scheme: str
    hidden: tuple
    seeds: tuple
    steps: int
    lr: float
    batch_size: int
    loss: str | None = None  # None: the dataset's natural loss
    momentum: float = TRAINING_DEFAULTS["momentum"]
    dtype: str = TRAINING_DEFAULTS["dtype"]
    log_points: int = TRAINING_DEFAULTS["log_points"]
    init_params: dict = field(default_factory=dict)
    # Fixed rows for the per-layer probe statistics: "none", or the first probe_rows rows
    # (0: all) of the "train" or "test" split.
    probe_split: str = "none"
    probe_rows: int = 0

    @property
    def depth(self):
        return len(self.hidden) + 1

    @property
    def width(self):
        return max(self.hidden, default=0)

    @cached_property
    def key(self):
        """Stable id of the cell's settings: equal settings share one computation."""
        settings = asdict(self)
        for name in _KEYED_WHEN_SET:  # added later: a cell without them keeps its old key
            if settings[name] == _DEFAULTS[name]:
                del settings[name]
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
        row = asdict(self)
        row.pop("seeds")
        row["hidden"] = json.dumps(list(self.hidden))
        row["init_params"] = json.dumps(self.init_params, sort_keys=True)
        for name in _FLOAT_FIELDS:  # lr: 1 in a config is still a float column
            row[name] = float(row[name])
        return {"cell": self.name, "depth": self.depth, "width": self.width, **row}


_DEFAULTS = {f.name: f.default for f in fields(Cell)}
_KEYED_WHEN_SET = ("probe_split", "probe_rows")
_FLOAT_FIELDS = tuple(f.name for f in fields(Cell) if f.type is float)

# The cell parameters every table row carries (Cell.columns() without the cell id).
CELL_PARAMETERS = ("depth", "width", *(f.name for f in fields(Cell) if f.name != "seeds"))


def layer_sizes(data: Dataset, hidden):
    """[n_features, *hidden, n_outputs]."""
    return [data.n_features, *hidden, data.n_outputs]


def initial_network(cell: Cell, data: Dataset, seed):
    """The cell's (W, b) for one seed, drawn from its init scheme."""
    act = get_activation(cell.activation)
    return init_params(cell.scheme, layer_sizes(data, cell.hidden), activation=act, seed=seed,
                       dtype=cell.dtype, X=data.X_train, **cell.init_params)  # fmt: skip


def train_cell(cell: Cell, data: Dataset, on_seed_done=None):
    """Train every seed of ``cell`` on ``data``; return the runs, curves and layers tables
    (pandas). ``on_seed_done(seed, result, seconds)`` is called after each seed."""
    tables = cell_tables(cell, data, train_seeds(cell, data, on_seed_done))
    return tuple(table.to_pandas() for table in tables)


def train_seeds(cell: Cell, data: Dataset, on_seed_done=None):
    """``(seed, TrainResult, seconds, thread CPU seconds)`` for every seed of ``cell``."""
    probe = probe_rows(cell, data)
    results = []
    for seed in cell.seeds:
        W, b = initial_network(cell, data, seed)
        start, start_cpu = time.perf_counter(), time.thread_time()
        res = train(
            W, b, data.X_train, data.y_train, activation=cell.activation,
            loss=cell.loss or data.default_loss, lr=cell.lr, batch_size=cell.batch_size,
            steps=cell.steps, seed=seed, X_test=data.X_test, y_test=data.y_test,
            momentum=cell.momentum, log_points=cell.log_points, X_probe=probe,
        )  # fmt: skip
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - start_cpu
        results.append((seed, res, seconds, cpu_seconds))
        if on_seed_done is not None:
            on_seed_done(seed, res, seconds)
    return results


RUN_COLUMN_TYPES = {"seed": pa.int64(), "status": pa.large_string(), "diverged_step": pa.int64()}


def cell_tables(cell: Cell, data: Dataset, results):
    """The runs, curves and layers tables of a cell (Arrow) from its ``(seed, TrainResult,
    seconds, thread CPU seconds)`` per seed, each row carrying the cell's parameters."""
    params = [cell_parameters(cell, data)]
    return tuple(with_cells([table], params) for table in measured_tables(data, results))


def cell_parameters(cell: Cell, data: Dataset):
    """The columns every row of a cell's tables carries: its settings, the loss resolved."""
    return {**cell.columns(), "loss": cell.loss or data.default_loss}


def measured_tables(data: Dataset, results):
    """The runs, curves and layers tables of a cell without its parameters: what it measured.

    Built as Arrow columns, not pandas frames: a study has thousands of small cells, and
    pandas' per-column bookkeeping once cost more than some cells' training."""
    runs = {
        "seed": [seed for seed, *_ in results],
        "status": [res.status for _, res, *_ in results],
        "diverged_step": [
            -1 if res.diverged_step is None else res.diverged_step for _, res, *_ in results
        ],  # fmt: skip
        "initial_train_loss": [res.history_columns["train_loss"][0] for _, res, *_ in results],
        **{
            f"final_{k}": [res.history_columns[k][-1] for _, res, *_ in results]
            for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
        },  # fmt: skip
        "majority_rate": [majority_rate(data)] * len(results),
        "train_seconds": [seconds for *_, seconds, _ in results],
        # this thread's CPU time: no waiting for a core
        "train_cpu_seconds": [cpu_seconds for *_, cpu_seconds in results],
    }
    runs = pa.table({name: pa.array(values, RUN_COLUMN_TYPES.get(name, pa.float64()))
                     for name, values in runs.items()})  # fmt: skip
    return runs, _stacked(results, "history_columns"), _stacked(results, "layer_columns")


def _stacked(results, attribute):
    """One TrainResult table (``history_columns`` or ``layer_columns``) of every seed, with
    a seed column."""
    tables = [getattr(res, attribute) for _, res, *_ in results]
    columns = {name: np.concatenate([table[name] for table in tables]) for name in tables[0]}
    rows = [len(table["step"]) for table in tables]
    columns["seed"] = np.repeat([seed for seed, *_ in results], rows)
    return pa.table(columns)


def with_cells(tables, parameters, after=None, map_=map):
    """Measured tables of several cells as one table: each row with its cell's
    ``parameters`` (a dict per cell) before the measured columns, and ``after`` (dicts too,
    e.g. provenance) after them. Columns missing in some cells are filled with nulls,
    int64 promoted to float64 where cells disagree. ``map_``: a pool's map, to repeat the
    columns side by side (Arrow releases the GIL)."""
    measured = pa.concat_tables([table.replace_schema_metadata() for table in tables],
                                promote_options="permissive")  # fmt: skip
    rows = pa.array(np.repeat(np.arange(len(tables), dtype=np.int32),
                              [table.num_rows for table in tables]))  # fmt: skip

    def repeated(dicts):
        names = dict.fromkeys(name for d in dicts for name in d)
        per_cell = [
            pa.array(v, constant_type(v)) for v in ([d.get(n) for d in dicts] for n in names)
        ]
        return dict(zip(names, map_(_repeated, per_cell, repeat(rows))))

    columns = repeated(parameters)
    columns.update(zip(measured.column_names, measured.columns))
    columns.update(repeated(after or []))
    return pa.table(columns)


def _repeated(values, rows):
    """``values`` (one per cell) at ``rows`` (cell numbers). Text through a dictionary:
    decoding one is several times faster than taking strings."""
    if pa.types.is_large_string(values.type):
        return pa.DictionaryArray.from_arrays(rows, values).cast(values.type)
    return values.take(rows)


def with_constants(table, values):
    """``table`` with one more column per ``values`` item, that value on every row (ints as
    int64, floats as float64, the rest as strings)."""
    for name, value in values.items():
        column = pa.repeat(pa.scalar(value, constant_type([value])), table.num_rows)
        table = table.append_column(name, column)
    return table


def constant_type(values):
    """The column type of ``values`` (None aside): bool, int64, float64 (ints and floats
    mixed), or else string."""
    kinds = {pa.bool_() if isinstance(v, bool) else pa.int64() if isinstance(v, int)
             else pa.float64() if isinstance(v, float) else pa.large_string()
             for v in values if v is not None}  # fmt: skip
    if kinds <= {pa.int64(), pa.float64()} and len(kinds) == 2:
        return pa.float64()
    return kinds.pop() if len(kinds) == 1 else pa.large_string()


def probe_rows(cell: Cell, data: Dataset):
    """The cell's probe rows (None without a probe): Glorot & Bengio log activation
    statistics on 300 fixed test examples; dead units are counted on the training set."""
    if cell.probe_split == "none":
        return None
    X = data.X_train if cell.probe_split == "train" else data.X_test
    return X[: cell.probe_rows] if cell.probe_rows else X


def majority_rate(data: Dataset):
    """Accuracy of always predicting the most frequent training class (NaN for regression)."""
    if data.task == "regression":
        return np.nan
    return np.bincount(data.y_train).max() / len(data.y_train)


def train_cells_together(cells, data: Dataset, device):
    """Train several cells on one dataset with ``train_many``: every (cell, seed) network of
    one architecture and training schedule in one call, so that on a GPU thousands of small
    networks train side by side. Returns {cell name: what ``train_seeds`` returns for it}.
    Cells with probe rows train one by one (``train_many`` logs no probe statistics).
    """
    from .engine.many import train_many

    results = {}
    groups = {}
    for cell in cells:
        if cell.probe_split != "none":
            results[cell.name] = train_seeds(cell, data)
            continue
        shape = (cell.activation, cell.hidden, cell.loss, cell.steps, cell.batch_size,
                 cell.log_points, cell.dtype)  # fmt: skip
        groups.setdefault(shape, []).append(cell)
    for group in groups.values():
        members = [(cell, seed) for cell in group for seed in cell.seeds]
        start, start_cpu = time.perf_counter(), time.thread_time()
        trained = train_many(
            [initial_network(cell, data, seed) for cell, seed in members], data.X_train,
            data.y_train, activation=group[0].activation,
            loss=group[0].loss or data.default_loss, lr=[c.lr for c, _ in members],
            batch_size=group[0].batch_size, steps=group[0].steps,
            seeds=[seed for _, seed in members], momentum=[c.momentum for c, _ in members],
            X_test=data.X_test, y_test=data.y_test, log_points=group[0].log_points,
            device=device,
        )  # fmt: skip
        share = (time.perf_counter() - start) / len(members)  # one call: an equal share each
        cpu_share = (time.thread_time() - start_cpu) / len(members)
        for (cell, seed), res in zip(members, trained, strict=True):
            results.setdefault(cell.name, []).append((seed, res, share, cpu_share))
    return results
