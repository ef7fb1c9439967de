"""The findings' rules on small synthetic tables: each can pass, each can fail, each is
inconclusive when its effect lies inside seed noise, and a claim whose study is absent is
inconclusive."""

import math

import numpy as np
import pandas as pd
import pytest
from findings_tables import LN2, SEEDS, SPREAD, Tables, effect, evaluate
from seed_tables import exploding_tables, leaky_tables, vanishing_tables

from initbench import findings
from initbench.findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from initbench.theory import chi1, depth_scale

# 1. symmetry ------------------------------------------------------------------------------


def symmetry_tables(constant_symmetry=0.0, constant_accuracy=0.75, he_accuracy=0.95, noise=0.0):
    """``noise``: the random net's final accuracy varies this much from seed to seed."""
    t = Tables()
    t.cell("symmetry", init="he_normal", hidden=(), accuracy=0.55, majority=0.5)
    t.cell(
        "symmetry",
        init="zeros",
        hidden=(16, 16),
        accuracy=0.5,
        majority=0.5,
        layer=lambda s, lay, d, seed: {"symmetry": 0.0},
    )
    t.cell(
        "symmetry",
        init="constant",
        hidden=(16, 16),
        accuracy=constant_accuracy,
        majority=0.5,
        layer=lambda s, lay, d, seed: {"symmetry": constant_symmetry * (s == 20)},
    )
    t.cell(
        "symmetry",
        init="he_normal",
        hidden=(16, 16),
        majority=0.5,
        seeds=SEEDS,
        curve=lambda s, seed: {"train_accuracy": he_accuracy + noise * SPREAD[seed]},
    )
    return t


@pytest.fixture
def xor_data(tmp_path):
    """Four clusters in XOR layout: no line gets more than 3 of 4 clusters right (0.75)."""
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], float)
    X = np.repeat(centres, 10, axis=0) + 0.05 * np.random.default_rng(0).normal(size=(40, 2))
    y = np.repeat([0, 0, 1, 1], 10)
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    return tmp_path


def test_symmetry(xor_data):
    found = evaluate(symmetry_tables(), "symmetry", data_dir=xor_data)
    assert found.verdict == REPRODUCED
    assert (
        "0.75"
        in dict(found.measured)[
            "d: best accuracy of any single linear boundary on the training rows"
        ]
    )
    broken = symmetry_tables(constant_symmetry=1e-3)
    assert evaluate(broken, "symmetry", data_dir=xor_data).verdict == NOT_REPRODUCED
    better = symmetry_tables(constant_accuracy=0.8)  # more than any half-plane can
    assert evaluate(better, "symmetry", data_dir=xor_data).verdict == NOT_REPRODUCED
    no_control = symmetry_tables(he_accuracy=0.76)
    assert evaluate(no_control, "symmetry", data_dir=xor_data).verdict == INCONCLUSIVE
    # the control's gain over a line, 0.02 +- 0.02 over seeds: inside seed noise
    noisy = evaluate(symmetry_tables(he_accuracy=0.77, noise=0.02), "symmetry", data_dir=xor_data)
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule
    assert effect(noisy, "zeros/constant: largest distance")["exact"]
    no_data = evaluate(symmetry_tables(), "symmetry")
    assert no_data.verdict == INCONCLUSIVE and "not available" in no_data.rule


# 2. course --------------------------------------------------------------------------------


def course_tables(he_accuracy=0.99, large_accuracy=0.83, zero_cost=LN2, steps=15000, noise=0.0):
    """``noise``: how much std 10's final accuracy varies with the seed."""
    t = Tables()
    common = {"hidden": (10, 5), "steps": steps, "majority": 0.5, "seeds": SEEDS}
    t.cell(
        "course",
        init="zeros",
        accuracy=0.5,
        curve=lambda s, seed: {"train_loss": zero_cost if s else math.log(2)},
        **common,
    )
    t.cell(
        "course",
        init="normal_large",
        scheme="normal",
        init_params={"std": 10.0},
        curve=lambda s, seed: {
            "train_loss": 0.4 if s else 30.0,
            "train_accuracy": large_accuracy + noise * SPREAD[seed],
        },
        **common,
    )
    t.cell(
        "course",
        init="he_normal",
        accuracy=he_accuracy,
        curve=lambda s, seed: {"train_loss": 0.07 if s else 0.9},
        **common,
    )
    return t


