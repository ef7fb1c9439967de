"""The CUDA back end without a GPU: its kernels on Numba's CUDA simulator against the CPU's.

NUMBA_ENABLE_CUDASIM must be set before numba.cuda is first imported, and the simulator
then stands in for numba.cuda in the whole process. So ``test_simulator`` runs this
module's ``test_sim_*`` tests in a child pytest with the variable set; in this process
they skip. Tolerances against the CPU kernel, where only the order of summation differs:
float64 rtol 1e-10, atol 1e-12; float32 rtol 2e-4, atol 1e-5.

The simulator runs the kernels' Python source, not compiled GPU code, so
``test_kernel_compiles_for_sm90`` also compiles them to PTX for an H100/H200 (sm_90),
which needs NVIDIA's NVVM (the cuda-toolkit wheels of numba-cuda[cu12]/[cu13]), no GPU.
"""

import importlib.util
import math
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import initbench as ib
from initbench.engine.many import train_many
from initbench.engine.training import batch_order

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def lock_shared_array_allocation():
    """Make the simulator's ``cuda.shared.array`` allocate once per block, under a lock.

    numba-cuda 0.30.4's ``FakeCUDAShared.array`` creates a block's shared array the first
    time any simulated thread reaches the line asking for it, through an unlocked
    get-then-set on a dict keyed by that line's (file, line number). Two threads arriving
    together can each get an array of their own: thread 0 once got a private ``res``, the
    intermittent act_std 0.551 against 0.525. This is the simulator's bug, not the
    kernel's (docs/numba-cuda-shared-array-race.md); here the lookup is locked, keyed as the
    simulator keys it.
    """
    import threading
    import traceback

    from numba.cuda.simulator import kernelapi

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or an error
            return original(self, shape, dtype, alignment)
        caller = tuple(traceback.extract_stack(sys._getframe())[-2][0:2])  # the simulator's key
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                if isinstance(dtype, kernelapi.types.Type):
                    dtype = kernelapi.numpy_support.as_dtype(dtype)
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAShared.array = array


if SIMULATED:
    # The simulator runs each GPU thread as a Python thread and polls them for barriers;
    # with Python's default 5 ms switch interval every barrier waits for it (6x slower).
    sys.setswitchinterval(1e-5)
    lock_shared_array_allocation()
in_simulator = pytest.mark.skipif(
    not SIMULATED, reason="runs under NUMBA_ENABLE_CUDASIM=1 in the child pytest of test_simulator"
)
LOSS_OUTPUTS = {"softmax_ce": 3, "sigmoid_bce": 1, "mse": 2}
TIGHT = dict(rtol=1e-10, atol=1e-12)


def test_simulator():
    """Run the test_sim_* tests in a child process with the CUDA simulator switched on."""
    if SIMULATED:
        pytest.skip("this is the child run itself")
    if importlib.util.find_spec("numba.cuda") is None:
        pytest.skip("numba.cuda is not installed: pip install initbench[cuda]")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ib.__file__).parents[1]), *sys.path])
    start = time.perf_counter()
    args = [__file__, "-q", "-k", "test_sim_", "-p", "no:cacheprovider"]
    child = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True,
                           text=True, env=env, timeout=900)  # fmt: skip
    seconds = time.perf_counter() - start
    summary = child.stdout.strip().splitlines()[-1] if child.stdout.strip() else ""
    print(f"simulator tests: {summary} ({seconds:.0f} s wall)")
    assert child.returncode == 0, child.stdout[-6000:] + child.stderr[-3000:]
    assert "passed" in summary and "skipped" not in summary, summary


def make_nets(loss, k=2, hidden=(4, 3), dtype=np.float64, seed=0, std=None, n=10):
    rng = np.random.default_rng(seed)
    sizes = [3, *hidden, LOSS_OUTPUTS[loss]]
    nets = []
    for _ in range(k):
        W = [rng.normal(0, std or 1 / np.sqrt(a), (o, a)).astype(dtype)
             for a, o in zip(sizes, sizes[1:])]  # fmt: skip
        nets.append((W, [rng.normal(0, 0.1, o).astype(dtype) for o in sizes[1:]]))
    X = rng.normal(size=(n, 3)).astype(dtype)
    y = rng.normal(size=(n, sizes[-1])) if loss == "mse" else rng.integers(0, max(sizes[-1], 2), n)
    return nets, X, y


