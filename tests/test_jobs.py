"""jobs.py: what the pipeline's rules call."""

import pytest


@pytest.fixture
def child_jobs_importable(monkeypatch):
    """tests/child_jobs.py importable by name in a job's own process (jobs.in_own_process)."""
    import os
    from pathlib import Path

    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))


def test_a_job_in_its_own_process_writes_its_outputs_or_raises_its_error(tmp_path):
    """The pipeline runs the findings and the report's figures through in_own_process: a
    failure there fails the job with the child's traceback, not silently."""
    from initbench import jobs
    from initbench.datasets import read_dataset

    out = tmp_path / "circles.npz"
    jobs.in_own_process(jobs.dataset_job, "circles", {}, 0, str(out), str(tmp_path / "log"))
    assert read_dataset(out).X_train.shape == (300, 2)
    with pytest.raises(RuntimeError, match="read_dataset failed") as error:
        jobs.in_own_process(read_dataset, str(tmp_path / "missing.npz"))
    assert "FileNotFoundError" in str(error.value)


def test_a_job_process_freezes_what_its_imports_made(tmp_path, child_jobs_importable):
    """The modules a job's process imported live as long as it: frozen before the job, no
    collection traverses them again."""
    from child_jobs import write_frozen_objects

    from initbench import jobs

    out = tmp_path / "frozen"
    jobs.in_own_process(write_frozen_objects, str(out))
    assert int(out.read_text()) > 10_000  # the interpreter's and the imports' objects


def test_the_end_of_a_run_cancels_the_timers_and_freezes_the_objects():
    """The Snakefile's onsuccess/onerror call end_of_run: the process's exit then neither
    waits for a timer nor traverses the run's objects in its last collections."""
    import gc
    import threading

    from initbench import jobs

    fired = threading.Event()
    timer = threading.Timer(30.0, fired.set)
    timer.start()
    objects = gc.get_count()[0] + len(gc.get_objects())
    try:
        jobs.end_of_run()
        assert gc.get_freeze_count() >= objects // 2  # the run's objects, not a few
        assert not gc.get_objects(generation=2)
    finally:
        gc.unfreeze()
    timer.join(timeout=5.0)
    assert not timer.is_alive() and not fired.is_set()


def test_pending_timers_are_cancelled_so_the_process_can_exit():
    """Snakemake leaves non-daemon 1 s timers behind (its job rate limit); the Snakefile's
    onsuccess/onerror cancel them: a timer's action must then never run."""
    import threading

    from initbench import jobs

    fired = threading.Event()
    timer = threading.Timer(30.0, fired.set)
    timer.start()
    jobs.cancel_pending_timers()
    timer.join(timeout=5.0)
    assert not timer.is_alive() and not fired.is_set()


def test_a_job_process_runs_its_exit_handlers_but_skips_the_teardown(
    tmp_path, child_jobs_importable
):
    """in_own_process ends the child with os._exit once the job has returned: the atexit
    handlers still run (a library's log or temporary files), the teardown that collects
    every module's objects (0.2-0.4 s a process) does not."""
    from child_jobs import WritesWhenCollected, register_exit_handler_and_object

    from initbench import jobs

    at_exit, at_teardown = tmp_path / "at_exit", tmp_path / "at_teardown"
    jobs.in_own_process(register_exit_handler_and_object, str(at_exit), str(at_teardown))
    assert at_exit.read_text() == "atexit ran"
    assert not at_teardown.exists()
    # the object does write when collected, so the assertion above could fail
    WritesWhenCollected(str(at_teardown)).__del__()
    assert at_teardown.read_text() == "collected"


@pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc",
    reason="the malloc thresholds are glibc's; other C libraries ignore them",
)
def test_a_job_process_reuses_freed_memory_instead_of_faulting_in_fresh_pages(
    tmp_path, monkeypatch, child_jobs_importable
):
    """in_own_process starts the child with glibc's malloc thresholds at the values they
    adapt up to: arrays allocated round after round reuse their pages, where by default
    each round faults in about 600 (the heap's top handed back and taken again); a
    threshold the user set is kept."""
    import json

    from child_jobs import write_environment_and_page_faults

    from initbench import jobs

    names = sorted(jobs.MALLOC_ENVIRONMENT)
    for name in names:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "child.json"
    jobs.in_own_process(write_environment_and_page_faults, str(out), names)
    child = json.loads(out.read_text())
    assert child["environment"] == jobs.MALLOC_ENVIRONMENT
    assert child["faults"] < 10_000  # about 1,000 (the first rounds): 30,000 without

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    jobs.in_own_process(write_environment_and_page_faults, str(out), names)
    assert json.loads(out.read_text())["environment"]["MALLOC_TRIM_THRESHOLD_"] == "131072"