def test_course():
    found = evaluate(course_tables(), "course")
    assert found.verdict == REPRODUCED
    assert (
        "stably" in found.rule
        and "inf" in dict(found.measured)["normal std 10: cost at iteration 0"]
    )
    for failing in (
        course_tables(he_accuracy=0.9),
        course_tables(large_accuracy=0.97),
        course_tables(zero_cost=0.6),
    ):
        assert evaluate(failing, "course").verdict == NOT_REPRODUCED
    short = course_tables(he_accuracy=0.7, steps=3000)
    assert evaluate(short, "course").verdict == INCONCLUSIVE
    # He - std 10 = 0.1 +- 0.1 over seeds: inside seed noise of the 0.05 threshold
    noisy = evaluate(course_tables(large_accuracy=0.89, noise=0.1), "course")
    assert noisy.verdict == INCONCLUSIVE
    assert effect(noisy, "He minus normal std 10")["outcome"] == "undecided"
    assert "seeds at the measured spread" in noisy.rule


# 3. small normal in deep nets -------------------------------------------------------------


def small_normal_tables(decay=0.05, accuracy=0.1, depths=(2, 10, 25), noisy=False):
    """``noisy``: in seed 1 the deep relu nets train, so the share of deep runs that stall
    is 1, 0.5, 1 over the seeds."""
    t = Tables()
    for depth in depths:
        for activation in ("relu", "tanh"):

            def final(s, seed, a=activation, d=depth):
                trains = d < 10 or (noisy and seed == 1 and a == "relu")
                return {"train_accuracy": 0.9 if trains else accuracy}

            t.cell(
                "overview",
                activation=activation,
                init="normal_small",
                scheme="normal",
                init_params={"std": 0.01},
                hidden=(4,) * (depth - 1),
                seeds=SEEDS,
                curve=final,
                layer=lambda s, lay, d, seed: {"grad_z_norm": decay ** (d - lay)},
            )
    return t


def test_small_normal():
    assert evaluate(small_normal_tables(), "normal_small").verdict == REPRODUCED
    flat = small_normal_tables(decay=0.9)
    assert evaluate(flat, "normal_small").verdict == NOT_REPRODUCED
    trains = small_normal_tables(accuracy=0.8)
    assert evaluate(trains, "normal_small").verdict == NOT_REPRODUCED
    shallow = evaluate(small_normal_tables(depths=(2, 6)), "normal_small")
    assert shallow.verdict == INCONCLUSIVE and "depths run: 2, 6" in shallow.rule
    noisy = evaluate(small_normal_tables(noisy=True), "normal_small")
    assert noisy.verdict == INCONCLUSIVE
    stall = effect(noisy, "depth >= 10: share of cells")
    assert stall["estimate"] == pytest.approx(5 / 6) and stall["outcome"] == "undecided"


# 4. Glorot & Bengio -----------------------------------------------------------------------


def glorot_tables(top_mean=0.05, xavier_decay=0.9, steps=50, noise=0.0, tanh_study="glorot"):
    """``noise``: the sigmoid top layer's lowest mean varies this much with the seed;
    ``tanh_study``: where the tanh nets are (the paper tier keeps them apart)."""
    t = Tables()
    hidden = (10,) * 5

    def sigmoid_layer(s, lay, d, seed):
        low = top_mean + noise * SPREAD[seed]
        return {"probe_act_mean": low if lay == d - 1 and s >= 5 else 0.5}

    t.cell(
        "glorot",
        activation="sigmoid",
        init="glorot_standard",
        hidden=hidden,
        steps=steps,
        layer=sigmoid_layer,
        seeds=SEEDS,
    )
    for init, decay in (("glorot_standard", 0.5), ("xavier_uniform", xavier_decay)):
        t.cell(
            tanh_study,
            activation="tanh",
            init=init,
            hidden=hidden,
            steps=steps,
            layer=lambda s, lay, d, seed, k=decay: {"grad_z_norm": k ** (d - lay)},
        )
    return t


