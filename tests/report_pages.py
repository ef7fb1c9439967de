"""Shared by the report tests: a small results folder built from tiny trained cells, fake
findings, and the page's links and embedded figures."""

import base64
from html.parser import HTMLParser

import numpy as np
import pandas as pd

import initbench as ib
from initbench.cell import Cell
from initbench.findings import Finding, write_findings
from initbench.provenance import config_hash, provenance
from initbench.report.build import SECTIONS

SECTION_IDS = ("findings", *(sid for sid, *_ in SECTIONS))

SCRIPT = "<script>alert('x')</script>"
PNG_URI = "data:image/png;base64,"
MAX_PNG_BYTES = 400_000  # one figure; the page embeds them all
CONFIG = {
    "threads": 1,
    "data_seed": 0,
    "datasets": {"circles": {"n_train": 120, "n_test": 60}, "teacher": {"n_train": 120}},
    "inits": {
        "zeros": {"scheme": "zeros"},
        "he_normal": {"scheme": "he_normal"},
        "big": {"scheme": "normal", "std": 10.0},
        "xavier_normal": {"scheme": "xavier_normal"},
    },
    "studies": {
        "overview": {
            "description": f"tiny {SCRIPT}",
            "datasets": ["circles"],
            "activations": ["relu"],
            "inits": ["zeros", "he_normal"],
            "depths": [2, 3],
            "widths": [8],
        },
        "regression": {
            "description": "teacher",
            "datasets": ["teacher"],
            "activations": ["tanh"],
            "inits": ["xavier_normal"],
            "hidden": [[8]],
        },
    },
}


def _cells():
    circles = ib.load_dataset("circles", seed=0, n_train=120, n_test=60)
    teacher = ib.load_dataset("teacher", seed=0, n_train=120, n_test=60)
    common = {"seeds": (0, 1)}

    def t(lr):
        return ib.TrainSettings(steps=30, lr=lr, batch_size=32, log_points=8)

    return [
        (
            Cell("circles", "relu", "he_normal", "he_normal", (8,), training=t(0.1), **common),
            circles,
        ),
        (
            Cell("circles", "relu", "he_normal", "he_normal", (8, 8), training=t(0.1), **common),
            circles,
        ),
        (Cell("circles", "relu", "zeros", "zeros", (8, 8), training=t(0.1), **common), circles),
        # mse on unbounded relu outputs from std-10 weights: overflows within a few steps
        (
            Cell(
                "circles",
                "relu",
                "big",
                "normal",
                (8, 8),
                training=t(1.0),
                loss="mse",
                init_params={"std": 10.0},
                **common,
            ),
            circles,
        ),
        (
            Cell(
                "teacher",
                "tanh",
                "xavier_normal",
                "xavier_normal",
                (8,),
                training=t(0.05),
                **common,
            ),
            teacher,
        ),
    ]


def write_results(results):
    """The five aggregated tables, as workflow.aggregate writes them."""
    tables = {"runs": [], "curves": [], "layers": []}
    extra = {**provenance(), "threads": 1, "config_hash": config_hash(CONFIG)}
    names = []
    for cell, data in _cells():
        names.append(cell.name)
        for kind, table in zip(tables, ib.train_cell(cell, data)):
            tables[kind].append(table.assign(**extra))
    results.mkdir(parents=True, exist_ok=True)
    for kind, parts in tables.items():
        pd.concat(parts, ignore_index=True).to_parquet(results / f"{kind}.parquet", index=False)
    rng = np.random.default_rng(0)
    s = rng.uniform(0.05, 2, len(names))
    cost = pd.DataFrame(
        {
            "job": names,
            "cells": 1,
            "trained": 1,
            "s": s,
            "thread_cpu_s": s * rng.uniform(0.5, 1, len(names)),
            "max_rss": rng.uniform(400, 460, len(names)),
        }
    )
    cost.assign(config_hash=extra["config_hash"]).to_parquet(results / "cost.parquet", index=False)
    studies = [("overview", n) for n in names if n.startswith("circles") and "-big-" not in n]
    studies += [("regression", names[-1]), ("divergent", names[3]), ("divergent", names[1])]
    pd.DataFrame(studies, columns=["study", "cell"]).to_parquet(results / "studies.parquet")
    return names


def write_fake_findings(results, n_runs):
    """findings.json and one claim figure, as the findings job writes them."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [1, 0])
    (results / "findings").mkdir()
    fig.savefig(results / "findings" / "finding-he.png")
    findings = [
        Finding("he", "He init trains deep ReLU nets", "He keeps <b>variance</b>",
                "He et al. 2015", ["overview"], [("gradient ratio", "0.93"), ("runs", str(n_runs))],
                "reproduced", "ratio within [0.5, 2]", "finding-he.png",
                f"Fake figure over {n_runs} runs"),
        Finding("zeros", "Zero init stalls", "Symmetric units", "course", ["overview"],
                [("acc", "0.5")], "not reproduced", "accuracy <= chance + 0.02"),
        Finding("lsuv", "LSUV", "unit variance", "Mishkin & Matas 2016", [], [], "inconclusive",
                "needs the lsuv study"),
    ]  # fmt: skip
    write_findings(findings, results / "findings.json")
    return results / "findings.json"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.srcs = set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if "src" in attrs:
            self.srcs.append(attrs["src"])


def embedded_png(src):
    """The PNG bytes of a data: URI (the page carries its figures)."""
    assert src.startswith(PNG_URI), src[:40]
    data = base64.b64decode(src[len(PNG_URI) :], validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data
