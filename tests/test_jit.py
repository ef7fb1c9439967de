"""engine/jit.py: the compiled kernels' cache key covers every engine module and every
constant the kernels bake in, and the call path tells argument types apart."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import typeof
from numba.core.registry import CPUDispatcher

import initbench
from initbench import processes
from initbench.engine import hyper, jit
from initbench.engine.optimizers import update_state

ENGINE = Path(initbench.__file__).parent / "engine"


def test_the_key_is_the_same_in_every_process():
    """A cache only hits across processes if a fresh interpreter computes the same key."""
    code = "from initbench.engine.jit import KERNEL_CACHE_KEY as k; print(k)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == jit.KERNEL_CACHE_KEY


@pytest.mark.parametrize("index", range(len(hyper.BAKED)))
def test_reordering_any_baked_tuple_changes_the_key(index):
    sources = [b"engine source"]
    baked = list(hyper.BAKED)
    reordered = [*baked[:index], tuple(reversed(baked[index])), *baked[index + 1 :]]
    same = jit.kernel_cache_key(sources, tuple(baked))
    assert jit.kernel_cache_key(sources, tuple(baked)) == same
    assert jit.kernel_cache_key(sources, tuple(reordered)) != same
    assert jit.kernel_cache_key([b"engine source edited"], tuple(baked)) != same


@pytest.mark.parametrize("name", ["KERNEL_ROW", "OPTIMIZERS", "SCHEDULES", "NORMS"])
def test_reordered_settings_miss_the_cache(name):
    """With a settings tuple reordered before the engine imports (the indices and codes the
    kernels bake in move), the engine files its kernels under another key: no kernel
    compiled for the old order can load."""
    code = (
        f"import initbench.settings as s; s.{name} = tuple(reversed(s.{name}))\n"
        "from initbench.engine.jit import KERNEL_CACHE_KEY as k; print(k)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(out.stdout.strip()) == len(jit.KERNEL_CACHE_KEY)
    assert out.stdout.strip() != jit.KERNEL_CACHE_KEY


def test_every_kernel_is_filed_under_the_key():
    signature = tuple(typeof(arg) for arg in (np.zeros(2),) * 4 + (1.0, 1.0))
    index_key = update_state._cache._index_key(signature, update_state.targetctx.codegen())
    assert index_key[-1] == jit.KERNEL_CACHE_KEY


def _imports_from_outside(path):
    """(module, name) for each ``from ..module import name`` in an engine module."""
    tree = ast.parse(path.read_text())
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 2
        for alias in node.names
    ]


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_every_constant_a_kernel_module_imports_from_outside_is_in_the_key(path):
    """A module that defines kernels may read from outside engine/ only functions and
    classes (run in Python, never compiled) and constants in hyper.BAKED (in the key): a
    number, string, tuple or array a kernel reads is frozen into its compiled code."""
    source = path.read_text()
    if not any(mark in source for mark in ("@kernel", "njit(", "cuda.jit")):
        return
    baked = {id(value) for value in hyper.BAKED}
    for module, name in _imports_from_outside(path):
        value = getattr(__import__(f"initbench.{module}", fromlist=[name]), name)
        assert not isinstance(value, CPUDispatcher), f"{path.name}: {name} is compiled code"
        if isinstance(value, (int, float, str, tuple, frozenset, np.ndarray)):
            assert id(value) in baked, f"{path.name} reads {module}.{name}, not in hyper.BAKED"


def test_the_kernel_cache_key_covers_every_engine_module():
    assert set(jit.KERNEL_MODULES) == {p.name for p in ENGINE.glob("*.py")}


STALENESS_PROBE = """
import numpy as np
import initbench as ib
from initbench.engine.activations import _evaluate
value = ib.get_activation("sigmoid")(np.array([0.5]))[0][0]
stats = _evaluate.stats
print(repr(float(value)), sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_editing_any_engine_module_recompiles_every_kernel(tmp_path):
    """Numba alone would load _evaluate (activations.py) stale after an edit of vecmath.py."""
    package = tmp_path / "src" / "initbench"
    shutil.copytree(
        Path(initbench.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(package.parent),
    }

    def probe():
        out = subprocess.run(
            [sys.executable, "-c", STALENESS_PROBE],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        return float(out[0]), int(out[1]), int(out[2])

    first, hits, misses = probe()
    assert first == pytest.approx(1 / (1 + np.exp(-0.5)), rel=1e-15) and (hits, misses) == (0, 1)
    assert probe() == (first, 1, 0)  # unchanged sources: loaded from the cache
    vecmath = package / "engine" / "vecmath.py"
    source = vecmath.read_text()
    assert "return x if x != x else y" in source
    vecmath.write_text(source.replace("return x if x != x else y", "return x if x != x else 2 * y"))
    edited, hits, misses = probe()
    assert (hits, misses) == (0, 1)
    assert edited == pytest.approx(1 / (1 + 2 * np.exp(-0.5)), rel=1e-15)


@jit.kernel
def _signed_pick(x, negate, i):
    return -x[i] if negate else x[i]


@jit.kernel
def _picks_with_constants(x):
    return _signed_pick(x, True, 0) + _signed_pick(x, False, 1) + _signed_pick(x, False, 2)


def test_constant_int_and_bool_arguments_compile_one_specialisation():
    """Numba would type each constant as a literal and compile the callee once per value
    (the training loop's forward pass twice, for training and for evaluation). Compiled, not
    loaded: a caller loaded from the disk cache would never compile its callee."""
    from numba.core.caching import NullCache

    for dispatcher in (_signed_pick, _picks_with_constants):
        dispatcher._cache = NullCache()
    assert _picks_with_constants(np.array([1.0, 2.0, 4.0])) == 5.0
    assert len(_signed_pick.signatures) == 1
    assert "Literal" not in str(_signed_pick.signatures[0])


def _orchestrating(x):
    return x.sum()


@pytest.mark.parametrize("lowering_fails", [False, True])
def test_orchestration_code_lowers_at_llvm_opt_1_and_restores_the_level(
    monkeypatch, lowering_fails
):
    """The training loop's pipeline (jit.OrchestrationCompiler) lowers it with LLVM's
    optimisation level at most 1 and gives Numba's level back afterwards, even when the
    lowering fails; other kernels keep Numba's level."""
    from numba.core import config
    from numba.core.caching import NullCache
    from numba.core.typed_passes import BaseNativeLowering

    from initbench.engine.loop import train_loop

    assert train_loop._compiler.pipeline_class is jit.OrchestrationCompiler
    seen, lower = [], BaseNativeLowering.run_pass

    def spy(self, state):
        seen.append((state.func_id.func_name, int(config.OPT)))
        if lowering_fails and isinstance(self, jit.OrchestrationLowering):
            raise RuntimeError("lowering failed")
        return lower(self, state)

    monkeypatch.setattr(BaseNativeLowering, "run_pass", spy)
    level = config.OPT
    light = jit.kernel(_orchestrating, pipeline_class=jit.OrchestrationCompiler)
    plain = jit.kernel(_orchestrating)
    light._cache = plain._cache = NullCache()
    if lowering_fails:
        with pytest.raises(RuntimeError, match="lowering failed"):
            light(np.ones(3))
    else:
        assert light(np.ones(3)) == 3.0
    assert config.OPT is level
    assert plain(np.ones(3)) == 3.0
    assert ("_orchestrating", min(level, 1)) in seen and ("_orchestrating", level) in seen


def test_one_training_loop_serves_plain_and_residual_nets():
    """A residual study compiles (or loads) one loop per dtype, not a second one."""
    from initbench.engine.loop import train_loop

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)), np.arange(8) % 2
    W, b = initbench.init_params("he_normal", [2, 3, 3, 2], activation="tanh", seed=0)
    kw = dict(activation="tanh", loss="softmax_ce", lr=0.1, batch_size=4, steps=2)
    initbench.train(W, b, X, y, **kw)
    plain = set(train_loop.overloads)
    result = initbench.train(W, b, X, y, architecture="residual", block_size=1, **kw)
    assert set(train_loop.overloads) == plain
    assert set(result.extras) == {"gates", "norm_gains", "norm_biases"}


def test_entry_point_lookup_tells_dtypes_and_layouts_apart():
    """call_specialised remembers compiled entry points by the arguments' dtype, ndim and
    memory flags: a float32, a read-only or a strided argument must not reuse another's."""
    a = np.zeros((3, 4))
    readonly = a.copy()
    readonly.flags.writeable = False
    keys = {jit._type_key(x) for x in (a, a.astype(np.float32), a[:, ::2], a.T, readonly, a[0])}
    assert len(keys) == 6
    assert jit._type_key((1, 2.0)) != jit._type_key((1.0, 2))
    assert jit._type_key(np.zeros((3, 4))) == jit._type_key(a)


BLAS_PROBE = """
import json, sys
import numpy as np
from threadpoolctl import threadpool_info
import initbench as ib
from initbench.engine import many
from initbench.engine.jit import limit_blas


def blas():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


rng = np.random.default_rng(0)
sizes = [128, 128, 128, 3]
W = [rng.normal(0, 0.1, (o, i)) for i, o in zip(sizes, sizes[1:])]
b = [np.zeros(o) for o in sizes[1:]]
X, y = rng.normal(size=(64, 128)), rng.integers(0, 3, 64)
kw = dict(activation="relu", loss="softmax_ce", steps=2, batch_size=32)
before = blas()
seen = []
if sys.argv[1] == "train":
    limit_blas(1)  # as a job's set_threads(1) does, before anything loaded the kernels' BLAS
    ib.train(W, b, X, y, **kw)
    seen.append(blas())
else:
    original = many.train_checked

    def recording(*args):
        result = original(*args)
        seen.append(blas())  # in a worker, inside train_many's limit
        return result

    many.train_checked = recording
    ib.train_many([(W, b)] * 2, X, y, seeds=[0, 1], threads=2, **kw)
new = sorted(set(blas()) - set(before))
print(json.dumps({"new": new, "seen": seen, "default": blas()}))
"""


@pytest.mark.parametrize("first_call", ["train", "train_many"])
def test_the_blas_is_limited_after_a_cold_first_call(first_call):
    """The BLAS that Numba's np.dot calls (SciPy's) loads on the first kernel call; a limit
    set before it is loaded must still reach it (else its gemm runs every core's threads
    per call, and two training threads at width 128 or more ran 2.5x slower than one)."""
    code = [sys.executable, "-c", BLAS_PROBE, first_call]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(code, capture_output=True, text=True, check=True, env=env)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["new"], "the first call loaded no BLAS: not a cold first call"
    for threads in report["seen"]:
        assert set(threads) >= set(report["new"]) and set(threads.values()) == {1}, report
    assert len(report["seen"]) == (1 if first_call == "train" else 2)
    if first_call == "train_many" and max(report["default"].values()) == 1:
        pytest.skip("this machine's BLAS runs one thread anyway: the limit is not exercised")


@pytest.mark.parametrize("dtype", ["float32"])
def test_the_compile_parts_are_what_the_loop_calls(dtype):
    """A compile part (engine/compile_parts.py) is only of use if it compiles its kernels
    for the very signatures the training loop calls them with, and the loop for the one
    ``train`` calls: typing the loop afresh after the parts must add no signature to any
    of their kernels. float32, where the network's buffers and the float64 settings and
    metric rows differ."""
    from numba.core.caching import NullCache

    from initbench.engine import compile_parts, loop

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)), np.arange(8) % 2
    W, b = initbench.init_params("he_normal", [2, 3, 3, 2], activation="tanh", dtype=dtype)
    initbench.train(W, b, X, y, activation="tanh", loss="softmax_ce", lr=0.1, batch_size=4,
                    steps=2, architecture="residual", block_size=1)  # fmt: skip
    (signature,) = [s for s in loop.train_loop.signatures if s[2].dtype.name == dtype]
    assert signature == compile_parts.loop_signature(np.dtype(dtype))
    kernels = []
    for part in compile_parts.PARTS:
        compile_parts.compile_part(part, dtype)
        kernels += [dispatcher for dispatcher, _ in compile_parts.part_signatures(part, dtype)]
    before = {dispatcher: set(dispatcher.overloads) for dispatcher in kernels}
    fresh = jit.kernel(loop.train_loop.py_func)  # types the loop's body again, uncached
    fresh._cache = NullCache()
    fresh.compile(signature)
    assert {dispatcher: set(dispatcher.overloads) for dispatcher in kernels} == before
    assert len(kernels) == 24 and compile_parts.PARTS == ("passes", "loop")
    # the loop part compiled the very loop that train called: no second signature
    assert loop.train_loop in kernels
    assert [s for s in loop.train_loop.signatures if s[2].dtype.name == dtype] == [signature]
    # the kernels it calls by address are the parts' own, and their code is not in the
    # loop's module (only the small ones it calls per layer are: update_state, ...)
    by_address, kernel_types = compile_parts.loop_kernels(numba.types.int64, np.dtype(dtype))
    assert signature[-1] == kernel_types and set(by_address) <= set(kernels)
    # a plain net's loop: the same loop (the same types), the residual kernels' stand-ins
    plain, plain_types = compile_parts.loop_kernels(numba.types.int64, np.dtype(dtype), False)
    assert plain_types == kernel_types and set(plain) <= set(kernels)
    swapped = {name for name, a, b in zip(loop.BY_ADDRESS, by_address, plain) if a is not b}
    assert swapped == set(compile_parts.RESIDUAL_KERNELS)
    defined = _defined_functions(fresh.overloads[signature].library.get_llvm_str())
    assert not defined & set(loop.BY_ADDRESS) and {"train_loop", "update_state"} <= defined
    # compiled, a part is found in the cache (its job then starts no process); one never
    # compiled (float16) is not
    assert all(compile_parts.is_cached(part, dtype) for part in compile_parts.PARTS)
    assert not compile_parts.is_cached("loop", "float16")


