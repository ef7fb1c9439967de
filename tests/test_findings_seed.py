"""The seed's gradient claims on synthetic tables: relu_vanishing, exploding, leaky_relu, each
reproduced, not reproduced and inconclusive; a diverged run is an outcome, never dropped."""

import pytest
from findings_tables import effect, evaluate
from seed_tables import exploding_tables, leaky_tables, vanishing_tables

from initbench.findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED


def test_relu_vanishing_turns_on_the_critical_arm():
    found = evaluate(vanishing_tables(), "relu_vanishing")
    assert found.verdict == REPRODUCED and found.seed and "sigmoid" in found.quote
    assert effect(found, "sigmoid at its critical init")["estimate"] == pytest.approx(-3.0)
    assert effect(found, "relu at its critical init")["n"] == 6
    # the one-init arm (Xavier: ReLU vanishes) is shown, never decided on
    assert any("xavier_normal, relu" in label for label, _ in found.measured)
    # tanh at its critical init keeps its gradient: the claim fails
    assert evaluate(vanishing_tables(tanh=-0.5), "relu_vanishing").verdict == NOT_REPRODUCED
    # sigmoid's gradient on the line: undecided, with the seeds that would decide
    noisy = evaluate(vanishing_tables(sigmoid=-1.1, spread=0.5), "relu_vanishing")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule


def test_relu_vanishing_needs_its_deep_critical_cells():
    shallow = evaluate(vanishing_tables(depth=30), "relu_vanishing")
    assert shallow.verdict == INCONCLUSIVE and "no depth-50 cells" in shallow.rule


def test_exploding():
    found = evaluate(exploding_tables(), "exploding")
    assert found.verdict == REPRODUCED and found.seed
    assert effect(found, "sigmoid, randn x 10")["estimate"] == pytest.approx(2.5)
    assert effect(found, "sigmoid, depth 5")["estimate"] == pytest.approx(-0.7)
    assert effect(found, "ReLU, randn x 10")["estimate"] == 1.0
    # ReLU with large weights that never overflows: the NaN part fails
    quiet = evaluate(exploding_tables(relu_diverges=False), "exploding")
    assert quiet.verdict == NOT_REPRODUCED
    # a gap inside seed noise of its threshold decides nothing
    noisy = evaluate(exploding_tables(gap=-0.2, spread=0.1), "exploding")
    assert noisy.verdict == INCONCLUSIVE


def test_exploding_counts_a_diverged_run_at_chance():
    """Seed 0's randn x 10 runs diverge (NaN accuracy): that seed stays in the paired
    effect, at chance (the majority-class rate, 0.1), not dropped."""
    found = evaluate(exploding_tables(large_diverges_in=(0,), spread=0.0), "exploding")
    gap = effect(found, "sigmoid, depth 5")
    assert gap["n"] == 5
    assert gap["values"][0] == pytest.approx(0.1 - 0.95)
    assert gap["values"][1] == pytest.approx(-0.7)


def test_leaky_relu():
    found = evaluate(leaky_tables(), "leaky_relu")
    assert found.verdict == REPRODUCED and found.seed
    dead = effect(found, "depth 20: born dead")
    assert dead["estimate"] == pytest.approx(0.75) and dead["n"] == 20
    # Leaky's gradient non-zero but below a tenth of the output's: not "entirely"
    vanishes = evaluate(leaky_tables(leaky=-3.0), "leaky_relu")
    assert vanishes.verdict == NOT_REPRODUCED
    assert effect(vanishes, "depth 20: born dead")["outcome"] == "holds"
    # no ReLU net born dead: the regime is absent, the first effect fails
    assert evaluate(leaky_tables(relu_dead=0), "leaky_relu").verdict == NOT_REPRODUCED
    # Leaky's gradient on the line: undecided
    noisy = evaluate(leaky_tables(leaky=-1.0, spread=0.5), "leaky_relu")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule


@pytest.mark.parametrize(("tables", "key"), [(exploding_tables, "exploding"),
                                             (leaky_tables, "leaky_relu")])  # fmt: skip
def test_a_claim_figure_is_the_same_in_every_run(tmp_path, tables, key):
    """seaborn's strip-plot jitter and bootstrap intervals are random draws, seeded
    (plotting.SEED): the same tables draw the same figure, byte for byte."""
    drawn = []
    for run in ("first", "second"):
        found = evaluate(tables(), key, figure_dir=tmp_path / run)
        drawn.append((tmp_path / run / found.figure).read_bytes())
    assert drawn[0] == drawn[1]