def on_both(nets, X, y, tile=2, **kw):
    """(GPU results on the simulator, CPU results) of the same call."""
    return train_many(nets, X, y, device="cuda", tile=tile, **kw), train_many(nets, X, y, **kw)


def assert_agree(gpu, cpu, rtol, atol, tables=("history", "layers")):
    for g, c in zip(gpu, cpu):
        assert (g.status, g.diverged_step) == (c.status, c.diverged_step)
        for a, b in zip(g.weights + g.biases, c.weights + c.biases):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        for table in tables:
            got, ref = getattr(g, table), getattr(c, table)
            assert list(got.columns) == list(ref.columns) and got.shape == ref.shape
            got, ref = got.to_numpy(float), ref.to_numpy(float)
            # at a divergence, summation order decides between inf and NaN
            np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref), err_msg=table)
            finite = np.isfinite(ref)
            np.testing.assert_allclose(got[finite], ref[finite], rtol=rtol, atol=atol,
                                       err_msg=table)  # fmt: skip


@in_simulator
@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
@pytest.mark.parametrize("activation", sorted(ib.ACTIVATIONS))
def test_sim_matches_cpu(activation, loss):
    nets, X, y = make_nets(loss)
    kw = dict(activation=activation, loss=loss, lr=[0.1, 0.3], momentum=[0.0, 0.9], seeds=[0, 1],
              batch_size=4, steps=4, log_points=4, X_test=X[:5], y_test=y[:5])  # fmt: skip
    assert_agree(*on_both(nets, X, y, **kw), **TIGHT)


@in_simulator
@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_sim_matches_numpy_reference(loss):
    """Against tests/naive.py directly too, not only through the CPU kernel."""
    import naive

    nets, X, y = make_nets(loss, k=2, hidden=(4, 4))
    kw = dict(activation="gelu", loss=loss, lr=[0.1, 0.2], momentum=[0.9, 0.0], seeds=[5, 6],
              batch_size=4, steps=5, log_points=3)  # fmt: skip
    gpu = train_many(nets, X, y, device="cuda", tile=2, **kw)
    for (W, b), lr, m, seed, got in zip(nets, kw["lr"], kw["momentum"], kw["seeds"], gpu):
        order = batch_order(seed, X.shape[0], 4, 5)
        ref_W, ref_b = naive.train(W, b, X, y, "gelu", loss, 0.0, lr, m, order, 4, 5)
        for a, c in zip(got.weights + got.biases, ref_W + ref_b):
            np.testing.assert_allclose(a, c, **TIGHT)
        final = naive.loss_and_grads(ref_W, ref_b, X, y, "gelu", loss, 0.0)[0]
        assert got.history["train_loss"].iloc[-1] == pytest.approx(final, rel=1e-10)


@in_simulator
def test_sim_weight_decay_per_network_matches_cpu():
    """A per-network setting (settings.PER_NETWORK) reaches each block: decay 0 and 0.3."""
    nets, X, y = make_nets("softmax_ce")
    kw = dict(activation="tanh", loss="softmax_ce", lr=0.1, momentum=0.5, seeds=[0, 1],
              batch_size=4, steps=4, log_points=4, weight_decay=[0.0, 0.3])  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert_agree(gpu, cpu, **TIGHT)
    assert not np.allclose(cpu[0].weights[0], cpu[1].weights[0])


