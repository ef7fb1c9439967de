"""The HTML report from a few tiny trained cells: sections, figures, escaping, offline links."""

import os
import re

import pandas as pd
import pytest
from report_pages import (
    CONFIG,
    MAX_PNG_BYTES,
    SCRIPT,
    SECTION_IDS,
    Links,
    embedded_png,
    write_fake_findings,
    write_results,
)

import initbench as ib
from initbench.cell import Cell
from initbench.findings import Finding, write_findings
from initbench.provenance import provenance
from initbench.report import build_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    names = write_results(root / "results")
    n_runs = len(pd.read_parquet(root / "results" / "runs.parquet"))
    findings = write_fake_findings(root / "results", n_runs)
    out = build_report(
        root / "results", findings, root / "report" / "index.html", CONFIG, log=lambda m: None
    )
    html = out.read_text(encoding="utf-8")
    links = Links()
    links.feed(html)
    return {"root": root, "html": html, "links": links, "names": names, "out": out}


def test_layer_rows_come_through_the_findings_mechanism(report):
    """The report's layer rows (each with its cell's init label, activation, depth and
    dataset) come through StudyTables.cell_rows, as the findings' do: equal from a lean
    table and a full one, in the table's row order; a cell the report does not know is an
    error, not a silently dropped row."""
    from initbench.report.base import Report

    results = report["root"] / "results"
    full = ib.load_results(results).tables
    lean = ib.load_results(results, lean_layers=True).tables
    reports = [
        Report(tables, CONFIG, report["root"], log=lambda _: None) for tables in (full, lean)
    ]
    names = reports[0].cells.index[:3]
    got = [r.layer_rows(names, ["grad_z_norm"]) for r in reports]
    pd.testing.assert_frame_equal(got[1], got[0])
    assert list(got[0]) == ["cell", "seed", "step", "layer", "grad_z_norm", "variant",
                            "activation", "depth", "dataset"]  # fmt: skip
    layers = full["layers"]
    assert got[0].index.equals(layers.index[layers["cell"].isin(names)])
    by_cell = reports[0].cells.loc[got[0]["cell"]]
    for column in ("variant", "activation", "depth", "dataset"):
        assert (got[0][column].to_numpy() == by_cell[column].to_numpy()).all()
    reports[1].cells = reports[1].cells.drop(names[0])
    with pytest.raises(KeyError, match="layers table"):
        reports[1].layer_rows(names, ["grad_z_norm"])


def test_every_section_and_contents_entry(report):
    ids = report["links"].ids
    for sid in SECTION_IDS:
        assert sid in ids
        assert f'href="#{sid}"' in report["html"]
    anchors = [h[1:] for h in report["links"].hrefs if h.startswith("#")]
    assert anchors and all(a in ids for a in anchors)


def test_figures_embedded(report):
    """Every figure is in the page itself, so index.html can be mailed alone; the copies
    beside it are the same images, and no image bloats the page."""
    srcs = report["links"].srcs
    assert len(srcs) >= 8
    embedded = [embedded_png(src) for src in srcs]
    assert all(1000 < len(png) < MAX_PNG_BYTES for png in embedded)
    out_dir = report["out"].parent
    on_disk = {p.read_bytes() for d in ("figures", "findings") for p in (out_dir / d).glob("*.png")}
    assert on_disk == set(embedded)
    assert report["out"].stat().st_size < 1.4 * sum(map(len, embedded)) + 2_000_000
    assert not list(out_dir.glob(".*.tmp*"))
    assert sorted(p.name for p in out_dir.iterdir()) == ["figures", "findings", "index.html"]


