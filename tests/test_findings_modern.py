"""The rules of the last decade's claims (muP, dynamical isometry, Hanin & Rolnick; zero-start
residual branches: test_findings_zero_branch.py) on synthetic tables: each can pass, each can
fail, and each is inconclusive when its effect lies inside seed noise."""

import math

import numpy as np
import pandas as pd
import pytest
from findings_tables import SEEDS, SPREAD, Tables, effect, evaluate

from initbench import findings, spectra
from initbench.effects import MAX_SEEDS_NAMED, Effect
from initbench.findings import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from initbench.outcomes import lr_optimum
from initbench.text import gnum

LOG2_LRS = range(-8, 1)


def test_lr_optimum_is_the_parabola_vertex_inside_the_grid_and_a_bound_on_its_edge():
    x = np.arange(-6.0, 1.0)
    inside = lr_optimum(x, (x + 2.3) ** 2 + 1)
    assert inside == (pytest.approx(-2.3), pytest.approx(1.09), 0)
    assert lr_optimum(x, x) == (-6.0, -6.0, -1)  # the lowest loss on the low edge: at most it
    assert lr_optimum(x, -x) == (0.0, 0.0, 1)  # on the top edge: at least it
    assert lr_optimum(x, np.full(x.size, np.inf))[::2] == (-6.0, -1)  # all diverged: below
    loss = np.where(x > -1, np.inf, (x + 2) ** 2)  # a diverged neighbour: the grid point
    assert lr_optimum(x, np.where(x > -2, np.inf, (x + 2.4) ** 2))[0] == -2.0
    assert lr_optimum(x, loss)[0] == pytest.approx(-2.0)


def mup_tables(
    mup_shift=0.0, sp_shift=-3.0, noise=0.0, wide_loss=0.6, long_mup_shift=None, adam=True
):
    """Final loss 0.1 (log2 lr - optimum)^2 + floor: the optimum at width 512 moves by
    the shift from width 64's (-4), by seed +- noise; the floor is 1 at width 64. The lr
    grid is 2^-8 .. 2^0, so a shift below -4 or above 4 puts width 512's optimum beyond
    it. ``long_mup_shift``: also an SGD study of 1250 steps, muP's shift that; ``adam``:
    the Adam study too."""
    t = Tables()
    horizons = [("sgd", "mup_sgd", 50, mup_shift), ("adam", "mup_adam", 50, mup_shift)][: 1 + adam]
    if long_mup_shift is not None:
        horizons.append(("sgd", "mup_sgd_long", 1250, long_mup_shift))
    for optimizer, study, steps, shift_mup in horizons:
        for par, shift in (("sp", sp_shift), ("mup", shift_mup)):
            for width in (64, 512):
                for k in LOG2_LRS:

                    def run(seed, w=width, k=k, s=shift):
                        opt = -4 + (s + noise * (seed - 1) if w == 512 else 0)
                        floor = wide_loss if w == 512 else 1.0
                        return {"final_train_loss": floor + 0.1 * (k - opt) ** 2}

                    t.cell(
                        study,
                        hidden=(width,) * 3,
                        lr=2.0**k,
                        steps=steps,
                        seeds=SEEDS,
                        run=run,
                        settings={"optimizer": optimizer, "parametrization": par},
                        layer=lambda s, lay, d, seed, w=width: {"act_std": 1.0 + 0.01 * w},
                    )
    return t


def test_mup():
    found = evaluate(mup_tables(), "mup")
    assert found.verdict == REPRODUCED
    assert effect(found, "sgd, 50 steps sp: fall")["estimate"] == pytest.approx(3)
    assert effect(found, "sgd, 50 steps mup: rise")["estimate"] == pytest.approx(0)
    assert effect(found, "adam, 50 steps mup: best train loss")["estimate"] == pytest.approx(0.6)
    assert "horizons measured, batch 64: sgd, 50 steps; adam, 50 steps (" in found.rule
    assert evaluate(mup_tables(mup_shift=-3.0), "mup").verdict == NOT_REPRODUCED
    assert evaluate(mup_tables(sp_shift=0.0), "mup").verdict == NOT_REPRODUCED
    assert evaluate(mup_tables(wide_loss=1.5), "mup").verdict == NOT_REPRODUCED
    noisy = evaluate(mup_tables(mup_shift=0.9, noise=0.5), "mup")  # 0.9 +- 0.5 against < 1
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule


