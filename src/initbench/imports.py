"""Packages imported on first use, by one thread at a time.

Some jobs need a heavy package that most processes never do (mnist1d for its datasets,
SciPy for the theory and the intervals), so it is imported where it is used.
But the pipeline runs its jobs as threads of Snakemake's process, and two threads importing
scikit-learn for the first time can each find the other's half-initialised module
("cannot import name 'clone' from partially initialized module 'sklearn.base'": a dataset
job failed so in a default-tier run). Every such import goes through ``imported``, under
one lock.
"""

import importlib
import threading

_LOCK = threading.RLock()


def imported(name):
    """The module ``name``, imported under the lock (a dictionary lookup once loaded)."""
    with _LOCK:
        return importlib.import_module(name)
