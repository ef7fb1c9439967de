"""Study configuration: config checks with one-line errors, and the schema's defaults.

``check_schema`` validates a config once, against config.schema.json, and fills in the
schema's defaults (tier, device, threads, data_seed, ...), so that no reader repeats a
default as a ``.get`` fallback. The training settings' defaults live in
``settings.TrainSettings``; a config's ``defaults:`` block overrides them for its studies.
"""

import copy
import importlib
import json
from importlib.resources import files
from pathlib import Path

SCHEMA_PATH = str(files("initbench") / "config.schema.json")


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
    for module in config["plugins"]:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"plugins: cannot import {module!r}: {error}") from None


def check_schema(config):
    """Validate ``config`` (ConfigError naming the key), then fill in the schema's defaults
    in place: the one validation a config gets, before the plan reads it."""
    import jsonschema

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
    _fill_defaults(schema, config)


def _fill_defaults(schema, config):
    """Set the schema's ``default`` of every absent property, at every level the config
    has (what Snakemake's ``validate`` does; here it runs once, before the plan)."""
    import jsonschema

    base = jsonschema.Draft202012Validator

    def properties(validator, props, instance, subschema):
        if validator.is_type(instance, "object"):
            for name, spec in props.items():
                if "default" in spec and name not in instance:
                    instance[name] = copy.deepcopy(spec["default"])
        yield from base.VALIDATORS["properties"](validator, props, instance, subschema)

    filling = jsonschema.validators.extend(base, {"properties": properties})
    for _ in filling(schema).iter_errors(config):
        pass


def _path(parts):
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
