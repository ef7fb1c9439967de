"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017) for any activation.

Expectations over z ~ N(0, 1) use Gauss-Legendre panels on [-10, 10], split at 0 and graded
geometrically towards it: the kinks of relu/elu/selu sit at 0, and at large q saturating
activations turn over within 1/sqrt(q) of it, where plain Gauss-Hermite loses digits (1e-2
relative for selu's E[phi'^2]); these panels keep ~1e-8 up to q = 1e10.
Every function takes the activation as a registered name or an ``Activation``; ``alpha``
overrides its default parameter (leaky_relu slope, elu scale).
"""

import functools
import math

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq

from .activations import Activation, get_activation


def _rule(edges, n=16):
    """Nodes and N(0, 1) probability weights: n-point Gauss-Legendre per panel, mirrored."""
    x, w = leggauss(n)
    a, b = np.array(edges[:-1])[:, None], np.array(edges[1:])[:, None]
    z, w = (a + (b - a) * (x + 1) / 2).ravel(), ((b - a) / 2 * w).ravel()
    w = w * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return np.concatenate([-z[::-1], z]), np.concatenate([w[::-1], w])


_NODES, _WEIGHTS = _rule([0.0, *10.0 ** np.arange(-6, 1), 2.5, 5.0, 7.5, 10.0])

Q_MIN = 1e-200  # q* below this is reported as 0: the signal collapses to the bias-free zero point
Q_MAX = 1e10  # q* above this is reported as inf: the variance map diverges (relu with sw2 > 2)


def _resolve(activation, alpha):
    act = activation if isinstance(activation, Activation) else get_activation(activation)
    return act, act.alpha if alpha is None else float(alpha)


def _moments(act, alpha, q):
    """(E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2]) for z ~ N(0, 1)."""
    phi, dphi = act(math.sqrt(q) * _NODES, alpha)
    return float(_WEIGHTS @ phi**2), float(_WEIGHTS @ dphi**2)


def _check(sigma_w2, sigma_b2):
    for name, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def fixed_point_q(activation, sigma_w2, sigma_b2, *, alpha=None):
    """Fixed point q* of q <- sw2 E[phi(sqrt(q) z)^2] + sb2 reached from q = 1.

    Iterates the map; if it has not settled after 30 steps (slow geometric decay near a
    phase boundary), brackets the root of map(q)/q - 1 in the direction the iterates move and
    solves it in log q with brentq. Returns 0.0 when the variance collapses (no fixed point
    between 0 and the iterates: tanh or relu with sb2 = 0 in the ordered phase) and inf when
    it diverges (no fixed point below Q_MAX: relu with sw2 > 2).
    """
    act, alpha = _resolve(activation, alpha)
    sigma_w2, sigma_b2 = float(sigma_w2), float(sigma_b2)
    _check(sigma_w2, sigma_b2)
    return _fixed_point(act, alpha, sigma_w2, sigma_b2)


def _fixed_point(act, alpha, sw2, sb2):
    def step(q):
        return sw2 * _moments(act, alpha, q)[0] + sb2

    q = 1.0
    for _ in range(30):
        new = step(q)
        if not new < Q_MAX:
            return math.inf
        if new < Q_MIN:
            return 0.0
        if abs(new - q) <= 1e-13 * q:
            return new
        q, rising = new, new > q

    def excess(u):  # relative residual of the map at q = e^u: root finding in log q
        return step(math.exp(u)) * math.exp(-u) - 1.0

    if rising:
        if excess(math.log(Q_MAX)) >= 0:
            return math.inf
        return math.exp(brentq(excess, math.log(q), math.log(Q_MAX), xtol=1e-14))
    if excess(math.log(Q_MIN)) <= 0:
        return 0.0
    return math.exp(brentq(excess, math.log(Q_MIN), math.log(q), xtol=1e-14))


def chi1(activation, sigma_w2, sigma_b2, *, alpha=None):
    """chi1 = sw2 E[phi'(sqrt(q*) z)^2]: per-layer growth of squared gradients (1 = critical).

    At q* = 0 or inf the expectation is taken at Q_MIN or Q_MAX, i.e. its limit, so relu gives
    sw2/2 whatever q* is.
    """
    act, alpha = _resolve(activation, alpha)
    sigma_w2, sigma_b2 = float(sigma_w2), float(sigma_b2)
    _check(sigma_w2, sigma_b2)
    return _chi1(act, alpha, sigma_w2, sigma_b2)


def _chi1(act, alpha, sw2, sb2):
    q = min(max(_fixed_point(act, alpha, sw2, sb2), Q_MIN), Q_MAX)
    return sw2 * _moments(act, alpha, q)[1]


def depth_scale(activation, sigma_w2, sigma_b2, *, alpha=None):
    """xi_c = 1/|ln chi1|: layers over which gradients change by a factor e (inf at chi1 = 1).

    For chi1 < 1 this is Schoenholz's -1/ln(chi1) (decay); for chi1 > 1 it is the scale of
    growth. Trainable depth is about 6 xi_c.
    """
    c = chi1(activation, sigma_w2, sigma_b2, alpha=alpha)
    if c == 1.0:
        return math.inf
    return 0.0 if c == 0.0 else 1.0 / abs(math.log(c))


def critical_sigma_w2(activation, sigma_b2=0.0, *, alpha=None):
    """The sw2 with chi1 = 1 at this sb2 (edge of chaos), by brentq on a widened bracket.

    Raises ValueError where chi1 jumps over 1 instead of crossing it (gelu, silu at small sb2,
    whose variance map is bistable), since no sw2 is critical there. Results are cached.
    """
    act, alpha = _resolve(activation, alpha)
    return _critical(act, alpha, float(sigma_b2))


@functools.lru_cache(maxsize=256)
def _critical(act, alpha, sb2):
    _check(1.0, sb2)

    def excess(sw2):
        return _chi1(act, alpha, sw2, sb2) - 1.0

    lo, hi = 0.5, 2.0
    while excess(lo) >= 0 and lo > 1e-8:
        lo /= 4
    while excess(hi) <= 0 and hi < 1e8:
        hi *= 4
    if not excess(lo) < 0 < excess(hi):
        raise ValueError(
            f"no critical sigma_w2 for activation {act.name!r} at sigma_b2={sb2} "
            f"in [{lo:g}, {hi:g}]"
        )
    root = brentq(excess, lo, hi, xtol=1e-12)
    if abs(excess(root)) > 1e-6:  # e.g. gelu, silu at small sb2: q* jumps from 0 to inf
        raise ValueError(
            f"chi1 of {act.name!r} at sigma_b2={sb2} jumps across 1 at sigma_w2={root:.6g}: "
            "q* from q=1 switches attractor there, so there is no edge of chaos; "
            "try a larger sigma_b2"
        )
    return root