def test_mup_optimum_beyond_the_grid_is_a_censored_bound_never_dropped():
    # muP's wide optimum at 2^-10, below the grid: the fall is at least 4 octaves, a failure
    beyond = evaluate(mup_tables(mup_shift=-6.0), "mup")
    fall = effect(beyond, "sgd, 50 steps mup: fall")
    assert fall["n"] == len(SEEDS) and all(fall["censored"])
    assert fall["estimate"] == pytest.approx(4) and fall["outcome"] == "fails"
    assert beyond.verdict == NOT_REPRODUCED
    assert any("grid's edge" in label for label, _ in beyond.measured)
    # above the grid: the rise is at least 4 (fails); the fall has no lower bound (-inf)
    above = evaluate(mup_tables(mup_shift=5.0), "mup")
    assert effect(above, "sgd, 50 steps mup: rise")["outcome"] == "fails"
    assert effect(above, "sgd, 50 steps mup: fall")["estimate"] == -math.inf
    assert above.verdict == NOT_REPRODUCED
    # SP's optimum below the grid: a fall of at least 4 holds SP's claim
    sp = evaluate(mup_tables(sp_shift=-6.0), "mup")
    sp_fall = effect(sp, "sgd, 50 steps sp: fall")
    assert all(sp_fall["censored"]) and sp_fall["outcome"] == "holds"
    assert sp.verdict == REPRODUCED


def test_mup_each_horizon_is_judged_on_its_own():
    both = evaluate(mup_tables(long_mup_shift=0.0), "mup")
    assert both.verdict == REPRODUCED
    assert effect(both, "sgd, 1250 steps mup: fall")["n"] == len(SEEDS)
    assert "sgd, 50 steps; adam, 50 steps; sgd, 1250 steps" in both.rule
    late = evaluate(mup_tables(long_mup_shift=-3.0), "mup")  # transfer lost late in training
    assert effect(late, "sgd, 1250 steps mup: fall")["outcome"] == "fails"
    assert effect(late, "sgd, 50 steps mup: fall")["outcome"] == "holds"
    assert late.verdict == NOT_REPRODUCED


PREDICTED_PER_LAYER = {
    ("tanh", "orthogonal"): 0.0028,
    ("tanh", "normal"): 1.0028,
    ("relu", "orthogonal"): 1.0,
    ("relu", "normal"): 2.0,
}

ISOMETRY_DEPTHS = (4, 16, 64)

TANH_ORTHOGONAL = ("tanh", "orthogonal")

AGREEMENT = "tanh orthogonal at q*, depths 4, 16, 64: largest |log(spread / predicted)|"


