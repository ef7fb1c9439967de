"""exp and expm1 that LLVM can vectorise without Intel's SVML.

Numba's math.exp/tanh call the C library one element at a time unless llvmlite was built
against SVML (conda's is; PyPI's is not), which made exp-based activations cost ~15 ns per
element. These are Cody-Waite range reduction plus a Taylor polynomial (relative error
below 1e-16 on the reduced range), written as straight-line code so loops over them
vectorise once LLVM has inlined them (forceinline). inf and NaN behave as in the C
library; results below DBL_MIN (x < -708.4) are flushed to 0 rather than returned as
subnormals.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MAX = 709.782712893384  # log(DBL_MAX)
_EXP_MIN = -708.3964185322641  # log(DBL_MIN): below, 2**k would be subnormal
_HALF_LN2 = 0.34657359027997264


@intrinsic
def _times_pow2(typingctx, x, k):
    """x * 2**k for an integral float k in [-1022, 1023], by building 2**k's bits.

    Adding 2**52 puts k + 1023 in the low mantissa bits (no float-to-int conversion,
    which AVX2 cannot vectorise); shifting them into the exponent field gives 2**k.
    """
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        value, power = args
        double, i64 = ir.DoubleType(), ir.IntType(64)
        biased = builder.fadd(power, ir.Constant(double, 1023.0 + 2.0**52))
        bits = builder.shl(builder.bitcast(biased, i64), ir.Constant(i64, 52))
        return builder.fmul(value, builder.bitcast(bits, double))

    return sig, codegen


@intrinsic
def _reduce(typingctx, x, k):
    """x - k ln 2 in two exact steps (Cody-Waite), emitted without fast-math flags so
    reassociation cannot fold the two steps into one and lose ~|k| ulps."""
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        value, power = args
        double = ir.DoubleType()
        high = builder.fsub(value, builder.fmul(power, ir.Constant(double, _LN2_HI)))
        return builder.fsub(high, builder.fmul(power, ir.Constant(double, _LN2_LO)))

    return sig, codegen


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
def exp(x):
    x = float(x)
    clipped = min(max(x, _EXP_MIN), _EXP_MAX)
    k = min(np.floor(clipped * _LOG2E + 0.5), 1023.0)  # np.floor stays a float: no cvt
    r = _reduce(clipped, k)
    y = _times_pow2(1.0 + _expm1_reduced(r), k)
    y = 0.0 if x < _EXP_MIN else y
    y = math.inf if x > _EXP_MAX else y
    return x if x != x else y


@njit(forceinline=True)
def expm1(x):
    """Accurate near 0 (where exp(x) - 1 would cancel), exp(x) - 1 elsewhere."""
    x = float(x)
    small = _expm1_reduced(min(max(x, -_HALF_LN2), _HALF_LN2))
    return small if abs(x) <= _HALF_LN2 else exp(x) - 1.0
