"""5. He et al. 2015: the published claim, its thresholds and its check."""

import numpy as np
import seaborn as sns

from ..outcomes import (
    STALL_MARGIN,
    made_no_progress,
    median_curve,  # fmt: skip
    stalled_cells,
)
from ..plotting import legend_outside, step_axis
from ..text import gnum
from .base import NOT_REPRODUCED, REPRODUCED, NotTestable, published_claim

HE_DEPTH = 30  # He et al.'s claim is about 30-layer nets


@published_claim(
    "he_xavier",
    "He et al.: a 30-layer ReLU net trains with He init and stalls with Xavier",
    f"A {HE_DEPTH}-layer ReLU network converges with He init (Var = 2/fan_in), while with "
    f"Xavier init it completely stalls, its gradients diminishing.",
    "He, Zhang, Ren & Sun 2015, 'Delving deep into rectifiers' (figure 3).",
    ["he_xavier"],
)
def check_he_xavier(claim, results):
    runs = results.rows("runs", "he_xavier")
    runs = runs[runs["activation"].eq("relu")]
    family = np.select(
        [runs["scheme"].str.startswith("he_"), runs["scheme"].str.startswith("xavier_")],
        ["He", "Xavier"],
        "",
    )
    runs = runs.assign(family=family)
    runs = runs[runs["family"] != ""]
    deep = runs[runs["depth"] >= HE_DEPTH]
    if deep["family"].nunique() < 2:
        raise NotTestable(
            f"the he_xavier study has no ReLU net with He and Xavier init at depth "
            f">= {HE_DEPTH} (deepest: {runs['depth'].max()} layers)"
        )
    cells = runs.groupby("cell")[["family", "init", "depth", "dataset", "majority_rate"]].first()
    cells = cells.assign(
        stalled=stalled_cells(runs),
        accuracy=runs.groupby("cell")["final_train_accuracy"].median(),
        n_stalled=made_no_progress(runs).groupby(runs["cell"]).sum(),
        seeds=runs.groupby("cell").size(),
    )
    deep_cells = cells[cells["depth"] >= HE_DEPTH]
    he_trains = bool((~deep_cells.loc[deep_cells["family"].eq("He"), "stalled"]).all())
    xavier_stalls = bool(deep_cells.loc[deep_cells["family"].eq("Xavier"), "stalled"].all())
    verdict = REPRODUCED if he_trains and xavier_stalls else NOT_REPRODUCED
    measured = [
        (
            f"{r.dataset}, depth {r.depth}, {r.init}: median final train accuracy (majority rate)",
            f"{gnum(r.accuracy, 3)} ({gnum(r.majority_rate, 3)}); "
            f"stalled in {r.n_stalled} of {r.seeds} "
            "seeds",
        )
        for r in cells.sort_values(["depth", "family"]).itertuples()
    ]
    rule = (
        f"At depth >= {HE_DEPTH}: reproduced if every He cell trains and every Xavier cell "
        f"stalls, a cell stalling when at least half its seeds diverge or end with train "
        f"accuracy <= majority rate + {STALL_MARGIN}; otherwise not reproduced. Shallower "
        f"cells are shown for context only."
    )
    panels = sorted(set(zip(cells["dataset"], cells["depth"])))

    def plot(fig, axes):
        curves = results.rows("curves", "he_xavier")
        curves = curves[curves["cell"].isin(cells.index)]
        line = median_curve(curves, ["dataset", "depth", "init"], "train_loss")
        for ax, (dataset, depth) in zip(axes, panels):
            sns.lineplot(
                line[line["dataset"].eq(dataset) & line["depth"].eq(depth)],
                x="step",
                y="train_loss",
                hue="init",
                hue_order=sorted(line["init"].unique()),
                ax=ax,
            )
            ax.set_title(f"{dataset}, depth {depth}")
            ax.set_ylabel("train loss (median over seeds)")
            step_axis(ax)
        legend_outside(fig, axes)

    size = (3.6 * len(panels) + 1.8, 3.4)
    figure = results.draw(claim, plot, ncols=len(panels), size=size)
    he = deep_cells.loc[deep_cells["family"].eq("He"), "accuracy"]
    xavier = deep_cells.loc[deep_cells["family"].eq("Xavier"), "accuracy"]
    caption = (
        f"Train loss of ReLU nets during training, He against Xavier init, per depth (median "
        f"over seeds). At depth >= {HE_DEPTH}, median final train accuracy: He {gnum(he.min(), 3)}-"
        f"{gnum(he.max(), 3)}, Xavier {gnum(xavier.min(), 3)}-{gnum(xavier.max(), 3)}."
    )
    return claim.finding(verdict, rule, measured, figure, caption)