def isometry_tables(
    orthogonal_ratio=1.05, noise=0.0, relu_per_layer=0.8, gaussian_reaches=50, at_q_star=True
):
    """Per-row spreads at q*, L = depth - 2 factors: tanh orthogonal's ``orthogonal_ratio``
    x its prediction (x e^(+-noise) by seed), tanh Gaussian's 0.85 x, ReLU orthogonal's
    ``relu_per_layer`` x L. The trained tanh nets reach 0.9 at step 5 (orthogonal) and
    ``gaussian_reaches``. ``at_q_star`` False: no prediction recorded (rows not at q*)."""
    t = Tables()
    measured_over_predicted = {
        ("tanh", "orthogonal"): orthogonal_ratio,
        ("tanh", "normal"): 0.85,
        ("relu", "orthogonal"): relu_per_layer,
        ("relu", "normal"): 0.8,
    }
    for arm, per_layer in PREDICTED_PER_LAYER.items():
        activation, weights = arm
        for depth in ISOMETRY_DEPTHS:

            def run(seed, arm=arm, layers=depth - 2.0, predicted=per_layer * (depth - 2.0)):
                jitter = math.exp(noise * SPREAD[seed]) if arm == TANH_ORTHOGONAL else 1.0
                ratio = measured_over_predicted[arm] * jitter
                if arm[0] == "relu":
                    ratio /= PREDICTED_PER_LAYER[arm]  # relu's parameter is per layer
                quantiles = {f"init_jacobian_sv_q{q:02d}": 1.0 for q in (0, 5, 25, 50, 75, 95, 100)}
                return {
                    "init_jacobian_factors": layers,
                    "init_jacobian_mean_sq": 1.0,
                    "init_jacobian_var_sq": 3.0 * predicted,  # pooled over rows: not read
                    "init_jacobian_row_spread": ratio * predicted,
                    "init_jacobian_predicted_mean_sq": 1.0 if at_q_star else math.nan,
                    "init_jacobian_predicted_var_sq": predicted if at_q_star else math.nan,
                    **quantiles,
                }

            t.cell(
                "isometry_spectra",
                activation=activation,
                init=f"critical_{weights}",
                scheme="critical",
                hidden=(32,) * (depth - 1),
                steps=1,
                seeds=SEEDS,
                init_params={"sigma_b2": 1e-5, "weights": weights},
                run=run,
            )
    for weights, reach in (("orthogonal", 5), ("normal", gaussian_reaches)):
        for lr in (0.003, 0.01):
            t.cell(
                "isometry_training",
                activation="tanh",
                init=f"critical_{weights}",
                scheme="critical",
                hidden=(16,) * 31,
                lr=lr,
                seeds=SEEDS,
                init_params={"sigma_b2": 1e-5, "weights": weights},
                curve=lambda s, seed, r=reach: {"train_accuracy": 0.9 if s >= r else 0.1},
            )
    return t


HR_PROFILES = [(64,) * 4, (16,) * 4, (64,) * 16, (16,) * 16]  # (beta, depth): (1/16, 5),
# (1/4, 5), (1/4, 17), (1, 17): beta and depth apart
HR_BY_BETA = {0.0625: 2, 0.25: 5, 1.0: 20}  # first logged step at 20%: governed by beta
HR_BY_DEPTH = {5: 2, 17: 50}  # ... by depth
NEXT_LOGGED = {2: 5, 5: 10, 20: 50}
HR_RUN_CORE_S = 0.25  # a training run's measured cost: 1 core-s a seed over HR_PROFILES


def default_reach(beta, depth, seed):
    """Governed by beta; seed 2's nets one logged step later (a spread over seeds)."""
    return NEXT_LOGGED[HR_BY_BETA[beta]] if seed == 2 else HR_BY_BETA[beta]


def hanin_rolnick_tables(slope=1.0, seeds=100, reach=None, never=(), settings=None):
    """log M at init: sqrt(slope x exact Var[log M]) z over seeds (z per profile, mean 0,
    variance 1). Steps to 20% test accuracy per profile: ``reach(beta, depth, seed)`` (a
    logged step; default: by beta, seed 2 one logged step later); the (hidden,
    seed) pairs in ``never`` never get there (budget 100 steps)."""
    reach = reach or default_reach
    t = Tables()
    rng = np.random.default_rng(0)
    for hidden in HR_PROFILES:
        beta, depth = sum(1 / n for n in hidden), len(hidden) + 1
        z = rng.standard_normal(seeds)
        log_m = (
            math.sqrt(slope * spectra.relu_log_norm_variance(hidden))
            * (z - z.mean())
            / z.std(ddof=1)
        )

        def layer(s, lay, depth, seed, log_m=log_m):
            return {"probe_act_mean": math.exp(log_m[seed] / 2), "probe_act_std": 0.0}

        def curve(s, seed, hidden=hidden, beta=beta, depth=depth):
            started = (hidden, seed) not in never and s >= reach(beta, depth, seed)
            return {"test_accuracy": 0.3 if started else 0.1}

        t.cell("hanin_rolnick_init", hidden=hidden, steps=1, seeds=tuple(range(seeds)), layer=layer)
        cost = {"train_cpu_seconds": HR_RUN_CORE_S}
        t.cell("hanin_rolnick", hidden=hidden, steps=100, seeds=SEEDS, curve=curve,
               run=lambda seed, cost=cost: cost, settings=settings)  # fmt: skip
    return t


