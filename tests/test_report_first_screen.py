"""The report's first screen: the seed's claims, each in one sentence, then every verdict,
then the seed's story in one figure; and no generated sentence that names a tie as a gap."""

import re

import numpy as np
import pandas as pd
import pytest
from report_pages import CONFIG, Links, embedded_png, write_results

from initbench.effects import Effect
from initbench.findings import Finding, write_findings
from initbench.report import build_report
from initbench.report.sections.glance import cell_class
from initbench.report.sections.overview import extremes_text
from initbench.text import fnum

QUOTE = "Their initial values for the weight matrices should not be <zero>"
SPREAD = Effect("zeros: distance between two units", (0.0, 0.0, 0.0), 1e-12, False, exact=True)
GAP = Effect("He minus small, accuracy gain", (0.31, 0.35, 0.33, 0.36), 0.1, True)
NOISY = Effect("Leaky minus ReLU, dead share", (-0.1, 0.2, 0.05), 0.0, False)


def seed_finding(key, verdict, effects, tier="default", quote=QUOTE, rule="r"):
    return Finding(key, f"Title of {key}", "claim", "the seed", ["overview"], [], verdict, rule,
                   tier=tier, effects=[e.as_record() for e in effects], quote=quote,
                   seed=True)  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A report on the default tier with three seed claims and one other, and a paper tier."""
    results = tmp_path_factory.mktemp("first") / "results"
    write_results(results)
    default = [
        seed_finding("symmetry", "reproduced", [SPREAD]),
        Finding("glorot", "Glorot", "c", "Glorot & Bengio 2010", ["overview"], [],
                "reproduced", "r", effects=[GAP.as_record()]),
        seed_finding("normal_small", "reproduced", [GAP, NOISY], quote="multiply by 0.01"),
        seed_finding("exploding", "inconclusive", [], quote="large and >0",
                     rule="Not evaluated: the exploding study was not run. More text."),
    ]  # fmt: skip
    write_findings(default, results / "findings.json")
    paper = [
        seed_finding("symmetry", "reproduced", [SPREAD], tier="paper"),
        seed_finding("normal_small", "inconclusive", [NOISY], tier="paper"),
    ]
    write_findings(paper, results / "findings-paper.json")
    out = build_report(results, results / "findings.json", results.parent / "r" / "index.html",
                       CONFIG, log=lambda m: None)  # fmt: skip
    html = out.read_text(encoding="utf-8")
    seed_block = html[html.index('<section id="seed"') : html.index("</section>")]
    items = re.findall(r"<li>(.*?)</li>", seed_block, flags=re.S)
    return {"html": html, "items": items, "findings": default}


def test_each_seed_claim_in_one_sentence(page):
    """Badge, the seed's words, the headline number and a link to its section, per seed
    claim, in the registry's order; the other claims are not listed there."""
    items = page["items"]
    assert len(items) == 3
    ids = Links()
    ids.feed(page["html"])
    for item, key in zip(items, ("symmetry", "normal_small", "exploding")):
        assert re.search(r'class="badge v-[a-z-]+">(reproduced|inconclusive)<', item)
        assert f'href="#finding-{key}"' in item and f"finding-{key}" in ids.ids
    assert (
        "<q>Their initial values for the weight matrices should not be &lt;zero&gt;</q>"
        in (items[0])
    )
    # the headline effect is the first one, with its interval, seeds and threshold
    lo, hi = GAP.interval
    assert f"He minus small, accuracy gain = {GAP.estimate:.3g}" in items[1]
    assert f"95% interval [{lo:.3g}, {hi:.3g}] over 4 seeds" in items[1]
    assert "(the claim needs &gt; 0.1)" in items[1]
    assert "Leaky minus ReLU" in items[1]  # the paper tier's headline: its first effect
    # the other tier's number, without the label and threshold already shown
    assert (
        "default tier: zeros: distance between two units = 0, range [0, 0] over 3 seeds"
        in (items[0])
    )
    assert "; paper tier: 0, range [0, 0] over 3 seeds." in items[0]
    # a claim without effects says why, in the rule's first sentence
    assert "Not evaluated: the exploding study was not run." in items[2]
    assert "More text" not in items[2]
    assert "Glorot" not in "".join(items)


