"""Optimizers, lr schedules and parametrizations against the NumPy reference (float64).

The kernels' per-element formulas (engine/optimizers.py) are written again in
``naive.train`` after torch.optim's SGD, Adam and AdamW; the parametrizations' multipliers
are checked against Tensor Programs V's Table 3, entry by entry.
"""

import math

import naive
import numpy as np
import pytest
from problems import make_problem

import initbench as ib
from initbench.engine import training
from initbench.engine.checks import check_kernel_choices
from initbench.engine.many import train_many
from initbench.engine.optimizers import scheduled_lr
from initbench.engine.training import batch_order, train
from initbench.parametrizations import init_multipliers, lr_scales, multipliers
from initbench.settings import (
    DEPTH_ALPHA,
    KERNEL_ROW,
    OPTIMIZERS,
    PARAMETRIZATIONS,
    SCHEDULES,
    TrainSettings,
)

TIGHT = dict(rtol=1e-10, atol=1e-12)

CASES = {
    "sgd-nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "sgd-l2-step": dict(
        lr=0.1, momentum=0.5, weight_decay=0.01, schedule="step", decay_every=7, decay_factor=0.5
    ),
    "adam": dict(optimizer="adam", lr=0.01),
    "adam-l2-betas": dict(
        optimizer="adam", lr=0.02, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.05
    ),
    "adamw-cosine-warmup": dict(
        optimizer="adamw", lr=0.01, weight_decay=0.1, schedule="cosine", warmup_steps=5
    ),
    "sgd-warmup": dict(lr=0.1, warmup_steps=10),
    "sgd-mup": dict(lr=0.05, parametrization="mup", base_width=3),
    "adam-mup": dict(optimizer="adam", lr=0.01, parametrization="mup", base_width=3),
    "sgd-ntk": dict(lr=0.05, momentum=0.9, parametrization="ntk", base_width=3),
    "adamw-ntk": dict(
        optimizer="adamw", lr=0.01, weight_decay=0.1, parametrization="ntk", base_width=3
    ),
}
SCHEDULE_KEYS = ("schedule", "warmup_steps", "decay_every", "decay_factor")
# What a choice needs besides its name to train; a choice not listed trains on the defaults.
NEEDS = {"step": dict(decay_every=7, decay_factor=0.5)}


def reference(W, b, X, y, loss, settings, seed, activation="tanh"):
    """naive.train with ``settings`` (a TrainSettings)."""
    s = settings
    order = batch_order(seed, X.shape[0], min(s.batch_size, X.shape[0]), s.steps)
    sizes = [X.shape[1], *(w.shape[0] for w in W)]
    return naive.train(
        W, b, X, y, activation, loss, 0.0, s.lr, s.momentum, order, s.batch_size, s.steps,
        weight_decay=s.weight_decay, optimizer=s.optimizer, nesterov=s.nesterov, beta1=s.beta1,
        beta2=s.beta2, eps=s.eps,
        lr_scale=lr_scales(s.parametrization, s.optimizer, sizes, s.base_width),
        **{k: getattr(s, k) for k in SCHEDULE_KEYS},
    )  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("loss", "batch_size"), [("softmax_ce", 4), ("mse", 100)])
def test_training_matches_reference(case, loss, batch_size):
    """N steps of each optimizer, schedule and parametrization equal the reference's N."""
    W, b, X, y = make_problem(loss, sizes=(4, 6, 5), n=20)
    settings = TrainSettings(steps=30, batch_size=batch_size, **CASES[case])
    res = train(W, b, X, y, activation="tanh", loss=loss, seed=3, settings=settings)
    ref_W, ref_b = reference(W, b, X, y, loss, settings, seed=3)
    assert res.status == "completed"
    for got, ref in zip(res.weights + res.biases, ref_W + ref_b):
        np.testing.assert_allclose(got, ref, **TIGHT)
    assert not np.allclose(res.weights[0], W[0])  # it trained


