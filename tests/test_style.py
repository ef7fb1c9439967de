"""The code style the README promises: ruff and snakefmt clean over the whole tree, with the
versions the ``test`` extra pins (another version may format differently: skipped, saying
which)."""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff check": ("ruff", ["check", "."]),
    "ruff format": ("ruff", ["format", "--check", "."]),
    "snakefmt": ("snakefmt", ["--check", "."]),
}


def pinned_version(package):
    """The version the ``test`` extra pins ``package`` to (``name==version``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"]["test"]:
        name, _, version = requirement.partition("==")
        if name.strip() == package:
            return version.strip()
    raise LookupError(f"the test extra pins no version of {package}")


@pytest.mark.parametrize("name", CHECKS)
def test_tree_is_clean(name):
    package, arguments = CHECKS[name]
    pinned = pinned_version(package)
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed: pip install -e '.[test]' pins {pinned}")
    if installed != pinned:
        pytest.skip(f"{package} {installed} is installed, the test extra pins {pinned}")
    done = subprocess.run([sys.executable, "-m", package, *arguments], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"{name} is not clean:\n{done.stdout}\n{done.stderr}"
