"""The quick study on a SLURM cluster through profiles/slurm, and the profile's faults.

The cluster tests need a cluster that answers (CI starts one with tests/slurm/start-cluster.sh)
and the executor plugin; without them they are skipped, saying why. The one-line errors are
checked wherever SLURM's commands (and, for the plugin, Snakemake) are installed.
"""

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_workflow

from initbench import cluster
from initbench.outcomes import comparable
from initbench.plan import plan

TABLES = ("runs", "curves", "layers", "studies")
TIMEOUT = 600  # seconds for one run of the quick study on the cluster
# The local test cluster has no accounting database: states come from squeue (its MinJobAge
# keeps finished jobs listed), and a short first status check keeps small jobs short.
LOCAL_CLUSTER = [
    "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
]  # fmt: skip
BATCHES_PER_ACTIVATION = 2
BATCHES = ["--config", f"batches_per_activation={BATCHES_PER_ACTIVATION}"]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(\w+?)/")


def cluster_problem():
    """Why the cluster tests cannot run here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return 'snakemake-executor-plugin-slurm is not installed (pip install -e ".[slurm]")'
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not found); tests/slurm/start-cluster.sh starts one"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                timeout=30).stdout.split()  # fmt: skip
    except subprocess.TimeoutExpired:
        states = []
    if not {"idle", "mix"} & set(states):
        return "no idle SLURM node answers sinfo; tests/slurm/start-cluster.sh starts one"
    return None


needs_cluster = pytest.mark.skipif(bool(cluster_problem()), reason=str(cluster_problem()))


def run(workdir, *args, timeout=TIMEOUT, env=None, python=(sys.executable,)):
    """snakemake in ``workdir`` under ``timeout -s KILL`` (a lost job status can hang it)."""
    command = ["timeout", "-s", "KILL", str(timeout), *python, "-m", "snakemake", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)
    proc.output = proc.stdout + proc.stderr
    return proc


def on_slurm(workdir, *args, **kwargs):
    return run(workdir, "--profile", "profiles/slurm", *LOCAL_CLUSTER, "--configfile",
               "config/quick.yaml", *args, **kwargs)  # fmt: skip


def read_tables(workdir):
    return {name: pd.read_parquet(workdir / "results" / f"{name}.parquet") for name in TABLES}


def verdicts(workdir):
    findings = json.loads((workdir / "results" / "findings.json").read_text())
    return {finding["key"]: finding["verdict"] for finding in findings}


def slurm_state(job_id):
    out = subprocess.run(["squeue", "-h", "--states=all", "-j", job_id, "-o", "%T"],
                         capture_output=True, text=True, timeout=30).stdout  # fmt: skip
    return out.strip()


class Canceller(threading.Thread):
    """scancel the first training group job once it has run for ``after`` seconds."""

    def __init__(self, workdir, after=5.0, deadline=300.0):
        super().__init__(daemon=True)
        self.workdir, self.after, self.deadline = workdir, after, deadline
        self.cancelled = None

    def run(self):
        logs = self.workdir / ".snakemake" / "slurm_logs" / "group_cells_train"
        end = time.monotonic() + self.deadline
        while time.monotonic() < end:
            for log in sorted(logs.glob("*.log")) if logs.exists() else []:
                job_id = log.stem
                if slurm_state(job_id) == "RUNNING":
                    time.sleep(self.after)
                    if slurm_state(job_id) == "RUNNING":
                        subprocess.run(["scancel", job_id], check=True, timeout=30)
                        self.cancelled = job_id
                        return
            time.sleep(0.5)


def wait_until(condition, process, timeout=300):
    end = time.monotonic() + timeout
    while not condition() and process.poll() is None and time.monotonic() < end:
        time.sleep(0.5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The quick study on the cluster, one training group job cancelled mid-run, and a
    local run of it for reference.

    The local run starts first and the cluster run once the local one has compiled (two
    runs compiling the same kernels at once would do the work twice on CI's two cores);
    then they overlap, since the cluster run mostly waits. On the cluster the quick study
    trains in fewer, larger batches (BATCHES): the same cells and tables, fewer Python
    start-ups on CI's two cores.
    """
    if cluster_problem():
        pytest.skip(cluster_problem())
    local = copy_workflow(tmp_path_factory.mktemp("local"))
    reference = subprocess.Popen(
        ["timeout", "-s", "KILL", str(TIMEOUT), sys.executable, "-m", "snakemake", "--cores",
         "2", "--configfile", "config/quick.yaml"], cwd=local, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    wait_until(lambda: (local / "results" / "batches").exists(), reference)
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"))
    canceller = Canceller(workdir)
    canceller.start()
    start = time.monotonic()
    proc = on_slurm(workdir, *BATCHES, "--slurm-keep-successful-logs")
    seconds = time.monotonic() - start
    canceller.join(timeout=1)
    local_output = reference.communicate()[0]
    assert reference.returncode == 0, local_output[-3000:]
    (workdir / "snakemake.out").write_text(proc.output)
    print(f"quick study on SLURM: {seconds:.0f} s")
    return workdir, local, proc, canceller.cancelled


@needs_cluster
@pytest.mark.slurm
def test_quick_study_on_slurm_equals_local_run(runs):
    workdir, local, proc, _ = runs
    assert proc.returncode == 0, proc.output[-4000:]
    ours, reference = read_tables(workdir), read_tables(local)
    for name in TABLES:
        pd.testing.assert_frame_equal(comparable(ours[name]), comparable(reference[name]))
    assert verdicts(workdir) == verdicts(local)
    assert (workdir / "report" / "index.html").stat().st_size > 10_000


@needs_cluster
@pytest.mark.slurm
def test_cells_are_packed_into_few_submissions(runs):
    workdir, _, proc, _ = runs
    submitted = SUBMITTED.findall(proc.output)
    kinds = [kind for _, kind in submitted]
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    per_group = profile["group-components"]["cells"]
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    batches = len(plan({**config, "batches_per_activation": BATCHES_PER_ACTIVATION}).batches)
    retried = 1  # the cancelled group job, submitted again
    assert kinds.count("group_cells_train") == math.ceil(batches / per_group) + retried
    assert kinds.count("group_prep_compile_part_dataset_theory_warmup") == 1
    assert kinds.count("group_summary_aggregate_findings_report_report_sections") == 1
    assert len(kinds) == 2 + math.ceil(batches / per_group) + retried, kinds


@needs_cluster
@pytest.mark.slurm
def test_a_cancelled_job_is_retried_and_a_rerun_has_nothing_to_do(runs):
    workdir, _, proc, cancelled = runs
    assert cancelled, "no training group job was running long enough to cancel"
    assert slurm_state(cancelled) == "CANCELLED"
    assert f"SLURM jobid {cancelled}" in proc.output
    assert "Trying to restart" in proc.output
    rerun = on_slurm(workdir, *BATCHES, "-n", timeout=120)
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.output, rerun.output[-2000:]


def without_plugin(tmp_path):
    """A sys.path with every installed package but the SLURM executor plugins (for python -S)."""
    mirror = tmp_path / ".site"
    mirror.mkdir()
    for entry in map(str, sys.path):
        if not entry or not os.path.isdir(entry) or entry.startswith(str(tmp_path)):
            continue
        for name in os.listdir(entry):
            target = mirror / name
            if not name.startswith("snakemake_executor_plugin_slurm") and not target.exists():
                target.symlink_to(os.path.join(entry, name))
    return mirror


def one_line_error(output):
    lines = [line for line in output.splitlines() if line.startswith("initbench: ")]
    assert len(lines) == 1, output[-3000:]
    assert "Traceback" not in output and "usage:" not in output, output[-3000:]
    return lines[0]


def test_missing_plugin_is_one_line(tmp_path):
    workdir = copy_workflow(tmp_path)
    mirror = without_plugin(tmp_path)
    env = {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{mirror}"}
    proc = run(workdir, "--profile", "profiles/slurm", timeout=120, env=env,
               python=(sys.executable, "-S"))  # fmt: skip
    assert proc.returncode == 1
    assert 'pip install -e ".[slurm]"' in one_line_error(proc.output)


@pytest.mark.skipif(shutil.which("scontrol") is None, reason="SLURM's commands are not installed")
@pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason='snakemake-executor-plugin-slurm is not installed (pip install -e ".[slurm]")',
)
def test_unreachable_controller_is_one_line(tmp_path):
    """A slurm.conf whose controller port nobody listens on, as after slurmctld stopped."""
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        "ClusterName=nowhere\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=6999\n"
        "AuthType=auth/none\nNodeName=localhost CPUs=1\nPartitionName=p Nodes=localhost\n"
    )
    workdir = copy_workflow(tmp_path)
    proc = run(workdir, "--profile", "profiles/slurm", timeout=120, env={"SLURM_CONF": str(conf)})
    assert proc.returncode == 1
    assert "scontrol ping" in one_line_error(proc.output)


def test_dry_runs_need_no_controller(monkeypatch):
    monkeypatch.setattr(cluster, "missing_plugin", lambda: None)
    monkeypatch.setattr(cluster, "unreachable_controller", lambda: "down")
    for argv in (["-n"], ["-np", "--cores", "2"], ["--dry-run"], ["--unlock"]):
        assert cluster.slurm_executor(argv) == "slurm"
    with pytest.raises(SystemExit):
        cluster.slurm_executor(["--cores", "2"])
