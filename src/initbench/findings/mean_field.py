"""7. Mean-field theory: the published claim, its thresholds and its check."""

import numpy as np
import seaborn as sns
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..outcomes import STALL_MARGIN, param, stalled_cells  # fmt: skip
from ..plotting import cell_edges, legend_outside
from ..text import gnum
from ..theory import chi1, depth_scale
from .base import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

SKIP_LAYERS = 3  # mean field: layers skipped while q^l settles towards q*
CHI1_TOL = 0.15  # measured gradient ratio within this relative distance of chi1
XI_FACTOR = 6  # trainable depth ~ 6 xi_c
AGREEMENT = 0.8  # share of cells where "trained" agrees with depth <= 6 xi_c


def mean_field_cells(df):
    return df.assign(sigma_w2=param(df, "sigma_w2"), sigma_b2=param(df, "sigma_b2", 0.0))


def gradient_ratios(layers):
    """log(||dL/dz_l||^2 / ||dL/dz_{l+1}||^2) at init for the middle hidden layers.

    Skips the first SKIP_LAYERS layers (q^l still settling) and ratios that involve the
    output layer (a handful of outputs: its gradient norm is noisy).
    """
    init = layers[layers["step"].eq(0)].sort_values(["cell", "seed", "layer"])
    sq = np.log(init["grad_z_norm"] ** 2)
    above = sq.groupby([init["cell"], init["seed"]]).shift(-1)
    keep = (init["layer"] > SKIP_LAYERS) & (init["layer"] + 1 < init["depth"])
    ratios = mean_field_cells(init).assign(log_ratio=sq - above)[keep]
    return ratios[np.isfinite(ratios["log_ratio"])]


