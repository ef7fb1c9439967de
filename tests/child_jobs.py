"""Jobs for tests that run them in a process of their own (jobs.in_own_process): importable
by name in the child, with this folder on its PYTHONPATH."""

import atexit
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
