"""Bit-identity of ``ib.train`` across a change: dump, then compare, fixed-input runs.

    python benchmarks/reference_train.py dump OUT.npz      # before the change
    python benchmarks/reference_train.py compare OUT.npz   # after it: exits 1 on a difference

Every built-in activation on float32 and float64, minibatch with momentum, test and probe
rows (so every run and layer metric is exercised), plus one full-batch mse run and one
sigmoid_bce run: the histories, layer tables and trained weights, compared bit for bit
(NaN equal to NaN). Uses only ``import initbench as ib``, so it runs on any checkout.
"""

import sys

import numpy as np

import initbench as ib


def cases():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(96, 5))
    labels = rng.integers(0, 3, 96)
    for dtype in ("float32", "float64"):
        builtins = [name for name, a in ib.ACTIVATIONS.items() if isinstance(a.selector, int)]
        for act in sorted(builtins):
            yield (f"{act}-{dtype}-softmax", act, dtype, [5, 7, 6, 3], "softmax_ce", labels,
                   {"batch_size": 16, "momentum": 0.9, "X_probe": X[:20]})  # fmt: skip
        yield (f"tanh-{dtype}-mse-full", "tanh", dtype, [5, 4, 2], "mse", X[:, :2],
               {"batch_size": 200})  # fmt: skip
        yield (f"relu-{dtype}-bce", "relu", dtype, [5, 6, 1], "sigmoid_bce", labels % 2,
               {"batch_size": 24, "X_probe": X[:10]})  # fmt: skip


def run_all():
    out = {}
    X = np.random.default_rng(7).normal(size=(96, 5))
    for key, act, dtype, sizes, loss, y, extra in cases():
        W, b = ib.init_params("he_normal", sizes, activation=act, seed=3, dtype=dtype)
        res = ib.train(W, b, X[:64], y[:64], activation=act, loss=loss, lr=0.05, steps=60,
                       seed=11, X_test=X[64:], y_test=y[64:], log_points=12, **extra)  # fmt: skip
        out[f"{key}/status"] = np.array(res.status)
        for name, column in res.history_columns.items():
            out[f"{key}/history/{name}"] = np.asarray(column)
        for name, column in res.layer_columns.items():
            out[f"{key}/layers/{name}"] = np.asarray(column)
        for i, (w, bias) in enumerate(zip(res.weights, res.biases)):
            out[f"{key}/W{i}"], out[f"{key}/b{i}"] = w, bias
    return out


def main(mode, path):
    now = run_all()
    if mode == "dump":
        np.savez(path, **now)
        print(f"{len(now)} arrays from {len({k.split('/')[0] for k in now})} runs into {path}")
        return 0
    with np.load(path) as ref:
        before = {k: ref[k] for k in ref.files}
    bad = sorted(set(before) ^ set(now))
    for key in sorted(set(before) & set(now)):
        a, b = before[key], now[key]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            bad.append(key)
    runs = len({k.split("/")[0] for k in before})
    print(f"{len(before)} arrays from {runs} runs: "
          + ("bit-identical" if not bad else f"{len(bad)} DIFFER, e.g. {bad[:5]}"))  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
