"""The report's shared state: tables, per-cell summary, orders, colours, figure helpers.

Every section module gets one ``Report`` and reads what it needs from it; the helpers here
(figure, save, legend, heatmaps, line plots, cell selections) are the ones that several
sections share.
"""

import json
import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, NullLocator

from .. import plotting
from ..outcomes import finite, steps_to_target, summarize_cells
from ..plotting import BASE_COLOURS
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
SYMMETRIC_SCHEMES = ("zeros", "constant")  # inits whose hidden units start identical


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


class Report:
    """Holds the tables and derived per-cell summary; the section modules draw from it."""

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
            self.cells["target"], self.cells["steps_to_target"] = steps_to_target(
                self.cells, tables["curves"]
            )
        else:
            self.variant_order, self.palette = [], {}
        studies = tables["studies"]
        self.studies = (
            {s: list(g["cell"]) for s, g in studies.groupby("study", sort=False)}
            if len(studies)
            else {}
        )

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
        """Write the figure as ``<name>.png`` and return the template's figure entry."""
        file = f"{slug(name)}.png"
        plotting.save(fig, self.figure_dir / file)
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
            plotting.integer_axis(ax)
        return plotting.median_lines(
            ax, agg, x, "variant", variants, self.palette, band=band, marker=marker, styles=styles
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
            values = finite(all_cells[value])
            positive = values[values > 0]
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
            plotting.heatmap(ax, shown, cmap, norm, fmt)
            ax.set_title(title)
            ax.set_xlabel("depth" if i + ncols >= len(facets) else "")
            ax.set_ylabel("init" if i % ncols == 0 else "")
            if not marks:
                continue
            pos_v = {v: k for k, v in enumerate(variants)}
            pos_d = {d: k for k, d in enumerate(depths)}
            colours = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
            for row in sub.to_dict("records"):  # one per cell of one facet
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

    def sorted_cells(self, cells):
        key = cells.assign(
            _d=cells["dataset"].map({d: i for i, d in enumerate(self.dataset_order)}),
            _a=cells["activation"].map({a: i for i, a in enumerate(self.activation_order)}),
            _v=cells["variant"].map({v: i for i, v in enumerate(self.variant_order)}),
        )
        return key.sort_values(["_d", "_a", "_v", "depth", "width"])
