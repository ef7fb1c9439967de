"""The depth-transfer and weight-decay claims (Depth-muP with blocks of one and two layers,
CompleteP, AdamW's decay under muP) on synthetic tables: each can be reproduced, not
reproduced and inconclusive; an optimum beyond the grid is a censored bound and a diverged
run counts at infinite loss, neither dropped."""

import math

import pytest
from findings_tables import SEEDS, Tables, effect, evaluate

from initbench import findings
from initbench.findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

LOG2_LRS = range(-8, 1)
BLOCKS = (2, 16)
LOG2_DECAYS = range(-4, 6)


def depth_tables(shifts=None, noise=0.0, slopes=None, diverge_above=None):
    """Final loss 1 + 0.1 (log2 lr - optimum)^2 per arm: the optimum at 16 blocks moves by
    the arm's shift (+- noise by seed) from 2 blocks' (-4); the lr grid is 2^-8 .. 2^0.
    ``shifts``: {(block size, alpha): octaves}; ``slopes``: {alpha: the slope of log2 of
    the blocks' weight movement on log2 blocks}; ``diverge_above``: the standard net's runs
    at 16 blocks diverge above this log2 lr."""
    shifts = {
        (1, 0.0): -3.0,
        (1, 0.5): 0.0,
        (2, 0.0): -3.0,
        (2, 0.5): -3.0,
        (2, 1.0): 0.0,
        **(shifts or {}),
    }
    slopes = {0.0: 0.0, 0.5: -0.5, 1.0: 0.0, **(slopes or {})}
    names = {0.0: "alpha0", 0.5: "mup", 1.0: "completep"}
    t = Tables()
    for (bs, alpha), shift in shifts.items():
        study = f"depth_{names[alpha]}_block{bs}" if alpha < 1 else "depth_completep"
        settings = {
            "block_size": bs,
            "branch_scaling": "depth_power" if alpha else "fixed",
            "branch_exponent": alpha if alpha else 1.0,
            "optimizer": "adam",
        }
        for blocks in BLOCKS:
            for k in LOG2_LRS:

                def run(seed, n=blocks, k=k, s=shift, a=alpha):
                    opt = -4 + (s + noise * (seed - 1) if n == BLOCKS[-1] else 0)
                    deep = a == 0 and n == BLOCKS[-1]
                    if deep and diverge_above is not None and k > diverge_above:
                        return {"status": "diverged", "final_train_loss": math.nan}
                    return {"final_train_loss": 1 + 0.1 * (k - opt) ** 2}

                def layer(step, lay, depth, seed, n=blocks, a=alpha):
                    moved = 0.5 * (n / BLOCKS[0]) ** (slopes[a] + noise * (seed - 1))
                    return {"weight_norm": 2.0**moved if step else 1.0}

                t.cell(
                    study,
                    hidden=(8,) * (blocks * bs + 1),
                    lr=2.0**k,
                    steps=50,
                    seeds=SEEDS,
                    run=run,
                    layer=layer,
                    settings=settings,
                )
    return t


def test_depth_mup_transfers_with_one_layer_blocks_and_the_standard_net_shifts():
    found = evaluate(depth_tables(), "depth_mup")
    assert found.verdict == REPRODUCED
    assert effect(found, "alpha 0.5, blocks of 1: fall")["estimate"] == pytest.approx(0)
    assert effect(found, "alpha 0 (standard), blocks of 1: fall")["estimate"] == pytest.approx(3)
    moved = evaluate(depth_tables({(1, 0.5): -3.0}), "depth_mup")
    assert moved.verdict == NOT_REPRODUCED
    assert evaluate(depth_tables({(1, 0.0): 0.0}), "depth_mup").verdict == NOT_REPRODUCED
    noisy = evaluate(depth_tables({(1, 0.5): -0.9}, noise=0.5), "depth_mup")
    assert noisy.verdict == INCONCLUSIVE


def test_an_undecided_depth_claim_names_the_tier_sized_to_decide_it():
    """Inconclusive in the default tier: the rule says the paper tier decides it; the paper
    tier's own inconclusive verdict does not send the reader to itself."""
    noisy = depth_tables({(1, 0.5): -0.9}, noise=0.5)
    default = evaluate(noisy, "depth_mup")
    assert default.verdict == INCONCLUSIVE and "config tier=paper" in default.rule
    (paper,) = [f for f in findings.evaluate_findings(noisy.tables(), {"tier": "paper"}, None)
                if f.key == "depth_mup"]  # fmt: skip
    assert paper.verdict == INCONCLUSIVE and "config tier=paper" not in paper.rule
    decided = evaluate(depth_tables(), "depth_mup")
    assert decided.verdict == REPRODUCED and "config tier=paper" not in decided.rule


def test_depth_optimum_beyond_the_grid_is_a_censored_bound_never_dropped():
    beyond = evaluate(depth_tables({(1, 0.5): -6.0}), "depth_mup")  # 16 blocks' below 2^-8
    fall = effect(beyond, "alpha 0.5, blocks of 1: fall")
    assert fall["n"] == len(SEEDS) and fall["estimate"] == pytest.approx(4)  # at least 4
    assert beyond.verdict == NOT_REPRODUCED


