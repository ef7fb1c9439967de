"""The grid a study config declares: every study expanded into cells.

The pipeline calls ``plan(config)`` once when the Snakefile is read: it checks the
config against the JSON schema and the registries, then expands every study into
cells. A cell shared by two studies is trained once.
"""

import itertools
import json
from dataclasses import asdict, dataclass

import numpy as np

from .cell import Cell, cell_work
from .config import ConfigError, check_schema, load_plugins
from .datasets import DATASETS, check_parameters
from .engine.activations import ACTIVATIONS, Activation, get_activation
from .engine.residual import residual_blocks
from .inits import INITS, init_params
from .jacobian import predicted_spectrum
from .settings import (
    CELL_DEFAULTS,
    DEFAULT_VALUES,
    DEFAULTS,
    FIELDS,
    RESIDUAL_ONLY,
    TrainSettings,
)
from .text import unknown_name_message

BATCHES_PER_ACTIVATION = 5  # training jobs per activation and dtype; see default_batches


@dataclass(frozen=True)
class Plan:
    """The grid a config declares."""

    cells: dict  # cell name -> Cell
    studies: dict  # study -> list of cell names
    datasets: dict  # dataset label -> (generator, params), of the labels the cells train on
    batches: dict  # training job -> tuple of cell names (see assign_batches)
    device: str = "cpu"  # where the training jobs run: cpu or cuda


def _known(kind, where, name, registry):
    if name not in registry:
        raise ConfigError(f"{where}: {unknown_name_message(kind, name, registry)}")


