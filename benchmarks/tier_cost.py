"""A finished tier's cost: core-seconds in the kernels per study, and from Snakemake's log
the wall time, the compile (warm-up) jobs and the pipeline's overhead. Prints Markdown.

    python benchmarks/tier_cost.py results [--log snakemake.log] [--machine-cores 2]

It reads a finished run and runs nothing (run the tier first, e.g. under
``/usr/bin/time -v snakemake --cores 8 > tier.log 2>&1``). From ``RESULTS``:

- ``runs.parquet``: each run's thread CPU inside ``train`` (the kernels; with more than one
  thread a job's wall seconds times its threads), summed per study. A cell that several
  studies plan counts once, in the first study that plans it (``studies.parquet`` order),
  so the studies add up to the tier; the column "with shared cells" counts it in each.
- ``cost.parquet``: the training jobs' own thread CPU, kernels included (init, LSUV,
  tables besides them); jobs that found their cells trained already cost ~0 here.

With ``--log``, only the cells trained during the logged run count (their
``measured/<cell>/runs.arrow`` written after its first time stamp): a tier run after
another in the same results (the README's default, then paper) reuses the cells they
share, whose runs keep the first run's CPU; those are counted apart, as reused.

From ``--log`` (Snakemake's log, or its console output, which may end with GNU time's
report): the wall from the first to the last time stamp (Snakemake's "Elapsed time" when
given), each rule's jobs (count, summed and spanned wall), the warm-up jobs (the Numba
compile, or its cache load), the start before the first training job, the tail after the
last one, and the overhead 1 - kernel core-s / (machine cores x wall). Timed beside other
work, every wall figure is an upper bound.
"""

import argparse
import os
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from initbench.text import plural

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
ELAPSED = re.compile(r"^Elapsed time: (\d+):(\d\d):(\d\d(?:\.\d+)?)$")
GNU_TIME = {
    "user_s": re.compile(r"User time \(seconds\): ([\d.]+)"),
    "system_s": re.compile(r"System time \(seconds\): ([\d.]+)"),
    "max_rss_mb": re.compile(r"Maximum resident set size \(kbytes\): (\d+)"),
}


def kernel_seconds(runs):
    """Core-seconds in the kernels per run: thread CPU (one thread), else wall x threads
    (the kernels' worker threads are not in the calling thread's CPU time)."""
    threads = runs["threads"].fillna(1).clip(lower=1) if "threads" in runs else 1
    return runs["train_cpu_seconds"].where(threads == 1, runs["train_seconds"] * threads)


def study_table(results, trained_since=None):
    """(per study: cells, runs, kernel core-s of its own cells and of all its cells; per
    cell: runs and kernel core-s; the cells left out). With ``trained_since`` (a POSIX
    time), of the cells trained since then alone: the others are left out, as reused."""
    runs = pd.read_parquet(results / "runs.parquet")
    studies = pd.read_parquet(results / "studies.parquet", columns=["study", "cell"])
    per_cell = runs.assign(core_s=kernel_seconds(runs)).groupby("cell")
    cells = pd.DataFrame({"runs": per_cell.size(), "core_s": per_cell["core_s"].sum()})
    trained = pd.Series(True, index=cells.index)
    if trained_since is not None:
        trained = trained.index.to_series().map(
            lambda cell: trained_after(results, cell, trained_since)
        )
    cells, reused = cells[trained], cells[~trained]
    studies = studies[studies["cell"].isin(cells.index)]
    owner = studies.drop_duplicates("cell").set_index("cell")["study"]
    rows = []
    for study in studies["study"].drop_duplicates():
        names = studies.loc[studies["study"] == study, "cell"]
        own = cells.loc[owner.index[owner == study].intersection(cells.index)]
        every = cells.loc[cells.index.intersection(names)]
        rows.append({"study": study, "cells": len(names), "runs": int(every["runs"].sum()),
                     "core_s": own["core_s"].sum(),
                     "with_shared": every["core_s"].sum()})  # fmt: skip
    table = pd.DataFrame(rows).sort_values("core_s", ascending=False)
    return table, cells, reused


def trained_after(results, cell, since):
    """Whether ``cell``'s runs were written at or after ``since`` (a POSIX time; Snakemake's
    time stamps are whole seconds, the files' times finer)."""
    path = results / "measured" / cell / "runs.arrow"
    return path.exists() and path.stat().st_mtime >= since


