"""Many small MLPs trained at once: network-steps per second of each engine, side by side.

    python benchmarks/gpu.py                 # on a machine with a CUDA GPU
    python benchmarks/gpu.py --smoke         # a tiny end-to-end check, CPU is enough

Engines, each on the same synthetic data (40 features, 10 classes, 4000 rows) and the
same networks (tanh, softmax cross-entropy, plain SGD, batch 64):

- ``initbench_cpu``: ``train_many(device="cpu")``, one thread per network at a time;
- ``initbench_cuda_t<tile>[_r<registers>]``: ``train_many(device="cuda")``, one thread
  block of tile**2 threads per network, for each ``--cuda`` variant (register caps trade
  spills for occupancy: measure);
- ``torch_vmap``: PyTorch's ensemble idiom, ``torch.func.stack_module_state`` +
  ``vmap(grad(functional_call))``, on the GPU when there is one;
- ``torch_eager``: one ``nn.Module`` after another, for reference;
- ``jax_vmap``: ``jit(vmap(...))`` over the networks with the steps in ``lax.scan``.

initbench's engines also compute the study's in-loop metrics at ``--log-points`` steps and
return per-network tables; the others compute only the update. Each figure is the
network-steps per second of a timed run after a warm-up run (compilation) of the same size.
Needs only numpy (+ numba, numba-cuda, pandas for initbench; torch; jax): an engine whose
package is missing is skipped with the reason. initbench is imported from this checkout.

The figures go to a JSON file (``--out``), with an estimate of the time the default study
(config/config.yaml) would take to train on this machine with each engine: the sum, over
its cells, of seeds x steps divided by the engine's rate on the nearest measured shape.
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
N_ROWS, N_FEATURES, N_CLASSES, LR = 4000, 40, 10, 0.05


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    y = np.argmax(X @ rng.normal(size=(N_FEATURES, N_CLASSES)), axis=1)
    return X, y


def make_nets(k, sizes, dtype, seed=1):
    """k LeCun-normal tanh networks as initbench (W, b) lists."""
    rng = np.random.default_rng(seed)
    return [([rng.normal(0, 1 / math.sqrt(a), (o, a)).astype(dtype) for a, o in
              zip(sizes, sizes[1:])], [np.zeros(o, dtype) for o in sizes[1:]])
            for _ in range(k)]  # fmt: skip


def batch_rows(k, steps, batch, seed=2):
    return np.random.default_rng(seed).integers(0, N_ROWS, (steps, k, batch))


def timed(build, steps, warm_steps):
    """Seconds of a run of ``steps`` after a warm-up run (compilation) of ``warm_steps``."""
    run = build(steps)
    (run if warm_steps == steps else build(warm_steps))()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# --- engines: each returns a function that trains k networks for the given steps -----


def initbench_engine(device, tile=16, max_registers=None):
    import initbench as ib

    if device == "cuda":
        from initbench.engine.many import cuda_unavailable_reason

        reason = cuda_unavailable_reason()
        if reason:
            raise RuntimeError(reason)

    def build(X, y, nets, steps, batch, log_points, eval_rows):
        kw = dict(activation="tanh", loss="softmax_ce", lr=LR, batch_size=batch, steps=steps,
                  seeds=list(range(len(nets))), log_points=log_points, eval_rows=eval_rows,
                  device=device)  # fmt: skip
        if device == "cuda":
            kw.update(tile=tile, max_registers=max_registers)
        return lambda: ib.train_many(nets, X.astype(nets[0][0][0].dtype), y, **kw)

    return build


def torch_engine(vmapped):
    import torch
    from torch.func import functional_call, grad, stack_module_state, vmap

    device = "cuda" if torch.cuda.is_available() else "cpu"

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def modules(nets, dtype):
        out = []
        for W, b in nets:
            layers = []
            for i, (w, bias) in enumerate(zip(W, b)):
                lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=dtype, device=device)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w))
                    lin.bias.copy_(torch.from_numpy(bias))
                layers += [lin] if i == len(W) - 1 else [lin, torch.nn.Tanh()]
            out.append(torch.nn.Sequential(*layers))
        return out

    def build(X, y, nets, steps, batch, log_points, eval_rows):
        dtype = torch.float64 if nets[0][0][0].dtype == np.float64 else torch.float32
        Xt = torch.as_tensor(X, dtype=dtype, device=device)
        yt = torch.as_tensor(y, device=device)
        rows = torch.as_tensor(batch_rows(len(nets), steps, batch), device=device)
        models = modules(nets, dtype)
        loss_fn = torch.nn.functional.cross_entropy
        if not vmapped:

            def run():
                for k, model in enumerate(models):
                    opt = torch.optim.SGD(model.parameters(), lr=LR)
                    for s in range(steps):
                        opt.zero_grad()
                        loss_fn(model(Xt[rows[s, k]]), yt[rows[s, k]]).backward()
                        opt.step()
                sync()

            return run

        params, buffers = stack_module_state(models)
        base = models[0]

        def loss(p, b, xb, yb):
            return loss_fn(functional_call(base, (p, b), (xb,)), yb)

        step_grads = vmap(grad(loss), in_dims=(0, 0, 0, 0))

        def run():
            p = {k: v.clone() for k, v in params.items()}
            for s in range(steps):
                g = step_grads(p, buffers, Xt[rows[s]], yt[rows[s]])
                for k in p:
                    p[k].sub_(LR * g[k])
            sync()

        return run

    return build


def jax_engine():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def build(X, y, nets, steps, batch, log_points, eval_rows):
        dtype = nets[0][0][0].dtype
        params = [(jnp.stack([n[0][i] for n in nets]), jnp.stack([n[1][i] for n in nets]))
                  for i in range(len(nets[0][0]))]  # fmt: skip
        Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y)
        rows = jnp.asarray(batch_rows(len(nets), steps, batch))

        def loss(p, xb, yb):
            h = xb
            for i, (W, b) in enumerate(p):
                h = h @ W.T + b
                h = jnp.tanh(h) if i < len(p) - 1 else h
            logp = jax.nn.log_softmax(h)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def one_step(p, idx):
            g = jax.grad(loss)(p, Xj[idx], yj[idx])
            return jax.tree_util.tree_map(lambda a, d: a - LR * d, p, g)

        @jax.jit
        def train(p, rows):
            def body(p, idx):
                return jax.vmap(one_step)(p, idx), None

            return jax.lax.scan(body, p, rows)[0]

        return lambda: jax.block_until_ready(train(params, rows))

    return build


def engines(variants):
    """name -> (builder or None, reason when None); variants: [(tile, max_registers)]."""
    found = {}
    for name, make in [("initbench_cpu", lambda: initbench_engine("cpu")),
                       *[(f"initbench_cuda_t{t}" + (f"_r{r}" if r else ""),
                          lambda t=t, r=r: initbench_engine("cuda", t, r)) for t, r in variants],
                       ("torch_vmap", lambda: torch_engine(True)),
                       ("torch_eager", lambda: torch_engine(False)),
                       ("jax_vmap", jax_engine)]:  # fmt: skip
        try:
            found[name] = (make(), None)
        except Exception as error:  # ImportError, no GPU: say why and go on
            found[name] = (None, " ".join(f"{type(error).__name__}: {error}".split())[:160])
    return found


def study_network_steps():
    """(network-steps, shape) of every cell of the default study, via config.plan."""
    import yaml

    from initbench.plan import plan

    cells = plan(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())).cells.values()
    return [(len(c.seeds) * c.training.steps, len(c.hidden) + 1, max(c.hidden, default=0), c.dtype)
            for c in cells]  # fmt: skip


def study_estimate(results):
    try:
        cells = study_network_steps()
    except Exception as error:
        return {"skipped": f"cannot enumerate the default study's cells: {error}"}
    estimate = {"network_steps": sum(c[0] for c in cells), "cells": len(cells), "seconds": {}}
    for engine in sorted({r["engine"] for r in results}):
        rates = [r for r in results if r["engine"] == engine]
        total = 0.0
        for n, depth, width, dtype in cells:
            same = [r for r in rates if r["dtype"] == dtype] or rates
            near = min(same, key=lambda r: abs(math.log(r["depth"] / depth))
                       + abs(math.log(r["width"] / max(width, 1))))  # fmt: skip
            total += n / near["net_steps_per_s"]
        estimate["seconds"][engine] = round(total, 2)
    return estimate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, minutes on a CPU")
    parser.add_argument("--widths", default="32,64,256")
    parser.add_argument("--depths", default="2,10,50", help="layers, output layer included")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--nets", type=int, default=1024, help="networks per GPU run, most")
    parser.add_argument("--min-nets", type=int, default=264, help="2 per SM of an H200")
    parser.add_argument("--cpu-nets", type=int, default=0, help="CPU engines (0: cores)")
    parser.add_argument("--eager-nets", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50, help="timed steps (the study: 200)")
    parser.add_argument("--budget", type=float, default=420, help="seconds; then stop")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--log-points", type=int, default=15, help="the default study's")
    parser.add_argument("--eval-rows", type=int, default=2048, help="initbench's logging")
    parser.add_argument("--cuda", default="16,16:128,8", help="tile[:max_registers],...")
    parser.add_argument("--engines", default="", help="comma list; default: all found")
    parser.add_argument("--out", default="gpu_benchmark.json")
    args = parser.parse_args()
    if args.smoke:
        args.widths, args.depths, args.steps, args.eval_rows = "8", "2,3", 5, 64
        args.nets = args.min_nets = 3
    cpu_nets = args.cpu_nets or os.cpu_count()
    variants = [(int(v.split(":")[0]), int(v.split(":")[1]) if ":" in v else None)
                for v in args.cuda.split(",")]  # fmt: skip
    found = engines(variants)
    wanted = args.engines.split(",") if args.engines else list(found)
    for name, (_, reason) in found.items():
        if reason and name in wanted:
            print(f"skipping {name}: {reason}", flush=True)
    X, y = make_data()
    results = []
    shapes = [(dt, d, w) for dt in args.dtypes.split(",") for d in map(int, args.depths.split(","))
              for w in map(int, args.widths.split(","))]  # fmt: skip
    header = f"{'dtype':8}{'depth':>6}{'width':>6}" + "".join(f"{n:>24}" for n in wanted)
    print("network-steps per second\n" + header, flush=True)
    start = time.perf_counter()
    for dtype, depth, width in shapes:
        if time.perf_counter() - start > args.budget:
            print(f"stopping: over the {args.budget} s budget; shapes from here on not measured")
            break
        sizes = [N_FEATURES, *[width] * (depth - 1), N_CLASSES]
        line = f"{dtype:8}{depth:6}{width:6}"
        for name in wanted:
            build, reason = found.get(name, (None, "unknown engine"))
            if build is None:
                line += f"{'-':>24}"
                continue
            # GPU engines: fewer networks at costly shapes, but enough to fill the GPU
            scaled = round(args.nets * 64 * 64 * 10 / (width * width * depth))
            k = {"initbench_cpu": cpu_nets, "torch_eager": args.eager_nets}.get(
                name, min(args.nets, max(args.min_nets, scaled)))  # fmt: skip
            nets = make_nets(k, sizes, np.dtype(dtype))
            try:
                seconds = timed(
                    lambda steps, build=build, nets=nets: build(
                        X, y, nets, steps, args.batch, args.log_points, args.eval_rows),
                    args.steps, args.steps if name == "jax_vmap" else 2,  # scan length: static
                )  # fmt: skip
            except Exception as error:  # e.g. out of memory at the largest shapes
                line += f"{'error':>24}"
                print(f"  {name} {dtype} {depth}x{width}: {type(error).__name__}: {error}")
                continue
            rate = k * args.steps / seconds
            results.append(dict(engine=name, dtype=dtype, depth=depth, width=width, nets=k,
                                steps=args.steps, seconds=seconds,
                                net_steps_per_s=rate))  # fmt: skip
            line += f"{rate:24.0f}"
        print(line, flush=True)
    estimate = study_estimate(results)
    print("default study on this machine, estimated seconds per engine:", estimate, flush=True)
    report = dict(
        machine=dict(platform=platform.platform(), python=sys.version.split()[0],
                     cpus=os.cpu_count(), gpu=gpu_name()),
        settings=vars(args), skipped={n: r for n, (b, r) in found.items() if r},
        results=results, default_study=estimate,
    )  # fmt: skip
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


def gpu_name():
    try:
        from numba import cuda

        return cuda.get_current_device().name.decode() if cuda.is_available() else None
    except Exception:
        return None


if __name__ == "__main__":
    main()