@published_claim(
    "chi1",
    "Mean field: gradients shrink or grow by chi1 per layer",
    "At init, the per-layer ratio of back-propagated squared gradient norms ||dL/dz_l||^2 / "
    "||dL/dz_{l+1}||^2 equals chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]: below 1 gradients vanish, "
    "above 1 they explode. For ReLU chi1 = sigma_w^2 / 2.",
    "Poole et al. 2016; Schoenholz et al. 2017, 'Deep information propagation'.",
    ["mean_field", "mean_field_relu"],
    partial=True,
)
def check_chi1(claim, results):
    ratios = gradient_ratios(results.rows("layers", "mean_field", "mean_field_relu"))
    if ratios.empty:
        raise NotTestable(
            f"no mean-field cell is deep enough: the ratio needs depth >= "
            f"{SKIP_LAYERS + 3} (first {SKIP_LAYERS} layers and the output skipped)"
        )
    groups = ratios.groupby(["activation", "sigma_b2", "sigma_w2"])["log_ratio"]
    table = groups.agg(["mean", "size"]).reset_index()
    table["measured"] = np.exp(table["mean"])
    table["chi1"] = [
        chi1(a, w, b)
        for a, w, b in table[["activation", "sigma_w2", "sigma_b2"]].itertuples(index=False)
    ]
    table["error"] = table["measured"] / table["chi1"] - 1
    agrees = bool((table["error"].abs() <= CHI1_TOL).all())
    missing = [s for s in claim.studies if not results.has(s)]
    if not agrees:
        verdict = NOT_REPRODUCED
    elif missing:
        verdict = INCONCLUSIVE
    else:
        verdict = REPRODUCED
    measured = [
        (
            f"{r.activation}, sigma_b2 {r.sigma_b2:g}, sigma_w2 {r.sigma_w2:g}: measured ratio vs "
            f"chi1",
            f"{gnum(r.measured, 3)} vs {gnum(r.chi1, 3)} ({r.error:+.1%}, {r.size} layer ratios)",
        )
        for r in table.itertuples()
    ]
    rule = (
        f"Measured ratio: geometric mean over seeds, depths and layers l = {SKIP_LAYERS + 1} .. "
        f"depth - 2 (the first {SKIP_LAYERS}, while q settles, and the output layer skipped) of "
        f"||dL/dz_l||^2 / ||dL/dz_(l+1)||^2 at init. Reproduced if it is within "
        f"{CHI1_TOL:.0%} of theory.chi1 for every (activation, sigma_b2, sigma_w2); not "
        f"reproduced if any is further."
        + (f" Inconclusive otherwise, because {results.not_run(missing)}." if missing else "")
    )

    def plot(fig, axes):
        ax = axes[0]
        palette = dict(zip(table["activation"].unique(), sns.color_palette()))
        for (act, sb2), g in table.groupby(["activation", "sigma_b2"]):
            grid = np.linspace(g["sigma_w2"].min() * 0.9, g["sigma_w2"].max() * 1.05, 40)
            ax.plot(
                grid,
                [chi1(act, w, sb2) for w in grid],
                color=palette[act],
                label=f"{act}, sigma_b2 {sb2:g}: chi1",
            )
            ax.scatter(
                g["sigma_w2"],
                g["measured"],
                color=palette[act],
                edgecolor="black",
                zorder=3,
                label=f"{act}, sigma_b2 {sb2:g}: measured",
            )
        ax.axhline(1, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("sigma_w^2")
        ax.set_ylabel("||dL/dz_l||^2 / ||dL/dz_(l+1)||^2 at init")
        legend_outside(fig, axes)

    figure = results.draw(claim, plot, size=(7.2, 4.2))
    caption = (
        f"Per-layer ratio of squared back-propagated gradient norms at init (points: geometric "
        f"mean over middle layers and seeds) against chi1 from theory (lines), over the sigma_w^2 "
        f"sweep; dotted: 1, the edge of chaos. Largest relative deviation "
        f"{table['error'].abs().max():.1%}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


@published_claim(
    "depth_scale",
    "Mean field: trainable depth is about 6 xi_c",
    "Networks train only up to a depth of about 6 xi_c, where xi_c = -1/ln(chi1) is the depth "
    "scale of gradient propagation; at the edge of chaos (chi1 = 1) any depth trains.",
    "Schoenholz et al. 2017, 'Deep information propagation' (figure 5).",
    ["mean_field"],
)
def check_depth_scale(claim, results):
    runs = mean_field_cells(results.rows("runs", "mean_field"))
    cells = runs.groupby("cell")[["activation", "sigma_w2", "sigma_b2", "depth"]].first()
    cells = cells.assign(
        trained=~stalled_cells(runs), accuracy=runs.groupby("cell")["final_test_accuracy"].median()
    )
    setups = list(cells[["activation", "sigma_w2", "sigma_b2"]].itertuples(index=False, name=None))
    limits = {setup: XI_FACTOR * depth_scale(*setup) for setup in set(setups)}
    cells["limit"] = [limits[s] for s in setups]
    cells["predicted"] = cells["depth"] <= cells["limit"]
    agree = (cells["predicted"] == cells["trained"]).mean()
    verdict = REPRODUCED if agree >= AGREEMENT else NOT_REPRODUCED
    measured = [
        (
            "Cells where 'trained' agrees with depth <= 6 xi_c",
            f"{int(round(agree * len(cells)))} of {len(cells)} ({agree:.0%})",
        ),
        (
            "Trained cells deeper than 6 xi_c",
            str(int((cells["trained"] & ~cells["predicted"]).sum())),
        ),
        ("Stalled cells within 6 xi_c", str(int((~cells["trained"] & cells["predicted"]).sum()))),
    ] + [
        (
            f"{a}, sigma_b2 {b:g}, sigma_w2 {w:g}: 6 xi_c; trained depths",
            f"{gnum(g['limit'].iloc[0], 3)}; "
            + (", ".join(map(str, sorted(g.loc[g["trained"], "depth"]))) or "none"),
        )
        for (a, b, w), g in cells.groupby(["activation", "sigma_b2", "sigma_w2"])
    ]
    rule = (
        f"A cell trained unless it stalled in at least half its seeds (diverged, or final train "
        f"accuracy <= majority rate + {STALL_MARGIN}). Reproduced if 'trained' agrees with "
        f"depth <= {XI_FACTOR} xi_c in at least {AGREEMENT:.0%} of the cells, xi_c = "
        f"theory.depth_scale = 1/|ln chi1| (on the chaotic side this is the gradient-growth "
        f"scale, not Schoenholz's correlation depth scale); otherwise not reproduced."
    )
    groups = list(cells.groupby(["activation", "sigma_b2"]))

    def plot(fig, axes):
        for ax, ((act, sb2), g) in zip(axes, groups):
            mesh = draw_heatmap(ax, g)
            ax.set_title(f"{act}, sigma_b2 {sb2:g}: median test accuracy")
        fig.colorbar(mesh, ax=list(axes), label="median final test accuracy")

    figure = results.draw(claim, plot, ncols=len(groups), size=(6.8 * len(groups) + 1.2, 4.4))
    caption = (
        f"Median final test accuracy over depth x sigma_w^2 with the curve depth = {XI_FACTOR} "
        f"xi_c (white); red boxes mark cells whose outcome (trained or stalled) disagrees with "
        f"the curve: {len(cells) - int(round(agree * len(cells)))} of {len(cells)}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)


def draw_heatmap(ax, cells):
    """Accuracy on the real (sigma_w2, depth) grid, with the 6 xi_c curve drawn over it and
    red boxes round the cells whose outcome disagrees with the curve."""
    grid = cells.pivot_table(index="depth", columns="sigma_w2", values="accuracy")
    sw2, depths = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    x_edges, y_edges = cell_edges(sw2), cell_edges(depths, log=True)
    mesh = ax.pcolormesh(x_edges, y_edges, grid.to_numpy(), cmap="viridis", vmin=0, vmax=1)
    for (depth, w), value in grid.stack().items():
        ax.text(
            w,
            depth,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value < 0.5 else "black",
        )
    wrong = cells[cells["predicted"] != cells["trained"]]
    for w, depth in zip(wrong["sigma_w2"], wrong["depth"]):
        i, j = np.searchsorted(sw2, w), np.searchsorted(depths, depth)
        ax.add_patch(
            Rectangle(
                (x_edges[i], y_edges[j]),
                x_edges[i + 1] - x_edges[i],
                y_edges[j + 1] - y_edges[j],
                fill=False,
                edgecolor="red",
                lw=2,
            )
        )
    act, sb2 = cells["activation"].iloc[0], cells["sigma_b2"].iloc[0]
    fine = np.linspace(x_edges[0], x_edges[-1], 60)
    curve = [XI_FACTOR * depth_scale(act, w, sb2) for w in fine]
    ax.plot(
        fine,
        curve,
        color="white",
        lw=2,
        path_effects=[patheffects.withStroke(linewidth=4, foreground="black")],
    )
    ax.grid(False)
    ax.set_yscale("log")
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(depths, [f"{d:g}" for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("depth (weight layers)")
    handles = [
        Line2D(
            [],
            [],
            color="white",
            lw=2,
            label=f"depth = {XI_FACTOR} xi_c",
            path_effects=[patheffects.withStroke(linewidth=4, foreground="black")],
        ),
        Patch(fill=False, edgecolor="red", lw=2, label="outcome disagrees with the curve"),
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False
    )
    return mesh
