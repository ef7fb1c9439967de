"""The compiled kernels against the NumPy reference and central finite differences."""

import naive
import numpy as np
import pandas as pd
import pytest
from numba import types
from problems import LOSS_OUTPUTS, make_problem

from initbench.engine.activations import ACTIVATIONS, get_activation
from initbench.engine.loop import train_loop
from initbench.engine.training import batch_order, loss_and_grads, train
from initbench.inits import init_params
from initbench.settings import TrainSettings


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_reference_and_stays_finite(name):
    act = get_activation(name)
    z = np.concatenate([np.linspace(-30, 30, 601), [-1e4, -700.0, 700.0, 1e4]])
    phi, dphi = act(z)
    ref_phi, ref_dphi = naive.activation(name, z, act.alpha)
    assert np.all(np.isfinite(phi)) and np.all(np.isfinite(dphi))
    np.testing.assert_allclose(phi, ref_phi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dphi, ref_dphi, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_is_exact(name):
    act = get_activation(name)
    z = np.linspace(-6, 6, 97) + 0.013  # avoid the kinks at 0
    h = 1e-6
    numeric = (act(z + h)[0] - act(z - h)[0]) / (2 * h)
    np.testing.assert_allclose(act(z)[1], numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradients_match_reference_and_finite_differences(name, loss):
    W, b, X, y = make_problem(loss)
    alpha = get_activation(name).alpha
    value, dW, db = loss_and_grads(W, b, X, y, activation=name, loss=loss)
    ref_value, ref_dW, ref_db = naive.loss_and_grads(W, b, X, y, name, loss, alpha)
    assert value == pytest.approx(ref_value, rel=1e-12)
    for got, ref in zip(dW + db, ref_dW + ref_db):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-13)

    rel = naive.finite_difference_mismatch(
        W + b, dW + db, lambda: naive.loss_and_grads(W, b, X, y, name, loss, alpha)[0]
    )
    assert rel < 1e-6


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize(("loss", "batch_size"), [("softmax_ce", 4), ("sigmoid_bce", 100)])
def test_training_matches_reference_sgd(loss, batch_size, momentum):
    W, b, X, y = make_problem(loss, n=20)
    steps = 25
    res = train(W, b, X, y, activation="tanh", loss=loss, lr=0.05, batch_size=batch_size,
                steps=steps, seed=3, momentum=momentum)  # fmt: skip
    order = batch_order(3, X.shape[0], min(batch_size, X.shape[0]), steps)
    ref_W, ref_b = naive.train(W, b, X, y, "tanh", loss, 0.0, 0.05, momentum, order,
                               batch_size, steps)  # fmt: skip
    assert res.status == "completed"
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    final = res.history.iloc[-1]
    assert final["step"] == steps
    assert final["train_loss"] == pytest.approx(
        naive.loss_and_grads(ref_W, ref_b, X, y, "tanh", loss, 0.0)[0], rel=1e-10
    )


@pytest.mark.parametrize("batch_size", [4, 100])
def test_weight_decay_matches_reference_sgd(batch_size):
    """L2 weight decay (settings.TrainSettings.weight_decay) as torch.optim.SGD adds it."""
    W, b, X, y = make_problem("softmax_ce", n=20)
    settings = TrainSettings(lr=0.05, batch_size=batch_size, steps=25, momentum=0.9,
                             weight_decay=0.3)  # fmt: skip
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=3, settings=settings)
    order = batch_order(3, X.shape[0], min(batch_size, X.shape[0]), 25)
    ref_W, ref_b = naive.train(W, b, X, y, "tanh", "softmax_ce", 0.0, 0.05, 0.9, order,
                               batch_size, 25, weight_decay=0.3)  # fmt: skip
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    plain = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=3, lr=0.05,
                  batch_size=batch_size, steps=25, momentum=0.9)  # fmt: skip
    assert not np.allclose(plain.weights[0], res.weights[0])  # it did something


def test_inputs_are_not_modified():
    W, b, X, y = make_problem("softmax_ce")
    copies = [a.copy() for a in W + b + [X]]
    train(W, b, X, y, activation="relu", loss="softmax_ce", lr=0.1, batch_size=3, steps=5)
    for before, after in zip(copies, W + b + [X]):
        np.testing.assert_array_equal(before, after)


def test_float32_tracks_float64():
    W, b, X, y = make_problem("softmax_ce", n=40)
    W32, b32 = [w.astype(np.float32) for w in W], [v.astype(np.float32) for v in b]
    kw = dict(activation="tanh", loss="softmax_ce", lr=0.1, batch_size=8, steps=30)
    r64 = train(W, b, X, y, **kw)
    r32 = train(W32, b32, X.astype(np.float32), y, **kw)
    assert r32.weights[0].dtype == np.float32
    for a, c in zip(r32.weights, r64.weights):
        np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-4)


