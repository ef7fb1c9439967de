"""Kernel speed: two checkouts pair by pair, or initbench against JAX and PyTorch.

    python benchmarks/compare_kernels.py checkouts OLD/src NEW/src [--rounds 4]
    python benchmarks/compare_kernels.py peers [--src OLD/src --src NEW/src] [--smoke]

``checkouts``: each round times ``train`` in one fresh process per checkout (old, then
new; the package imported from the given ``src``) over widths 32/64/256, four activations
and both dtypes: thread CPU time, median of 5 calls after one warm-up call (which also
compiles or loads Numba's cache; run once beforehand to time a warm cache). Prints new/old
per case as the median over rounds, and their geometric mean.

``peers``: issue 32's eight peer shapes (width x layers x batch, relu and tanh), float64
and float32: network-steps per second of ``train_many`` (``--threads`` networks at once),
of JAX (``jit`` of ``lax.scan`` over the steps of ``vmap`` over the networks) and of
PyTorch eager (one module after another, ``--threads`` intra-op threads), each a timed
run after a warm-up; plain SGD, softmax cross-entropy, 40 features, 10 classes. Every
``--src`` is measured in its own process (one per checkout), the peers in this one, all
in one run, so the ratios compare like with like. At width >= 256 it also prints the
share of single-thread gemm's rate that one training thread reaches: thread CPU time of
one step's matrix products alone (the same ``np.dot`` calls, BLAS at one thread) over
that of a whole step of ``train``.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_ROWS, N_FEATURES, N_CLASSES, LR = 4000, 40, 10, 0.01
# (width, layers with the output layer, batch): issue 32's table
PEER_SHAPES = ((32, 10, 64), (64, 8, 32), (32, 50, 64), (256, 4, 64))
ACTIVATIONS = ("relu", "tanh")

CASE_TIMES = r"""
import json, statistics, time
import numpy as np
from initbench import init_params, train

STEPS = {32: 1500, 64: 600, 256: 60}  # about 0.1 s per call
out = {}
for width in STEPS:
    for act in ("relu", "tanh", "sigmoid", "elu"):
        for dtype in ("float64", "float32"):
            rng = np.random.default_rng(0)
            X = rng.normal(size=(2048, width)).astype(dtype)
            y = rng.integers(0, 10, 2048)
            W, b = init_params("he_normal", [width] * 4 + [10], activation=act, seed=0,
                               dtype=dtype)
            def call():
                train(W, b, X, y, activation=act, loss="softmax_ce", lr=0.01, batch_size=64,
                      steps=STEPS[width], seed=0, log_points=2)
            call()
            samples = []
            for _ in range(5):
                start = time.thread_time()
                call()
                samples.append(time.thread_time() - start)
            out[f"width {width} {act} {dtype}"] = statistics.median(samples)
