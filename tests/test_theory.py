"""Mean-field theory against closed forms and the published tanh numbers (REFERENCES.md)."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import expit

from initbench import theory
from initbench.engine.activations import ACTIVATIONS, get_activation

# Gauss-Hermite in numpy's probabilists' form, for smooth sums over z ~ N(0, 1)
GRID, GRID_W = np.polynomial.hermite_e.hermegauss(200)
GRID_W = GRID_W / GRID_W.sum()


@pytest.mark.parametrize("sigma_b2", [0.0, 0.1])
@pytest.mark.parametrize("sigma_w2", [0.5, 1.0, 1.5, 1.9, 2.0, 3.0])
def test_relu_chi1_is_half_sigma_w2_whatever_q(sigma_w2, sigma_b2):
    # relu' is 0 or 1, so E[relu'^2] = 1/2 for any q*, including q* = 0 and q* = inf.
    assert theory.chi1("relu", sigma_w2, sigma_b2) == pytest.approx(sigma_w2 / 2, rel=1e-12)


def test_relu_and_linear_fixed_points():
    assert theory.fixed_point_q("relu", 1.0, 0.1) == pytest.approx(0.1 / (1 - 0.5), rel=1e-9)
    assert theory.fixed_point_q("relu", 1.9999, 0.1) == pytest.approx(2000.0, rel=1e-6)
    assert theory.fixed_point_q("relu", 1.5, 0.0) == 0.0  # collapses
    assert theory.fixed_point_q("relu", 2.0, 0.0) == pytest.approx(1.0)  # stays where it starts
    assert theory.fixed_point_q("relu", 2.5, 0.0) == math.inf  # diverges
    assert theory.fixed_point_q("relu", 2.0001, 0.1) == math.inf
    assert theory.fixed_point_q("linear", 0.5, 0.2) == pytest.approx(0.4, rel=1e-9)
    assert theory.chi1("linear", 0.7, 0.3) == pytest.approx(0.7, rel=1e-12)


@pytest.mark.parametrize(
    "sigma_b2, expected",
    [(0.0, 1.00), (0.01, 1.424), (0.05, 1.761), (0.1, 1.986), (0.2, 2.285), (0.5, 2.843)],
)
def test_tanh_critical_line(sigma_b2, expected):
    sw2 = theory.critical_sigma_w2("tanh", sigma_b2)
    assert sw2 == pytest.approx(expected, abs=0.01)
    if sigma_b2 > 0:
        assert theory.chi1("tanh", sw2, sigma_b2) == pytest.approx(1.0, abs=1e-9)


def test_tanh_published_values():
    assert theory.chi1("tanh", 1.0, 0.05) == pytest.approx(0.759, abs=1e-3)
    assert theory.depth_scale("tanh", 1.0, 0.05) == pytest.approx(3.63, abs=0.01)
    # chaotic side: xi_c is taken at c* < 1, not 1/ln(chi1)
    assert 1 / math.log(theory.chi1("tanh", 2.5, 0.05)) == pytest.approx(7.98, abs=0.01)
    assert theory.depth_scale("tanh", 2.5, 0.05) == pytest.approx(11.8, abs=0.05)
    assert theory.chi1("tanh", 1.5, 0.05) == pytest.approx(0.939, abs=1e-3)
    assert theory.chi1("tanh", 2.0, 0.0) == pytest.approx(1.11, abs=0.01)  # He on tanh: chaotic


def test_tanh_ordered_phase_at_zero_bias_collapses_to_zero():
    assert theory.fixed_point_q("tanh", 0.9, 0.0) == 0.0
    assert theory.chi1("tanh", 0.9, 0.0) == pytest.approx(0.9, rel=1e-9)  # tanh'(0)^2 = 1


def test_fixed_point_matches_independent_quadrature():
    # q* must satisfy the variance map with the expectation done by scipy's adaptive quad.
    for name, sw2, sb2 in [("tanh", 1.5, 0.05), ("sigmoid", 4.0, 0.1), ("selu", 1.0, 0.0)]:
        q = theory.fixed_point_q(name, sw2, sb2)
        act = get_activation(name)

        def integrand(z, q=q, act=act):
            return act(np.array([math.sqrt(q) * z]))[0][0] ** 2 * math.exp(-z * z / 2)

        mean = quad(integrand, -40, 40, points=[0.0])[0] / math.sqrt(2 * math.pi)
        assert sw2 * mean + sb2 == pytest.approx(q, rel=1e-8)


@pytest.mark.parametrize("alpha", [None, 0.2, 0.5])
def test_leaky_relu_critical(alpha):
    a = 0.01 if alpha is None else alpha
    expected = 2 / (1 + a * a)
    assert theory.critical_sigma_w2("leaky_relu", alpha=alpha) == pytest.approx(expected, rel=1e-9)
    assert theory.critical_sigma_w2("leaky_relu", 0.1, alpha=alpha) == pytest.approx(expected)
    custom = dataclasses.replace(get_activation("leaky_relu"), alpha=a)
    assert theory.critical_sigma_w2(custom) == pytest.approx(expected, rel=1e-9)


def test_depth_scale_of_relu():
    assert theory.depth_scale("relu", 2.0, 0.0) == math.inf
    assert theory.depth_scale("relu", 1.0, 0.0) == pytest.approx(1 / math.log(2))
    assert theory.depth_scale("relu", 0.0, 0.0) == 0.0
    # q* = inf: correlations creep to c* = 1, so the scale is that of gradient growth
    assert theory.correlation_fixed_point("relu", 4.0, 0.1) == 1.0
    assert theory.depth_scale("relu", 4.0, 0.0) == pytest.approx(1 / math.log(2))


def test_activation_object_and_name_agree():
    tanh = get_activation("tanh")
    assert theory.chi1(tanh, 1.2, 0.05) == theory.chi1("tanh", 1.2, 0.05)


@pytest.mark.parametrize(
    "name", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus"]
)
def test_builtin_activations_cross_the_edge_of_chaos(name):
    for sb2 in (0.0, 0.05):
        sw2 = theory.critical_sigma_w2(name, sb2)
        assert 0 < sw2 < 1e3
        assert theory.chi1(name, sw2, sb2) == pytest.approx(1.0, abs=1e-6)
    chis = [theory.chi1(name, sw2, 0.05) for sw2 in (0.5, 1.0, 2.0, 4.0)]
    assert all(math.isfinite(c) for c in chis) and chis == sorted(chis)


def test_selu_critical_where_q_star_vanishes():
    # Near q = 0, E[selu'^2] is the mean of the two squared slopes, so chi1 = 1 there.
    slopes = 1.0507009873554805 * np.array([1.0, 1.6732632423543772])
    assert theory.critical_sigma_w2("selu") == pytest.approx(2 / (slopes**2).sum(), rel=1e-6)


def test_bistable_activations_have_no_critical_point_at_small_bias():
    # gelu'(0) = 1/2: q = 0 attracts for sw2 < 4 while q = inf attracts for sw2 > 2, so chi1
    # jumps from sw2/4 to sw2/2 across 1 instead of crossing it.
    for name in ("gelu", "silu"):
        with pytest.raises(ValueError, match="jumps across 1"):
            theory.critical_sigma_w2(name, 0.0)
    sw2 = theory.critical_sigma_w2("gelu", 0.5)
    assert theory.chi1("gelu", sw2, 0.5) == pytest.approx(1.0, abs=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="tahn"):
        theory.chi1("tahn", 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.chi1("tanh", -1.0, 0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        theory.fixed_point_q("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        theory.critical_sigma_w2("tanh", float("nan"))


# --- correlation map: c* and xi_c against an independent adaptive quadrature ----------------
# The activations are written again in plain math here, and the plane is integrated by
# nested scipy quad with each kink (u1 = 0, u2 = 0) given as a breakpoint.

_SELU_A, _SELU_L = 1.6732632423543772, 1.0507009873554805
PLAIN = {  # name: (phi, phi')
    "tanh": (math.tanh, lambda u: 1 - math.tanh(u) ** 2),
    "elu": (lambda u: u if u > 0 else math.expm1(u), lambda u: 1.0 if u > 0 else math.exp(u)),
    "selu": (
        lambda u: _SELU_L * (u if u > 0 else _SELU_A * math.expm1(u)),
        lambda u: _SELU_L * (1.0 if u > 0 else _SELU_A * math.exp(u)),
    ),
    "sigmoid": (expit, lambda u: expit(u) * expit(-u)),
}


def gauss_quad(f, kink=None):
    """E[f(z)], z ~ N(0, 1), by adaptive quad on [-12, 12] with a breakpoint at the kink."""
    points = [kink] if kink is not None and abs(kink) < 12 else None
    density = 1 / math.sqrt(2 * math.pi)
    g = lambda z: f(z) * math.exp(-z * z / 2) * density  # noqa: E731
    return quad(g, -12, 12, points=points, epsabs=1e-13, epsrel=1e-11, limit=200)[0]


def pair_mean(f, q, c):
    """E[f(u1) f(u2)], u1 = sqrt(q) z1, u2 = sqrt(q)(c z1 + sqrt(1 - c^2) z2)."""
    r, s = math.sqrt(q), math.sqrt(1 - c * c)

    def inner(z1):
        return f(r * z1) * gauss_quad(lambda z2: f(r * (c * z1 + s * z2)), -c * z1 / s)

    return gauss_quad(inner, 0.0)


def plain_q_star(name, sw2, sb2):
    phi = PLAIN[name][0]
    return brentq(lambda q: sw2 * gauss_quad(lambda z: phi(math.sqrt(q) * z) ** 2, 0) + sb2 - q,
                  1e-6, 1e4, xtol=1e-14, rtol=1e-14)  # fmt: skip


CHAOTIC = [("tanh", 2.5, 0.05), ("tanh", 4.0, 0.2), ("elu", 1.8, 0.05), ("selu", 1.5, 0.05),
           ("sigmoid", 150.0, 0.05)]  # fmt: skip
ORDERED = [("tanh", 1.0, 0.05), ("tanh", 1.7, 0.05), ("elu", 1.4, 0.05), ("sigmoid", 60.0, 0.05)]


@pytest.mark.parametrize("name, sw2, sb2", CHAOTIC)
def test_chaotic_c_star_and_xi_c_against_independent_quadrature(name, sw2, sb2):
    phi, dphi = PLAIN[name]
    q = plain_q_star(name, sw2, sb2)
    assert theory.fixed_point_q(name, sw2, sb2) == pytest.approx(q, rel=1e-9)
    c = theory.correlation_fixed_point(name, sw2, sb2)
    assert 0 <= c < 1

    def excess(x):
        return (sw2 * pair_mean(phi, q, x) + sb2) / q - x

    assert abs(excess(c)) < 1e-9  # a fixed point of the independently integrated map
    assert excess(c - 1e-3) > 0 > excess(c + 1e-3)  # and the stable one: the map crosses down
    chi_c = sw2 * pair_mean(dphi, q, c)
    assert 0 < chi_c < 1
    assert theory.chi_c(name, sw2, sb2) == pytest.approx(chi_c, rel=1e-7)
    assert theory.depth_scale(name, sw2, sb2) == pytest.approx(-1 / math.log(chi_c), rel=1e-6)
    assert theory.depth_scale(name, sw2, sb2) > 1 / math.log(theory.chi1(name, sw2, sb2))


@pytest.mark.parametrize("name, sw2, sb2", ORDERED)
def test_ordered_c_star_is_one_against_independent_quadrature(name, sw2, sb2):
    phi, dphi = PLAIN[name]
    q = plain_q_star(name, sw2, sb2)
    assert theory.correlation_fixed_point(name, sw2, sb2) == 1.0
    # the independently integrated map lies above the diagonal below 1: no other fixed point
    for x in (0.0, 0.5, 0.9, 0.99):
        assert (sw2 * pair_mean(phi, q, x) + sb2) / q > x
    chi1 = sw2 * gauss_quad(lambda z: dphi(math.sqrt(q) * z) ** 2, 0.0)
    assert chi1 < 1
    assert theory.chi_c(name, sw2, sb2) == pytest.approx(chi1, rel=1e-8)
    assert theory.depth_scale(name, sw2, sb2) == pytest.approx(-1 / math.log(chi1), rel=1e-7)


def test_pair_moments_match_the_relu_arc_cosine_kernel():
    relu = get_activation("relu")
    for c in (-0.7, 0.0, 0.3, 0.9, 1 - 1e-9, 1.0):
        q, theta = 2.5, math.acos(c)
        kernel = q / (2 * math.pi) * (math.sqrt(1 - c * c) + (math.pi - theta) * c)
        both_on = (math.pi - theta) / (2 * math.pi)
        got = theory._pair_moments(relu, 0.0, q, c)
        assert got == pytest.approx((kernel, both_on), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["tanh", "relu", "elu", "selu", "sigmoid"])
def test_the_pair_rule_slope_is_q_times_its_derivative_moment(name):
    """c* is found by Newton with the map's slope taken from the pair rule's second moment,
    d/dc E[phi(u1) phi(u2)] = q E[phi'(u1) phi'(u2)] (Price's theorem): central differences
    of the first moment agree, kinked activations included."""
    act = get_activation(name)
    q, h = 1.3, 1e-5
    for c in (0.0, 0.4, 0.9):
        ahead, behind = (theory._pair_moments(act, act.alpha, q, c + d)[0] for d in (h, -h))
        slope = q * theory._pair_moments(act, act.alpha, q, c)[1]
        assert (ahead - behind) / (2 * h) == pytest.approx(slope, rel=1e-6)


def test_c_star_that_newton_cannot_settle_is_an_error_not_a_number(monkeypatch):
    """Where Newton's method runs out of steps (here: allowed one), c* is an error naming
    the setting, never the last iterate passed off as the fixed point."""
    monkeypatch.setattr(theory, "MAX_NEWTON_STEPS", 1)
    act = get_activation("tanh")
    with pytest.raises(ArithmeticError, match="tanh.*sigma_w2=2.5.*did not settle"):
        theory._correlation.__wrapped__(act, act.alpha, 2.5, 0.05)


def test_odd_activation_without_bias_decorrelates_fully():
    # tanh is odd: at sb2 = 0 the map fixes c = 0, where E[phi'(u1) phi'(u2)] factorises.
    q = theory.fixed_point_q("tanh", 2.0, 0.0)
    assert theory.correlation_fixed_point("tanh", 2.0, 0.0) == 0.0
    mean_slope = gauss_quad(lambda z: PLAIN["tanh"][1](math.sqrt(q) * z))
    assert theory.chi_c("tanh", 2.0, 0.0) == pytest.approx(2.0 * mean_slope**2, rel=1e-9)


def test_depth_scale_peaks_at_the_critical_line():
    crit = theory.critical_sigma_w2("tanh", 0.05)
    xi = [theory.depth_scale("tanh", w, 0.05) for w in (1.0, 1.5, crit - 0.05, crit + 0.05, 2.5)]
    assert xi[0] < xi[1] < xi[2] and xi[3] > xi[4] and min(xi[2:4]) > 30
    assert theory.correlation_fixed_point("tanh", crit + 0.05, 0.05) > 0.9


# --- usable critical points: every built-in activation decided at sb2 = 0 and 0.05 ------------
LEAKY = 2 / (1 + 0.01**2)
CRITICAL = {  # name: {sb2: critical sw2, or the ValueError's reason}
    "linear": {0.0: 1.0, 0.05: 1.0},  # chi1 = sw2 at any q
    "relu": {0.0: 2.0, 0.05: 2.0},
    "leaky_relu": {0.0: LEAKY, 0.05: LEAKY},
    "tanh": {0.0: "degenerate", 0.05: 1.7610},  # Schoenholz et al.'s setting
    "elu": {0.0: "degenerate", 0.05: 1.5337},
    "selu": {0.0: "degenerate", 0.05: 0.9018},
    "sigmoid": {0.0: "above 100", 0.05: "above 100"},  # root at sw2 ~ 103, q* ~ 46
    "softplus": {0.0: r"only as q\* -> inf", 0.05: r"only as q\* -> inf"},
    "gelu": {0.0: "jumps across 1", 0.05: "jumps across 1"},
    "silu": {0.0: "jumps across 1", 0.05: "jumps across 1"},
}


def test_every_builtin_activation_has_a_decided_critical_point():
    assert len(CRITICAL) == 10 and set(CRITICAL) <= set(ACTIVATIONS)


@pytest.mark.parametrize("sb2", [0.0, 0.05])
@pytest.mark.parametrize("name", sorted(CRITICAL))
def test_critical_point(name, sb2):
    expected = CRITICAL[name][sb2]
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=f"'{name}' at sigma_b2={sb2}.*{expected}"):
            theory.critical_point(name, sb2)
        return
    sw2, q = theory.critical_point(name, sb2)
    assert sw2 == pytest.approx(expected, abs=1e-4)
    assert theory.chi1(name, sw2, sb2) == pytest.approx(1.0, abs=1e-6)
    if name in PLAIN:  # chi1 = 1 again, with q* and the expectation integrated independently
        dphi = PLAIN[name][1]
        q_plain = plain_q_star(name, sw2, sb2)
        assert q == pytest.approx(q_plain, rel=1e-8) and q > theory.Q_DEGENERATE
        chi1 = sw2 * gauss_quad(lambda z: dphi(math.sqrt(q_plain) * z) ** 2, 0.0)
        assert chi1 == pytest.approx(1.0, abs=1e-6)
    elif sb2 > 0:  # homogeneous: q grows by sb2 per layer, but chi1 = 1 at every q
        assert q == math.inf
        for q_layer in (0.1, 1.0, 100.0):
            dphi = get_activation(name)(math.sqrt(q_layer) * GRID)[1]
            assert sw2 * (dphi**2 * GRID_W).sum() == pytest.approx(1.0, abs=1e-6)


def test_gelu_and_silu_critical_points_exist_at_larger_bias():
    for name, sb2 in (("gelu", 0.2), ("silu", 1.0)):
        sw2, q = theory.critical_point(name, sb2)
        assert 1.9 < sw2 < 2 and 0 < q < theory.Q_MAX
        assert theory.chi1(name, sw2, sb2) == pytest.approx(1.0, abs=1e-6)


def test_predictions_tabulate_the_theory_at_cells_and_along_curves():
    settings = pd.DataFrame(
        {
            "activation": ["tanh", "tanh", "tanh", "relu", "relu"],
            "sigma_w2": [1.0, 2.0, 1.0, 2.0, np.nan],  # a repeat, and a run of another init
            "sigma_b2": [0.05, 0.05, 0.05, 0.0, 0.0],
        }
    )
    table = theory.predictions(settings)
    cells = table[table["kind"] == "cell"].set_index(["activation", "sigma_w2"])
    assert sorted(cells.index) == [("relu", 2.0), ("tanh", 1.0), ("tanh", 2.0)]
    for (act, sw2), row in cells.iterrows():
        assert row["chi1"] == theory.chi1(act, sw2, row["sigma_b2"])
        assert row["depth_scale"] == theory.depth_scale(act, sw2, row["sigma_b2"])
        assert row["q_star"] == theory.fixed_point_q(act, sw2, row["sigma_b2"])
    tanh = table[(table["kind"] == "curve") & (table["activation"] == "tanh")]["sigma_w2"]
    assert len(tanh) == theory.CURVE_POINTS
    assert tanh.min() == 0.5 and tanh.max() == 2.5  # half a grid step beyond the cells
    assert theory.predictions(settings.iloc[4:]).empty


# ---- spectra: the Jacobian's spectrum (Pennington et al. 2017) and ReLU log-norms (Hanin &
# Nica 2019), against closed forms and Monte Carlo at small sizes


def test_derivative_moments_against_quadrature_and_closed_forms():
    """mu_k = E[phi'(h)^(2k)], h ~ N(0, q); relu's are 1/2 at any q, tanh's near q = 0 follow
    the series sech^4 = 1 - 2h^2 + 7/3 h^4, sech^8 = 1 - 4h^2 + 26/3 h^4."""
    q = 0.3
    for k in (1, 2):
        exact = quad(lambda h, k=k: np.cosh(h) ** (-4 * k) * np.exp(-h * h / (2 * q)), -30,
                     30, epsabs=1e-13)[0] / math.sqrt(2 * math.pi * q)  # fmt: skip
        assert theory.derivative_moments("tanh", q)[k - 1] == pytest.approx(exact, rel=1e-9)
    assert theory.derivative_moments("relu", 7.0) == pytest.approx((0.5, 0.5), rel=1e-12)
    q = 1e-3
    mu1, mu2 = theory.derivative_moments("tanh", q)
    assert mu1 == pytest.approx(1 - 2 * q + 7 * q * q, abs=1e-7)
    assert mu2 / mu1**2 - 1 == pytest.approx(8 * q * q, rel=0.02)  # PSS: spread 8 q*^2 a layer
    with pytest.raises(ValueError, match="q must be a finite number >= 0, got -1"):
        theory.derivative_moments("tanh", -1)


def test_jacobian_moments_closed_forms():
    """Linear: orthogonal is an exact isometry, Gaussian spreads by L (Marchenko-Pastur's
    variance 1 a layer); relu: mu2/mu1^2 - 1 = 1, so L orthogonal and 2L Gaussian, at any
    q (q* = inf at sb2 > 0 is probed at q = 1); the mean is chi1^L."""
    L = 9
    linear = theory.jacobian_moments("linear", 1.0, 0.0, L, "orthogonal")
    assert (linear["mean"], linear["variance"]) == pytest.approx((1.0, 0.0), abs=1e-12)
    assert theory.jacobian_moments("linear", 1.0, 0.0, L)["spread"] == pytest.approx(L)
    relu = theory.jacobian_moments("relu", 2.0, 1e-5, L, "orthogonal")
    assert relu["q"] == 1.0 and relu["spread"] == pytest.approx(L, rel=1e-12)
    assert theory.jacobian_moments("relu", 2.0, 0.0, L)["spread"] == pytest.approx(2 * L)
    off = theory.jacobian_moments("relu", 3.0, 0.0, L, "orthogonal")  # chaotic: m1 = 1.5^L
    assert off["mean"] == pytest.approx(1.5**L) and off["variance"] == pytest.approx(
        1.5 ** (2 * L) * L
    )
    sw2, q = theory.critical_point("tanh", 1e-5)
    tanh = theory.jacobian_moments("tanh", sw2, 1e-5, L, "orthogonal")
    assert tanh["q"] == pytest.approx(q) and tanh["mean"] == pytest.approx(1.0, rel=1e-9)
    assert 0 < tanh["spread"] < 10 * L * q * q  # ~ 8 L q*^2: concentrated
    with pytest.raises(ValueError, match="weights must be one of"):
        theory.jacobian_moments("tanh", sw2, 1e-5, L, "uniform")
    with pytest.raises(ValueError, match="q\\* = 0: no fixed point"):
        theory.jacobian_q("tanh", 0.5, 0.0)


def _spectrum_monte_carlo(activation, scheme, params, width, factors, draws):
    """Mean over nets of one input's variance and mean of s^2, and their standard errors,
    through the Jacobian probe on a row scaled to q* (jacobian.py)."""
    from threadpoolctl import threadpool_limits

    from initbench.inits import init_params
    from initbench.jacobian import jacobian_summary, predicted_spectrum

    predicted = predicted_spectrum(scheme, activation, params, factors)
    x = np.random.default_rng(99).standard_normal((1, width))
    sizes = [width] * (factors + 2) + [2]
    with threadpool_limits(1):  # QR and SVD of small matrices: threads only contend
        runs = [jacobian_summary(*init_params(scheme, sizes, activation=activation, seed=seed,
                                              **params), activation, x, predicted)
                for seed in range(draws)]  # fmt: skip
    var = np.array([r["init_jacobian_row_var_sq"] for r in runs])
    mean = np.array([r["init_jacobian_row_mean_sq"] for r in runs])
    return (
        predicted,
        *(float(v.mean()) for v in (var, mean)),
        *(float(v.std(ddof=1) / math.sqrt(draws)) for v in (var, mean)),
    )


@pytest.mark.parametrize(
    ("activation", "scheme", "params", "factors", "rel"),
    [
        ("tanh", "critical", {"sigma_b2": 1e-5, "weights": "orthogonal"}, 12, 0.06),
        ("tanh", "critical", {"sigma_b2": 0.05, "weights": "orthogonal"}, 6, 0.06),
        ("tanh", "critical", {"sigma_b2": 1e-5}, 4, 0.1),
        ("linear", "mean_field", {"sigma_w2": 1.0}, 8, 0.1),
        ("relu", "critical", {"sigma_b2": 1e-5, "weights": "orthogonal"}, 8, 0.1),
    ],
)
def test_jacobian_spectrum_matches_monte_carlo(activation, scheme, params, factors, rel):
    """At width 200, one input at q*: the variance of s^2 of one net's J, averaged over
    nets, is the infinite-width prediction within ``rel`` (the finite-width bias, O(L/N),
    measured at 1-4% here) plus 3 standard errors; the mean of s^2 is 1 (criticality)."""
    measured = _spectrum_monte_carlo(activation, scheme, params, 200, factors, 12)
    predicted, var, mean, var_error, mean_error = measured
    assert abs(var - predicted["variance"]) < rel * predicted["variance"] + 3 * var_error
    assert abs(mean - predicted["mean"]) < 0.02 + 3 * mean_error


def test_relu_layer_log_variance_closed_forms():
    """Width 1: one unit, K = 1 given alive: Var log chi^2_1 = psi_1(1/2) = pi^2 / 2. Wide
    layers: 5/n (Hanin & Nica), approached from above."""
    from initbench import spectra

    assert spectra.relu_layer_log_variance(1) == pytest.approx(math.pi**2 / 2, rel=1e-12)
    assert spectra.relu_layer_log_variance(4096) * 4096 == pytest.approx(5.0, rel=2e-3)
    for n in (16, 32, 64):
        assert spectra.relu_layer_log_variance(n) > 5 / n
    assert spectra.relu_log_norm_variance([16, 32]) == pytest.approx(
        spectra.relu_layer_log_variance(16) + spectra.relu_layer_log_variance(32)
    )
    assert spectra.hanin_nica_variance([16, 32]) == pytest.approx(5 * (1 / 16 + 1 / 32))
    with pytest.raises(ValueError, match="hidden must list one or more widths >= 1"):
        spectra.relu_log_norm_variance([16, 0])


@pytest.mark.parametrize("hidden", [[16, 16, 16, 16], [64, 32, 16]])
def test_relu_log_norm_variance_matches_monte_carlo(hidden):
    """He ReLU nets drawn in full (Gaussian W, variance 2/fan_in, zero biases) at one
    input: Var over nets of log |x^L|^2 (dead nets dropped) is the exact sum of V(n), not
    5 beta (20-35% below it at these widths)."""
    from initbench import spectra

    rng, nets = np.random.default_rng(5), 10000
    x = np.broadcast_to(rng.standard_normal(20), (nets, 20))
    for n in hidden:
        W = rng.standard_normal((nets, n, x.shape[1])) * math.sqrt(2 / x.shape[1])
        x = np.maximum(np.einsum("rij,rj->ri", W, x), 0.0)
    sq = np.sum(x * x, axis=1)
    logs = np.log(sq[sq > 0])
    exact = spectra.relu_log_norm_variance(hidden)
    error = exact * math.sqrt(2 / len(logs)) * 1.5  # kurtosis of a sum of log chi^2: < 1.5x
    assert abs(logs.var(ddof=1) - exact) < 3 * error
    assert abs(spectra.hanin_nica_variance(hidden) - exact) > 6 * error