def test_a_diverged_run_counts_at_infinite_loss():
    found = evaluate(depth_tables(diverge_above=-8), "depth_mup")  # every lr but the lowest
    fall = effect(found, "alpha 0 (standard), blocks of 1: fall")
    assert fall["n"] == len(SEEDS) and fall["estimate"] == pytest.approx(4)  # the edge: >= 4
    assert found.verdict == REPRODUCED
    diverged = dict(found.measured)
    (row,) = [v for k, v in diverged.items() if k.startswith("Runs diverged")]
    assert "1, 0: 24 of 54" in row  # 8 lrs x 3 seeds at 16 blocks, none dropped


def test_depth_mup_block2_limitation():
    assert evaluate(depth_tables(), "depth_mup_block2").verdict == REPRODUCED
    held = evaluate(depth_tables({(2, 0.5): 0.0}), "depth_mup_block2")
    assert held.verdict == NOT_REPRODUCED
    noisy = evaluate(depth_tables({(2, 0.5): -1.0}, noise=0.6), "depth_mup_block2")
    assert noisy.verdict == INCONCLUSIVE


def test_completep_transfers_and_stays_non_lazy():
    found = evaluate(depth_tables(), "completep")
    assert found.verdict == REPRODUCED
    slope = effect(found, "alpha 1: slope")
    assert slope["estimate"] == pytest.approx(0, abs=1e-9)
    assert effect(found, "alpha 1 minus alpha 1/2")["estimate"] == pytest.approx(0.5)
    lazy = evaluate(depth_tables(slopes={1.0: -0.5}), "completep")
    assert lazy.verdict == NOT_REPRODUCED
    assert evaluate(depth_tables({(2, 1.0): -3.0}), "completep").verdict == NOT_REPRODUCED
    noisy = evaluate(depth_tables(slopes={1.0: -0.25}, noise=0.3), "completep")
    assert noisy.verdict == INCONCLUSIVE


def test_depth_figure_is_drawn(tmp_path):
    evaluate(depth_tables(), "depth_mup", figure_dir=tmp_path)
    evaluate(depth_tables(), "completep", figure_dir=tmp_path)


def decay_tables(slope=1.0, noise=0.0, convention="layer_lr", diverge=False):
    """Final test loss 1 + 0.1 (log2 lambda - optimum)^2: the optimum at width w is -2 +
    slope log2(w / 32) (+- noise by seed at the widest); the decay grid is 2^-4 .. 2^5.
    ``diverge``: the widest net's run at the largest decay diverged."""
    t = Tables()
    for width in (32, 64, 256):
        for k in LOG2_DECAYS:

            def run(seed, w=width, k=k):
                opt = -2 + slope * math.log2(w / 32) + (noise * (seed - 1) if w == 256 else 0)
                if diverge and w == 256 and k == LOG2_DECAYS[-1]:
                    return {"status": "diverged", "final_test_loss": math.nan}
                return {"final_test_loss": 1 + 0.1 * (k - opt) ** 2}

            t.cell(
                "weight_decay_mup",
                hidden=(width,) * 2,
                lr=0.01,
                seeds=SEEDS,
                run=run,
                settings={
                    "weight_decay": 2.0**k,
                    "weight_decay_scaling": convention,
                    "optimizer": "adamw",
                    "parametrization": "mup",
                },
            )
    return t


def test_weight_decay_slope_against_the_prediction():
    found = evaluate(decay_tables(), "weight_decay_mup")
    assert found.verdict == REPRODUCED
    assert effect(found, "layer_lr: excess")["estimate"] == pytest.approx(0, abs=1e-9)
    fan = evaluate(decay_tables(slope=0.5), "weight_decay_mup")  # Fan et al.'s sqrt(width)
    assert fan.verdict == NOT_REPRODUCED
    assert effect(fan, "layer_lr: shortfall")["estimate"] == pytest.approx(0.5)
    flat = evaluate(decay_tables(slope=0.0, convention="width_invariant"), "weight_decay_mup")
    assert flat.verdict == REPRODUCED  # the mup package's convention: lambda* stays put
    noisy = evaluate(decay_tables(slope=0.85, noise=1.0), "weight_decay_mup")
    assert noisy.verdict == INCONCLUSIVE


def test_weight_decay_optimum_beyond_the_grid_is_censored_and_a_diverged_run_counted():
    beyond = evaluate(decay_tables(slope=3.0), "weight_decay_mup")  # width 256's above 2^5
    excess = effect(beyond, "layer_lr: excess")
    assert excess["n"] == len(SEEDS) and beyond.verdict == NOT_REPRODUCED
    diverged = evaluate(decay_tables(diverge=True), "weight_decay_mup")
    assert diverged.verdict == REPRODUCED and effect(diverged, "layer_lr: excess")["n"] == 3
    assert dict(diverged.measured)["Runs that did not complete (counted at infinite loss)"] == (
        "3 of 90"
    )
