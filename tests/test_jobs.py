"""jobs.py: what the pipeline's rules call."""


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