def parse_log(path):
    """{jobid: (rule, start, end)} of the jobs a Snakemake log shows, and its summary:
    first and last time stamp, Elapsed time, GNU time's figures when there."""
    jobs, stamp, rule, summary = {}, None, None, {}
    for line in Path(path).read_text(errors="replace").splitlines():
        if m := STAMP.match(line):
            stamp = datetime.strptime(m[1], "%a %b %d %H:%M:%S %Y")
            summary.setdefault("first", stamp)
            summary["last"] = stamp
        elif m := START.match(line):
            rule = m[1]
        elif (m := JOBID.match(line)) and rule is not None:
            jobs[int(m[1])] = [rule, stamp, None]
            rule = None
        elif (m := FINISHED.match(line)) and int(m[1]) in jobs:
            jobs[int(m[1])][2] = stamp
        elif m := ELAPSED.match(line):
            summary["elapsed_s"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        for key, pattern in GNU_TIME.items():
            if m := pattern.search(line):
                summary[key] = float(m[1]) / (1024 if key == "max_rss_mb" else 1)
    if not jobs:
        raise ValueError(f"--log: no Snakemake jobs found in {path}")
    return {job: tuple(times) for job, times in jobs.items()}, summary


def log_table(jobs, summary):
    """Per rule: jobs, summed job wall, and the span from its first start to last end."""
    frame = pd.DataFrame(
        [(rule, start, end) for rule, start, end in jobs.values() if end is not None],
        columns=["rule", "start", "end"],
    )
    frame["s"] = (frame["end"] - frame["start"]).dt.total_seconds()
    first = summary["first"]
    rules = frame.groupby("rule").agg(jobs=("s", "size"), job_s=("s", "sum"),
                                      start=("start", "min"), end=("end", "max"))  # fmt: skip
    rules["from_s"] = (rules["start"] - first).dt.total_seconds()
    rules["to_s"] = (rules["end"] - first).dt.total_seconds()
    return rules.sort_values("from_s")[["jobs", "job_s", "from_s", "to_s"]]


def markdown(frame, formats):
    """``frame`` as a Markdown table, its index as the first column."""
    head = [frame.index.name or "", *frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, *values in frame.itertuples():
        cells = [formats.get(col, "{}").format(v) for col, v in zip(frame.columns, values)]
        lines.append("| " + " | ".join([str(index), *cells]) + " |")
    return "\n".join(lines)


def report(results, log=None, machine_cores=None):
    """The Markdown text of a tier's cost (with ``log``, of the cells trained in the logged
    run)."""
    jobs, summary = parse_log(log) if log is not None else (None, None)
    since = summary["first"].timestamp() if summary else None
    table, cells, reused = study_table(results, since)
    kernel = cells["core_s"].sum()
    out = [f"## Cost of {results}", "",
           f"{len(cells):,} cells, {int(cells['runs'].sum()):,} runs; "
           f"kernel core-s (thread CPU inside train): {kernel:,.0f}"]  # fmt: skip
    if len(reused):
        out[-1] += (f"; {plural(len(reused), 'cell')} ({int(reused['runs'].sum()):,} runs, "
                    f"{reused['core_s'].sum():,.0f} kernel core-s) trained before the logged "
                    "run and reused, not counted")  # fmt: skip
    cost_path = results / "cost.parquet"
    if cost_path.exists():
        cost = pd.read_parquet(cost_path)
        out[-1] += (f"; the {len(cost)} training jobs' own thread CPU: "
                    f"{cost['thread_cpu_s'].sum():,.0f} s (kernels included)")  # fmt: skip
    table = table.assign(share=100 * table["core_s"] / kernel).set_index("study")
    table.index.name = "study"
    table = table.rename(columns={"core_s": "core-s", "with_shared": "with shared cells",
                                  "share": "% of kernels"})  # fmt: skip
    formats = {"cells": "{:,}", "runs": "{:,}", "core-s": "{:,.0f}",
               "with shared cells": "{:,.0f}", "% of kernels": "{:.1f}"}  # fmt: skip
    out += ["", markdown(table, formats)]
    if log is None:
        return "\n".join(out)
    rules = log_table(jobs, summary)
    stamped = (summary["last"] - summary["first"]).total_seconds()
    wall = summary.get("elapsed_s", stamped)
    cores = machine_cores or os.cpu_count()
    train = rules.loc["train"] if "train" in rules.index else None
    lines = [f"wall {wall:,.0f} s ({wall / 60:.1f} min), time stamps {stamped:,.0f} s"]
    if "user_s" in summary:
        cpu = summary["user_s"] + summary["system_s"]
        lines.append(f"GNU time: user {summary['user_s']:,.0f} s, system "
                     f"{summary['system_s']:,.0f} s, max RSS {summary['max_rss_mb']:,.0f} MB; "
                     f"CPU besides the kernels (compile included) {cpu - kernel:,.0f} core-s, "
                     f"{(cpu - kernel) / cpu:.1%} of the run's CPU")  # fmt: skip
    if "warmup" in rules.index:
        w = rules.loc["warmup"]
        lines.append(f"compile (warm-up jobs): {plural(int(w['jobs']), 'job')}, "
                     f"{w['job_s']:,.0f} s of wall summed, the last ending {w['to_s']:,.0f} s "
                     "into the run")  # fmt: skip
    if train is not None:
        lines.append(f"start to the first training job {train['from_s']:,.0f} s; after the "
                     f"last training job {stamped - train['to_s']:,.0f} s")  # fmt: skip
    lines.append(f"overhead 1 - kernel core-s / ({cores} cores x wall) = "
                 f"{1 - kernel / (cores * wall):.1%} (idle cores and other work on the "
                 "machine included)")  # fmt: skip
    out += ["", *(f"- {line}" for line in lines), "", markdown(
        rules.rename(columns={"job_s": "job wall s (summed)", "from_s": "first start s",
                              "to_s": "last end s"}),
        {"jobs": "{:.0f}", "job wall s (summed)": "{:,.0f}", "first start s": "{:,.0f}",
         "last end s": "{:,.0f}"},
    )]  # fmt: skip
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a finished run's results directory")
    parser.add_argument("--log", type=Path, help="the run's Snakemake log or console output")
    parser.add_argument("--machine-cores", type=int, help="cores of the machine it ran on "
                        "(default: this one's); not Snakemake's --cores")  # fmt: skip
    args = parser.parse_args()
    for path in (args.results / "runs.parquet", args.results / "studies.parquet", args.log):
        if path is not None and not path.is_file():
            parser.error(f"no such file: {path} (a finished run's results, and its log)")
    print(report(args.results, args.log, args.machine_cores))


if __name__ == "__main__":
    main()
