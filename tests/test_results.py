"""``ib.load_results``: a results directory's tables and verdicts as pandas frames."""

import numpy as np
import pandas as pd
import pytest

import initbench as ib
from initbench.cell import Cell
from initbench.effects import Effect
from initbench.findings import Finding, write_findings
from initbench.layout import Layout
from initbench.tables import PROVENANCE_COLUMNS, write_parquet

CELLS = [Cell("circles", "relu", "he_normal", "he_normal", (8,) * depth) for depth in (2, 4)]
PROVENANCE = {name: "x" for name in PROVENANCE_COLUMNS}


def rows(extra):
    """One row per (cell, seed, extra row): the cell's parameter columns, ``extra``'s
    measured ones, provenance last (the aggregate's column order)."""
    return pd.DataFrame(
        [
            {**cell.columns(), "seed": seed, **row, **PROVENANCE}
            for cell in CELLS
            for seed in cell.seeds
            for row in extra
        ]
    )


def finding(key, verdict, tier, effects):
    records = [e.as_record() for e in effects]
    return Finding(key, f"title {key}", "claim text", "source", ["overview"], [("m", "1")],
                   verdict, "rule", tier=tier, effects=records)  # fmt: skip


HOLDS = Effect("gap", (0.5, 0.6, 0.7), threshold=0.1, above=True)
UNDECIDED = Effect("ratio", (0.9, 1.4), threshold=1.0, above=False)


@pytest.fixture
def results(tmp_path):
    """The aggregate's tables (no cost, no theory) and the findings of two tiers."""
    layout = Layout(tmp_path / "results")
    layout.results.mkdir()
    write_parquet(rows([{"status": "completed"}]), layout.table("runs"))
    write_parquet(rows([{"step": s, "train_loss": 1.0 / (s + 1)} for s in (0, 10)]),
                  layout.table("curves"))  # fmt: skip
    write_parquet(rows([{"step": 0, "layer": 1, "grad_z_norm": 0.5}]), layout.table("layers"))
    studies = pd.DataFrame({"study": "overview", "cell": [cell.name for cell in CELLS]})
    write_parquet(studies, layout.table("studies"))
    quick = [finding("a", "reproduced", "quick", [HOLDS]), finding("b", "inconclusive", "quick",
                                                                   [HOLDS, UNDECIDED])]  # fmt: skip
    write_findings(quick, layout.findings)  # the findings job writes both
    write_findings(quick, layout.tier_findings("quick"))
    write_findings([finding("a", "not reproduced", "paper", [])], layout.tier_findings("paper"))
    return layout


def test_the_tables_are_the_aggregates_files(results):
    r = ib.load_results(results.results)
    for name in ("runs", "curves", "layers", "studies"):
        pd.testing.assert_frame_equal(getattr(r, name), pd.read_parquet(results.table(name)))
    assert r.cost.empty and r.theory.empty  # not written: empty, not an error
    assert len(r.runs) == sum(len(cell.seeds) for cell in CELLS)
    assert set(r.tables) == {"runs", "curves", "layers", "cost", "studies", "theory"}


def test_each_table_is_read_on_first_use(results):
    r = ib.load_results(results.results)
    assert len(r.runs) and "runs" in vars(r) and "layers" not in vars(r)


def test_lean_layers_leave_out_what_the_runs_repeat(results):
    full = ib.load_results(results.results).layers
    lean = ib.load_results(results.results, lean_layers=True).layers
    assert {"cell", "seed", "step", "layer", "grad_z_norm"} <= set(lean)
    assert {"activation", "hidden", "git_commit"} <= set(full) - set(lean)
    pd.testing.assert_frame_equal(lean, full[list(lean)])


