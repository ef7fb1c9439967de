"""Hidden-layer activations: one decorated scalar function each, with its exact derivative.

To add an activation, write ``@activation("name", ...)`` over a function ``(z, alpha) ->
(phi(z), phi'(z))`` in this module, or in a module the config names under ``plugins``.
Every function must stay finite for |z| up to 1e4: use the stable forms below.
"""

import hashlib
import inspect
import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, types
from numba.extending import overload

from ..text import unknown_name_message
from . import vecmath
from .jit import ELEMENTWISE_FASTMATH, PluginActivation, call_specialised, kernel

ACTIVATIONS = {}
_BUILTIN_SCALARS = []  # by code: the activations defined in this module
_PLUGIN_SCALARS = {}  # by key: those registered from other modules
# forceinline: LLVM inlines a scalar function into each element loop, which then
# vectorises; Numba's inline="always" copied its IR into every call site instead, which
# made the one compile of all built-ins twice as slow.
_SCALAR_OPTIONS = {"forceinline": True, "fastmath": set(ELEMENTWISE_FASTMATH),
                   "error_model": "numpy"}  # fmt: skip


@dataclass(frozen=True)
class Activation:
    """A registered activation and the facts the study needs about it."""

    name: str
    scalar: object = field(repr=False)  # jitted (z, alpha) -> (phi, dphi)
    # What the kernels receive: a built-in's integer code (one compile serves every
    # built-in), or a plugin's key "name@hash of its module" (compiled for it alone).
    selector: int | str
    gain: float  # torch.nn.init.calculate_gain for this nonlinearity
    alpha: float = 0.0  # default slope/scale parameter, used by leaky_relu and elu
    bounds: tuple | None = None  # output range, for the saturation metric

    def __call__(self, z, alpha=None):
        """Vectorised (phi(z), phi'(z)) over a NumPy array, for references and theory.

        Compiled for this activation alone (its selector a literal), unlike the training
        kernels: the plan's init checks and the theory evaluate one activation or a few,
        and one built-in compiles cold in 0.6 s where all of them took 2.0-2.3 s."""
        z = np.ascontiguousarray(z, dtype=np.float64)
        phi, dphi = np.empty_like(z), np.empty_like(z)
        a = self.alpha if alpha is None else float(alpha)
        call_specialised(_evaluate, self.selector, z.reshape(-1), phi.reshape(-1),
                         dphi.reshape(-1), a, literal=True)  # fmt: skip
        return phi, dphi


def activation(name, *, gain, alpha=0.0, bounds=None):
    """Register ``fn(z, alpha) -> (phi, dphi)`` as the activation ``name``."""

    def register(fn):
        scalar = njit(**_SCALAR_OPTIONS)(fn)
        if fn.__module__ == __name__:
            selector = len(_BUILTIN_SCALARS)
            _BUILTIN_SCALARS.append(scalar)
        else:
            # The engine modules' sources are in every cache key (jit.KernelCache); the
            # plugin's own module is in its selector, so editing it recompiles too.
            code = inspect.getsource(inspect.getmodule(fn)).encode()
            selector = f"{name}@{hashlib.sha1(code).hexdigest()[:12]}"
            _PLUGIN_SCALARS[selector] = scalar
        ACTIVATIONS[name] = Activation(name, scalar, selector, float(gain), float(alpha), bounds)
        return fn

    return register


def kernel_family(name):
    """Which compiled kernels activation ``name`` runs on: "builtin" for the built-ins (one
    compile serves them all), or its own name for a plugin activation."""
    return "builtin" if isinstance(get_activation(name).selector, int) else name


def get_activation(name):
    """The registered activation ``name``; unknown names list the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(unknown_name_message("activation", name, ACTIVATIONS)) from None


def apply_activation(act, Z, A, D, alpha):
    """A = phi(Z), D = phi'(Z) elementwise, for a selector ``act`` (see Activation)."""


