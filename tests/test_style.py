"""The code style the README promises: ruff and snakefmt clean over the whole tree, with the
versions the ``test`` extra pins (a newer ruff or snakefmt may format differently)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff check": ("ruff", ["check", "."]),
    "ruff format": ("ruff", ["format", "--check", "."]),
    "snakefmt": ("snakefmt", ["--check", "."]),
}


@pytest.mark.parametrize("name", CHECKS)
def test_tree_is_clean(name):
    module, arguments = CHECKS[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: pip install -e '.[test]' pins it")
    done = subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"{name} is not clean:\n{done.stdout}\n{done.stderr}"
