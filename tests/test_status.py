"""`initbench status`: cells done out of planned, their cost, and the time left, from disk."""

import copy
import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake

import initbench
from initbench.cell import (
    DTYPE_FACTOR,
    NORM_STEP_FACTOR,
    OPTIMIZER_STEP_FACTOR,
    Cell,
    cell_work,
)
from initbench.cli import main
from initbench.layout import Layout
from initbench.plan import plan
from initbench.settings import NORMS, OPTIMIZERS, TrainSettings
from initbench.status import SECONDS_PER_WORK, makespan, render, study_status
from initbench.tables import ABOUT_CELL


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
    assert "estimated for 2 cores" in render(status)
    one = render(study_status(config(), tmp_path / "results", cores=1))
    assert "estimated for 1 core\n" in one and "wall time left at 1 core: about" in one


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
                    .column("train_cpu_seconds").to_pylist()) for name in trained)  # fmt: skip
    assert status["all"]["core_s_spent"] == pytest.approx(spent)  # quick.yaml: threads 1
    assert status["jobs"] == {"planned": len(grid.batches), "finished": len(jobs), "other_plan": 0}
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


def two_tier_config():
    """quick.yaml as a two-tier study: its paper tier trains the overview and course
    longer, so those cells change, and keeps the other studies' cells as they are."""
    tiered = config()
    tiered["tier"], tiered["tiers"] = "default", ["default", "paper"]
    for study in ("overview", "course"):
        tiered["studies"][study]["tiers"] = {"paper": {"steps": 400}}
    return tiered


def in_tier(tiered, tier):
    return {**copy.deepcopy(tiered), "tier": tier}


def write_cells(results, names, cpu_seconds, wall_factor):
    """Synthetic measured tables: two seeds a cell, each ``cpu_seconds`` of thread CPU and
    ``wall_factor`` times that in wall seconds (jobs waiting for a core), one thread."""
    about = json.dumps({"parameters": {}, "provenance": {"threads": 1}})
    for name in names:
        paths = Layout(results).cell_tables(name)
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        runs = pa.table({"train_seconds": [cpu_seconds * wall_factor] * 2,
                         "train_cpu_seconds": [cpu_seconds] * 2})  # fmt: skip
        feather.write_feather(runs.replace_schema_metadata({ABOUT_CELL: about}), paths[0])
        for path in paths[1:]:
            path.write_bytes(b"")


def write_records(results, batches):
    Layout(results).batches.mkdir(parents=True, exist_ok=True)
    for job, names in batches.items():
        Layout(results).batch(job).write_text(json.dumps({"job": job, "cell_names": list(names)}))


def test_a_paper_tier_run_after_the_default_tier(tmp_path):
    """The README's sequence, default then paper in one results/: the default tier's job
    records (same job names, other cells) are not the paper jobs' (Snakemake reruns them),
    every paper job with cells left counts in the wall time, and the cost spent is CPU
    time, not the wall time of jobs that waited for a core (--cores 8 on 2 cores)."""
    results, cores = tmp_path / "results", 2
    default = plan(in_tier(two_tier_config(), "default"), cores=cores)
    paper = plan(in_tier(two_tier_config(), "paper"), cores=cores)
    write_cells(results, default.cells, cpu_seconds=0.5, wall_factor=13)
    write_records(results, default.batches)
    shared = set(default.cells) & set(paper.cells)
    assert 0 < len(shared) < len(paper.cells)  # the paper tier keeps some cells, not all
    kept = {job for job, names in paper.batches.items() if default.batches.get(job) == names}
    renamed = {job for job in paper.batches if job in default.batches} - kept
    assert renamed  # job names both tiers use, with other cells in the paper tier

    status = study_status(in_tier(two_tier_config(), "paper"), results, cores=cores)
    assert status["jobs"] == {"planned": len(paper.batches), "finished": len(kept),
                              "other_plan": len(renamed)}  # fmt: skip
    assert status["all"]["done"] == len(shared)
    assert status["all"]["core_s_spent"] == pytest.approx(len(shared) * 2 * 0.5)
    left = status["all"]["core_s_left"]
    assert left > 0 and status["wall_s_left"]["training"] >= left / cores
    assert f"{len(renamed)} to rerun" in render(status)

    # half-way: the paper tier's first jobs done, their records now its own
    first = dict(sorted(paper.batches.items())[: len(paper.batches) // 2])
    write_cells(results, {name for names in first.values() for name in names}, 0.5, 1)
    write_records(results, first)
    later = study_status(in_tier(two_tier_config(), "paper"), results, cores=cores)
    assert later["jobs"]["finished"] == len(set(first) | kept)
    assert later["jobs"]["other_plan"] == len(renamed - set(first))
    assert 0 < later["wall_s_left"]["training"] < status["wall_s_left"]["training"]
    assert later["wall_s_left"]["training"] >= later["all"]["core_s_left"] / cores


def test_adam_and_layernorm_steps_cost_more_in_the_cost_model():
    """cell_work scales the steps' work (not the evaluations') by the fitted factors, for
    every optimizer and norm the settings allow."""
    assert set(OPTIMIZER_STEP_FACTOR) == set(OPTIMIZERS) and set(NORM_STEP_FACTOR) == set(NORMS)

    def work(steps, **training):
        settings = TrainSettings(steps=steps, log_points=2, **training)
        return cell_work(Cell("digits", "relu", "he", "he_normal", (32,) * 5, training=settings))

    def per_step(**training):
        return work(200, **training) - work(100, **training)

    assert per_step(optimizer="adam") == pytest.approx(OPTIMIZER_STEP_FACTOR["adam"] * per_step())
    residual = {"architecture": "residual", "momentum": 0.9}
    assert per_step(**residual, norm="layernorm") == pytest.approx(
        NORM_STEP_FACTOR["layernorm"] * per_step(**residual)
    )
    assert OPTIMIZER_STEP_FACTOR["adam"] > 1 and NORM_STEP_FACTOR["layernorm"] > 1


def test_a_float32_cell_costs_its_fitted_share_of_a_float64_one():
    """The whole run's work (steps and evaluations) scales by DTYPE_FACTOR, for every dtype
    the config schema allows."""
    schema = json.loads((Path(initbench.__file__).parent / "config.schema.json").read_text())
    dtypes = set(re.findall(r'"(float\d+)"', json.dumps(schema)))
    assert dtypes and set(DTYPE_FACTOR) == dtypes

    def work(dtype):
        return cell_work(Cell("digits", "relu", "he", "he_normal", (32,) * 5, dtype=dtype))

    assert work("float32") == pytest.approx(DTYPE_FACTOR["float32"] * work("float64"))
    assert 0 < DTYPE_FACTOR["float32"] < 1
