"""`initbench advise`: the theory at a net's shape, nearby measured cells, a recommendation."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from initbench import theory
from initbench.advise import (
    TRAINABLE_DEPTHS,
    Row,
    advise,
    disagreements,
    recommend,
)
from initbench.cell import Cell
from initbench.cli import main
from initbench.datasets import load_dataset
from initbench.inits import INITS, init_params
from initbench.nearby import NEAR_DEPTH, NEAR_WIDTH
from initbench.outcomes import stalled_cells
from initbench.settings import TrainSettings
from initbench.variances import scheme_variances


def rows_of(advice):
    return {row["label"]: row for row in advice["rows"]}


def test_rows_are_the_theory_at_each_schemes_variances():
    advice = advise("tanh", 60, 128)
    rows = rows_of(advice)
    assert {name for name, s in INITS.items() if s.fn.__module__ == "initbench.inits"} == set(rows)
    sw2, q = theory.critical_point("tanh", 0.05)
    critical = rows["critical"]
    assert (critical["sigma_w2"], critical["sigma_b2"]) == (sw2, 0.05)
    assert critical["q_star"] == pytest.approx(q)
    for label, (w2, b2) in {
        "critical": (sw2, 0.05),
        "he_normal": (2.0, 0.0),
        "xavier_uniform": (1.0, 0.0),
        "torch_default": (1 / 3, 1 / 384),
        "normal": (128 * 0.01**2, 0.0),
    }.items():
        row = rows[label]
        assert row["chi1"] == theory.chi1("tanh", w2, b2)
        assert row["xi_c"] == theory.depth_scale("tanh", w2, b2)
        assert row["trainable_depth"] == TRAINABLE_DEPTHS * row["xi_c"]
        assert row["gradient_growth"] == pytest.approx(row["chi1"] ** 59)
        first = w2 + b2
        grown = theory.variance_after("tanh", w2, b2, first, 59) / first
        assert row["signal_growth"] == pytest.approx(grown)
    assert advice["results"] is None and "theory only" in advice["why"]


def test_a_critical_net_is_recommended_over_a_chaotic_one():
    """tanh with He's sigma_w2 = 2 (sb2 = 0) is chaotic: chi1 > 1, correlations settle
    within xi_c, so at 200 layers it is past its trainable depth; the critical init is not."""
    rows = rows_of(advise("tanh", 200, 64))
    chaotic, critical = rows["he_normal"], rows["critical"]
    assert chaotic["chi1"] > 1.05 and theory.correlation_fixed_point("tanh", 2.0, 0.0) < 1
    assert chaotic["trainable_depth"] < 200 and not chaotic["theory_trainable"]
    assert chaotic["gradient_growth"] > 1e6
    assert critical["chi1"] == pytest.approx(1.0, abs=1e-9)
    assert critical["trainable_depth"] == math.inf and critical["theory_trainable"]
    assert advise("tanh", 200, 64)["recommendation"] == "critical"


def test_relu_gets_he_whose_chi1_is_one():
    advice = advise("relu", 30, 64)
    he = rows_of(advice)["he_normal"]
    assert he["chi1"] == 1.0 and he["signal_growth"] == pytest.approx(1.0)
    assert advice["recommendation"] in ("he_normal", "he_uniform")


@pytest.mark.parametrize("activation", ["sigmoid", "softplus"])
def test_no_usable_critical_point_is_said(activation):
    advice = advise(activation, 10, 64)
    note = rows_of(advice)["critical"]["note"]
    assert note.startswith("no usable critical point")
    with pytest.raises(ValueError) as error:
        theory.critical_point(activation, 0.05)
    assert str(error.value) in note
    assert f"{activation} has no usable critical point" in advice["why"]


@pytest.mark.parametrize(
    "scheme",
    [
        "uniform",
        "normal",
        "xavier_uniform",
        "xavier_normal",
        "he_uniform",
        "he_normal",
        "lecun_uniform",
        "lecun_normal",
        "orthogonal",
        "truncated_normal",
        "torch_default",
        "glorot_standard",
    ],
)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_scheme_variances_are_what_the_schemes_draw(scheme, activation):
    width = 64
    W, b = [], []
    for seed in range(60):
        Ws, bs = init_params(scheme, [width, width], activation=activation, seed=seed)
        W.append(Ws[0])
        b.append(bs[0])
    sw2, sb2, _ = scheme_variances(scheme, width, activation, {})
    assert width * np.mean(np.square(W)) == pytest.approx(sw2, rel=0.02)
    assert np.mean(np.square(b)) == pytest.approx(sb2, rel=0.05, abs=1e-12)


def test_lsuv_is_mean_field_at_unit_variance():
    sw2, sb2, _ = scheme_variances("lsuv", 32, "tanh", {})
    assert theory.fixed_point_q("tanh", sw2, sb2) == pytest.approx(1.0)


# ---- evidence: a small results directory of really trained cells ----------------------


def train(cell, data):
    from initbench.trainer import train_cell

    return train_cell(cell, data)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Tanh cells on circles: three inits at depth 6 (near depth 5) and one at depth 20
    (not near), trained for real; a findings.json with one claim over the first study."""
    data = load_dataset("circles", seed=0)
    settings = TrainSettings(steps=150, lr=0.1, batch_size=32, log_points=10)
    inits = {
        "he_normal": ("he_normal", {}),
        "critical": ("critical", {}),
        "normal_small": ("normal", {"std": 0.01}),
        "mean_field": ("mean_field", {"sigma_w2": 1.76, "sigma_b2": 0.05}),  # ~ critical
    }
    cells = [
        Cell(
            "circles",
            "tanh",
            label,
            scheme,
            (16,) * 5,
            seeds=(0, 1),
            training=settings,
            init_params=params,
        )
        for label, (scheme, params) in inits.items()
    ]
    far = Cell(
        "circles", "tanh", "he_normal", "he_normal", (16,) * 19, seeds=(0,), training=settings
    )
    # near in shape, but no evidence on training an SP net: measured at init, or in muP
    at_init = Cell("circles", "tanh", "he_normal", "he_normal", (16,) * 5, seeds=(0,),
                   training=TrainSettings(steps=1, log_points=2))  # fmt: skip
    mup = Cell("circles", "tanh", "he_normal", "he_normal", (16,) * 5, seeds=(0,),
               training=TrainSettings(steps=150, lr=0.1, batch_size=32, log_points=10,
                                      parametrization="mup", base_width=8))  # fmt: skip
    tables = [train(cell, data) for cell in [*cells, far, at_init, mup]]
    out = tmp_path_factory.mktemp("results")
    runs = pd.concat([t[0] for t in tables])
    runs.to_parquet(out / "runs.parquet")
    pd.concat([t[1] for t in tables]).to_parquet(out / "curves.parquet")
    studies = pd.DataFrame(
        {"study": ["near"] * len(cells) + ["far", "other", "other"],
         "cell": [c.name for c in [*cells, far, at_init, mup]]}
    )  # fmt: skip
    studies.to_parquet(out / "studies.parquet")
    findings = [
        {"key": "claim_near", "verdict": "reproduced", "studies": ["near"]},
        {"key": "claim_far", "verdict": "not reproduced", "studies": ["far"]},
    ]
    (out / "findings.json").write_text(json.dumps(findings))
    return (
        out,
        {c.init: c.name for c in cells},
        far.name,
        runs[~runs["cell"].isin([at_init.name, mup.name])],
    )


