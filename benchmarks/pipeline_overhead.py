"""Pipeline overhead of a study: where the wall time goes besides the training kernels.

    python benchmarks/pipeline_overhead.py --cores 2 [--configfile config/quick.yaml]

Runs Snakemake in a fresh scratch copy of the workflow (results start empty; Numba's cache
is whatever the installed package already holds, so run it twice to see warm numbers),
kept afterwards with its log, and prints where the cores x wall time went:

- inside ``train`` (the compiled loop), as thread CPU time: the honest figure when jobs
  outnumber cores, since wall time inside a thread also counts waiting for a core;
- inside training jobs but outside ``train`` (init, LSUV, tables, parquet writes), which
  holds the GIL: its share of a job bounds the speed-up of threads mode (Amdahl);
- the aggregate, findings and report jobs;
- the rest: Snakemake's DAG, scheduling and idle cores.

The overhead is 1 - (thread CPU inside train) / (cores x wall).
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SERIAL_JOBS = ("aggregate", "findings", "report_sections", "report")


def job_seconds(log):
    """Seconds a job took, from the time stamp of the last line of its log."""
    stamps = re.findall(r"^\[\s*([\d.]+) s\]", Path(log).read_text(), re.M)
    return float(stamps[-1]) if stamps else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--workdir", help="reuse this copy (a warm second run: rm results)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="initbench-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "rules", "config", "profiles"):  # this checkout's
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, work / name, dirs_exist_ok=True)
        else:
            shutil.copy(ROOT / name, work / name)
    for name in ("results", "report", "logs"):
        shutil.rmtree(work / name, ignore_errors=True)
    print(f"workflow copy and snakemake.log in {work}", flush=True)
    start = time.perf_counter()
    with open(work / "snakemake.log", "w") as log:
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores),
                        "--configfile", args.configfile], cwd=work, stdout=log,
                       stderr=subprocess.STDOUT, check=True)  # fmt: skip
    wall = time.perf_counter() - start
    runs = pd.read_parquet(work / "results" / "runs.parquet")
    cost = pd.read_parquet(work / "results" / "cost.parquet")
    budget = args.cores * wall
    kernel_cpu, kernel_wall = runs["train_cpu_seconds"].sum(), runs["train_seconds"].sum()
    jobs = cost["s"].sum()
    in_jobs = jobs - kernel_wall
    serial = {name: job_seconds(work / "logs" / f"{name}.log") for name in SERIAL_JOBS}
    warmup = sum(job_seconds(p) for p in (work / "logs" / "warmup").glob("*.log"))
    rest = budget - jobs - sum(serial.values()) - warmup
    gil_share = in_jobs / jobs
    print(f"cells {runs['cell'].nunique()}, runs {len(runs)}, training jobs {len(cost)}")
    print(f"wall {wall:.1f} s on {args.cores} cores = {budget:.1f} core-s")
    rows = [
        ("inside train(), thread CPU", kernel_cpu),
        ("inside train(), wall (counts waiting for a core)", kernel_wall),
        ("training jobs outside train()", in_jobs),
        ("warm-up (compile or cache load)", warmup),
        *((f"{name} job", seconds) for name, seconds in serial.items()),
        ("outside jobs: DAG, scheduling, idle cores", rest),
    ]
    for label, seconds in rows:
        print(f"  {label:50s} {seconds:8.1f} s  {seconds / budget:6.1%}")
    print(f"overhead {1 - kernel_cpu / budget:.1%} of cores x wall")
    amdahl = {n: 1 / (gil_share + (1 - gil_share) / n) for n in (8, 64)}
    print(f"GIL-bound share of a training job {gil_share:.1%}: threads mode speeds up at most "
          f"{1 / gil_share:.1f}x; estimated at 8 cores {amdahl[8]:.1f}x, "
          f"at 64 cores {amdahl[64]:.1f}x")  # fmt: skip
    print(f"peak max_rss of any training job: {cost['max_rss'].max():.0f} MB "
          "(jobs run as threads: this is the whole Snakemake process)")  # fmt: skip


if __name__ == "__main__":
    main()
