"""fastnn: hand-written CPU (AVX-512/AVX2) and CUDA kernels for deep learning.

Functions take NumPy arrays (CPU) or CuPy arrays (CUDA) and return arrays on the same device.
"""
from __future__ import annotations

from ._ext import _C  # noqa: F401  (loads the extension; a bad FASTNN_ISA fails here)
from .backend import (  # noqa: F401
    available_isas,
    cuda_available,
    cuda_unavailable_reason,
    get_isa,
    get_num_threads,
    set_isa,
    set_num_threads,
    use_isa,
)
from .ops.gemm import matmul  # noqa: F401

__version__ = _C.build_info()["version"]

# ---- autograd / nn / optim (the Python layer over the kernels) ----
from .autograd import enable_grad, is_grad_enabled, manual_seed, no_grad, set_grad_enabled  # noqa: F401,E402
from .tensor import Tensor, cat, ones, stack, zeros  # noqa: F401,E402
from . import autograd, nn, optim  # noqa: F401,E402

# ---- Keras-style training, model zoo, offline data ----
from . import datasets, keras, models  # noqa: F401,E402
from .keras import Input, Model, Sequential, load_model  # noqa: F401,E402