@in_simulator
def test_sim_optimizers_schedules_and_parametrizations_match_cpu():
    """Each block runs its own optimizer, schedule and parametrization (settings.PER_NETWORK):
    Nesterov SGD with step decay, Adam under muP, AdamW with warm-up and cosine under NTK."""
    nets, X, y = make_nets("softmax_ce", k=3, hidden=(4, 4))
    kw = dict(
        activation="tanh", loss="softmax_ce", seeds=[0, 1, 2], batch_size=4, steps=6,
        log_points=4, optimizer=["sgd", "adam", "adamw"], lr=[0.1, 0.01, 0.01],
        momentum=[0.9, 0.0, 0.0], nesterov=[True, False, False], weight_decay=[0.01, 0.0, 0.1],
        schedule=["step", "constant", "cosine"], decay_every=[2, 0, 0],
        warmup_steps=[0, 0, 2], parametrization=["sp", "mup", "ntk"], base_width=[0, 2, 2],
    )  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert_agree(gpu, cpu, **TIGHT)


def make_residual_nets(loss, k=2, blocks=2, block_size=2, width=4, seed=0, n=10):
    return make_nets(loss, k=k, hidden=(width,) * (1 + blocks * block_size), seed=seed, n=n)


@in_simulator
@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_sim_residual_nets_match_cpu(loss):
    """Residual nets on the GPU (gpu_residual) against the CPU to 1e-10: a LayerNorm net
    with trainable gates and Adam, a fixed-scale one with SGD, blocks of 2 and of 1."""
    for block_size, settings in ((2, dict(norm=["layernorm", "none"], branch_scaling="gate",
                                          optimizer="adam", lr=0.01)),
                                 (1, dict(norm="layernorm", branch_scaling="inv_sqrt_blocks",
                                          lr=0.05, momentum=0.9, weight_decay=0.01))):  # fmt: skip
        nets, X, y = make_residual_nets(loss, block_size=block_size)
        kw = dict(activation="tanh", loss=loss, seeds=[0, 1], batch_size=4, steps=5,
                  log_points=4, architecture="residual", block_size=block_size,
                  **settings)  # fmt: skip
        gpu, cpu = on_both(nets, X, y, **kw)
        assert_agree(gpu, cpu, **TIGHT)
        for g, c in zip(gpu, cpu):
            for name in c.extras:
                np.testing.assert_allclose(g.extras[name], c.extras[name], **TIGHT)
        assert cpu[0].layers["branch_ratio"].notna().any()


@in_simulator
def test_sim_final_norm_matches_cpu():
    """A pre-LN net with a final LayerNorm beside one without, in one launch (the extras
    padded to the longer): weights, logs and every extra, the final gain and bias
    included, equal the CPU's to 1e-10."""
    nets, X, y = make_residual_nets("softmax_ce")
    kw = dict(activation="relu", loss="softmax_ce", seeds=[0, 1], batch_size=4, steps=5,
              log_points=4, architecture="residual", norm="layernorm",
              final_norm=["layernorm", "none"], optimizer="adam", lr=0.01,
              weight_decay=0.01)  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert_agree(gpu, cpu, **TIGHT)
    assert set(cpu[0].extras) - set(cpu[1].extras) == {"final_gain", "final_bias"}
    for g, c in zip(gpu, cpu):
        assert set(g.extras) == set(c.extras)
        for name in c.extras:
            np.testing.assert_allclose(g.extras[name], c.extras[name], **TIGHT)
    assert (cpu[0].extras["final_gain"] != 1).all()


@in_simulator
def test_sim_stop_at_test_accuracy_matches_cpu():
    """A net that stops at a test accuracy beside one that trains every step, in one
    launch: status, the logged rows up to the stop and the weights there equal the CPU's."""
    nets, X, y = make_nets("softmax_ce", hidden=(6, 6), n=24)
    kw = dict(activation="tanh", loss="softmax_ce", seeds=[0, 0], batch_size=6, steps=30,
              log_points=12, lr=0.3, X_test=X[::2], y_test=y[::2])  # fmt: skip
    full = train_many(nets[:1], X, y, **kw | {"seeds": [0]})[0]
    acc = full.history["test_accuracy"].to_numpy()
    assert (acc[1:] > acc[0]).any(), "the problem must train"
    target = acc[1:][acc[1:] > acc[0]][0]
    gpu, cpu = on_both([nets[0]] * 2, X, y, stop_at_test_accuracy=[target, 0.0], **kw)
    assert [r.status for r in cpu] == ["stopped", "completed"]
    assert len(cpu[0].history) < len(cpu[1].history)
    assert_agree(gpu, cpu, **TIGHT)


