"""Synthetic study tables for the findings tests, and the helpers that evaluate a claim
on them (shared by tests/test_findings*.py)."""

import json
import math

import pandas as pd
from PIL import Image

from initbench import findings
from initbench.findings import INCONCLUSIVE, VERDICTS
from initbench.outcomes import with_mean_field_params
from initbench.theory import predictions

LOG_STEPS = (0, 1, 2, 5, 10, 20, 50)
LN2 = math.log(2)
SEEDS = (0, 1, 2)
SPREAD = {0: -1.0, 1: 0.0, 2: 1.0}  # per seed: a value's offset, in units of its noise


def effect(found, start):
    """The finding's effect whose label starts with ``start``."""
    (match,) = [e for e in found.effects if e["label"].startswith(start)]
    return match


class Tables:
    """Synthetic aggregated tables, one cell at a time, with the columns the checks read."""

    def __init__(self):
        self.runs, self.curves, self.layers, self.studies = [], [], [], []

    def cell(
        self,
        study,
        *,
        activation="relu",
        init="he_normal",
        scheme=None,
        hidden=(8, 8),
        dataset="d",
        steps=None,
        batch_size=64,
        init_params=None,
        lr=0.1,
        seeds=(0, 1),
        majority=0.1,
        accuracy=0.9,
        status="completed",
        curve=None,
        layer=None,
        run=None,
        settings=None,
        log_steps=LOG_STEPS,
    ):
        """Add one cell to ``study``. ``curve(step, seed)``, ``layer(step, layer, depth,
        seed)`` and ``run(seed)`` return metric overrides for the curves, layers and runs
        rows; ``settings``: more cell columns (optimizer, norm, ...); ``log_steps``: the
        logged steps below ``steps``."""
        steps = log_steps[-1] if steps is None else steps
        logged = sorted({s for s in log_steps if s < steps} | {steps})
        params = dict(init_params or {})
        name = (
            f"{study}-{dataset}-{activation}-{init}-{list(hidden)}-{json.dumps(params)}-{lr}"
            f"-{json.dumps(settings, sort_keys=True)}"
        )
        depth = len(hidden) + 1
        columns = {
            "cell": name,
            "depth": depth,
            "width": max(hidden, default=0),
            "dataset": dataset,
            "activation": activation,
            "init": init,
            "scheme": scheme or init,
            "hidden": json.dumps(list(hidden)),
            "steps": steps,
            "lr": lr,
            "batch_size": batch_size,
            "loss": "softmax_ce",
            "momentum": 0.0,
            "dtype": "float64",
            "log_points": len(logged),
            "init_params": json.dumps(params, sort_keys=True),
            **(settings or {}),
        }
        self.studies.append({"study": study, "cell": name})
        for seed in seeds:
            points = [
                {
                    "step": s,
                    "train_loss": 1.0,
                    "train_accuracy": accuracy,
                    **(curve(s, seed) if curve else {}),
                }
                for s in logged
            ]
            self.curves += [{**columns, "seed": seed, **p} for p in points]
            self.runs.append(
                {
                    **columns,
                    "seed": seed,
                    "status": status,
                    "majority_rate": majority,
                    "initial_train_loss": points[0]["train_loss"],
                    "final_train_loss": points[-1]["train_loss"],
                    "final_train_accuracy": points[-1]["train_accuracy"],
                    "final_test_accuracy": points[-1]["train_accuracy"],
                    **(run(seed) if run else {}),
                }
            )
            for s in logged:
                for lay in range(1, depth + 1):
                    row = {
                        "grad_z_norm": 1.0,
                        "grad_w_norm": 1.0,
                        "act_mean": 0.5,
                        "saturated_frac": 0.0,
                        "dead_frac": 0.0,
                        "symmetry": 1.0,
                        "preact_mean": 0.0,
                        "preact_sq_mean": 1.0,
                        "probe_act_mean": 0.5,
                        "probe_saturated_frac": 0.0,
                        "probe_dead_frac": 0.0,
                        "probe_newly_dead": 0.0,
                        "probe_revived": 0.0,
                    }
                    row.update(layer(s, lay, depth, seed) if layer else {})
                    self.layers.append({**columns, "seed": seed, "step": s, "layer": lay, **row})
        return self

    def tables(self):
        frames = {k: pd.DataFrame(getattr(self, k)) for k in ("runs", "curves", "layers")}
        theory = predictions(with_mean_field_params(frames["runs"]))
        return {
            **frames,
            "cost": pd.DataFrame(),
            "studies": pd.DataFrame(self.studies),
            "theory": theory,
        }


def evaluate(tables, key, figure_dir=None, data_dir=None):
    """The finding ``key`` (evaluating all claims, as the findings job does); figures only
    if asked."""
    out = findings.evaluate_findings(tables.tables(), {}, figure_dir, data_dir=data_dir)
    (found,) = [f for f in out if f.key == key]
    assert all(f.verdict in VERDICTS for f in out)
    assert found.rule
    # each effect once: named by the rule, never repeated among the other measurements
    labels = {e["label"] for e in found.effects}
    assert not labels & {label for label, _ in found.measured}
    if not found.rule.startswith("Not evaluated"):
        assert all(label in found.rule for label in labels)
    if found.verdict != INCONCLUSIVE:
        assert found.measured and found.caption
    if figure_dir is None:
        assert found.figure is None
    elif found.verdict != INCONCLUSIVE:
        assert found.figure == f"finding-{key}.png"
        with Image.open(figure_dir / found.figure) as png:  # a drawn figure, not a blank one
            assert png.size[0] > 300 and len(png.getcolors(256) or ()) > 8
    return found
