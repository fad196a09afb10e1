"""Pure-NumPy oracles with float64 accumulation: the ground truth every fastnn kernel is
tested against. One submodule per family, used by name (``fastnn.reference.conv.conv2d``):
flat re-exports would let a function shadow its own submodule (``softmax``, ``linear``...).
"""
from . import (  # noqa: F401
    activation,
    attention,
    conv,
    dropout,
    embedding,
    gemm,
    linear,
    loss,
    norm,
    optimizer,
    pool,
    reduce,
    rnn,
    softmax,
)