def test_glorot():
    assert evaluate(glorot_tables(), "glorot").verdict == REPRODUCED
    short = evaluate(glorot_tables(top_mean=0.4), "glorot")
    assert short.verdict == INCONCLUSIVE and "a run of 20000 updates decides" in short.rule
    long_enough = glorot_tables(top_mean=0.4, steps=20000)
    assert evaluate(long_enough, "glorot").verdict == NOT_REPRODUCED
    steeper = glorot_tables(xavier_decay=0.3)
    assert evaluate(steeper, "glorot").verdict == NOT_REPRODUCED
    apart = glorot_tables(tanh_study="glorot_tanh")
    assert evaluate(apart, "glorot").verdict == REPRODUCED
    # the top layer's lowest mean: 0.1 +- 0.05 over seeds, on the 0.1 threshold
    noisy = evaluate(glorot_tables(top_mean=0.1, noise=0.05, steps=20000), "glorot")
    assert noisy.verdict == INCONCLUSIVE and "sigmoid, glorot_standard" in noisy.rule


# 5. He et al. -----------------------------------------------------------------------------


def he_tables(xavier_30="stalls", steps=3000, depths=(22, 30), noise=0.0):
    """He gains 0.5 over chance (majority 0.1) from step 10; Xavier from step 20 at depth
    22 and, at depth 30, per ``xavier_30``: stalls (chance, plus 0..2 x ``noise`` by seed)
    or trains (from step 50, inside the 1000-update window). At init Xavier's first-layer
    weight gradient is 1e-4 of He's."""
    t = Tables()
    for depth in depths:
        hidden = (4,) * (depth - 1)
        t.cell(
            "he_xavier",
            init="he_normal",
            hidden=hidden,
            steps=steps,
            seeds=SEEDS,
            curve=lambda s, seed: {"train_accuracy": 0.6 if s >= 10 else 0.1},
        )
        if depth < 30:
            xavier = lambda s, seed: 0.6 if s >= 20 else 0.1  # noqa: E731
        elif xavier_30 == "trains":
            xavier = lambda s, seed: 0.6 if s >= 50 else 0.1  # noqa: E731
        else:
            xavier = lambda s, seed: 0.1 + (noise * (1 + SPREAD[seed]) if s else 0)  # noqa: E731
        t.cell(
            "he_xavier",
            init="xavier_normal",
            hidden=hidden,
            steps=steps,
            seeds=SEEDS,
            curve=lambda s, seed, f=xavier: {"train_accuracy": f(s, seed)},
            layer=lambda s, lay, d, seed: {"grad_w_norm": 1e-4},
        )
    return t


def test_he_xavier():
    found = evaluate(he_tables(), "he_xavier")
    assert found.verdict == REPRODUCED
    assert effect(found, "depth 30: log10 of Xavier's")["estimate"] == pytest.approx(-4)
    assert effect(found, "depth 22: log2 of Xavier's")["estimate"] == pytest.approx(1)
    growth = effect(found, "log2 step ratio")
    assert growth["outcome"] == "holds" and any(growth["censored"])  # never: a lower bound
    trains = evaluate(he_tables(xavier_30="trains"), "he_xavier")
    assert trains.verdict == NOT_REPRODUCED
    assert effect(trains, "depth 30: Xavier's accuracy gain")["outcome"] == "fails"
    # Xavier's gain in the window: 0.02 +- 0.02 over seeds, on the threshold
    noisy = evaluate(he_tables(noise=0.02), "he_xavier")
    assert noisy.verdict == INCONCLUSIVE and "sits on its threshold" in noisy.rule
    short = evaluate(he_tables(steps=500), "he_xavier")
    assert short.verdict == INCONCLUSIVE and "fewer steps than the claim's 3000" in short.rule
    only_30 = evaluate(he_tables(depths=(30,)), "he_xavier")
    assert only_30.verdict == INCONCLUSIVE and "depths run: 30" in only_30.rule


# 6. Leaky ReLU ----------------------------------------------------------------------------


# 7. Mean field ----------------------------------------------------------------------------


