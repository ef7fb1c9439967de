"""Files written whole or not at all: a temporary file beside the target, then a rename,
so an interrupted run never leaves an output that looks complete."""

import os
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it into place on success.

    Only one job writes a given output at a time (Snakemake sees to it), so temporary
    files of earlier, killed attempts at the same output can be removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp*"):  # left by a killed run
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def job_log(path):
    """A line-buffered log file for one job; every line is time-stamped."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        start = time.perf_counter()

        def log(message):
            handle.write(f"[{time.perf_counter() - start:8.2f} s] {message}\n")

        yield log