def fitted_effects(log2_steps):
    """Independent check: per seed, the least-squares b x beta range and c x log2 depth
    range of log2 steps = a + b beta + c log2 depth over HR_PROFILES."""
    x = [[1, sum(1 / n for n in h), math.log2(len(h) + 1)] for h in HR_PROFILES]
    a, b, c = np.linalg.lstsq(np.array(x, float), np.asarray(log2_steps, float), rcond=None)[0]
    return b * (1 - 1 / 16), c * math.log2(17 / 5)


BETA_EFFECT = "log2 steps to 20% test accuracy per seed fit: beta's"
DEPTH_BELOW = (
    "log2 steps to 20% test accuracy per seed fit: depth's effect, 5 to 17 at equal beta "
    "(claim: < 1)"
)
DEPTH_ABOVE = DEPTH_BELOW.replace("(claim: < 1)", "(claim: > -1)")
SLOPE_ABOVE = "slope of Var[log M] over seeds against its exact prediction (claim: > 0.67)"


def test_hanin_rolnick_reproduced():
    found = evaluate(hanin_rolnick_tables(), "hanin_rolnick")
    assert found.verdict == REPRODUCED
    # each profile's variance is exactly its exact prediction: the slope is 1
    assert found.effects[0]["label"] == SLOPE_ABOVE
    assert found.effects[0]["estimate"] == pytest.approx(1.0)
    expected = [
        fitted_effects(
            [math.log2(default_reach(sum(1 / n for n in h), len(h) + 1, s)) for h in HR_PROFILES]
        )
        for s in SEEDS
    ]
    beta = effect(found, BETA_EFFECT)
    assert beta["values"] == pytest.approx([b for b, _ in expected])
    assert effect(found, DEPTH_BELOW)["values"] == pytest.approx([c for _, c in expected])
    assert beta["n"] == len(SEEDS) and not any(beta["censored"])


def test_hanin_rolnick_refuses_runs_stopped_before_its_criterion():
    """Runs that stop at 20% test accuracy (the claim's criterion) are read as usual; runs
    stopped below it end before the claim can see them: not testable, said so."""
    stopped_at = evaluate(hanin_rolnick_tables(settings={"stop_at_test_accuracy": 0.2}),
                          "hanin_rolnick")  # fmt: skip
    assert stopped_at.verdict == evaluate(hanin_rolnick_tables(), "hanin_rolnick").verdict
    early = evaluate(hanin_rolnick_tables(settings={"stop_at_test_accuracy": 0.15}),
                     "hanin_rolnick")  # fmt: skip
    assert early.rule.startswith("Not evaluated") and "stop_at_test_accuracy 0.15" in early.rule


def test_hanin_rolnick_not_reproduced():
    assert evaluate(hanin_rolnick_tables(slope=0.3), "hanin_rolnick").verdict == NOT_REPRODUCED
    by_depth = evaluate(
        hanin_rolnick_tables(reach=lambda beta, depth, seed: HR_BY_DEPTH[depth]), "hanin_rolnick"
    )
    assert by_depth.verdict == NOT_REPRODUCED
    assert effect(by_depth, DEPTH_BELOW)["outcome"] == "fails"
    assert effect(by_depth, BETA_EFFECT)["outcome"] == "fails"


def test_hanin_rolnick_inconclusive_names_the_seeds():
    few = evaluate(hanin_rolnick_tables(seeds=4), "hanin_rolnick")
    assert few.verdict == INCONCLUSIVE and "what would decide" in few.rule
    assert effect(few, SLOPE_ABOVE)["outcome"] == "undecided"


