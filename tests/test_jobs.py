"""jobs.py: what the pipeline's rules call."""

import pytest


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
