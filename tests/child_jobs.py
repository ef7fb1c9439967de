"""Jobs for tests that run them in a process of their own (processes.in_own_process): importable
by name in the child, with this folder on its PYTHONPATH."""

import atexit
import os
import signal
from pathlib import Path


class WritesWhenCollected:
    def __init__(self, path):
        self.path = path

    def __del__(self):
        Path(self.path).write_text("collected")


_KEPT = []


def register_exit_handler_and_object(at_exit, at_teardown):
    """Register an atexit handler that writes ``at_exit``, and keep an object alive that
    writes ``at_teardown`` when the interpreter collects it at its teardown."""
    atexit.register(Path(at_exit).write_text, "atexit ran")
    _KEPT.append(WritesWhenCollected(at_teardown))
    print("printed without a newline", end="")


def write_environment_and_page_faults(path, names):
    """Write the values of the environment variables ``names`` and the minor page faults
    of 100 rounds of the theory's pattern: two new 1.3 MB arrays while the last round's two
    are still held (glibc's adapted trim threshold is twice one array, so by default the
    heap's top is handed back and faulted in again every round)."""
    import json
    import os
    import resource

    import numpy as np

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    held = None
    for _ in range(100):
        held = np.ones(160_000), np.ones(160_000)
    del held
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    values = {name: os.environ.get(name) for name in names}
    Path(path).write_text(json.dumps({"environment": values, "faults": faults}))


def write_frozen_objects(path):
    """Write how many objects the garbage collector holds frozen as the job starts."""
    import gc

    Path(path).write_text(str(gc.get_freeze_count()))


IMPORTED_IN = os.getpid()  # the process that imported this module


def write_where_imported(path):
    """Write whether this module was imported in another process than the job's: by the
    job server, before it forked the job's process."""
    Path(path).write_text(str(os.getpid() != IMPORTED_IN))


def kill_own_process():
    """End the job's process without a word, as the kernel's out-of-memory killer would."""
    os.kill(os.getpid(), signal.SIGKILL)