def trained_with(**values):
    """Weights and biases after 20 minibatch steps with ``values``, and the reference's."""
    W, b, X, y = make_problem("softmax_ce", sizes=(4, 6, 5), n=20)
    settings = TrainSettings(steps=20, batch_size=4, **values)
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=1, settings=settings)
    assert res.status == "completed"
    ref_W, ref_b = reference(W, b, X, y, "softmax_ce", settings, seed=1)
    return res.weights + res.biases, ref_W + ref_b


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_matches_reference(optimizer):
    """Each value of OPTIMIZERS, with weight decay (which Adam and AdamW apply apart), steps
    as the reference does, and as no other optimizer does: none runs as another."""

    def run(name):
        return trained_with(optimizer=name, lr=0.02, weight_decay=0.05, **NEEDS.get(name, {}))

    got, ref = run(optimizer)
    for a, r in zip(got, ref):
        np.testing.assert_allclose(a, r, **TIGHT)
    for other in set(OPTIMIZERS) - {optimizer}:
        assert not np.allclose(got[0], run(other)[0][0], rtol=1e-6, atol=0), other


# of plain nets: depth_mup and completep scale residual blocks (tests/test_depth.py)
WIDTH_PARAMETRIZATIONS = [p for p in PARAMETRIZATIONS if p not in DEPTH_ALPHA]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("parametrization", WIDTH_PARAMETRIZATIONS)
def test_every_schedule_matches_reference(schedule, parametrization):
    """Each value of SCHEDULES (after a warm-up) gives the reference's lr at every step,
    and a sequence no other schedule gives; training with it matches the reference."""
    steps = 20
    lrs = {}
    for name in SCHEDULES:
        kw = dict(schedule=name, warmup_steps=3, **NEEDS.get(name, {}))
        row = np.array(TrainSettings(steps=steps, lr=0.3, **kw).kernel_row())
        lrs[name] = [scheduled_lr(row, s, steps) for s in range(steps + 1)]
        ref = [naive.scheduled_lr(0.3, s, steps, **kw) for s in range(steps + 1)]
        np.testing.assert_allclose(lrs[name], ref, rtol=1e-14, atol=1e-15)
    assert all(lrs[schedule] != lrs[other] for other in set(SCHEDULES) - {schedule})
    base = {} if parametrization == "sp" else dict(base_width=3)
    kw = dict(schedule=schedule, warmup_steps=3, parametrization=parametrization, **base)
    got, ref = trained_with(lr=0.1, **kw, **NEEDS.get(schedule, {}))
    for a, r in zip(got, ref):
        np.testing.assert_allclose(a, r, **TIGHT)


@pytest.mark.parametrize("name", ["optimizer", "schedule"])
def test_a_choice_without_a_kernel_branch_stops_before_anything_compiles(name, monkeypatch):
    """A value the settings would take but no kernel runs (as a new value added to
    settings.OPTIMIZERS without its branch) stops with the setting, the value and the
    values the kernels run; so does any unknown value given to train."""
    unknown = TrainSettings()
    object.__setattr__(unknown, name, "new")  # as if the settings had accepted it
    with pytest.raises(ValueError, match=rf"^{name} 'new' has no kernel branch.*run \w+, \w+"):
        check_kernel_choices(unknown)

    def compiled(*args):
        raise AssertionError("a kernel was called")

    monkeypatch.setattr(training, "call_specialised", compiled)
    W, b, X, y = make_problem("softmax_ce")
    choices = ", ".join(OPTIMIZERS if name == "optimizer" else SCHEDULES)
    with pytest.raises(ValueError, match=rf"^{name} must be one of {choices}, got 'new'"):
        train(W, b, X, y, activation="relu", loss="softmax_ce", **{name: "new"})
    monkeypatch.setattr(TrainSettings, "of", classmethod(lambda cls, *args, **kw: unknown))
    with pytest.raises(ValueError, match=rf"^{name} 'new' has no kernel branch"):
        train(W, b, X, y, activation="relu", loss="softmax_ce")


@pytest.mark.parametrize(
    "schedule",
    [dict(), dict(schedule="step", decay_every=4, decay_factor=0.3), dict(schedule="cosine"),
     dict(schedule="cosine", warmup_steps=6), dict(warmup_steps=3),
     dict(schedule="step", decay_every=5, warmup_steps=2)],
)  # fmt: skip
def test_schedule_matches_reference(schedule):
    steps = 20
    settings = TrainSettings(steps=steps, lr=0.3, **schedule)
    row = np.array(settings.kernel_row())
    got = [scheduled_lr(row, s, steps) for s in range(steps + 1)]
    ref = [naive.scheduled_lr(0.3, s, steps, **schedule) for s in range(steps + 1)]
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-15)
    if not schedule:
        assert got == [0.3] * (steps + 1)  # exactly the lr: plain runs keep their numbers