def plan(config, cores=1):
    """Validate ``config`` and expand its studies into cells; raise ConfigError if bad.
    ``cores`` (Snakemake's ``--cores``) sets how many training jobs the cells are split
    into when the config does not (see default_batches)."""
    check_schema(config)  # and fills in the schema's defaults
    load_plugins(config)
    datasets = {}
    for label, spec in config["datasets"].items():
        spec = dict(spec)
        generator = spec.pop("generator", label)
        _known("dataset", f"datasets.{label}.generator", generator, DATASETS)
        try:
            check_parameters(generator, spec)
        except ValueError as error:
            raise ConfigError(f"datasets.{label}: {error}") from None
        datasets[label] = (generator, spec)
    for label, spec in config["inits"].items():
        _known("init scheme", f"inits.{label}.scheme", spec["scheme"], INITS)
    inits = _init_labels(config)
    # A study's setting, else the config's defaults block's, else TrainSettings' own.
    defaults = {**CELL_DEFAULTS, **asdict(DEFAULTS), **config["defaults"]}
    cells, studies = {}, {}
    for study, spec in config["studies"].items():
        where = f"studies.{study}"
        for key, registry, kind in (("datasets", datasets, "dataset"),
                                    ("activations", ACTIVATIONS, "activation")):  # fmt: skip
            for i, name in enumerate(spec[key]):
                _known(kind, f"{where}.{key}[{i}]", name, registry)
        for i, name in enumerate(spec["inits"]):
            if name not in inits:
                raise ConfigError(
                    f"{where}.inits[{i}]: {unknown_name_message('init', name, inits)}; "
                    f"define it under inits: as {name}: {{scheme: <a built-in scheme>, ...}}"
                )
        settings = {k: spec.get(k, v) for k, v in defaults.items()}
        inverse_depth = spec.get("lr_scaling", "none") == "inverse_depth"
        sweep = dict(spec.get("sweep", {}))
        given = [key for key in ("lr", "lrs") if key in spec] + ["sweep.lr"] * ("lr" in sweep)
        if len(given) > 1:
            raise ConfigError(f"{where}: give one of {' and '.join(given)}, not both")
        for key in sweep:
            if key in spec:
                raise ConfigError(f"{where}: {key} is given and swept (sweep.{key}); give one")
        sweep["lr"] = sweep.get("lr", spec.get("lrs", [settings["lr"]]))
        probe = spec.get("probe", {})
        studies[study] = []
        for dataset, activation, init, hidden, swept, varied in itertools.product(
            spec["datasets"], spec["activations"], spec["inits"], _hidden(where, spec),
            _sweep(spec.get("init_params", {})), _sweep(sweep),
        ):  # fmt: skip
            params = {k: v for k, v in inits[init].items() if k != "scheme"}
            params.update(swept)
            training = {**{k: settings[k] for k in FIELDS}, **varied}
            training["lr"] /= len(hidden) + 1 if inverse_depth else 1
            # Settings a cell's choice leaves unused take their defaults: one cell, not one
            # per swept value (sp has no base width, a plain net no residual settings).
            if training["parametrization"] == "sp":
                training["base_width"] = 0
            if training["architecture"] == "plain":
                training.update({k: DEFAULT_VALUES[k] for k in RESIDUAL_ONLY if k in varied})
            unused = {"branch_exponent": training["branch_scaling"] != "depth_power",
                      "weight_decay_scaling": training["weight_decay"] == 0,
                      "final_norm": training["norm"] == "none"}  # fmt: skip
            training.update({k: DEFAULT_VALUES[k] for k in varied if unused.get(k)})
            try:
                training = TrainSettings(**training)
            except ValueError as error:
                raise ConfigError(f"{where}: {error}") from None
            if training.architecture == "residual":
                hidden_sizes = [1, *hidden, 1]
                try:
                    residual_blocks(training, hidden_sizes)
                except ValueError as error:
                    raise ConfigError(f"{where}: hidden {list(hidden)}: {error}") from None
            if probe.get("jacobian") and (len(set(hidden)) != 1 or len(hidden) < 2
                                          or training.architecture != "plain"):  # fmt: skip
                raise ConfigError(f"{where}: probe.jacobian needs a plain net of two or more "
                                  f"hidden layers of one width, got hidden {list(hidden)} "
                                  f"({training.architecture})")  # fmt: skip
            if probe.get("at_q_star"):
                _check_at_q_star(where, probe, inits[init]["scheme"], activation, params, hidden)
            cell = Cell(
                dataset=dataset, activation=activation, init=init,
                scheme=inits[init]["scheme"], hidden=hidden, seeds=seed_list(settings["seeds"]),
                training=training, dtype=settings["dtype"], init_params=params,
                probe_split=probe.get("split", "none"), probe_rows=probe.get("rows", 0),
                probe_jacobian=probe.get("jacobian", False),
                probe_at_q_star=probe.get("at_q_star", False),
            )  # fmt: skip
            cells.setdefault(cell.name, cell)
            if cell.name not in studies[study]:  # a sweep's unused values give one cell
                studies[study].append(cell.name)
    _check_init_params(cells.values())
    used = {cell.dataset for cell in cells.values()}  # every label was checked above
    datasets = {label: spec for label, spec in datasets.items() if label in used}
    batches = assign_batches(cells, config.get("batches_per_activation", default_batches(cores)))
    return Plan(cells=cells, studies=studies, datasets=datasets, batches=batches,
                device=config["device"])  # fmt: skip


def seed_list(seeds):
    """A config's seeds: a list as given, or a count n as seeds 0 .. n-1."""
    return tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)


def default_batches(cores):
    """Training jobs per activation and dtype: 5, or one per core on more than 5 cores.

    Few cores want few jobs, but not too few. Snakemake's scheduler wakes up once a
    second for every job finished so far (one more timer each time), and its passes take
    the cores from the kernels: in the 2-core default study, 53 jobs cost its main thread
    4.6 s, 27 jobs 2.4 s. Fewer, larger jobs leave larger ones for the end, where one core
    may idle: simulated from that study's measured cell times, 27 jobs end 6.7 s apart,
    34 jobs (5 per activation) 0.7 s, 53 jobs 0.4 s. Many cores want many jobs: the
    study's wall time is then bounded by its longest job, not by Python's global lock (8
    jobs per activation bound the speed-up at 10.5x on 16 or 64 cores, one per core at
    13x on 16 and 23x on 64). Which job trains a cell changes nothing in its numbers."""
    return max(BATCHES_PER_ACTIVATION, int(cores or 1))


