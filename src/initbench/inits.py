"""Weight-initialization schemes by name, matching torch.nn.init and Keras statistics.

To add a scheme, decorate one function in this module:

- ``@layer_init(name)`` over ``fn(rng, fan_out, fan_in, *, activation, **params)`` returning W
  of shape (fan_out, fan_in), or (W, b); the bias is zero when only W is returned;
- ``@network_init(name)`` over ``fn(rng, sizes, *, activation, X, **params) -> (Ws, bs)``;
  a scheme that sees the architecture also takes ``branches`` (each residual branch's
  layer indices; empty for a plain net), and only such schemes may draw residual nets.

Its keyword parameters (with defaults) are the scheme's parameters: ``init_params`` rejects any
other name. ``activation`` is an ``Activation`` (pass one built with ``dataclasses.replace`` to
use a non-default leaky_relu slope).
"""

import inspect
import math
from dataclasses import dataclass

import numpy as np

from . import theory
from .engine.activations import Activation, get_activation
from .parametrizations import init_multipliers
from .settings import check_setting
from .text import unknown_name_message

INITS = {}

READOUTS = ("drawn", "zero")  # init_params' readout: as the scheme draws it, or all zero
LSUV_MAX_ROWS = 512  # LSUV estimates variances on at most this many rows of X
_NOT_PARAMS = {"rng", "fan_out", "fan_in", "sizes", "activation", "X", "branches"}
_TRUNC_STD = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2] (Keras/Flax)


@dataclass(frozen=True)
class Scheme:
    """A registered scheme: its function, whether it is per layer, and its parameter defaults."""

    name: str
    fn: object
    per_layer: bool
    params: dict  # name -> default, inspect.Parameter.empty when required


def _register(name, per_layer):
    def register(fn):
        params = {
            p.name: p.default
            for p in inspect.signature(fn).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in _NOT_PARAMS
        }
        INITS[name] = Scheme(name, fn, per_layer, params)
        return fn

    return register


def layer_init(name):
    """Register ``fn(rng, fan_out, fan_in, *, activation, **params) -> W | (W, b)``."""
    return _register(name, per_layer=True)


def network_init(name):
    """Register ``fn(rng, sizes, *, activation, X, **params) -> (Ws, bs)``."""
    return _register(name, per_layer=False)


