"""Shared Numba settings, the on-disk cache every kernel uses, and the call path.

The kernels take the activation as their first argument: an integer code for the
built-ins, so one compile per dtype serves them all (see activations.apply_activation),
or a plugin activation's key, typed as its own ``PluginActivation``, which gets its own
compile.
"""

import contextlib
import hashlib
import warnings
from pathlib import Path

import numpy as np
from numba import typeof, types
from numba.core import cgutils, config
from numba.core.caching import FunctionCache
from numba.core.compiler import Compiler, DefaultPassBuilder
from numba.core.compiler_machinery import register_pass
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.core.registry import CPUDispatcher
from numba.core.typed_passes import NativeLowering
from numba.extending import NativeValue, models, register_model, unbox

from ..imports import imported
from .hyper import BAKED

# The training loop calls its large kernels by address, as first-class function types
# (loop.train_loop's ``kernels``), which Numba has flagged experimental since 0.49; the
# tests check those calls against the naive references and torch.
warnings.filterwarnings("ignore", "First-class function type feature is experimental",
                        NumbaExperimentalFeatureWarning)  # fmt: skip

# fastmath without nnan/ninf: diverging runs must still produce inf and NaN.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
# Elementwise code (activations) needs no reassociation to vectorise, and reassociation
# would undo the exact two-step range reduction in vecmath.exp.
ELEMENTWISE_FASTMATH = FASTMATH - {"reassoc"}


def kernel_cache_key(sources, baked):
    """The key every cached kernel is filed under: a hash of ``sources`` (the bytes of each
    engine module) and of ``baked`` (the values from outside engine/ that the kernels bake
    in as constants: hyper.BAKED)."""
    digest = hashlib.sha1()
    for source in sources:
        digest.update(source)
    digest.update(repr(baked).encode())
    return digest.hexdigest()


# Every module of the engine package is in the key: no list to keep up to date by hand.
KERNEL_MODULES = tuple(sorted(path.name for path in Path(__file__).parent.glob("*.py")))
KERNEL_CACHE_KEY = kernel_cache_key(
    [(Path(__file__).parent / name).read_bytes() for name in KERNEL_MODULES], BAKED
)


class KernelCache(FunctionCache):
    """Numba's cache, with every entry keyed on ``KERNEL_CACHE_KEY``.

    Numba drops a function's cached code when the function's own file changes, not when
    a function it calls or inlines (in another module) does, nor when a constant it reads
    from another module (settings.KERNEL_ROW's order, a choice's code) does; the key makes
    any edit to any engine module, or to any of those constants, recompile every kernel.
    """

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), KERNEL_CACHE_KEY)

    def _save_overload(self, sig, data):
        """Save under a lock in the cache folder: Numba reads a function's index, adds the
        entry and writes the index and the data file, unlocked, so two processes saving
        two signatures of one function at once could file one signature's entry with the
        other's code. Processes that compile in parallel (compile_parts) take turns here."""
        self._impl.locator.ensure_cache_path()
        with _file_lock(Path(self._cache_path) / "initbench-save.lock"):
            super()._save_overload(sig, data)


@contextlib.contextmanager
def _file_lock(path):
    """An exclusive lock between processes on ``path`` (POSIX ``flock``; elsewhere none,
    and parallel compiles are not used: compile_parts)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class KernelDispatcher(CPUDispatcher):
    """A dispatcher that compiles one specialisation for all values of an int or bool
    argument passed as a constant from other compiled code.

    Numba types such a constant (``unit_view(G, n, 0, width)``, ``forward(..., True)``) as
    a literal and compiles the callee once per value: the training loop compiled its
    forward pass twice (training and evaluation), and each copy again in every caller,
    which cost a quarter of a residual loop's compile. Branching on such a flag at run
    time costs nothing measurable next to the loops it guards.
    """

    def get_call_template(self, args, kws):
        args = [_unliteral_number(a) for a in args]
        kws = {name: _unliteral_number(a) for name, a in kws.items()}
        return super().get_call_template(args, kws)


def _unliteral_number(numba_type):
    if isinstance(numba_type, (types.IntegerLiteral, types.BooleanLiteral)):
        return types.unliteral(numba_type)
    return numba_type


def kernel(fn=None, **options):
    """``njit`` with the project's settings: cached, fastmath (inf/NaN kept), GIL released,
    and no specialisation on constant int or bool arguments (KernelDispatcher).

    NumPy's error model: x/0 gives inf or NaN like any other overflow (a result the
    training loop records) instead of raising, and division no longer blocks vectorisation.
    """
    options = {"fastmath": set(FASTMATH), "nogil": True, "error_model": "numpy",
               "nopython": True, "boundscheck": None, **options}  # fmt: skip
    pipeline = options.pop("pipeline_class", Compiler)

    def compile_lazily(f):
        dispatcher = KernelDispatcher(py_func=f, locals={}, targetoptions=options,
                                      pipeline_class=pipeline)  # as njit  # fmt: skip
        dispatcher._cache = KernelCache(f)  # what njit(cache=True) sets, with our key
        return dispatcher

    return compile_lazily if fn is None else compile_lazily(fn)


# LLVM's optimisation level for code that only orchestrates kernels (the training loop)
ORCHESTRATION_OPT_LEVEL = 1


@register_pass(mutates_CFG=True, analysis_only=False)
class OrchestrationLowering(NativeLowering):
    """Numba's lowering, with LLVM's optimisation level at most ORCHESTRATION_OPT_LEVEL
    while it runs: the function's own passes and its module's, with its linked callees.

    For the training loop, whose own code is control flow around kernels it calls by
    address or links already optimised: -O1 emits steps as fast and bitwise equal, in
    about 0.5 s less of its cold compile (docs/performance-log.md). Numba reads the level
    from its config as each pass manager is built; the compile lock keeps other compiles
    out meanwhile, and the level is restored even when lowering fails."""

    _name = "initbench_orchestration_lowering"

    def run_pass(self, state):
        level = config.OPT
        config.OPT = min(level, ORCHESTRATION_OPT_LEVEL)
        try:
            return super().run_pass(state)
        finally:
            config.OPT = level


class OrchestrationCompiler(Compiler):
    """Numba's nopython pipeline with ``OrchestrationLowering`` for its lowering."""

    def define_pipelines(self):
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.passes = [(OrchestrationLowering if step is NativeLowering else step, about)
                           for step, about in pipeline.passes]  # fmt: skip
        pipeline.finalize()
        return [pipeline]


