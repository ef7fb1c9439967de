"""Shared Numba settings, the on-disk cache every kernel uses, and the call path.

The kernels take the activation as their first argument: an integer code for the
built-ins, so one compile per dtype serves them all (see activations.apply_activation),
or a string literal key for a plugin activation, which gets its own compile.
"""

import hashlib
from pathlib import Path

from numba import njit, typeof, types
from numba.core.caching import FunctionCache

# fastmath without nnan/ninf: diverging runs must still produce inf and NaN.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
# Elementwise code (activations) needs no reassociation to vectorise, and reassociation
# would undo the exact two-step range reduction in _vecmath.exp.
ELEMENTWISE_FASTMATH = FASTMATH - {"reassoc"}

KERNEL_MODULES = ("_jit.py", "_vecmath.py", "activations.py", "losses.py", "network.py",
                  "_loop.py", "training.py")  # fmt: skip
KERNEL_SOURCES_HASH = hashlib.sha1(
    b"".join((Path(__file__).parent / name).read_bytes() for name in KERNEL_MODULES)
).hexdigest()


class KernelCache(FunctionCache):
    """Numba's cache, with every entry keyed on the source of all kernel modules.

    Numba drops a function's cached code when the function's own file changes, not when
    a function it calls or inlines (in another module) does; the key makes any edit to
    any kernel module recompile every kernel.
    """

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), KERNEL_SOURCES_HASH)


def kernel(fn=None, **options):
    """``njit`` with the project's settings: cached, fastmath (inf/NaN kept), GIL released.

    NumPy's error model: x/0 gives inf or NaN like any other overflow (a result the
    training loop records) instead of raising, and division no longer blocks vectorisation.
    """
    options = {"fastmath": set(FASTMATH), "nogil": True, "error_model": "numpy", **options}

    def compile_lazily(f):
        dispatcher = njit(**options)(f)
        dispatcher._cache = KernelCache(f)  # what njit(cache=True) sets, with our key
        return dispatcher

    return compile_lazily if fn is None else compile_lazily(fn)


def call_specialised(dispatcher, selector, *args):
    """Call ``dispatcher(selector, *args)``: a str selector is typed as a string literal.

    Looking the compiled entry point up directly costs microseconds, where the
    dispatcher's own type resolution costs more; the first call compiles (or loads from
    cache) as usual.
    """
    selector_type = types.literal(selector) if isinstance(selector, str) else typeof(selector)
    signature = (selector_type, *(typeof(arg) for arg in args))
    compiled = dispatcher.overloads.get(signature)
    if compiled is None:
        dispatcher.compile(signature)
        compiled = dispatcher.overloads[signature]
    return compiled.entry_point(selector, *args)
