"""Cold compile time of the training loop, per architecture (plain, residual) and dtype.

    PYTHONPATH=src python benchmarks/compile_time.py [--loops plain residual]
        [--dtypes float64 float32] [--repeats 1]

For each loop, one fresh Python process with an empty NUMBA_CACHE_DIR trains a tiny
network of that architecture once per built-in activation, all of float64 first, then all
of float32, and prints the seconds (wall, and the CPU of the process and of the process a
cold first ``train`` compiles its passes in) per dtype: the cold compile. A
second process on the same cache trains the other architecture ("then"): what a study of
both compiles on top (nothing, when one loop serves both). A third shows the warm start
(every kernel loaded from disk). Process CPU is the honest figure on a shared machine.

``--parts`` times the pipeline's way instead (rule compile_part, then rule warmup), per
dtype in a fresh cache: the loop's compile parts (engine/compile_parts.py: the passes, and
the loop with its helpers) in two processes side by side, then the warm-up in a third,
which loads them and trains: the wall until the loop is ready, and the CPU of each
process. Not called from the tests.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

LOOPS = {"plain": {}, "residual": {"architecture": "residual", "block_size": 1}}

CHILD = """
import json, resource, sys, time
import numpy as np
import initbench as ib


def cpu():  # this process's CPU and its waited-for children's (a first train's compiler)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime

if sys.argv[1] == "--frozen":  # as the pipeline's Snakemake process, which freezes its imports
    import gc

    gc.freeze()
    del sys.argv[1]

X = np.random.default_rng(0).normal(size=(8, 2))
y = np.arange(8) % 2
names = sorted(ib.ACTIVATIONS)
architecture = json.loads(sys.argv[1])
result = {}
for dtype in sys.argv[2:]:
    wall, start = time.perf_counter(), cpu()
    for name in names:
        W, b = ib.init_params("he_normal", [2, 3, 3, 2], activation=name, dtype=dtype)
        ib.train(W, b, X, y, activation=name, loss="softmax_ce", lr=0.1, batch_size=4, steps=3,
                 **architecture)
    result[dtype] = (time.perf_counter() - wall, cpu() - start, len(names))
print(json.dumps(result), flush=True)
"""


def run(loop, dtypes, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    code = [sys.executable, "-c", CHILD, json.dumps(LOOPS[loop]), *dtypes]
    out = subprocess.run(code, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# A part's process runs as the pipeline's do (processes.in_own_process): its imports frozen out
# of the garbage collector's passes, and os._exit at the end, no teardown.
PART = """
import gc, json, os, sys, time
from initbench.engine.compile_parts import compile_part
gc.freeze()
wall, cpu = time.perf_counter(), time.process_time()
compile_part(sys.argv[1], sys.argv[2])
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]), flush=True)
os._exit(0)
"""


def run_parts(dtype, cache_dir):
    """(wall until the loop is ready, [(name, process CPU s)]) with the parts side by side."""
    from initbench.engine.compile_parts import PARTS

    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    start = time.perf_counter()
    children = {
        part: subprocess.Popen(
            [sys.executable, "-c", PART, part, dtype], env=env, stdout=subprocess.PIPE, text=True
        )  # fmt: skip
        for part in PARTS
    }
    cpus = [(part, json.loads(child.communicate()[0].strip().splitlines()[-1])[1])
            for part, child in children.items()]  # fmt: skip
    # The loop is ready when its process reports it, not when that process has exited: the
    # pipeline compiles it in a thread of Snakemake's process (rule warmup), which goes on.
    loop = subprocess.Popen(
        [sys.executable, "-c", CHILD, "--frozen", json.dumps(LOOPS["residual"]), dtype],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    report = loop.stdout.readline()
    ready = time.perf_counter() - start
    loop.communicate()
    if loop.returncode:
        raise RuntimeError(f"the loop's process failed ({loop.returncode})")
    cpus.append(("warm-up", json.loads(report)[dtype][1]))
    return ready, cpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=list(LOOPS))
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--parts",
        action="store_true",
        help="compile as the pipeline does: parts side by side, then the loop",
    )
    args = parser.parse_args()
    if args.parts:
        print(f"{'dtype':>8} {'wall s':>8} {'cpu s':>8}  cpu s per process")
        for _ in range(args.repeats):
            for dtype in args.dtypes:
                with tempfile.TemporaryDirectory(prefix="initbench-numba-cache-") as cache_dir:
                    wall, cpus = run_parts(dtype, cache_dir)
                total = sum(cpu for _, cpu in cpus)
                each = ", ".join(f"{name} {cpu:.1f}" for name, cpu in cpus)
                print(f"{dtype:>8} {wall:>8.1f} {total:>8.1f}  {each}", flush=True)
        return
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