def test_log_schedule_and_metrics_tables():
    W, b, X, y = make_problem("softmax_ce", n=30)
    Xt, yt = X[:10], y[:10]
    res = train(W, b, X, y, activation="sigmoid", loss="softmax_ce", lr=0.1, batch_size=8,
                steps=200, X_test=Xt, y_test=yt, log_points=20)  # fmt: skip
    steps = res.history["step"].to_numpy()
    assert steps[0] == 0 and steps[-1] == 200 and np.all(np.diff(steps) > 0)
    assert set(range(6)) <= set(steps)  # dense early
    assert res.history[["train_loss", "test_loss", "test_accuracy"]].notna().all().all()
    assert len(res.layers) == len(steps) * len(W)
    hidden = res.layers[res.layers["layer"] < len(W)]
    assert hidden["saturated_frac"].between(0, 1).all()
    assert hidden["dead_frac"].between(0, 1).all()
    assert (hidden["symmetry"] > 0).all()
    out = res.layers[res.layers["layer"] == len(W)]
    assert out["symmetry"].isna().all() and out["saturated_frac"].isna().all()


def large_normal_net(rng, sizes):
    """The course's "large random" init: W ~ N(0, 10^2), zero biases."""
    W = [rng.normal(0, 10, (o, i)) for i, o in zip(sizes, sizes[1:])]
    return W, [np.zeros(o) for o in sizes[1:]]


def test_divergence_is_recorded_not_raised():
    rng = np.random.default_rng(0)
    W, b = large_normal_net(rng, [4, 32, 32, 32, 1])
    X = rng.normal(size=(64, 4))
    y = rng.normal(size=(64, 1))
    res = train(W, b, X, y, activation="relu", loss="mse", lr=10.0, batch_size=64, steps=500)
    assert res.status == "diverged"
    assert 0 < res.diverged_step < 500
    last = res.history.iloc[-1]
    assert last["step"] == res.diverged_step
    assert not np.isfinite(last["batch_loss"]) or not np.isfinite(last["grad_norm"])


def test_sigmoid_with_large_normal_init_diverges_at_large_lr():
    rng = np.random.default_rng(1)
    W, b = large_normal_net(rng, [2, 50, 50, 50, 1])
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(float)
    kw = dict(activation="sigmoid", loss="mse", batch_size=100, steps=200)
    assert train(W, b, X, y, lr=0.1, **kw).status == "completed"
    res = train(W, b, X, y, lr=10.0, **kw)
    assert res.status == "diverged"
    assert 0 < res.diverged_step < 200
    assert len(res.history) > 1 and res.history["step"].iloc[-1] == res.diverged_step


