"""Cold compile time of the training kernels for every built-in activation, per dtype.

    PYTHONPATH=src python benchmarks/compile_time.py [--dtypes float64 float32] [--repeats 1]

Each repeat runs one fresh Python process with an empty NUMBA_CACHE_DIR: it trains a tiny
network once per built-in activation, all of float64 first, then all of float32, and
prints the seconds (wall and process CPU) per dtype. A second process on the same cache
then shows the warm start (every kernel loaded from disk). Not called from the tests.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
import numpy as np
import initbench as ib

X = np.random.default_rng(0).normal(size=(8, 2))
y = np.arange(8) % 2
names = sorted(ib.ACTIVATIONS)
result = {}
for dtype in sys.argv[1:]:
    wall, cpu = time.perf_counter(), time.process_time()
    for name in names:
        W, b = ib.init_params("he_normal", [2, 3, 3, 2], activation=name, dtype=dtype)
        ib.train(W, b, X, y, activation=name, loss="softmax_ce", lr=0.1, batch_size=4, steps=3)
    result[dtype] = (time.perf_counter() - wall, time.process_time() - cpu, len(names))
print(json.dumps(result))
"""


def run(dtypes, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", CHILD, *dtypes], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"{'run':>5} {'dtype':>8} {'activations':>11} {'wall s':>8} {'cpu s':>8}")
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="initbench-numba-cache-") as cache_dir:
            for label, result in (("cold", run(args.dtypes, cache_dir)),
                                  ("warm", run(args.dtypes, cache_dir))):  # fmt: skip
                for dtype, (wall, cpu, count) in result.items():
                    print(f"{label:>5} {dtype:>8} {count:>11} {wall:>8.1f} {cpu:>8.1f}",
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
