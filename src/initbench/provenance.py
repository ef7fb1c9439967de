"""Where the numbers came from: code version, packages, machine, and the config's hash."""

import functools
import hashlib
import json
import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path


@functools.cache
def provenance():
    """Where the numbers came from: code version, packages, machine."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).parent,
        ).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "git_commit": commit,
        "initbench_version": version("initbench"),
        "numba_version": version("numba"),
        "numpy_version": version("numpy"),
        "python_version": platform.python_version(),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
    }


def config_hash(config):
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