def test_evidence_names_the_nearby_cells_and_what_they_did(results):
    out, names, far, runs = results
    advice = advise("tanh", 5, 16, results_dir=out)
    rows = rows_of(advice)
    assert advice["results"] == str(out)
    stalled = stalled_cells(runs)
    for label, init in (
        ("he_normal", "he_normal"),
        ("critical", "critical"),
        ("normal", "normal_small"),
    ):
        row = rows[label]
        assert names[init] in row["cells"]  # not the depth-20, 1-step or muP cells:
        assert set(row["cells"]) <= set(names.values())
        assert row["trained"] == sum(not stalled[cell] for cell in row["cells"])
        assert row["claims"] == ["claim_near: reproduced"]
    assert far not in {c for row in rows.values() for c in row["cells"]}
    assert 5 * NEAR_DEPTH < 20 and 16 * NEAR_WIDTH >= 16
    # the far cell is near a depth-20 net, and brings its own claim
    deep = rows_of(advise("tanh", 20, 16, results_dir=out))["he_normal"]
    assert deep["cells"] == [far] and deep["claims"] == ["claim_far: not reproduced"]


def test_cells_with_the_same_variances_are_evidence_for_each_other(results):
    """mean_field at sigma_w2 = 1.76, sigma_b2 = 0.05 is the critical init of tanh, to 0.05%."""
    out, names, *_ = results
    rows = rows_of(advise("tanh", 5, 16, results_dir=out))
    both = sorted([names["critical"], names["mean_field"]])
    assert rows["critical"]["cells"] == both
    assert rows["mean_field sigma_b2=0.05 sigma_w2=1.76"]["cells"] == both
    assert names["mean_field"] not in rows["he_normal"]["cells"]


