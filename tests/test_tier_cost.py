"""benchmarks/tier_cost.py: a tier's cost per study and from its log, on synthetic files."""

import os
import sys
from datetime import datetime

import pandas as pd
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from tier_cost import parse_log, report  # noqa: E402

LOG_START = datetime(2026, 12, 6, 4, 11, 10).timestamp()  # the log's first time stamp
LOG = """Provided cores: 8
[Sun Dec  6 04:11:10 2026]
localrule warmup:
    output: results/jit/builtin-float64.ok
    jobid: 3
[Sun Dec  6 04:11:20 2026]
localrule train:
    output: results/batches/relu-float64-00.json
    jobid: 7
[Sun Dec  6 04:11:40 2026]
Finished jobid: 3 (Rule: warmup)
[Sun Dec  6 04:13:20 2026]
Finished jobid: 7 (Rule: train)
[Sun Dec  6 04:13:21 2026]
localrule aggregate:
    jobid: 9
[Sun Dec  6 04:13:30 2026]
Finished jobid: 9 (Rule: aggregate)
Elapsed time: 0:02:21.500000
\tUser time (seconds): 250.00
\tSystem time (seconds): 10.00
\tMaximum resident set size (kbytes): 2048000
"""


@pytest.fixture
def finished(tmp_path):
    """Two studies sharing one cell (counted once, in the first), and a log."""
    results = tmp_path / "results"
    results.mkdir()
    runs = pd.DataFrame({"cell": ["a", "a", "b", "c"], "threads": [1, 1, 1, 2],
                         "train_cpu_seconds": [10.0, 12.0, 30.0, 5.0],
                         "train_seconds": [40.0, 40.0, 90.0, 50.0]})  # fmt: skip
    runs.to_parquet(results / "runs.parquet")
    studies = pd.DataFrame({"study": ["first", "first", "second", "second"],
                            "cell": ["a", "b", "a", "c"]})  # fmt: skip
    studies.to_parquet(results / "studies.parquet")
    for cell in "abc":  # each cell's tables, written during the logged run
        measured(results, cell, LOG_START + 30)
    (tmp_path / "tier.log").write_text(LOG)
    return results, tmp_path / "tier.log"


def measured(results, cell, written_at):
    """A cell's runs table in results/measured, written at ``written_at``."""
    path = results / "measured" / cell / "runs.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.utime(path, (written_at, written_at))


def test_core_seconds_per_study_count_each_cell_once(finished):
    results, _ = finished
    text = report(results)
    # first: a (22) + b (30); second: c, two threads: wall x threads = 100; a shared
    assert "| first | 2 | 3 | 52 | 52 |" in text
    assert "| second | 2 | 3 | 100 | 122 |" in text
    assert "kernel core-s (thread CPU inside train): 152" in text


def test_the_log_gives_wall_compile_and_overhead(finished):
    results, log = finished
    jobs, summary = parse_log(log)
    assert {rule for rule, _, _ in jobs.values()} == {"warmup", "train", "aggregate"}
    assert summary["elapsed_s"] == pytest.approx(141.5) and summary["user_s"] == 250
    text = report(results, log, machine_cores=2)
    assert "wall 142 s" in text and "time stamps 140 s" in text
    assert "compile (warm-up jobs): 1 job, 30 s of wall summed" in text
    assert "start to the first training job 10 s; after the last training job 10 s" in text
    assert f"= {1 - 152 / (2 * 141.5):.1%}" in text
    assert "CPU besides the kernels (compile included) 108 core-s" in text


def test_with_a_log_cells_trained_before_the_run_count_apart(finished):
    """A tier after another in one results/ (default, then paper): the cells they share
    were trained by the first run; their runs keep its CPU, which is not this run's."""
    results, log = finished
    measured(results, "b", LOG_START - 3600)
    text = report(results, log, machine_cores=2)
    assert "kernel core-s (thread CPU inside train): 122" in text
    assert "1 cell (1 runs, 30 kernel core-s) trained before the logged run and reused" in text
    assert "| first | 1 | 2 | 22 | 22 |" in text
    assert f"= {1 - 122 / (2 * 141.5):.1%}" in text
    assert "CPU besides the kernels (compile included) 138 core-s" in text
    assert "reused" not in report(results)  # without a log, every cell counts


def test_a_file_without_snakemake_jobs_is_refused(tmp_path):
    (tmp_path / "empty.log").write_text("nothing here\n")
    with pytest.raises(ValueError, match="--log: no Snakemake jobs found"):
        parse_log(tmp_path / "empty.log")