def test_zero_init_keeps_hidden_units_identical():
    """The seed's symmetric-weights problem: zero weights never break symmetry."""
    W, b, X, y = make_problem("softmax_ce", sizes=(4, 8, 8), n=50)
    W = [np.zeros_like(w) for w in W]
    b = [np.zeros_like(v) for v in b]
    for act in ("sigmoid", "tanh", "relu"):
        res = train(W, b, X, y, activation=act, loss="softmax_ce", lr=0.5, batch_size=10,
                    steps=300)  # fmt: skip
        final = res.layers[res.layers["step"] == 300]
        assert (final[final["layer"] < len(W)]["symmetry"] == 0).all()
        for w in res.weights[:-1]:
            assert np.all(w == w[:1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(activation="tahn"), "did you mean 'tanh'"),
        (dict(loss="hinge"), "unknown loss 'hinge'"),
        (dict(lr=0.0), "lr must be a positive"),
        (dict(lr="fast"), "lr must be a positive"),
        (dict(steps=0), "steps must be a positive"),
        (dict(batch_size=-1), "batch_size must be a positive"),
        (dict(momentum=1.5), "momentum"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    W, b, X, y = make_problem("softmax_ce")
    args = dict(activation="relu", loss="softmax_ce", lr=0.1, batch_size=4, steps=3) | kwargs
    with pytest.raises(ValueError, match=match):
        train(W, b, X, y, **args)


def test_bad_data_raises_value_error_naming_it():
    W, b, X, y = make_problem("softmax_ce")
    kw = dict(activation="relu", loss="softmax_ce", lr=0.1, batch_size=4, steps=3)
    with pytest.raises(ValueError, match="X has shape"):
        train(W, b, X[:, :2], y, **kw)
    with pytest.raises(ValueError, match="y has 6 rows"):
        train(W, b, X, y[:-1], **kw)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        train(W, b, bad, y, **kw)
    with pytest.raises(ValueError, match="labels outside"):
        train(W, b, X, y + 5, **kw)
    with pytest.raises(ValueError, match=r"W\[1\] has shape"):
        train([W[0], W[1].T, W[2]], b, X, y, **kw)
    with pytest.raises(ValueError, match="X_test"):
        train(W, b, X, y, X_test=X, **kw)
    with pytest.raises(ValueError, match="X_probe has shape"):
        train(W, b, X, y, X_probe=X[:, :2], **kw)
    with pytest.raises(ValueError, match="X_probe contains NaN"):
        train(W, b, X, y, X_probe=bad, **kw)


def test_builtin_activations_share_one_compiled_training_loop():
    W, b, X, y = make_problem("softmax_ce")
    for name in ("relu", "tanh", "softplus"):
        assert isinstance(get_activation(name).selector, int)
        train(W, b, X, y, activation=name, loss="softmax_ce", lr=0.1, batch_size=4, steps=2)
    float64_builtin = [sig for sig in train_loop.overloads
                       if sig[0] == types.int64 and sig[2].dtype == types.float64]  # fmt: skip
    # one loop serves every built-in activation, plain and residual nets alike
    assert len(float64_builtin) == 1


@pytest.fixture
def plugin_tanh():
    """tanh registered from outside activations.py: a plugin, compiled on its own."""
    import math

    import initbench as ib

    @ib.activation("tanh_plugin", gain=5.0 / 3.0, bounds=(-1.0, 1.0))
    def tanh_plugin(z, alpha):
        t = math.tanh(z)
        return t, 1.0 - t * t

    yield get_activation("tanh_plugin")
    del ACTIVATIONS["tanh_plugin"]


def test_plugin_activation_trains_like_the_builtin_it_copies(plugin_tanh):
    assert plugin_tanh.selector.startswith("tanh_plugin@")
    W, b, X, y = make_problem("softmax_ce", n=20)
    kw = dict(loss="softmax_ce", lr=0.1, batch_size=4, steps=20, seed=1)
    ours = train(W, b, X, y, activation="tanh_plugin", **kw)
    builtin = train(W, b, X, y, activation="tanh", **kw)
    for got, ref in zip(ours.weights + ours.biases, builtin.weights + builtin.biases):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    columns = ["train_loss", "grad_norm"]
    np.testing.assert_allclose(ours.history[columns], builtin.history[columns], rtol=1e-12)


PROBE_COLUMNS = ["probe_act_mean", "probe_act_std", "probe_saturated_frac", "probe_dead_frac",
                 "probe_newly_dead", "probe_revived"]  # fmt: skip


@pytest.mark.parametrize(("name", "lr"), [("relu", 3.0), ("tanh", 0.5)])
def test_probe_metrics_match_numpy_at_every_logged_step(name, lr):
    """relu at lr 3 kills units and revives some: the dying-ReLU counts are exercised."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, 64)
    W, b = init_params("he_normal", [4, 16, 16, 3], activation=name, seed=0)
    X_probe = rng.normal(size=(30, 4))
    res = train(W, b, X, y, activation=name, loss="softmax_ce", lr=lr, batch_size=64, steps=40,
                log_points=40, X_probe=X_probe)  # fmt: skip
    act = get_activation(name)
    steps = res.history["step"].to_numpy()
    snapshots = [naive.train(W, b, X, y, name, "softmax_ce", act.alpha, lr, 0.0, None, 64, s)
                 for s in steps]  # fmt: skip
    expected = naive.probe_metrics(snapshots, X_probe, name, act.alpha, act.bounds)
    got = res.layers[PROBE_COLUMNS].to_numpy().reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    hidden = res.layers[res.layers["layer"] < len(W)]
    assert (hidden["probe_newly_dead"] <= hidden["probe_dead_frac"]).all()
    assert (hidden.loc[hidden["step"] == 0, ["probe_newly_dead", "probe_revived"]] == 0).all().all()
    if name == "relu":  # the case is not vacuous
        assert hidden["probe_newly_dead"].max() > 0 and hidden["probe_revived"].max() > 0


def test_probe_changes_nothing_else_and_is_nan_without_rows():
    W, b, X, y = make_problem("softmax_ce", n=30)
    kw = dict(activation="sigmoid", loss="softmax_ce", lr=0.2, batch_size=8, steps=50,
              X_test=X[:10], y_test=y[:10], momentum=0.5)  # fmt: skip
    plain, probed = train(W, b, X, y, **kw), train(W, b, X, y, X_probe=X[5:25], **kw)
    for got, ref in zip(probed.weights + probed.biases, plain.weights + plain.biases):
        np.testing.assert_array_equal(got, ref)
    pd.testing.assert_frame_equal(probed.history, plain.history)
    others = [c for c in plain.layers.columns if c not in PROBE_COLUMNS]
    pd.testing.assert_frame_equal(probed.layers[others], plain.layers[others])
    assert plain.layers[PROBE_COLUMNS].isna().all().all()
    out = probed.layers[probed.layers["layer"] == len(W)]
    assert out[PROBE_COLUMNS[:2]].notna().all().all() and out[PROBE_COLUMNS[2:]].isna().all().all()
    hidden = probed.layers[probed.layers["layer"] < len(W)]
    assert hidden[PROBE_COLUMNS].notna().all().all()