def chi1_tables(studies=("mean_field", "mean_field_relu"), off=1.0, depth=12, noise=0.0):
    """Gradient norms that shrink by exactly ``off`` x chi1 per layer (squared); ``noise``:
    the factor is off by exp(+-noise) in seeds 0 and 2."""
    t = Tables()
    setups = {"mean_field": ("tanh", 0.05), "mean_field_relu": ("relu", 0.0)}
    for study in studies:
        activation, sb2 = setups[study]
        for sw2 in (1.0, 2.0, 3.0):
            factor = off * chi1(activation, sw2, sb2)
            t.cell(
                study,
                activation=activation,
                init="mean_field",
                hidden=(8,) * (depth - 1),
                init_params={"sigma_w2": sw2, "sigma_b2": sb2},
                seeds=SEEDS,
                layer=lambda s, lay, d, seed, f=factor: {
                    "grad_z_norm": (f * math.exp(noise * SPREAD[seed])) ** ((d - lay) / 2)
                },
            )
    return t


def test_chi1():
    found = evaluate(chi1_tables(), "chi1")
    assert found.verdict == REPRODUCED
    assert "+0.0%" in found.measured[0][1]
    assert evaluate(chi1_tables(off=1.3), "chi1").verdict == NOT_REPRODUCED
    tanh_only = evaluate(chi1_tables(studies=("mean_field",)), "chi1")
    assert tanh_only.verdict == INCONCLUSIVE and "mean_field_relu was not run" in tanh_only.rule
    relu_off = chi1_tables(studies=("mean_field_relu",), off=0.7)
    assert evaluate(relu_off, "chi1").verdict == NOT_REPRODUCED
    assert evaluate(chi1_tables(depth=5), "chi1").verdict == INCONCLUSIVE
    # |log(measured / chi1)|: 0.2, 0, 0.2 over seeds against log 1.15 = 0.14: inside noise
    noisy = evaluate(chi1_tables(noise=0.2), "chi1")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule


def depth_scale_tables(obey=True, late=False, everything_trains=False, noisy=False):
    """Cells train iff depth <= 6 xi_c (or the opposite); ``late``: they only get there at
    the last step, so the trainable region is still growing; ``noisy``: in seed 1 every
    cell trains at depth 64 and none at depth 4, so the seeds disagree."""
    t = Tables()
    for sw2 in (0.5, 1.0, 1.76, 3.0, 4.0):
        limit = 6 * depth_scale("tanh", sw2, 0.05)
        for depth in (4, 8, 16, 32, 64):
            base = everything_trains or (depth <= limit) == obey

            def accuracy(s, seed, ok=base, d=depth):
                if noisy and seed == 1 and d in (4, 64):
                    ok = d == 64
                return {"train_accuracy": 0.8 if ok and (s == 50 or not late and s) else 0.1}

            t.cell(
                "mean_field",
                activation="tanh",
                init="mean_field",
                seeds=SEEDS,
                hidden=(8,) * (depth - 1),
                init_params={"sigma_w2": sw2, "sigma_b2": 0.05},
                curve=accuracy,
            )
    return t


def test_depth_scale():
    found = evaluate(depth_scale_tables(), "depth_scale")
    assert found.verdict == REPRODUCED
    (sorts,) = found.effects
    assert sorts["estimate"] == 1 and sorts["n"] == 3
    judged = dict(found.measured)["Judged cells (of all)"]
    assert judged.endswith("of 25") and not judged.startswith("25")  # cells near the curve out
    assert evaluate(depth_scale_tables(obey=False), "depth_scale").verdict == NOT_REPRODUCED
    growing = evaluate(depth_scale_tables(late=True), "depth_scale")
    assert growing.verdict == INCONCLUSIVE and "train for 100 steps" in growing.rule
    one_class = evaluate(depth_scale_tables(everything_trains=True), "depth_scale")
    assert one_class.verdict == INCONCLUSIVE
    noisy = evaluate(depth_scale_tables(noisy=True), "depth_scale")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule
    assert noisy.effects[0]["lo"] < 0.8 < noisy.effects[0]["estimate"]


def test_balanced_accuracy():
    from initbench.findings.depth_scale import balanced_accuracy

    trained = np.array([True, True, False, False])
    assert balanced_accuracy(trained, trained) == 1
    assert balanced_accuracy(~trained, trained) == 0
    assert balanced_accuracy([True, False, True, False], trained) == 0.5
    assert math.isnan(balanced_accuracy(trained, np.ones(4, bool)))


