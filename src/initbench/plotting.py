"""One figure style for the report and the findings: figures, saving, axes, heatmaps, lines.

Figures are ``matplotlib.figure.Figure`` objects on the Agg canvas, never pyplot: the
pipeline runs its jobs as threads of one process, and pyplot's global state is not
thread-safe.
"""

import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullLocator,
)
from PIL import Image

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

    Written by Pillow, as RGB where the figure is opaque (it always is, on its white
    background): half the time of ``imsave``'s RGBA, and smaller files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _plain_log_labels(fig)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    if (pixels[..., 3] == 255).all():
        pixels = pixels[..., :3]
    Image.fromarray(pixels).save(path)
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
        dark = sns.utils.relative_luminance(cmap(norm(v))) < 0.408
        x = x_mid[j] if categorical else grid.columns[j]
        y = y_mid[i] if categorical else grid.index[i]
        text = ax.text(x, y, format(v, fmt), ha="center", va="center", fontsize=fontsize,
                       color="white" if dark else "0.15")  # fmt: skip
        text.set_in_layout(False)
    return mesh


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