def _defined_functions(module):
    """The unqualified names of the functions an LLVM module defines (Numba's mangled
    names: _ZN, then each part of the qualified name as its length and its text)."""
    names = set()
    for mangled in re.findall(r'^define [^@]*@"?_ZN(\w+)', module, re.MULTILINE):
        at, name = 0, None
        while match := re.match(r"\d+", mangled[at:]):
            start = at + match.end()
            name, at = mangled[start : start + int(match[0])], start + int(match[0])
        names.add(name)
    return names


def test_a_residual_net_on_the_stand_ins_diverges_at_once(monkeypatch):
    """The stand-ins write NaN: a residual net that were given a plain net's loop kernels
    would be recorded as diverged at its first step, not trained on something else."""
    from initbench.engine import compile_parts, training

    monkeypatch.setattr(training, "loop_kernels", lambda act, dtype, residual: (
        compile_parts.loop_kernels(act, dtype, residual=False)))  # fmt: skip
    X, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 2
    W, b = initbench.init_params("he_normal", [2, 3, 3, 2], activation="tanh",
                                 architecture="residual", block_size=1)  # fmt: skip
    result = initbench.train(W, b, X, y, activation="tanh", loss="softmax_ce", lr=0.1,
                             batch_size=4, steps=3, architecture="residual",
                             block_size=1)  # fmt: skip
    assert result.status == "diverged" and result.diverged_step == 0


