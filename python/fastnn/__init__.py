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
from .ops.linear import linear, linear_backward  # noqa: F401
from .ops.norm import (  # noqa: F401
    batch_norm, batch_norm_backward, layer_norm, layer_norm_backward, rms_norm, rms_norm_backward,
)
from .ops.reduce import max, max_backward, mean, mean_backward, sum, sum_backward  # noqa: F401,A004
from .ops.elementwise import (  # noqa: F401
    add, add_backward, bias_add, bias_add_backward, mul, mul_backward,
)
from .ops.optim import adam_step_, adamw_step_, sgd_step_  # noqa: F401
from .ops.activation import (  # noqa: F401
    gelu, gelu_backward, leaky_relu, leaky_relu_backward, relu, relu_backward, sigmoid, sigmoid_backward, silu,
    silu_backward, softplus, softplus_backward, tanh, tanh_backward,
)
from .ops.softmax import log_softmax, log_softmax_backward, softmax, softmax_backward  # noqa: F401
from .ops.loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_backward, binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward, cross_entropy, cross_entropy_backward, mse_loss, mse_loss_backward,
)
from .ops.dropout import dropout, dropout_backward, dropout_mask  # noqa: F401
from .ops.embedding import embedding, embedding_backward  # noqa: F401
from .ops.conv import (  # noqa: F401
    conv1d, conv1d_backward, conv2d, conv2d_backward, conv_transpose1d, conv_transpose1d_backward,
    conv_transpose2d, conv_transpose2d_backward,
)
from .ops.pool import (  # noqa: F401
    adaptive_avg_pool2d, adaptive_avg_pool2d_backward, avg_pool2d, avg_pool2d_backward, max_pool2d,
    max_pool2d_backward,
)
from .ops.attention import attention, attention_backward  # noqa: F401

__version__ = _C.build_info()["version"]

# ---- autograd / nn / optim (the Python layer over the kernels) ----
from .autograd import enable_grad, is_grad_enabled, manual_seed, no_grad, set_grad_enabled  # noqa: F401,E402
from .tensor import Tensor, cat, ones, stack, zeros  # noqa: F401,E402
from . import autograd, nn, optim  # noqa: F401,E402

# ---- Keras-style training, model zoo, offline data ----
from . import datasets, keras, models  # noqa: F401,E402
from .keras import Input, Model, Sequential, load_model  # noqa: F401,E402
