"""Provenance and cost: where the numbers came from, and what they cost."""

import json

import numpy as np
import seaborn as sns
import yaml
from matplotlib.ticker import MaxNLocator

from ... import plotting
from ...plotting import BASE_COLOURS
from ...provenance import config_hash
from ...text import fnum, seconds_text
from .. import html


def build(r, section):
    runs = r.tables["runs"]
    keys = [
        "git_commit",
        "initbench_version",
        "numba_version",
        "numpy_version",
        "python_version",
        "machine",
        "threads",
        "config_hash",
    ]
    facts = []
    for key in keys:
        if key not in runs.columns:
            continue
        counts = runs[key].astype(str).value_counts()
        text = (
            ", ".join(f"{v} ({n} runs)" for v, n in counts.items())
            if len(counts) > 1
            else (counts.index[0] if len(counts) else "n/a")
        )
        facts.append((key.replace("_", " "), text))
    current = config_hash(r.config) if r.config else "n/a"
    in_tables = set(runs["config_hash"].astype(str)) if "config_hash" in runs else set()
    match = (current in in_tables) if in_tables else None
    facts.append(
        (
            "config hash of this config",
            current
            + (
                ""
                if match is None
                else " (matches the tables)"
                if match and len(in_tables) == 1
                else " (differs from the tables' hash: the results came from another config)"
            ),
        )
    )
    section["facts"] = facts
    try:
        text = yaml.safe_dump(r.config, sort_keys=False, allow_unicode=True, width=100)
    except yaml.YAMLError:
        text = json.dumps(r.config, indent=2, default=str)
    section["pre"] = {"title": "Configuration", "text": text}
    cost(r, section)


def cost(r, section):
    cost = r.tables["cost"]
    if not len(cost) or "s" not in cost:
        section["intro"].append("No cost table (Snakemake benchmarks) in the results.")
        return
    total_s = float(cost["s"].sum())
    cpu = float(cost["cpu_time"].sum()) if "cpu_time" in cost else float("nan")
    peak = float(cost["max_rss"].max()) if "max_rss" in cost else float("nan")
    train_s = float(r.tables["runs"]["train_seconds"].sum()) if len(r.tables["runs"]) else 0.0
    section["intro"].append(
        f"{len(cost)} training jobs took {seconds_text(total_s)} of wall time in total "
        f"(median {fnum(float(cost['s'].median()))} s, "
        f"longest {fnum(float(cost['s'].max()))} s); "
        f"the training loops themselves {seconds_text(train_s)}. Summed cpu_time "
        f"{seconds_text(cpu)}; peak max_rss {fnum(peak, 0)} MB. Jobs run as threads of one "
        "Snakemake process, so max_rss and cpu_time are the whole process's (its peak "
        "memory, and CPU time of all its threads during the job), not one job's: the sum "
        "of cpu_time over-counts."
    )
    fig, axes = r.figure(2, 1, 11.5, 3.8)
    s = cost["s"].clip(lower=1e-3)
    bins = np.geomspace(s.min(), max(s.max(), s.min() * 1.01), 30)
    sns.histplot(x=s, bins=bins, ax=axes[0][0], color=BASE_COLOURS[0])
    plotting.log_axis(axes[0][0], s, axis="x")
    axes[0][0].set_xlabel("job wall time s (log)")
    axes[0][0].set_ylabel("jobs")
    axes[0][0].set_title("Time per training job")
    for ax in axes[0]:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if "max_rss" in cost:
        sns.histplot(x=cost["max_rss"], bins=30, ax=axes[0][1], color=BASE_COLOURS[1])
        axes[0][1].set_xlabel("max_rss MB (process-wide)")
        axes[0][1].set_ylabel("jobs")
        axes[0][1].set_title("Peak resident memory")
    slowest = cost.nlargest(1, "s").iloc[0]
    caption = (
        f"Distribution of the {len(cost)} training jobs' wall time (sum "
        f"{seconds_text(total_s)}; slowest {slowest['job']} at {fnum(float(slowest['s']))} s) "
        f"and of max_rss (peak {fnum(peak, 0)} MB, "
        f"median {fnum(float(cost['max_rss'].median()), 0)} MB). "
        "Jobs run as threads of one process, so max_rss is the whole process's peak memory."
    )
    section["figures"].append(r.save(fig, "cost", caption, "Histograms of job cost"))
    top = cost.nlargest(10, "s")
    rows = [
        [
            html.cell(r["job"]),
            html.cell(fnum(float(r["s"])), float(r["s"])),
            html.cell(fnum(float(r.get("cpu_time", np.nan))), float(r.get("cpu_time", np.nan))),
            html.cell(fnum(float(r.get("max_rss", np.nan)), 0), float(r.get("max_rss", np.nan))),
        ]
        for _, r in top.iterrows()
    ]
    section["tables"].append(
        html.table(
            "cost-top",
            [
                ("job (batch of cells)", False),
                ("wall s", True),
                ("cpu_time s (process)", True),
                ("max_rss MB (process)", True),
            ],
            rows,
            caption=f"The {len(top)} slowest training jobs.",
        )
    )