def init_params(scheme, sizes, *, activation="relu", seed=0, dtype="float64", X=None,
                parametrization="sp", base_width=0, architecture="plain", block_size=2,
                readout="drawn", **params):  # fmt: skip
    """Weights ``Ws[l]`` (fan_out, fan_in) and biases ``bs[l]`` (fan_out,) for every layer.

    ``sizes`` = [n_in, h1, ..., n_out]; the output layer uses the scheme too. Draws are made in
    float64 from ``np.random.default_rng(seed)`` layer by layer, so a seed fixes the network,
    then cast to ``dtype``. ``X`` is the input batch for data-dependent schemes (lsuv);
    ``params`` are the scheme's keyword parameters, listed in ``INITS[scheme].params``.
    ``parametrization`` (with ``base_width``; see parametrizations.py) scales each layer's
    draw by its init multiplier: mup shrinks the output layer's as the width grows past
    ``base_width``. ``architecture`` and ``block_size`` (as in settings.TrainSettings) tell
    the schemes that see the architecture (``fixup``) where the residual branches are.
    ``readout="zero"`` sets the output layer's weights and bias to 0 whatever the scheme
    draws, as the mup package's MLP example does in SP and muP alike (``MuReadout``'s
    ``readout_zero_init``, which its README recommends): every width then starts from the
    same function, so no width has a head start. A study sets it as an init parameter
    (``init_params: {readout: [zero]}``); left at ``drawn`` it is no parameter of the cell.
    """
    if scheme not in INITS:
        raise ValueError(unknown_name_message("init scheme", scheme, INITS))
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    s = INITS[scheme]
    for k in params:
        if k not in s.params:
            known = ", ".join(s.params) or "none"
            raise ValueError(f"unknown param {k!r} for init scheme {scheme!r}; accepts: {known}")
    for k, v in s.params.items():
        if v is inspect.Parameter.empty and k not in params:
            raise ValueError(f"init scheme {scheme!r} needs param {k!r}")
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in sizes):
        raise ValueError(f"sizes must be >= 2 positive integers, got {sizes!r}")
    if dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    act = activation if isinstance(activation, Activation) else get_activation(activation)
    rng = np.random.default_rng(seed)
    try:
        if s.per_layer:
            Ws, bs = [], []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
                out = s.fn(rng, fan_out, fan_in, activation=act, **params)
                W, b = out if isinstance(out, tuple) else (out, np.zeros(fan_out))
                Ws.append(W)
                bs.append(b)
        else:
            shape = {}
            if "branches" in inspect.signature(s.fn).parameters:
                shape["branches"] = residual_branches(sizes, architecture, block_size)
            elif architecture != "plain":
                raise ValueError(f"it draws plain nets only, not architecture {architecture}")
            Ws, bs = s.fn(rng, sizes, activation=act, X=X, **shape, **params)
    except ValueError as e:
        raise ValueError(f"init scheme {scheme!r}: {e}") from None
    shapes = [((o, i), (o,)) for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    if [(W.shape, b.shape) for W, b in zip(Ws, bs, strict=True)] != shapes:
        raise RuntimeError(f"init scheme {scheme!r} returned the wrong shapes")
    if parametrization != "sp":
        check_setting("parametrization", parametrization)
        check_setting("base_width", base_width)
        scale = init_multipliers(parametrization, sizes, base_width)  # needs a base_width > 0
        Ws = [W * s for W, s in zip(Ws, scale, strict=True)]
    if readout == "zero":
        Ws[-1], bs[-1] = np.zeros_like(Ws[-1]), np.zeros_like(bs[-1])
    Ws = [np.ascontiguousarray(W, dtype=dtype) for W in Ws]
    return Ws, [np.ascontiguousarray(b, dtype=dtype) for b in bs]


def residual_branches(sizes, architecture, block_size):
    """Each residual branch's layer indices (engine/residual.py's layout); [] if plain."""
    if architecture == "plain":
        return []
    blocks = (len(sizes) - 3) // block_size
    return [[1 + j * block_size + i for i in range(block_size)] for j in range(blocks)]


def _number(name, value, nonneg=True):
    """``value`` as a float, or a ValueError naming the param."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and (value >= 0 or not nonneg)):
        need = "a finite number >= 0" if nonneg else "a finite number"
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return float(value)


def _fan(mode, fan_in, fan_out):
    fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    if mode not in fans:
        raise ValueError(f"mode must be one of {', '.join(fans)}, got {mode!r}")
    return fans[mode]


def _relu_gain(activation, gain):
    """He's gain: sqrt(2/(1+a^2)) with a the leaky_relu slope (0 for any other activation)."""
    if gain is None:
        a = activation.alpha if activation.name == "leaky_relu" else 0.0
        return math.sqrt(2.0 / (1.0 + a * a))
    return _number("gain", gain)


# --- schemes --------------------------------------------------------------------------


@layer_init("zeros")
def zeros(rng, fan_out, fan_in, *, activation):
    """All zero: every unit stays identical (the symmetry problem) and relu nets never move."""
    return np.zeros((fan_out, fan_in))


@layer_init("constant")
def constant(rng, fan_out, fan_in, *, activation, value=0.5):
    """Every weight ``value``, bias 0: nonzero, so what fails is symmetry, not zero signal."""
    return np.full((fan_out, fan_in), _number("value", value, nonneg=False))


@layer_init("uniform")
def uniform(rng, fan_out, fan_in, *, activation, eps=0.01):
    """U[-eps, eps]: the seed's 'between -1 and 1 times 0.01'."""
    eps = _number("eps", eps)
    return rng.uniform(-eps, eps, (fan_out, fan_in))


@layer_init("normal")
def normal(rng, fan_out, fan_in, *, activation, std=0.01):
    """N(0, std^2): the seed's randn * 0.01; std=10 is the course's 'large random' init."""
    return _number("std", std) * rng.standard_normal((fan_out, fan_in))


@layer_init("positive_normal")
def positive_normal(rng, fan_out, fan_in, *, activation, std=10.0):
    """|N(0, std^2)|: every weight positive, the seed's "weights ... large and > 0" read
    literally (its exploding-gradients sentence)."""
    return np.abs(_number("std", std) * rng.standard_normal((fan_out, fan_in)))


@layer_init("xavier_uniform")
def xavier_uniform(rng, fan_out, fan_in, *, activation, gain=1.0):
    """Glorot & Bengio's normalized init: U[+-gain sqrt(6/(fan_in+fan_out))] (Keras default)."""
    bound = _number("gain", gain) * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, (fan_out, fan_in))


@layer_init("xavier_normal")
def xavier_normal(rng, fan_out, fan_in, *, activation, gain=1.0):
    """N(0, gain^2 2/(fan_in+fan_out))."""
    std = _number("gain", gain) * math.sqrt(2.0 / (fan_in + fan_out))
    return std * rng.standard_normal((fan_out, fan_in))


