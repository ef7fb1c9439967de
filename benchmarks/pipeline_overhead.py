"""Pipeline overhead of a study: wall time not spent inside the training kernels.

    python benchmarks/pipeline_overhead.py --cores 2 [--configfile config/quick.yaml]

Runs Snakemake in a fresh scratch copy of the workflow (results start empty; Numba's cache
is whatever the installed package already holds, so run it twice to see warm numbers),
kept afterwards with its log, and prints: wall time, the summed time inside ``train`` over
all runs, the overhead fraction 1 - kernel / (cores x wall), and the peak memory reported
by the benchmark files.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="initbench-overhead-"))
    for name in ("Snakefile", "rules", "config", "profiles"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, work / name)
    print(f"workflow copy and snakemake.log in {work}", flush=True)
    start = time.perf_counter()
    with open(work / "snakemake.log", "w") as log:
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores),
                        "--configfile", args.configfile], cwd=work, stdout=log,
                       stderr=subprocess.STDOUT, check=True)  # fmt: skip
    wall = time.perf_counter() - start
    runs = pd.read_parquet(work / "results" / "runs.parquet")
    cost = pd.read_parquet(work / "results" / "cost.parquet")
    kernel = runs["train_seconds"].sum()
    print(f"cells {runs['cell'].nunique()}, runs {len(runs)}")
    print(f"wall {wall:.1f} s on {args.cores} cores; inside train(): {kernel:.1f} s")
    print(f"overhead {1 - kernel / (args.cores * wall):.1%} of cores x wall")
    print(f"peak max_rss of any training job: {cost['max_rss'].max():.0f} MB "
          "(jobs run as threads: this is the whole Snakemake process)")  # fmt: skip


if __name__ == "__main__":
    main()