def test_hanin_rolnick_counts_a_run_that_never_starts():
    """A run that never reaches 20% counts at its budget, its seed kept: at beta 1 it weighs
    positively on beta's effect (a lower bound, still deciding) and negatively on depth's
    (an upper bound: that effect cannot decide, and says so); at beta 1/16 it bounds
    beta's effect from above only: undecided."""
    never = {((16,) * 16, seed) for seed in SEEDS}
    slow = evaluate(hanin_rolnick_tables(never=never), "hanin_rolnick")
    beta = effect(slow, BETA_EFFECT)
    assert beta["n"] == len(SEEDS) and all(beta["censored"])
    budget = fitted_effects([math.log2(s) for s in (2, 5, 5, 100)])[0]
    assert beta["values"][0] == pytest.approx(budget)
    assert beta["outcome"] == "holds"
    depth = effect(slow, DEPTH_ABOVE)
    assert depth["n"] == len(SEEDS) and depth["values"][0] == -math.inf
    assert depth["outcome"] == "undecided" and slow.verdict == INCONCLUSIVE
    assert "3 of 12, each counted at its budget" in slow.rule
    assert "a longer budget" in slow.rule
    # sized all the same: the seeds its mean and spread need, at the measured cost a seed
    values = [fitted_effects([math.log2(s) for s in (2, 5, 5, 100)])[1]] * 2
    values.append(fitted_effects([math.log2(s) for s in (5, 10, 10, 100)])[1])
    seeds = Effect("c", tuple(values), 1.0, False).seeds_needed()
    assert f"about {seeds} seeds would decide it, at the 1 core-s a seed measured" in slow.rule
    assert f"about {seeds} core-s" in slow.rule
    fast = evaluate(hanin_rolnick_tables(never={((64,) * 4, 1)}), "hanin_rolnick")
    beta = effect(fast, BETA_EFFECT)
    assert beta["n"] == len(SEEDS) and beta["values"][1] == -math.inf
    assert beta["outcome"] == "undecided" and fast.verdict == INCONCLUSIVE


@pytest.mark.parametrize(
    "tables, key",
    [
        (mup_tables, "mup"),
        (isometry_tables, "isometry"),
        (hanin_rolnick_tables, "hanin_rolnick"),
    ],
)
def test_figure_is_written(tables, key, tmp_path):
    found = evaluate(tables(), key, tmp_path)
    assert found.verdict == REPRODUCED
    assert found.figure in [p.name for p in tmp_path.iterdir()]


def test_mup_figure_with_one_horizon(tmp_path):
    """One optimizer and horizon (a tier or run with one study): one row of axes."""
    found = evaluate(mup_tables(adam=False), "mup", tmp_path)
    assert found.verdict == REPRODUCED
    assert {e["label"].split(" mup")[0].split(" sp")[0] for e in found.effects} == {"sgd, 50 steps"}


def test_isometry_reproduced_when_the_per_row_spread_matches_the_prediction():
    found = evaluate(isometry_tables(), "isometry")
    assert found.verdict == REPRODUCED
    assert found.effects[0]["label"] == AGREEMENT  # the headline
    assert effect(found, AGREEMENT)["estimate"] == pytest.approx(math.log(1.05))
    gaussian = effect(found, "tanh, depth 64: log10 spread")
    assert gaussian["estimate"] == pytest.approx(math.log10(0.85 * 1.0028 / (1.05 * 0.0028)))
    assert effect(found, "relu orthogonal, depth 64: spread per layer")["estimate"] == (
        pytest.approx(0.8)
    )
    speed = effect(found, "tanh, depth 32: log2 steps to target")
    assert speed["estimate"] == pytest.approx(math.log2(50 / 5))
    # the measured and predicted spreads by depth are shown beside the effects
    (shown,) = [v for label, v in found.measured if label.startswith("tanh orthogonal")]
    assert f"64: {1.05 * 0.0028 * 62:.3g} ({0.0028 * 62:.3g})" in shown


@pytest.mark.parametrize(
    "setting",
    [
        {"orthogonal_ratio": 3.0},  # three times the prediction (the pooled statistic's bias)
        {"orthogonal_ratio": 0.5},  # far below it: as wrong as above
        {"relu_per_layer": 0.1},  # ReLU near isometry at depth 64: against the paper
        {"gaussian_reaches": 5},  # isometry no faster
    ],
)
def test_isometry_not_reproduced(setting):
    assert evaluate(isometry_tables(**setting), "isometry").verdict == NOT_REPRODUCED


