"""The plateau check: a cell whose class differs between half its steps and the end counts."""

import numpy as np
import pandas as pd

from initbench.outcomes import PLATEAU_SHARE, cell_class, plateau_check, runs_at

STEPS = 1000
LOGGED = (0, 10, 100, 400, 490, 700, 1000)  # 490: the last logged step <= 500
CHANCE = 0.1


def synthetic(cells):
    """Runs and curves tables of classification cells from {cell: (accuracy per logged step,
    diverged step or None)} per seed; a diverged run's curve stops where it diverged."""
    runs, curves = [], []
    for cell, seeds in cells.items():
        for seed, (accuracy, diverged) in enumerate(seeds):
            for step, acc in zip(LOGGED, accuracy, strict=True):
                if diverged is None or step < diverged:
                    curves.append(dict(cell=cell, seed=seed, step=step, train_accuracy=acc,
                                       train_loss=2.3 * (1 - acc)))  # fmt: skip
            runs.append(dict(
                cell=cell, seed=seed, steps=STEPS, majority_rate=CHANCE,
                status="completed" if diverged is None else "diverged",
                diverged_step=-1 if diverged is None else diverged,
                final_train_accuracy=np.nan if diverged is not None else accuracy[-1],
                final_train_loss=np.nan if diverged is not None else 2.3 * (1 - accuracy[-1]),
                initial_train_loss=2.3,
            ))  # fmt: skip
    return pd.DataFrame(runs), pd.DataFrame(curves)


FLAT = (CHANCE,) * len(LOGGED)
EARLY = (CHANCE, 0.3, 0.6, 0.8, 0.85, 0.9, 0.9)  # trained well before half the steps
LATE = (CHANCE, CHANCE, CHANCE, CHANCE, CHANCE, 0.4, 0.7)  # escapes the stall after step 500


def test_a_cell_that_leaves_its_stall_after_half_the_steps_is_counted():
    runs, curves = synthetic({
        "early": [(EARLY, None)] * 3,
        "flat": [(FLAT, None)] * 3,
        "late": [(LATE, None)] * 3,
        "late_diverger": [(EARLY, 800)] * 2 + [(EARLY, None)],
        "early_diverger": [(EARLY, 50)] * 3,
    })  # fmt: skip
    check = plateau_check(runs, curves)
    assert check.loc["late", ["half", "final"]].tolist() == ["stalled", "trained"]
    assert check.loc["late_diverger", ["half", "final"]].tolist() == ["trained", "diverged"]
    assert check.loc["early_diverger", ["half", "final"]].tolist() == ["diverged", "diverged"]
    assert set(check.index[check["changed"]]) == {"late", "late_diverger"}
    assert (check["half_step"] == 490).all()
    assert check["changed"].mean() == 2 / 5 > PLATEAU_SHARE


def test_the_class_at_the_end_is_the_runs_own_and_a_seed_minority_does_not_decide():
    runs, curves = synthetic({"mixed": [(LATE, None), (FLAT, None), (FLAT, None)]})
    assert cell_class(runs).loc["mixed"] == "stalled"
    runs, curves = synthetic({"mixed": [(LATE, None), (LATE, None), (FLAT, None)]})
    assert cell_class(runs).loc["mixed"] == "trained"
    assert cell_class(runs_at(runs, curves, 500)).loc["mixed"] == "stalled"


def test_a_study_at_its_plateau_changes_no_cell():
    runs, curves = synthetic({"a": [(EARLY, None)] * 3, "b": [(FLAT, None)] * 3})
    assert not plateau_check(runs, curves)["changed"].any()