COLD_FIRST_TRAIN = """
import json
import numpy as np
import initbench as ib
from initbench.engine import loop, network, residual

X, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 2
W, b = ib.init_params("he_normal", [2, 3, 3, 2], activation="tanh", architecture="residual",
                      block_size=1, seed=1)
result = ib.train(W, b, X, y, activation="tanh", loss="softmax_ce", lr=0.1, batch_size=4,
                  steps=3, architecture="residual", block_size=1)
print(json.dumps({
    "loaded": [sum(kernel.stats.cache_hits.values()) for kernel in (network.forward,
                                                               residual.residual_forward)],
    "compiled": [sum(kernel.stats.cache_misses.values()) for kernel in (loop.train_loop,
                                                                  residual.residual_backward)],
    "weights": [w.tolist() for w in result.weights],
}))
"""


def test_a_cold_first_train_compiles_the_passes_in_a_process_beside(tmp_path):
    """In an empty cache, a first ``train`` compiles the passes in a process of their own
    while it compiles the loop part (compile_parts.compile_parts_side_by_side): it then
    loads the passes from the cache and compiled the loop (and the loop part's residual
    backward pass) itself, and trains to the very numbers of a process that compiled
    nothing itself."""
    if processes.usable_cpus() < 2:
        pytest.skip("one CPU: a first train compiles every part itself")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = [sys.executable, "-c", COLD_FIRST_TRAIN]
    out = subprocess.run(code, capture_output=True, text=True, check=True, env=env)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["loaded"] == [1, 1] and report["compiled"] == [1, 1], report
    X, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 2
    W, b = initbench.init_params("he_normal", [2, 3, 3, 2], activation="tanh",
                                 architecture="residual", block_size=1, seed=1)  # fmt: skip
    here = initbench.train(W, b, X, y, activation="tanh", loss="softmax_ce", lr=0.1,
                           batch_size=4, steps=3, architecture="residual",
                           block_size=1)  # fmt: skip
    assert report["weights"] == [w.tolist() for w in here.weights]


