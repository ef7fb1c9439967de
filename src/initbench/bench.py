"""``initbench bench``: the compiled training loop against NumPy and PyTorch eager.

Every implementation trains the same network (same init, batches, steps) by plain
minibatch SGD; times are medians over repeats, reported as ratios to the kernel within
one run. PyTorch is optional and only timed when importable.
"""

import statistics
import time

import numpy as np

from .engine.training import batch_order, train
from .inits import init_params

ACTIVATIONS_NP = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: z > 0),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
}


def numpy_train(W, b, X, y, activation, lr, batch_size, steps, order):
    """Vectorised NumPy SGD with softmax cross-entropy, preallocating nothing clever."""
    phi, dphi = ACTIVATIONS_NP[activation]
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    onehot = np.eye(W[-1].shape[0], dtype=X.dtype)[y]
    for step in range(steps):
        rows = order[step]
        acts, zs = [X[rows]], []
        for w, v in zip(W[:-1], b[:-1]):
            zs.append(acts[-1] @ w.T + v)
            acts.append(phi(zs[-1]))
        out = acts[-1] @ W[-1].T + b[-1]
        out -= out.max(axis=1, keepdims=True)
        p = np.exp(out)
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - onehot[rows]) / batch_size
        for layer in range(len(W) - 1, -1, -1):
            gw, gb = delta.T @ acts[layer], delta.sum(axis=0)
            if layer:
                delta = (delta @ W[layer]) * dphi(zs[layer - 1], acts[layer])
            W[layer] -= lr * gw
            b[layer] -= lr * gb
    return W, b


def torch_train(W, b, X, y, activation, lr, batch_size, steps, order):
    """PyTorch eager: nn.Linear layers, F.cross_entropy, torch.optim.SGD."""
    import torch

    torch.set_num_threads(1)
    layers = []
    for i, (w, v) in enumerate(zip(W, b)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.from_numpy(w).dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(v))
        layers.append(lin)
        if i < len(W) - 1:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    order_t = torch.from_numpy(order)
    for step in range(steps):
        rows = order_t[step]
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
        opt.step()
    return [lin.weight.detach().numpy() for lin in layers[::2]]


def bench_case(width, depth, batch, activation, dtype, steps, repeats, n_samples=2048):
    """Seconds per step for each implementation, and a check that they agree."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, width)).astype(dtype)
    y = rng.integers(0, 10, n_samples)
    sizes = [width] * depth + [10]
    W, b = init_params("he_normal", sizes, activation=activation, seed=0, dtype=dtype)
    order = batch_order(0, n_samples, batch, steps)
    lr = 0.01

    def kernel():
        return train(W, b, X, y, activation=activation, loss="softmax_ce", lr=lr,
                     batch_size=batch, steps=steps, seed=0, log_points=2).weights  # fmt: skip

    impls = {
        "initbench": kernel,
        "numpy": lambda: numpy_train(W, b, X, y, activation, lr, batch, steps, order)[0],
    }
    try:
        import torch  # noqa: F401

        impls["torch"] = lambda: torch_train(W, b, X, y, activation, lr, batch, steps, order)
    except ImportError:
        pass
    times, finals = {}, {}
    for name, fn in impls.items():
        finals[name] = fn()  # warm-up (and JIT compile / cache load)
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples) / steps
    # initbench takes steps + 1 forward/backward passes (the last one is the final metrics)
    # relative Frobenius distance of the first layer's weights; float32 runs drift apart by
    # rounding over hundreds of steps (each implementation is ~1% from a float64 run)
    tol = 1e-6 if dtype == "float64" else 3e-2
    ours = finals["initbench"][0]
    agree = all(np.linalg.norm(ours - other[0]) <= tol * np.linalg.norm(other[0])
                for other in finals.values())  # fmt: skip
    return times, agree


def run_bench(args):
    from .engine.jit import limit_blas

    cases = [(w, d, bs, act, dt) for w, d, bs in ((64, 8, 32), (256, 8, 32), (512, 4, 64))
             for act in args.activations for dt in args.dtypes]  # fmt: skip
    header = (f"{'width':>5} {'depth':>5} {'batch':>5} {'act':>5} {'dtype':>7} "
              f"{'initbench us/step':>17} {'numpy us/step':>13} {'torch us/step':>13} "
              f"{'x numpy':>8} {'x torch':>8} agree")  # fmt: skip
    print(header)
    with limit_blas(args.threads):
        for width, depth, batch, act, dtype in cases:
            t, agree = bench_case(width, depth, batch, act, dtype, args.steps, args.repeats)
            torch_t = t.get("torch", np.nan)
            print(f"{width:>5} {depth:>5} {batch:>5} {act:>5} {dtype:>7} "
                  f"{t['initbench'] * 1e6:>17.1f} {t['numpy'] * 1e6:>13.1f} "
                  f"{torch_t * 1e6:>13.1f} {t['numpy'] / t['initbench']:>8.2f} "
                  f"{torch_t / t['initbench']:>8.2f} {agree}", flush=True)  # fmt: skip


def add_parser(sub):
    bench = sub.add_parser("bench", help="time train() against NumPy and PyTorch eager")
    bench.add_argument("--steps", type=int, default=500)
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--threads", type=int, default=1, help="BLAS/torch threads")
    bench.add_argument("--activations", nargs="+", default=["relu", "tanh"])
    bench.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    bench.set_defaults(func=run_bench)
