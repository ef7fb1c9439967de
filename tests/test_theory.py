"""Mean-field theory against closed forms and the published tanh numbers (REFERENCES.md)."""

import dataclasses
import math

import numpy as np
import pytest
from scipy.integrate import quad

from initbench import theory
from initbench.activations import get_activation


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


def test_depth_scale():
    assert theory.depth_scale("relu", 2.0, 0.0) == math.inf
    assert theory.depth_scale("relu", 1.0, 0.0) == pytest.approx(1 / math.log(2))
    assert theory.depth_scale("relu", 4.0, 0.0) == pytest.approx(1 / math.log(2))  # growth
    assert theory.depth_scale("relu", 0.0, 0.0) == 0.0


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
