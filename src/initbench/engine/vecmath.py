"""exp, expm1 and tanh that LLVM can vectorise without Intel's SVML, in float32 and float64.

Numba's math.exp/tanh call the C library one element at a time unless llvmlite was built
against SVML (conda's is; PyPI's is not), which made exp-based activations cost ~15 ns per
element. These are Cody-Waite range reduction plus a Taylor polynomial (relative error
below 1e-16 on the reduced range), written as straight-line code so loops over them
vectorise once LLVM has inlined them (forceinline). inf and NaN behave as in the C
library; results below DBL_MIN (x < -708.4) are flushed to 0 rather than returned as
subnormals.

Each function keeps its argument's precision: a float32 argument runs a float32 twin
(float32 constants, a degree-8 polynomial, twice the lanes of float64), where promoting to
float64 had made a float32 tanh step cost as much as a float64 one. Float64 code is that of
the float64-only versions, instruction for instruction.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from .jit import ELEMENTWISE_FASTMATH

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MAX = 709.782712893384  # log(DBL_MAX)
_EXP_MIN = -708.3964185322641  # log(DBL_MIN): below, 2**k would be subnormal
_HALF_LN2 = 0.34657359027997264

_F32 = np.float32
_LOG2E_32 = _F32(_LOG2E)
_LN2_HI_32, _LN2_LO_32 = _F32(0.693359375), _F32(-2.12194440e-4)  # Cephes' split of ln 2
# log(FLT_MAX) and log(FLT_MIN), rounded towards 0 so 2**k stays finite and normal
_EXP_MAX_32 = np.nextafter(_F32(math.log(np.finfo(np.float32).max)), _F32(0))
_EXP_MIN_32 = np.nextafter(_F32(math.log(np.finfo(np.float32).tiny)), _F32(0))
_ZERO_32, _HALF_32, _ONE_32, _TWO_32, _TANH_CLIP_32 = map(_F32, (0.0, 0.5, 1.0, 2.0, 20.0))
_INF_32, _MAX_POWER_32 = _F32(math.inf), _F32(127.0)
# float bits: (LLVM float type, integer of its width, exponent bias, mantissa bits)
_FORMATS = {64: (ir.DoubleType(), ir.IntType(64), 1023, 52),
            32: (ir.FloatType(), ir.IntType(32), 127, 23)}  # fmt: skip
# Cody-Waite splits of ln 2 by width: k * high is exact for every k the range allows
_LN2_SPLITS = {64: (_LN2_HI, _LN2_LO), 32: (float(_LN2_HI_32), float(_LN2_LO_32))}


@intrinsic
def _times_pow2(typingctx, x, k):
    """x * 2**k for an integral float k within the normal exponents, by building 2**k's bits.

    Adding 2**52 (float32: 2**23) puts k + bias in the low mantissa bits (no float-to-int
    conversion, which AVX2 cannot vectorise); shifting them into the exponent field gives
    2**k.
    """
    sig = x(x, x)
    real, integer, bias, mantissa = _FORMATS[x.bitwidth]

    def codegen(context, builder, signature, args):
        value, power = args
        biased = builder.fadd(power, ir.Constant(real, bias + 2.0**mantissa))
        bits = builder.shl(builder.bitcast(biased, integer), ir.Constant(integer, mantissa))
        return builder.fmul(value, builder.bitcast(bits, real))

    return sig, codegen


@intrinsic
def _reduce(typingctx, x, k):
    """x - k ln 2 in two exact steps (Cody-Waite), emitted without fast-math flags so
    reassociation cannot fold the two steps into one and lose ~|k| ulps."""
    sig = x(x, x)
    real = _FORMATS[x.bitwidth][0]
    high_part, low_part = _LN2_SPLITS[x.bitwidth]

    def codegen(context, builder, signature, args):
        value, power = args
        high = builder.fsub(value, builder.fmul(power, ir.Constant(real, high_part)))
        return builder.fsub(high, builder.fmul(power, ir.Constant(real, low_part)))

    return sig, codegen


def exp(x):
    """e**x in x's precision (see the module's docstring); jitted code only."""


def expm1(x):
    """e**x - 1 in x's precision, accurate near 0; jitted code only."""


def tanh(x):
    """tanh(x) in x's precision, as e / (e + 2) with e = expm1(2|x|); jitted code only."""


def _is_float32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(exp, jit_options={"forceinline": True})
def _exp_by_type(x):
    return (lambda x: _exp32(x)) if _is_float32(x) else (lambda x: _exp64(x))


