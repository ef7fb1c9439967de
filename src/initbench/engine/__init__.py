"""The training engine: the Numba kernels and their Python entry points, CPU and CUDA.

Every module here, and every constant the kernels read from ``settings`` (``hyper.BAKED``),
is part of the kernels' cache key (``jit.KernelCache``). Nothing here
imports from the rest of the package but ``settings`` and ``text``; see
docs/architecture.md for the modules and their GPU twins.
"""
