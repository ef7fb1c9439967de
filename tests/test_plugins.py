"""User code enters the pipeline only through the modules the config names under plugins."""

import os
import textwrap

import pandas as pd
import yaml
from conftest import snakemake

PLUGIN = """
import math
from pathlib import Path

import initbench as ib

Path("plugin_was_imported").write_text("yes")


@ib.activation("softsign", gain=1.0, bounds=(-1.0, 1.0))
def softsign(z, alpha):
    d = 1.0 + abs(z)
    return z / d, 1.0 / (d * d)


@ib.layer_init("half_he")
def half_he(rng, fan_out, fan_in, *, activation, scale=0.5):
    return rng.normal(0.0, scale * math.sqrt(2.0 / fan_in), (fan_out, fan_in))
"""


def _pythonpath(workflow_dir):
    """The plugin's directory first, then whatever PYTHONPATH the tests run under."""
    return {"PYTHONPATH": os.pathsep.join([str(workflow_dir), os.environ.get("PYTHONPATH", "")])}


def _config(with_plugin):
    config = {
        "datasets": {"circles": {}},
        "inits": {"half_he": {"scheme": "half_he", "scale": 0.5}},
        "defaults": {"steps": 20, "seeds": [0], "log_points": 5},
        "studies": {"plugin": {"datasets": ["circles"], "activations": ["softsign"],
                               "inits": ["half_he"], "depths": [3], "widths": [8]}},
    }  # fmt: skip
    if with_plugin:
        config["plugins"] = ["my_plugin"]
    return yaml.safe_dump(config)


def test_named_plugin_is_loaded_and_trained(workflow_dir):
    (workflow_dir / "my_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (workflow_dir / "plugin.yaml").write_text(_config(with_plugin=True))
    proc = snakemake(workflow_dir, "results/runs.parquet", "--cores", "1", "--configfile",
                     "plugin.yaml", env_extra=_pythonpath(workflow_dir))  # fmt: skip
    assert proc.returncode == 0, proc.output[-3000:]
    runs = pd.read_parquet(workflow_dir / "results" / "runs.parquet")
    assert list(runs["activation"]) == ["softsign"] and list(runs["scheme"]) == ["half_he"]
    assert runs["status"].eq("completed").all()


def test_unnamed_module_is_never_imported(workflow_dir):
    (workflow_dir / "my_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (workflow_dir / "plugin.yaml").write_text(_config(with_plugin=False))
    proc = snakemake(workflow_dir, "-n", "--cores", "1", "--configfile", "plugin.yaml",
                     env_extra=_pythonpath(workflow_dir))  # fmt: skip
    assert proc.returncode != 0
    assert "inits.half_he.scheme: unknown init scheme 'half_he'" in proc.output
    assert not (workflow_dir / "plugin_was_imported").exists()
