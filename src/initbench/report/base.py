"""The report's shared state: tables, per-cell summary, orders, colours, figure helpers.

Every section module gets one ``Report`` and reads what it needs from it; the helpers here
(figure, save, legend, heatmaps, line plots, cell selections) are the ones that several
sections share.
"""

import json
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd

from .. import plotting
from ..outcomes import StudyTables, steps_to_target, summarize_cells
from ..plotting import BASE_COLOURS
from ..tables import decoded
from ..text import slug
from . import html

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
        parsed = dict(zip(sub["init_params"], decoded(sub["init_params"])))
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


class Report(StudyTables):
    """The tables (see StudyTables) and their per-cell summary; the sections draw from it."""

    def __init__(self, tables, config, figure_dir, log):
        super().__init__(tables, config)
        self.figure_dir = Path(figure_dir)
        self.log = log
        runs = self.tables["runs"]
        self.cells = summarize_cells(runs) if len(runs) else pd.DataFrame()
        self.dataset_order = self._order("dataset", list(self.config.get("datasets", {})))
        acts = []
        for spec in self.config.get("studies", {}).values():
            acts += [a for a in spec.get("activations", []) if a not in acts]
        self.activation_order = self._order("activation", acts)
        init_order = {name: i for i, name in enumerate(self.config.get("inits", {}))}
        for name in self.cells.get("init", pd.Series(dtype=object)).unique():
            init_order.setdefault(name, len(init_order))
        if len(self.cells):
            self.cells["variant"], self.variant_order = variant_labels(self.cells, init_order)
            self.palette = build_palette(self.variant_order, self.cells)
            self.cells["target"], self.cells["steps_to_target"] = steps_to_target(
                self.cells, self.tables["curves"]
            )
        else:
            self.variant_order, self.palette = [], {}

    def _order(self, column, preferred):
        if not len(self.cells):
            return list(preferred)
        present = list(self.cells[column].unique())
        return [x for x in preferred if x in present] + sorted(
            x for x in present if x not in preferred
        )

    def figure(self, ncols, nrows, width, height, **kw):
        return plotting.figure(ncols, nrows, width, height, **kw)

    def save(self, fig, name, caption, alt):
        """Write the figure as ``<name>.png`` and return the template's figure entry, the
        image embedded in it (``src``)."""
        file = f"{slug(name)}.png"
        path = plotting.save(fig, self.figure_dir / file)
        return {"file": file, "src": html.data_uri(path), "caption": caption, "alt": alt}

    def legend(self, fig, variants, title="init", extra=(), ncols=None, styles=None):
        """One legend entry per variant in its colour (see plotting.line_legend)."""
        plotting.line_legend(fig, variants, self.palette, title, extra, ncols, styles)

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

    def activation_panels(self, rows, acts, used):
        """Per activation: (panel row, activation, its rows, its variants, its depth). The
        variants are appended to ``used``, for one legend under all panels."""
        for i, act in enumerate(acts):
            sub = rows[rows["activation"] == act]
            variants = self.ordered(sub["variant"], self.variant_order)
            used += [v for v in variants if v not in used]
            yield i, act, sub, variants, int(sub["depth"].max()) if "depth" in sub else None

    def hidden_layer_rows(self, cells, columns):
        """Layer rows of ``cells`` without the output layer."""
        rows = self.layer_rows(cells.index, columns)
        return rows[rows["layer"] < rows["depth"]]

    def cell_id_columns(self, name, c):
        """The first table columns naming a cell: id, dataset, activation, init, depth."""
        return [html.cell(name), html.cell(c["dataset"]), html.cell(c["activation"]),
                html.cell(c["variant"]), html.cell(str(c["depth"]), int(c["depth"]))]  # fmt: skip

    def layer_rows(self, cell_names, columns):
        """``columns`` of the layers table for ``cell_names``, with each row's cell, seed,
        step and layer, and its cell's init label, activation, depth and dataset."""
        wanted = ["cell", "seed", "step", "layer", *columns]
        wanted += [c for c in ("variant", "activation", "depth", "dataset") if c not in wanted]
        return self.cell_rows("layers", cell_names, wanted, self.cells)

    def lines(self, ax, agg, x, variants, band=True, marker="o", styles=None):
        """Median lines (column ``mid``) per variant with an IQR band (``lo``/``hi``)."""
        if x == "layer":
            plotting.integer_axis(ax)
        return plotting.median_lines(
            ax, agg, x, "variant", variants, self.palette, band=band, marker=marker, styles=styles
        )

    def heatmaps(self, facets, value, label, regression=False, ncols=3, cmap=None, vmin=None,
                 vmax=None, fmt=None, marks=True):  # fmt: skip
        """A grid of init x depth heatmaps, one per (title, cells) facet, one colour bar
        (see plotting.heatmap_grid), the inits in the report's order."""
        all_cells = pd.concat([f for _, f in facets])
        variants = self.ordered(all_cells["variant"], self.variant_order)
        return plotting.heatmap_grid(facets, value, label, variants, regression=regression,
                                     ncols=ncols, cmap=cmap, vmin=vmin, vmax=vmax, fmt=fmt,
                                     marks=marks)  # fmt: skip

    def sorted_cells(self, cells):
        key = cells.assign(
            _d=cells["dataset"].map({d: i for i, d in enumerate(self.dataset_order)}),
            _a=cells["activation"].map({a: i for i, a in enumerate(self.activation_order)}),
            _v=cells["variant"].map({v: i for i, v in enumerate(self.variant_order)}),
        )
        return key.sort_values(["_d", "_a", "_v", "depth", "width"])