def _builtin_loops():
    """``impl(act, ...)``: an if/elif chain on the code with one element loop per built-in.

    The branch sits outside the loops, so each loop inlines one scalar function and
    vectorises as a kernel specialised on that activation would.
    """
    lines = ["def impl(act, Z, A, D, alpha):",
             "    z, a, d = Z.reshape(-1), A.reshape(-1), D.reshape(-1)"]  # fmt: skip
    for code in range(len(_BUILTIN_SCALARS)):
        lines += [f"    {'elif' if code else 'if'} act == {code}:",
                  "        for i in range(z.size):",
                  f"            a[i], d[i] = scalar_{code}(z[i], alpha)"]  # fmt: skip
    namespace = {f"scalar_{code}": s for code, s in enumerate(_BUILTIN_SCALARS)}
    exec("\n".join(lines), namespace)
    return namespace["impl"]


@overload(
    apply_activation,
    jit_options={"fastmath": set(ELEMENTWISE_FASTMATH), "error_model": "numpy"},
    prefer_literal=True,  # a literal code gets its built-in alone, not the whole chain
)
def _apply_activation(act, Z, A, D, alpha):
    if isinstance(act, types.IntegerLiteral):  # one built-in (Activation.__call__)
        scalar = _BUILTIN_SCALARS[act.literal_value]
    elif isinstance(act, types.Integer):
        return _builtin_loops()
    elif isinstance(act, PluginActivation):
        scalar = _PLUGIN_SCALARS[act.selector]
    else:
        return None

    def impl(act, Z, A, D, alpha):
        z, a, d = Z.reshape(-1), A.reshape(-1), D.reshape(-1)
        for i in range(z.size):
            a[i], d[i] = scalar(z[i], alpha)

    return impl


@kernel(fastmath=set(ELEMENTWISE_FASTMATH))
def _evaluate(act, z, phi, dphi, alpha):
    apply_activation(act, z, phi, dphi, alpha)


# --- built-in activations -------------------------------------------------------------
# vecmath.exp/expm1/tanh instead of math's: they vectorise without SVML, and keep float32
# arguments in float32.


@njit(**_SCALAR_OPTIONS)
def _sigmoid(z):
    e = vecmath.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


@activation("linear", gain=1.0)
def linear(z, alpha):
    return z, 1.0


@activation("sigmoid", gain=1.0, bounds=(0.0, 1.0))
def sigmoid(z, alpha):
    s = _sigmoid(z)
    return s, s * (1.0 - s)


@activation("tanh", gain=5.0 / 3.0, bounds=(-1.0, 1.0))
def tanh(z, alpha):
    t = vecmath.tanh(z)
    return t, 1.0 - t * t


@activation("relu", gain=math.sqrt(2.0))
def relu(z, alpha):
    if z > 0:
        return z, 1.0
    return 0.0, 0.0


@activation("leaky_relu", gain=math.sqrt(2.0 / (1.0 + 0.01**2)), alpha=0.01)
def leaky_relu(z, alpha):
    if z > 0:
        return z, 1.0
    return alpha * z, alpha


@activation("elu", gain=1.0, alpha=1.0)
def elu(z, alpha):
    if z > 0:
        return z, 1.0
    return alpha * vecmath.expm1(z), alpha * vecmath.exp(z)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@activation("selu", gain=0.75)
def selu(z, alpha):
    if z > 0:
        return _SELU_SCALE * z, _SELU_SCALE
    neg = _SELU_SCALE * _SELU_ALPHA
    return neg * vecmath.expm1(z), neg * vecmath.exp(z)


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@activation("gelu", gain=1.0)
def gelu(z, alpha):
    cdf = 0.5 * math.erfc(-z * _INV_SQRT2)  # erfc keeps the left tail accurate
    return z * cdf, cdf + z * _INV_SQRT_2PI * vecmath.exp(-0.5 * z * z)


@activation("silu", gain=1.0)
def silu(z, alpha):
    s = _sigmoid(z)
    return z * s, s * (1.0 + z * (1.0 - s))


@activation("softplus", gain=1.0)
def softplus(z, alpha):
    return max(z, 0.0) + math.log1p(vecmath.exp(-abs(z))), _sigmoid(z)