def test_offline_and_escaped(report):
    html = report["html"]
    for url in report["links"].srcs + report["links"].hrefs:
        assert not url.lower().startswith(("http:", "https:", "//")), url
    assert "<link" not in html  # no external stylesheet
    assert "<script src" not in html
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(" in html  # the config is shown, escaped
    assert "He keeps <b>" not in html and "He keeps &lt;b&gt;variance&lt;/b&gt;" in html


def test_findings_rendered(report):
    html = report["html"]
    for verdict in ("reproduced", "not-reproduced", "inconclusive"):
        assert f'class="badge v-{verdict}"' in html
    assert "He et al. 2015" in html and "ratio within [0.5, 2]" in html
    assert "<td>gradient ratio</td>" in html and ">0.93<" in html
    assert 'id="finding-he"' in html and 'alt="He init trains deep ReLU nets"' in html
    assert "Fake figure over 10 runs" in html
    assert "No findings:" not in html


def test_other_tiers_and_disagreements(tmp_path):
    """A report built on the default tier shows the paper tier's verdicts and where the
    two tiers disagree."""
    results = tmp_path / "results"
    write_results(results)
    default = write_fake_findings(results, 10)
    paper = [
        Finding("he", "He", "c", "s", ["overview"], [], "not reproduced", "r", tier="paper",
                budget={"steps": [12000]}),
        Finding("zeros", "Z", "c", "s", ["overview"], [], "not reproduced", "r", tier="paper"),
    ]  # fmt: skip
    write_findings(paper, results / "findings-paper.json")
    out = build_report(results, default, tmp_path / "r" / "index.html", CONFIG, log=lambda m: 0)
    html = out.read_text(encoding="utf-8")
    assert html.count("The tiers disagree.") == 1  # he: reproduced here, not in the paper tier
    assert "steps 12000" in html and "the default tier:" in html
    # flagged at the top, before the first claim, naming both tiers' verdicts
    top = html.index("The tiers disagree on 1 claim:")
    assert top < html.index('id="finding-he"')
    assert "default reproduced; paper not reproduced" in html


def test_effects_beside_the_verdict(tmp_path):
    """Each effect's estimate, 95% interval and seeds are shown next to its verdict."""
    from initbench.effects import Effect

    results = tmp_path / "results"
    write_results(results)
    gap = Effect("He minus Xavier, accuracy gain", (0.35, 0.37, 0.36), 0.25, True)
    noisy = Effect("Xavier gain in the window", (0.0, 0.06, 0.03), 0.02, False)
    found = Finding("he", "He", "c", "s", ["overview"], [], "inconclusive", "r",
                    effects=[gap.as_record(), noisy.as_record()])  # fmt: skip
    write_findings([found], results / "findings.json")
    quick = Finding("he", "He", "c", "s", ["overview"], [], "inconclusive", "r", tier="quick")
    write_findings([quick], results / "findings-quick.json")
    out = build_report(results, results / "findings.json", tmp_path / "r" / "index.html", CONFIG,
                       log=lambda m: 0)  # fmt: skip
    html = out.read_text(encoding="utf-8")
    lo, hi = gap.interval
    assert f"[{lo:.3g}, {hi:.3g}]" in html and "He minus Xavier, accuracy gain" in html
    assert "(about " in html and "seeds would decide)" in html  # the undecided one
    # the verdict list names the effect the verdict turns on: the undecided one
    assert "Xavier gain in the window: 0.03 [" in html
    assert "agree on every claim" in html  # default and quick: inconclusive is no disagreement


def test_content_from_the_tables(report):
    html = report["html"]
    for name in report["names"]:
        assert name in html  # the all-cells table lists every cell
    diverged = report["names"][3]
    assert "stopped on a non-finite loss or gradient" in html
    assert html.count(diverged) >= 2  # divergence table and all-cells table
    assert 'id="cells-table"' in html and 'data-table="cells-table"' in html  # filter box
    assert "teacher: train loss &lt;=" in html  # regression target for steps to target
    assert "Peak resident memory" in html and "spent on a core" in html
    # the overview: its training, the plateau check over its cells, best against a tuned MLP
    assert "Trained 30 steps with optimizer sgd" in html
    assert re.search(
        r"Plateau check: \d+ of \d+ cells \(\d+\.\d%\) changed class between step \d+ and", html
    )
    assert 'id="overview-reference"' not in html  # width 8: not held to a width-32 MLP


@pytest.mark.parametrize("kinds", [("runs", "curves", "layers"), ("runs", "curves")])
def test_missing_findings_and_sparse_results(tmp_path, kinds):
    """Without findings.json, and without studies, cost (or layers), it still renders."""
    results = tmp_path / "results"
    results.mkdir()
    circles = ib.load_dataset("circles", seed=0, n_train=60, n_test=30)
    cell = Cell("circles", "relu", "he_normal", "he_normal", (4,), (0,),
                ib.TrainSettings(steps=5, lr=0.1, batch_size=16, log_points=3))  # fmt: skip
    for kind, table in zip(("runs", "curves", "layers"), ib.train_cell(cell, circles)):
        if kind in kinds:
            table = table.assign(**provenance(), threads=1, config_hash="x")
            table.to_parquet(results / f"{kind}.parquet")
    stale = tmp_path / "r" / "figures" / "stale.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    out = build_report(results, results / "findings.json", tmp_path / "r" / "index.html", {},
                       log=lambda message: None)  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "No findings:" in html
    assert "No cost table" in html
    assert "No run produced inf or NaN" in html
    assert ("layers table is missing" in html) == ("layers" not in kinds)
    assert not stale.exists()  # figures/ holds this build's figures only
    links = Links()
    links.feed(html)
    for sid in SECTION_IDS:
        assert sid in links.ids
    assert links.srcs
    for src in links.srcs:
        embedded_png(src)