@layer_init("he_uniform")
def he_uniform(rng, fan_out, fan_in, *, activation, gain=None, mode="fan_in"):
    """torch kaiming_uniform_: bound sqrt(3) gain/sqrt(fan); gain defaults to He's relu gain."""
    bound = math.sqrt(3.0) * _relu_gain(activation, gain) / math.sqrt(_fan(mode, fan_in, fan_out))
    return rng.uniform(-bound, bound, (fan_out, fan_in))


@layer_init("he_normal")
def he_normal(rng, fan_out, fan_in, *, activation, gain=None, mode="fan_in"):
    """torch kaiming_normal_: std gain/sqrt(fan), gain sqrt(2/(1+a^2)) by default."""
    std = _relu_gain(activation, gain) / math.sqrt(_fan(mode, fan_in, fan_out))
    return std * rng.standard_normal((fan_out, fan_in))


@layer_init("lecun_uniform")
def lecun_uniform(rng, fan_out, fan_in, *, activation):
    """U[+-sqrt(3/fan_in)]: variance 1/fan_in (as Keras lecun_uniform)."""
    bound = math.sqrt(3.0 / fan_in)
    return rng.uniform(-bound, bound, (fan_out, fan_in))


@layer_init("lecun_normal")
def lecun_normal(rng, fan_out, fan_in, *, activation):
    """N(0, 1/fan_in), plain (torch kaiming-style with gain 1), not Keras's truncated normal."""
    return rng.standard_normal((fan_out, fan_in)) / math.sqrt(fan_in)


@layer_init("orthogonal")
def orthogonal(rng, fan_out, fan_in, *, activation, gain=1.0):
    """torch orthogonal_: QR of a normal matrix, signs fixed by diag(R), times gain.

    Rows are orthonormal when fan_out <= fan_in, columns otherwise (Saxe et al. 2013).
    ``gain="he"``: He's sqrt(2/(1+a^2)), so that a ReLU net keeps its second moment:
    Mishkin & Matas's (2016) "OrthoNorm-MSRA scaled" rival of LSUV.
    """
    if isinstance(gain, str) and gain != "he":
        raise ValueError(f"gain must be a finite number >= 0 or 'he', got {gain!r}")
    gain = _relu_gain(activation, None) if gain == "he" else _number("gain", gain)
    A = rng.standard_normal((fan_out, fan_in))
    if fan_out < fan_in:
        A = A.T
    Q, R = np.linalg.qr(A)
    Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    return gain * (Q.T if fan_out < fan_in else Q)


@layer_init("truncated_normal")
def truncated_normal(rng, fan_out, fan_in, *, activation, scale=1.0, mode="fan_in"):
    """Keras/Flax variance_scaling 'truncated_normal': variance scale/fan after truncation.

    Draws N(0, std) with std = sqrt(scale/fan)/0.8796..., redrawing any beyond 2 std.
    """
    scale = _number("scale", scale)
    std = math.sqrt(scale / _fan(mode, fan_in, fan_out)) / _TRUNC_STD
    z = rng.standard_normal((fan_out, fan_in))
    while (bad := np.abs(z) > 2.0).any():
        z[bad] = rng.standard_normal(int(bad.sum()))
    return std * z


@layer_init("torch_default")
def torch_default(rng, fan_out, fan_in, *, activation):
    """torch.nn.Linear: W and b both from U(+-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    W = rng.uniform(-bound, bound, (fan_out, fan_in))
    return W, rng.uniform(-bound, bound, fan_out)


@layer_init("glorot_standard")
def glorot_standard(rng, fan_out, fan_in, *, activation):
    """Glorot & Bengio (2010)'s "standard" init, eq. 1: W ~ U[+-1/sqrt(fan_in)], biases 0.

    So fan_in Var(W) = 1/3. torch_default draws the same W but a random bias too.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, (fan_out, fan_in))