def assign_batches(cells, per_activation):
    """Training jobs: the cells of one activation and dtype spread over ``per_activation``
    batches by a hash of each cell's own key.

    A cell's batch depends on nothing but the cell, so adding cells never moves another
    cell; the batch job trains only its cells without tables, so adding a cell to a
    batch trains just that cell. Few, larger jobs keep Snakemake's per-job cost (and, on
    a cluster, the number of submissions) small.
    """
    batches = {}
    for name in sorted(cells):
        cell = cells[name]
        index = int(cell.key, 16) % per_activation
        batches.setdefault(f"{cell.activation}-{cell.dtype}-{index:02d}", []).append(name)
    return {batch: tuple(names) for batch, names in sorted(batches.items())}


def job_priorities(plan):
    """{training job: its rank by estimated work, 1 for the least}: Snakemake's priority,
    so that the longest jobs start first and no long job is left running alone at the
    end while the other cores idle. The work is its cells' ``cell.cell_work`` (the cost
    model ``initbench status`` calibrates), without the data: the plan comes before it.
    A rank, not the work itself: Snakemake's default (ILP) scheduler multiplies the
    priorities into its objective, and at ~1e11 its solver's tolerances ignored them (the
    two longest jobs of the default study started last)."""
    work = {batch: sum(cell_work(plan.cells[n]) for n in names)
            for batch, names in plan.batches.items()}  # fmt: skip
    return {batch: rank for rank, batch in enumerate(sorted(work, key=work.get), start=1)}


def _init_labels(config):
    """The config's init labels, plus every built-in scheme under its own name (with its
    default parameters), so a study can list ``lecun_uniform`` without defining a label."""
    return {**{name: {"scheme": name} for name in INITS}, **config["inits"]}


def _hidden(where, spec):
    if "hidden" in spec:
        if "depths" in spec or "widths" in spec:
            raise ConfigError(f"{where}: give either hidden or depths/widths, not both")
        return [tuple(h) for h in spec["hidden"]]
    if "depths" not in spec or "widths" not in spec:
        raise ConfigError(f"{where}: needs depths and widths (or hidden)")
    return [(w,) * (d - 1) for d in spec["depths"] for w in spec["widths"]]


def _sweep(params):
    keys = sorted(params)
    return [dict(zip(keys, values)) for values in itertools.product(*(params[k] for k in keys))]


class _FactsOnly(Activation):
    """An activation's facts (its gain, alpha, bounds) with the identity's values: what the
    init check builds with. The schemes read those facts; LSUV alone evaluates its
    activation, and only its parameters can fail, while evaluating a built-in compiles it
    (0.6 s cold, before any job could start: the quick study's cold run took 1.5-4 s
    longer). A training job's LSUV evaluates the real one, compiled by then where the
    theory job evaluated that activation, else compiled there."""

    def __call__(self, z, alpha=None):
        z = np.asarray(z, dtype=np.float64)
        return z, np.ones_like(z)


def _check_init_params(cells):
    """Build every (scheme, params, activation) once on a tiny net, to fail before any job
    (with the activation's facts only: ``_FactsOnly``)."""
    seen = set()
    X = np.random.default_rng(0).normal(size=(8, 3))
    for cell in cells:
        t = cell.training
        signature = (cell.init, cell.scheme, json.dumps(cell.init_params, sort_keys=True),
                     cell.activation, t.architecture, t.block_size)  # fmt: skip
        if signature in seen:
            continue
        seen.add(signature)
        try:
            init_params(cell.scheme, [3, *[4] * (1 + t.block_size), 2], X=X,
                        activation=_FactsOnly(**vars(get_activation(cell.activation))),
                        architecture=t.architecture,
                        block_size=t.block_size, **cell.init_params)  # fmt: skip
        except ValueError as error:
            raise ConfigError(f"inits.{cell.init} with {cell.activation}: {error}") from None


def _check_at_q_star(where, probe, scheme, activation, params, hidden):
    """probe.at_q_star needs the Jacobian probe and an init whose q* theory can compute."""
    if not probe.get("jacobian"):
        raise ConfigError(f"{where}: probe.at_q_star scales the Jacobian probe's rows; set "
                          "probe.jacobian: true too")  # fmt: skip
    try:
        predicted_spectrum(scheme, activation, params, len(hidden) - 1)
    except ValueError as error:
        raise ConfigError(f"{where}: probe.at_q_star with {activation}: {error}") from None
