"""Study configuration: the training defaults, and config checks with one-line errors.

``TRAINING_DEFAULTS`` is the one home of the training settings' defaults: the planner,
``Cell``, ``train`` and the command line all read them from here. A study config's
``defaults:`` block overrides them for its studies.
"""

import importlib
import json
from importlib.resources import files
from pathlib import Path

SCHEMA_PATH = str(files("initbench") / "config.schema.json")
TRAINING_DEFAULTS = {
    "steps": 500, "lr": 0.05, "batch_size": 64, "momentum": 0.0, "dtype": "float64",
    "log_points": 40, "seeds": [0, 1, 2], "eval_rows": 2048,
}  # fmt: skip


class ConfigError(ValueError):
    """A bad config: the message is one line naming the key and the value."""


def check_config_files(paths):
    """Re-read each config file as plain YAML (yaml.safe_load): Python tags, and YTE
    templates (``__use_yte__``, code that Snakemake's loader would evaluate), are refused."""
    import yaml

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
    import jsonschema  # here, not at import: train() reads this module's defaults

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
