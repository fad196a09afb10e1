"""Reverse-mode automatic differentiation over fastnn kernels.

``Function`` (forward/backward on arrays) builds a graph of ``Node``s as Tensors flow through
it; ``backward`` walks it in topological order. All math goes through ``autograd.kernels``.
"""
from .function import Context, Function, Node  # noqa: F401
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .random import manual_seed  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=False):
    from ..tensor import backward as _backward

    _backward(tensors, grad_tensors, retain_graph)
