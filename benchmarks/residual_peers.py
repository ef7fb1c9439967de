"""Residual nets with LayerNorm and Adam: initbench against JAX and PyTorch, side by side.

    python benchmarks/residual_peers.py            # the issue's shape, f64 and f32
    python benchmarks/residual_peers.py --smoke    # tiny, seconds

The same work for every engine: K networks, each initbench's pre-activation residual net
(engine/residual.py): an input layer, BLOCKS blocks h <- h + branch(h) with branch =
dense(tanh(dense(tanh(LayerNorm(h))))) (trainable gain and bias), and a readout of
tanh(h); softmax cross-entropy; Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8); batch 64 rows
a step (the peers draw them with replacement, initbench from its epoch permutations).

- ``initbench``: ``train_many(device="cpu")``, one thread per network at a time, with its
  in-loop metrics at ``--log-points`` logged steps (2 by default: the first and last) on
  64 rows, which the others do not compute;
- ``jax_vmap``: ``jit`` of ``lax.scan`` over the steps of ``vmap`` over the networks;
- ``torch_eager``: one ``nn.Module`` after another, ``torch.optim.Adam``.

Each figure is network-steps per second of a timed run after a warm-up run (compilation)
of the same size; the ratios are initbench's rate over each peer's, within one run.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
N_ROWS, N_FEATURES, N_CLASSES = 4000, 40, 10
LR, BETAS, EPS, EPS_NORM = 1e-3, (0.9, 0.999), 1e-8, 1e-5


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    y = np.argmax(X @ rng.normal(size=(N_FEATURES, N_CLASSES)), axis=1)
    return X, y


def make_params(k, width, blocks, dtype, seed=1):
    """k networks' parameters as dicts of arrays: He-scaled dense layers, LayerNorm at
    gain 1 and bias 0."""
    rng = np.random.default_rng(seed)

    def dense(fan_in, fan_out):
        return rng.normal(0, math.sqrt(1 / fan_in), (fan_out, fan_in)).astype(dtype)

    nets = []
    for _ in range(k):
        p = {"W_in": dense(N_FEATURES, width), "b_in": np.zeros(width, dtype)}
        for j in range(blocks):
            p[f"g{j}"], p[f"beta{j}"] = np.ones(width, dtype), np.zeros(width, dtype)
            p[f"W{j}a"], p[f"b{j}a"] = dense(width, width), np.zeros(width, dtype)
            p[f"W{j}b"], p[f"b{j}b"] = dense(width, width), np.zeros(width, dtype)
        p["W_out"], p["b_out"] = dense(width, N_CLASSES), np.zeros(N_CLASSES, dtype)
        nets.append(p)
    return nets


def batch_rows(steps, batch, seed=2):
    """The rows of every step, one (steps, batch) array shared by all networks."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, N_ROWS, (steps, batch))


def initbench_engine():
    import initbench as ib

    def build(X, y, nets, steps, batch, blocks, log_points):
        Ws = [[n["W_in"], *(n[f"W{j}{s}"] for j in range(blocks) for s in "ab"), n["W_out"]]
              for n in nets]  # fmt: skip
        bs = [[n["b_in"], *(n[f"b{j}{s}"] for j in range(blocks) for s in "ab"), n["b_out"]]
              for n in nets]  # fmt: skip
        settings = ib.TrainSettings(
            architecture="residual", norm="layernorm", block_size=2, optimizer="adam", lr=LR,
            beta1=BETAS[0], beta2=BETAS[1], eps=EPS, steps=steps, batch_size=batch,
            log_points=log_points, eval_rows=64,
        )  # fmt: skip

        def run():
            ib.train_many(list(zip(Ws, bs)), X, y, activation="tanh", loss="softmax_ce",
                          seeds=list(range(len(nets))), settings=settings)  # fmt: skip

        return run

    return build


