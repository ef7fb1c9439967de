"""The vectorisable exp/expm1 against the C library, including inf, NaN and the tails."""

import math

import numpy as np
from numba import njit

from initbench.engine.jit import ELEMENTWISE_FASTMATH
from initbench.engine.vecmath import exp, expm1


@njit(fastmath=set(ELEMENTWISE_FASTMATH))
def _apply(fn_code, z, out):
    for i in range(z.size):
        out[i] = exp(z[i]) if fn_code == 0 else expm1(z[i])


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
