"""initbench: how weight initialization, activation and depth decide whether an MLP trains.

The Python API used by the pipeline, notebooks and tests::

    import initbench as ib
    W, b = ib.init_params("he_normal", [64, 128, 10], activation="relu", seed=0)
    res = ib.train(W, b, X, y, activation="relu", loss="softmax_ce", lr=0.1,
                   batch_size=32, steps=1000)
    r = ib.load_results("results")  # a study's tables and verdicts as pandas frames
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

# The public API, imported on first use (PEP 562): ``import initbench.outcomes`` (the
# findings, the report) then loads no kernels, while ``ib.train`` works as always.
_API = {
    "Cell": "cell", "DATASETS": "datasets", "Dataset": "datasets", "dataset": "datasets",
    "load_dataset": "datasets", "ACTIVATIONS": "engine.activations",
    "activation": "engine.activations", "get_activation": "engine.activations",
    "LOSSES": "engine.losses", "train_many": "engine.many", "TrainResult": "engine.training",
    "log_schedule": "engine.training", "loss_and_grads": "engine.training",
    "train": "engine.training", "INITS": "inits", "init_params": "inits",
    "layer_init": "inits", "network_init": "inits", "load_results": "results",
    "TrainSettings": "settings", "train_cell": "trainer",
}  # fmt: skip


def __getattr__(name):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_API})


try:
    __version__ = version("initbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ACTIVATIONS", "DATASETS", "INITS", "LOSSES", "Cell", "Dataset", "TrainResult", "TrainSettings",
    "activation", "dataset", "get_activation", "init_params", "layer_init", "load_dataset",
    "load_results", "log_schedule", "loss_and_grads", "network_init", "train", "train_cell",
    "train_many",
]  # fmt: skip
