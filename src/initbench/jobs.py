"""What the Snakemake rules call: rule ``x`` runs ``x_job``, reading and writing files.

Jobs write every output atomically (temporary file, then rename), so an interrupted
run never leaves a table that looks complete.
"""

import gc
import json
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .datasets import load_dataset, read_dataset, write_dataset
from .files import atomic_path, job_log
from .layout import TABLE_KINDS, Layout
from .outcomes import with_mean_field_params
from .plan import plan
from .processes import in_own_process, stop_job_server
from .provenance import config_hash
from .tables import THEORY_KEYS, read_cells, with_constants, write_cell, write_parquet
from .theory import predictions
from .trainer import train_cells_together, train_seeds


def set_threads(threads):
    """Numba's and BLAS's thread counts from the job's ``threads:`` (Snakemake sets neither
    for Numba, and BLAS's for shell jobs only)."""
    import numba

    from .engine.jit import limit_blas

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    limit_blas(threads)


def dataset_job(generator, params, seed, output, log_path):
    """Make one dataset split and write it as results/data/<label>.npz."""
    with job_log(log_path) as log:
        log(f"dataset {generator} seed {seed} params {params}")
        data = load_dataset(generator, seed=seed, **params)
        write_dataset(data, output)
        log(f"{data.X_train.shape[0]} train / {data.X_test.shape[0]} test rows, "
            f"{data.n_features} features, task {data.task}")  # fmt: skip


def compile_part_job(part, dtype, output, log_path):
    """Compile one part of the built-in kernels' loop for ``dtype`` into Numba's cache
    (engine/compile_parts.py), in a process of its own so that the parts compile side by
    side; that process imports the engine only, not this module (the two side by side:
    about 1 s less). With the part already in the cache, nothing (a process would only load
    it, and the warm-up loads what it needs).

    Every part compiles the residual kernels and their stand-ins, whatever the plan. Parts
    that compiled them only where the plan trains residual nets (a rule param) were
    tried: adding a residual study to a plain one then reran the parts and the warm-up,
    and in that run Snakemake 9.27 scheduled none of the training jobs whose cells had
    changed; only a second run trained them (docs/performance-log.md)."""
    from .engine.compile_parts import compile_part, is_cached

    with job_log(log_path) as log:
        if is_cached(part, dtype):
            log(f"builtin {dtype} {part}: in Numba's cache already")
        else:
            start = time.perf_counter()
            in_own_process(compile_part, part, dtype, fresh=True)
            log(f"builtin {dtype} {part}: compiled in {time.perf_counter() - start:.1f} s, "
                "in a process of its own")  # fmt: skip
    with atomic_path(output) as tmp:
        tmp.write_text(f"builtin {dtype} {part}\n")


def warmup_job(kernels, dtype, output, log_path):
    """Compile (or load from Numba's cache) the training loop for one dtype and kernel
    family: "builtin" (every built-in activation at once) or a plugin activation's name.
    The one loop trains plain and residual nets; the warm-up trains one of each: the
    residual net's run takes every branch of the loop, and the plain net's loads the
    stand-ins it takes for the residual kernels (engine/compile_parts.py).

    Runs once per pair before the training fan-out, so training jobs never compile. For
    the built-in kernels, the loop and its kernels were compiled before, in two parts side
    by side (compile_part_job), and load from the cache here.
    """
    from .engine.training import train
    from .inits import init_params

    activation = "tanh" if kernels == "builtin" else kernels
    with job_log(log_path) as log:
        start = time.perf_counter()
        X = np.random.default_rng(0).normal(size=(8, 2))
        for loss, y in (("softmax_ce", np.arange(8) % 2), ("mse", X[:, :1])):
            for architecture in ({}, {"architecture": "residual", "block_size": 1}):
                W, b = init_params("he_normal", [2, 3, 3, 2 if loss == "softmax_ce" else 1],
                                   activation=activation, dtype=dtype)  # fmt: skip
                train(W, b, X, y, activation=activation, loss=loss, lr=0.1, batch_size=4,
                      steps=3, **architecture)  # fmt: skip
        log(f"{kernels} {dtype}: compiled or loaded in {time.perf_counter() - start:.1f} s")
        with atomic_path(output) as tmp:
            tmp.write_text(f"{kernels} {dtype}\n")