# ---------------------------------------------------------------------------------------
# 8. Saxe et al. ---------------------------------------------------------------------------


SAXE_BUDGET = 100  # steps; every step logged, so a learning time is exact


def saxe_tables(orthogonal=(10, 10, 10), gaussian=(5, 10, 40), scaled=True):
    """Linear nets of depth 2, 4 and 8 whose loss drops to the floor at a chosen step.

    ``orthogonal``, ``gaussian``: the learning time at each depth, a number or a function
    of the seed; None: never reached within SAXE_BUDGET steps. The default: orthogonal
    flat, the Gaussian init ahead at depth 2 (as LeCun's input layer makes it) and 4x its
    lag behind orthogonal at depth 8 (log2 growth 3)."""
    t = Tables()
    for init, times in (("orthogonal", orthogonal), ("lecun_normal", gaussian)):
        for depth, time in zip((2, 4, 8), times):
            t.cell(
                "saxe",
                activation="linear",
                init=init,
                hidden=(8,) * (depth - 1),
                steps=SAXE_BUDGET,
                log_steps=tuple(range(SAXE_BUDGET + 1)),
                lr=0.04 / depth if scaled else 0.04,
                majority=np.nan,
                seeds=SEEDS,
                curve=lambda s, seed, at=time: {"train_loss": drop_at(at, s, seed)},
            )
    return t


def drop_at(time, step, seed):
    """Loss 1.2 until the learning time (a number, a function of the seed, or None: never),
    then the floor 0.2."""
    time = time(seed) if callable(time) else time
    return 1.2 if time is None or step < time else 0.2


def test_saxe_reproduced_when_the_gaussian_lag_grows_with_depth():
    found = evaluate(saxe_tables(gaussian=(5, 10, lambda seed: 36 + 4 * seed)), "saxe")
    assert found.verdict == REPRODUCED
    headline = found.effects[0]
    assert headline["label"].startswith("lecun_normal over orthogonal: log2 learning-time ratio")
    assert headline["values"] == pytest.approx(np.log2([36 / 5, 40 / 5, 44 / 5]))
    assert effect(found, "orthogonal: log2 slowest")["estimate"] == 0
    assert "the learning rate scales as 1/depth" in found.rule


def test_saxe_not_reproduced_when_the_gaussian_grows_only_as_orthogonal_does():
    # Gaussian deepest / shallowest 2.5x (the old rule's effect held), but orthogonal slows
    # 1.5x too: the lag grows by 1.67x only
    found = evaluate(saxe_tables(orthogonal=(10, 12, 15), gaussian=(10, 12, 25)), "saxe")
    assert found.verdict == NOT_REPRODUCED
    assert found.effects[0]["outcome"] == "fails"
    assert effect(found, "orthogonal: log2 slowest")["outcome"] == "holds"
    slows = evaluate(saxe_tables(orthogonal=(10, 20, 40), gaussian=(5, 40, 80)), "saxe")
    assert slows.verdict == NOT_REPRODUCED
    assert effect(slows, "orthogonal: log2 slowest")["outcome"] == "fails"


def test_saxe_inconclusive_when_the_lag_growth_sits_on_its_threshold():
    noisy = evaluate(saxe_tables(gaussian=(10, 10, lambda seed: (12, 20, 34)[seed])), "saxe")
    assert noisy.verdict == INCONCLUSIVE
    assert noisy.effects[0]["outcome"] == "undecided"
    assert "what would decide" in noisy.rule
    one_rate = evaluate(saxe_tables(scaled=False), "saxe")
    assert one_rate.verdict == INCONCLUSIVE and "proportional to 1/depth" in one_rate.rule