def test_rows_of_lean_layers_carry_the_cell_parameters_asked_for(results):
    """The findings job reads the layers lean; StudyTables.rows adds the cell parameters
    from the runs table, so that a claim sees the rows and values the full table has."""
    from initbench.outcomes import StudyTables

    full = ib.load_results(results.results).tables
    lean = ib.load_results(results.results, lean_layers=True).tables
    full_rows, lean_rows = StudyTables(full, {}), StudyTables(lean, {})
    asked = ["cell", "layer", "activation", "depth", "grad_z_norm", "hidden"]
    measured = ["cell", "step", "grad_z_norm"]  # no cell parameter: the table's own columns
    for columns in (asked, measured):
        pd.testing.assert_frame_equal(
            lean_rows.rows("layers", "overview", columns=columns),
            full_rows.rows("layers", "overview", columns=columns),
        )
    everything = lean_rows.rows("layers", "overview")
    assert set(everything) == set(full["layers"]) - set(PROVENANCE_COLUMNS)
    as_full = full_rows.rows("layers", "overview")[list(everything)]
    pd.testing.assert_frame_equal(everything, as_full)
    assert lean_rows.rows("layers", "absent", columns=asked).empty


def test_one_finding_per_claim_and_tier(results):
    found = ib.load_results(results.results).findings
    assert list(found.columns[:5]) == ["key", "tier", "latest", "verdict", "title"]
    assert "effects" not in found
    by = found.set_index(["key", "tier"])
    assert sorted(by.index) == [("a", "paper"), ("a", "quick"), ("b", "quick")]
    assert by.loc[("a", "paper"), "verdict"] == "not reproduced"
    assert by["latest"].to_dict() == {("a", "quick"): True, ("b", "quick"): True,
                                      ("a", "paper"): False}  # fmt: skip
    assert by.loc[("b", "quick"), "studies"] == ["overview"]


def test_one_effect_per_row_with_its_interval_and_outcome(results):
    effects = ib.load_results(results.results).effects
    assert list(effects.columns[:10]) == ["key", "tier", "label", "estimate", "lo", "hi", "n",
                                          "threshold", "above", "outcome"]  # fmt: skip
    assert list(zip(effects["key"], effects["label"])) == [("a", "gap"), ("b", "gap"),
                                                           ("b", "ratio")]  # fmt: skip
    ratio = effects.set_index("label").loc["ratio"]
    lo, hi = UNDECIDED.interval
    assert (ratio["estimate"], ratio["lo"], ratio["hi"], ratio["n"]) == pytest.approx(
        (np.mean(UNDECIDED.values), lo, hi, 2)
    )
    assert (ratio["threshold"], ratio["above"], ratio["outcome"]) == (1.0, False, "undecided")


def test_the_last_job_wins_over_an_older_copy_of_its_tier(results):
    newer = [finding("a", "not reproduced", "quick", [])]
    write_findings(newer, results.findings)  # the tier file still holds the older verdicts
    found = ib.load_results(results.results).findings.set_index(["key", "tier"])
    assert found.loc[("a", "quick"), "verdict"] == "not reproduced"
    assert found.loc[("b", "quick"), "latest"] == np.False_


def test_without_findings_the_frames_are_empty_with_their_columns(results):
    for path in (results.findings, *results.tiers().values()):
        path.unlink()
    r = ib.load_results(results.results)
    assert r.findings.empty and list(r.findings.columns[:2]) == ["key", "tier"]
    assert r.effects.empty and "estimate" in r.effects


def test_a_missing_directory_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results directory"):
        ib.load_results(tmp_path / "nowhere")


def test_a_findings_file_of_older_results_reads_too(results):
    """Without a tier (before tiers) or a title: tier "default", the title missing."""
    results.findings.write_text('[{"key": "a", "verdict": "reproduced", "studies": []}]')
    for path in results.tiers().values():
        path.unlink()
    found = ib.load_results(results.results).findings
    assert found[["key", "tier", "latest", "verdict"]].values.tolist() == [
        ["a", "default", True, "reproduced"]
    ]
    assert found["title"].isna().all()
