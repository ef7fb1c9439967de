"""The results layout: the paths existing results hold, spelled once, in the rules too."""

from pathlib import Path

import pytest
from conftest import ROOT

from initbench.layout import TABLE_NAMES, Layout


def test_the_paths_are_those_existing_results_hold():
    """Results written before layout.py must stay readable: these paths may not move."""
    layout = Layout()
    assert str(layout.dataset("circles")) == "results/data/circles.npz"
    assert str(layout.warmup("builtin+residual", "float64")) == (
        "results/jit/builtin+residual-float64.done"
    )
    assert [str(p) for p in layout.cell_tables("c1")] == [
        f"results/measured/c1/{kind}.arrow" for kind in ("runs", "curves", "layers")
    ]
    assert str(layout.batch("relu-float64-00")) == "results/batches/relu-float64-00.json"
    assert [str(layout.table(name)) for name in TABLE_NAMES] == [
        f"results/{name}.parquet" for name in TABLE_NAMES
    ]
    assert str(layout.findings) == "results/findings.json"
    assert str(layout.tier_findings("paper")) == "results/findings-paper.json"
    assert str(layout.claim_figures) == "results/findings"
    assert str(layout.sections) == "results/report/sections.json"
    assert [str(layout.page), str(layout.page_figures), str(layout.page_claim_figures)] == [
        "report/index.html", "report/figures", "report/findings"
    ]  # fmt: skip


def test_wildcards_pass_through_for_the_rules():
    assert str(Layout().dataset("{dataset}")) == "results/data/{dataset}.npz"


def test_an_unknown_table_is_named():
    with pytest.raises(ValueError, match="'run'"):
        Layout().table("run")


def test_tiers_on_disk(tmp_path):
    layout = Layout(tmp_path)
    for tier in ("quick", "paper"):
        layout.tier_findings(tier).write_text("[]")
    layout.findings.write_text("[]")  # the latest job's: no tier in its name
    assert layout.tiers() == {"paper": layout.tier_findings("paper"),
                              "quick": layout.tier_findings("quick")}  # fmt: skip


def test_the_rules_spell_no_path_of_their_own():
    """Every results/ and report/ path of the workflow comes from the Layout."""
    files = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
    spelled = {
        path.name: line.strip()
        for path in files
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith("#") and ('"results' in line or '"report/' in line)
    }
    assert not spelled
    assert Path(ROOT / "rules" / "common.smk").read_text().count("Layout()") == 1
