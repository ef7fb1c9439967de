"""The quick study end to end: tables, report, reruns, extension, lint, determinism, resume."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake

import initbench as ib
from initbench.findings import CLAIMS, VERDICTS
from initbench.layout import TABLE_NAMES
from initbench.outcomes import comparable, with_mean_field_params
from initbench.plan import plan
from initbench.tables import THEORY_KEYS

pytestmark = pytest.mark.pipeline


def quick(workdir, *args):
    return snakemake(workdir, "--cores", "2", "--configfile", "config/quick.yaml", *args)


def job_counts(output):
    """{rule: count} from the 'Job stats' table of a (dry) run."""
    block = output.split("Job stats:")[1].split("\n\n")[0]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m[1] != "total"
    }


def trained_cells(workdir):
    """The cells the training jobs' logs say they trained (not skipped)."""
    logs = (workdir / "logs" / "train").glob("*.log")
    text = "".join(log.read_text() for log in logs)
    return sorted(set(re.findall(r"\] cell (\S+?): (?!already trained)", text)))


def planned_batches(output):
    return sorted(set(re.findall(r"wildcards: batch=(\S+)", output)))


def read_tables(workdir):
    return {name: pd.read_parquet(workdir / "results" / f"{name}.parquet") for name in TABLE_NAMES}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The quick study, run once with --cores 2."""
    workdir = copy_workflow(tmp_path_factory.mktemp("quick"))
    proc = quick(workdir)
    assert proc.returncode == 0, proc.output[-3000:]
    (workdir / "snakemake.out").write_text(proc.output)
    return workdir


def test_quick_study_produces_tables_and_report(finished):
    config = yaml.safe_load((finished / "config" / "quick.yaml").read_text())
    grid = plan(config)
    tables = read_tables(finished)
    runs = tables["runs"]
    expected_runs = sum(len(cell.seeds) for cell in grid.cells.values())
    assert len(runs) == expected_runs
    assert set(runs["cell"]) == set(grid.cells)
    assert {
        "dataset",
        "activation",
        "init",
        "depth",
        "width",
        "seed",
        "status",
        "final_test_accuracy",
        "config_hash",
        "git_commit",
        "numba_version",
    } <= set(runs)
    assert runs["status"].isin(["completed", "diverged"]).all()
    assert set(tables["layers"]["layer"]) >= {1, 2}
    assert (tables["curves"].groupby(["cell", "seed"])["step"].min() == 0).all()
    assert len(tables["cost"]) == len(grid.batches) and (tables["cost"]["s"] > 0).all()
    assert set(tables["studies"]["study"]) == set(config["studies"])
    theory = tables["theory"]  # the mean-field predictions at every mean-field setting
    mean_field = with_mean_field_params(runs).dropna(subset=["sigma_w2"])
    at_cells = theory[theory["kind"] == "cell"].merge(mean_field, on=list(THEORY_KEYS))
    assert len(mean_field) and len(at_cells) == len(mean_field)
    assert (theory["kind"] == "curve").sum() > len(set(mean_field["activation"]))
    assert sorted(n for names in grid.batches.values() for n in names) == sorted(grid.cells)
    for batch, names in grid.batches.items():  # each job's log names its cells and seeds
        log = (finished / "logs" / "train" / f"{batch}.log").read_text()
        assert all(name in log for name in names) and "seed" in log and "done" in log
    html = finished / "report" / "index.html"
    assert html.exists() and html.stat().st_size > 10_000
    verdicts = json.loads((finished / "results" / "findings.json").read_text())
    assert [f["key"] for f in verdicts] == [claim.key for claim in CLAIMS]
    assert all(f["verdict"] in VERDICTS for f in verdicts)


def test_load_results_reads_what_the_pipeline_wrote(finished):
    results = ib.load_results(finished / "results")
    for name, table in read_tables(finished).items():
        pd.testing.assert_frame_equal(results.tables[name], table)
    latest = results.findings[results.findings["latest"]]
    assert list(latest["key"]) == [claim.key for claim in CLAIMS]
    assert set(latest["tier"]) == {"quick"}  # also in findings-quick.json: one row each
    assert len(results.findings) == len(CLAIMS)
    assert len(results.effects) and set(results.effects["key"]) <= set(latest["key"])


def test_the_theory_from_the_plan_is_the_theory_at_the_measured_runs(finished):
    """Rule theory computes the mean-field table from the plan, before any run exists; it
    must be the table at the measured runs' settings."""
    from initbench.theory import predictions

    theory = pd.read_parquet(finished / "results" / "theory.parquet")
    runs = pd.read_parquet(finished / "results" / "runs.parquet")
    expected = predictions(with_mean_field_params(runs[["activation", "init_params"]]))
    assert len(expected) > 100 and set(expected["kind"]) == {"cell", "curve"}
    pd.testing.assert_frame_equal(theory.drop(columns="config_hash"), expected)


