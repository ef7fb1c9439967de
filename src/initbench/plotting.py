"""One figure style for the report and the findings: figures, saving, axes, heatmaps, legends.

Figures are ``matplotlib.figure.Figure`` objects on the Agg canvas, never pyplot: the
pipeline runs its jobs as threads of one process, and pyplot's global state is not
thread-safe.
"""

import math
import os
import re
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.mathtext import MathTextParser
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import (
    FuncFormatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullLocator,
)
from PIL import Image

# A fork must not draw with its parent's fonts: an FT2Font reads its file through a file
# descriptor the fork shares (one file offset for both processes), so glyphs that both
# load at once come back corrupt ("FT_Load_Glyph ... too many hints", seen in a fork of
# processes.side_by_side). Matplotlib empties its own font cache in a fork; its mathtext
# parses (a "$...$" marker, each holding its fonts) stay cached, so a fork empties them.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=MathTextParser._parse_cached.cache_clear)

DPI = 100
# seaborn's "whitegrid" style with its "paper" context at font_scale 1.25, written out:
# the report's sections draw with matplotlib alone, and importing seaborn (SciPy's stats
# with it) cost their process 0.6 s. tests/test_report.py checks them against seaborn's.
# Its image.cmap ("rocket") is left out: that colormap exists only once seaborn is imported.
SEABORN_WHITEGRID_PAPER = {
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out",
    "ytick.direction": "out", "xtick.color": ".15", "ytick.color": ".15",
    "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                        "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "axes.grid": True, "axes.facecolor": "white",
    "axes.edgecolor": ".8", "grid.color": ".8", "axes.spines.left": True,
    "axes.spines.bottom": True, "axes.spines.right": True, "axes.spines.top": True,
    "xtick.bottom": False, "ytick.left": False, "axes.linewidth": 1.0,
    "grid.linewidth": 0.8, "lines.linewidth": 1.2,
    "lines.markersize": 4.8, "patch.linewidth": 0.8,
    "xtick.major.width": 1.0, "ytick.major.width": 1.0,
    "xtick.minor.width": 0.8, "ytick.minor.width": 0.8,
    "xtick.major.size": 4.8, "ytick.major.size": 4.8,
    "xtick.minor.size": 3.2, "ytick.minor.size": 3.2,
    "font.size": 12.0, "axes.labelsize": 12.0, "axes.titlesize": 12.0,
    "xtick.labelsize": 11.0, "ytick.labelsize": 11.0,
    "legend.fontsize": 11.0, "legend.title_fontsize": 12.0,
}  # fmt: skip
STYLE = {
    **SEABORN_WHITEGRID_PAPER,
    # Titles at a fixed height: matplotlib's automatic placement (above any top tick
    # labels; this style draws none) measured every axes' tick labels again at each draw.
    # The default tier's sections 7.4 -> 6.9 s, every figure pixel-identical.
    "axes.titley": 1.0,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.family": ["DejaVu Sans"],
}
# seaborn's bootstrap intervals and strip-plot jitter are random draws: seeded, a figure is
# the same in every run. CI95 for a call that aggregates several runs per point (lines of
# medians draw no interval and need none); figure_seed for the jitter, which uses NumPy's
# global RNG.
SEED = 0
CI95 = {"errorbar": ("ci", 95), "seed": SEED}  # seaborn's 95% bootstrap interval, seeded
_TAB20 = mpl.colormaps["tab20"].colors
BASE_COLOURS = _TAB20[0::2] + _TAB20[1::2]  # ten strong colours first, then their light twins


@contextmanager
def figure_seed(seed=SEED):
    """NumPy's global RNG seeded for one figure, and restored after: seaborn's stripplot
    draws its jitter from it, so that a figure is the same in every run."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def figure(ncols, nrows, width, height, **subplots):
    """A constrained-layout figure on the Agg canvas and its (nrows, ncols) axes array."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplots)


class UnicodeLogFormatter(LogFormatterSciNotation):
    """Log-axis labels as 10⁻³ in Unicode superscripts rather than mathtext: parsing a
    mathtext label costs ~10 ms the first time, and log axes have dozens of them."""

    _SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        if not label.startswith(r"$\mathdefault{"):
            return label
        label = label[len(r"$\mathdefault{") : -len("}$")]
        return re.sub(r"\^\{([-0-9]+)\}", lambda m: m[1].translate(self._SUPERSCRIPT),
                      label).replace(r"\times", "×")  # fmt: skip


def _plain_log_labels(fig):
    """Every log axis of ``fig`` (colour bars too) labelled in Unicode: its formatter,
    state and all, becomes a UnicodeLogFormatter (which only changes the label text)."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for formatter in (axis.get_major_formatter(), axis.get_minor_formatter()):
                if type(formatter) is LogFormatterSciNotation:
                    formatter.__class__ = UnicodeLogFormatter


def save(fig, path):
    """Render once and write the PNG (``savefig`` would render twice: a layout dry run).

    Written by Pillow, where the figure is opaque (it always is, on its white background)
    as a 256-colour palette image: a third of the bytes of RGB, as the report embeds every
    figure, and no slower to write. A plot's few flat colours and their anti-aliasing fit
    in 256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _plain_log_labels(fig)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    image = Image.fromarray(pixels)
    if (pixels[..., 3] == 255).all():
        image = Image.fromarray(pixels[..., :3]).quantize(256, method=Image.Quantize.FASTOCTREE)
    image.save(path)
    return path


def log_axis(ax, values, axis="y"):
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


