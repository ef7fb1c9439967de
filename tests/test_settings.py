"""TrainSettings' checks are the one home of a training setting's rule: the API and a study
config refuse the same values with the same words."""

import copy
from dataclasses import fields

import numpy as np
import pytest
import yaml
from conftest import ROOT

from initbench.config import ConfigError
from initbench.plan import plan
from initbench.settings import DEFAULT_VALUES, FIELDS, TrainSettings

QUICK = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
INTEGER_FIELDS = [f.name for f in fields(TrainSettings) if f.type is int]


@pytest.mark.parametrize("name", FIELDS)
def test_a_config_refuses_what_the_api_refuses_in_the_same_words(name):
    """No setting's check is copied into the schema: a bad value in a study config gets
    TrainSettings' own message, prefixed by where it was given."""
    with pytest.raises(ValueError) as api:
        TrainSettings(**{name: "??"})
    config = copy.deepcopy(QUICK)
    config["defaults"][name] = "??"
    with pytest.raises(ConfigError) as planned:
        plan(config)
    assert str(planned.value) == f"defaults.{api.value}"
    config = copy.deepcopy(QUICK)
    config["studies"]["engine"]["sweep"][name] = [DEFAULT_VALUES[name], "??"]
    config["studies"]["engine"].pop(name, None)
    with pytest.raises(ConfigError) as swept:
        plan(config)
    assert str(swept.value) == f"studies.engine.sweep.{name}[1]{str(api.value)[len(name) :]}"


@pytest.mark.parametrize("name", INTEGER_FIELDS)
def test_an_integral_float_is_refused_where_an_integer_is_meant(name):
    value = max(DEFAULT_VALUES[name], 2)
    with pytest.raises(ValueError, match=f"{name} must be .*, got {float(value)!r}"):
        TrainSettings.of(None, **{name: float(value)})
    if name not in ("decay_every", "warmup_steps"):  # they need other settings to be set
        assert getattr(TrainSettings.of(None, **{name: np.int64(value)}), name) == value


def test_log_points_counts_step_zero_and_the_last():
    """Step 0 and the last step are always logged: 1 would log what 2 does."""
    from initbench.engine.training import log_schedule

    assert list(log_schedule(100, 2)) == [0, 1, 100]
    assert TrainSettings(log_points=2).log_points == 2
    with pytest.raises(ValueError, match="log_points must be an integer >= 2"):
        TrainSettings(log_points=1)