def test_isometry_inconclusive_when_the_spread_straddles_the_tolerance():
    # log ratios 0.26 -+ 0.3 by seed: the worst depth's |log| mean 0.29, its interval past log 1.5
    noisy = evaluate(isometry_tables(orthogonal_ratio=1.3, noise=0.3), "isometry")
    assert noisy.verdict == INCONCLUSIVE and "what would decide" in noisy.rule
    assert effect(noisy, AGREEMENT)["outcome"] == "undecided"


def test_isometry_needs_rows_at_q_star_and_the_jacobian_probe():
    found = evaluate(isometry_tables(at_q_star=False), "isometry")
    assert found.verdict == INCONCLUSIVE and "at_q_star" in found.rule
    no_probe = isometry_tables()
    for run in no_probe.runs:  # the spectra study ran without probe: {jacobian: true}
        for key in [k for k in run if k.startswith("init_jacobian")]:
            del run[key]
    found = evaluate(no_probe, "isometry")
    assert found.verdict == INCONCLUSIVE and "probe: jacobian" in found.rule
    training_only = isometry_tables()
    training_only.studies = [s for s in training_only.studies if s["study"] != "isometry_spectra"]
    found = evaluate(training_only, "isometry")  # partial: the speed effect alone decides
    assert found.verdict == REPRODUCED and [e["label"] for e in found.effects] == [
        "tanh, depth 32: log2 steps to target, Gaussian over orthogonal"
    ]


def test_isometry_counts_an_overflowed_spectrum_instead_of_dropping_it():
    tables = isometry_tables()
    (overflowed,) = [
        r
        for r in tables.runs
        if r["cell"].startswith("isometry_spectra")
        and r["init"] == "critical_orthogonal"
        and r["activation"] == "tanh"
        and r["depth"] == 16
        and r["seed"] == 1
    ]
    overflowed["init_jacobian_row_spread"] = math.nan
    found = evaluate(tables, "isometry")
    agreement = effect(found, AGREEMENT)
    assert agreement["n"] == len(SEEDS) and agreement["estimate"] == math.inf
    assert found.verdict != REPRODUCED


def test_hanin_rolnick_budget_on_the_threshold_is_sized_beyond_the_t_table():
    """Depth's effect near its threshold: the seeds named are the normal approximation's
    (1.96 sd / gap)^2, past MAX_SEEDS_NAMED, and cost that many seeds at the measured
    core-s a seed."""
    hr = findings.hanin_rolnick
    effects = [0.9, 1.1, 0.95, 1.05, 0.92, 1.0]  # per seed: c x log2(17 / 5)
    rows = [
        {
            "seed": seed,
            "beta": beta,
            "depth": depth,
            "censored": False,
            "log2_steps": 3 + beta + c / math.log2(17 / 5) * math.log2(depth),
        }
        for seed, c in enumerate(effects)
        for beta, depth in ((1 / 16, 5), (1 / 4, 5), (1 / 4, 17), (1, 17))
    ]
    starts = pd.DataFrame(rows)
    runs = pd.DataFrame({"seed": starts["seed"], "train_cpu_seconds": 0.5})  # 2 a seed
    depth = Effect(f"{hr.DEPTH}, 5 to 17 (claim: < 1)", tuple(effects), 1.0, False)
    assert depth.outcome == "undecided" and depth.seeds_needed() > MAX_SEEDS_NAMED
    gap, sd = 1 - np.mean(effects), np.std(effects, ddof=1)
    seeds = math.ceil((1.959964 * sd / gap) ** 2)
    text = hr.depth_budget([depth], starts, runs)
    assert f"about {seeds} seeds would decide it, at the 2 core-s a seed" in text
    assert f"about {gnum(2 * seeds, 3)} core-s" in text
    decided = Effect(depth.label, (0.1, 0.2, 0.15), 1.0, False)
    assert decided.outcome == "holds" and hr.depth_budget([decided], starts, runs) == ""
