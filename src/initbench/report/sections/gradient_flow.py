"""Gradient flow: per-layer gradient norms at initialization and during training."""

import numpy as np
import pandas as pd

from ... import plotting
from ...outcomes import finite, quantiles
from ...text import gnum, join_words


def deep_rows(r, section, columns, few=False):
    """(dataset, {activation: cells}, their layer rows) of the deep selection, ``few``
    variants per activation if asked; None (noted in the section) without hidden layers."""
    selection = r.deep_selection()
    if selection is None or not selection[1]:
        section["empty"] = "No cell with a hidden layer: gradient flow needs depth >= 2."
        return None
    dataset, chosen = selection
    if few:
        chosen = {a: c[c["variant"].isin(r.few_variants(c["variant"]))] for a, c in chosen.items()}
    return dataset, chosen, r.layer_rows(pd.concat(chosen.values()).index, columns)


def at_init(r, section):
    selected = deep_rows(r, section, ["grad_w_norm", "grad_z_norm"])
    if selected is None:
        return
    dataset, chosen, rows = selected
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
    fig, axes = r.figure(len(acts), 2, 5.4 * len(acts) + 0.4, 8.6, sharex="col")
    used, zero_note = [], {}
    for j, act in enumerate(acts):
        sub = rows[rows["activation"] == act]
        variants = r.ordered(sub["variant"], r.variant_order)
        for i, (metric, label) in enumerate(metrics):
            ax = axes[i][j]
            positive = sub[finite(sub[metric]) > 0]
            agg = quantiles(positive, ["variant", "layer"], metric)
            drawn = r.lines(ax, agg, "layer", variants)
            plotting.log_axis(ax, agg[["lo", "mid", "hi"]])
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
    r.legend(fig, r.ordered(used, r.variant_order))
    caption = gradient_caption(r, rows, chosen, zero_note)
    section["figures"].append(
        r.save(fig, "gradient-init", caption, "Per-layer gradient norms at initialization")
    )


def gradient_caption(r, rows, chosen, zero_note):
    parts = []
    for act, cells in chosen.items():
        sub = rows[rows["activation"] == act]
        depth = int(cells["depth"].max())
        med = sub.groupby(["variant", "layer"])["grad_z_norm"].median().unstack()
        if 1 not in med.columns or depth not in med.columns:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = finite(med[1] / med[depth]).dropna()
        ratio = ratio[ratio > 0]
        text = f"{act} (depth {depth}): " + (ratio_text(ratio) if len(ratio) else "n/a")
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


def ratio_text(ratio, n=6):
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


def during_training(r, section):
    selected = deep_rows(r, section, ["grad_w_norm"], few=True)
    if selected is None:
        return
    dataset, picked, rows = selected
    if rows["step"].nunique() < 2:
        section["empty"] = "Only one logged step: nothing changes during training here."
        return
    stages = stage_steps(r, rows)
    rows = rows.merge(stages, on=["cell", "step"])
    acts = list(picked)
    labels = ["init", "middle", "end"]
    fig, axes = r.figure(3, len(acts), 14.5, 3.9 * len(acts) + 1.0, sharey="row")
    used, parts = [], []
    for i, act, sub, variants, depth in r.activation_panels(rows, acts, used):
        for j, stage in enumerate(labels):
            ax = axes[i][j]
            s = sub[sub["stage"] == stage]
            agg = quantiles(s[finite(s["grad_w_norm"]) > 0], ["variant", "layer"], "grad_w_norm")
            if not r.lines(ax, agg, "layer", variants):
                ax.text(0.5, 0.5, "all zero or non-finite", ha="center", transform=ax.transAxes)
            plotting.log_axis(ax, sub["grad_w_norm"])  # the row shares its y axis
            steps = sorted(s["step"].unique())
            when = f"step {steps[0]}" if len(steps) == 1 else "steps " + ", ".join(map(str, steps))
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
    r.legend(fig, r.ordered(used, r.variant_order))
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
        r.save(fig, "gradient-training", caption, "Per-layer gradient norms during training")
    )


def stage_steps(r, rows):
    """(cell, step, stage): step 0, the middle logged step and the last, per cell."""
    out = []
    for cell, steps in rows.groupby("cell")["step"].unique().items():
        steps = np.sort(steps)
        planned = int(r.cells.at[cell, "steps"])
        last = planned if planned in steps else int(steps[-1])
        inner = steps[(steps > 0) & (steps < last)]
        middle = int(inner[len(inner) // 2]) if len(inner) else last
        out += [(cell, int(steps[0]), "init"), (cell, middle, "middle"), (cell, last, "end")]
    return pd.DataFrame(out, columns=["cell", "step", "stage"])
