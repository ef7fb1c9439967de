import random

import numpy as np
import pytest
from sklearn.datasets import make_circles

from initbench.datasets import DATASETS, Dataset, dataset, load_dataset

FAST = {
    "circles": {},
    "moons": {},
    "spirals": {},
    "digits": {},
    "teacher": {},
    "mnist": {},
}  # mnist1d is slow: generated once in a fixture, its wrapper tested with a stand-in
EXPECTED = {  # name: (task, n_train, n_test, d, n_classes, n_outputs, loss)
    "circles": ("binary", 300, 100, 2, 2, 1, "sigmoid_bce"),
    "moons": ("binary", 300, 100, 2, 2, 1, "sigmoid_bce"),
    "spirals": ("multiclass", 300, 150, 2, 3, 3, "softmax_ce"),
    "digits": ("multiclass", 1437, 360, 64, 10, 10, "softmax_ce"),
    "teacher": ("regression", 1000, 500, 10, 0, 1, "mse"),
    "mnist": ("multiclass", 4000, 1000, 784, 10, 10, "softmax_ce"),
}


@pytest.fixture(scope="module")
def mnist1d_full():
    """One full generation (~6 s), with the global RNG states seen around it."""
    np.random.seed(123)
    random.seed(456)
    before = (np.random.get_state(), random.getstate())
    ds = load_dataset("mnist1d", seed=0)
    return ds, before, (np.random.get_state(), random.getstate())


def _arrays(ds):
    return ds.X_train, ds.y_train, ds.X_test, ds.y_test


def _check_layout(ds):
    for a in (ds.X_train, ds.X_test):
        assert a.dtype == np.float64 and a.flags.c_contiguous and a.ndim == 2
    ydtype = np.float64 if ds.task == "regression" else np.int64
    for y in (ds.y_train, ds.y_test):
        assert y.dtype == ydtype and y.flags.c_contiguous
        assert y.ndim == (2 if ds.task == "regression" else 1)
    assert ds.X_train.shape[0] == ds.y_train.shape[0]
    assert ds.X_test.shape[0] == ds.y_test.shape[0]
    assert ds.X_test.shape[1] == ds.n_features
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_test).all()


def _check_standardized(X):
    assert np.allclose(X.mean(axis=0), 0, atol=1e-10)
    std = X.std(axis=0)
    assert np.all(np.isclose(std, 1) | (std == 0))


