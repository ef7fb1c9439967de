"""Cold compile time of the training loop, per architecture (plain, residual) and dtype.

    PYTHONPATH=src python benchmarks/compile_time.py [--loops plain residual]
        [--dtypes float64 float32] [--repeats 1]

For each loop, one fresh Python process with an empty NUMBA_CACHE_DIR trains a tiny
network of that architecture once per built-in activation, all of float64 first, then all
of float32, and prints the seconds (wall and process CPU) per dtype: the cold compile. A
second process on the same cache trains the other architecture ("then"): what a study of
both compiles on top (nothing, when one loop serves both). A third shows the warm start
(every kernel loaded from disk). Process CPU is the honest figure on a shared machine.
Not called from the tests.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

LOOPS = {"plain": {}, "residual": {"architecture": "residual", "block_size": 1}}

CHILD = """
import json, sys, time
import numpy as np
import initbench as ib

X = np.random.default_rng(0).normal(size=(8, 2))
y = np.arange(8) % 2
names = sorted(ib.ACTIVATIONS)
architecture = json.loads(sys.argv[1])
result = {}
for dtype in sys.argv[2:]:
    wall, cpu = time.perf_counter(), time.process_time()
    for name in names:
        W, b = ib.init_params("he_normal", [2, 3, 3, 2], activation=name, dtype=dtype)
        ib.train(W, b, X, y, activation=name, loss="softmax_ce", lr=0.1, batch_size=4, steps=3,
                 **architecture)
    result[dtype] = (time.perf_counter() - wall, time.process_time() - cpu, len(names))
print(json.dumps(result))
"""


def run(loop, dtypes, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    code = [sys.executable, "-c", CHILD, json.dumps(LOOPS[loop]), *dtypes]
    out = subprocess.run(code, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=list(LOOPS))
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"{'run':>5} {'loop':>8} {'dtype':>8} {'activations':>11} {'wall s':>8} {'cpu s':>8}")
    for _ in range(args.repeats):
        for loop in args.loops:
            other = next(name for name in LOOPS if name != loop)
            with tempfile.TemporaryDirectory(prefix="initbench-numba-cache-") as cache_dir:
                for label, name in (("cold", loop), ("then", other), ("warm", loop)):
                    for dtype, (wall, cpu, count) in run(name, args.dtypes, cache_dir).items():
                        print(f"{label:>5} {name:>8} {dtype:>8} {count:>11} {wall:>8.1f} "
                              f"{cpu:>8.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