@overload(expm1, jit_options={"forceinline": True})
def _expm1_by_type(x):
    return (lambda x: _expm1_32(x)) if _is_float32(x) else (lambda x: _expm1_64(x))


@overload(tanh, jit_options={"forceinline": True})
def _tanh_by_type(x):
    return (lambda x: _tanh32(x)) if _is_float32(x) else (lambda x: _tanh64(x))


# --- float64 -------------------------------------------------------------------------


@njit(forceinline=True)
def _expm1_reduced(r):
    """e**r - 1 for |r| <= ln(2)/2, Taylor to degree 14 (truncation < 1e-19)."""
    p = 1.0 / 87178291200.0
    p = p * r + 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return r + r * r * p


@njit(forceinline=True)
def _exp64(x):
    x = float(x)
    clipped = min(max(x, _EXP_MIN), _EXP_MAX)
    k = min(np.floor(clipped * _LOG2E + 0.5), 1023.0)  # np.floor stays a float: no cvt
    r = _reduce(clipped, k)
    y = _times_pow2(1.0 + _expm1_reduced(r), k)
    y = 0.0 if x < _EXP_MIN else y
    y = math.inf if x > _EXP_MAX else y
    return x if x != x else y


@njit(forceinline=True)
def _expm1_64(x):
    """Accurate near 0 (where exp(x) - 1 would cancel), exp(x) - 1 elsewhere."""
    x = float(x)
    small = _expm1_reduced(min(max(x, -_HALF_LN2), _HALF_LN2))
    return small if abs(x) <= _HALF_LN2 else _exp64(x) - 1.0


# The activations' fast-math flags, which this formula had when it was written in tanh's
# activation: the same instructions, the same float64 results.
@njit(forceinline=True, fastmath=set(ELEMENTWISE_FASTMATH), error_model="numpy")
def _tanh64(z):
    a = abs(z)
    e = _expm1_64(2.0 * min(a, 20.0))  # tanh(20) rounds to 1
    t = e / (e + 2.0)
    return t if z >= 0 else -t


# --- float32: the same algorithms, float32 throughout ---------------------------------


@njit(forceinline=True)
def _expm1_reduced32(r):
    """e**r - 1 for |r| <= ln(2)/2 in float32, Taylor to degree 8 (truncation < 1e-9)."""
    p = _F32(1.0 / 40320.0)
    p = p * r + _F32(1.0 / 5040.0)
    p = p * r + _F32(1.0 / 720.0)
    p = p * r + _F32(1.0 / 120.0)
    p = p * r + _F32(1.0 / 24.0)
    p = p * r + _F32(1.0 / 6.0)
    p = p * r + _HALF_32
    return r + r * r * p


@njit(forceinline=True)
def _exp32(x):
    clipped = min(max(x, _EXP_MIN_32), _EXP_MAX_32)
    k = min(np.floor(clipped * _LOG2E_32 + _HALF_32), _MAX_POWER_32)
    y = _times_pow2(_ONE_32 + _expm1_reduced32(_reduce(clipped, k)), k)
    y = _ZERO_32 if x < _EXP_MIN_32 else y
    y = _INF_32 if x > _EXP_MAX_32 else y
    return x if x != x else y


@njit(forceinline=True)
def _expm1_in_range32(x):
    """e**x - 1 for x in [_EXP_MIN_32, _EXP_MAX_32] as 2**k expm1(r) + (2**k - 1): one path
    for every x, with no cancellation near 0 and none of exp(x) - 1's loss of ~2 bits
    just above ln(2)/2."""
    k = min(np.floor(x * _LOG2E_32 + _HALF_32), _MAX_POWER_32)
    small = _expm1_reduced32(_reduce(x, k))
    return _times_pow2(small, k) + (_times_pow2(_ONE_32, k) - _ONE_32)


@njit(forceinline=True)
def _expm1_32(x):
    y = _expm1_in_range32(min(max(x, _EXP_MIN_32), _EXP_MAX_32))
    y = -_ONE_32 if x < _EXP_MIN_32 else y
    y = _INF_32 if x > _EXP_MAX_32 else y
    return x if x != x else y


@njit(forceinline=True, fastmath=set(ELEMENTWISE_FASTMATH), error_model="numpy")
def _tanh32(z):
    """2|z| clipped to [0, 40] is in expm1's range: no range checks but NaN's."""
    e = _expm1_in_range32(_TWO_32 * min(abs(z), _TANH_CLIP_32))
    t = e / (e + _TWO_32)
    t = t if z >= 0 else -t
    return z if z != z else t