def train_job(plan, batch, data_paths, results_dir, done_path, log_path, threads):
    """Train every cell of one batch whose tables are not all there yet, write them, and
    write ``done_path``: the batch's cells and what the job cost. Cells already trained (by
    an earlier run, or an interrupted one) are skipped: adding a cell to a batch trains
    that cell only. On ``device="cuda"`` the batch's untrained cells of each dataset train
    together on the GPU. The cells' tables go to ``Layout(results_dir).cell_tables``, one
    folder per cell (see rules/train.smk for why the rule does not declare them).
    """
    start, start_cpu = time.perf_counter(), time.thread_time()
    layout = Layout(results_dir)
    cells = [plan.cells[name] for name in plan.batches[batch]]
    data_paths = {Path(path).stem: path for path in data_paths}
    set_threads(threads)
    with job_log(log_path) as log:
        todo = {}
        for cell in cells:
            if all(path.exists() for path in layout.cell_tables(cell.name)):
                log(f"cell {cell.name}: already trained, skipped")
            else:
                todo.setdefault(cell.dataset, []).append(cell)
        for dataset, group in todo.items():
            data = read_dataset(data_paths[dataset])
            if plan.device == "cuda":
                started = time.perf_counter()
                results = train_cells_together(group, data, plan.device)
                for cell in group:
                    log(f"cell {cell.name}: trained on the GPU")
                    write_cell(cell, data, results[cell.name], layout.cell_tables(cell.name),
                               threads)  # fmt: skip
                log(f"{len(group)} cells of {dataset} in {time.perf_counter() - started:.1f} s")
            else:
                for cell in group:
                    train_one(cell, data, layout, log, threads)
        trained = sum(len(group) for group in todo.values())
        cost = {
            "job": batch, "cells": len(cells), "trained": trained,
            "s": time.perf_counter() - start,
            # the job's own thread (Numba and BLAS worker threads not counted)
            "thread_cpu_s": time.thread_time() - start_cpu,
            # the process's peak: the whole Snakemake process when jobs run as threads
            "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }  # fmt: skip
        with atomic_path(done_path) as tmp:
            tmp.write_text(json.dumps({**cost, "cell_names": [c.name for c in cells]}))
        log(f"done: {trained} trained, {len(cells) - trained} already there")


def train_one(cell, data, layout, log, threads):
    """Train one cell (all its seeds) and write its runs, curves and layers tables."""
    log(f"cell {cell.name}: {cell.dataset} {cell.activation} {cell.init} "
        f"depth {cell.depth} hidden {list(cell.hidden)} seeds {list(cell.seeds)} "
        f"steps {cell.training.steps} on {threads} thread(s)")  # fmt: skip

    def progress(seed, res, seconds):
        last = {name: column[-1] for name, column in res.history_columns.items()}
        log(f"  seed {seed} {res.status} (step {int(last['step'])}/{cell.training.steps}): "
            f"train loss {last['train_loss']:.4g}, test acc {last['test_accuracy']:.3f}, "
            f"{seconds:.2f} s")  # fmt: skip

    results = train_seeds(cell, data, on_seed_done=progress)
    write_cell(cell, data, results, layout.cell_tables(cell.name), threads)


def aggregate_job(plan, config, results_dir, outputs, log_path, threads=1):
    """Concatenate the cells' tables into the study tables, adding the config hash; the
    training jobs' cost from their batch markers."""
    layout = Layout(results_dir)
    with job_log(log_path) as log:
        names = sorted(plan.cells)
        stamp = {"config_hash": config_hash(config)}
        for i, kind in enumerate(TABLE_KINDS):
            table = read_cells([layout.cell_tables(name)[i] for name in names], threads)
            write_parquet(with_constants(table, stamp), getattr(outputs, kind))
            log(f"{kind}: {table.num_rows} rows from {len(names)} cells")
        cost = pd.DataFrame(
            [json.loads(layout.batch(job).read_text()) for job in plan.batches]
        ).drop(columns="cell_names")
        write_parquet(cost.assign(**stamp), outputs.cost)
        studies = pd.DataFrame(
            [(study, cell) for study, cells in plan.studies.items() for cell in cells],
            columns=["study", "cell"],
        )
        write_parquet(studies.assign(**stamp), outputs.studies)
        log(f"cost: {cost['s'].sum():.1f} s of training jobs; studies: {len(plan.studies)}")


def check_device(config):
    """``device: cuda`` without a usable GPU stops the run before any job, with one line."""
    if config["device"] != "cuda":
        return
    from .engine.device import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print_error_and_exit(f"device: cuda, but {reason}")


def print_error_and_exit(error):
    """A bad config ends the run before any job with one line on stderr."""
    print(f"initbench config error: {error}", file=sys.stderr)
    sys.exit(1)


# The job server's imports (processes.use_job_server): the modules of the jobs forked from
# it, the theory's, the findings' and the report sections', in the order the pipeline
# needs them. Each had spent 0.7-2.3 s importing in an interpreter of its own. The compile
# parts keep fresh interpreters: they run first and import the engine alone.
JOB_SERVER_MODULES = ("initbench.jobs", "initbench.report.build", "initbench.findings.base")


def freeze_long_lived_objects():
    """Move every object made so far into the garbage collector's permanent generation
    (``gc.freeze``), where its collections no longer traverse them: the modules, the plan
    and Numba's types live as long as the process, and each full collection went over them
    all again. Full collections in Snakemake's process in a quick study: 0.47 -> 0.30 s;
    in each of the default tier's findings and sections processes, all collections: 0.9 ->
    0.45 s. Garbage among the frozen objects is left to the process's end."""
    gc.freeze()


def end_of_run():
    """What the Snakefile calls once the workflow has ended, to let Snakemake's process
    exit at once: the pending timers cancelled, and the run's objects frozen. The
    interpreter's last collections at exit traverse every object the run made (the DAG,
    the plan, the tables, Numba's): 0.9-1.1 s of a quick study's 12-14 s, 0.13-0.15 s with
    them frozen. The atexit handlers (logging's flush among them) and the modules'
    teardown run as before. The job server, if any, is let go."""
    stop_job_server()
    cancel_pending_timers()
    freeze_long_lived_objects()


def cancel_pending_timers():
    """Cancel the threading.Timer threads still waiting: Snakemake's scheduler starts one
    (non-daemon, 1 s) each time it submits jobs, for its --max-jobs-per-timespan limit, and
    Python waits for them before it exits. It saves up to a second of every run."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def mean_field_settings(plan):
    """The plan's cells' activation and init parameters (as the runs table holds them),
    with their mean-field sigma_w2 and sigma_b2: what the theory table is computed at."""
    cells = pd.DataFrame([cell.columns() for cell in plan.cells.values()])
    return with_mean_field_params(cells[["activation", "init_params"]])


def theory_key(plan):
    """The distinct settings the theory table depends on, as text: the rule reruns when
    they change (a new cell of another init leaves it as it is)."""
    keys = mean_field_settings(plan)[list(THEORY_KEYS)].dropna(subset=["sigma_w2"])
    return sorted(map(str, set(keys.itertuples(index=False, name=None))))


def theory_job(config, output, log_path):
    """The mean-field predictions at the study's settings (results/theory.parquet). From
    the plan, not the measured tables, so it runs beside the training (about 5 s of
    quadrature and root finding for the quick study's curves)."""
    with job_log(log_path) as log:
        predicted = predictions(mean_field_settings(plan(config)))
        write_parquet(predicted.assign(config_hash=config_hash(config)), output)
        log(f"theory: {len(predicted)} rows")


def findings_job(config, results_dir, out_jsons, figure_dir, log_path):
    """Evaluate every published claim on the aggregated tables, in a process of its own
    that imports the claims alone (findings.base.evaluate_job), beside report_sections."""
    from .findings.base import evaluate_job

    in_own_process(evaluate_job, config, results_dir, out_jsons, figure_dir, log_path)


def report_sections_job(config, results_dir, figure_dir, sections_json, log_path):
    """Draw the report's sections (figures and tables) from the aggregated tables, in a
    process of its own that imports the report alone (report.build.sections_job)."""
    from .report.build import sections_job

    in_own_process(sections_job, config, results_dir, figure_dir, sections_json, log_path)


def report_job(sections_json, findings_json, out_html, log_path):
    """Write report/index.html from the drawn sections and the findings. Light: it runs as
    a thread of Snakemake's process, where a process of its own would spend 2 s importing."""
    from .report.page import render_page

    with job_log(log_path) as log:
        render_page(sections_json, findings_json, out_html, log=log)