@pytest.mark.parametrize(
    "missing, cpus, beside",
    [
        ({"passes": ["forward"], "loop": ["train_loop"]}, 2, True),
        ({"passes": ["forward"], "loop": ["train_loop"]}, 1, False),  # one CPU
        ({"passes": ["forward"], "loop": []}, 2, False),  # the loop part is there
        # a residual net after a plain one: its kernels, each part's share
        ({"passes": ["residual_forward"], "loop": ["residual_backward"]}, 2, True),
        # a plain net after a residual one: only stand-ins, compiled here
        ({"passes": ["no_residual_forward"], "loop": ["no_block_statistics"]}, 2, False),
    ],
)
def test_only_a_cold_cache_compiles_a_part_beside(monkeypatch, missing, cpus, beside):
    from initbench.engine import compile_parts, loop, network, residual

    kernels = {"forward": network.forward, "train_loop": loop.train_loop,
               "residual_forward": residual.residual_forward,
               "residual_backward": residual.residual_backward,
               "no_residual_forward": compile_parts.no_residual_forward,
               "no_block_statistics": compile_parts.no_block_statistics}  # fmt: skip
    calls = []
    monkeypatch.setattr(compile_parts, "uncached", lambda part, dtype, residual: [
        kernels[name] for name in missing[part]])  # fmt: skip
    monkeypatch.setattr(compile_parts, "compile_part", lambda *args: calls.append(args))
    monkeypatch.setattr(compile_parts, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(compile_parts, "in_own_process",
                        lambda job, *args, fresh: calls.append((job, *args, fresh)))  # fmt: skip
    compile_parts.compile_parts_side_by_side(np.dtype("float32"), False)
    expected = [("loop", np.dtype("float32"), False),  # here, the passes beside
                (compile_parts.compile_part, "passes", "float32", False, True)]  # fmt: skip
    assert sorted(calls, key=len) == (expected if beside else [])


def test_a_compile_part_must_be_known():
    from initbench.engine.compile_parts import part_signatures

    with pytest.raises(ValueError, match="'sideways'"):
        part_signatures("sideways", np.dtype("float64"))


def _doubled(x):
    return 2 * x


def test_a_cache_save_holds_the_lock_between_processes(tmp_path, monkeypatch):
    """Numba's index-then-data save is not safe under concurrent writers (compile parts run
    side by side): KernelCache must hold its file lock while Numba writes. Checked from a
    second open file description, on which flock conflicts as another process's would."""
    fcntl = pytest.importorskip("fcntl", reason="flock is POSIX; elsewhere no parallel parts")
    import numba
    from numba.core.caching import IndexDataCacheFile

    held = []
    original = IndexDataCacheFile.save

    def checking_save(self, key, data):
        with open(Path(self._cache_path) / "initbench-save.lock", "a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                held.append(False)
                fcntl.flock(other, fcntl.LOCK_UN)
        return original(self, key, data)

    monkeypatch.setattr(IndexDataCacheFile, "save", checking_save)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))  # a fresh cache: it saves
    doubled = jit.kernel(_doubled)
    assert doubled(3) == 6 and doubled(1.5) == 3.0
    assert held == [True, True]
    assert len(list(tmp_path.rglob("*.nbc"))) == 2