def test_schedules_have_their_shape():
    steps = 100
    lrs = {name: [scheduled_lr(np.array(TrainSettings(steps=steps, lr=1.0, **kw).kernel_row()),
                               s, steps) for s in range(steps + 1)]
           for name, kw in {"cosine": dict(schedule="cosine", warmup_steps=10),
                            "step": dict(schedule="step", decay_every=30)}.items()}  # fmt: skip
    cosine, step = lrs["cosine"], lrs["step"]
    assert cosine[0] == pytest.approx(0.1) and cosine[9] == pytest.approx(1.0)
    assert cosine[10] == 1.0 and cosine[55] == pytest.approx(0.5) and cosine[100] == 0.0
    assert step[29] == 1.0 and step[30] == pytest.approx(0.1) and step[99] == pytest.approx(1e-3)


def test_adam_update_ratio_is_the_step_it_takes():
    """update_ratio at a logged step is ||W after - W before|| / ||W before|| of that step."""
    W, b, X, y = make_problem("softmax_ce", n=20)
    settings = TrainSettings(optimizer="adam", lr=0.01, steps=1, batch_size=4, log_points=2)
    res = train(W, b, X, y, activation="tanh", loss="softmax_ce", seed=0, settings=settings)
    first = res.layers[res.layers.step == 0].sort_values("layer")
    for layer, ratio in enumerate(first["update_ratio"]):
        step = np.linalg.norm(res.weights[layer] - W[layer]) / np.linalg.norm(W[layer])
        assert ratio == pytest.approx(step, rel=1e-10)
        # Adam's first step is lr * g / (|g| + eps): about lr per entry
        assert ratio == pytest.approx(0.01 * math.sqrt(W[layer].size) / np.linalg.norm(W[layer]),
                                      rel=1e-3)  # fmt: skip


def test_train_many_mixes_optimizers_per_network():
    """Network i of train_many equals train with network i's settings, bit for bit."""
    W, b, X, y = make_problem("softmax_ce", n=20)
    nets = [(W, b)] * 3
    kw = dict(activation="relu", loss="softmax_ce", steps=12, batch_size=4)
    per_net = dict(
        optimizer=["sgd", "adam", "adamw"], lr=[0.1, 0.01, 0.01], weight_decay=[0.0, 0.0, 0.1],
        schedule=["constant", "cosine", "cosine"],
    )  # fmt: skip
    results = train_many(nets, X, y, seeds=[0, 1, 2], threads=2, **per_net, **kw)
    for i, got in enumerate(results):
        alone = train(W, b, X, y, seed=i, **{k: v[i] for k, v in per_net.items()}, **kw)
        for a, c in zip(got.weights + got.biases, alone.weights + alone.biases):
            np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(got.layers.to_numpy(), alone.layers.to_numpy())


# Tensor Programs V, Table 3, for a net [d, n, n, k]: (input weights & all biases,
# output weights, hidden weights), as functions of fan_in / fan_out; sp's in brackets.
def table3(optimizer, d, n, k, parametrization):
    fan = {"input": (d, n), "hidden": (n, n), "output": (n, k)}  # (fan_in, fan_out)
    if parametrization == "sp":
        return {"init_var": {key: 1 / fan[key][0] for key in fan},
                "lr_w": dict.fromkeys(fan, 1.0), "lr_b": dict.fromkeys(fan, 1.0)}  # fmt: skip
    sgd = optimizer == "sgd"
    return {
        "init_var": {"input": 1 / d, "hidden": 1 / n, "output": 1 / n**2},
        "lr_w": {
            "input": n if sgd else 1.0,
            "hidden": 1.0 if sgd else 1 / n,
            "output": 1 / n,
        },
        "lr_b": {key: fan[key][1] if sgd else 1.0 for key in fan},  # a bias' fan_out
    }


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mup_is_table_3_relative_to_its_base_width(optimizer):
    """muP's multipliers at width n over base b are Table 3's entries at n over theirs at b
    (the init's over sp's: the init scheme already scales as sp)."""
    d, k, base = 5, 3, 16
    for n in (16, 64, 256):
        m = multipliers("mup", optimizer, [d, n, n, k], base)
        at_n, at_base = table3(optimizer, d, n, k, "mup"), table3(optimizer, d, base, k, "mup")
        for index, key in enumerate(("input", "hidden", "output")):
            var_ratio = at_n["init_var"][key] / at_base["init_var"][key]
            sp_ratio = (table3(optimizer, d, n, k, "sp")["init_var"][key]
                        / table3(optimizer, d, base, k, "sp")["init_var"][key])  # fmt: skip
            assert m["init_std"][index] ** 2 == pytest.approx(var_ratio / sp_ratio)
            for name, entry in (("lr_weights", "lr_w"), ("lr_biases", "lr_b")):
                expected = at_n[entry][key] / at_base[entry][key]
                assert m[name][index] == pytest.approx(expected), (n, key, name)