def test_saxe_counts_a_never_reached_target_at_the_budget():
    # one seed's Gaussian net at depth 8 never learns: counted at the budget, censored
    found = evaluate(saxe_tables(gaussian=(5, 10, lambda seed: (40, 40, None)[seed])), "saxe")
    headline = found.effects[0]
    assert headline["n"] == 3 and headline["censored"] == (False, False, True)
    assert headline["values"][2] == pytest.approx(np.log2(SAXE_BUDGET / 5))
    assert found.verdict == REPRODUCED
    # orthogonal at depth 8 never learns in one seed: that seed's lag ratio is only an upper
    # bound, so it is left out of the headline and named; the orthogonal effect counts it
    slow = evaluate(saxe_tables(orthogonal=(10, 10, lambda seed: (10, 10, None)[seed])), "saxe")
    assert slow.effects[0]["n"] == 2
    assert "lecun_normal: 1 seeds left out" in slow.rule
    spread = effect(slow, "orthogonal: log2 slowest")
    assert spread["n"] == 3 and spread["censored"] == (False, False, True)
    assert slow.verdict != REPRODUCED


def test_learning_time_is_inf_when_the_loss_never_gets_there():
    t = Tables().cell(
        "saxe",
        activation="linear",
        majority=np.nan,
        curve=lambda s, seed: {"train_loss": 3.0 if seed else 2.0 - (s >= 20)},
    )
    times, floor = findings.saxe.learning_times(pd.DataFrame(t.curves))
    cell = t.runs[0]["cell"]
    assert floor == 1.0
    assert times.loc[(cell, 0)] == 20
    assert times.loc[(cell, 1)] == np.inf


# ---------------------------------------------------------------------------------------
# 9. LSUV ----------------------------------------------------------------------------------


LSUV_SCHEDULE = {"schedule": "step", "decay_every": 20, "decay_factor": 0.1}  # the study's


def lsuv_tables(
    lsuv_accuracy=0.8,
    rivals_accuracy=0.8,
    depth=20,
    noise=0.0,
    tanh_lsuv=None,
    seeds=SEEDS,
    lsuv_diverges=(),
    rival_stalls=(),
):
    """Final test accuracies per init; ``noise``: LSUV's varies this much with the seed;
    ``tanh_lsuv``: LSUV's accuracy on tanh, the sub-claim (default: as on relu);
    ``lsuv_diverges``: seeds whose LSUV runs end in NaN; ``rival_stalls``: seeds whose
    OrthoNorm-MSRA runs never leave chance (0.1)."""
    t = Tables()
    nan = {k: math.nan for k in ("final_train_loss", "final_train_accuracy")}
    for activation in ("relu", "tanh"):
        for init, scheme, params, accuracy in (
            ("lsuv", "lsuv", None, lsuv_accuracy),
            ("orthonormal_msra", "orthogonal", {"gain": "he"}, rivals_accuracy),
            ("he_normal", "he_normal", None, rivals_accuracy),
        ):
            if init == "lsuv" and activation == "tanh" and tanh_lsuv is not None:
                accuracy = tanh_lsuv
            jitter = noise if init == "lsuv" else 0.0
            stalls = rival_stalls if init == "orthonormal_msra" else ()
            diverges = lsuv_diverges if init == "lsuv" else ()
            t.cell(
                "lsuv",
                activation=activation,
                init=init,
                scheme=scheme,
                init_params=params,
                hidden=(8,) * (depth - 1),
                seeds=seeds,
                settings=LSUV_SCHEDULE,
                curve=lambda s, seed, a=accuracy, j=jitter, st=stalls: {
                    "train_accuracy": 0.1 if seed in st else a + j * SPREAD.get(seed, 0.0)
                },
                run=lambda seed, d=diverges: (
                    {"status": "diverged", **nan, "final_test_accuracy": math.nan}
                    if seed in d
                    else {}
                ),
            )
    return t


def test_lsuv():
    assert evaluate(lsuv_tables(), "lsuv").verdict == REPRODUCED
    assert evaluate(lsuv_tables(lsuv_accuracy=0.79), "lsuv").verdict == REPRODUCED  # "equal"
    worse = evaluate(lsuv_tables(lsuv_accuracy=0.7), "lsuv")
    assert worse.verdict == NOT_REPRODUCED
    label = "d, relu, depth 20: LSUV minus OrthoNorm-MSRA, final test accuracy where both trained"
    assert effect(worse, label)["estimate"] == pytest.approx(-0.1)
    assert worse.effects[0]["label"] == label  # the headline: the paper's quantity
    assert "lr 0.1, x0.1 every 20 steps" in worse.rule  # the schedule it was trained with
    # the orthogonal rival at gain 1 is not the paper's: it takes no part
    assert not any("orthogonal" in e["label"] for e in worse.effects)
    # tanh is the sub-claim: reported beside the verdict, not deciding it
    tanh = evaluate(lsuv_tables(tanh_lsuv=0.5), "lsuv")
    assert tanh.verdict == REPRODUCED
    sub = dict(tanh.measured)[
        "Sub-claim (not in the verdict): d, tanh, depth 20: LSUV minus OrthoNorm-MSRA, final "
        "test accuracy where both trained"
    ]
    assert sub.endswith("fails")
    # LSUV - rival = -0.01 +- 0.03 over seeds against -0.02: inside seed noise
    noisy = evaluate(lsuv_tables(lsuv_accuracy=0.79, noise=0.03), "lsuv")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule
    assert evaluate(lsuv_tables(depth=10), "lsuv").verdict == INCONCLUSIVE  # not deep


