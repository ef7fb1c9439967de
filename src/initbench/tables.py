"""The result tables: their schema, how a cell's are built, and their Arrow/parquet files.

A study's results are six tables (``layout.TABLE_NAMES``): runs (one row per seed), curves (per
logged step), layers (per logged step and layer), cost (per training job), studies
(which cells each study holds) and theory (the mean-field predictions at the study's
mean-field settings, ``theory.predictions``). Every row of the first three carries its cell's
parameters (``cell.CELL_PARAMETERS``) before the measured columns and its provenance
after them. A training job writes each cell's three measured tables as Arrow IPC files
under results/measured/ (``layout.Layout.cell_tables``), the parameters in their metadata;
the aggregate joins them (``read_cells``) into the study's parquet files (``write_parquet``).

No kernels here: the findings and the report read these tables through ``outcomes``.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from .cell import majority_rate
from .files import atomic_path
from .provenance import provenance

# The theory table: per setting (and ``kind`` "cell" or "curve"), the predicted quantities.
THEORY_KEYS = ("activation", "sigma_w2", "sigma_b2")
PREDICTED = ("q_star", "chi1", "depth_scale")
ABOUT_CELL = b"initbench.cell"  # metadata key of a measured table: the cell's parameters
# Columns that say where and how fast numbers were made, not what they are: two runs of
# the same config agree on everything else.
PROVENANCE_COLUMNS = ("git_commit", "initbench_version", "numba_version", "numpy_version",
                      "python_version", "machine", "threads", "config_hash")  # fmt: skip


def decoded(column):
    """A table's JSON column (``hidden``, ``init_params``: text, as ``Cell.columns`` writes
    them) as Python values, lists of widths or dicts of parameters; each distinct text is
    parsed once (a table repeats it on every row of its cell)."""
    codes, texts = pd.factorize(column)
    values = np.empty(len(texts), dtype=object)
    for i, text in enumerate(texts):  # one by one: equal-length lists stay lists
        values[i] = json.loads(text)
    return pd.Series(values[codes], index=column.index, name=column.name)


class SeedRun(NamedTuple):
    """One trained seed of a cell, as the trainer hands it to the tables."""

    seed: int
    result: object  # engine.training.TrainResult
    seconds: float
    cpu_seconds: float  # this thread's CPU time: no waiting for a core
    initial: dict | None = None  # run columns measured at init (jacobian.jacobian_summary)


RUN_COLUMN_TYPES = {"seed": pa.int64(), "status": pa.large_string(), "diverged_step": pa.int64()}


def cell_tables(cell, data, results):
    """The runs, curves and layers tables of a cell (Arrow) from its ``SeedRun`` per seed,
    each row carrying the cell's parameters."""
    params = [cell_parameters(cell, data)]
    return tuple(with_cells([table], params) for table in measured_tables(data, results))


def cell_parameters(cell, data):
    """The columns every row of a cell's tables carries: its settings, the loss resolved."""
    return {**cell.columns(), "loss": cell.loss or data.default_loss}


def measured_tables(data, results):
    """The runs, curves and layers tables of a cell without its parameters: what it measured.

    Built as Arrow columns, not pandas frames: a study has thousands of small cells, and
    pandas' per-column bookkeeping once cost more than some cells' training."""
    runs = {
        "seed": [run.seed for run in results],
        "status": [run.result.status for run in results],
        "diverged_step": [
            -1 if run.result.diverged_step is None else run.result.diverged_step for run in results
        ],
        "initial_train_loss": [run.result.history_columns["train_loss"][0] for run in results],
        **{
            f"final_{k}": [run.result.history_columns[k][-1] for run in results]
            for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
        },
        "majority_rate": [majority_rate(data)] * len(results),
        "train_seconds": [run.seconds for run in results],
        "train_cpu_seconds": [run.cpu_seconds for run in results],
    }
    for name in dict.fromkeys(k for run in results for k in (run.initial or {})):
        runs[name] = [(run.initial or {}).get(name, np.nan) for run in results]
    runs = pa.table({name: pa.array(values, RUN_COLUMN_TYPES.get(name, pa.float64()))
                     for name, values in runs.items()})  # fmt: skip
    return runs, _stacked(results, "history_columns"), _stacked(results, "layer_columns")


def _stacked(results, attribute):
    """One TrainResult table (``history_columns`` or ``layer_columns``) of every seed, with
    a seed column."""
    tables = [getattr(run.result, attribute) for run in results]
    columns = {name: np.concatenate([table[name] for table in tables]) for name in tables[0]}
    rows = [len(table["step"]) for table in tables]
    columns["seed"] = np.repeat([run.seed for run in results], rows)
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


def write_parquet(table, path):
    """An Arrow table, or a pandas frame (without its index), as a parquet file.

    Only text columns are dictionary-encoded: measured numbers rarely repeat, and trying
    them costs a third of the writing time."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    text = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, use_dictionary=text)


def write_cell(cell, data, results, paths, threads):
    """A cell's measured tables, each with the cell's parameters and provenance in its
    metadata rather than on every row: the aggregate adds those columns for all cells at
    once. Uncompressed, so that the aggregate maps them into memory without decoding.
    ``paths``: one per table of layout.TABLE_KINDS (``layout.Layout.cell_tables``)."""
    about = json.dumps({"parameters": cell_parameters(cell, data),
                        "provenance": {**provenance(), "threads": threads}})  # fmt: skip
    tables = measured_tables(data, results)
    for table, path in zip(tables, paths, strict=True):
        with atomic_path(path) as tmp:
            feather.write_feather(table.replace_schema_metadata({ABOUT_CELL: about}), tmp,
                                  compression="uncompressed")  # fmt: skip


def read_arrow(path):
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def read_cells(paths, threads):
    """Many cells' measured tables, read by ``threads`` threads (Arrow releases the GIL),
    as one table: each row with its cell's parameters before the measured columns and its
    provenance after them (see with_cells)."""
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        tables = list(pool.map(read_arrow, paths))
        about = [json.loads(table.schema.metadata[ABOUT_CELL]) for table in tables]
        return with_cells(tables, [a["parameters"] for a in about],
                          [a["provenance"] for a in about], map_=pool.map)  # fmt: skip
