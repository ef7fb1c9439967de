"""The zero_branch rule (findings/zero_branch.py) on synthetic tables: it can be reproduced,
not reproduced and inconclusive; its comparator is pre-LN with a final LN; a diverged run
is counted, and a comparator whose best lr is on the grid's edge cannot make it hold."""

import math

import pandas as pd
import pytest
from findings_tables import SEEDS, Tables, effect, evaluate

from initbench.findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from initbench.findings.zero_branch import HE, NORMALIZED, arm_of

RESIDUAL_LRS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
BLOCKS = (1, 4, 64)
ARMS = {  # arm -> (study, scheme, settings)
    "he": ("residual_standard", "he_normal",
           {"branch_scaling": "fixed", "norm": "none", "final_norm": "none"}),
    "normalized": ("residual_standard", "he_normal",
                   {"branch_scaling": "fixed", "norm": "layernorm", "final_norm": "layernorm"}),
    "gate": ("residual_gate", "he_normal",
             {"branch_scaling": "gate", "norm": "none", "final_norm": "none"}),
    "fixup": ("residual_fixup", "fixup",
              {"branch_scaling": "fixed", "norm": "none", "final_norm": "none"}),
}  # fmt: skip
LOSS = {"he": 1.5, "normalized": 1.4}


def largest_trainable(arm, blocks, he_degrades):
    """He trains up to lr 0.3 at 1 block, 0.1 at 4 and at none at 64 (when it degrades);
    every other arm up to 0.3."""
    if arm == "he" and he_degrades:
        return {1: 0.3, 4: 0.1, 64: 0.0}[blocks]
    return 0.3


def zero_branch_tables(he_degrades=True, gate_loss=1.3, noise=0.0, best_lr=None, diverged=()):
    """1, 4 and 64 blocks of 2 layers on RESIDUAL_LRS: each arm's loss is its base (He 1.5,
    the comparator 1.4, the zero-start arms ``gate_loss`` +- noise by seed) times
    1 + |log10(lr / best)|, best at 0.03 (or ``best_lr[arm]``), where it trains; untrained:
    2.3 at chance. ``diverged``: (arm, seed) pairs whose runs at 64 blocks all diverge."""
    t = Tables()
    for arm, (study, scheme, settings) in ARMS.items():
        best = (best_lr or {}).get(arm, 0.03)
        for blocks in BLOCKS:
            for lr in RESIDUAL_LRS:

                def run(seed, arm=arm, blocks=blocks, lr=lr, best=best):
                    if blocks == 64 and (arm, seed) in diverged:
                        return {"status": "diverged", "final_train_loss": math.nan,
                                "final_train_accuracy": math.nan}  # fmt: skip
                    base = LOSS.get(arm, gate_loss + noise * (seed - 1))
                    trains = lr <= largest_trainable(arm, blocks, he_degrades)
                    return {
                        "final_train_loss": base * (1 + abs(math.log10(lr / best)))
                        if trains
                        else 2.3,
                        "final_train_accuracy": 0.6 if trains else 0.1,
                    }

                t.cell(study, init=scheme, scheme=scheme, hidden=(16,) * (2 * blocks + 1),
                       lr=lr, seeds=SEEDS, run=run,
                       settings={"architecture": "residual", "block_size": 2,
                                 "optimizer": "sgd", **settings})  # fmt: skip
    return t


def test_zero_branch_reproduced_with_he_fall_measured():
    found = evaluate(zero_branch_tables(), "zero_branch")
    assert found.verdict == REPRODUCED
    he = effect(found, "He: log2 largest trainable lr at 1 block over 4 blocks")
    assert list(he["values"]) == [pytest.approx(math.log2(3))] * 3 and not any(he["censored"])
    ratio = effect(found, "Fixup, 64 blocks: best train loss over pre-LN + final LN's")
    assert ratio["estimate"] == pytest.approx(1.3 / 1.4) and "final LayerNorm" in found.rule


def test_he_fall_pools_the_fall_studys_seeds():
    """residual_he_fall's He nets at 1 and 4 blocks join residual_standard's: the fall is
    measured on the seeds of both, the 64-block effects on residual_standard's alone."""
    t = zero_branch_tables()
    study, scheme, settings = ARMS["he"]
    for blocks in (1, 4):
        for lr in RESIDUAL_LRS:
            trains = lr <= largest_trainable("he", blocks, True)
            t.cell("residual_he_fall", init=scheme, scheme=scheme,
                   hidden=(16,) * (2 * blocks + 1), lr=lr, seeds=(3, 4, 5),
                   accuracy=0.6 if trains else 0.1,
                   settings={"architecture": "residual", "block_size": 2, "optimizer": "sgd",
                             **settings})  # fmt: skip
    found = evaluate(t, "zero_branch")
    assert effect(found, "He: log2 largest trainable lr")["n"] == 6
    assert effect(found, "Fixup, 64 blocks: best train loss")["n"] == len(SEEDS)


def test_zero_branch_not_reproduced_and_inconclusive():
    assert evaluate(zero_branch_tables(gate_loss=3.0), "zero_branch").verdict == NOT_REPRODUCED
    cured = evaluate(zero_branch_tables(he_degrades=False), "zero_branch")
    assert cured.verdict == INCONCLUSIVE and "nothing to cure" in cured.rule
    noisy = evaluate(zero_branch_tables(gate_loss=1.75, noise=0.3), "zero_branch")  # ~1.25 x
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule


def test_a_diverged_zero_start_run_is_counted_not_dropped():
    """Every lr of the gate at 64 blocks diverges in seed 1: its progress counts as -1 and
    its loss ratio as infinite, on all seeds, none missing; the claim cannot hold."""
    found = evaluate(zero_branch_tables(diverged={("gate", 1)}), "zero_branch")
    progress = effect(found, "He + zero gate, 64 blocks: best final train accuracy")
    ratio = effect(found, "He + zero gate, 64 blocks: best train loss")
    for e in (progress, ratio):
        assert e["n"] == len(SEEDS) and e["missing"] == 0
    assert progress["values"][1] == -1.0 and ratio["values"][1] == math.inf
    assert found.verdict != REPRODUCED


def test_a_comparator_on_the_grids_edge_gives_a_bound_that_cannot_hold():
    """The comparator best at the lowest lr: beyond the grid it might do better, so each
    ratio is a lower bound (censored) and cannot hold however far below 1.25 it is."""
    found = evaluate(zero_branch_tables(best_lr={"normalized": 0.003}), "zero_branch")
    ratio = effect(found, "Fixup, 64 blocks: best train loss")
    assert all(ratio["censored"]) and ratio["outcome"] == "undecided"
    assert found.verdict == INCONCLUSIVE
    edge_rows = dict(found.measured)
    assert any("3 on an edge" in text for text in edge_rows.values())


def test_pre_ln_without_its_final_norm_is_not_the_comparator():
    runs = pd.DataFrame({
        "scheme": ["he_normal"] * 3, "branch_scaling": ["fixed"] * 3,
        "norm": ["layernorm", "layernorm", "none"], "final_norm": ["layernorm", "none", "none"],
    })  # fmt: skip
    assert arm_of(runs).fillna("-").tolist() == [NORMALIZED, "-", HE]
    before = runs.drop(columns="final_norm")  # tables from before final_norm: none had it
    assert arm_of(before).fillna("-").tolist() == ["-", "-", HE]


def test_figure_is_written(tmp_path):
    found = evaluate(zero_branch_tables(), "zero_branch", tmp_path)
    assert found.figure in [p.name for p in tmp_path.iterdir()]
