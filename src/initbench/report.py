"""The study's HTML report, built only from the aggregated result tables.

``build_report(results_dir, out_html, config)`` reads the runs, curves, layers, cost and
studies tables, draws seaborn figures as PNG files in ``<dir of out_html>/figures/`` and
renders ``templates/report.html.j2`` into one page with inline CSS and JS and relative
image links: it opens from disk with no server and no network.

Every caption states what its figure shows with numbers computed from the tables. Figures
are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas, never through
pyplot: the pipeline runs its jobs as threads of one process.
"""

import json
import math
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from .study import CELL_PARAMETERS, STALL_LOSS_FRACTION, STALL_MARGIN, made_no_progress
from .workflow import config_hash

TABLE_NAMES = ("runs", "curves", "layers", "cost", "studies")
TARGET_FRACTION = 0.9  # steps to target: 0.9 x the dataset's best final train accuracy
SECOND_ACTIVATIONS = ("tanh", "sigmoid")  # shown next to relu in the per-layer figures
PREFERRED_INITS = (
    "he_normal",
    "xavier_normal",
    "xavier_uniform",
    "torch_default",
    "orthogonal",
    "lecun_normal",
    "lsuv",
    "normal_small",
    "zeros",
)
MAX_LINES = 12  # hue levels in one line plot
DASHES = ("-", (0, (5, 2)), (0, (1.5, 1.5)), (0, (6, 2, 1.5, 2)))
FEW_LINES = 5  # inits in the "during training" and convergence plots
SYMMETRIC_SCHEMES = ("zeros", "constant")  # inits whose hidden units start identical
DPI = 100
STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper", font_scale=1.25),
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.family": ["DejaVu Sans"],
}
_TAB20 = sns.color_palette("tab20", 20)
BASE_COLOURS = _TAB20[0::2] + _TAB20[1::2]  # ten strong colours first, then their light twins

NEEDS_LAYERS = ("gradient-init", "gradient-training", "activations", "symmetry")
SECTIONS = (
    ("findings", "Findings"),
    ("overview", "Overview: which cells train"),
    ("gradient-init", "Gradient flow at initialization"),
    ("gradient-training", "Gradient flow during training"),
    ("activations", "Activation statistics"),
    ("convergence", "Convergence"),
    ("divergence", "Divergence"),
    ("symmetry", "Symmetry"),
    ("provenance", "Provenance and cost"),
    ("cells", "All cells"),
)


def build_report(results_dir, out_html, config, log=print):
    """Write ``out_html`` and its figures (``<dir of out_html>/figures/*.png``).

    ``results_dir`` holds runs/curves/layers/cost/studies ``.parquet``; ``config`` is the
    study configuration (shown in the report and used for ordering). Figures are drawn into
    a temporary folder that replaces ``figures/`` once the page is rendered, and the page
    is written atomically, so an interrupted build leaves the previous report intact.
    """
    start = time.perf_counter()
    out_html = Path(out_html)
    out_dir = out_html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    figure_dir = out_dir / "figures"
    building = out_dir / f".figures.tmp{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    try:
        tables = load_tables(results_dir)
        log(
            f"read tables in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{k} {len(v)} rows" for k, v in tables.items())
        )
        report = _Report(tables, config or {}, building, log)
        with mpl.rc_context(STYLE):
            context = report.context()
        html = render(context)
        if figure_dir.exists():
            shutil.rmtree(figure_dir)
        os.replace(building, figure_dir)
        tmp_html = out_html.with_name(f".{out_html.name}.tmp{os.getpid()}")
        tmp_html.write_text(html, encoding="utf-8")
        os.replace(tmp_html, out_html)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(
        f"report {out_html} with {len(list(figure_dir.glob('*.png')))} figures "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return out_html


def load_tables(results_dir):
    """The five aggregated tables (an empty table for any that is missing)."""
    return {
        name: pd.read_parquet(path)
        if (path := Path(results_dir) / f"{name}.parquet").exists()
        else pd.DataFrame()
        for name in TABLE_NAMES
    }


def render(context):
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("initbench", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


# ---------------------------------------------------------------------------------------
# Per-cell summary


def summarize_cells(runs):
    """One row per cell: its parameters, medians over seeds and divergence/stall counts."""
    r = runs.copy()
    diverged = r["status"].eq("diverged")
    stalled = made_no_progress(r)
    r["is_diverged"] = diverged
    r["is_stalled"] = stalled & ~diverged
    r["div_step"] = r["diverged_step"].where(diverged)
    params = [*CELL_PARAMETERS, "majority_rate"]
    g = r.groupby("cell", sort=False)
    cells = g[params].first()
    agg = g.agg(
        seeds=("seed", "size"),
        n_diverged=("is_diverged", "sum"),
        n_stalled=("is_stalled", "sum"),
        first_div_step=("div_step", "min"),
        test_acc=("final_test_accuracy", "median"),
        train_acc=("final_train_accuracy", "median"),
        test_loss=("final_test_loss", "median"),
        train_loss=("final_train_loss", "median"),
        initial_loss=("initial_train_loss", "median"),
        train_seconds=("train_seconds", "sum"),
    )
    cells = cells.join(agg)
    cells["task"] = np.where(cells["majority_rate"].isna(), "regression", "classification")
    cells["stalled"] = 2 * cells["n_stalled"] >= cells["seeds"]
    return cells


def _value_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v))


def variant_labels(cells, init_order):
    """Init label per cell, with the swept parameters when one init label has several."""
    labels = cells["init"].astype(object).copy()
    sort_key = {}
    for init, sub in cells.groupby("init", sort=False):
        rank = init_order.get(init, len(init_order))
        distinct = list(sub["init_params"].unique())
        if len(distinct) <= 1:
            sort_key[init] = (rank, ())
            continue
        parsed = {s: json.loads(s) for s in distinct}
        keys = sorted({k for d in parsed.values() for k in d})
        varying = [k for k in keys if len({json.dumps(d.get(k)) for d in parsed.values()}) > 1]
        names = {}
        for s, d in parsed.items():
            name = f"{init} (" + ", ".join(f"{k}={d.get(k)}" for k in varying) + ")"
            names[s] = name
            sort_key[name] = (rank, tuple(_value_key(d.get(k)) for k in varying))
        labels[sub.index] = sub["init_params"].map(names)
    order = sorted(set(labels), key=lambda name: sort_key[name])
    return labels, order


def build_palette(variant_order, cells):
    """Fixed colour per init variant: config order for plain inits, a ramp for sweeps."""
    init_of = cells.drop_duplicates("variant").set_index("variant")["init"]
    palette, base = {}, 0
    sweeps = {}
    for v in variant_order:
        if v == init_of[v]:
            palette[v] = BASE_COLOURS[base % len(BASE_COLOURS)]
            base += 1
        else:
            sweeps.setdefault(init_of[v], []).append(v)
    ramp = mpl.colormaps["plasma"]
    for members in sweeps.values():
        for i, v in enumerate(members):
            palette[v] = ramp(0.05 + 0.8 * i / max(len(members) - 1, 1))
    return palette


# ---------------------------------------------------------------------------------------
# Formatting


def fnum(v, digits=2):
    """Fixed-point number text; n/a for missing, inf/NaN spelled out."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}"


def gnum(v, digits=2):
    """Significant-digit number text (gradient norms, losses)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return fnum(v)
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def seconds_text(s):
    if not math.isfinite(s):
        return "n/a"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def join_words(items):
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(n, word, words=None):
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _slug(text):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text))


def _finite(series):
    return series.replace([np.inf, -np.inf], np.nan)


def _quantiles(df, keys, value):
    """Median and interquartile range of ``value`` per ``keys`` (inf counted as missing)."""
    df = df.assign(**{value: _finite(df[value])})
    g = df.groupby(keys, sort=True, observed=True)[value]
    out = pd.DataFrame({"lo": g.quantile(0.25), "mid": g.median(), "hi": g.quantile(0.75)})
    return out.reset_index()


def _cell(text, value=None):
    """A table cell: shown text and (numeric columns) the value it sorts by."""
    if value is not None and isinstance(value, float) and math.isnan(value):
        value = "NaN"
    return {"text": text, "v": value}


