"""What a second thread buys ``train_many``, per width: issue 32's BLAS trap, measured.

    python benchmarks/thread_scaling.py [--widths 32 64 128 256 512] [--dtypes float64 float32]

Numba's ``np.dot`` calls SciPy's bundled OpenBLAS, which loads on the first kernel call;
a thread limit entered before it loads never reaches it, and two training threads, each
with a gemm running every core's threads, were 2.5x slower than one at width >= 128. The
engine now loads that BLAS before it limits it (``engine.jit.limit_blas``); a test checks
the limit after a cold first call, and this prints what it is worth.

For each thread count, one fresh process makes its first kernel call inside
``train_many(threads=...)`` (the trap's condition), then times 8 networks (4 layers,
batch 64, relu, plain SGD) per width and dtype after a warm-up: network-steps per wall
second (the median of 3 runs), the speed-up of 2 threads over 1, and the BLAS threads
threadpoolctl reports in a training thread. On a machine with at least 2 free cores the
speed-up should be near 2 at every width; well under 1 means the BLAS limit was lost. Not
called from the tests.
"""

import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from compare_kernels import LR, N_CLASSES, N_FEATURES, make_data, make_nets, rate

NETS, LAYERS, BATCH, REPEATS = 8, 4, 64, 3
STEPS = {32: 1000, 64: 600, 128: 250, 256: 80, 512: 25}  # about 0.3-1 s a run, 1 thread


def rates(args):
    """This process's rates (its first kernel call is the first warm-up), as JSON."""
    from threadpoolctl import threadpool_info

    import initbench as ib
    from initbench.engine import many

    X, y = make_data()
    seen = []
    original = many.train_checked

    def recording(*call):  # the BLAS threads, as a training thread sees them
        seen.append(max(lib["num_threads"] for lib in threadpool_info()
                        if lib["user_api"] == "blas"))  # fmt: skip
        return original(*call)

    many.train_checked = recording
    out = {}
    for dtype in args.dtypes:
        for width in args.widths:
            sizes = [N_FEATURES, *[width] * (LAYERS - 1), N_CLASSES]
            nets = make_nets(NETS, sizes, "relu", np.dtype(dtype))
            data = X.astype(dtype)

            def build(steps, nets=nets, data=data):
                return lambda: ib.train_many(
                    nets, data, y, activation="relu", loss="softmax_ce", lr=LR,
                    batch_size=BATCH, steps=steps, seeds=list(range(NETS)), log_points=2,
                    eval_rows=64, threads=args.threads,
                )  # fmt: skip

            steps = STEPS.get(width, max(10, int(25 * (512 / width) ** 2)))
            seen.clear()
            walls = [rate(build, NETS, steps, 2)[0] for _ in range(REPEATS)]
            out[f"{dtype} {width}"] = (statistics.median(walls), max(seen))
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=list(STEPS))
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        return rates(args)
    measured = {}
    for threads in (1, 2):
        command = [sys.executable, __file__, *sys.argv[1:], "--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{threads} thread(s) failed:\n{done.stderr[-3000:]}")
        measured[threads] = json.loads(done.stdout.splitlines()[-1])
    print(f"train_many, {NETS} nets x {LAYERS} layers, batch {BATCH}, relu; network-steps per "
          "wall second; each thread count in a fresh process (first kernel call cold)")  # fmt: skip
    print(f"{'dtype':>8} {'width':>6} {'1 thread':>10} {'2 threads':>10} {'speed-up':>9} "
          f"{'BLAS threads seen':>18}")  # fmt: skip
    for key, (one, blas_one) in measured[1].items():
        two, blas_two = measured[2][key]
        dtype, width = key.split()
        print(f"{dtype:>8} {width:>6} {one:>10.0f} {two:>10.0f} {two / one:>8.2f}x "
              f"{f'{blas_one} / {blas_two}':>18}")  # fmt: skip


if __name__ == "__main__":
    main()