def test_diverged_runs_are_recorded_without_warnings(finished):
    runs = pd.read_parquet(finished / "results" / "runs.parquet")
    diverged = runs[runs["status"] == "diverged"]
    assert len(diverged) >= 1 and (diverged["diverged_step"] >= 0).all()
    html = (finished / "report" / "index.html").read_text()
    assert diverged["cell"].iloc[0] in html
    logs = [finished / "snakemake.out", *sorted((finished / "logs").rglob("*.log"))]
    for log in logs:
        text = log.read_text()
        assert "Warning" not in text and "warnings.warn" not in text, (log, text[-2000:])


def job_priorities(output):
    """[(rule, priority)] of the jobs a dry run lists."""
    jobs = re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", output, re.M)
    return [(m[1], int(re.search(r"priority: (\d+)", m[2])[1])) for m in jobs
            if "priority:" in m[2]]  # fmt: skip


def test_the_compile_goes_before_the_datasets(tmp_path):
    """On 2 cores, cold, the compile chain (parts, then the loop's warm-up: 16 s) is the
    path to the first training job and a dataset takes 0.5 s: the compile jobs rank above
    the datasets, so a dataset takes the other core rather than delaying the warm-up."""
    workdir = copy_workflow(tmp_path)
    dry = quick(workdir, "-n")
    assert dry.returncode == 0, dry.output[-2000:]
    ranks = job_priorities(dry.output)
    compile_ranks = [p for rule, p in ranks if rule in ("compile_part", "warmup")]
    dataset_ranks = [p for rule, p in ranks if rule == "dataset"]
    assert compile_ranks and dataset_ranks, dry.output[-2000:]
    assert min(compile_ranks) > max(dataset_ranks)


