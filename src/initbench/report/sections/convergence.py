"""Convergence: loss and accuracy curves (median and IQR) and steps to target."""

import pandas as pd
from matplotlib.lines import Line2D

from ... import plotting
from ...outcomes import TARGET_FRACTION, finite, quantiles
from ...settings import FIELDS
from ...text import fnum, gnum, plural, shorten
from .. import html
from ..base import DASHES, MAX_LINES


def convergence_groups(r):
    """(name, description, cells) of small studies, then the deep overview cells."""
    groups = []
    descriptions = {k: v.get("description", "") for k, v in r.config.get("studies", {}).items()}
    for study, names in r.studies.items():
        cells = r.cells[r.cells.index.isin(names)]
        if study == "overview" or not 2 <= len(cells) <= MAX_LINES:
            continue
        if (cells["steps"] <= 1).all():
            continue
        groups.append((study, descriptions.get(study, ""), cells))
    if "overview" in r.studies or not groups:
        selection = r.deep_selection()
        if selection is not None:
            dataset, chosen = selection
            for act, cells in chosen.items():
                cells = cells[cells["variant"].isin(r.few_variants(cells["variant"], 6))]
                shown = any(set(cells.index) <= set(g[2].index) for g in groups)
                if len(cells) and not shown:
                    depth = int(cells["depth"].max())
                    groups.append((f"{act} on {dataset}, depth {depth}", "", cells))
    return groups[:8]


# What tells a figure's lines apart: the grid's axes, then any training setting a study
# sweeps (optimizer, parametrization, ...), in settings.FIELDS' order.
LINE_KEYS = ("dataset", "activation", "variant", "depth", "width", "lr",
             *(name for name in FIELDS if name != "lr"))  # fmt: skip


def build(r, section):
    groups = convergence_groups(r)
    curves = r.tables["curves"]
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
        varying = [c for c in LINE_KEYS if c in cells and cells[c].nunique() > 1]
        if "variant" not in varying:
            varying.insert(0, "variant")
        data["line"] = data[varying].astype(str).agg(" · ".join, axis=1)
        lines = line_labels(r, cells, varying)
        palette, styles = line_palette(r, cells, varying, lines)
        regression = (cells["task"] == "regression").all()
        metrics = [
            ("train_loss", "train loss", True),
            (
                "test_loss" if regression else "test_accuracy",
                "test loss" if regression else "test accuracy",
                regression,
            ),
        ]
        fig, axes = r.figure(2, 1, 12.5, 4.6)
        for j, (metric, label, log_y) in enumerate(metrics):
            ax = axes[0][j]
            agg = quantiles(data, ["line", "step"], metric)
            plotting.median_lines(
                ax, agg, "step", "line", lines, palette, marker=None, styles=styles
            )
            plotting.step_axis(ax)
            if log_y and (agg["mid"] > 0).all():
                plotting.log_axis(ax, agg[["lo", "mid", "hi"]])
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
        fig.suptitle(shorten(title, 150), fontweight="bold")
        handles = [Line2D([], [], color=palette[line], ls=styles[line], lw=2.2) for line in lines]
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
        caption = convergence_caption(r, name, cells, varying, regression)
        section["figures"].append(
            r.save(fig, f"convergence-{name}", caption, f"Training curves for {name}")
        )
    if not section["figures"]:
        section["intro"].append("No study has training curves to compare.")
    target_table(r, section)


def line_labels(r, cells, varying):
    ordered = cells.assign(
        _v=cells["variant"].map({v: i for i, v in enumerate(r.variant_order)}),
        _a=cells["activation"].map({a: i for i, a in enumerate(r.activation_order)}),
    ).sort_values(["_a", "_v", "depth", "width", "lr"])
    labels = ordered[varying].astype(str).agg(" · ".join, axis=1)
    return list(dict.fromkeys(labels))


def line_palette(r, cells, varying, lines):
    """(colour, dash style) per line label: init colours, one other parameter as dashes."""
    labels = cells[varying].astype(str).agg(" · ".join, axis=1)
    keys = cells.assign(_label=labels).drop_duplicates("_label").set_index("_label")
    others = [k for k in varying if k != "variant"]
    if len(others) <= 1 and "variant" in varying:
        levels = sorted(keys[others[0]].unique()) if others else []
        if len(levels) <= len(DASHES):
            dash = dict(zip(levels, DASHES))
            colours = {line: r.palette[keys.at[line, "variant"]] for line in lines}
            styles = {line: dash[keys.at[line, others[0]]] if others else "-" for line in lines}
            return colours, styles
    # tab10, then its light twins (at most MAX_LINES <= 20 lines)
    return dict(zip(lines, plotting.BASE_COLOURS)), dict.fromkeys(lines, "-")


def convergence_caption(r, name, cells, varying, regression):
    key = "test_loss" if regression else "test_acc"
    labels = cells[varying].astype(str).agg(" · ".join, axis=1)
    vals = pd.Series(cells[key].to_numpy(), index=labels.to_numpy())
    vals = finite(vals.groupby(level=0).median()).dropna().sort_values(ascending=regression)
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


def target_table(r, section):
    cells = r.cells
    targets = cells.groupby("dataset")[["target", "task"]].first()
    desc = []
    for dataset in r.dataset_order:
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
    order = r.sorted_cells(cells)
    rows = []
    for name, c in order.iterrows():
        reached = c["steps_to_target"]
        rows.append(
            [
                *r.cell_id_columns(name, c),
                html.cell(str(c["steps"]), int(c["steps"])),
                html.cell(
                    fnum(c["target"]) if c["task"] == "classification" else gnum(c["target"], 3),
                    float(c["target"]),
                ),
                html.cell(
                    "never" if pd.isna(reached) else str(int(reached)),
                    "Infinity" if pd.isna(reached) else int(reached),
                ),
            ]
        )
    n_never = int(cells["steps_to_target"].isna().sum())
    section["tables"].append(
        html.table(
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