def test_evidence_of_another_activation_is_not_used(results):
    out, *_ = results
    advice = advise("relu", 5, 16, results_dir=out)
    assert all(not row["cells"] for row in advice["rows"])
    assert "no cells nearby were measured" in advice["why"]


def row(label, chi1, depth, cells=(), trained=0, scheme=None):
    r = Row(
        scheme or label,
        {},
        label,
        sigma_w2=1.0,
        sigma_b2=0.0,
        q_star=1.0,
        chi1=chi1,
        xi_c=math.inf if chi1 == 1 else 1 / abs(math.log(chi1)),
        depth_needed=depth,
        signal_growth=1.0,
        gradient_growth=chi1 ** (depth - 1),
        cells=list(cells),
        trained=trained,
    )
    r.trainable_depth = TRAINABLE_DEPTHS * r.xi_c
    return r


def test_the_why_says_when_theory_and_measurements_disagree():
    rows = [
        row("a", 1.0, 30, cells=["a1", "a2"], trained=0),
        row("b", 1.3, 30, cells=["b1", "b2"], trained=2),
    ]
    choice, why = recommend(rows, "tanh", has_results=True)
    assert choice.label == "b" and why.startswith("theory and measurements disagree")
    assert "0 of 2" in why and "2 of 2" in why
    rows[0].trained = 2
    choice, why = recommend(rows, "tanh", has_results=True)
    assert choice.label == "a" and "agree" in why and "disagree" not in why