def test_lsuv_counts_a_diverged_run_as_a_failure_not_dropped():
    # one LSUV run of three diverges: its seed is a failure (LSUV 1, rival 0), not gone
    one = evaluate(lsuv_tables(lsuv_diverges=(1,)), "lsuv")
    fails = effect(one, "d, relu, depth 20: LSUV minus OrthoNorm-MSRA, failure rate")
    assert fails["n"] == 3 and fails["estimate"] == pytest.approx(1 / 3)
    accuracy = effect(one, "d, relu, depth 20: LSUV minus He, final test accuracy where")
    assert accuracy["n"] == 2 and accuracy["outcome"] == "holds"
    assert "LSUV minus He: 1 of 3 seeds" in one.rule
    assert one.verdict == INCONCLUSIVE  # 1 failure in 3 seeds: no interval clears 0.2
    # every LSUV run diverges: not reproduced on failures, with no accuracy left to compare
    every = evaluate(lsuv_tables(lsuv_diverges=SEEDS), "lsuv")
    assert every.verdict == NOT_REPRODUCED
    assert effect(every, "d, relu, depth 20: LSUV minus He, failure rate")["outcome"] == "fails"


def test_lsuv_a_rival_that_never_trained_is_a_failure_not_an_accuracy_gap():
    seeds = tuple(range(10))
    found = evaluate(lsuv_tables(seeds=seeds, rival_stalls=(4,)), "lsuv")
    assert found.verdict == REPRODUCED
    net = "d, relu, depth 20: LSUV minus OrthoNorm-MSRA"
    assert effect(found, f"{net}, failure rate")["estimate"] == pytest.approx(-0.1)
    accuracy = effect(found, f"{net}, final test accuracy where both trained")
    assert accuracy["n"] == 9 and accuracy["estimate"] == pytest.approx(0.0)  # not +0.7
    runs_failed = dict(found.measured)[
        "d, relu, depth 20, OrthoNorm-MSRA: median final test accuracy; runs failed"
    ]
    assert runs_failed.endswith("1 of 10")


@pytest.mark.parametrize(
    "tables, key",
    [
        (symmetry_tables, "symmetry"),
        (course_tables, "course"),
        (small_normal_tables, "normal_small"),
        (glorot_tables, "glorot"),
        (he_tables, "he_xavier"),
        (leaky_tables, "leaky_relu"),
        (vanishing_tables, "relu_vanishing"),
        (exploding_tables, "exploding"),
        (chi1_tables, "chi1"),
        (depth_scale_tables, "depth_scale"),
        (saxe_tables, "saxe"),
        (lsuv_tables, "lsuv"),
    ],
)
def test_figure_is_written(tables, key, tmp_path, xor_data):
    found = evaluate(tables(), key, tmp_path, data_dir=xor_data)
    assert found.verdict == REPRODUCED
    assert found.figure in [p.name for p in tmp_path.iterdir()]


def test_findings_carry_tier_and_budget():
    out = findings.evaluate_findings(lsuv_tables().tables(), {"tier": "paper"}, None)
    found = next(f for f in out if f.key == "lsuv")
    assert found.tier == "paper"
    assert found.budget == {
        "cells": 6,
        "runs": 18,
        "steps": [50],
        "seeds per cell": [3],
        "widths": [8],
        "batch sizes": [64],
    }
    assert next(f for f in out if f.key == "course").budget == {}  # its study did not run
