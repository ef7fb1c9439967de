"""scikit-learn's samplers that the datasets use, in NumPy: ``make_circles``, ``make_moons``,
``load_digits`` and a stratified ``train_test_split``.

Each draws the same numbers from the same ``RandomState`` in the same order as scikit-learn
(1.9.1 when written; tests/test_datasets.py compares them with the installed one), so a
dataset is the one scikit-learn makes, bit for bit, and stays so whatever version is
installed, without importing scikit-learn: that import took 1.6-2.2 s of every pipeline
run, paid by its first dataset job in Snakemake's process. The digits are read from
scikit-learn's own file, found without importing the package.
"""

import gzip
import importlib.util
from pathlib import Path

import numpy as np


def make_circles(n_samples, noise, random_state, factor=0.8):
    """A large circle holding a smaller one (radius ``factor``), shuffled, plus Gaussian
    noise: sklearn.datasets.make_circles."""
    n_out = n_samples // 2
    outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_samples - n_out, endpoint=False)
    X = np.vstack([np.append(np.cos(outer), np.cos(inner) * factor),
                   np.append(np.sin(outer), np.sin(inner) * factor)]).T  # fmt: skip
    return _shuffled_with_noise(X, n_out, noise, random_state)


def make_moons(n_samples, noise, random_state):
    """Two interleaved half circles, shuffled, plus Gaussian noise:
    sklearn.datasets.make_moons."""
    n_out = n_samples // 2
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_samples - n_out)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T  # fmt: skip
    return _shuffled_with_noise(X, n_out, noise, random_state)


def _shuffled_with_noise(X, n_out, noise, random_state):
    """The rows of X (class 0 first, n_out rows of it) shuffled, then noise added, both
    drawn from RandomState(random_state), as sklearn.utils.shuffle and the generators."""
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(len(X) - n_out, dtype=np.intp)])
    rng = np.random.RandomState(random_state)
    order = np.arange(len(X))
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


def load_digits():
    """(X, y): the 1,797 8x8 digits as 64 pixel columns and their labels, read from the
    file scikit-learn ships (sklearn.datasets.load_digits(return_X_y=True))."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("dataset 'digits' reads the file scikit-learn ships: "
                         "pip install scikit-learn")  # fmt: skip
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int, copy=False)


def stratified_split(X, y, test_size, random_state):
    """(X_train, X_test, y_train, y_test): ``test_size`` rows held out with each class in
    proportion, as sklearn.model_selection.train_test_split(..., stratify=y) draws them
    (StratifiedShuffleSplit's first split)."""
    n_test = int(test_size)
    _, labels, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(labels, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(random_state)
    n_train_of = _class_shares(counts, len(y) - n_test, rng)
    n_test_of = _class_shares(counts - n_train_of, n_test, rng)
    train, test = [], []
    for rows, count, k_train, k_test in zip(by_class, counts, n_train_of, n_test_of):
        shuffled = rows[rng.permutation(count)]
        train.append(shuffled[:k_train])
        test.append(shuffled[k_train : k_train + k_test])
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    return X[train], X[test], y[train], y[test]


def _class_shares(counts, n_draws, rng):
    """How many of ``n_draws`` rows each class gets: its exact share rounded down, then one
    more for the largest fractional parts until all are drawn, classes whose fractions tie
    picked at random (what scikit-learn's stratified splits do)."""
    exact = counts / counts.sum() * n_draws
    shares = np.floor(exact)
    left = int(n_draws - shares.sum())
    fractions = exact - shares
    for fraction in np.unique(fractions)[::-1]:
        if left <= 0:
            break
        (tied,) = np.nonzero(fractions == fraction)
        take = min(len(tied), left)
        shares[rng.choice(tied, size=take, replace=False)] += 1
        left -= take
    return shares.astype(int)
