"""train_many on the CPU: each network's numbers equal train's for it alone, bit for bit."""

import numpy as np
import pandas as pd
import pytest

import initbench as ib
from initbench.engine.many import cuda_unavailable_reason, train_many


def problem(dtype, n=40, sizes=(5, 6, 6, 3), k=4, seed=0):
    rng = np.random.default_rng(seed)
    nets = []
    for _ in range(k):
        W = [rng.normal(0, 1 / np.sqrt(a), (o, a)).astype(dtype) for a, o in zip(sizes, sizes[1:])]
        nets.append((W, [rng.normal(0, 0.1, o).astype(dtype) for o in sizes[1:]]))
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    return nets, X, rng.integers(0, sizes[-1], n)


def assert_same(got, ref):
    assert got.status == ref.status and got.diverged_step == ref.diverged_step
    for a, c in zip(got.weights + got.biases, ref.weights + ref.biases):
        assert a.dtype == c.dtype
        np.testing.assert_array_equal(a, c)
    pd.testing.assert_frame_equal(got.history, ref.history, check_exact=True)
    pd.testing.assert_frame_equal(got.layers, ref.layers, check_exact=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_network_equals_train_alone(dtype):
    nets, X, y = problem(dtype)
    lrs, momenta, seeds = [0.05, 0.1, 0.2, 0.05], [0.0, 0.9, 0.5, 0.0], [0, 1, 2, 3]
    kw = dict(activation="tanh", loss="softmax_ce", batch_size=8, steps=30, log_points=10,
              X_test=X[:10], y_test=y[:10])  # fmt: skip
    results = train_many(nets, X, y, lr=lrs, momentum=momenta, seeds=seeds, threads=2, **kw)
    assert len(results) == len(nets)
    for (W, b), lr, m, s, got in zip(nets, lrs, momenta, seeds, results):
        assert_same(got, ib.train(W, b, X, y, lr=lr, momentum=m, seed=s, **kw))
    # the seeds matter: the same network with another batch order ends elsewhere
    assert not np.array_equal(results[0].weights[0], results[3].weights[0]) or seeds[0] == seeds[3]


def test_divergence_is_recorded_per_network():
    rng = np.random.default_rng(1)
    sizes = [4, 32, 32, 32, 1]
    big = [rng.normal(0, 10, (o, i)) for i, o in zip(sizes, sizes[1:])]
    zeros = [np.zeros(o) for o in sizes[1:]]
    X = rng.normal(size=(64, 4))
    y = rng.normal(size=(64, 1))
    kw = dict(activation="relu", loss="mse", batch_size=64, steps=300)
    small = [w / 1000 for w in big]
    results = train_many([(big, zeros), (small, zeros)], X, y, seeds=0, lr=[10.0, 0.01], **kw)
    assert results[0].status == "diverged" and results[1].status == "completed"
    assert_same(results[0], ib.train(big, zeros, X, y, lr=10.0, **kw))
    assert_same(results[1], ib.train(small, zeros, X, y, lr=0.01, **kw))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(lr=[0.1, 0.1]), "lr has 2 values for 3 networks"),
        (dict(lr=[0.1, -1.0, 0.1]), r"lr\[1\] must be a positive"),
        (dict(momentum=[0.0, 0.0, 1.0]), r"momentum\[2\] must be in \[0, 1\)"),
        (dict(seeds=[0, 1, -2]), r"seeds\[2\] must be a non-negative integer"),
        (dict(seeds=[0, 1.5, 2]), r"seeds\[1\] must be a non-negative integer"),
        (dict(device="tpu"), "device must be one of cpu, cuda"),
        (dict(steps=0), "steps must be a positive"),
        (dict(activation="tahn"), "did you mean 'tanh'"),
        (dict(threads=0), "threads must be a positive"),
        (dict(tile=32), "tile must be one of 2, 4, 8, 16, got 32"),
    ],
)
def test_bad_arguments_name_the_argument(change, match):
    nets, X, y = problem(np.float64, k=3)
    kw = dict(activation="tanh", loss="softmax_ce", lr=0.1, batch_size=8, steps=3, seeds=0)
    with pytest.raises(ValueError, match=match):
        train_many(nets, X, y, **(kw | change))


def test_networks_of_another_architecture_or_dtype_are_named():
    nets, X, y = problem(np.float64, k=3)
    kw = dict(activation="tanh", loss="softmax_ce", lr=0.1, batch_size=8, steps=3, seeds=0)
    wider, _, _ = problem(np.float64, sizes=(5, 7, 6, 3), k=1)
    with pytest.raises(ValueError, match=r"nets\[2\] has layer sizes \[5, 7, 6, 3\]"):
        train_many([*nets[:2], wider[0]], X, y, **kw)
    single, _, _ = problem(np.float32, k=1)
    with pytest.raises(ValueError, match=r"nets\[1\] has .* dtype float32"):
        train_many([nets[0], single[0]], X, y, **kw)
    with pytest.raises(ValueError, match=r"nets\[0\]: W\[1\] has shape"):
        train_many([([nets[0][0][0], nets[0][0][0]], nets[0][1][:2])], X, y, **kw)
    with pytest.raises(ValueError, match="non-empty list"):
        train_many([], X, y, **kw)


def test_cuda_without_a_gpu_stops_with_one_line():
    reason = cuda_unavailable_reason()
    if reason is None:
        pytest.skip("a CUDA GPU (or the simulator) is usable here: nothing to refuse")
    assert "\n" not in reason and reason
    nets, X, y = problem(np.float64, k=2)
    with pytest.raises(RuntimeError, match="device='cuda': "):
        train_many(nets, X, y, activation="tanh", loss="softmax_ce", lr=0.1, batch_size=8,
                   steps=3, seeds=0, device="cuda")  # fmt: skip


def test_cells_trained_together_equal_cells_trained_alone():
    """The pipeline's GPU path (cell.train_cells_together) builds the same tables as
    train_cell; on the CPU train_many is bit-identical to train, so the tables are equal."""
    from initbench.cell import Cell
    from initbench.tables import cell_tables
    from initbench.trainer import train_cell, train_cells_together

    def train_settings(lr):
        return ib.TrainSettings(steps=20, lr=lr, batch_size=16, log_points=5)

    data = ib.load_dataset("circles", seed=0, n_train=64, n_test=32)
    cells = [
        Cell("circles", "tanh", init, init, (6, 5), (0, 1), train_settings(lr))
        for init, lr in (("he_normal", 0.1), ("xavier_normal", 0.05), ("orthogonal", 0.1))
    ] + [Cell("circles", "tanh", "he_normal", "he_normal", (6,), (3,), train_settings(0.1))]
    together = train_cells_together(cells, data, device="cpu")
    timing = ["train_seconds", "train_cpu_seconds"]
    for cell in cells:
        alone = train_cell(cell, data)
        for ours, reference in zip(cell_tables(cell, data, together[cell.name]), alone):
            pd.testing.assert_frame_equal(
                ours.to_pandas().drop(columns=timing, errors="ignore"),
                reference.drop(columns=timing, errors="ignore"),
            )
