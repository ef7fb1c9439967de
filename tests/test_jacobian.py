"""The hidden Jacobian at init (jacobian.py): against central differences of a NumPy forward,
exact spectra where algebra fixes them, and how the pipeline records it."""

import naive
import numpy as np
import pytest

from initbench.inits import init_params
from initbench.jacobian import JACOBIAN_COLUMNS, hidden_jacobians, jacobian_summary, rows_at_q


def hidden_map(Ws, bs, act):
    """x^1 -> x^L through the hidden-to-hidden layers, in NumPy (tests/naive.py)."""

    def f(x):
        for W, b in zip(Ws[1:-1], bs[1:-1], strict=True):
            x = naive.activation(act, W @ x + b, 0.01)[0]
        return x

    return f


@pytest.mark.parametrize("act", ["tanh", "relu", "selu", "sigmoid"])
def test_jacobian_equals_central_differences(act):
    sizes = [7, 12, 12, 12, 12, 3]
    Ws, bs = init_params("mean_field", sizes, activation=act, seed=3, sigma_w2=1.7, sigma_b2=0.1)
    X = np.random.default_rng(4).standard_normal((3, 7))
    J = hidden_jacobians(Ws, bs, act, X)
    f, h = hidden_map(Ws, bs, act), 1e-6
    for row, x in enumerate(X):
        x1 = naive.activation(act, Ws[0] @ x + bs[0], 0.01)[0]
        fd = np.stack([(f(x1 + h * e) - f(x1 - h * e)) / (2 * h) for e in np.eye(12)], axis=1)
        np.testing.assert_allclose(J[row], fd, rtol=1e-6, atol=1e-8)


def test_orthogonal_linear_net_is_an_isometry_and_gaussian_is_not():
    """Linear layers: J is the product of the weights. Orthogonal ones give every singular
    value 1 at any depth; Gaussian ones (sigma_w2 = 1) spread the spectrum."""
    sizes = [5, *[16] * 12, 2]
    X = np.ones((2, 5))
    ortho = init_params("mean_field", sizes, activation="linear", seed=0, sigma_w2=1.0,
                        weights="orthogonal")  # fmt: skip
    s = jacobian_summary(*ortho, "linear", X)
    assert s["init_jacobian_factors"] == 11
    assert s["init_jacobian_sv_q00"] == pytest.approx(1, abs=1e-12)
    assert s["init_jacobian_sv_q100"] == pytest.approx(1, abs=1e-12)
    assert s["init_jacobian_var_sq"] == pytest.approx(0, abs=1e-12)
    gauss = jacobian_summary(*init_params("mean_field", sizes, activation="linear", seed=0,
                                          sigma_w2=1.0), "linear", X)  # fmt: skip
    assert gauss["init_jacobian_sv_q100"] > 2 and gauss["init_jacobian_sv_q00"] < 0.1


def test_orthogonal_weights_keep_the_per_unit_variance():
    """weights: orthogonal draws rows of expected squared norm sigma_w2, as the Gaussian."""
    for fan_in, fan_out in [(64, 256), (256, 64), (128, 128)]:
        (W,), _ = init_params("mean_field", [fan_in, fan_out], activation="tanh", seed=1,
                              sigma_w2=1.5, weights="orthogonal")  # fmt: skip
        assert np.mean(np.sum(W**2, axis=1)) == pytest.approx(1.5, rel=1e-9)
    with pytest.raises(ValueError, match="weights must be normal or orthogonal, got 'uniform'"):
        init_params("mean_field", [4, 4], activation="tanh", sigma_w2=1.0, weights="uniform")


def test_a_diverging_init_records_nan_spectra_and_uneven_widths_are_refused():
    Ws, bs = init_params("mean_field", [4, *[8] * 400, 2], activation="linear", seed=0,
                         sigma_w2=100.0)  # fmt: skip
    s = jacobian_summary(Ws, bs, "linear", np.ones((1, 4)))
    assert set(s) == set(JACOBIAN_COLUMNS)
    assert s["init_jacobian_factors"] == 399 and np.isnan(s["init_jacobian_mean_sq"])
    Ws, bs = init_params("he_normal", [4, 8, 6, 2], activation="relu")
    with pytest.raises(ValueError, match=r"hidden layers of one width, got \[8, 6\]"):
        hidden_jacobians(Ws, bs, "relu", np.ones((1, 4)))


def test_a_cell_with_the_jacobian_probe_records_its_spectrum_per_seed():
    """The trainer measures the spectrum of each seed's initial net, before training."""
    from initbench.cell import Cell
    from initbench.datasets import load_dataset
    from initbench.settings import TrainSettings
    from initbench.trainer import initial_network, train_cell

    data = load_dataset("digits")
    cell = Cell(dataset="digits", activation="tanh", init="orthogonal", scheme="orthogonal",
                hidden=(12, 12, 12), seeds=(0, 1), training=TrainSettings(steps=2),
                probe_split="test", probe_rows=3, probe_jacobian=True)  # fmt: skip
    runs, _, _ = train_cell(cell, data)
    for seed in (0, 1):
        W, b = initial_network(cell, data, seed)
        expected = jacobian_summary(W, b, "tanh", data.X_test[:3])
        row = runs[runs["seed"].eq(seed)].iloc[0]
        assert {k: row[k] for k in JACOBIAN_COLUMNS} == pytest.approx(expected, nan_ok=True)
    plain = Cell(dataset="digits", activation="tanh", init="orthogonal", scheme="orthogonal",
                 hidden=(12, 12, 12), seeds=(0,), training=TrainSettings(steps=2))  # fmt: skip
    assert not set(JACOBIAN_COLUMNS) & set(train_cell(plain, data)[0].columns)