def test_each_effect_appears_once_in_the_findings_block(tmp_path):
    """A findings.json written before effects left the measured rows still shows each
    effect once: in the effects table, not again as a measured row."""
    from initbench.effects import Effect
    from initbench.report.sections import findings as findings_section

    gap = Effect("He minus Xavier, accuracy gain", (0.35, 0.37, 0.36), 0.25, True)
    measured = [("cells", "4"), (gap.label, gap.text())]
    found = Finding(
        "he",
        "He",
        "c",
        "s",
        ["overview"],
        measured,
        "reproduced",
        "r",
        effects=[gap.as_record()],
        quote="A sentence.",
        seed=True,
    )
    write_findings([found], tmp_path / "findings.json")
    (item,) = findings_section.build(tmp_path / "findings.json", tmp_path)["items"]
    assert item["measured"] == [("cells", "4")]
    assert [e["label"] for e in item["effects"]] == [gap.label]
    assert (item["quote"], item["seed"]) == ("A sentence.", True)


def test_the_overview_holds_its_best_cell_per_dataset_to_a_tuned_mlp():
    from types import SimpleNamespace

    from initbench.baselines import MLP_REFERENCE_WIDTH, MLP_REFERENCES
    from initbench.report.sections.overview import best_against_reference

    cells = pd.DataFrame({
        "dataset": ["digits", "digits", "mnist1d", "mnist1d"],
        "activation": ["relu", "tanh", "relu", "relu"],
        "variant": ["he_normal"] * 4,
        "depth": [2, 5, 2, 2],
        "width": [MLP_REFERENCE_WIDTH] * 3 + [2 * MLP_REFERENCE_WIDTH],
        "test_acc": [0.5, 0.9, 0.55, 0.99],
    })  # fmt: skip
    r = SimpleNamespace(dataset_order=["digits", "mnist1d"], ordered=lambda v, order: order)
    section = {"intro": [], "tables": []}
    best_against_reference(r, section, cells)
    rows = {row[0]["text"]: row for row in section["tables"][0]["rows"]}
    assert rows["digits"][1]["text"] == "tanh, he_normal, depth 5"
    assert rows["digits"][4]["v"] == pytest.approx(100 * (0.9 - MLP_REFERENCES["digits"].accuracy))
    assert rows["mnist1d"][2]["v"] == 0.55  # the wider cell is not held to a width-32 MLP
    assert "Greydanus" in rows["mnist1d"][5]["text"]