class PluginActivation(types.Opaque):
    """A plugin activation's selector (its key ``name@hash``) as a type of its own: each
    plugin compiles its own kernels, as a string literal once made them, but function
    types keep it, where they drop literals (the loop calls its kernels by address with
    it: loop.train_loop). The value carries nothing; any Python object unboxes to it."""

    def __init__(self, selector):
        self.selector = selector
        super().__init__(f"PluginActivation({selector})")


register_model(PluginActivation)(models.OpaqueModel)


@unbox(PluginActivation)
def _unbox_plugin_activation(typ, obj, c):
    return NativeValue(cgutils.get_null_value(c.context.get_value_type(typ)))


def selector_type(selector, literal=False):
    """The Numba type the kernels get an activation's selector as: a plugin's key (str) as
    its ``PluginActivation``; a built-in's code as int64, or as a literal with ``literal``
    (a compile for that built-in alone)."""
    if isinstance(selector, str):
        return PluginActivation(selector)
    return types.literal(selector) if literal else typeof(selector)


def call_specialised(dispatcher, selector, *args, literal=False, typed=None):
    """Call ``dispatcher(selector, *args)``, the selector typed by ``selector_type``.
    ``typed``, a (value, Numba type) pair, is passed last as that type: the loop's
    kernels, as function types, where Numba would type them as dispatchers.

    The compiled entry point is looked up by the arguments' dtypes, dimensions and memory
    flags, which costs microseconds; Numba's own type resolution (``typeof`` of every
    argument) cost 10 us an argument, more than a small theory evaluation itself. The
    first call of a signature compiles (or loads from cache) as usual.
    """
    last_value, last_type = ((), ()) if typed is None else ((typed[0],), (typed[1],))
    literal = literal or isinstance(selector, str)
    key = (dispatcher, selector if literal else type(selector), *map(_type_key, args),
           *last_type)  # fmt: skip
    entry_point = _ENTRY_POINTS.get(key)
    if entry_point is None:
        signature = (selector_type(selector, literal), *map(typeof, args), *last_type)
        if signature not in dispatcher.overloads:
            dispatcher.compile(signature)
        entry_point = _ENTRY_POINTS[key] = dispatcher.overloads[signature].entry_point
    return entry_point(selector, *args, *last_value)


_ENTRY_POINTS = {}


def _type_key(arg):
    """What Numba's type of ``arg`` depends on (arrays: dtype, ndim, layout, read-only)."""
    if isinstance(arg, np.ndarray):
        flags = arg.flags
        return (arg.dtype, arg.ndim, flags.c_contiguous, flags.f_contiguous, flags.writeable,
                flags.aligned)  # fmt: skip
    if isinstance(arg, tuple):
        return (tuple, *map(_type_key, arg))
    return type(arg)


def limit_blas(threads):
    """Limit the BLAS the kernels call to ``threads`` threads; returns threadpoolctl's limits
    (a context manager that restores them, or a limit for the rest of the process).

    Numba's ``np.dot`` calls SciPy's bundled BLAS, which loads on the first kernel call; a
    limit set before it is loaded never reaches it (its gemm then runs every core's threads
    per call, and two training threads at width 128 or more ran 2.5x slower than one).
    It is loaded here first, so the limit holds however the first call happens; through
    ``imports.imported``, as two training threads may make the first call at once.
    """
    imported("scipy.linalg.cython_blas")  # loads the library the kernels call
    return imported("threadpoolctl").threadpool_limits(limits=threads)
