"""Pilot runs of an overview study: train its cells in this process, keep the runs and curves
tables, and print the core-seconds they took (to size the overview's budget per tier).

    PYTHONPATH=src nice -n 10 python benchmarks/overview_pilot.py CONFIG OUT_DIR [STUDY]

CONFIG is a study config (config/config.yaml or a smaller one of the same form); every cell
of STUDY (default: overview) is trained one seed at a time, as a CPU training job does."""

import os
import sys
import time

for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from initbench.datasets import load_dataset  # noqa: E402
from initbench.plan import plan  # noqa: E402
from initbench.trainer import train_cell  # noqa: E402


def main(config_path, out_dir, study="overview"):
    with open(config_path) as handle:
        config = yaml.safe_load(handle)
    config["studies"] = {study: config["studies"][study]}
    planned = plan(config)
    data = {}
    runs, curves = [], []
    start = time.process_time()
    for name in planned.studies[study]:
        cell = planned.cells[name]
        if cell.dataset not in data:
            generator, params = planned.datasets[cell.dataset]
            data[cell.dataset] = load_dataset(generator, seed=config["data_seed"], **params)
        r, c, _ = train_cell(cell, data[cell.dataset])
        runs.append(r.assign(study=study, dataset=cell.dataset))
        curves.append(c.assign(study=study))
    cpu = time.process_time() - start
    os.makedirs(out_dir, exist_ok=True)
    runs, curves = pd.concat(runs), pd.concat(curves)
    runs.to_parquet(f"{out_dir}/runs.parquet")
    curves.to_parquet(f"{out_dir}/curves.parquet")
    print(
        f"{len(planned.studies[study])} cells, {len(runs)} runs: {cpu:.1f} core-s "
        f"(training {runs['train_cpu_seconds'].sum():.1f})"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
