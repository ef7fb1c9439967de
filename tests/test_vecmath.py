"""The vectorisable exp/expm1/tanh against the C library, including inf, NaN and the tails,
in float64 and in float32 (which must stay float32: no promotion to float64)."""

import math
import re

import numpy as np
import pytest
from numba import njit, types

from initbench.engine.activations import (
    ACTIVATIONS,
    _evaluate,
    apply_activation,
    get_activation,
)
from initbench.engine.jit import ELEMENTWISE_FASTMATH, call_specialised
from initbench.engine.vecmath import exp, expm1, tanh


@njit(fastmath=set(ELEMENTWISE_FASTMATH))
def _apply(fn_code, z, out):
    for i in range(z.size):
        if fn_code == 0:
            out[i] = exp(z[i])
        elif fn_code == 1:
            out[i] = expm1(z[i])
        else:
            out[i] = tanh(z[i])


def _run(code, z):
    out = np.empty_like(z)
    _apply(code, z, out)
    return out


def test_exp_is_accurate_to_a_few_ulps():
    z = np.concatenate([np.linspace(-708, 709, 400_001), np.linspace(-1e-8, 1e-8, 1001)])
    got, ref = _run(0, z), np.array([math.exp(v) for v in z])
    assert np.max(np.abs(got - ref) / ref) < 1e-15


def test_expm1_is_accurate_near_zero_and_far():
    z = np.concatenate([np.linspace(-40, 40, 200_001), np.geomspace(1e-300, 1, 1001),
                        -np.geomspace(1e-300, 1, 1001)])  # fmt: skip
    z = z[z != 0]
    got, ref = _run(1, z), np.array([math.expm1(v) for v in z])
    assert np.max(np.abs(got - ref) / np.abs(ref)) < 1e-15


def test_special_values_match_the_c_library():
    z = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 710.0, -800.0])
    e = _run(0, z)
    assert e[0] == np.inf and e[1] == 0 and np.isnan(e[2]) and e[3] == 1 and e[4] == 1
    assert e[5] == np.inf and e[6] == 0
    m = _run(1, z)
    assert m[0] == np.inf and m[1] == -1 and np.isnan(m[2]) and m[3] == 0 and m[6] == -1


def test_tanh_float64_is_accurate():
    z = np.concatenate([np.linspace(-25, 25, 200_000), np.geomspace(1e-300, 1, 1001)])
    got, ref = _run(2, z), np.tanh(z)
    assert np.max(np.abs(got - ref) / np.abs(ref)) < 1e-15


def _float32_ulps(got, exact):
    """|got - exact| in units of float32's spacing at the exact value."""
    assert got.dtype == np.float32
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_float32_is_within_a_few_float32_ulps_of_the_exact_value():
    z = np.concatenate([np.linspace(-87, 88.7, 400_001), np.geomspace(1e-30, 1, 2001),
                        -np.geomspace(1e-30, 1, 2001)]).astype(np.float32)  # fmt: skip
    exact = z.astype(np.float64)
    for code, reference, most in [(0, np.exp, 1.5), (1, np.expm1, 1.5), (2, np.tanh, 2.5)]:
        assert np.max(_float32_ulps(_run(code, z), reference(exact))) < most, code


def test_float32_special_values():
    z = np.array([np.inf, -np.inf, np.nan, 0.0, 89.0, -88.0, -104.0], np.float32)
    e, m, t = _run(0, z), _run(1, z), _run(2, z)
    assert e[0] == np.inf and e[1] == 0 and np.isnan(e[2]) and e[3] == 1
    assert e[4] == np.inf and e[5] == 0 and e[6] == 0  # below FLT_MIN: flushed to 0
    assert m[0] == np.inf and m[1] == -1 and np.isnan(m[2]) and m[3] == 0 and m[6] == -1
    assert t[0] == 1 and t[1] == -1 and np.isnan(t[2]) and t[3] == 0 and t[4] == 1


def test_float32_arguments_are_computed_in_float32():
    """No float64 arithmetic (fpext) in a float32 loop: promoting made a float32 tanh step
    as slow as a float64 one."""
    for code in range(3):
        _run(code, np.ones(8, np.float32))
    (signature,) = [s for s in _apply.signatures if s[1].dtype == types.float32]
    llvm = _apply.inspect_llvm(signature)
    assert "fpext" not in llvm and not re.search(r"= f(add|sub|mul|div)[a-z ]* double ", llvm)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_activations_track_float64(name):
    """The kernels' float32 activations (float32 exp, expm1, tanh) agree with float64 to
    float32's precision: a few ulps, absolutely where a derivative such as 1 - tanh^2
    cancels."""
    act = get_activation(name)
    z = np.concatenate([np.linspace(-30, 30, 6001), [-1e4, -80.0, 80.0, 1e4]])
    got = [np.empty(z.size, np.float32) for _ in range(2)]
    call_specialised(_evaluate, act.selector, z.astype(np.float32), *got, np.float64(act.alpha))
    z32 = z.astype(np.float32).astype(np.float64)  # the same inputs, rounded as the kernel's
    for value, reference in zip(got, act(z32)):
        assert np.all(np.isfinite(value))
        np.testing.assert_allclose(value, reference, rtol=4 * 2.0**-24, atol=4 * 2.0**-24)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_builtin_compiled_alone_equals_the_shared_kernel(dtype):
    """Activation.__call__ compiles the activation alone (its code a literal); the training
    kernels run every built-in from one compile. Both inline the same scalar function into
    the same element loop, so they must agree to the bit, and the call must not compile
    the shared kernel."""
    z = np.concatenate([np.linspace(-30, 30, 6001), [-1e4, -80.0, 80.0, 1e4]]).astype(dtype)
    for name in sorted(n for n, a in ACTIVATIONS.items() if isinstance(a.selector, int)):
        act = get_activation(name)
        alone = [np.empty_like(z) for _ in range(2)]
        call_specialised(_evaluate, act.selector, z, *alone, act.alpha, literal=True)
        shared = [np.empty_like(z) for _ in range(2)]
        call_specialised(_evaluate, act.selector, z, *shared, act.alpha)
        for a, s in zip(alone, shared, strict=True):
            np.testing.assert_array_equal(a, s, err_msg=name)


def test_a_literal_code_resolves_to_its_builtin_alone():
    """A literal code types apply_activation for that built-in alone (0.6 s to compile
    cold instead of 2.0-2.3 s for the chain of all of them); a run-time code, as the
    training kernels pass it, gets the chain."""
    relu = get_activation("relu").selector

    def probe(z, a, d, code):
        apply_activation(relu, z, a, d, 0.0)
        apply_activation(code, z, a, d, 0.0)

    z = np.linspace(-1.0, 1.0, 5)
    compiled = njit(probe)
    compiled(z, np.empty_like(z), np.empty_like(z), relu)
    calltypes = next(iter(compiled.overloads.values())).fndesc.calltypes.values()
    codes = [sig.args[0] for sig in calltypes if sig is not None and len(sig.args) == 5]
    assert codes == [types.literal(relu), types.int64]
