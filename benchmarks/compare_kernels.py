"""Kernel speed of two checkouts, pair by pair: the training loop before and after a change.

    python benchmarks/compare_kernels.py OLD/src NEW/src [--rounds 4]

Each round times ``train`` in one fresh process per checkout (old, then new; the package
imported from the given ``src``) over widths 32/64/256, four activations and both dtypes:
thread CPU time, median of 5 calls after one warm-up call (which also compiles or loads
Numba's cache; run once beforehand to time a warm cache). Prints new/old per case as the
median over rounds, and their geometric mean.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    rounds = [(case_times(args.old_src), case_times(args.new_src)) for _ in range(args.rounds)]
    ratios = {}
    for case, old in rounds[0][0].items():
        ratios[case] = statistics.median(new[case] / old[case] for old, new in rounds)
        print(f"{case:28s} new/old {ratios[case]:.3f}  (old {old * 1e3:.1f} ms)")
    geomean = math.exp(statistics.fmean(math.log(r) for r in ratios.values()))
    print(f"geometric mean {geomean:.3f}, range {min(ratios.values()):.3f}"
          f"-{max(ratios.values()):.3f} over {args.rounds} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
