"""Where a study stands: cells trained out of planned, what they cost, what is left.

``study_status(config, results_dir, cores)`` reads only what is on disk, and writes
nothing: the cells' measured tables (results/measured/<cell>/, written whole by a rename,
so a cell is done when its three files are there) and the training jobs' cost records
(results/batches/<job>.json). It is safe beside a running Snakemake, locally or on a
cluster's shared filesystem: a file it cannot read (half-copied, being replaced) is
skipped and counted, and its cell counted as not done.

Cost: a done cell's core-seconds are its seeds' thread CPU seconds in the kernels (a
one-thread job; with more threads, their training seconds times the threads). Wall seconds
would count the time a job waits for a core: ``--cores 8`` on 2 cores made them 13x the
CPU. An undone cell's are its ``cell_work`` (its layers, batch, steps, logged evaluations and
seeds) times the measured seconds per unit of work of the done cells most like it (same
study and activation, else same study, else same dataset ...); before any cell has run,
a rate measured on a 2-core machine (SECONDS_PER_WORK). The wall time left packs the
remaining training jobs, longest first as the pipeline starts them, onto ``cores``, and
adds the aggregate, findings and report steps (TAIL_SECONDS, scaled by the study's runs).

A training job is finished when its record names the cells the plan gives it: another
tier's run of the same job (same name, other cells) left a record that Snakemake reruns.
"""

import json
import time
from pathlib import Path

from .cell import cell_work
from .layout import RESULTS, Layout
from .tables import ABOUT_CELL, read_arrow
from .text import plural, seconds_text

DEFAULT_CONFIG = "config/config.yaml"  # what plain `snakemake` runs (profiles/default)
# Kernel core-seconds per unit of cell_work: the default tier's 1,791 over its work, run
# with --cores 8 on 2 cores beside other work (2026-12-06; 8.7e-11 before: 40% high)
SECONDS_PER_WORK = 6.2e-11
MIN_CELLS = 2  # done cells a group needs before its own rate is used
TAIL_SECONDS = 28.0  # aggregate + findings + report of the default study, on 2 cores
TAIL_RUNS = 4479  # runs (cells x seeds) of the default study, which TAIL_SECONDS is for


def read_cell(layout, name):
    """(state, seconds): "done" with the cell's training core-seconds, "todo" when a table
    is missing, "unreadable" when its runs table is there but cannot be read yet."""
    paths = layout.cell_tables(name)
    if not all(path.exists() for path in paths):
        return "todo", 0.0
    try:
        runs = read_arrow(paths[0])
        about = json.loads(runs.schema.metadata[ABOUT_CELL])
        threads = max(int(about["provenance"]["threads"] or 1), 1)
        column = "train_cpu_seconds" if threads == 1 else "train_seconds"
        seconds = sum(runs.column(column).to_pylist())
    except (OSError, ValueError, KeyError, TypeError):  # half-written (Arrow's errors are
        return "unreadable", 0.0  # OSError or ValueError), or without its metadata
    return "done", float(seconds) * threads


def read_batches(layout, batches):
    """({job: its cost record} of the finished training jobs, records that could not be
    read (half-written), records of another plan). ``batches``: {job: its cells' names}. A
    record whose cells are not the job's (another tier's run of a job of the same name) is
    another plan's: Snakemake reruns that job, as its cell names are a parameter."""
    records, unreadable, other_plan = {}, 0, 0
    for job, names in batches.items():
        path = layout.batch(job)
        if not path.exists():
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            unreadable += 1
            continue
        if isinstance(record, dict) and record.get("cell_names") == list(names):
            records[job] = record
        else:
            other_plan += 1
    return records, unreadable, other_plan


def like_cells(cell, study):
    """The groups whose measured rate stands for a cell's, most alike first."""
    return ((study, cell.activation), (study,), (cell.dataset, cell.activation),
            (cell.dataset,), ())  # fmt: skip


def rates(work, done, study_of, cells):
    """Seconds per unit of work of each group of ``like_cells`` with at least MIN_CELLS
    done cells ({name: seconds}), from the sums over the group."""
    sums = {}
    for name, seconds in done.items():
        for key in like_cells(cells[name], study_of[name]):
            s, w, n = sums.get(key, (0.0, 0.0, 0))
            sums[key] = (s + seconds, w + work[name], n + 1)
    return {key: s / w for key, (s, w, n) in sums.items() if n >= MIN_CELLS and w > 0}


def predicted_seconds(cell, study, work, rate_of):
    """Core-seconds an undone cell will take, at the rate of the cells most like it."""
    rate = next((rate_of[k] for k in like_cells(cell, study) if k in rate_of), None)
    return work * (SECONDS_PER_WORK if rate is None else rate)


def datasets_on_disk(layout, labels):
    """{label: Dataset} of the data files the pipeline has written (results/data/)."""
    from .datasets import read_dataset

    found = {}
    for label in labels:
        try:
            found[label] = read_dataset(layout.dataset(label))
        except (OSError, ValueError, KeyError, EOFError):  # absent, or being written
            continue
    return found


def makespan(job_seconds, slots):
    """Wall seconds for jobs of the given lengths on ``slots`` parallel slots, started
    longest first (the pipeline's priorities), each on the slot free first."""
    free = [0.0] * max(int(slots), 1)
    for seconds in sorted(job_seconds, reverse=True):
        i = free.index(min(free))
        free[i] += seconds
    return max(free)