def _table(table_id, columns, rows, caption="", sortable=True, scroll=False, filter=None, title=""):
    """A table for the template; ``filter`` (default: over 10 rows) adds a filter box."""
    return {
        "id": table_id,
        "caption": caption,
        "sortable": sortable,
        "scroll": scroll,
        "title": title,
        "filter": len(rows) > 10 if filter is None else filter,
        "columns": [{"label": label, "num": num} for label, num in columns],
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------


class _Report:
    """Holds the tables and derived per-cell summary; one method per report section."""

    def __init__(self, tables, config, figure_dir, log):
        self.tables = tables
        self.config = config
        self.figure_dir = Path(figure_dir)
        self.log = log
        runs = tables["runs"]
        self.cells = summarize_cells(runs) if len(runs) else pd.DataFrame()
        self.dataset_order = self._order("dataset", list(config.get("datasets", {})))
        acts = []
        for spec in config.get("studies", {}).values():
            acts += [a for a in spec.get("activations", []) if a not in acts]
        self.activation_order = self._order("activation", acts)
        init_order = {name: i for i, name in enumerate(config.get("inits", {}))}
        for name in self.cells.get("init", pd.Series(dtype=object)).unique():
            init_order.setdefault(name, len(init_order))
        if len(self.cells):
            self.cells["variant"], self.variant_order = variant_labels(self.cells, init_order)
            self.palette = build_palette(self.variant_order, self.cells)
            self._steps_to_target()
        else:
            self.variant_order, self.palette = [], {}
        studies = tables["studies"]
        self.studies = (
            {s: list(g["cell"]) for s, g in studies.groupby("study", sort=False)}
            if len(studies)
            else {}
        )
        self.figures = []

    def _order(self, column, preferred):
        if not len(self.cells):
            return list(preferred)
        present = list(self.cells[column].unique())
        return [x for x in preferred if x in present] + sorted(
            x for x in present if x not in preferred
        )

    # ---- helpers ---------------------------------------------------------------------

    def figure(self, ncols, nrows, width, height, **kw):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
        return fig, axes

    def save(self, fig, name, caption, alt):
        """Render once and write the PNG (``savefig`` would render twice: a layout dry run)."""
        file = f"{_slug(name)}.png"
        fig.canvas.draw()
        imsave(self.figure_dir / file, np.asarray(fig.canvas.buffer_rgba()))
        self.figures.append(file)
        return {"file": file, "caption": caption, "alt": alt}

    def legend(self, fig, variants, title="init", extra=(), ncols=None, styles=None):
        handles = [
            Line2D(
                [],
                [],
                color=self.palette[v],
                lw=2.2,
                marker="o",
                ms=5,
                ls=(styles or {}).get(v, "-"),
            )
            for v in variants
        ]
        labels = list(variants)
        for handle, label in extra:
            handles.append(handle)
            labels.append(label)
        if not handles:
            return
        longest = max(len(label) for label in labels)
        ncols = ncols or max(1, min(len(labels), int(110 / (longest + 6))))
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=ncols,
            title=title,
            fontsize="small",
            title_fontsize="small",
        )

    def ordered(self, values, order):
        values = list(dict.fromkeys(values))
        return [v for v in order if v in values] + [v for v in values if v not in order]

    def cells_of(self, study):
        """The cells of ``study`` (all cells if it does not exist), as a summary frame."""
        if study in self.studies:
            return self.cells.loc[self.cells.index.isin(self.studies[study])]
        return self.cells

    def few_variants(self, variants, n=FEW_LINES):
        """Up to ``n`` variants: the well-known inits first, else evenly over a sweep."""
        variants = self.ordered(variants, self.variant_order)
        if len(variants) <= n:
            return variants
        init_of = self.cells.drop_duplicates("variant").set_index("variant")["init"]
        known = [v for v in variants if init_of[v] in PREFERRED_INITS and v == init_of[v]]
        known.sort(key=lambda v: PREFERRED_INITS.index(init_of[v]))
        rest = [v for v in variants if v not in known]
        picked = known[:n]
        if len(picked) < n and rest:
            k = n - len(picked)
            picked += [
                rest[int(round(i))] for i in np.linspace(0, len(rest) - 1, min(k, len(rest)))
            ]
        return self.ordered(picked, self.variant_order)

    def deep_selection(self):
        """(dataset, {activation: cells at that activation's largest depth}) or None.

        Two activations on one dataset: relu (else the deepest), and tanh if it reaches half
        that depth (else sigmoid, else the deepest other); the dataset where the two reach
        the largest depths. One cell per init variant (the widest), at most MAX_LINES.
        """
        if hasattr(self, "_deep"):
            return self._deep
        self._deep = None
        cells = self.cells[self.cells["depth"] >= 2]
        best, best_score = None, None
        for rank, dataset in enumerate(self.dataset_order):
            depth = cells[cells["dataset"] == dataset].groupby("activation")["depth"].max()
            if not len(depth):
                continue
            order = self.ordered(depth.index, self.activation_order)
            first = "relu" if "relu" in depth else max(order, key=lambda a: depth[a])
            rest = [a for a in order if a != first]
            second = next(
                (a for a in SECOND_ACTIVATIONS if a in rest and depth[a] * 2 >= depth[first]), None
            )
            if second is None and rest:
                second = max(rest, key=lambda a: depth[a])
            acts = [first] + ([second] if second else [])
            score = (int(depth[acts].sum()), len(acts), -rank)
            if best_score is None or score > best_score:
                best, best_score = (dataset, acts), score
        if best is None:
            return None
        dataset, acts = best
        chosen = {}
        for act in acts:
            sub = cells[(cells["dataset"] == dataset) & (cells["activation"] == act)]
            sub = sub[sub["depth"] == sub["depth"].max()]
            sub = sub.sort_values(["width", "steps"], ascending=False).drop_duplicates("variant")
            variants = self.ordered(sub["variant"], self.variant_order)
            if len(variants) > MAX_LINES:
                idx = np.linspace(0, len(variants) - 1, MAX_LINES).round().astype(int)
                variants = [variants[i] for i in idx]
            chosen[act] = sub[sub["variant"].isin(variants)]
        self._deep = (dataset, chosen)
        return self._deep

    def layer_rows(self, cell_names, columns):
        layers = self.tables["layers"]
        cols = ["cell", "seed", "step", "layer", *columns]
        sub = layers.loc[layers["cell"].isin(cell_names), cols]
        return sub.merge(
            self.cells[["variant", "activation", "depth", "dataset"]],
            left_on="cell",
            right_index=True,
        )

    def lines(self, ax, agg, x, variants, band=True, marker="o", styles=None):
        """Median lines (column ``mid``) per variant with an IQR band (``lo``/``hi``)."""
        if x == "layer":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return _lines(
            ax, agg, x, "variant", variants, self.palette, band=band, marker=marker, styles=styles
        )

    # ---- derived: steps to target ----------------------------------------------------

    def _steps_to_target(self):
        cells = self.cells
        cls = cells["task"] == "classification"
        best_acc = cells[cls].groupby("dataset")["train_acc"].max()
        best_loss = cells[~cls].groupby("dataset")["train_loss"].min()
        target = np.where(
            cls,
            TARGET_FRACTION * cells["dataset"].map(best_acc),
            cells["dataset"].map(best_loss) / TARGET_FRACTION,
        )
        cells["target"] = target
        curves = self.tables["curves"]
        reached = pd.Series(np.nan, index=cells.index)
        if len(curves):
            med = curves.groupby(["cell", "step"], sort=False)[["train_accuracy", "train_loss"]]
            med = med.median().reset_index()
            med = med.merge(cells[["target", "task"]], left_on="cell", right_index=True)
            hit = np.where(
                med["task"] == "classification",
                med["train_accuracy"] >= med["target"],
                med["train_loss"] <= med["target"],
            )
            first = med[hit & med["target"].notna()].groupby("cell")["step"].min()
            reached = first.reindex(cells.index)
        cells["steps_to_target"] = reached

    # ---- sections --------------------------------------------------------------------

    def context(self):
        sections = {}
        builders = {
            "overview": self.section_overview,
            "gradient-init": self.section_gradient_init,
            "gradient-training": self.section_gradient_training,
            "activations": self.section_activations,
            "convergence": self.section_convergence,
            "divergence": self.section_divergence,
            "symmetry": self.section_symmetry,
            "provenance": self.section_provenance,
            "cells": self.section_cells,
        }
        for sid, title in SECTIONS:
            if sid == "findings":
                continue
            start = time.perf_counter()
            section = {
                "id": sid,
                "title": title,
                "intro": [],
                "figures": [],
                "tables": [],
                "empty": None,
                "pre": None,
                "facts": [],
            }
            if not len(self.cells) and sid != "provenance":
                section["empty"] = "The runs table is empty: there is nothing to show."
            elif sid in NEEDS_LAYERS and not len(self.tables["layers"]):
                section["empty"] = "The layers table is missing or empty: nothing to show."
            else:
                builders[sid](section)
            if not (
                section["figures"]
                or section["tables"]
                or section["empty"]
                or section["pre"]
                or section["facts"]
                or section["intro"]
            ):
                section["empty"] = "Nothing to show for this study."
            sections[sid] = section
            self.log(
                f"section {sid}: {len(section['figures'])} figures, "
                f"{len(section['tables'])} tables in {time.perf_counter() - start:.1f} s"
            )
        start = time.perf_counter()
        findings = self.findings()
        self.log(f"section findings in {time.perf_counter() - start:.1f} s")
        return {
            "title": "initbench report",
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "summary": self.summary(),
            "toc": [{"id": sid, "title": title} for sid, title in SECTIONS],
            "findings": findings,
            "sections": [sections[sid] for sid, _ in SECTIONS if sid in sections],
        }

    def summary(self):
        """Headline numbers for the top of the page."""
        cells, runs = self.cells, self.tables["runs"]
        if not len(cells):
            return {"facts": [], "headline": ["No runs in the results tables."]}
        n_div = int(cells["n_diverged"].sum())
        trained = ~cells["stalled"] & (cells["n_diverged"] < cells["seeds"])
        facts = [
            ("cells", f"{len(cells)}"),
            ("runs", f"{len(runs)} ({plural(int(cells['seeds'].max()), 'seed')} max per cell)"),
            ("datasets", ", ".join(self.dataset_order)),
            ("activations", ", ".join(self.activation_order)),
            ("inits", f"{cells['init'].nunique()}"),
            ("depths", ", ".join(str(d) for d in sorted(cells["depth"].unique()))),
            ("studies", ", ".join(self.studies) or "none"),
            ("training time", seconds_text(float(cells["train_seconds"].sum()))),
        ]
        headline = [
            f"{len(cells)} cells, {len(runs)} runs: {int(trained.sum())} cells trained, "
            f"{int(cells['stalled'].sum())} stalled (final train accuracy <= chance + "
            f"{STALL_MARGIN}, or train loss >= {STALL_LOSS_FRACTION} x initial, in at least half "
            f"the seeds), {int((cells['n_diverged'] > 0).sum())} had a diverged run "
            f"({plural(n_div, 'run')} hit inf/NaN)."
        ]
        best = []
        for dataset in self.dataset_order:
            sub = cells[cells["dataset"] == dataset]
            if sub["task"].iloc[0] == "classification":
                row = sub.loc[sub["test_acc"].idxmax()] if sub["test_acc"].notna().any() else None
                if row is not None:
                    best.append(
                        f"{dataset}: {row['test_acc']:.2f} test accuracy "
                        f"({row['activation']}, {row['variant']}, depth {row['depth']})"
                    )
            elif sub["test_loss"].notna().any():
                row = sub.loc[sub["test_loss"].idxmin()]
                best.append(
                    f"{dataset}: test loss {gnum(row['test_loss'], 3)} "
                    f"({row['activation']}, {row['variant']}, depth {row['depth']})"
                )
        if best:
            headline.append("Best cell per dataset (median over seeds): " + "; ".join(best) + ".")
        headline += self.deep_headline()
        return {"facts": facts, "headline": headline}

    def deep_headline(self):
        """Per dataset and activation: best and worst init at the overview's largest depth."""
        cells = self.cells_of("overview")
        lines = []
        for dataset in self.ordered(cells["dataset"], self.dataset_order):
            sub = cells[cells["dataset"] == dataset]
            regression = sub["task"].iloc[0] == "regression"
            value = "test_loss" if regression else "test_acc"
            depth = int(sub["depth"].max())
            parts = []
            for act in self.ordered(sub["activation"], self.activation_order):
                s = sub[(sub["activation"] == act) & (sub["depth"] == depth)]
                vals = _finite(s.groupby("variant")[value].median()).dropna()
                if len(vals) < 2:
                    continue
                best = vals.idxmin() if regression else vals.idxmax()
                worst = vals.idxmax() if regression else vals.idxmin()
                show = (lambda v: gnum(v, 2)) if regression else fnum
                parts.append(f"{act} {best} {show(vals[best])} vs {worst} {show(vals[worst])}")
            if parts:
                what = "test loss" if regression else "test accuracy"
                lines.append(
                    f"{dataset} at depth {depth}, best vs worst init by median {what}: "
                    + "; ".join(parts)
                    + "."
                )
        return lines

    # 0. findings -------------------------------------------------------------------------

    def findings(self):
        try:
            from .findings import evaluate_findings
        except ModuleNotFoundError as error:
            if error.name not in ("initbench.findings", __package__ + ".findings"):
                raise
            return {
                "available": False,
                "message": "Findings module not available.",
                "items": [],
                "counts": [],
            }
        try:
            items = list(evaluate_findings(self.tables, self.config, self.figure_dir))
        except Exception as error:  # noqa: BLE001 - one failing finding must not lose the report
            self.log(f"findings failed: {type(error).__name__}: {error}")
            return {
                "available": False,
                "items": [],
                "counts": [],
                "message": f"Findings could not be evaluated: {type(error).__name__}: {error}",
            }
        rendered = []
        for f in items:
            figure = getattr(f, "figure", None)
            file = Path(figure).name if figure else None
            exists = bool(file) and (self.figure_dir / file).is_file()
            rendered.append(
                {
                    "key": f.key,
                    "anchor": _slug(f.key),
                    "title": f.title,
                    "claim": f.claim,
                    "source": f.source,
                    "studies": list(f.studies or []),
                    "measured": [(str(label), str(value)) for label, value in (f.measured or [])],
                    "verdict": f.verdict,
                    "verdict_class": _slug(str(f.verdict).replace(" ", "-")),
                    "rule": f.rule,
                    "figure": file if exists else None,
                    "missing_figure": file if file and not exists else None,
                    "caption": getattr(f, "caption", "") or "",
                }
            )
        counts = {}
        for f in rendered:
            counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
        return {
            "available": True,
            "message": "" if rendered else "No findings were evaluated.",
            "items": rendered,
            "counts": [(v, n, _slug(str(v).replace(" ", "-"))) for v, n in counts.items()],
        }

    # 1. overview ---------------------------------------------------------------------------

    def section_overview(self, section):
        cells = self.cells_of("overview")
        scope = "the overview study's" if "overview" in self.studies else "all"
        section["intro"].append(
            f"Median over seeds of the final test accuracy (test loss for regression) for "
            f"{scope} {len(cells)} cells, one heatmap per activation. Hatched: stalled in at "
            f"least half the seeds (final train accuracy <= chance + {STALL_MARGIN}, or train "
            f"loss >= {STALL_LOSS_FRACTION} x its initial value). Red ✕: at least one seed "
            "diverged (inf/NaN); a grey cell with ✕ diverged in every seed."
        )
        for dataset in self.ordered(cells["dataset"], self.dataset_order):
            sub = cells[cells["dataset"] == dataset]
            regression = sub["task"].iloc[0] == "regression"
            value = "test_loss" if regression else "test_acc"
            acts = self.ordered(sub["activation"], self.activation_order)
            widths = sorted(sub["width"].unique())
            facets = [
                (
                    act if len(widths) == 1 else f"{act}, width {w}",
                    sub[(sub["activation"] == act) & (sub["width"] == w)],
                )
                for act in acts
                for w in widths
            ]
            facets = [(title, f) for title, f in facets if len(f)]
            label = "median final test loss" if regression else "median final test accuracy"
            fig = self.heatmaps(
                facets,
                value,
                "test loss" if regression else "test accuracy",
                regression=regression,
                ncols=min(3, len(facets)),
            )
            fig.suptitle(f"{dataset}: {label} by init and depth", fontweight="bold")
            caption = self.overview_caption(dataset, sub, value, regression)
            section["figures"].append(
                self.save(fig, f"overview-{dataset}", caption, f"Heatmaps of {label} on {dataset}")
            )

    def heatmaps(
        self,
        facets,
        value,
        label,
        regression=False,
        ncols=3,
        cmap=None,
        vmin=None,
        vmax=None,
        fmt=None,
        marks=True,
    ):
        """A grid of init x depth heatmaps, one per (title, cells) facet, one colour bar."""
        all_cells = pd.concat([f for _, f in facets])
        variants = self.ordered(all_cells["variant"], self.variant_order)
        depths = sorted(all_cells["depth"].unique())
        nrows = math.ceil(len(facets) / ncols)
        longest = max(len(v) for v in variants)
        cell_w, cell_h = 0.72, 0.34
        facet_w = max(cell_w * len(depths), 2.2) + 0.3
        width = max(ncols * facet_w + 0.095 * longest + 1.8, 7.5)
        height = nrows * (cell_h * len(variants) + 0.85) + (1.1 if marks else 0.6)
        fig, axes = self.figure(ncols, nrows, width, height, sharey=True)
        if regression:
            finite = _finite(all_cells[value])
            positive = finite[finite > 0]
            lo = float(positive.min()) if len(positive) else 1e-3
            hi = float(positive.max()) if len(positive) else 1.0
            norm = mpl.colors.LogNorm(vmin=lo, vmax=max(hi, lo * 1.01))
            cmap = cmap or "viridis_r"
            fmt = fmt or ".2g"
        else:
            norm = mpl.colors.Normalize(
                vmin=0 if vmin is None else vmin, vmax=1 if vmax is None else vmax
            )
            cmap = cmap or "viridis"
            fmt = fmt or ".2f"
        for i, (title, sub) in enumerate(facets):
            ax = axes[i // ncols][i % ncols]
            grid = sub.pivot_table(
                index="variant", columns="depth", values=value, aggfunc="median", dropna=False
            )
            grid = grid.reindex(index=variants, columns=depths)
            shown = grid.astype(float).where(np.isfinite(grid.astype(float)))
            _heatmap(ax, shown, cmap, norm, fmt)
            ax.set_title(title)
            ax.set_xlabel("depth" if i + ncols >= len(facets) else "")
            ax.set_ylabel("init" if i % ncols == 0 else "")
            if not marks:
                continue
            pos_v = {v: k for k, v in enumerate(variants)}
            pos_d = {d: k for k, d in enumerate(depths)}
            colours = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
            for _, row in sub.iterrows():  # one row per cell of one facet: small
                y, x = pos_v[row["variant"]], pos_d[row["depth"]]
                if row["stalled"]:
                    v = shown.iat[y, x]
                    dark = not pd.isna(v) and sns.utils.relative_luminance(colours(norm(v))) < 0.408
                    ax.add_patch(
                        Rectangle(
                            (x, y),
                            1,
                            1,
                            fill=False,
                            hatch="//",
                            linewidth=0,
                            edgecolor=(1, 1, 1, 0.5) if dark else (0, 0, 0, 0.4),
                        )
                    )
                if row["n_diverged"] > 0:
                    full = row["n_diverged"] >= row["seeds"]
                    ax.text(
                        x + (0.5 if full else 0.88),
                        y + (0.5 if full else 0.22),
                        "✕",
                        color="#d62728",
                        ha="center",
                        va="center",
                        fontsize=15 if full else 9,
                        fontweight="bold",
                    )
        for j in range(len(facets), nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(mappable, ax=axes.ravel().tolist(), label=label, shrink=0.8, aspect=30)
        if regression:
            bar.set_ticks(np.geomspace(norm.vmin, norm.vmax, 5))
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
            bar.ax.yaxis.set_minor_locator(NullLocator())
        if marks:
            fig.legend(
                [
                    Patch(facecolor="white", edgecolor="0.35", hatch="//"),
                    Line2D([], [], color="#d62728", marker="$✕$", ls="", ms=9),
                    Patch(facecolor="0.88", edgecolor="0.6"),
                ],
                ["stalled (≥ half the seeds)", "diverged (≥ 1 seed)", "no cell / no value"],
                loc="outside lower center",
                ncols=3,
                fontsize="small",
            )
        return fig

    def overview_caption(self, dataset, sub, value, regression):
        metric = "test loss" if regression else "test accuracy"
        parts = []
        for act in self.ordered(sub["activation"], self.activation_order):
            s = sub[(sub["activation"] == act)]
            s = s[s["depth"] == s["depth"].max()]
            vals = _finite(s.groupby("variant")[value].median()).dropna()
            if not len(vals):
                parts.append(f"{act} at depth {s['depth'].max()}: no finite value")
                continue
            best = vals.idxmin() if regression else vals.idxmax()
            worst = vals.idxmax() if regression else vals.idxmin()
            show = (lambda v: gnum(v, 2)) if regression else fnum
            text = f"{act} at depth {s['depth'].max()}: {best} {show(vals[best])}"
            if worst != best:
                text += f", {worst} {show(vals[worst])}"
            parts.append(text)
        chance = sub["majority_rate"].dropna()
        n_div = int((sub["n_diverged"] > 0).sum())
        n_stall = int(sub["stalled"].sum())
        caption = (
            f"{dataset}: median final {metric} of {len(sub)} cells "
            f"({plural(int(sub['seeds'].max()), 'seed')}). Best and worst init at each "
            f"activation's largest depth — " + "; ".join(parts) + ". "
        )
        if len(chance):
            caption += f"Chance (majority class) is {chance.max():.2f}. "
        caption += (
            f"{plural(n_stall, 'cell')} stalled (hatched); {plural(n_div, 'cell')} "
            f"had a diverged seed (✕)."
        )
        return caption

    # 2. gradient flow at init -------------------------------------------------------------

    def section_gradient_init(self, section):
        selection = self.deep_selection()
        if selection is None or not selection[1]:
            section["empty"] = "No cell with a hidden layer: gradient flow needs depth >= 2."
            return
        dataset, chosen = selection
        names = pd.concat(chosen.values()).index
        rows = self.layer_rows(names, ["grad_w_norm", "grad_z_norm"])
        rows = rows[rows["step"] == 0]
        if not len(rows):
            section["empty"] = "The layers table has no step-0 rows for these cells."
            return
        section["intro"].append(
            f"Per-layer gradient norms at initialization (step 0, before any update) on "
            f"{dataset}, for the deepest networks of "
            + join_words(f"{act} (depth {int(c['depth'].max())})" for act, c in chosen.items())
            + ". Median over seeds with the interquartile band; logarithmic y axis, so "
            "vanishing gradients fall and exploding ones rise towards the input (layer 1)."
        )
        acts = list(chosen)
        metrics = [
            ("grad_w_norm", "‖∂L/∂W_l‖ (weights)"),
            ("grad_z_norm", "‖∂L/∂z_l‖ (back-propagated)"),
        ]
        fig, axes = self.figure(len(acts), 2, 5.4 * len(acts) + 0.4, 8.6, sharex="col")
        used, zero_note = [], {}
        for j, act in enumerate(acts):
            sub = rows[rows["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            for i, (metric, label) in enumerate(metrics):
                ax = axes[i][j]
                positive = sub[_finite(sub[metric]) > 0]
                agg = _quantiles(positive, ["variant", "layer"], metric)
                drawn = self.lines(ax, agg, "layer", variants)
                _log_axis(ax, agg[["lo", "mid", "hi"]])
                ax.set_title(f"{act}, depth {int(sub['depth'].max())}: {metric}")
                ax.set_ylabel(label)
                ax.set_xlabel("layer (1 = input side)" if i == 1 else "")
                if not drawn:
                    ax.text(0.5, 0.5, "all zero or non-finite", ha="center", transform=ax.transAxes)
            med_all = sub.groupby(["variant", "layer"])["grad_w_norm"].median().unstack()
            zero = [
                v
                for v in variants
                if v in med_all.index and (med_all.loc[v].iloc[:-1].fillna(0) == 0).all()
            ]
            zero_note[act] = zero
            used += [v for v in variants if v not in used]
        self.legend(fig, self.ordered(used, self.variant_order))
        caption = self.gradient_caption(rows, chosen, zero_note)
        section["figures"].append(
            self.save(fig, "gradient-init", caption, "Per-layer gradient norms at initialization")
        )

    def gradient_caption(self, rows, chosen, zero_note):
        parts = []
        for act, cells in chosen.items():
            sub = rows[rows["activation"] == act]
            depth = int(cells["depth"].max())
            med = sub.groupby(["variant", "layer"])["grad_z_norm"].median().unstack()
            if 1 not in med.columns or depth not in med.columns:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = _finite(med[1] / med[depth]).dropna()
            ratio = ratio[ratio > 0]
            text = f"{act} (depth {depth}): " + (_ratio_text(ratio) if len(ratio) else "n/a")
            if zero_note.get(act):
                text += (
                    f"; {join_words(zero_note[act])}: exactly 0 in every hidden layer "
                    "(not drawable on a log axis)"
                )
            parts.append(text)
        if not parts:
            return "No finite gradient ratio between the first and the output layer."
        return (
            "Back-propagated gradient ‖∂L/∂z‖ of layer 1 relative to the output layer at "
            "step 0 (median over seeds; 1 = neither vanishes nor explodes, << 1 vanishes, "
            ">> 1 explodes): " + "; ".join(parts) + "."
        )

    # 3. gradient flow during training ----------------------------------------------------

    def section_gradient_training(self, section):
        selection = self.deep_selection()
        if selection is None or not selection[1]:
            section["empty"] = "No cell with a hidden layer: gradient flow needs depth >= 2."
            return
        dataset, chosen = selection
        picked = {
            act: c[c["variant"].isin(self.few_variants(c["variant"]))] for act, c in chosen.items()
        }
        names = pd.concat(picked.values()).index
        rows = self.layer_rows(names, ["grad_w_norm"])
        if rows["step"].nunique() < 2:
            section["empty"] = "Only one logged step: nothing changes during training here."
            return
        stages = self.stage_steps(rows)
        rows = rows.merge(stages, on=["cell", "step"])
        acts = list(picked)
        labels = ["init", "middle", "end"]
        fig, axes = self.figure(3, len(acts), 14.5, 3.9 * len(acts) + 1.0, sharey="row")
        used, parts = [], []
        for i, act in enumerate(acts):
            sub = rows[rows["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            used += [v for v in variants if v not in used]
            depth = int(sub["depth"].max())
            for j, stage in enumerate(labels):
                ax = axes[i][j]
                s = sub[sub["stage"] == stage]
                agg = _quantiles(
                    s[_finite(s["grad_w_norm"]) > 0], ["variant", "layer"], "grad_w_norm"
                )
                if not self.lines(ax, agg, "layer", variants):
                    ax.text(0.5, 0.5, "all zero or non-finite", ha="center", transform=ax.transAxes)
                _log_axis(ax, sub["grad_w_norm"])  # the row shares its y axis
                steps = sorted(s["step"].unique())
                when = (
                    f"step {steps[0]}" if len(steps) == 1 else "steps " + ", ".join(map(str, steps))
                )
                ax.set_title(f"{act}, depth {depth} — {stage} ({when})")
                ax.set_xlabel("layer (1 = input side)")
                ax.set_ylabel("‖∂L/∂W_l‖" if j == 0 else "")
            med = sub.groupby(["variant", "stage", "layer"])["grad_w_norm"].median()
            for v in variants:
                try:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        r0 = med[(v, "init", 1)] / med[(v, "init", depth)]
                        r1 = med[(v, "end", 1)] / med[(v, "end", depth)]
                except KeyError:
                    continue
                if np.isfinite(r0) and np.isfinite(r1):
                    parts.append(f"{act} {v} {gnum(r0)}x → {gnum(r1)}x")
        self.legend(fig, self.ordered(used, self.variant_order))
        caption = (
            f"Weight-gradient norm per layer on {dataset} at initialization, at a middle logged "
            "step and at the last logged step (median over seeds, interquartile band, log y). "
            "Layer-1 / output-layer ratio at init → end: " + ("; ".join(parts) or "n/a") + "."
        )
        section["intro"].append(
            "How the per-layer gradient profile changes as the network trains, for a few "
            "inits of the networks shown above."
        )
        section["figures"].append(
            self.save(fig, "gradient-training", caption, "Per-layer gradient norms during training")
        )

    def stage_steps(self, rows):
        """(cell, step, stage): step 0, the middle logged step and the last, per cell."""
        out = []
        for cell, steps in rows.groupby("cell")["step"].unique().items():
            steps = np.sort(steps)
            planned = int(self.cells.at[cell, "steps"])
            last = planned if planned in steps else int(steps[-1])
            inner = steps[(steps > 0) & (steps < last)]
            middle = int(inner[len(inner) // 2]) if len(inner) else last
            out += [(cell, int(steps[0]), "init"), (cell, middle, "middle"), (cell, last, "end")]
        return pd.DataFrame(out, columns=["cell", "step", "stage"])

    # 4. activation statistics --------------------------------------------------------------

    def section_activations(self, section):
        self.activation_profile(section)
        self.saturation(section)
        self.dead_units(section)

    def activation_profile(self, section):
        selection = self.deep_selection()
        if selection is None or not selection[1]:
            section["intro"].append("No cell with a hidden layer: no activation profile.")
            return
        dataset, chosen = selection
        names = pd.concat(chosen.values()).index
        rows = self.layer_rows(names, ["act_mean", "act_std"])
        rows = rows[(rows["step"] == 0) & (rows["layer"] < rows["depth"])]
        if not len(rows):
            return
        acts = list(chosen)
        fig, axes = self.figure(2, len(acts), 11.5, 3.9 * len(acts) + 1.0, sharex="row")
        used, parts = [], []
        for i, act in enumerate(acts):
            sub = rows[rows["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            used += [v for v in variants if v not in used]
            depth = int(sub["depth"].max())
            agg = _quantiles(sub, ["variant", "layer"], "act_mean")
            self.lines(axes[i][0], agg, "layer", variants)
            axes[i][0].set_title(f"{act}, depth {depth}: mean activation")
            axes[i][0].set_ylabel("mean of layer output")
            positive = sub[_finite(sub["act_std"]) > 0]
            agg = _quantiles(positive, ["variant", "layer"], "act_std")
            if not self.lines(axes[i][1], agg, "layer", variants):
                axes[i][1].text(0.5, 0.5, "all zero", ha="center", transform=axes[i][1].transAxes)
            _log_axis(axes[i][1], agg[["lo", "mid", "hi"]])
            axes[i][1].set_title(f"{act}, depth {depth}: activation std")
            axes[i][1].set_ylabel("std of layer output")
            for ax in axes[i]:
                ax.set_xlabel("hidden layer")
            med = sub.groupby(["variant", "layer"])["act_std"].median().unstack()
            if med.shape[1] >= 2:
                first, last = med.iloc[:, 0], med.iloc[:, -1]
                ratio = (last / first).replace([np.inf, -np.inf], np.nan).dropna()
                if len(ratio):
                    lo, hi = ratio.idxmin(), ratio.idxmax()
                    parts.append(
                        f"{act}: {lo} {gnum(first[lo])} → {gnum(last[lo])}, "
                        f"{hi} {gnum(first[hi])} → {gnum(last[hi])}"
                    )
                dead = [v for v in med.index if (med.loc[v].fillna(0) == 0).all()]
                if dead:
                    parts.append(f"{act}: {join_words(dead)} output exactly 0 (not on log axis)")
        self.legend(fig, self.ordered(used, self.variant_order))
        caption = (
            f"Mean and standard deviation of each hidden layer's output at initialization on "
            f"{dataset} (median over seeds). Std from the first to the last hidden layer, "
            "for the inits where it shrinks and grows most: " + ("; ".join(parts) or "n/a") + "."
        )
        section["figures"].append(
            self.save(
                fig, "activations-profile", caption, "Per-layer activation mean and std at init"
            )
        )

    def saturation(self, section):
        layers = self.tables["layers"]
        bounded = layers.loc[layers["saturated_frac"].notna(), "cell"].unique()
        cells = self.cells[self.cells.index.isin(bounded) & (self.cells["depth"] >= 2)]
        if "glorot" in self.studies:
            glorot = cells[cells.index.isin(self.studies["glorot"])]
            cells = glorot if len(glorot) else cells
        if not len(cells):
            section["intro"].append(
                "Saturation: no cell with a bounded activation (sigmoid/tanh-like) and a hidden "
                "layer, so there is no saturation to show."
            )
            return
        combos = cells.groupby(["dataset", "depth"]).apply(
            lambda g: g[["activation", "variant"]].drop_duplicates().shape[0]
        )
        rank = {d: i for i, d in enumerate(self.dataset_order)}
        (dataset, depth) = max(combos.index, key=lambda k: (combos[k], k[1], -rank.get(k[0], 0)))
        cells = cells[(cells["dataset"] == dataset) & (cells["depth"] == depth)]
        cells = cells.sort_values(["width", "steps"], ascending=False).drop_duplicates(
            ["activation", "variant"]
        )
        rows = self.layer_rows(cells.index, ["saturated_frac"])
        rows = rows[rows["layer"] == rows["depth"] - 1]
        acts = self.ordered(cells["activation"], self.activation_order)
        fig, axes = self.figure(len(acts), 1, max(5.2 * len(acts), 7.0), 4.8, sharey=True)
        used, parts = [], []
        for j, act in enumerate(acts):
            ax = axes[0][j]
            sub = rows[rows["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            if len(variants) > MAX_LINES:
                variants = self.few_variants(variants, MAX_LINES)
            used += [v for v in variants if v not in used]
            agg = _quantiles(sub, ["variant", "step"], "saturated_frac")
            self.lines(ax, agg, "step", variants, marker=None)
            _step_axis(ax)
            top = float(agg["hi"].max()) if agg["hi"].notna().any() else 0.0
            ax.set_ylim(-0.01, min(1.02, max(0.05, 1.15 * top)))
            ax.set_title(f"{act} on {dataset}, depth {depth}: layer {depth - 1}")
            ax.set_ylabel("saturated fraction of the top hidden layer" if j == 0 else "")
            groups = dict(tuple(agg.groupby("variant")))
            never = []
            for v in variants:
                g = groups.get(v)
                g = None if g is None else g.dropna(subset=["mid"]).sort_values("step")
                if g is None or not len(g):
                    continue
                if (g["mid"] == 0).all():
                    never.append(v)
                    continue
                peak = g.loc[g["mid"].idxmax()]
                parts.append(
                    f"{act} {v}: {fnum(g['mid'].iloc[0])} at init, peak "
                    f"{fnum(peak['mid'])} at step {int(peak['step'])}, "
                    f"{fnum(g['mid'].iloc[-1])} at the end"
                )
            if never:
                parts.append(f"{act} {join_words(never)}: 0 at every logged step")
        self.legend(fig, self.ordered(used, self.variant_order))
        source = "the glorot study" if "glorot" in self.studies else "bounded-activation cells"
        caption = (
            f"Fraction of the top hidden layer's outputs within 1% of the activation's bounds "
            f"during training ({source} on {dataset}, depth {depth}; median over seeds with "
            "interquartile band), as in Glorot & Bengio (2010), Fig. 2. " + "; ".join(parts) + "."
        )
        section["figures"].append(
            self.save(
                fig,
                "activations-saturation",
                caption,
                "Saturation of the top hidden layer over training",
            )
        )

    def dead_units(self, section):
        cells = self.cells_of("overview")
        cells = cells[cells["activation"].isin(["relu", "leaky_relu"]) & (cells["depth"] >= 2)]
        if not len(cells):
            section["intro"].append(
                "Dead units: no ReLU or Leaky ReLU cell with a hidden layer in the results."
            )
            return
        rows = self.layer_rows(cells.index, ["dead_frac"])
        rows = rows[rows["layer"] < rows["depth"]]
        last = rows.groupby(["cell", "seed"])["step"].transform("max")
        per_run = (
            rows[rows["step"] == last]
            .groupby(["cell", "seed"])["dead_frac"]
            .mean()
            .groupby("cell")
            .median()
        )
        at_init = (
            rows[rows["step"] == 0]
            .groupby(["cell", "seed"])["dead_frac"]
            .mean()
            .groupby("cell")
            .median()
        )
        summary = cells.assign(
            dead=per_run.reindex(cells.index), dead_init=at_init.reindex(cells.index)
        )
        acts = self.ordered(summary["activation"], self.activation_order)
        datasets = self.ordered(summary["dataset"], self.dataset_order)
        facets = [
            (f"{d} · {a}", summary[(summary["dataset"] == d) & (summary["activation"] == a)])
            for d in datasets
            for a in acts
        ]
        facets = [(t, f) for t, f in facets if len(f)]
        ncols = len(acts) if len(acts) > 1 else min(3, len(facets))
        fig = self.heatmaps(
            facets, "dead", "dead fraction", ncols=ncols, cmap="rocket_r", marks=False
        )
        fig.suptitle("Dead units at the last step", fontweight="bold")
        parts = []
        for act in acts:
            s = summary[summary["activation"] == act]
            deepest = s[s["depth"] == s["depth"].max()]
            parts.append(
                f"{act}: median {fnum(s['dead'].median())} over all its cells, "
                f"{fnum(deepest['dead'].median())} at depth {int(s['depth'].max())} "
                f"(at init {fnum(deepest['dead_init'].median())})"
            )
        worst = summary.loc[summary["dead"].idxmax()] if summary["dead"].notna().any() else None
        caption = (
            "Fraction of hidden units that output z <= 0 on every sample of the batch at the "
            "last logged step, averaged over hidden layers, median over seeds. "
            + "; ".join(parts)
            + "."
        )
        if worst is not None:
            caption += (
                f" Most dead: {worst['activation']} {worst['variant']} depth "
                f"{worst['depth']} on {worst['dataset']} ({fnum(worst['dead'])})."
            )
        if "leaky_relu" not in acts:
            caption += " No Leaky ReLU cell in these results to compare with."
        section["figures"].append(
            self.save(fig, "activations-dead-units", caption, "Dead-unit fraction heatmaps")
        )

    # 5. convergence ------------------------------------------------------------------------

    def convergence_groups(self):
        """(name, description, cells) of small studies, then the deep overview cells."""
        groups = []
        descriptions = {
            k: v.get("description", "") for k, v in self.config.get("studies", {}).items()
        }
        for study, names in self.studies.items():
            cells = self.cells[self.cells.index.isin(names)]
            if study == "overview" or not 2 <= len(cells) <= MAX_LINES:
                continue
            if (cells["steps"] <= 1).all():
                continue
            groups.append((study, descriptions.get(study, ""), cells))
        if "overview" in self.studies or not groups:
            selection = self.deep_selection()
            if selection is not None:
                dataset, chosen = selection
                for act, cells in chosen.items():
                    cells = cells[cells["variant"].isin(self.few_variants(cells["variant"], 6))]
                    shown = any(set(cells.index) <= set(g[2].index) for g in groups)
                    if len(cells) and not shown:
                        depth = int(cells["depth"].max())
                        groups.append((f"{act} on {dataset}, depth {depth}", "", cells))
        return groups[:8]

    def section_convergence(self, section):
        groups = self.convergence_groups()
        curves = self.tables["curves"]
        section["intro"].append(
            "Training loss and test accuracy (test loss for regression) over steps, median over "
            "seeds with the interquartile band, x axis symlog (linear up to step 1). One figure "
            "per small study and for the deepest networks of the overview."
        )
        for name, description, cells in groups:
            data = curves[curves["cell"].isin(cells.index)].merge(
                cells[["variant"]], left_on="cell", right_index=True
            )
            if not len(data):
                continue
            varying = [
                c
                for c in ("dataset", "activation", "variant", "depth", "width", "lr")
                if cells[c].nunique() > 1
            ]
            if "variant" not in varying:
                varying.insert(0, "variant")
            data["line"] = data[varying].astype(str).agg(" · ".join, axis=1)
            lines = self.line_labels(cells, varying)
            palette, styles = self.line_palette(cells, varying, lines)
            regression = (cells["task"] == "regression").all()
            metrics = [
                ("train_loss", "train loss", True),
                (
                    "test_loss" if regression else "test_accuracy",
                    "test loss" if regression else "test accuracy",
                    regression,
                ),
            ]
            fig, axes = self.figure(2, 1, 12.5, 4.6)
            for j, (metric, label, log_y) in enumerate(metrics):
                ax = axes[0][j]
                agg = _quantiles(data, ["line", "step"], metric)
                _lines(ax, agg, "step", "line", lines, palette, marker=None, styles=styles)
                _step_axis(ax)
                if log_y and (agg["mid"] > 0).all():
                    _log_axis(ax, agg[["lo", "mid", "hi"]])
                if not regression and j == 1:
                    chance = cells["majority_rate"].max()
                    ax.axhline(chance, color="0.4", ls=":", lw=1.2)
                    ax.text(
                        0.01,
                        chance,
                        " chance",
                        color="0.3",
                        va="bottom",
                        transform=ax.get_yaxis_transform(),
                        fontsize="small",
                    )
                ax.set_ylabel(label)
            title = name if not description else f"{name}: {description}"
            fig.suptitle(_shorten(title, 150), fontweight="bold")
            handles = [
                Line2D([], [], color=palette[line], ls=styles[line], lw=2.2) for line in lines
            ]
            longest = max(len(x) for x in lines)
            fig.legend(
                handles,
                lines,
                loc="outside lower center",
                fontsize="small",
                ncols=max(1, min(len(lines), int(110 / (longest + 6)))),
                title=" · ".join("init" if v == "variant" else v for v in varying),
                title_fontsize="small",
            )
            caption = self.convergence_caption(name, cells, varying, regression)
            section["figures"].append(
                self.save(fig, f"convergence-{name}", caption, f"Training curves for {name}")
            )
        if not section["figures"]:
            section["intro"].append("No study has training curves to compare.")
        self.target_table(section)

    def line_labels(self, cells, varying):
        ordered = cells.assign(
            _v=cells["variant"].map({v: i for i, v in enumerate(self.variant_order)}),
            _a=cells["activation"].map({a: i for i, a in enumerate(self.activation_order)}),
        ).sort_values(["_a", "_v", "depth", "width", "lr"])
        labels = ordered[varying].astype(str).agg(" · ".join, axis=1)
        return list(dict.fromkeys(labels))

    def line_palette(self, cells, varying, lines):
        """(colour, dash style) per line label: init colours, one other parameter as dashes."""
        labels = cells[varying].astype(str).agg(" · ".join, axis=1)
        keys = cells.assign(_label=labels).drop_duplicates("_label").set_index("_label")
        others = [k for k in varying if k != "variant"]
        if len(others) <= 1 and "variant" in varying:
            levels = sorted(keys[others[0]].unique()) if others else []
            if len(levels) <= len(DASHES):
                dash = dict(zip(levels, DASHES))
                colours = {line: self.palette[keys.at[line, "variant"]] for line in lines}
                styles = {line: dash[keys.at[line, others[0]]] if others else "-" for line in lines}
                return colours, styles
        colours = sns.color_palette("tab10" if len(lines) <= 10 else "husl", len(lines))
        return dict(zip(lines, colours)), dict.fromkeys(lines, "-")

    def convergence_caption(self, name, cells, varying, regression):
        key = "test_loss" if regression else "test_acc"
        labels = cells[varying].astype(str).agg(" · ".join, axis=1)
        vals = pd.Series(cells[key].to_numpy(), index=labels.to_numpy())
        vals = _finite(vals.groupby(level=0).median()).dropna().sort_values(ascending=regression)
        metric = "median final test loss" if regression else "median final test accuracy"
        shown = [f"{k} {gnum(v, 3) if regression else fnum(v)}" for k, v in vals.items()]
        text = f"{name}: {metric} — " + ("; ".join(shown) or "none finite") + "."
        steps = cells["steps"].unique()
        text += f" Trained for {', '.join(str(s) for s in sorted(steps))} steps"
        reached = cells.set_index(labels.to_numpy())["steps_to_target"].dropna()
        if len(reached):
            fastest = reached.idxmin()
            text += (
                f"; first to reach the target ({'loss' if regression else 'accuracy'} "
                f"{gnum(cells['target'].iloc[0], 3)}): {fastest} at step {int(reached[fastest])}"
            )
        never = int(cells["steps_to_target"].isna().sum())
        if never:
            text += f"; {plural(never, 'line')} never reached it"
        return text + "."

    def target_table(self, section):
        cells = self.cells
        targets = cells.groupby("dataset")[["target", "task"]].first()
        desc = []
        for dataset in self.dataset_order:
            if dataset not in targets.index:
                continue
            t = targets.loc[dataset]
            if t["task"] == "classification":
                desc.append(f"{dataset}: train accuracy >= {fnum(t['target'])}")
            else:
                desc.append(f"{dataset}: train loss <= {gnum(t['target'], 3)}")
        explanation = (
            f"The first logged step at which the seeds' median train accuracy reaches "
            f"{TARGET_FRACTION} x the best median final train accuracy of any cell on that "
            f"dataset (regression: train loss <= the best final loss / {TARGET_FRACTION}); "
            f"'never' if it does not. Targets — " + "; ".join(desc) + "."
        )
        order = self.sorted_cells(cells)
        rows = []
        for name, c in order.iterrows():
            reached = c["steps_to_target"]
            rows.append(
                [
                    _cell(name),
                    _cell(c["dataset"]),
                    _cell(c["activation"]),
                    _cell(c["variant"]),
                    _cell(str(c["depth"]), int(c["depth"])),
                    _cell(str(c["steps"]), int(c["steps"])),
                    _cell(
                        fnum(c["target"])
                        if c["task"] == "classification"
                        else gnum(c["target"], 3),
                        float(c["target"]),
                    ),
                    _cell(
                        "never" if pd.isna(reached) else str(int(reached)),
                        "Infinity" if pd.isna(reached) else int(reached),
                    ),
                ]
            )
        n_never = int(cells["steps_to_target"].isna().sum())
        section["tables"].append(
            _table(
                "steps-to-target",
                [
                    ("cell", False),
                    ("dataset", False),
                    ("activation", False),
                    ("init", False),
                    ("depth", True),
                    ("steps", True),
                    ("target", True),
                    ("steps to target", True),
                ],
                rows,
                scroll=True,
                filter=True,
                title="Steps to target",
                caption=f"{explanation} {len(cells) - n_never} of {len(cells)} cells reach their "
                f"dataset's target, {n_never} never do.",
            )
        )

    def sorted_cells(self, cells):
        key = cells.assign(
            _d=cells["dataset"].map({d: i for i, d in enumerate(self.dataset_order)}),
            _a=cells["activation"].map({a: i for i, a in enumerate(self.activation_order)}),
            _v=cells["variant"].map({v: i for i, v in enumerate(self.variant_order)}),
        )
        return key.sort_values(["_d", "_a", "_v", "depth", "width"])

    # 6. divergence -------------------------------------------------------------------------

    def section_divergence(self, section):
        runs = self.tables["runs"]
        div = runs[runs["status"] == "diverged"]
        if not len(div):
            section["intro"].append(
                f"No run produced inf or NaN: all {len(runs)} runs of {len(self.cells)} cells "
                "completed."
            )
            return
        cells = self.cells[self.cells["n_diverged"] > 0]
        steps = div.groupby("cell")["diverged_step"].agg(lambda s: ", ".join(map(str, sorted(s))))
        section["intro"].append(
            f"{plural(len(div), 'run')} of {len(runs)} ({plural(len(cells), 'cell')} of "
            f"{len(self.cells)}) stopped on a non-finite loss or gradient; the step is where "
            f"the first inf/NaN appeared (median {fnum(float(div['diverged_step'].median()), 0)}, "
            f"earliest {int(div['diverged_step'].min())})."
        )
        rows = []
        for name, c in self.sorted_cells(cells).iterrows():
            rows.append(
                [
                    _cell(name),
                    _cell(c["dataset"]),
                    _cell(c["activation"]),
                    _cell(c["variant"]),
                    _cell(str(c["depth"]), int(c["depth"])),
                    _cell(gnum(c["lr"], 3), float(c["lr"])),
                    _cell(f"{int(c['n_diverged'])}/{int(c['seeds'])}", int(c["n_diverged"])),
                    _cell(steps[name], float(c["first_div_step"])),
                ]
            )
        section["tables"].append(
            _table(
                "divergence-table",
                [
                    ("cell", False),
                    ("dataset", False),
                    ("activation", False),
                    ("init", False),
                    ("depth", True),
                    ("lr", True),
                    ("diverged seeds", True),
                    ("divergence step(s)", True),
                ],
                rows,
                scroll=len(rows) > 25,
                caption="Cells with at least one diverged run.",
            )
        )

    # 7. symmetry ---------------------------------------------------------------------------

    def symmetry_cells(self):
        cells = self.cells[self.cells["depth"] >= 2]
        if "symmetry" in self.studies:
            study = cells[cells.index.isin(self.studies["symmetry"])]
            if len(study) and study["scheme"].isin(SYMMETRIC_SCHEMES).any():
                return study
        equal = cells[cells["scheme"].isin(SYMMETRIC_SCHEMES)]
        if not len(equal):
            return equal
        setting = ["dataset", "hidden", "steps", "lr", "batch_size"]
        counts = equal.groupby(setting).size()
        rank = {d: i for i, d in enumerate(self.dataset_order)}
        best = max(
            counts.index, key=lambda k: (counts[k], len(json.loads(k[1])), -rank.get(k[0], 0))
        )
        same = (cells[setting] == pd.Series(best, index=setting)).all(axis=1)
        group = cells[same]
        acts = group.loc[group["scheme"].isin(SYMMETRIC_SCHEMES), "activation"].unique()
        group = group[group["activation"].isin(acts)]
        keep = [
            v
            for a in acts
            for v in self.few_variants(
                group.loc[group["activation"] == a, "variant"], FEW_LINES + 1
            )
        ]
        equal_variants = group.loc[group["scheme"].isin(SYMMETRIC_SCHEMES), "variant"]
        return group[group["variant"].isin(set(keep) | set(equal_variants))]

    def section_symmetry(self, section):
        cells = self.symmetry_cells()
        if not len(cells):
            section["intro"].append(
                "No cell with zero or constant init and a hidden layer: no symmetry to show."
            )
            return
        rows = self.layer_rows(cells.index, ["symmetry"])
        rows = rows[rows["layer"] < rows["depth"]]
        per_run = rows.groupby(["cell", "seed", "step"])["symmetry"].max().reset_index()
        per_run = per_run.merge(
            cells[["variant", "activation", "scheme"]], left_on="cell", right_index=True
        )
        positive = _finite(per_run["symmetry"])
        positive = positive[positive > 0]
        floor = 10 ** math.floor(math.log10(positive.min()) - 1) if len(positive) else 1e-3
        per_run["shown"] = _finite(per_run["symmetry"]).clip(lower=floor)
        acts = self.ordered(cells["activation"], self.activation_order)
        # zeros and constant both sit at the floor: dashes keep the second one visible
        dashed = {v: DASHES[1] for v in cells.loc[cells["scheme"] == "constant", "variant"]}
        fig, axes = self.figure(len(acts), 1, max(4.6 * len(acts), 7.0), 4.8, sharey=True)
        used, parts = [], []
        for j, act in enumerate(acts):
            ax = axes[0][j]
            sub = per_run[per_run["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            used += [v for v in variants if v not in used]
            agg = _quantiles(sub, ["variant", "step"], "shown")
            self.lines(ax, agg, "step", variants, marker=None, styles=dashed)
            _step_axis(ax)
            _log_axis(ax, per_run["shown"])  # shared y axis
            ax.axhline(floor, color="0.3", ls="--", lw=1)
            ax.text(
                0.98,
                floor,
                "exactly 0 (identical units)",
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize="small",
                color="0.25",
            )
            depth = int(cells.loc[cells["activation"] == act, "depth"].max())
            ax.set_title(f"{act}, depth {depth}")
            ax.set_ylabel("largest distance between units" if j == 0 else "")
        for v, sub in per_run.groupby("variant"):
            last = sub.groupby(["cell", "seed"])["step"].transform("max")
            end = sub.loc[sub["step"] == last, "symmetry"]
            start = sub.loc[sub["step"] == 0, "symmetry"]
            if (sub["symmetry"].fillna(0) == 0).all():
                parts.append(
                    f"{v}: exactly 0 at every logged step in all "
                    f"{plural(sub[['cell', 'seed']].drop_duplicates().shape[0], 'run')}"
                )
            else:
                parts.append(
                    f"{v}: {gnum(start.median())} at init → {gnum(end.median())} at the end"
                )
        self.legend(fig, self.ordered(used, self.variant_order), styles=dashed)
        dataset = join_words(self.ordered(cells["dataset"], self.dataset_order))
        caption = (
            f"Symmetry on {dataset}: the largest distance between two units' incoming weights "
            "and biases, maximum over hidden layers (0 = all units of every layer identical, so "
            "the network is no wider than one unit per layer). Median over seeds; log y, with "
            f"exact zeros drawn at the floor {gnum(floor)}. " + "; ".join(parts) + "."
        )
        source = (
            "the symmetry study"
            if "symmetry" in self.studies
            else "cells with zero or constant init, and random-init cells of the same setting"
        )
        section["intro"].append(
            f"Zero and constant inits against random inits ({source}): gradient descent cannot "
            "break the symmetry between units that start identical."
        )
        section["figures"].append(
            self.save(fig, "symmetry", caption, "Symmetry measure over training")
        )

    # 8. provenance and cost -----------------------------------------------------------------

    def section_provenance(self, section):
        runs = self.tables["runs"]
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
        current = config_hash(self.config) if self.config else "n/a"
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
            text = yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True, width=100)
        except yaml.YAMLError:
            text = json.dumps(self.config, indent=2, default=str)
        section["pre"] = {"title": "Configuration", "text": text}
        self.cost(section)

    def cost(self, section):
        cost = self.tables["cost"]
        if not len(cost) or "s" not in cost:
            section["intro"].append("No cost table (Snakemake benchmarks) in the results.")
            return
        total_s = float(cost["s"].sum())
        cpu = float(cost["cpu_time"].sum()) if "cpu_time" in cost else float("nan")
        peak = float(cost["max_rss"].max()) if "max_rss" in cost else float("nan")
        train_s = (
            float(self.tables["runs"]["train_seconds"].sum()) if len(self.tables["runs"]) else 0.0
        )
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
        fig, axes = self.figure(2, 1, 11.5, 3.8)
        s = cost["s"].clip(lower=1e-3)
        bins = np.geomspace(s.min(), max(s.max(), s.min() * 1.01), 30)
        sns.histplot(x=s, bins=bins, ax=axes[0][0], color=BASE_COLOURS[0])
        _log_axis(axes[0][0], s, axis="x")
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
            f"{seconds_text(total_s)}; slowest {slowest['cell']} at {fnum(float(slowest['s']))} s) "
            f"and of max_rss (peak {fnum(peak, 0)} MB, "
            f"median {fnum(float(cost['max_rss'].median()), 0)} MB). "
            "Jobs run as threads of one process, so max_rss is the whole process's peak memory."
        )
        section["figures"].append(self.save(fig, "cost", caption, "Histograms of job cost"))
        top = cost.nlargest(10, "s")
        rows = [
            [
                _cell(r["cell"]),
                _cell(fnum(float(r["s"])), float(r["s"])),
                _cell(fnum(float(r.get("cpu_time", np.nan))), float(r.get("cpu_time", np.nan))),
                _cell(fnum(float(r.get("max_rss", np.nan)), 0), float(r.get("max_rss", np.nan))),
            ]
            for _, r in top.iterrows()
        ]
        section["tables"].append(
            _table(
                "cost-top",
                [
                    ("cell", False),
                    ("wall s", True),
                    ("cpu_time s (process)", True),
                    ("max_rss MB (process)", True),
                ],
                rows,
                caption=f"The {len(top)} slowest training jobs.",
            )
        )

    # 9. all cells ---------------------------------------------------------------------------

    def section_cells(self, section):
        cells = self.sorted_cells(self.cells)
        membership = {}
        for study, names in self.studies.items():
            for name in names:
                membership.setdefault(name, []).append(study)
        rows = []
        for name, c in cells.iterrows():
            reached = c["steps_to_target"]
            rows.append(
                [
                    _cell(name),
                    _cell(", ".join(membership.get(name, []))),
                    _cell(c["dataset"]),
                    _cell(c["activation"]),
                    _cell(c["variant"]),
                    _cell(str(c["depth"]), int(c["depth"])),
                    _cell(str(c["width"]), int(c["width"])),
                    _cell(str(c["steps"]), int(c["steps"])),
                    _cell(gnum(c["lr"], 3), float(c["lr"])),
                    _cell(str(c["batch_size"]), int(c["batch_size"])),
                    _cell(fnum(c["test_acc"]), float(c["test_acc"])),
                    _cell(fnum(c["train_acc"]), float(c["train_acc"])),
                    _cell(gnum(c["test_loss"], 3), float(c["test_loss"])),
                    _cell(f"{int(c['n_diverged'])}/{int(c['seeds'])}", int(c["n_diverged"])),
                    _cell("yes" if c["stalled"] else "no"),
                    _cell(
                        "never" if pd.isna(reached) else str(int(reached)),
                        "Infinity" if pd.isna(reached) else int(reached),
                    ),
                    _cell(fnum(c["train_seconds"]), float(c["train_seconds"])),
                ]
            )
        section["intro"].append(
            f"All {len(cells)} cells, one row each (medians over seeds). Click a column header "
            "to sort; type in the box to keep only rows containing every word typed."
        )
        section["tables"].append(
            _table(
                "cells-table",
                [
                    ("cell", False),
                    ("studies", False),
                    ("dataset", False),
                    ("activation", False),
                    ("init", False),
                    ("depth", True),
                    ("width", True),
                    ("steps", True),
                    ("lr", True),
                    ("batch", True),
                    ("test acc", True),
                    ("train acc", True),
                    ("test loss", True),
                    ("diverged", True),
                    ("stalled", False),
                    ("steps to target", True),
                    ("train s", True),
                ],
                rows,
                scroll=True,
                caption="",
                filter=True,
            )
        )


def _heatmap(ax, grid, cmap, norm, fmt, fontsize=9.5):
    """Annotated heatmap of a (rows x columns) frame; missing values show the axes colour.

    Drawn with ``pcolormesh`` rather than ``sns.heatmap``, which draws the whole figure once
    per call (to check tick-label overlap): quadratic in the number of facets.
    """
    values = grid.to_numpy(dtype=float)
    cmap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    ax.pcolormesh(np.ma.masked_invalid(values), cmap=cmap, norm=norm, edgecolors="white",
                  linewidth=0.6)  # fmt: skip
    nrows, ncols = values.shape
    ax.set_xlim(0, ncols)
    ax.set_ylim(nrows, 0)
    ax.set_xticks(np.arange(ncols) + 0.5, [str(c) for c in grid.columns])
    ax.set_yticks(np.arange(nrows) + 0.5, [str(r) for r in grid.index])
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_facecolor("0.88")
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i, j in zip(*np.nonzero(np.isfinite(values))):
        v = values[i, j]
        dark = sns.utils.relative_luminance(cmap(norm(v))) < 0.408
        text = ax.text(j + 0.5, i + 0.5, format(v, fmt), ha="center", va="center",
                       fontsize=fontsize, color="white" if dark else "0.15")  # fmt: skip
        text.set_in_layout(False)


def _lines(ax, agg, x, hue, levels, palette, band=True, marker="o", styles=None):
    """One median line (``mid``) per hue level, with its ``lo``-``hi`` band; drawn or not."""
    drawn = False
    groups = dict(tuple(agg.groupby(hue, sort=False)))
    for level in levels:
        g = groups.get(level)
        if g is None:
            continue
        g = g.sort_values(x)
        ok = g["mid"].notna()
        if not ok.any():
            continue
        colour = palette[level]
        ax.plot(
            g.loc[ok, x],
            g.loc[ok, "mid"],
            color=colour,
            lw=1.6,
            marker=marker,
            ms=3.5,
            mew=0,
            ls=(styles or {}).get(level, "-"),
        )
        if band and (g["hi"] > g["lo"]).any():
            ax.fill_between(g[x], g["lo"], g["hi"], color=colour, alpha=0.18, linewidth=0)
        drawn = True
    return drawn


def _log_axis(ax, values, axis="y"):
    """Log scale with decade ticks only when the data span over a decade.

    Minor ticks on a log axis spanning many decades cost most of a figure's drawing time;
    below a decade and a half the default minor ticks are kept so that there are labels.
    """
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) and np.log10(v.max() / v.min()) >= 1.5:
        target = ax.yaxis if axis == "y" else ax.xaxis
        target.set_major_locator(LogLocator(numticks=8))
        target.set_minor_locator(NullLocator())


def _step_axis(ax):
    """Steps on a symlog x axis (linear up to 1, so step 0 shows), labelled 0, 1, 10, 100."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("step (symlog)")


def _ratio_text(ratio, n=6):
    """'a 0.9x, b 1e-05x' for a few ratios; else the flattest and the two extremes."""
    ratio = ratio.sort_values(ascending=False)
    if len(ratio) <= n:
        return ", ".join(f"{k} {gnum(v)}x" for k, v in ratio.items())
    flat = np.abs(np.log10(ratio)).idxmin()
    text = f"closest to 1 {flat} ({gnum(ratio[flat])}x)"
    low, high = ratio.idxmin(), ratio.idxmax()
    if low != flat and ratio[low] < 1:
        text += f", most vanishing {low} ({gnum(ratio[low])}x)"
    if high != flat and ratio[high] > 1:
        text += f", most exploding {high} ({gnum(ratio[high])}x)"
    return text


def _shorten(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
