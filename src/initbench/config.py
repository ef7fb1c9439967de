"""Study configuration: config checks with one-line errors, tiers, and the schema's defaults.

``check_schema`` validates a config once, against config.schema.json, fills in the
schema's defaults (tier, device, threads, data_seed, ...), so that no reader repeats a
default as a ``.get`` fallback, and makes the config the one of its ``tier``
(``select_tier``). The training settings' defaults and checks live in
``settings.TrainSettings``; a config's ``defaults:`` block overrides them for its studies.

A study is written once: what changes in another tier is the study's ``tiers:`` entry,
``{paper: {seeds: 10, depths: [...]}}``, whose keys replace the study's own in that tier
(the ``defaults:`` block takes one too); ``only: [paper]`` plans a study in the tiers it
names alone. The tiers a config has are its ``tiers:`` list (default: its ``tier``).
"""

import copy
import importlib
import json
from importlib.resources import files
from pathlib import Path

from .settings import FIELDS, check_setting, is_integer
from .text import unknown_name_message

SCHEMA_PATH = str(files("initbench") / "config.schema.json")
TIER_KEYS = ("tiers", "only")  # a block's tier overrides: gone once a tier is selected


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
    """Validate ``config`` (ConfigError naming the key; every tier's overrides too), then,
    in place, fill in the schema's defaults and make it the config of its tier: the one
    validation a config gets, before the plan or any reader sees it."""
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    schema = load_schema()
    error = jsonschema.exceptions.best_match(_validator()(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"{_path(error.absolute_path) or 'config'}: {_message(error)}")
    _check_training_values(config)
    _fill_defaults(schema, config)
    select_tier(config)


def load_schema():
    """config.schema.json with every training setting's name added where a config may
    give it; its values are left to ``settings.check_setting``, their one check."""
    schema = json.loads(Path(SCHEMA_PATH).read_text())
    settings = schema["$defs"]["settings"]["properties"]
    sweep = schema["$defs"]["study"]["properties"]["sweep"]["properties"]
    for name in FIELDS:
        settings[name] = {"description": "a training setting (settings.TrainSettings)"}
        sweep[name] = {"type": "array", "minItems": 1, "uniqueItems": True}
    return schema


def select_tier(config):
    """Make ``config`` the config of its ``tier``, in place: the defaults' and each study's
    override for that tier applied, the studies whose ``only`` leaves the tier out dropped,
    and ``tiers``/``only`` gone from them (so that planning it again gives the same)."""
    tier = config["tier"]
    declared = config.get("tiers", [tier])
    if tier not in declared:
        raise ConfigError(f"tier: {unknown_name_message('tier', tier, declared)}")
    for where, block in _blocks(config):
        named = [(f"{where}.tiers", name) for name in block.get("tiers", {})]
        named += [(f"{where}.only[{i}]", name) for i, name in enumerate(block.get("only", ()))]
        for place, name in named:
            if name not in declared:
                raise ConfigError(f"{place}: {unknown_name_message('tier', name, declared)}")
    config["defaults"] = _in_tier(config["defaults"], tier)
    config["studies"] = {study: _in_tier(spec, tier) for study, spec in config["studies"].items()
                         if tier in spec.get("only", declared)}  # fmt: skip
    if not config["studies"]:
        raise ConfigError(f"tier: every study's only: leaves tier {tier!r} out; it plans nothing")


def _in_tier(block, tier):
    """``block`` with its ``tier`` override's keys replacing its own."""
    own = {key: value for key, value in block.items() if key not in TIER_KEYS}
    return {**own, **block.get("tiers", {}).get(tier, {})}


def _blocks(config):
    """(where, block) for the defaults and every study: the blocks that set training
    settings and may carry tier overrides."""
    yield "defaults", config.get("defaults", {})
    for study, spec in config["studies"].items():
        yield f"studies.{study}", spec


def _check_training_values(config):
    """Each training setting a config gives, in every block and every tier's override,
    through its check in settings.py: a ConfigError naming the key."""
    for where, block in _blocks(config):
        overrides = [(f"{where}.tiers.{tier}", o) for tier, o in block.get("tiers", {}).items()]
        for place, values in [(where, block), *overrides]:
            checks = [(name, values[name], f"{place}.{name}") for name in FIELDS if name in values]
            lrs = values.get("lrs", ())
            checks += [("lr", lr, f"{place}.lrs[{i}]") for i, lr in enumerate(lrs)]
            for name, swept in values.get("sweep", {}).items():
                checks += [(name, v, f"{place}.sweep.{name}[{i}]") for i, v in enumerate(swept)]
            for name, value, label in checks:
                try:
                    check_setting(name, value, label)
                except ValueError as error:
                    raise ConfigError(str(error)) from None


def _validator():
    """Draft 2020-12 where an integer is an int: 8.0 is refused where an integer is meant,
    as settings.py refuses it."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    strict = base.TYPE_CHECKER.redefine("integer", lambda _, value: is_integer(value))
    return jsonschema.validators.extend(base, type_checker=strict)


def _message(error):
    if error.validator == "uniqueItems":
        return f"{error.instance!r} has duplicate entries"
    if error.validator in ("pattern", "not"):
        return f"{error.instance!r} is not a safe name (letters, digits, _ + = . ; no '..')"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        unknown = error.message[error.message.index("(") + 1 : error.message.rindex(" w")]
        return f"unknown key {unknown}"
    if error.validator == "maxItems":
        return f"{len(error.instance)} entries, more than the maximum of {error.validator_value}"
    if error.validator == "oneOf" and "description" in error.schema:
        return f"{error.instance!r} is not {error.schema['description']}"
    return error.message


def _fill_defaults(schema, config):
    """Set the schema's ``default`` of every absent property, at every level the config
    has (what Snakemake's ``validate`` does; here it runs once, before the plan)."""
    import jsonschema

    base = _validator()

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
