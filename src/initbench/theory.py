"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017) for any activation.

Expectations over z ~ N(0, 1) use Gauss-Legendre panels on [-10, 10], split at 0 and graded
geometrically towards it: the kinks of relu/elu/selu sit at 0, and at large q saturating
activations turn over within 1/sqrt(q) of it, where plain Gauss-Hermite loses digits (1e-2
relative for selu's E[phi'^2]); these panels keep ~1e-8 up to q = 1e10. Expectations over
pairs of correlated units (the correlation map, chi_c) use the same panels in polar
coordinates, split at the two kink lines.
Every function takes the activation as a registered name or an ``Activation``; ``alpha``
overrides its default parameter (leaky_relu slope, elu scale). ``predictions`` evaluates
them for a study, as the table (results/theory.parquet) the findings read: the analysis
layers compare measurements with theory without evaluating an activation.
"""

import functools
import math

import numpy as np
import pandas as pd
from numpy.polynomial.legendre import leggauss

from . import spectra
from .engine.activations import Activation, get_activation
from .imports import imported
from .tables import PREDICTED, THEORY_KEYS


def _legendre(edges, n=16):
    """Nodes and weights of n-point Gauss-Legendre on the panels between consecutive edges.

    ``edges`` is 1-d, or 2-d with one row of edges per interval.
    """
    x, w = _gauss_legendre(n)
    edges = np.atleast_2d(edges)
    a, b = edges[:, :-1].reshape(-1, 1), edges[:, 1:].reshape(-1, 1)
    return (a + (b - a) * (x + 1) / 2).ravel(), ((b - a) / 2 * w).ravel()


@functools.cache
def _gauss_legendre(n):
    """leggauss(n), computed once: each pair expectation asked for it anew (6% of its cost)."""
    return leggauss(n)


def _rule(edges):
    """Nodes and N(0, 1) probability weights: Gauss-Legendre panels on edges, mirrored."""
    z, w = _legendre(edges)
    w = w * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return np.concatenate([-z[::-1], z]), np.concatenate([w[::-1], w])


_GRADED = np.array([0.0, *10.0 ** np.arange(-6, 1)])  # panel edges graded towards a kink at 0
_EDGES = [*_GRADED, 2.5, 5.0, 7.5, 10.0]
_NODES, _WEIGHTS = _rule(_EDGES)
# Radial rule of the plane in polar coordinates: weight r e^(-r^2/2) dr (theta's 1/2pi apart).
_R, _WR = _legendre(_EDGES)
_WR = _WR * _R * np.exp(-_R * _R / 2)

Q_MIN = 1e-200  # q* below this is reported as 0: the signal collapses to the bias-free zero point
Q_MAX = 1e10  # q* above this is reported as inf: the variance map diverges (relu with sw2 > 2)
Q_DEGENERATE = 1e-6  # a critical q* below this is the bias-free collapse, not a usable point
MAX_NEWTON_STEPS = 100  # c*: Newton from 0 takes 5-9 where brentq took 12-25 evaluations
# c* is found when a Newton step is this small, or when the map minus c is within its
# rounding (MAP_ROUNDING): c* moves the rule's sector edges, so the map is smooth to ~1e-16
# only, and where its slope at c* is small (sigmoid near its critical line: 1e-4) the last
# steps can cycle between two neighbours 3e-12 apart, each a fixed point to the last digit.
NEWTON_TOLERANCE = 1e-12
MAP_ROUNDING = 1e-15
MAX_CRITICAL_SIGMA_W2 = 100.0  # above this a critical point is deep in saturation (sigmoid: 103)


def _brentq(f, a, b, xtol):
    """SciPy's brentq, imported on first use (imports.py): planning a study imports this
    module (the critical inits), and SciPy would add 0.6 s to every pipeline start."""
    return imported("scipy.optimize").brentq(f, a, b, xtol=xtol)


def _resolve(activation, alpha):
    act = activation if isinstance(activation, Activation) else get_activation(activation)
    return act, act.alpha if alpha is None else float(alpha)


def _moments(act, alpha, q):
    """(E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2]) for z ~ N(0, 1)."""
    phi, dphi = act(math.sqrt(q) * _NODES, alpha)
    return float(_WEIGHTS @ phi**2), float(_WEIGHTS @ dphi**2)


def derivative_moments(activation, q, *, alpha=None):
    """(mu_1, mu_2) = (E[phi'(h)^2], E[phi'(h)^4]), h ~ N(0, q): the first two moments of
    D^2 that Pennington et al. (2017) need for the Jacobian's spectrum (spectra.py)."""
    act, alpha = _resolve(activation, alpha)
    if not (math.isfinite(q) and q >= 0):
        raise ValueError(f"q must be a finite number >= 0, got {q!r}")
    _, dphi = act(math.sqrt(q) * _NODES, alpha)
    return float(_WEIGHTS @ dphi**2), float(_WEIGHTS @ dphi**4)