def test_rerun_with_nothing_changed_does_nothing(finished):
    proc = quick(finished, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.output


def test_adding_an_init_trains_only_the_new_cells(finished, tmp_path):
    config = yaml.safe_load((finished / "config" / "quick.yaml").read_text())
    config["inits"]["lecun_normal"] = {"scheme": "lecun_normal"}
    config["studies"]["overview"]["inits"].append("lecun_normal")
    workdir = copy_workflow(tmp_path)
    shutil.rmtree(workdir / "results")
    shutil.copytree(finished / "results", workdir / "results")
    shutil.copytree(finished / ".snakemake", workdir / ".snakemake")
    (workdir / "extended.yaml").write_text(yaml.safe_dump(config))
    grid = plan(config)
    new = sorted(set(grid.cells) - set(pd.read_parquet(finished / "results/runs.parquet")["cell"]))
    overview = config["studies"]["overview"]
    assert len(new) == len(overview["datasets"]) * len(overview["activations"]) * len(
        overview["depths"]) * len(overview["widths"])  # fmt: skip
    assert all("-lecun_normal-" in name for name in new)
    dry = snakemake(workdir, "-n", "--cores", "2", "--configfile", "extended.yaml")
    assert dry.returncode == 0, dry.output[-2000:]
    batches = sorted({b for b, names in grid.batches.items() if set(names) & set(new)})
    assert planned_batches(dry.output) == batches  # only the batches that gained a cell
    assert job_counts(dry.output) == {
        "train": len(batches), "aggregate": 1, "findings": 1, "report_sections": 1,
        "report": 1, "all": 1,
    }  # fmt: skip
    proc = snakemake(workdir, "--cores", "2", "--configfile", "extended.yaml")
    assert proc.returncode == 0, proc.output[-2000:]
    assert trained_cells(workdir) == new


def test_sweeping_a_new_optimizer_trains_only_its_cells(finished, tmp_path):
    """The engine study sweeps architecture x norm x optimizer x parametrization over two
    widths (a plain net takes no norm: one plain cell per other combination); the tables
    carry each cell's settings and the residual metrics, and a new optimizer in the sweep
    trains only its cells."""
    runs = pd.read_parquet(finished / "results" / "runs.parquet")
    study = runs[runs["cell"].isin(plan(yaml.safe_load(
        (finished / "config" / "quick.yaml").read_text())).studies["engine"])]  # fmt: skip
    combos = set(zip(study["architecture"], study["norm"], study["optimizer"],
                     study["parametrization"], study["width"]))  # fmt: skip
    nets = [("plain", "none"), ("residual", "none"), ("residual", "layernorm")]
    assert combos == {(a, n, o, p, w) for a, n in nets for o in ("sgd", "adam")
                      for p in ("sp", "mup") for w in (32, 64)}  # fmt: skip
    assert set(study.loc[study["parametrization"] == "sp", "base_width"]) == {0}  # sp ignores it
    assert set(study.loc[study["parametrization"] == "mup", "base_width"]) == {32}
    assert (study["status"] == "completed").all()
    layers = pd.read_parquet(finished / "results" / "layers.parquet")
    steps = layers[layers["cell"].isin(study["cell"])]
    assert steps["update_ratio"].notna().all() and (steps["update_ratio"] > 0).any()
    residual = steps[steps["cell"].isin(study.loc[study["architecture"] == "residual", "cell"])]
    block = residual[residual["layer"] == 3]  # the one block's last dense layer
    assert block["branch_ratio"].notna().all() and (block["gate"] == 1.0).all()
    assert steps[~steps["cell"].isin(residual["cell"])]["branch_ratio"].isna().all()

    config = yaml.safe_load((finished / "config" / "quick.yaml").read_text())
    config["studies"]["engine"]["sweep"]["optimizer"].append("adamw")
    workdir = copy_workflow(tmp_path)
    shutil.rmtree(workdir / "results")
    shutil.copytree(finished / "results", workdir / "results")
    shutil.copytree(finished / ".snakemake", workdir / ".snakemake")
    (workdir / "extended.yaml").write_text(yaml.safe_dump(config))
    new = sorted(set(plan(config).cells) - set(runs["cell"]))
    assert len(new) == 12  # adamw x 3 nets x (sp, mup) x two widths
    proc = snakemake(workdir, "--cores", "2", "--configfile", "extended.yaml")
    assert proc.returncode == 0, proc.output[-2000:]
    assert trained_cells(workdir) == new
    runs = pd.read_parquet(workdir / "results" / "runs.parquet")
    assert set(runs.loc[runs["cell"].isin(new), "optimizer"]) == {"adamw"}


def test_cells_added_while_the_warmup_reruns_train_in_one_run(tmp_path):
    """A study of plain nets, then the engine study's residual nets added in a run whose
    warm-up reruns with its marker in place (as a change to its rule's code, or a param
    once, makes it): that run trains every new cell. With the training jobs' warm-up input
    ancient(), Snakemake 9.27 scheduled none of them and reported the run complete."""
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    plain = {**config, "studies": {k: v for k, v in config["studies"].items() if k != "engine"}}
    assert {c.training.architecture for c in plan(plain).cells.values()} == {"plain"}
    workdir = copy_workflow(tmp_path)
    (workdir / "plain.yaml").write_text(yaml.safe_dump(plain))
    proc = snakemake(workdir, "--cores", "2", "--configfile", "plain.yaml")
    assert proc.returncode == 0, proc.output[-2000:]
    proc = quick(workdir, "--forcerun", "warmup")
    assert proc.returncode == 0, proc.output[-2000:]
    runs = pd.read_parquet(workdir / "results" / "runs.parquet")
    assert set(runs["cell"]) == set(plan(config).cells)
    assert "residual" in set(runs["architecture"])
    assert "Nothing to be done" in quick(workdir, "-n").output


def test_changing_a_training_setting_reruns_exactly_its_cells(finished, tmp_path):
    config = yaml.safe_load((finished / "config" / "quick.yaml").read_text())
    config["studies"]["he_xavier"]["steps"] += 1
    (finished / "changed.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(finished, "-n", "--cores", "2", "--configfile", "changed.yaml")
    assert proc.returncode == 0, proc.output[-2000:]
    before, after = (
        plan(yaml.safe_load((finished / "config" / "quick.yaml").read_text())),
        plan(config),
    )
    changed = set(before.studies["he_xavier"]) ^ set(after.studies["he_xavier"])
    batches = {b for grid in (before, after) for b, names in grid.batches.items()
               if set(names) & changed}  # fmt: skip
    # the batches that gained a new cell train it; those that lost one just re-list theirs
    assert planned_batches(proc.output) == sorted(batches)


def test_lint_is_clean(finished):
    proc = snakemake(finished, "--lint", "--configfile", "config/quick.yaml")
    assert proc.returncode == 0, proc.output
    assert "Congratulations" in proc.output


def test_one_core_gives_the_same_tables(finished, tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "--cores", "1", "--configfile", "config/quick.yaml")
    assert proc.returncode == 0, proc.output[-3000:]
    ours, reference = read_tables(workdir), read_tables(finished)
    for name in ("runs", "curves", "layers", "studies"):
        pd.testing.assert_frame_equal(comparable(ours[name]), comparable(reference[name]))


def test_killed_run_resumes_to_the_same_tables(finished, tmp_path):
    workdir = copy_workflow(tmp_path)
    args = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/quick.yaml"]
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    cells = workdir / "results" / "measured"
    while time.monotonic() < deadline and proc.poll() is None:
        if cells.exists() and len(list(cells.glob("*/runs.arrow"))) >= 5:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the study finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / "results" / "runs.parquet").exists()
    assert snakemake(workdir, "--unlock", "--configfile", "config/quick.yaml").returncode == 0
    resumed = snakemake(workdir, "--cores", "2", "--configfile", "config/quick.yaml")
    assert resumed.returncode == 0, resumed.output[-3000:]
    ours, reference = read_tables(workdir), read_tables(finished)
    for name in ("runs", "curves", "layers", "studies"):
        pd.testing.assert_frame_equal(comparable(ours[name]), comparable(reference[name]))
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name]
    assert not leftovers
