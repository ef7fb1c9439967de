"""A study's kernel cost in float64 against float32, measured in one process.

    python benchmarks/dtype_cost.py [--config config/config.yaml] [--cells 3] STUDY [STUDY ...]

For each study, a few of its default-tier cells (the costliest by ``cell.cell_work`` and
others spread over its cost range), seed 0 and their full steps, each trained in float64
and in float32 back to back, in alternating order, each after a two-step run that compiles
(or loads) the loop's specialisations for the cell; one thread, as a pipeline job. Prints
the thread CPU of each and the ratio float64 / float32 of the sums per study: the speed-up
that switching the study's dtype buys, measured in one process, so that other work on the
machine weighs on both sides alike (a pipeline run's own core-s carry that load too).
"""

import argparse
import time
from dataclasses import replace

import numpy as np
import yaml

from initbench.cell import cell_work
from initbench.datasets import load_dataset
from initbench.jobs import set_threads
from initbench.plan import plan
from initbench.trainer import train_seeds

DTYPES = ("float64", "float32")


def sample(cells, data, count):
    """The costliest cell and count - 1 others at evenly spaced ranks of cost."""
    ranked = sorted(cells, key=lambda c: cell_work(c, data[c.dataset]), reverse=True)
    ranks = np.unique(np.linspace(0, len(ranked) - 1, count).round().astype(int))
    return [ranked[i] for i in ranks]


def thread_cpu(cell, data):
    """Thread CPU inside ``train`` for the cell's first seed."""
    (run,) = train_seeds(replace(cell, seeds=cell.seeds[:1]), data)
    return run.cpu_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--cells", type=int, default=3)
    args = parser.parse_args()
    set_threads(1)  # one thread, Numba's and BLAS's, as a training job of the pipeline
    with open(args.config) as f:
        config = yaml.safe_load(f)
    config["tier"] = "default"
    the_plan = plan(config)
    data = {}
    for label, (generator, params) in the_plan.datasets.items():
        if any(
            the_plan.cells[c].dataset == label for s in args.studies for c in the_plan.studies[s]
        ):
            data[label] = load_dataset(generator, seed=config.get("data_seed", 0), **params)
    print("| study | cell | float64 core-s | float32 core-s | ratio |")
    print("|---|---|---|---|---|")
    for study in args.studies:
        cells = [the_plan.cells[name] for name in the_plan.studies[study]]
        totals = dict.fromkeys(DTYPES, 0.0)
        for i, cell in enumerate(sample(cells, data, args.cells)):
            for dtype in DTYPES:  # compile (or load) the cell's specialisations first
                short = replace(cell, dtype=dtype, training=replace(cell.training, steps=2))
                thread_cpu(short, data[cell.dataset])
            seconds = {}
            for dtype in DTYPES if i % 2 == 0 else DTYPES[::-1]:
                seconds[dtype] = thread_cpu(replace(cell, dtype=dtype), data[cell.dataset])
                totals[dtype] += seconds[dtype]
            label = f"{cell.activation} {cell.init} depth {cell.depth} width {cell.width}"
            a, b = seconds["float64"], seconds["float32"]
            print(f"| {study} | {label} | {a:.2f} | {b:.2f} | {a / b:.2f} |", flush=True)
        a, b = totals["float64"], totals["float32"]
        print(f"| **{study}** | all sampled | {a:.2f} | {b:.2f} | **{a / b:.2f}** |", flush=True)
    finished = time.strftime("%H:%M UTC", time.gmtime())
    print(f"\nfinished {finished}; thread CPU inside train, seed 0 of each cell")


if __name__ == "__main__":
    main()