def _check(sigma_w2, sigma_b2):
    for name, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def _checked(sigma_w2, sigma_b2):
    sigma_w2, sigma_b2 = float(sigma_w2), float(sigma_b2)
    _check(sigma_w2, sigma_b2)
    return sigma_w2, sigma_b2


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


@functools.lru_cache(maxsize=4096)
def _fixed_point(act, alpha, sw2, sb2):
    """q* for the resolved activation; cached, as q*, chi1 and the correlation map of one
    setting each start from it (the theory table asked four times per row)."""

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
        return math.exp(_brentq(excess, math.log(q), math.log(Q_MAX), xtol=1e-14))
    if excess(math.log(Q_MIN)) <= 0:
        return 0.0
    return math.exp(_brentq(excess, math.log(Q_MIN), math.log(q), xtol=1e-14))


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


def _pair_moments(act, alpha, q, c):
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]), u1 = sqrt(q) z1, u2 = sqrt(q)(c z1 + s z2).

    In polar coordinates of (z1, z2) the kinks u1 = 0 and u2 = 0 are rays: the angle is split
    at them into sectors, with panels graded towards both ends of each (as the 1-d rule is
    towards 0), and the radius uses the 1-d panels. This keeps relu-like kinks and saturating
    activations at large q accurate, uniformly in c up to 1 (where two rays merge).
    """
    s = math.sqrt(max(0.0, 1.0 - c * c))
    ray = math.atan2(c, -s)  # direction of the line c z1 + s z2 = 0
    lo = np.sort(np.mod([math.pi / 2, -math.pi / 2, ray, ray - math.pi], 2 * math.pi))
    hi = np.append(lo[1:], lo[0] + 2 * math.pi)
    half = (hi - lo)[:, None] / 2
    theta, wt = _legendre(
        np.hstack([lo[:, None] + half * _GRADED, hi[:, None] - half * _GRADED[-2::-1]])
    )
    w = np.outer(_WR, wt / (2 * math.pi))
    root = math.sqrt(q)
    phi1, dphi1 = act(np.outer(root * _R, np.cos(theta)), alpha)
    phi2, dphi2 = act(np.outer(root * _R, c * np.cos(theta) + s * np.sin(theta)), alpha)
    return float((w * phi1 * phi2).sum()), float((w * dphi1 * dphi2).sum())


def correlation_fixed_point(activation, sigma_w2, sigma_b2, *, alpha=None):
    """Fixed point c* of c <- (sw2 E[phi(u1) phi(u2)] + sb2) / q* (Poole et al. 2016).

    u1 = sqrt(q*) z1 and u2 = sqrt(q*)(c z1 + sqrt(1 - c^2) z2). c* = 1 in the ordered phase
    (chi1 <= 1): inputs become perfectly correlated with depth. In the chaotic phase c* < 1 is
    the map's stable fixed point, in [0, 1): the map is a power series in c with nonnegative
    coefficients, convex on [0, 1], so this root is unique there. Where q* = inf (relu-like
    at sw2 > 2) the map tends to one with slope 1 at c = 1 and correlations creep to 1, so
    c* = 1 there too.
    """
    return _correlation(*_resolve(activation, alpha), *_checked(sigma_w2, sigma_b2))[0]


def chi_c(activation, sigma_w2, sigma_b2, *, alpha=None):
    """chi_c = sw2 E[phi'(u1) phi'(u2)] at c*: the slope of the correlation map there.

    Equal to chi1 wherever c* = 1; below 1 in the chaotic phase with finite q*.
    """
    return _correlation(*_resolve(activation, alpha), *_checked(sigma_w2, sigma_b2))[1]


def depth_scale(activation, sigma_w2, sigma_b2, *, alpha=None):
    """xi_c = -1/ln(chi_c) (Schoenholz et al. 2017): depth over which correlations settle.

    Ordered phase: chi_c = chi1, so xi_c = -1/ln(chi1). Chaotic phase: chi_c is taken at
    c* < 1, not 1/ln(chi1) (tanh, sb2 = 0.05, sw2 = 2.5: 11.8, not 7.98). inf at chi1 = 1.
    Where q* = inf (relu-like, sw2 > 2) there is no c* < 1; this returns 1/ln(chi1), the
    depth over which gradients grow by e. Trainable depth is about 6 xi_c.
    """
    c = chi_c(activation, sigma_w2, sigma_b2, alpha=alpha)
    if c == 1.0:
        return math.inf
    return 0.0 if c == 0.0 else 1.0 / abs(math.log(c))


@functools.lru_cache(maxsize=4096)
def _correlation(act, alpha, sw2, sb2):
    """(c*, chi_c) for the resolved activation; cached, as grids and plots repeat points."""
    q = _fixed_point(act, alpha, sw2, sb2)
    chi = _chi1(act, alpha, sw2, sb2)
    if chi <= 1.0 or not q < Q_MAX:
        return 1.0, chi

    # q* again from the 2-d rule (equal to ~1e-13), so that map(1) = 1 to the last digit
    norm = sw2 * _pair_moments(act, alpha, q, 1.0)[0] + sb2

    def excess(c):
        """map(c) - c, its slope and chi_c at c. The slope is free: d/dc E[phi(u1) phi(u2)]
        = q E[phi'(u1) phi'(u2)] (Price's theorem), the pair rule's second moment."""
        pair, slopes = _pair_moments(act, alpha, q, c)
        return (sw2 * pair + sb2) / norm - c, sw2 * q * slopes / norm - 1.0, sw2 * slopes

    # The map minus c is convex on [0, 1] (a power series in c with nonnegative
    # coefficients), >= 0 at 0, < 0 just below 1 when chaotic, so it falls through c*:
    # Newton from c = 0 rises to c* from below, no bracket needed (brentq took about
    # twice the evaluations, each a 2-d quadrature).
    c = 0.0
    gap, slope, chi_c = excess(c)
    if gap <= MAP_ROUNDING:  # odd phi at sb2 = 0: c = 0 is the fixed point
        return 0.0, chi_c
    for _ in range(MAX_NEWTON_STEPS):
        if not slope < 0:  # beyond the map's minimum: c* is within rounding of 1
            return 1.0, chi
        step = -gap / slope
        c += step
        if c >= 1.0 - 1e-12:  # chi1 barely above 1: c* indistinguishable from 1
            return 1.0, chi
        gap, slope, chi_c = excess(c)
        if abs(step) <= NEWTON_TOLERANCE or abs(gap) <= MAP_ROUNDING:
            return c, chi_c
    raise ArithmeticError(
        f"c* of {act.name!r} at sigma_w2={sw2:g}, sigma_b2={sb2:g}: Newton's method did not "
        f"settle in {MAX_NEWTON_STEPS} steps (its slope is E[phi'(u1) phi'(u2)]: is the "
        "activation's derivative that of phi?)"
    )


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
    root = _brentq(excess, lo, hi, xtol=1e-12)
    if abs(excess(root)) > 1e-6:  # e.g. gelu, silu at small sb2: q* jumps from 0 to inf
        raise ValueError(
            f"chi1 of {act.name!r} at sigma_b2={sb2} jumps across 1 at sigma_w2={root:.6g}: "
            "q* from q=1 switches attractor there, so there is no edge of chaos; "
            "try a larger sigma_b2"
        )
    return root


def critical_point(activation, sigma_b2, *, alpha=None):
    """(sigma_w2, q*) of a usable edge of chaos at this sb2, or ValueError saying why not.

    Usable means chi1 = 1 with sigma_w2 in (0, MAX_CRITICAL_SIGMA_W2] and either a fixed
    point Q_DEGENERATE <= q* < inf, or an activation whose chi1 does not depend on q (relu,
    leaky_relu, linear: phi' takes one value per sign), which are critical at every layer
    however q drifts (it grows by sb2 per layer at sb2 > 0). Not usable: q* -> 0 (tanh, elu,
    selu at sb2 = 0: the signal dies out), chi1 reaching 1 only as q* -> inf (softplus), a
    root in saturation (sigmoid, sw2 ~ 103 at any sb2) and a jump across 1 (gelu, silu at
    small sb2).
    """
    return _critical_point(*_resolve(activation, alpha), float(sigma_b2))


@functools.lru_cache(maxsize=256)
def _critical_point(act, alpha, sigma_b2):
    """critical_point, remembered: the critical init asks for it once per layer and seed."""
    where = f"activation {act.name!r} at sigma_b2={sigma_b2}"
    sw2 = critical_sigma_w2(act, sigma_b2, alpha=alpha)
    q = _fixed_point(act, alpha, sw2, float(sigma_b2))
    if _q_free(act, alpha):
        return sw2, q
    if sw2 > MAX_CRITICAL_SIGMA_W2:
        raise ValueError(
            f"the critical sigma_w2 of {where} is {sw2:.4g}, above {MAX_CRITICAL_SIGMA_W2:g}: "
            f"q* = {q:.3g}, so the units sit in saturation; there is no usable edge of chaos, "
            "use another activation or the mean_field init with an explicit sigma_w2"
        )
    if q < Q_DEGENERATE:
        raise ValueError(
            f"the critical point of {where} is degenerate (sigma_w2 = {sw2:.4g}, q* = {q:.2g} "
            "-> 0: the signal dies out with depth); pass sigma_b2 > 0, e.g. 0.05"
        )
    if not q < Q_MAX:
        raise ValueError(
            f"{where} reaches chi1 = 1 only as q* -> inf (sigma_w2 -> {sw2:.4g}), where it "
            "behaves like relu; at any finite depth chi1 < 1 there, so there is no edge of "
            "chaos to initialise at: use relu, or the mean_field init with an explicit sigma_w2"
        )
    return sw2, q


def _q_free(act, alpha):
    """Whether E[phi'(sqrt(q) z)^2] is the same at every q (positively homogeneous phi)."""
    m = [_moments(act, alpha, q)[1] for q in (1e-4, 1.0, 1e4)]
    return max(m) - min(m) <= 1e-12 * max(m)


CURVE_POINTS = 80  # sigma_w2 values of each theory curve drawn beside the measurements


def predictions(settings):
    """A tidy table of the mean-field predictions (PREDICTED) for a study's settings.

    Rows of kind "cell": each distinct (activation, sigma_w2, sigma_b2) of ``settings``
    that has a sigma_w2 (other inits have NaN there). Rows of kind "curve": CURVE_POINTS
    sigma_w2 values per (activation, sigma_b2), spanning its cells' values and half a grid
    step beyond, as the figures' cell edges do. Empty, with its columns, for no such rows.
    """
    rows = []
    keys = settings[list(THEORY_KEYS)].dropna(subset=["sigma_w2"]).drop_duplicates()
    for (act, sb2), group in keys.groupby(["activation", "sigma_b2"], sort=True):
        values = np.sort(group["sigma_w2"].to_numpy(float))
        half = (values[1] - values[0]) / 2 if len(values) > 1 else 0.5
        tail = (values[-1] - values[-2]) / 2 if len(values) > 1 else 0.5
        curve = np.linspace(max(values[0] - half, values[0] / 2), values[-1] + tail, CURVE_POINTS)
        for kind, grid in (("cell", values), ("curve", curve)):
            rows += [
                (act, float(sw2), float(sb2), kind, fixed_point_q(act, sw2, sb2),
                 chi1(act, sw2, sb2), depth_scale(act, sw2, sb2))
                for sw2 in grid
            ]  # fmt: skip
    return pd.DataFrame(rows, columns=[*THEORY_KEYS, "kind", *PREDICTED])


def variance_after(activation, sigma_w2, sigma_b2, q0, layers, *, alpha=None):
    """The pre-activation variance after ``layers`` steps of the variance map from ``q0``.

    q* is where this tends with depth; at a finite depth the signal may still be growing
    or dying out on its way there (relu at sw2 = 3: x1.5 a layer; tanh at sw2 = 1, sb2 =
    0: slowly to 0), which is what a network of that depth sees.
    """
    act, alpha = _resolve(activation, alpha)
    sigma_w2, sigma_b2 = _checked(sigma_w2, sigma_b2)
    q = float(q0)
    for _ in range(int(layers)):
        q = sigma_w2 * _moments(act, alpha, min(max(q, Q_MIN), Q_MAX))[0] + sigma_b2
    return q


def jacobian_q(activation, sigma_w2, sigma_b2, *, alpha=None):
    """The q at which the Jacobian's spectrum is predicted and probed: q*, or 1 where q* is 0
    or inf but E[phi'^2] is the same at every q (relu at sb2 > 0, where q grows by sb2 a
    layer: its spectrum is that of any q). ValueError for a degenerate q* of another phi."""
    act, alpha = _resolve(activation, alpha)
    q = _fixed_point(act, alpha, *_checked(sigma_w2, sigma_b2))
    if Q_DEGENERATE <= q < Q_MAX:
        return q
    if _q_free(act, alpha):
        return 1.0
    raise ValueError(f"{act.name!r} at sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g} has q* = "
                     f"{q:.3g}: no fixed point to probe the Jacobian at")  # fmt: skip


def jacobian_moments(activation, sigma_w2, sigma_b2, factors, weights="normal", *, alpha=None):
    """{q, mean, variance, spread} of the eigenvalues of J J^T, J = prod of ``factors`` layers
    D^l W^l at q = jacobian_q, infinite width (spectra.py: Pennington et al. 2017)."""
    q = jacobian_q(activation, sigma_w2, sigma_b2, alpha=alpha)
    mu1, mu2 = derivative_moments(activation, q, alpha=alpha)
    return {"q": q, "mean": spectra.jacobian_mean(sigma_w2, mu1, factors),
            "variance": spectra.jacobian_variance(sigma_w2, mu1, mu2, factors, weights),
            "spread": spectra.jacobian_spread(mu1, mu2, factors, weights)}  # fmt: skip


def default_alpha(activation):
    """The activation's default parameter (leaky_relu slope, elu scale): what every
    function here uses when not given ``alpha``."""
    return _resolve(activation, None)[1]
