"""Shared Numba settings and the call path for kernels specialised per activation.

Kernels are compiled once per activation: the activation travels as a string literal
(``name@sourcehash``) so each one gets its own inlined, vectorisable element loop, the
on-disk cache keys on it, and editing an activation's source changes the key.
"""

from numba import njit, typeof, types

# fastmath without nnan/ninf: diverging runs must still produce inf and NaN.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
# Elementwise code (activations) needs no reassociation to vectorise, and reassociation
# would undo the exact two-step range reduction in _vecmath.exp.
ELEMENTWISE_FASTMATH = FASTMATH - {"reassoc"}


def kernel(fn=None, **options):
    """``njit`` with the project's settings: cached, fastmath (inf/NaN kept), GIL released.

    NumPy's error model: x/0 gives inf or NaN like any other overflow (a result the
    training loop records) instead of raising, and division no longer blocks vectorisation.
    """
    options = {"cache": True, "fastmath": set(FASTMATH), "nogil": True, "error_model": "numpy",
               **options}  # fmt: skip
    if fn is None:
        return lambda f: njit(**options)(f)
    return njit(**options)(fn)


def call_specialised(dispatcher, key, *args):
    """Call ``dispatcher(key, *args)`` with ``key`` typed as a string literal.

    Numba resolves ``literally`` by retrying compilation on every call from Python,
    which costs milliseconds; looking the compiled entry point up directly costs
    microseconds. The first call compiles (or loads from cache) as usual.
    """
    signature = (types.literal(key), *(typeof(arg) for arg in args))
    compiled = dispatcher.overloads.get(signature)
    if compiled is None:
        return dispatcher(key, *args)
    return compiled.entry_point(key, *args)