@in_simulator
def test_sim_depth_parametrizations_and_weight_decay_scaling_match_cpu():
    """The per-parameter lr, weight decay and eps multipliers (parametrizations.
    optimizer_scales) reach each block: Depth-muP under Adam, CompleteP under AdamW with its
    width-invariant decay, muP SGD with L2 decay width-invariant, blocks^-0.75 branches."""
    nets, X, y = make_residual_nets("softmax_ce", k=4, blocks=2, block_size=1)
    kw = dict(
        activation="tanh", loss="softmax_ce", seeds=[0, 1, 2, 3], batch_size=4, steps=4,
        log_points=3, architecture="residual", block_size=1, norm="layernorm",
        branch_scaling=["depth_power", "depth_power", "gate", "depth_power"],
        branch_exponent=[0.5, 1.0, 1.0, 0.75], base_width=[2, 2, 2, 0],
        parametrization=["depth_mup", "completep", "mup", "sp"],
        optimizer=["adam", "adamw", "sgd", "sgd"], lr=[0.01, 0.01, 0.05, 0.05],
        eps=[1e-3, 1e-3, 1e-8, 1e-8],
        weight_decay=[0.05, 0.1, 0.02, 0.0], momentum=[0.0, 0.0, 0.5, 0.0],
        weight_decay_scaling=["width_invariant", "width_invariant", "width_invariant",
                              "layer_lr"],
    )  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert_agree(gpu, cpu, **TIGHT)
    for g, c in zip(gpu, cpu):
        for name in c.extras:
            np.testing.assert_allclose(g.extras[name], c.extras[name], **TIGHT)


@in_simulator
def test_sim_float32_full_batch_and_other_tiles():
    nets, X, y = make_nets("sigmoid_bce", dtype=np.float32, hidden=(5, 4))
    kw = dict(activation="elu", loss="sigmoid_bce", lr=0.2, momentum=0.5, seeds=0, batch_size=64,
              steps=3, log_points=3)  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert gpu[0].weights[0].dtype == np.float32
    assert_agree(gpu, cpu, rtol=2e-4, atol=1e-5)
    for tile in (4, 8):  # fewer threads than elements in a tile's row; more
        assert_agree(*on_both(nets, X, y, tile=tile, **kw), rtol=2e-4, atol=1e-5)


@in_simulator
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow of NumPy scalars, simulated
def test_sim_divergence_is_recorded_per_network():
    nets, X, y = make_nets("mse", std=10.0, hidden=(4, 4))
    nets[1] = ([w / 30 for w in nets[1][0]], nets[1][1])
    kw = dict(activation="linear", loss="mse", lr=[1.0, 0.01], seeds=0, batch_size=4, steps=8,
              log_points=3)  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    assert [r.status for r in gpu] == ["diverged", "completed"]
    assert 0 < gpu[0].diverged_step < 8 and gpu[0].history["step"].iloc[-1] == gpu[0].diverged_step
    assert_agree(gpu, cpu, **TIGHT)


@in_simulator
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_sim_zero_init_keeps_units_identical(activation):
    nets, X, y = make_nets("softmax_ce", k=1, hidden=(4, 4))
    nets = [([np.zeros_like(w) for w in nets[0][0]], [np.zeros_like(v) for v in nets[0][1]])]
    kw = dict(activation=activation, loss="softmax_ce", lr=0.5, seeds=0, batch_size=4, steps=5,
              log_points=3)  # fmt: skip
    gpu, cpu = on_both(nets, X, y, **kw)
    hidden = gpu[0].layers[gpu[0].layers["layer"] < 3]
    assert (hidden["symmetry"] == 0).all()
    for w in gpu[0].weights[:-1]:
        assert np.all(w == w[:1])
    assert np.abs(gpu[0].biases[-1]).max() > 0  # it did train
    assert_agree(gpu, cpu, **TIGHT)


