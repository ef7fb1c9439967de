"""Shared fixtures: a scratch copy of the workflow to run Snakemake in."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # the `naive` reference module


def copy_workflow(dest):
    """The files a user runs Snakemake with, without any results."""
    for name in ("Snakefile", "rules", "config", "profiles"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    for name in ("results", "report"):
        (dest / name).mkdir()
    return dest


def snakemake(workdir, *args, timeout=600, env_extra=None):
    """Run snakemake in ``workdir``; return the completed process (stdout+stderr in .output)."""
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True,
        timeout=timeout, env=env,
    )  # fmt: skip
    proc.output = proc.stdout + proc.stderr
    return proc


@pytest.fixture
def workflow_dir(tmp_path):
    return copy_workflow(tmp_path)
