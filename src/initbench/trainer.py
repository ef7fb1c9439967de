"""Training a cell's seeds: one at a time through ``train``, or many cells together.

The CLI and the pipeline both train through these functions, so a cell gives the same
numbers whichever way it is run: ``train_cell`` (the CLI, notebooks), ``train_seeds`` (a
CPU training job), ``train_cells_together`` (a GPU training job, through ``train_many``).
"""

import time

from .cell import Cell, layer_sizes, probe_rows
from .datasets import Dataset
from .engine.activations import get_activation
from .engine.training import train
from .inits import init_params
from .jacobian import jacobian_summary, predicted_spectrum
from .settings import PER_NETWORK
from .tables import SeedRun, cell_tables


def initial_network(cell: Cell, data: Dataset, seed):
    """The cell's (W, b) for one seed, drawn from its init scheme."""
    act = get_activation(cell.activation)
    return init_params(cell.scheme, layer_sizes(data, cell.hidden), activation=act, seed=seed,
                       dtype=cell.dtype, X=data.X_train,
                       parametrization=cell.training.parametrization,
                       base_width=cell.training.base_width,
                       architecture=cell.training.architecture,
                       block_size=cell.training.block_size, **cell.init_params)  # fmt: skip


def train_cell(cell: Cell, data: Dataset, on_seed_done=None):
    """Train every seed of ``cell`` on ``data``; return the runs, curves and layers tables
    (pandas). ``on_seed_done(seed, result, seconds)`` is called after each seed."""
    tables = cell_tables(cell, data, train_seeds(cell, data, on_seed_done))
    return tuple(table.to_pandas() for table in tables)


def train_seeds(cell: Cell, data: Dataset, on_seed_done=None):
    """A ``tables.SeedRun`` for every seed of ``cell``; with ``probe_jacobian``, each with
    the hidden Jacobian's spectrum at init on the probe rows (jacobian.jacobian_summary),
    scaled to q* with ``probe_at_q_star``."""
    probe = probe_rows(cell, data)
    predicted = None  # at_q_star: the spectrum theory predicts at q*, and q* itself
    if cell.probe_at_q_star:
        predicted = predicted_spectrum(cell.scheme, cell.activation, cell.init_params,
                                       len(cell.hidden) - 1)  # fmt: skip
    results = []
    for seed in cell.seeds:
        W, b = initial_network(cell, data, seed)
        initial = None
        if cell.probe_jacobian:
            initial = jacobian_summary(W, b, cell.activation, probe, predicted)
        start, start_cpu = time.perf_counter(), time.thread_time()
        res = train(
            W, b, data.X_train, data.y_train, activation=cell.activation,
            loss=cell.loss or data.default_loss, seed=seed, X_test=data.X_test,
            y_test=data.y_test, X_probe=probe, settings=cell.training,
        )  # fmt: skip
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - start_cpu
        results.append(SeedRun(seed, res, seconds, cpu_seconds, initial))
        if on_seed_done is not None:
            on_seed_done(seed, res, seconds)
    return results


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
        shared = tuple(sorted(cell.training.shared().items()))
        shape = (cell.activation, cell.hidden, cell.loss, cell.dtype, shared)
        groups.setdefault(shape, []).append(cell)
    for group in groups.values():
        members = [(cell, seed) for cell in group for seed in cell.seeds]
        start, start_cpu = time.perf_counter(), time.thread_time()
        trained = train_many(
            [initial_network(cell, data, seed) for cell, seed in members], data.X_train,
            data.y_train, activation=group[0].activation,
            loss=group[0].loss or data.default_loss, seeds=[seed for _, seed in members],
            X_test=data.X_test, y_test=data.y_test, device=device, settings=group[0].training,
            **{name: [getattr(c.training, name) for c, _ in members] for name in PER_NETWORK},
        )  # fmt: skip
        share = (time.perf_counter() - start) / len(members)  # one call: an equal share each
        cpu_share = (time.thread_time() - start_cpu) / len(members)
        for (cell, seed), res in zip(members, trained, strict=True):
            results.setdefault(cell.name, []).append(SeedRun(seed, res, share, cpu_share))
    return results