def imported_along(module, watched):
    """Which of ``watched`` a fresh process has loaded once it imported ``module``."""
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in {watched!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_page_imports_nothing_that_draws_or_computes():
    """The page is the pipeline's last job, run as a thread of Snakemake's process: its
    module must not pull in matplotlib, seaborn, SciPy, Numba or the claims (2 s of imports
    for 0.07 s of work, when it did)."""
    watched = ("matplotlib", "seaborn", "scipy", "numba", "initbench.findings",
               "initbench.report.build")  # fmt: skip
    assert imported_along("initbench.report.page", watched) == "[]"


def test_the_sections_process_imports_the_report_alone():
    """The report's sections are drawn in a process of their own, beside the findings and
    on the quick study's longest path: it imports matplotlib and pandas, not seaborn
    (SciPy's stats with it, 0.6 s), the plan or Numba (the pipeline's jobs, 0.2 s more)."""
    watched = ("seaborn", "scipy", "numba", "initbench.jobs", "initbench.plan",
               "initbench.findings")  # fmt: skip
    assert imported_along("initbench.report.build", watched) == "[]"


def test_the_findings_process_imports_the_claims_alone():
    """The findings are judged in a process of their own, beside the sections: it imports
    the claims (seaborn, SciPy), not the pipeline's jobs, the plan or Numba."""
    watched = ("numba", "initbench.jobs", "initbench.plan", "initbench.report.build")
    assert imported_along("initbench.findings.base", watched) == "[]"


def test_the_figure_style_is_seaborns():
    """plotting's style is seaborn's whitegrid at the paper context (font_scale 1.25),
    written out so that the sections need not import seaborn; here it is checked against
    seaborn's own values, but for image.cmap (a colormap seaborn registers on import)."""
    import seaborn as sns

    from initbench.plotting import SEABORN_WHITEGRID_PAPER

    seaborns = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=1.25)}
    assert seaborns.pop("image.cmap") == "rocket"
    assert SEABORN_WHITEGRID_PAPER.keys() == seaborns.keys()
    for key, value in seaborns.items():
        expected = pytest.approx(value, rel=1e-12) if type(value) is float else value
        assert SEABORN_WHITEGRID_PAPER[key] == expected, key


def test_sections_drawn_side_by_side_equal_those_drawn_in_one_process(
    report, tmp_path, monkeypatch
):
    """The report's sections are drawn by two processes (build.SECTION_PROCESSES): the
    sections' JSON and every figure's bytes are those of one process drawing them all."""
    from initbench import processes
    from initbench.report import build

    monkeypatch.setattr(processes, "usable_cpus", lambda: 2)  # the fork, on any machine
    drawn = {}
    for count in (1, 2):
        monkeypatch.setattr(build, "SECTION_PROCESSES", count)
        out = tmp_path / str(count)
        build.build_sections(report["root"] / "results", CONFIG, out / "figures",
                             out / "sections.json", log=lambda m: None)  # fmt: skip
        figures = {p.name: p.read_bytes() for p in (out / "figures").glob("*.png")}
        drawn[count] = ((out / "sections.json").read_text(encoding="utf-8"), figures)
    assert drawn[1][1] and drawn[1] == drawn[2]
    assert sorted(build.DRAWING_ORDER) == sorted(sid for sid, *_ in build.SECTIONS)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_fork_parses_mathtext_with_fonts_of_its_own():
    """A fork (processes.side_by_side draws sections in one) must not reuse its parent's
    cached mathtext parses: their fonts read through file descriptors the two share, and
    glyphs both load at once came back corrupt. plotting empties that cache in a fork."""
    from matplotlib.mathtext import MathTextParser
    from matplotlib.textpath import TextPath

    import initbench.plotting  # noqa: F401  (registers the fork hook)

    TextPath((0, 0), "$✕$")  # the overview's marker, parsed and cached here
    assert MathTextParser._parse_cached.cache_info().currsize >= 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.write(write_end, str(MathTextParser._parse_cached.cache_info().currsize).encode())
        os._exit(0)
    os.close(write_end)
    in_child = int(os.read(read_end, 32))
    os.close(read_end)
    os.waitpid(pid, 0)
    assert in_child == 0 and MathTextParser._parse_cached.cache_info().currsize >= 1
