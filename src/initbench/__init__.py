"""initbench: how weight initialization, activation and depth decide whether an MLP trains.

The Python API used by the pipeline, notebooks and tests::

    import initbench as ib
    W, b = ib.init_params("he_normal", [64, 128, 10], activation="relu", seed=0)
    res = ib.train(W, b, X, y, activation="relu", loss="softmax_ce", lr=0.1,
                   batch_size=32, steps=1000)
"""

from importlib.metadata import PackageNotFoundError, version

from .cell import Cell
from .datasets import DATASETS, Dataset, dataset, load_dataset
from .engine.activations import ACTIVATIONS, activation, get_activation
from .engine.losses import LOSSES
from .engine.many import train_many
from .engine.training import TrainResult, log_schedule, loss_and_grads, train
from .inits import INITS, init_params, layer_init, network_init
from .settings import TrainSettings
from .trainer import train_cell

try:
    __version__ = version("initbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ACTIVATIONS", "DATASETS", "INITS", "LOSSES", "Cell", "Dataset", "TrainResult", "TrainSettings",
    "activation", "dataset", "get_activation", "init_params", "layer_init", "load_dataset",
    "log_schedule", "loss_and_grads", "network_init", "train", "train_cell", "train_many",
]  # fmt: skip
