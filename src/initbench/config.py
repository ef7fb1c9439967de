"""Study configuration: validation with one-line errors, and the grid it declares.

The pipeline calls ``plan(config)`` once when the Snakefile is read: it checks the
config against the JSON schema and the registries, then expands every study into
cells. A cell shared by two studies is trained once.
"""

import importlib
import itertools
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from .activations import ACTIVATIONS, get_activation
from .datasets import DATASETS
from .inits import INITS, init_params
from .study import Cell

SCHEMA_PATH = str(files("initbench") / "config.schema.json")
TRAINING_DEFAULTS = {
    "steps": 500, "lr": 0.05, "batch_size": 64, "momentum": 0.0, "dtype": "float64",
    "log_points": 30, "seeds": [0, 1, 2],
}  # fmt: skip


class ConfigError(ValueError):
    """A bad config: the message is one line naming the key and the value."""


@dataclass(frozen=True)
class Plan:
    """The grid a config declares."""

    cells: dict  # cell name -> Cell
    studies: dict  # study -> list of cell names
    datasets: dict  # dataset label -> (generator, params)

    def jit_targets(self):
        """(activation, dtype) pairs the cells need compiled."""
        return sorted({(c.activation, c.dtype) for c in self.cells.values()})


def check_config_files(paths):
    """Re-read each config file as plain YAML (yaml.safe_load): Python tags, and YTE
    templates (``__use_yte__``, code that Snakemake's loader would evaluate), are refused."""
    for path in paths:
        try:
            content = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"{path}: not plain YAML: {problem}") from None
        if isinstance(content, dict) and "__use_yte__" in content:
            raise ConfigError(f"{path}: __use_yte__: templates are not allowed in a study config")


def load_plugins(config):
    """Import the modules listed under ``plugins`` (they register activations, inits, ...)."""
    for module in config.get("plugins", []):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"plugins: cannot import {module!r}: {error}") from None


def check_schema(config):
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    schema = json.loads(Path(SCHEMA_PATH).read_text())
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(config)
    )
    if error is not None:
        where = _path(error.absolute_path) or "config"
        message = error.message
        if error.validator == "uniqueItems":
            message = f"{error.instance!r} has duplicate entries"
        elif error.validator in ("pattern", "not"):
            message = f"{error.instance!r} is not a safe name (letters, digits, _ + = . ; no '..')"
        raise ConfigError(f"{where}: {message}")


def _path(parts):
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known(kind, where, name, registry):
    if name not in registry:
        from .activations import unknown_name_message

        raise ConfigError(f"{where}: {unknown_name_message(kind, name, registry)}")


def plan(config):
    """Validate ``config`` and expand its studies into cells; raise ConfigError if bad."""
    check_schema(config)
    load_plugins(config)
    datasets = {}
    for label, spec in config["datasets"].items():
        spec = dict(spec)
        generator = spec.pop("generator", label)
        _known("dataset", f"datasets.{label}.generator", generator, DATASETS)
        datasets[label] = (generator, spec)
    for label, spec in config["inits"].items():
        _known("init scheme", f"inits.{label}.scheme", spec["scheme"], INITS)
    defaults = {**TRAINING_DEFAULTS, **config.get("defaults", {})}
    cells, studies = {}, {}
    for study, spec in config["studies"].items():
        where = f"studies.{study}"
        for key, registry, kind in (("datasets", datasets, "dataset"),
                                    ("activations", ACTIVATIONS, "activation"),
                                    ("inits", config["inits"], "init")):  # fmt: skip
            for i, name in enumerate(spec[key]):
                _known(kind, f"{where}.{key}[{i}]", name, registry)
        settings = {k: spec.get(k, v) for k, v in defaults.items()}
        inverse_depth = spec.get("lr_scaling", "none") == "inverse_depth"
        studies[study] = []
        for dataset, activation, init, hidden, swept in itertools.product(
            spec["datasets"], spec["activations"], spec["inits"], _hidden(where, spec),
            _sweep(spec.get("init_params", {})),
        ):  # fmt: skip
            params = {k: v for k, v in config["inits"][init].items() if k != "scheme"}
            params.update(swept)
            cell = Cell(
                dataset=dataset, activation=activation, init=init,
                scheme=config["inits"][init]["scheme"], hidden=hidden,
                seeds=tuple(settings["seeds"]), steps=settings["steps"],
                lr=settings["lr"] / (len(hidden) + 1 if inverse_depth else 1),
                batch_size=settings["batch_size"], momentum=settings["momentum"],
                dtype=settings["dtype"], log_points=settings["log_points"], init_params=params,
            )  # fmt: skip
            cells.setdefault(cell.name, cell)
            studies[study].append(cell.name)
    _check_init_params(cells.values())
    return Plan(cells=cells, studies=studies, datasets=datasets)


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


def _check_init_params(cells):
    """Build every (scheme, params, activation) once on a tiny net, to fail before any job."""
    seen = set()
    X = np.random.default_rng(0).normal(size=(8, 3))
    for cell in cells:
        signature = (cell.init, cell.scheme, json.dumps(cell.init_params, sort_keys=True),
                     cell.activation)  # fmt: skip
        if signature in seen:
            continue
        seen.add(signature)
        try:
            init_params(cell.scheme, [3, 4, 2], activation=get_activation(cell.activation), X=X,
                        **cell.init_params)  # fmt: skip
        except ValueError as error:
            raise ConfigError(f"inits.{cell.init} with {cell.activation}: {error}") from None