def test_rows_at_q_puts_each_row_at_q_and_refuses_what_biases_alone_exceed():
    Ws, bs = init_params("mean_field", [30, 40, 40, 2], activation="tanh", seed=2,
                         sigma_w2=1.3, sigma_b2=0.01)  # fmt: skip
    X = np.random.default_rng(3).standard_normal((5, 30)) * np.arange(1, 6)[:, None]
    scaled = rows_at_q(Ws[0], bs[0], X, 0.02)
    h = scaled @ Ws[0].T + bs[0]
    np.testing.assert_allclose(np.mean(h * h, axis=1), 0.02, rtol=1e-12)
    np.testing.assert_allclose(scaled / X, (scaled / X)[:, :1] * np.ones((1, 30)))  # per row
    assert np.all(scaled / X > 0)
    with pytest.raises(ValueError, match="cannot scale the probe rows to q = 1e-05"):
        rows_at_q(Ws[0], bs[0], X, 1e-5)


def test_per_row_statistics_average_each_rows_own_spectrum():
    """One row: the per-row columns equal the pooled ones. Rows at different q: the pooled
    variance holds the spread between the rows' means too, the per-row one does not."""
    Ws, bs = init_params("mean_field", [6, *[24] * 6, 2], activation="tanh", seed=0,
                         sigma_w2=1.5, sigma_b2=0.05)  # fmt: skip
    X = np.random.default_rng(1).standard_normal((3, 6)) * np.array([[0.05], [1.0], [8.0]])
    rows = [jacobian_summary(Ws, bs, "tanh", x[None]) for x in X]
    for r in rows:
        assert r["init_jacobian_row_var_sq"] == pytest.approx(r["init_jacobian_var_sq"])
        assert r["init_jacobian_row_mean_sq"] == pytest.approx(r["init_jacobian_mean_sq"])
        assert r["init_jacobian_row_spread"] == pytest.approx(
            r["init_jacobian_var_sq"] / r["init_jacobian_mean_sq"] ** 2)  # fmt: skip
        assert r["init_jacobian_q1_min"] == r["init_jacobian_q1_max"]
        assert np.isnan(r["init_jacobian_q"]) and np.isnan(r["init_jacobian_predicted_var_sq"])
    pooled = jacobian_summary(Ws, bs, "tanh", X)
    for name in ("row_var_sq", "row_mean_sq", "row_spread"):
        mean = np.mean([r[f"init_jacobian_{name}"] for r in rows])
        assert pooled[f"init_jacobian_{name}"] == pytest.approx(mean)
    assert pooled["init_jacobian_var_sq"] > pooled["init_jacobian_row_var_sq"]
    assert pooled["init_jacobian_q1_min"] < 0.1 < 10 < pooled["init_jacobian_q1_max"]


def test_at_q_star_cell_scales_its_rows_and_records_the_prediction():
    """The trainer scales every probe row of an at_q_star cell to the init's q* and records
    theory's prediction beside the measured spectrum; a cell without it keeps its rows."""
    from initbench import theory
    from initbench.cell import Cell
    from initbench.datasets import load_dataset
    from initbench.settings import TrainSettings
    from initbench.trainer import train_cell

    data = load_dataset("digits")
    base = dict(dataset="digits", activation="tanh", init="critical_orthogonal",
                scheme="critical", hidden=(16, 16, 16, 16), seeds=(0,),
                training=TrainSettings(steps=2), init_params={"sigma_b2": 1e-5,
                "weights": "orthogonal"}, probe_split="test", probe_rows=4,
                probe_jacobian=True)  # fmt: skip
    runs, _, _ = train_cell(Cell(**base, probe_at_q_star=True), data)
    row = runs.iloc[0]
    sw2, q = theory.critical_point("tanh", 1e-5)
    expected = theory.jacobian_moments("tanh", sw2, 1e-5, 3, "orthogonal")
    assert row["init_jacobian_q"] == pytest.approx(q)
    assert row["init_jacobian_q1_min"] == pytest.approx(q) == row["init_jacobian_q1_max"]
    assert row["init_jacobian_predicted_var_sq"] == pytest.approx(expected["variance"])
    assert row["init_jacobian_predicted_mean_sq"] == pytest.approx(1.0)
    assert 0 < row["init_jacobian_row_var_sq"] < 10 * expected["variance"]
    plain, _, _ = train_cell(Cell(**base), data)
    assert np.isnan(plain.iloc[0]["init_jacobian_q"])
    assert plain.iloc[0]["init_jacobian_q1_max"] > 2 * q  # digits' rows: far from q*