print(json.dumps(out))
"""


def case_times(src):
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    done = subprocess.run([sys.executable, "-c", CASE_TIMES], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def compare_checkouts(args):
    rounds = [(case_times(args.old_src), case_times(args.new_src)) for _ in range(args.rounds)]
    ratios = {}
    for case, old in rounds[0][0].items():
        ratios[case] = statistics.median(new[case] / old[case] for old, new in rounds)
        print(f"{case:28s} new/old {ratios[case]:.3f}  (old {old * 1e3:.1f} ms)")
    geomean = math.exp(statistics.fmean(math.log(r) for r in ratios.values()))
    print(f"geometric mean {geomean:.3f}, range {min(ratios.values()):.3f}"
          f"-{max(ratios.values()):.3f} over {args.rounds} rounds")  # fmt: skip


# --- peers: the same work for every engine ---------------------------------------------


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    y = np.argmax(X @ rng.normal(size=(N_FEATURES, N_CLASSES)), axis=1)
    return X, y


def make_nets(k, sizes, act, dtype, seed=1):
    """k networks as initbench (W, b) lists: He-normal for relu, LeCun-normal for tanh."""
    rng = np.random.default_rng(seed)
    gain = 2.0 if act == "relu" else 1.0
    return [([rng.normal(0, math.sqrt(gain / a), (o, a)).astype(dtype) for a, o in
              zip(sizes, sizes[1:])], [np.zeros(o, dtype) for o in sizes[1:]])
            for _ in range(k)]  # fmt: skip


def batch_rows(k, steps, batch, seed=2):
    return np.random.default_rng(seed).integers(0, N_ROWS, (steps, k, batch))


def jax_build(X, y, nets, steps, batch, act, threads):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    phi = jax.nn.relu if act == "relu" else jnp.tanh
    dtype = nets[0][0][0].dtype
    params = [(jnp.stack([n[0][i] for n in nets]), jnp.stack([n[1][i] for n in nets]))
              for i in range(len(nets[0][0]))]  # fmt: skip
    Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y)
    rows = jnp.asarray(batch_rows(len(nets), steps, batch))

    def loss(p, xb, yb):
        h = xb
        for i, (W, b) in enumerate(p):
            h = h @ W.T + b
            h = phi(h) if i < len(p) - 1 else h
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def one_step(p, idx):
        g = jax.grad(loss)(p, Xj[idx], yj[idx])
        return jax.tree_util.tree_map(lambda a, d: a - LR * d, p, g)

    @jax.jit
    def train(p, rows):
        return jax.lax.scan(lambda p, idx: (jax.vmap(one_step)(p, idx), None), p, rows)[0]

    return lambda: jax.block_until_ready(train(params, rows))


def torch_build(X, y, nets, steps, batch, act, threads):
    import torch

    torch.set_num_threads(threads)
    dtype = torch.float64 if nets[0][0][0].dtype == np.float64 else torch.float32
    Xt, yt = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
    rows = torch.as_tensor(batch_rows(len(nets), steps, batch))
    models = []
    for W, b in nets:
        layers = []
        for i, (w, bias) in enumerate(zip(W, b)):
            lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(bias))
            phi = torch.nn.ReLU() if act == "relu" else torch.nn.Tanh()
            layers += [lin] if i == len(W) - 1 else [lin, phi]
        models.append(torch.nn.Sequential(*layers))

    def run():
        for k, model in enumerate(models):
            opt = torch.optim.SGD(model.parameters(), lr=LR)
            for s in range(steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(Xt[rows[s, k]]), yt[rows[s, k]]).backward()
                opt.step()

    return run


def rate(build, k, steps, warm_steps):
    """Network-steps per second of a run of ``steps`` after a warm-up run of ``warm_steps``:
    per wall second and per second of this process's CPU time (all its threads)."""
    run = build(steps)
    (run if warm_steps == steps else build(warm_steps))()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return k * steps / (time.perf_counter() - wall), k * steps / (time.process_time() - cpu)


def initbench_rates(args):
    """This process's initbench (from PYTHONPATH): {case: rate}, and gemm shares at width >= 256."""
    import initbench as ib

    X, y = make_data()
    out = {}
    for dtype, (width, layers, batch), act in cases(args):
        sizes = [N_FEATURES, *[width] * (layers - 1), N_CLASSES]
        nets = make_nets(args.nets, sizes, act, np.dtype(dtype))

        def build(steps, nets=nets, batch=batch, act=act, dtype=dtype):
            return lambda: ib.train_many(
                nets, X.astype(dtype), y, activation=act, loss="softmax_ce", lr=LR,
                batch_size=batch, steps=steps, seeds=list(range(len(nets))), log_points=2,
                eval_rows=64, threads=args.threads,
            )  # fmt: skip

        key = case_key(dtype, width, layers, batch, act)
        out[key] = rate(build, args.nets, args.steps, 2)
        if width >= 256:
            out[key + " gemm share"] = gemm_share(nets[0], X.astype(dtype), y, batch, act)
    print(json.dumps(out))


def gemm_share(net, X, y, batch, act, steps=300):
    """Thread CPU of one step's matrix products alone over that of a step of ``train``."""
    from numba import njit

    import initbench as ib
    from initbench.engine.jit import limit_blas
    from initbench.engine.network import layout, unit_view, weight_view

    @njit(nogil=True)
    def products(w, sizes, w_off, X, Z, G, gw, reps):
        n = X.shape[0]
        layers = sizes.size - 1
        for _ in range(reps):
            prev, start = X, 0
            for layer in range(layers):
                z = unit_view(Z, n, start, sizes[layer + 1])
                np.dot(prev, weight_view(w, w_off, sizes, layer).T, z)
                prev, start = z, start + sizes[layer + 1]
            for layer in range(layers - 1, -1, -1):
                start -= sizes[layer + 1]
                fan_in = sizes[layer]
                delta = unit_view(G, n, start, sizes[layer + 1])
                below = X if layer == 0 else unit_view(Z, n, start - fan_in, fan_in)
                np.dot(delta.T, below, gw[w_off[layer] : w_off[layer + 1]].reshape(
                    (sizes[layer + 1], fan_in)))  # fmt: skip
                if layer > 0:
                    np.dot(delta, weight_view(w, w_off, sizes, layer),
                           unit_view(G, n, start - fan_in, fan_in))  # fmt: skip

    W, b = net
    sizes, w_off, _ = layout([W[0].shape[1], *(w.shape[0] for w in W)])
    w = np.concatenate([m.reshape(-1) for m in W])
    units = int(sizes[1:].sum())
    Xb = np.ascontiguousarray(X[:batch])
    Z = np.zeros(batch * units, X.dtype)
    G = np.random.default_rng(0).normal(0, 1e-3, batch * units).astype(X.dtype)
    gw = np.empty_like(w)
    with limit_blas(1):
        products(w, sizes, w_off, Xb, Z, G, gw, 2)
        start = time.thread_time()
        products(w, sizes, w_off, Xb, Z, G, gw, steps)
        product_time = time.thread_time() - start
        kw = dict(activation=act, loss="softmax_ce", lr=LR, batch_size=batch, log_points=2,
                  eval_rows=64)  # fmt: skip
        ib.train(W, b, X, y, steps=2, **kw)
        start = time.thread_time()
        ib.train(W, b, X, y, steps=steps, **kw)
        train_time = time.thread_time() - start
    return product_time / train_time


