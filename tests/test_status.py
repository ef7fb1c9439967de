"""`initbench status`: cells done out of planned, their cost, and the time left, from disk."""

import json
import shutil

import pyarrow.feather as feather
import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake

from initbench.cell import cell_work
from initbench.cli import main
from initbench.layout import Layout
from initbench.plan import plan
from initbench.status import SECONDS_PER_WORK, makespan, study_status


def config():
    return yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())


def files_under(path):
    return {str(p): p.stat().st_mtime_ns for p in path.rglob("*")}


def test_makespan_packs_the_longest_jobs_first():
    assert makespan([], 2) == 0
    assert makespan([3, 3, 2, 2, 2], 2) == 7  # greedy, as the scheduler: not the best, 6
    assert makespan([5, 1, 1, 1], 1) == 8
    assert makespan([5, 1, 1, 1], 4) == 5


def test_before_any_cell_ran_the_cost_model_gives_the_time_left(tmp_path):
    grid = plan(config(), cores=2)
    status = study_status(config(), tmp_path / "results", cores=2)
    assert status["all"] == {
        "cells": len(grid.cells), "done": 0, "core_s_spent": 0.0,
        "core_s_left": pytest.approx(sum(map(cell_work, grid.cells.values())) * SECONDS_PER_WORK),
    }  # fmt: skip
    assert status["cost_from"].startswith("the cost model")
    assert status["wall_s_left"]["training"] >= status["all"]["core_s_left"] / 2
    assert not (tmp_path / "results").exists()  # reading wrote nothing


@pytest.fixture(scope="module")
def half_finished(tmp_path_factory):
    """The quick study with two of its training jobs run for real (Snakemake, --cores 2,
    the jobs' record files as targets), then stopped: a deterministic half-finished run."""
    workdir = copy_workflow(tmp_path_factory.mktemp("half"))
    grid = plan(config(), cores=2)
    jobs = sorted(grid.batches)[:2]
    targets = [f"results/batches/{job}.json" for job in jobs]
    proc = snakemake(workdir, *targets, "--cores", "2", "--configfile", "config/quick.yaml")
    assert proc.returncode == 0, proc.output[-3000:]
    return workdir, grid, jobs


@pytest.mark.pipeline
def test_status_of_a_half_finished_study(half_finished):
    workdir, grid, jobs = half_finished
    results = workdir / "results"
    before = files_under(results)
    status = study_status(config(), results, cores=2)
    assert files_under(results) == before  # it never writes under results/
    trained = {name for job in jobs for name in grid.batches[job]}
    on_disk = {p.name for p in Layout(results).measured.iterdir()}
    assert on_disk == trained and 0 < len(trained) < len(grid.cells)
    assert status["all"]["done"] == len(trained) and status["all"]["cells"] == len(grid.cells)
    for study, names in grid.studies.items():
        row = status["studies"][study]
        assert (row["done"], row["cells"]) == (len(set(names) & trained), len(names))
    spent = sum(sum(feather.read_table(Layout(results).cell_tables(name)[0])
                    .column("train_seconds").to_pylist()) for name in trained)  # fmt: skip
    assert status["all"]["core_s_spent"] == pytest.approx(spent)  # quick.yaml: threads 1
    assert status["jobs"] == {"planned": len(grid.batches), "finished": len(jobs)}
    assert status["all"]["core_s_left"] > 0 and status["wall_s_left"]["total"] > 0
    assert status["unreadable"] == {"cells": 0, "batch_records": 0}
    assert not status["aggregated"]


@pytest.mark.pipeline
def test_half_written_files_are_skipped_and_counted(half_finished, tmp_path):
    workdir, grid, jobs = half_finished
    results = tmp_path / "results"
    shutil.copytree(workdir / "results", results)
    done = sorted(grid.batches[jobs[0]])
    victim = Layout(results).cell_tables(done[0])[0]
    victim.write_bytes(victim.read_bytes()[:100])  # as a copy caught half-way
    Layout(results).batch(jobs[1]).write_text('{"job": ')
    status = study_status(config(), results, cores=2)
    assert status["unreadable"] == {"cells": 1, "batch_records": 1}
    trained = {name for job in jobs for name in grid.batches[job]}
    assert status["all"]["done"] == len(trained) - 1
    assert status["jobs"]["finished"] == 1


@pytest.mark.pipeline
def test_status_command_prints_each_study(half_finished, capsys, monkeypatch):
    workdir, grid, _ = half_finished
    monkeypatch.chdir(workdir)
    main(["status", "--configfile", "config/quick.yaml", "--cores", "2"])
    text = capsys.readouterr().out
    for study in grid.studies:
        assert f"\n{study} " in text
    assert "wall time left at 2 cores: about" in text
    main(["status", "--configfile", "config/quick.yaml", "--json"])
    assert json.loads(capsys.readouterr().out)["all"]["cells"] == len(grid.cells)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--configfile", "nope.yaml"], "--configfile: no such file: 'nope.yaml'"),
     (["--cores", "0"], "--cores must be >= 1, got 0"),
     (["--tier", "papr"], "tier: unknown tier 'papr' (did you mean 'paper'?)")],
)  # fmt: skip
def test_bad_input_is_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(["status", *args])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
