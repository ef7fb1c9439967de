"""Provenance and cost: where the numbers came from, and what they cost."""

import json

import numpy as np
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
        section["intro"].append("No cost table (the training jobs' batch markers) in the results.")
        return
    total_s = float(cost["s"].sum())
    cpu = float(cost["thread_cpu_s"].sum())
    peak = float(cost["max_rss"].max())
    train_s = float(r.tables["runs"]["train_cpu_seconds"].sum()) if len(r.tables["runs"]) else 0.0
    section["intro"].append(
        f"{len(cost)} training jobs took {seconds_text(total_s)} of wall time in total "
        f"(median {fnum(float(cost['s'].median()))} s, "
        f"longest {fnum(float(cost['s'].max()))} s) and {seconds_text(cpu)} of their threads' "
        f"CPU time, of which the training loops took {seconds_text(train_s)}. Peak resident "
        f"memory {fnum(peak, 0)} MB: the whole Snakemake process's when jobs run as its threads."
    )
    fig, axes = r.figure(2, 1, 11.5, 3.8)
    s = cost["s"].clip(lower=1e-3)
    bins = np.geomspace(s.min(), max(s.max(), s.min() * 1.01), 30)
    axes[0][0].hist(s, bins=bins, color=BASE_COLOURS[0], alpha=0.75)
    plotting.log_axis(axes[0][0], s, axis="x")
    axes[0][0].set_xlabel("job wall time s (log)")
    axes[0][0].set_title("Time per training job")
    busy = cost["thread_cpu_s"] / s
    axes[0][1].hist(busy, bins=30, color=BASE_COLOURS[1], alpha=0.75)
    axes[0][1].set_xlabel("thread CPU time / wall time")
    axes[0][1].set_title("Share of each job's wall time on a core")
    for ax in axes[0]:
        ax.set_ylabel("jobs")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    slowest = cost.nlargest(1, "s").iloc[0]
    caption = (
        f"Distribution of the {len(cost)} training jobs' wall time (sum "
        f"{seconds_text(total_s)}; slowest {slowest['job']} at {fnum(float(slowest['s']))} s) "
        f"and of the share of it their thread spent on a core (median "
        f"{fnum(float(busy.median()))}): below 1, a job waited for a core or for Python's "
        "global lock."
    )
    section["figures"].append(r.save(fig, "cost", caption, "Histograms of job cost"))
    top = cost.nlargest(10, "s")
    rows = [
        [
            html.cell(row["job"]),
            html.cell(f"{int(row['trained'])} of {int(row['cells'])}", float(row["trained"])),
            html.cell(fnum(float(row["s"])), float(row["s"])),
            html.cell(fnum(float(row["thread_cpu_s"])), float(row["thread_cpu_s"])),
        ]
        for _, row in top.iterrows()
    ]
    section["tables"].append(
        html.table(
            "cost-top",
            [
                ("job (batch of cells)", False),
                ("cells trained", True),
                ("wall s", True),
                ("thread CPU s", True),
            ],
            rows,
            caption=f"The {len(top)} slowest training jobs.",
        )
    )
