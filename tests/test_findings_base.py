"""findings/base.py: the registry, and how a claim's Evidence becomes its Finding: the
verdict from the effects, the rule's sentence generated from them, each effect once."""

import re
from pathlib import Path

import pandas as pd
import pytest
from findings_tables import Tables

from initbench import findings
from initbench.effects import Effect
from initbench.findings import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Evidence,
    Figure,
    read_findings,
    write_findings,
)
from initbench.findings.base import decision_text

# shared/ lies beside the checkout (as CI lays it)
SEED_TEXT = Path(__file__).resolve().parents[2] / "shared/seed/parameter-initialization.txt"
SEED_CLAIMS = {
    "symmetry",
    "course",
    "normal_small",
    "relu_vanishing",
    "exploding",
    "leaky_relu",
    "he_xavier",
}
HOLDS_ABOVE = Effect("gain over chance", (0.5, 0.6, 0.7), 0.1, True)
HOLDS_BELOW = Effect("units apart", (0.0, 0.0), 1e-12, False, exact=True)
FAILS_ABOVE = Effect("gain over chance", (0.01, 0.02, 0.03), 0.1, True)
UNDECIDED_ABOVE = Effect("gain over chance", (0.0, 0.2, 0.4), 0.1, True)


def judge(monkeypatch, evidence, figure_dir=None, **claim):
    """The finding of one claim whose check returns ``evidence``."""
    found = findings.Claim("fake", "t", "c", "s", ("symmetry",), lambda results: evidence, **claim)
    monkeypatch.setattr(findings.base, "CLAIMS", [found])
    tables = Tables().cell("symmetry").tables()
    (finding,) = findings.evaluate_findings(tables, {}, figure_dir)
    return finding


@pytest.mark.parametrize(
    "effects, verdict",
    [
        ([HOLDS_ABOVE, HOLDS_BELOW], REPRODUCED),
        ([FAILS_ABOVE, HOLDS_BELOW], NOT_REPRODUCED),
        ([UNDECIDED_ABOVE, HOLDS_BELOW], INCONCLUSIVE),
    ],
)
def test_the_effects_decide_and_the_rule_is_written_from_them(monkeypatch, effects, verdict):
    evidence = Evidence(
        effects, rows=[("cells", "4")], method="How it is measured.", notes="The paper's setting."
    )
    found = judge(monkeypatch, evidence)
    assert found.verdict == verdict
    assert found.rule.startswith("How it is measured. Reproduced if each effect's 95% interval")
    assert "gain over chance > 0.1; units apart < 1e-12 (exact: every seed)" in found.rule
    assert "The paper's setting." in found.rule
    assert ("what would decide: gain over chance" in found.rule) == (verdict == INCONCLUSIVE)
    # each effect once: in the effects, in order (the first is the headline), never a row
    assert [e["label"] for e in found.effects] == [e.label for e in effects]
    assert found.measured == [("cells", "4")]


def test_a_condition_outside_the_effects_makes_it_inconclusive(monkeypatch):
    evidence = Evidence([HOLDS_ABOVE], inconclusive="the runs are shorter than the window")
    found = judge(monkeypatch, evidence)
    assert found.verdict == INCONCLUSIVE
    assert found.rule.endswith("Inconclusive here: the runs are shorter than the window.")
    assert found.effects[0]["outcome"] == "holds"


def test_the_figure_is_drawn_only_when_asked(monkeypatch, tmp_path):
    drawn = []

    def plot(fig, axes):
        drawn.append(len(axes))
        axes[0].plot([0, 1], [0, 1])

    evidence = Evidence([HOLDS_ABOVE], figure=Figure(plot, "A line.", ncols=2))
    assert judge(monkeypatch, evidence).figure is None and not drawn
    found = judge(monkeypatch, evidence, tmp_path)
    assert drawn == [2] and found.caption == "A line."
    assert (tmp_path / found.figure).is_file()


def test_quote_and_seed_reach_the_finding_and_its_json(monkeypatch, tmp_path):
    found = judge(monkeypatch, Evidence([HOLDS_ABOVE]), quote="A sentence.", seed=True)
    assert (found.quote, found.seed) == ("A sentence.", True)
    write_findings([found], tmp_path / "findings.json")
    (back,) = read_findings(tmp_path / "findings.json")
    assert (back.quote, back.seed) == ("A sentence.", True)
    assert [(e["label"], e["outcome"]) for e in back.effects] == [("gain over chance", "holds")]


def test_findings_written_before_quote_and_seed_still_read(tmp_path):
    old = (
        '[{"key": "k", "title": "t", "claim": "c", "source": "s", "studies": [], '
        '"measured": [], "verdict": "inconclusive", "rule": "r"}]'
    )
    (tmp_path / "findings.json").write_text(old)
    (back,) = read_findings(tmp_path / "findings.json")
    assert (back.quote, back.seed) == ("", False)


def test_the_seed_claims_quote_the_seed_text():
    claims = {c.key: c for c in findings.CLAIMS}
    assert {key for key, c in claims.items() if c.seed} == SEED_CLAIMS
    assert all(claims[key].quote for key in SEED_CLAIMS)
    if not SEED_TEXT.is_file():
        pytest.skip(f"the seed text is not on this machine ({SEED_TEXT}): quotes not checked")
    text = " ".join(SEED_TEXT.read_text().split())
    for key in SEED_CLAIMS:
        assert " ".join(claims[key].quote.split()) in text, key


def test_decision_text_names_every_effect_with_its_side():
    text = decision_text([HOLDS_ABOVE, HOLDS_BELOW])
    assert re.search(r"gain over chance > 0\.1; units apart < 1e-12", text)
    assert text.endswith("Not reproduced if any lies on the other side; otherwise inconclusive.")


def test_every_claim_is_inconclusive_when_no_study_ran(tmp_path):
    empty = {k: pd.DataFrame(columns=["cell"]) for k in ("runs", "curves", "layers", "cost")}
    empty["studies"] = pd.DataFrame(columns=["study", "cell"])
    config = {"studies": {"course": {}}}
    out = findings.evaluate_findings(empty, config, tmp_path)
    assert [f.key for f in out] == [c.key for c in findings.CLAIMS]
    assert len(out) == 20  # the 16 before and the 4 of issue 30 (depth transfer, decay)
    for f in out:
        assert f.verdict == INCONCLUSIVE and f.figure is None
        assert "was not run" in f.rule
    course = next(f for f in out if f.key == "course")
    assert "configured, but it has no results" in course.rule
    assert not list(tmp_path.iterdir())


def test_verdicts_are_checked():
    with pytest.raises(ValueError, match="verdict"):
        findings.CLAIMS[0].finding("maybe", "rule")


def test_a_claim_that_raises_fails_naming_the_claim(monkeypatch):
    """A bug in a check is an error of the findings job, not a sentence in the report."""

    def broken(results):
        raise KeyError("no_such_column")

    claim = findings.Claim("broken", "t", "c", "s", ("symmetry",), broken)
    monkeypatch.setattr(findings.base, "CLAIMS", [claim])
    with pytest.raises(KeyError) as error:
        findings.evaluate_findings(Tables().cell("symmetry").tables(), {}, None)
    assert "while evaluating the claim 'broken'" in "\n".join(error.value.__notes__)