def test_parametrizations_equal_sp_at_the_base_width():
    for name in PARAMETRIZATIONS:
        for optimizer in OPTIMIZERS:
            m = multipliers(name, optimizer, [7, 32, 32, 32, 2], 0 if name == "sp" else 32)
            for values in m.values():
                np.testing.assert_array_equal(values, 1.0)


def test_ntk_scales_lr_by_fan_in():
    sizes, base = [4, 128, 128, 3], 32
    sgd = lr_scales("ntk", "sgd", sizes, base)
    adam = lr_scales("ntk", "adam", sizes, base)
    np.testing.assert_allclose(sgd[:, 0], [1.0, 0.25, 0.25])  # fan_in 4 is not a width
    np.testing.assert_allclose(adam[:, 0], [1.0, 0.5, 0.5])
    np.testing.assert_array_equal(sgd[:, 1], 1.0)
    np.testing.assert_array_equal(init_multipliers("ntk", sizes, base), 1.0)


def test_mup_shrinks_the_output_init_as_width_grows():
    wide = ib.init_params("he_normal", [5, 256, 256, 3], seed=0, parametrization="mup",
                          base_width=64)[0]  # fmt: skip
    plain = ib.init_params("he_normal", [5, 256, 256, 3], seed=0)[0]
    np.testing.assert_array_equal(wide[0], plain[0])
    np.testing.assert_array_equal(wide[1], plain[1])
    np.testing.assert_allclose(wide[2], plain[2] / 2)  # sqrt(256 / 64)


def test_kernel_row_reads_choices_as_indices():
    row = TrainSettings(optimizer="adamw", schedule="cosine", lr=0.5).kernel_row()
    assert row[KERNEL_ROW.index("optimizer")] == 2.0 and row[KERNEL_ROW.index("schedule")] == 2.0
    assert row[KERNEL_ROW.index("lr")] == 0.5 and all(isinstance(v, float) for v in row)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(optimizer="adam", beta1=1.0), "beta1"),
        (dict(optimizer="adam", beta2=-0.1), "beta2"),
        (dict(optimizer="adam", momentum=0.9), "momentum"),
        (dict(nesterov=True), "nesterov"),
        (dict(optimizer="adam", nesterov=True), "nesterov"),
        (dict(beta1=0.5), "beta1"),
        (dict(eps=0.0), "eps"),
        (dict(schedule="step"), "decay_every"),
        (dict(decay_every=10), "decay_every"),
        (dict(decay_factor=0.5), "decay_factor"),
        (dict(schedule="cosine", warmup_steps=500), "warmup_steps"),
        (dict(schedule="linear"), "schedule"),
        (dict(parametrization="mup"), "base_width"),
        (dict(parametrization="ntk"), "base_width"),
        (dict(parametrization="mp"), "parametrization"),
        (dict(nesterov=1), "nesterov"),
    ],
)
def test_nonsense_settings_name_their_key(values, key):
    with pytest.raises(ValueError, match=rf"^{key}"):
        TrainSettings(**values)
    W, b, X, y = make_problem("softmax_ce")
    with pytest.raises(ValueError, match=rf"^{key}"):
        train(W, b, X, y, activation="relu", loss="softmax_ce", **values)
