"""Fit cell_work's factors (Adam, a residual net, its LayerNorm; float32) to finished runs.

    python benchmarks/fit_step_factors.py RESULTS [RESULTS ...]

Each results folder's runs.parquet gives every completed run's thread CPU inside the
kernels (one-thread jobs); its data files give the layer sizes. A cell's cost is modelled
as rate x dtype factor x (step factor x steps' work + evaluations' work), cell.cell_work's
terms, with a free rate per dataset and width (wider layers run the same multiply-adds
faster; the folders must come from one machine), so each factor is measured against float64
SGD cells of the same data and width. Fitted
on the logs of the CPU seconds, each cell weighted by its runs; prints each factor and its
95% interval (2 standard errors).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from initbench.cell import STEP_WORK, layer_sizes
from initbench.datasets import read_dataset

FACTORS = ("adam", "residual", "layernorm")  # on a step's work
WHOLE_FACTORS = ("float32",)  # on a run's whole work


def cell_terms(results):
    """Per cell: mean CPU seconds of its completed runs, its steps' and evaluations' work."""
    runs = pd.read_parquet(results / "runs.parquet")
    runs = runs[(runs["status"] == "completed") & (runs["threads"] == 1)]
    data = {
        name: read_dataset(results / "data" / f"{name}.npz") for name in runs["dataset"].unique()
    }
    rows = []
    for name, group in runs.groupby("cell"):
        r, d = group.iloc[0], data[group.iloc[0]["dataset"]]
        sizes = layer_sizes(d, json.loads(r["hidden"]))
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        probe = 0
        if r["probe_split"] != "none":
            split = d.X_test if r["probe_split"] == "test" else d.X_train
            probe = int(r["probe_rows"]) or len(split)
        rows_eval = min(r["eval_rows"], len(d.X_train)) + len(d.X_test) + probe
        steps = r["steps"] * (3 * r["batch_size"] * weights + STEP_WORK * (len(sizes) - 1))
        rows.append({"cell": name, "runs": len(group), "cpu": group["train_cpu_seconds"].mean(),
                     "steps": steps, "evals": r["log_points"] * rows_eval * weights,
                     "group": f"{r['dataset']}:{r['width']}",
                     "adam": r["optimizer"] != "sgd", "residual": r["architecture"] == "residual",
                     "layernorm": r["norm"] == "layernorm",
                     "float32": r["dtype"] == "float32"})  # fmt: skip
    return pd.DataFrame(rows)


def fit(cells):
    """{factor: (value, low, high)}: least squares on log CPU, a free rate per group."""
    group = pd.factorize(cells["group"])[0]
    weight = cells["runs"].to_numpy(float)
    names = FACTORS + WHOLE_FACTORS
    flags = cells[list(names)].to_numpy(bool)
    y = np.log(cells["cpu"].to_numpy())

    def residuals(log_factors):
        factors = np.where(flags, np.exp(log_factors), 1.0)
        step = np.prod(factors[:, : len(FACTORS)], axis=1)
        whole = np.prod(factors[:, len(FACTORS) :], axis=1)
        r = y - np.log(whole * (step * cells["steps"] + cells["evals"])).to_numpy()
        mean = np.bincount(group, r * weight) / np.bincount(group, weight)
        return (r - mean[group]) * np.sqrt(weight)

    sol = least_squares(residuals, np.zeros(len(names)))
    dof = len(y) - len(names) - group.max() - 1
    se = np.sqrt(np.diag(np.linalg.inv(sol.jac.T @ sol.jac) * (sol.fun @ sol.fun) / dof))
    return {name: tuple(np.exp([v, v - 2 * s, v + 2 * s])) for name, v, s in
            zip(names, sol.x, se)}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="finished runs' results folders")
    args = parser.parse_args()
    cells = pd.concat([cell_terms(path) for path in args.results], ignore_index=True)
    names = FACTORS + WHOLE_FACTORS
    print(f"{len(cells):,} cells: " + ", ".join(f"{name} {cells[name].sum()}" for name in names))
    for name, (value, low, high) in fit(cells).items():
        print(f"{name:10s} {value:.2f}  (95% interval {low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