def study_status(config, results_dir=RESULTS, cores=1):
    """Everything ``initbench status`` prints, as a dict."""
    from .plan import plan

    grid = plan(config, cores=cores)
    layout = Layout(results_dir)
    state = {name: read_cell(layout, name) for name in grid.cells}
    done = {name: s for name, (kind, s) in state.items() if kind == "done"}
    study_of = {}
    for study, names in grid.studies.items():
        for name in names:
            study_of.setdefault(name, study)
    data = datasets_on_disk(layout, grid.datasets)
    work = {name: cell_work(cell, data.get(cell.dataset)) for name, cell in grid.cells.items()}
    rate_of = rates(work, done, study_of, grid.cells)
    left = {
        name: predicted_seconds(grid.cells[name], study_of[name], work[name], rate_of)
        for name in grid.cells
        if name not in done
    }
    records, bad_records, other_plan = read_batches(layout, grid.batches)
    threads = int(config["threads"])
    job_left = [
        sum(left.get(name, 0.0) for name in names) / threads
        for job, names in grid.batches.items()
        if job not in records
    ]
    runs_left = sum(len(grid.cells[name].seeds) for name in left)
    runs_all = sum(len(cell.seeds) for cell in grid.cells.values())
    aggregated = layout.table("runs").exists() and not left and not job_left
    tail = 0.0 if aggregated else TAIL_SECONDS * runs_all / TAIL_RUNS
    training_wall = makespan([s for s in job_left if s > 0], cores // threads)
    studies = {
        study: {
            "cells": len(names),
            "done": sum(name in done for name in names),
            "core_s_spent": sum(done.get(name, 0.0) for name in names),
            "core_s_left": sum(left.get(name, 0.0) for name in names),
        }
        for study, names in grid.studies.items()
    }
    return {
        "results": str(layout.results),
        "cores": cores,
        "read_at": time.time(),
        "studies": studies,
        "all": {
            "cells": len(grid.cells),
            "done": len(done),
            "core_s_spent": sum(done.values()),
            "core_s_left": sum(left.values()),
        },
        "unreadable": {
            "cells": sum(kind == "unreadable" for kind, _ in state.values()),
            "batch_records": bad_records,
        },
        "jobs": {"planned": len(grid.batches), "finished": len(records), "other_plan": other_plan},
        "runs_left": runs_left,
        "cost_from": ("measured cells" if rate_of else "the cost model (no cell measured yet)"),
        "wall_s_left": {"training": training_wall, "tail": tail, "total": training_wall + tail},
        "aggregated": aggregated,
    }


def render(status):
    """The status as text: one line per study, then the totals and the time left."""
    s = status
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s["read_at"]))
    lines = [
        f"initbench status: {s['results']} at {stamp}, estimated for {plural(s['cores'], 'core')}"
    ]
    head = ("study", "cells done", "%", "core-s spent", "core-s left")
    table = [head]
    for name, row in [*s["studies"].items(), ("all (unique cells)", s["all"])]:
        share = 100 * row["done"] / row["cells"] if row["cells"] else 100
        table.append(
            (
                name,
                f"{row['done']}/{row['cells']}",
                f"{share:.0f}",
                f"{row['core_s_spent']:.0f}",
                f"{row['core_s_left']:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))
            )
        )
    j, u, wall = s["jobs"], s["unreadable"], s["wall_s_left"]
    rerun = f" ({j['other_plan']} to rerun: their records are another plan's)"
    lines.append(
        f"training jobs: {j['finished']} of {j['planned']} finished"
        f"{rerun if j['other_plan'] else ''}; remaining cost from {s['cost_from']}"
    )
    if u["cells"] or u["batch_records"]:
        lines.append(
            f"skipped, not readable yet (being written?): {u['cells']} cell tables, "
            f"{u['batch_records']} job records; counted as not done"
        )
    if s["aggregated"]:
        lines.append("done: every cell trained and the tables aggregated")
    else:
        lines.append(
            f"wall time left at {plural(s['cores'], 'core')}: about "
            f"{seconds_text(wall['total'])} (training {seconds_text(wall['training'])}"
            f", then aggregate, findings and report ~{seconds_text(wall['tail'])})"
        )
    return "\n".join(lines)


def add_parser(sub):
    """``initbench status``: the subcommand and its options."""
    p = sub.add_parser("status", help="cells done, cost spent and wall time left of a study")
    p.add_argument("--configfile", default=DEFAULT_CONFIG, help=f"default: {DEFAULT_CONFIG}")
    p.add_argument("--tier", help="the tier to plan (the config's tier: by default), e.g. paper")
    p.add_argument("--results", default=str(RESULTS), help="the run's results directory")
    p.add_argument(
        "--cores",
        type=int,
        default=1,
        help="the run's --cores: sets its training jobs and the time left",
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=_command)


def _command(args):
    import yaml

    from .config import check_config_files

    if args.cores < 1:
        raise ValueError(f"--cores must be >= 1, got {args.cores}")
    if not Path(args.configfile).is_file():
        raise ValueError(f"--configfile: no such file: {args.configfile!r}")
    check_config_files([args.configfile])
    config = yaml.safe_load(Path(args.configfile).read_text())
    if args.tier is not None:  # as snakemake --config tier=...
        config["tier"] = args.tier
    status = study_status(config, args.results, args.cores)
    print(json.dumps(status, indent=1) if args.json else render(status))
