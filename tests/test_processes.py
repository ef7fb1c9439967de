"""processes.py: jobs in processes of their own, forked from the job server or fresh."""

import json
import os
import time
from pathlib import Path

import pytest

from initbench import processes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the job server forks")


@pytest.fixture
def child_jobs_importable(monkeypatch):
    """tests/child_jobs.py importable by name in a job's process: this folder on the
    PYTHONPATH of a fresh interpreter and of a job server started after this."""
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(params=["fresh", "server"])
def way(request, child_jobs_importable):
    """Each test runs both ways a job gets its process: a fresh interpreter (no server
    registered), or a fork of a job server that imports tests/child_jobs.py."""
    if request.param == "server":
        processes.use_job_server(["child_jobs"])
    yield request.param
    processes.stop_job_server()


def test_a_job_in_its_own_process_writes_its_outputs_or_raises_its_error(tmp_path, way):
    """The pipeline runs the theory, the findings and the report's figures this way: a
    failure there fails the job with the child's traceback, not silently."""
    from initbench import jobs
    from initbench.datasets import read_dataset

    out = tmp_path / "circles.npz"
    processes.in_own_process(jobs.dataset_job, "circles", {}, 0, str(out), str(tmp_path / "log"))
    assert read_dataset(out).X_train.shape == (300, 2)
    with pytest.raises(RuntimeError, match="read_dataset failed") as error:
        processes.in_own_process(read_dataset, str(tmp_path / "missing.npz"))
    assert "FileNotFoundError" in str(error.value)


def test_a_job_whose_process_is_killed_fails(way):
    """A child that ends without reporting (killed) is a failure, never a job done."""
    from child_jobs import kill_own_process

    with pytest.raises(RuntimeError, match="kill_own_process failed"):
        processes.in_own_process(kill_own_process)


def test_a_job_process_freezes_what_its_imports_made(tmp_path, way):
    """The modules a job's process imported live as long as it: frozen before the job, no
    collection traverses them again."""
    from child_jobs import write_frozen_objects

    out = tmp_path / "frozen"
    processes.in_own_process(write_frozen_objects, str(out))
    assert int(out.read_text()) > 10_000  # the interpreter's and the imports' objects


def test_a_job_process_runs_its_exit_handlers_but_skips_the_teardown(tmp_path, way):
    """The child leaves with os._exit once the job has returned: the atexit handlers still
    run (a library's log or temporary files), the teardown that collects every module's
    objects (0.2-0.4 s a process) does not."""
    from child_jobs import WritesWhenCollected, register_exit_handler_and_object

    at_exit, at_teardown = tmp_path / "at_exit", tmp_path / "at_teardown"
    processes.in_own_process(register_exit_handler_and_object, str(at_exit), str(at_teardown))
    assert at_exit.read_text() == "atexit ran"
    assert not at_teardown.exists()
    # the object does write when collected, so the assertion above could fail
    WritesWhenCollected(str(at_teardown)).__del__()
    assert at_teardown.read_text() == "collected"


def test_the_job_server_forks_jobs_with_its_modules_imported(tmp_path, child_jobs_importable):
    """What the server is for: a job's module imported once, in the server, not again in
    each job's process (a fresh interpreter imports it itself). The server starts with the
    first job, whose module it imports before it forks that job (the child would import it
    too, and the server again after it)."""
    from child_jobs import write_where_imported

    out = tmp_path / "where"
    processes.in_own_process(write_where_imported, str(out))
    assert out.read_text() == "False"  # no server: a fresh interpreter imported it
    # child_jobs second: the first job's module is imported ahead of the server's order
    processes.use_job_server(["json", "child_jobs"])
    try:
        processes.in_own_process(write_where_imported, str(out))  # the server's first job
        assert out.read_text() == "True"
        processes.in_own_process(write_where_imported, str(out))
        assert out.read_text() == "True"
        processes.in_own_process(write_where_imported, str(out), fresh=True)
        assert out.read_text() == "False"  # fresh=True: never the server
    finally:
        processes.stop_job_server()


@pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc",
    reason="the malloc thresholds are glibc's; other C libraries ignore them",
)
def test_a_job_process_reuses_freed_memory_instead_of_faulting_in_fresh_pages(
    tmp_path, monkeypatch, way
):
    """The child runs with glibc's malloc thresholds at the values they adapt up to (a
    server starts with them, its forks inherit them): arrays allocated round after round
    reuse their pages, where by default each round faults in about 600 (the heap's top
    handed back and taken again); a threshold the user set is kept."""
    from child_jobs import write_environment_and_page_faults

    names = sorted(processes.MALLOC_ENVIRONMENT)
    for name in names:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "child.json"
    processes.in_own_process(write_environment_and_page_faults, str(out), names)
    child = json.loads(out.read_text())
    assert child["environment"] == processes.MALLOC_ENVIRONMENT
    assert child["faults"] < 10_000  # about 1,000 (the first rounds): 30,000 without

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    if way == "server":  # the user's setting is read when a server starts
        processes.stop_job_server()
        processes.use_job_server([])
    processes.in_own_process(write_environment_and_page_faults, str(out), names)
    assert json.loads(out.read_text())["environment"]["MALLOC_TRIM_THRESHOLD_"] == "131072"


def test_the_job_server_outlives_a_ctrl_c_and_leaves_with_the_pipeline(child_jobs_importable):
    """Ctrl-C signals the terminal's whole process group. The server ignores it: it leaves
    when the pipeline's process lets it go (or ends), and removes its socket then, where a
    server killed by the signal would print a traceback and leave its socket behind."""
    import signal

    from child_jobs import write_frozen_objects

    processes.use_job_server([])
    server = processes._JOB_SERVER["server"]
    try:
        processes.in_own_process(write_frozen_objects, os.devnull)
        folder = Path(server._address).parent
        server._process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert server._process.poll() is None  # still serving
        processes.in_own_process(write_frozen_objects, os.devnull)
        process = server._process
    finally:
        processes.stop_job_server()
    assert process.wait(timeout=10) == 0
    assert not folder.exists()


def _slow_square(number):
    time.sleep(0.05)
    return {"square": number * number, "pid": os.getpid()}


@pytest.fixture
def two_cpus(monkeypatch):
    """side_by_side never forks past the CPUs a process may use: two, for these tests."""
    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)


def test_side_by_side_shares_the_items_between_processes_and_keeps_their_order(two_cpus):
    """Both processes take items from the shared queue (each sleeps), every item is
    computed once, and the results come back in the items' order."""
    results = processes.side_by_side(_slow_square, 12, processes=2)
    assert [r["square"] for r in results] == [n * n for n in range(12)]
    pids = {r["pid"] for r in results}
    assert os.getpid() in pids and len(pids) == 2


def test_side_by_side_queues_in_the_order_given_and_returns_by_number(two_cpus):
    results = processes.side_by_side(_slow_square, 5, processes=2, order=[4, 3, 2, 1, 0])
    assert [r["square"] for r in results] == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="not of the numbers 0..4"):
        processes.side_by_side(_slow_square, 5, processes=2, order=[0, 1, 2, 3, 3])


def test_side_by_side_in_one_process_computes_in_order():
    assert processes.side_by_side(_slow_square, 3, processes=1) == [
        {"square": n * n, "pid": os.getpid()} for n in range(3)
    ]


def test_side_by_side_forks_no_more_processes_than_the_cpus_allowed(monkeypatch):
    """A cluster job given one CPU (its affinity) computes every item itself."""
    monkeypatch.setattr(processes, "usable_cpus", lambda: 1)
    results = processes.side_by_side(_slow_square, 4, processes=2)
    assert {r["pid"] for r in results} == {os.getpid()}


def _fails_in_the_fork(number):
    if os.getpid() != PARENT[0]:
        raise ValueError(f"item {number} failed in the fork")
    time.sleep(0.05)
    return number


PARENT = [os.getpid()]


def test_a_failure_in_a_fork_of_side_by_side_raises_its_traceback(two_cpus):
    PARENT[0] = os.getpid()
    with pytest.raises(RuntimeError, match=r"(?s)a fork of side_by_side failed.*ValueError: item"):
        processes.side_by_side(_fails_in_the_fork, 6, processes=2)
