"""Which devices can train: ``cuda_unavailable_reason`` says why a CUDA GPU cannot, if not.

Imports nothing from numba.cuda until asked, so that the CPU path never loads it.
"""

import os

DEVICES = ("cpu", "cuda")


def cuda_unavailable_reason():
    """None when a CUDA GPU can train (or Numba's simulator is on), else one line saying why not.

    The pipeline calls this before any job when a study asks for ``device: cuda``.
    """
    try:
        from numba import cuda
    except ImportError as error:
        return f"numba.cuda cannot be imported ({error}); install initbench[cuda]"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        if not cuda.is_available():
            cuda.current_context()  # raises with the driver's own reason
            return "numba.cuda reports no usable CUDA GPU"
        cc = cuda.get_current_device().compute_capability
    except Exception as error:  # CudaSupportError and driver errors, whose types vary by version
        return "no usable CUDA GPU: " + " ".join(str(error).split())
    if cc < (5, 0):
        return f"the CUDA GPU's compute capability {cc} is below 5.0, the least numba-cuda supports"
    return None