def test_rows_whose_cells_contradict_their_trainable_depth_are_named():
    deep = row("deep", 1.2, 60, cells=["x1", "x2"], trained=2)  # 6 xi_c = 33: 60 < 2 x 33
    assert disagreements([deep]) == []
    deeper = row("deeper", 1.5, 60, cells=["y1"], trained=1)  # 6 xi_c = 14.8
    shallow = row("shallow", 1.0, 60, cells=["z1", "z2"], trained=0)  # any depth
    assert [d.split(" (")[0] for d in disagreements([deep, deeper, shallow])] == [
        "deeper",
        "shallow",
    ]
    _, why = recommend([deep, deeper, shallow], "tanh", has_results=True)
    assert "theory and measurements disagree on deeper (trained beyond" in why


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--activation", "tahn"], "unknown activation 'tahn' (did you mean 'tanh'?)"),
        (["--depth", "0"], "--depth must be an integer >= 2"),
        (["--width", "-3"], "--width must be an integer >= 1"),
        (["--residual"], "--residual: advise has no theory for residual nets yet"),
        (["--norm", "layer"], "--norm: advise has no theory for normalized nets yet"),
        (["--parametrization", "mup"], "base_width: parametrization mup needs a base_width > 0"),
        (["--results", "/nonexistent/x"], "--results: no such directory"),
    ],
)
def test_bad_input_is_one_line(capsys, args, message):
    base = ["advise", "--activation", "tanh", "--depth", "10", "--width", "32"]
    with pytest.raises(SystemExit) as stop:
        main(base + args)  # a repeated option: the last one counts
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_command_prints_a_table_or_json(results, capsys, tmp_path, monkeypatch):
    out, names, *_ = results
    monkeypatch.chdir(tmp_path)  # no results/ here: the second call is theory only
    main(["advise", "--activation", "tanh", "--depth", "5", "--width", "16", "--results", str(out)])
    text = capsys.readouterr().out
    assert "recommendation:" in text and "why:" in text and names["critical"] in text
    main(["advise", "--activation", "tanh", "--depth", "5", "--width", "16", "--json"])
    advice = json.loads(capsys.readouterr().out)
    assert advice["results"] is None and len(advice["rows"]) >= 16


PLUGIN = """
import math

import initbench as ib


@ib.layer_init("quarter_he_advise")
def quarter_he(rng, fan_out, fan_in, *, activation, scale=0.5):
    return rng.normal(0.0, scale * math.sqrt(2.0 / fan_in), (fan_out, fan_in))
"""


def test_a_plugin_scheme_the_config_names_gets_a_row(tmp_path, monkeypatch, capsys):
    (tmp_path / "advise_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {
        "plugins": ["advise_plugin"],
        "datasets": {"circles": {}},
        "inits": {"quarter": {"scheme": "quarter_he_advise", "scale": 0.5}},
        "studies": {"s": {"datasets": ["circles"], "activations": ["tanh"],
                          "inits": ["quarter"], "depths": [3], "widths": [8]}},
    }  # fmt: skip
    (tmp_path / "plugin.yaml").write_text(json.dumps(config))  # JSON is YAML
    main(["advise", "--activation", "tanh", "--depth", "10", "--width", "64", "--json",
          "--configfile", str(tmp_path / "plugin.yaml")])  # fmt: skip
    row = rows_of(json.loads(capsys.readouterr().out))["quarter_he_advise scale=0.5"]
    assert row["sigma_w2"] == pytest.approx(0.25 * 2, rel=0.01)  # (0.5 x He's gain)^2
    assert row["note"] == "estimated from drawn layers"
    assert row["chi1"] == theory.chi1("tanh", row["sigma_w2"], row["sigma_b2"])


def test_parametrization_adds_its_multipliers(capsys):
    """mup at 4x its base width: the readout's init std halves, Adam's hidden lr is a
    quarter, SGD's input lr four times (parametrizations.multipliers, TP5 Table 3)."""
    main(["advise", "--activation", "relu", "--depth", "4", "--width", "256",
          "--parametrization", "mup", "--base-width", "64", "--json"])  # fmt: skip
    rows = {(r["optimizer"], r["layers"]): r
            for r in json.loads(capsys.readouterr().out)["parametrization"]["rows"]}  # fmt: skip
    assert rows[("sgd", "readout")]["init_std"] == rows[("adam", "readout")]["init_std"] == 0.5
    assert rows[("adam", "hidden")]["lr_weights"] == 0.25
    assert (
        rows[("sgd", "input")]["lr_weights"] == 4.0 and rows[("sgd", "hidden")]["lr_weights"] == 1
    )
    main(["advise", "--activation", "relu", "--depth", "4", "--width", "256", "--json"])
    assert json.loads(capsys.readouterr().out)["parametrization"] is None