@in_simulator
def test_sim_plugin_activation_runs_on_the_gpu():
    @ib.activation("cuda_test_softsign", gain=1.0, bounds=(-1.0, 1.0))
    def softsign(z, alpha):
        d = 1.0 + abs(z)
        return z / d, 1.0 / (d * d) + 0.0 * math.exp(-d)  # math.* reaches libdevice

    nets, X, y = make_nets("softmax_ce")
    kw = dict(activation="cuda_test_softsign", loss="softmax_ce", lr=0.2, seeds=[3, 4],
              batch_size=4, steps=4, log_points=3)  # fmt: skip
    assert_agree(*on_both(nets, X, y, **kw), **TIGHT)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gpu_matches_cpu(dtype):
    """On a machine with a CUDA GPU: every activation at a study-like size, several tiles."""
    if SIMULATED:
        pytest.skip("the simulator tests cover this")
    from initbench.engine.many import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    # float32: counts (dead, saturated units) can flip at a threshold: compare histories only
    tol = (dict(rtol=1e-9, atol=1e-11) if dtype == np.float64
           else dict(rtol=2e-3, atol=1e-4, tables=("history",)))  # fmt: skip
    nets, X, y = make_nets("softmax_ce", k=6, hidden=(32, 32, 32, 32), dtype=dtype, n=300)
    for name in sorted(ib.ACTIVATIONS):
        kw = dict(activation=name, loss="softmax_ce", lr=0.05, momentum=0.5, seeds=list(range(6)),
                  batch_size=64, steps=20, log_points=5, X_test=X[:50], y_test=y[:50])  # fmt: skip
        cpu = train_many(nets, X, y, **kw)
        for tile in (8, 16):
            assert_agree(train_many(nets, X, y, device="cuda", tile=tile, **kw), cpu, **tol)


@pytest.fixture
def sm90(monkeypatch):
    """numba.cuda set up to compile for compute capability 9.0 without a driver."""
    if SIMULATED:
        pytest.skip("the simulator does not compile")
    if importlib.util.find_spec("numba.cuda") is None:
        pytest.skip("numba.cuda is not installed: pip install initbench[cuda]")
    from numba import cuda

    try:
        cuda.compile_ptx(lambda x: None, "void(float64[:])", cc=(9, 0))
    except Exception as error:
        pytest.skip(f"no NVVM to compile with: {' '.join(str(error).split())[:200]}")
    dispatcher = sys.modules["numba.cuda.dispatcher"]
    if not hasattr(dispatcher, "get_current_device"):
        pytest.skip("this numba-cuda version asks the device differently; test on a GPU")
    # Device functions compile for the current device's capability: name one instead.
    target = types.SimpleNamespace(compute_capability=(9, 0))
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: target)
    yield cuda
    from initbench.engine import gpu_loop  # forget what was compiled for a capability we made up

    gpu_loop.device_function.cache_clear()
    gpu_loop.train_kernel.cache_clear()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_compiles_for_sm90(sm90, dtype):
    from initbench.engine.gpu_loop import device_function, train_kernel
    from initbench.engine.gpu_many import kernel_signature

    kernel = train_kernel(ib.ACTIVATIONS["tanh"].scalar, dtype, 16, max_registers=128)
    ptx, _ = sm90.compile_ptx(kernel.py_func, kernel_signature(dtype), cc=(9, 0))
    assert ".entry" in ptx and "bar.sync" in ptx  # a kernel, with block barriers
    item = "float64" if dtype == np.float64 else "float32"
    for act in ib.ACTIVATIONS.values():  # each activation's device function
        probe = elementwise_probe(device_function(act.scalar), sm90)
        sm90.compile_ptx(probe, f"void({item}[:], {item}[:], float64)", cc=(9, 0))


def elementwise_probe(phi, cuda):
    def probe(z, out, alpha):
        i = cuda.grid(1)
        if i < z.size:
            out[i], _ = phi(z[i], alpha)

    return probe