def jax_engine():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def build(X, y, nets, steps, batch, blocks, log_points):
        dtype = nets[0]["W_in"].dtype
        params = {key: jnp.stack([n[key] for n in nets]) for key in nets[0]}
        Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y)
        rows = jnp.asarray(batch_rows(steps, batch))

        def forward(p, xb):
            h = xb @ p["W_in"].T + p["b_in"]
            for j in range(blocks):
                mu = h.mean(axis=1, keepdims=True)
                var = ((h - mu) ** 2).mean(axis=1, keepdims=True)
                u = (h - mu) / jnp.sqrt(var + EPS_NORM) * p[f"g{j}"] + p[f"beta{j}"]
                u = jnp.tanh(jnp.tanh(u) @ p[f"W{j}a"].T + p[f"b{j}a"])
                h = h + u @ p[f"W{j}b"].T + p[f"b{j}b"]
            return jnp.tanh(h) @ p["W_out"].T + p["b_out"]

        def loss(p, xb, yb):
            logp = jax.nn.log_softmax(forward(p, xb))
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def one_step(state, idx):
            p, m, v, t = state
            g = jax.grad(loss)(p, Xj[idx], yj[idx])
            t = t + 1
            m = jax.tree_util.tree_map(lambda a, d: BETAS[0] * a + (1 - BETAS[0]) * d, m, g)
            v = jax.tree_util.tree_map(lambda a, d: BETAS[1] * a + (1 - BETAS[1]) * d * d, v, g)
            c1, c2 = 1 - BETAS[0] ** t, 1 - BETAS[1] ** t
            p = jax.tree_util.tree_map(
                lambda a, mm, vv: a - LR * (mm / c1) / (jnp.sqrt(vv / c2) + EPS), p, m, v
            )
            return p, m, v, t

        @jax.jit
        def train(p, rows):
            zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
            t = jnp.zeros(len(nets), dtype)

            def body(state, idx):
                return jax.vmap(one_step, in_axes=(0, None))(state, idx), None

            return jax.lax.scan(body, (p, zeros, zeros, t), rows)[0][0]

        return lambda: jax.block_until_ready(train(params, rows))

    return build


def torch_engine():
    import torch

    def build(X, y, nets, steps, batch, blocks, log_points):
        dtype = torch.float64 if nets[0]["W_in"].dtype == np.float64 else torch.float32
        Xt, yt = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
        rows = torch.as_tensor(batch_rows(steps, batch))

        class Net(torch.nn.Module):
            def __init__(self, p):
                super().__init__()
                self.p = torch.nn.ParameterDict(
                    {k: torch.nn.Parameter(torch.as_tensor(v).clone()) for k, v in p.items()}
                )

            def forward(self, xb):
                p = self.p
                h = torch.nn.functional.linear(xb, p["W_in"], p["b_in"])
                for j in range(blocks):
                    u = torch.nn.functional.layer_norm(
                        h, (h.shape[1],), p[f"g{j}"], p[f"beta{j}"], EPS_NORM
                    )
                    u = torch.tanh(torch.nn.functional.linear(torch.tanh(u), p[f"W{j}a"],
                                                              p[f"b{j}a"]))  # fmt: skip
                    h = h + torch.nn.functional.linear(u, p[f"W{j}b"], p[f"b{j}b"])
                return torch.nn.functional.linear(torch.tanh(h), p["W_out"], p["b_out"])

        models = [Net(p) for p in nets]

        def run():
            for model in models:
                opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
                for s in range(steps):
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(Xt[rows[s]]), yt[rows[s]]).backward()
                    opt.step()

        return run

    return build


def timed(make, steps, warm_steps):
    """Seconds of a run of ``steps`` after a warm-up run (compilation) of ``warm_steps``."""
    run = make(steps)
    (run if warm_steps == steps else make(warm_steps))()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def engines():
    found = {}
    for name, make in [("initbench", initbench_engine), ("jax_vmap", jax_engine),
                       ("torch_eager", torch_engine)]:  # fmt: skip
        try:
            found[name] = (make(), None)
        except Exception as error:  # ImportError: say why and go on
            found[name] = (None, " ".join(f"{type(error).__name__}: {error}".split())[:160])
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--nets", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=8, help="residual blocks of 2 layers")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="timed steps")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--log-points", type=int, default=2)
    args = parser.parse_args()
    if args.smoke:
        args.blocks, args.width, args.steps, args.nets = 2, 8, 5, 2
    found = engines()
    for name, (_, reason) in found.items():
        if reason:
            print(f"skipping {name}: {reason}", flush=True)
    X, y = make_data()
    threads = os.environ.get("NUMBA_NUM_THREADS", os.cpu_count())
    print(f"{args.nets} networks x {args.steps} steps, {args.blocks} blocks of 2 layers, width "
          f"{args.width}, batch {args.batch}, pre-LayerNorm, Adam; {threads} threads")  # fmt: skip
    print(f"{'dtype':8}" + "".join(f"{n:>16}" for n in found) + "   ratios (initbench / peer)")
    for dtype in args.dtypes.split(","):
        rates = {}
        for name, (build, _) in found.items():
            if build is None:
                continue
            nets = make_params(args.nets, args.width, args.blocks, np.dtype(dtype))
            seconds = timed(
                lambda steps, build=build, nets=nets: build(
                    X, y, nets, steps, args.batch, args.blocks, args.log_points),
                args.steps, args.steps if name == "jax_vmap" else 2,  # scan length: static
            )  # fmt: skip
            rates[name] = args.nets * args.steps / seconds
        line = f"{dtype:8}" + "".join(f"{rates.get(n, math.nan):16.0f}" for n in found)
        if "initbench" in rates:
            line += "   " + ", ".join(f"{n} {rates['initbench'] / r:.2f}x"
                                      for n, r in rates.items() if n != "initbench")  # fmt: skip
        print(line, flush=True)


if __name__ == "__main__":
    main()