def test_both_tiers_verdicts(page):
    symmetry, normal_small, exploding = page["items"]
    assert symmetry.count('class="badge') == 2 and ">paper<" in symmetry
    assert re.search(r">default<.*>reproduced<.*>paper<.*>inconclusive<", normal_small, re.S)
    assert exploding.count('class="badge') == 1  # the paper tier has no such claim


def test_first_screen_order(page):
    """The seed's claims right under the title, then every verdict, then one figure."""
    html = page["html"]
    marks = ['<header class="top">', 'id="seed"', 'id="verdicts"', 'id="fig-seed-at-a-glance"',
             'class="facts"', 'class="toc"', 'id="findings"']  # fmt: skip
    positions = [html.index(mark) for mark in marks]
    assert positions == sorted(positions)
    glance = html[positions[3] : html.index("</figure>", positions[3])]
    embedded_png(re.search(r'src="([^"]+)"', glance)[1])
    assert "chance (the majority class) is" in glance


def test_no_tie_named_as_a_gap(page):
    """A generated sentence never sets a name against itself ('X 0.50 vs X 0.50')."""
    text = re.sub(r"<[^>]+>", " ", page["html"])
    assert not re.search(r"(\S+) ([\d.]+) (vs|,) \1 \2", text)
    assert "best vs worst" not in text


def test_ties_said_as_ties():
    show = fnum
    tie = pd.Series({"he_normal": 0.5, "zeros": 0.5, "xavier_normal": 0.501})
    assert extremes_text(tie, show, regression=False) == "every init 0.50"
    two = pd.Series({"he_normal": 0.97, "xavier_normal": 0.971, "zeros": 0.5})
    assert extremes_text(two, show, False) == (
        "best he_normal and xavier_normal (tied) 0.97, worst zeros 0.50"
    )
    many = pd.Series({f"i{k}": 0.5 for k in range(5)} | {"he_normal": 0.9})
    assert extremes_text(many, show, False) == "best he_normal 0.90, worst 5 inits (tied) 0.50"
    loss = pd.Series({"a": 0.1, "b": 2.0})
    assert extremes_text(loss, show, regression=True) == "best a 0.10, worst b 2.00"


def test_glance_classes():
    """Trained, stalled, or diverged in at least half the seeds (which wins over stalled)."""
    cells = pd.DataFrame({"n_diverged": [0, 0, 1, 2, 1], "seeds": [2, 2, 3, 3, 2],
                          "stalled": [False, True, False, True, True]})  # fmt: skip
    assert list(cell_class(cells)) == [0, 1, 0, 2, 2]
    assert np.issubdtype(cell_class(cells).dtype, np.integer)


def test_the_number_shown_is_the_one_the_verdict_turned_on():
    from initbench.report.sections.seed_claims import turning_effect

    holds = Effect("a", (-3.0, -3.1, -2.9), -1.0, False)
    fails = Effect("b", (-0.6, -0.7, -0.65), -1.0, False)
    undecided = Effect("c", (-0.5, -1.5, -1.0), -1.0, False)
    lost = seed_finding("k", "not reproduced", [holds, undecided, fails])
    assert turning_effect(lost)["label"] == "b"
    open_ = seed_finding("k", "inconclusive", [holds, undecided])
    assert turning_effect(open_)["label"] == "c"
    won = seed_finding("k", "reproduced", [holds, holds])
    assert turning_effect(won)["label"] == "a"


def test_the_seeds_markdown_and_latex_written_out():
    from initbench.report.sections.seed_claims import plain_text

    assert plain_text("the **problem of symmetric** weights") == "the problem of symmetric weights"
    assert plain_text("cost $J(\\Theta)$ and $exploding\\ gradients$") == (
        "cost J(Θ) and exploding gradients"
    )
    assert plain_text("by: $$\\sqrt{rac{2}{size^{[l-1]}}}$$") == "by: √(2/size^[l-1])"
