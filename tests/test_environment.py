"""environment.yml, pyproject.toml and CITATION.cff agree: dependencies, Python, version."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement):
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement.strip()).groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(_split(r) for r in project["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += [d for d in dep["pip"] if not d.startswith("-e")]
        elif _split(dep)[0] not in ("python", "pip"):
            conda.append(dep)
    listed = dict(_split(r) for r in conda + pip)
    assert listed == declared
    assert "scipy" in declared  # numba's np.dot needs SciPy's BLAS


def test_python_and_version_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and _split(d)[0] == "python"]
    assert python == [f"python{project['requires-python']}"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"]["text"]