def test_registry_lists_every_dataset():
    assert set(DATASETS) == set(FAST) | {"mnist1d"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_dtypes_and_standardization(name):
    ds = load_dataset(name, seed=0)
    task, n_train, n_test, d, n_classes, n_outputs, loss = EXPECTED[name]
    assert isinstance(ds, Dataset) and ds.name == name and ds.task == task
    assert ds.X_train.shape == (n_train, d) and ds.X_test.shape == (n_test, d)
    assert (ds.n_features, ds.n_classes, ds.n_outputs, ds.default_loss) == (
        d,
        n_classes,
        n_outputs,
        loss,
    )
    _check_layout(ds)
    _check_standardized(ds.X_train)
    if task == "regression":
        assert ds.y_train.shape == (n_train, 1)
        assert np.allclose(ds.y_train.mean(0), 0) and np.allclose(ds.y_train.std(0), 1)
    else:
        for y in (ds.y_train, ds.y_test):
            assert set(np.unique(y)) == set(range(n_classes))


def test_mnist1d_full(mnist1d_full):
    ds, before, after = mnist1d_full
    assert ds.X_train.shape == (4000, 40) and ds.X_test.shape == (1000, 40)
    assert (ds.task, ds.n_classes, ds.n_outputs) == ("multiclass", 10, 10)
    _check_layout(ds)
    _check_standardized(ds.X_train)
    for y in (ds.y_train, ds.y_test):
        assert set(np.unique(y)) == set(range(10))


def test_mnist1d_restores_global_random_state(mnist1d_full):
    _, (np_before, py_before), (np_after, py_after) = mnist1d_full
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert py_before == py_after


def test_mnist1d_same_seed_same_data(mnist1d_full):
    again = load_dataset("mnist1d", seed=0)
    assert all(
        np.array_equal(u, v) for u, v in zip(_arrays(again), _arrays(mnist1d_full[0]), strict=True)
    )


def _fake_make_dataset(seen):
    """Stand-in for the slow generator, reseeding the globals the way the real one does."""

    def make(args):
        seen.append(args.seed)
        np.random.seed(args.seed)
        random.seed(args.seed)
        x = np.random.standard_normal((50, 40))
        y = np.arange(50) % 10
        if args.seed == 99:
            raise RuntimeError("boom")
        return {"x": x[:40], "y": y[:40], "x_test": x[40:], "y_test": y[40:]}

    return make


def test_mnist1d_wrapper_seeds_subsamples_and_restores(monkeypatch):
    import mnist1d.data

    seen = []
    monkeypatch.setattr(mnist1d.data, "make_dataset", _fake_make_dataset(seen))
    np.random.seed(5)
    random.seed(5)
    np_state, py_state = np.random.get_state(), random.getstate()
    a = load_dataset("mnist1d", seed=3, n_train=20, n_test=5)
    b = load_dataset("mnist1d", seed=4)
    with pytest.raises(RuntimeError):
        load_dataset("mnist1d", seed=99)
    assert seen == [3, 4, 99]
    assert a.X_train.shape == (20, 40) and a.X_test.shape == (5, 40)
    assert b.X_train.shape == (40, 40) and b.X_test.shape == (10, 40)
    assert np.array_equal(a.y_train, np.arange(20) % 10)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state


@pytest.mark.parametrize("name", sorted(FAST))
def test_deterministic_by_seed_and_global_state_untouched(name):
    np.random.seed(7)
    random.seed(7)
    np_state, py_state = np.random.get_state(), random.getstate()
    a = load_dataset(name, seed=3, **FAST[name])
    b = load_dataset(name, seed=3, **FAST[name])
    c = load_dataset(name, seed=4, **FAST[name])
    assert all(np.array_equal(u, v) for u, v in zip(_arrays(a), _arrays(b), strict=True))
    assert not np.array_equal(a.X_train, c.X_train)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state


def test_circles_seed0_is_the_course_data():
    Xtr, ytr = make_circles(n_samples=300, noise=0.05, random_state=1)
    Xte, yte = make_circles(n_samples=100, noise=0.05, random_state=2)
    np.random.seed(1)  # the course's own recipe gives the same points
    assert np.array_equal(make_circles(300, noise=0.05)[0], Xtr)
    mean, std = Xtr.mean(0), Xtr.std(0)
    ds = load_dataset("circles", seed=0)
    assert np.allclose(ds.X_train, (Xtr - mean) / std)
    assert np.allclose(ds.X_test, (Xte - mean) / std)
    assert np.array_equal(ds.y_train, ytr) and np.array_equal(ds.y_test, yte)


def test_constant_train_columns_are_zeroed_in_both_splits():
    ds = load_dataset("digits", seed=0)
    const = ds.X_train.std(0) == 0
    assert const.any()  # digits has always-blank corner pixels
    assert not ds.X_train[:, const].any() and not ds.X_test[:, const].any()


def test_params_change_sizes():
    ds = load_dataset("spirals", seed=1, k=5, n_per_class=20, n_test_per_class=10)
    assert ds.X_train.shape == (100, 2) and ds.n_classes == 5 and ds.n_outputs == 5
    ds = load_dataset("teacher", seed=1, n_train=50, n_test=20, d=4, k=3)
    assert ds.X_train.shape == (50, 4) and ds.y_test.shape == (20, 3) and ds.n_outputs == 3


def test_unknown_name_suggests_and_lists_known():
    with pytest.raises(ValueError, match="did you mean 'circles'") as err:
        load_dataset("circels")
    for name in DATASETS:
        assert name in str(err.value)


@pytest.mark.parametrize(
    "name, params, bad",
    [
        ("circles", {"n_samples": 10}, "n_samples"),
        ("moons", {"noise": -1.0}, "noise"),
        ("spirals", {"k": 1}, "k"),
        ("teacher", {"teacher_depth": "3"}, "teacher_depth"),
        ("mnist1d", {"n_train": 0}, "n_train"),
    ],
)
def test_bad_params_name_the_parameter(name, params, bad):
    with pytest.raises(ValueError, match=bad):
        load_dataset(name, **params)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        load_dataset("moons", seed=-1)


def test_register_new_dataset():
    @dataset("_tiny")
    def _tiny(seed, n=4):
        X = np.arange(2.0 * n).reshape(n, 2)
        return Dataset("_tiny", "binary", X, np.arange(n) % 2, X, np.arange(n) % 2, 2)

    try:
        assert load_dataset("_tiny", n=6).X_train.shape == (6, 2)
    finally:
        del DATASETS["_tiny"]


def test_circles_raw_features_are_the_course_points():
    Xtr, ytr = make_circles(n_samples=300, noise=0.05, random_state=1)
    Xte, _ = make_circles(n_samples=100, noise=0.05, random_state=2)
    raw = load_dataset("circles", seed=0, standardize=False)
    assert np.array_equal(raw.X_train, Xtr) and np.array_equal(raw.X_test, Xte)
    assert np.array_equal(raw.y_train, ytr)
    _check_layout(raw)
    assert not np.allclose(raw.X_train.std(0), 1)  # radii 1 and 0.8: std ~0.64 per axis


@pytest.mark.parametrize("name", sorted(FAST))
def test_standardize_false_keeps_raw_features_for_every_generator(name):
    std = load_dataset(name, seed=1, **FAST[name])
    raw = load_dataset(name, seed=1, standardize=False, **FAST[name])
    _check_layout(raw)
    assert all(
        np.array_equal(u, v) for u, v in zip(_arrays(std)[1::2], _arrays(raw)[1::2], strict=True)
    )
    # standardizing the raw train split by its own statistics gives the default features back
    mean, scale = raw.X_train.mean(0), raw.X_train.std(0)
    keep = scale > 0
    np.testing.assert_allclose(
        std.X_train[:, keep], (raw.X_train - mean)[:, keep] / scale[keep], atol=1e-12
    )
    np.testing.assert_allclose(
        std.X_test[:, keep], (raw.X_test - mean)[:, keep] / scale[keep], atol=1e-12
    )


@pytest.mark.parametrize("name", ["circles", "mnist1d"])
def test_standardize_must_be_a_bool(name):
    with pytest.raises(ValueError, match=f"dataset '{name}': standardize must be true or false"):
        load_dataset(name, standardize="no")


def test_mnist_is_real_mnist_stratified_and_seeded():
    """The offline 5k subset: 400 / 100 images per digit, the same split for the same seed,
    another for another seed, and raw pixels in 0..255 underneath."""
    ds = load_dataset("mnist", seed=0)
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    again, other = load_dataset("mnist", seed=0), load_dataset("mnist", seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(_arrays(ds), _arrays(again)))
    assert not np.array_equal(ds.y_test, other.y_test)
    raw = load_dataset("mnist", seed=0, standardize=False)
    assert raw.X_train.min() == 0 and raw.X_train.max() == 255
    assert np.array_equal(raw.X_train == 0, ds.X_train == ds.X_train.min(axis=0))
    assert (raw.X_train.std(axis=0) == 0).sum() > 0  # the border pixels: zeroed, not divided
    with pytest.raises(ValueError, match="test_size"):
        load_dataset("mnist", test_size=5000)


def test_feature_rms_rescales_both_splits_by_the_train_split():
    plain = load_dataset("digits")
    scaled = load_dataset("digits", feature_rms=0.14)
    assert np.sqrt(np.mean(scaled.X_train**2)) == pytest.approx(0.14)
    factor = 0.14 / np.sqrt(np.mean(plain.X_train**2))
    np.testing.assert_allclose(scaled.X_test, plain.X_test * factor)
    np.testing.assert_array_equal(scaled.y_train, plain.y_train)
    with pytest.raises(ValueError, match="feature_rms must be a finite float > 0, got 0"):
        load_dataset("digits", feature_rms=0)


def test_mnist1d_num_samples_reaches_the_generator(monkeypatch):
    """A larger MNIST-1D comes from the same generator (its num_samples argument); a bad
    value names the key before anything is generated."""
    import mnist1d.data

    asked = []

    def make(args):
        asked.append(args.num_samples)
        n = args.num_samples
        x, y = np.random.default_rng(0).standard_normal((n, 40)), np.arange(n) % 10
        cut = int(0.8 * n)
        return {"x": x[:cut], "y": y[:cut], "x_test": x[cut:], "y_test": y[cut:]}

    monkeypatch.setattr(mnist1d.data, "make_dataset", make)
    ds = load_dataset("mnist1d", seed=1, num_samples=500, n_test=20)
    assert asked == [500]
    assert ds.X_train.shape == (400, 40) and ds.X_test.shape == (20, 40)
    with pytest.raises(ValueError, match="num_samples"):
        load_dataset("mnist1d", seed=1, num_samples=5)
    assert asked == [500]


def _mnist1d_draws_at_once(sizes):
    """MNIST-1D sets of these num_samples, drawn in threads started together."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(sizes)) as pool:
        sets = list(pool.map(lambda n: load_dataset("mnist1d", seed=0, num_samples=n), sizes))
    return [s.X_train for s in sets]


def test_mnist1d_draws_in_threads_equal_draws_alone(monkeypatch):
    """Snakemake runs dataset jobs as threads of one process: two MNIST-1D draws at once
    equal each drawn alone (the generator reseeds numpy's and Python's global state, so
    without datasets._GLOBAL_RANDOM they interleave; checked below with it disabled)."""
    import contextlib

    import initbench.datasets

    sizes = [1200, 1600]
    alone = [load_dataset("mnist1d", seed=0, num_samples=n).X_train for n in sizes]
    together = _mnist1d_draws_at_once(sizes)
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))
    monkeypatch.setattr(initbench.datasets, "_GLOBAL_RANDOM", contextlib.nullcontext())
    unlocked = _mnist1d_draws_at_once(sizes)
    if all(np.array_equal(a, b) for a, b in zip(alone, unlocked)):
        pytest.skip("the unlocked draws did not overlap this time: the lock went untested")


RACE = """
import threading
from initbench.datasets import load_dataset
errors = []
def job(name):
    try:
        load_dataset(name, 0)
    except Exception as error:
        errors.append(repr(error))
threads = [threading.Thread(target=job, args=(n,)) for n in ("circles", "digits", "moons", "mnist")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
"""


def test_datasets_made_by_threads_at_once_in_a_fresh_process():
    """The pipeline makes its datasets in threads of one process. Two threads importing
    scikit-learn at once used to find it half-initialised (in about a third of fresh
    processes); imports.imported makes such imports one at a time, and the datasets no
    longer import scikit-learn (samplers.py). Three fresh processes."""
    for _ in range(3):
        assert _printed_in_a_fresh_process(RACE) == "[]"


def test_imported_lets_one_thread_import_at_a_time(tmp_path, monkeypatch):
    """A module whose import takes a while, imported by four threads: never two at once."""
    import sys
    import threading

    from initbench.imports import imported

    slow = (
        "import time, builtins\n"
        "builtins._slow_inside = getattr(builtins, '_slow_inside', 0) + 1\n"
        "builtins._slow_most = max(getattr(builtins, '_slow_most', 0), builtins._slow_inside)\n"
        "time.sleep(0.2)\n"
        "builtins._slow_inside -= 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    names = [f"slow_module_for_the_test_{i}" for i in range(4)]
    for name in names:  # four modules, so that Python's per-module lock cannot serialise them
        (tmp_path / f"{name}.py").write_text(slow)
    import builtins

    threads = [threading.Thread(target=imported, args=(name,)) for name in names]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert builtins._slow_most == 1
        assert all(name in sys.modules for name in names)
    finally:
        for name in names:
            sys.modules.pop(name, None)
        for attribute in ("_slow_inside", "_slow_most"):
            if hasattr(builtins, attribute):
                delattr(builtins, attribute)


@pytest.mark.parametrize("seed", [0, 1, 5])
@pytest.mark.parametrize("n", [300, 7, 1])
def test_the_two_class_samplers_are_scikit_learns(seed, n):
    """samplers.py draws what scikit-learn draws, bit for bit: the datasets no longer
    import it (1.6-2.2 s a pipeline run), and must not change."""
    from sklearn.datasets import make_moons

    from initbench import samplers

    for ours, theirs in ((samplers.make_circles, make_circles), (samplers.make_moons, make_moons)):
        for noise in (0.05, 0.0):
            mine, reference = ours(n, noise, seed), theirs(n_samples=n, noise=noise,
                                                             random_state=seed)  # fmt: skip
            for a, b in zip(mine, reference, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 3])
def test_the_digits_and_their_stratified_split_are_scikit_learns(seed):
    """The digits from scikit-learn's file, and a stratified split with the ties in its
    class shares broken as train_test_split breaks them (the digits' classes are of
    unequal size: every test size here has ties), bit for bit."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from initbench import samplers

    X, y = samplers.load_digits()
    X_ref, y_ref = load_digits(return_X_y=True)
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref) and y.dtype == y_ref.dtype
    for test_size in (360, 11, 1000):
        mine = samplers.stratified_split(X, y, test_size, seed)
        reference = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
        for a, b in zip(mine, reference, strict=True):
            assert np.array_equal(a, b)


NO_SKLEARN = """
import sys
from initbench.datasets import load_dataset
for name in ("circles", "moons", "digits", "mnist"):
    load_dataset(name, seed=0)
print(sorted(m for m in sys.modules if m.split(".")[0] == "sklearn"))
"""


def test_making_the_datasets_imports_no_scikit_learn():
    assert _printed_in_a_fresh_process(NO_SKLEARN) == "[]"


def _printed_in_a_fresh_process(code):
    """What ``code`` prints, run by a fresh interpreter (which must succeed)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()