def step_axis(ax):
    """Steps on a symlog x axis (linear up to 1, so step 0 shows), labelled 0, 1, 10, 100.

    Logged steps are geometric, so early and late steps get equal room."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("step (symlog)")


def grid_axis(ax, values, axis="x"):
    """A log2 axis ticked at the grid's own values (widths, depths, blocks), plainly
    labelled: 64, 128, 256 rather than 2^6 or 1.25 x 2^5."""
    values = sorted({int(v) for v in values})
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_locator(NullLocator())
    (ax.set_xticks if axis == "x" else ax.set_yticks)(values, [str(v) for v in values])


def integer_axis(ax, axis="x"):
    """Layers and depths are whole numbers: no 1.5 ticks."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def heatmap(ax, grid, cmap, norm, fmt, fontsize=9.5, x_edges=None, y_edges=None):
    """Annotated heatmap of a (rows x columns) frame; missing values show the axes colour.

    Rows and columns are categories unless ``x_edges``/``y_edges`` place them on real
    coordinates (cell edges, len + 1 each). Drawn with ``pcolormesh`` rather than
    ``sns.heatmap``, which draws the whole figure once per call (to check tick-label
    overlap): quadratic in the number of facets.
    """
    values = grid.to_numpy(dtype=float)
    cmap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    nrows, ncols = values.shape
    categorical = x_edges is None
    if categorical:
        x_edges, y_edges = np.arange(ncols + 1), np.arange(nrows + 1)
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(values), cmap=cmap, norm=norm,
                         edgecolors="white", linewidth=0.6)  # fmt: skip
    x_mid = (np.asarray(x_edges[1:]) + np.asarray(x_edges[:-1])) / 2
    y_mid = (np.asarray(y_edges[1:]) + np.asarray(y_edges[:-1])) / 2
    if categorical:
        ax.set_xlim(0, ncols)
        ax.set_ylim(nrows, 0)
        ax.set_xticks(x_mid, [str(c) for c in grid.columns])
        ax.set_yticks(y_mid, [str(r) for r in grid.index])
        ax.tick_params(length=0)
    ax.grid(False)
    ax.set_facecolor("0.88")
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i, j in zip(*np.nonzero(np.isfinite(values))):
        v = values[i, j]
        dark = relative_luminance(cmap(norm(v))) < 0.408
        x = x_mid[j] if categorical else grid.columns[j]
        y = y_mid[i] if categorical else grid.index[i]
        text = ax.text(x, y, format(v, fmt), ha="center", va="center", fontsize=fontsize,
                       color="white" if dark else "0.15")  # fmt: skip
        text.set_in_layout(False)
    return mesh


def relative_luminance(rgba):
    """W3C's relative luminance of an RGB(A) colour: below 0.408, white text reads better
    on it than dark text."""
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def cell_edges(values, log=False):
    """Cell edges half-way between sorted grid values (geometrically for a log axis)."""
    v = np.log(values) if log else np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2
    first = v[0] - (mid[0] - v[0] if len(v) > 1 else 0.5)
    last = v[-1] + (v[-1] - mid[-1] if len(v) > 1 else 0.5)
    out = np.concatenate([[first], mid, [last]])
    return np.exp(out) if log else out


def median_lines(ax, agg, x, hue, levels, palette, band=True, marker="o", styles=None):
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
        ax.plot(g.loc[ok, x], g.loc[ok, "mid"], color=colour, lw=1.6, marker=marker, ms=3.5,
                mew=0, ls=(styles or {}).get(level, "-"))  # fmt: skip
        if band and (g["hi"] > g["lo"]).any():
            ax.fill_between(g[x], g["lo"], g["hi"], color=colour, alpha=0.18, linewidth=0)
        drawn = True
    return drawn


def legend_outside(fig, axes):
    """One legend right of the axes, so no plot is covered by it."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", frameon=False)


def line_legend(fig, variants, palette, title="init", extra=(), ncols=None, styles=None):
    """A legend below the axes: one line per variant in its ``palette`` colour (``styles``:
    its line style), then the ``extra`` (handle, label) pairs."""
    handles = [
        Line2D(
            [],
            [],
            color=palette[v],
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


def heatmap_grid(
    facets,
    value,
    label,
    variants,
    regression=False,
    ncols=3,
    cmap=None,
    vmin=None,
    vmax=None,
    fmt=None,
    marks=True,
):
    """A grid of init x depth heatmaps, one per (title, cells) facet, one colour bar.

    Each facet's cells have a variant, depth, ``value``, and (with ``marks``) stalled,
    n_diverged and seeds columns; ``variants`` are the rows in order. Regression values get
    a log colour scale. Stalled cells are hatched, diverged ones crossed."""
    all_cells = pd.concat([f for _, f in facets])
    depths = sorted(all_cells["depth"].unique())
    nrows = math.ceil(len(facets) / ncols)
    longest = max(len(v) for v in variants)
    cell_w, cell_h = 0.72, 0.34
    facet_w = max(cell_w * len(depths), 2.2) + 0.3
    width = max(ncols * facet_w + 0.095 * longest + 1.8, 7.5)
    height = nrows * (cell_h * len(variants) + 0.85) + (1.1 if marks else 0.6)
    fig, axes = figure(ncols, nrows, width, height, sharey=True)
    if regression:
        values = all_cells[value].replace([np.inf, -np.inf], np.nan)
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
        heatmap(ax, shown, cmap, norm, fmt)
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
                dark = not pd.isna(v) and relative_luminance(colours(norm(v))) < 0.408
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