def cases(args):
    return [(dtype, shape, act) for dtype in args.dtypes.split(",") for shape in args.shapes
            for act in ACTIVATIONS]  # fmt: skip


def case_key(dtype, width, layers, batch, act):
    return f"{dtype} {width}x{layers}x{batch} {act}"


def compare_peers(args):
    runs = {}
    for src in args.src or [str(ROOT / "src")]:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
        command = [sys.executable, __file__, "_initbench", *sys.argv[2:]]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"initbench from {src} failed:\n{done.stderr[-3000:]}")
        runs[f"initbench[{src}]" if args.src else "initbench"] = json.loads(
            done.stdout.splitlines()[-1])  # fmt: skip
    X, y = make_data()
    peers = {"jax": (jax_build, args.steps, args.nets), "torch": (torch_build, args.eager_steps,
             args.eager_nets)}  # fmt: skip
    print(f"network-steps per wall second (per CPU second); {args.nets} nets x {args.steps} "
          f"steps (torch: {args.eager_nets} x {args.eager_steps}), {args.threads} threads; ratios "
          "are initbench / peer, by wall (by CPU)", flush=True)  # fmt: skip
    for dtype, (width, layers, batch), act in cases(args):
        key = case_key(dtype, width, layers, batch, act)
        sizes = [N_FEATURES, *[width] * (layers - 1), N_CLASSES]
        rates = {}
        for name, (build, steps, k) in peers.items():
            nets = make_nets(k, sizes, act, np.dtype(dtype))
            warm = steps if name == "jax" else 2  # JAX: the scan's length is static
            shape = (nets, batch, act, args.threads)
            rates[name] = rate(lambda s, build=build, shape=shape: build(X, y, shape[0], s,
                               *shape[1:]), k, steps, warm)  # fmt: skip
        line = f"{key:26}"
        for name, got in runs.items():
            wall, cpu = got[key]
            ratios = ", ".join(f"{wall / peer_wall:5.2f}x ({cpu / peer_cpu:4.2f}x) {peer}"
                               for peer, (peer_wall, peer_cpu) in rates.items())  # fmt: skip
            line += f" | {name} {wall:6.0f} ({cpu:6.0f}): {ratios}"
            if key + " gemm share" in got:
                line += f", gemm share {got[key + ' gemm share']:.2f}"
        for peer, (peer_wall, peer_cpu) in rates.items():
            line += f" | {peer} {peer_wall:6.0f} ({peer_cpu:6.0f})"
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    checkouts = sub.add_parser("checkouts", help="two checkouts' train, case by case")
    checkouts.add_argument("old_src")
    checkouts.add_argument("new_src")
    checkouts.add_argument("--rounds", type=int, default=4)
    for mode in ("peers", "_initbench"):
        peers = sub.add_parser(mode, help="initbench against JAX and torch on issue 32's shapes")
        peers.add_argument("--src", action="append", help="initbench checkouts' src (repeat)")
        peers.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
        peers.add_argument("--dtypes", default="float64,float32")
        peers.add_argument("--nets", type=int, default=8)
        peers.add_argument("--steps", type=int, default=1000)
        peers.add_argument("--eager-nets", type=int, default=2)
        peers.add_argument("--eager-steps", type=int, default=200)
        peers.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "checkouts":
        return compare_checkouts(args)
    args.shapes = PEER_SHAPES
    if args.smoke:
        args.shapes, args.steps, args.eager_steps, args.nets = ((8, 3, 16), (256, 2, 8)), 5, 5, 2
    return initbench_rates(args) if args.mode == "_initbench" else compare_peers(args)


if __name__ == "__main__":
    main()