@layer_init("mean_field")
def mean_field(rng, fan_out, fan_in, *, activation, sigma_w2, sigma_b2=0.0, weights="normal"):
    """W ~ N(0, sigma_w2/fan_in), b ~ N(0, sigma_b2): the (sw2, sb2) of mean-field theory.

    No bias is drawn when sigma_b2 = 0, so mean_field(sigma_w2=2) draws He's weights.
    ``weights="orthogonal"``: W is a scaled orthogonal matrix instead, with the same
    variance per unit (each row's expected squared norm sigma_w2), as Pennington et al.
    (2017) compare the two at one (sw2, sb2).
    """
    sw2, sb2 = _number("sigma_w2", sigma_w2), _number("sigma_b2", sigma_b2)
    if weights == "normal":
        W = math.sqrt(sw2 / fan_in) * rng.standard_normal((fan_out, fan_in))
    elif weights == "orthogonal":  # rows orthonormal, or columns: rows of norm^2 in/out
        W = orthogonal(rng, fan_out, fan_in, activation=activation,
                       gain=math.sqrt(sw2 * max(1.0, fan_out / fan_in)))  # fmt: skip
    else:
        raise ValueError(f"weights must be normal or orthogonal, got {weights!r}")
    b = math.sqrt(sb2) * rng.standard_normal(fan_out) if sb2 > 0 else np.zeros(fan_out)
    return W, b


@layer_init("critical")
def critical(rng, fan_out, fan_in, *, activation, sigma_b2=0.05, weights="normal"):
    """mean_field at the edge of chaos: sigma_w2 from theory.critical_point(activation, sigma_b2).

    sigma_b2 defaults to 0.05, the bias variance of Schoenholz et al.'s (2017) trainability
    grids and Poole et al.'s (2016) tanh examples: at 0 the critical point of tanh, elu and
    selu is degenerate (q* -> 0, the signal dies out). At 0.05: tanh 1.761, elu 1.534, selu
    0.902 (q* 0.57, 1.30, 0.83); relu and leaky_relu 2/(1+a^2) and linear 1, where q grows
    by 0.05 per layer but chi1 = 1 at every q. sigmoid (saturated root, sw2 ~ 103), softplus
    (critical only as q* -> inf) and gelu, silu (chi1 jumps over 1 below sigma_b2 ~ 0.2 and
    ~ 1) have no usable edge of chaos there: a ValueError says why. ``weights``: normal or
    orthogonal (see mean_field).
    """
    sb2 = _number("sigma_b2", sigma_b2)
    sw2, _ = theory.critical_point(activation, sb2)
    return mean_field(rng, fan_out, fan_in, activation=activation, sigma_w2=sw2, sigma_b2=sb2,
                      weights=weights)  # fmt: skip


@network_init("lsuv")
def lsuv(rng, sizes, *, activation, X, tol=0.1, max_iter=10):
    """Mishkin & Matas 2016: orthogonal, then per layer W /= sqrt(Var(Z)) until |Var - 1| < tol.

    Var is over the whole pre-activation of the layer on the first 512 rows of X; hidden layers
    apply the activation, the output layer is linear. At most ``max_iter`` rescales per layer.
    """
    if X is None:
        raise ValueError("X is required: a batch of inputs (n, n_in) to measure variances on")
    tol = _number("tol", tol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    A = np.asarray(X, dtype=np.float64)[:LSUV_MAX_ROWS]
    if A.ndim != 2 or A.shape[1] != sizes[0]:
        raise ValueError(f"X must have shape (n, {sizes[0]}), got {np.shape(X)}")
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    Ws = [orthogonal(rng, o, i, activation=activation) for i, o in pairs]
    bs = [np.zeros(o) for o in sizes[1:]]
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        for _ in range(max_iter):
            var = (A @ W.T + b).var()
            if abs(var - 1.0) < tol or not (math.isfinite(var) and var > 0):
                break
            W /= math.sqrt(var)
        Z = A @ W.T + b
        A = activation(Z)[0] if i < len(Ws) - 1 else Z
    return Ws, bs


@network_init("fixup")
def fixup(rng, sizes, *, activation, X, branches, gain=None):
    """Fixup (Zhang, Dauphin & Ma 2019) for L residual branches of m >= 2 layers: the readout
    and each branch's last layer zero, the branches' other layers he_normal times
    L^(-1/(2m-2)), the input layer he_normal. Fixup's scalar multipliers and biases are not
    added: the layers' own biases (zero) stand in for its scalar biases.
    """
    if not branches or len(branches[0]) < 2:
        raise ValueError("it needs architecture residual with block_size 2 (m >= 2 a branch)")
    m = len(branches[0])
    scale = len(branches) ** (-1 / (2 * m - 2))
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    Ws = [he_normal(rng, o, i, activation=activation, gain=gain) for i, o in pairs]
    for branch in branches:
        for layer in branch[:-1]:
            Ws[layer] *= scale
        Ws[branch[-1]][:] = 0.0
    Ws[-1][:] = 0.0
    return Ws, [np.zeros(o) for o in sizes[1:]]
