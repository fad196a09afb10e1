"""Layers reject inputs of the wrong rank or feature size with a ValueError naming the layer and
what it expected, and leave their state (running statistics, counters) untouched."""
from __future__ import annotations

import numpy as np
import pytest

from fastnn import Tensor, nn


def _x(*shape):
    return Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


CASES = [
    ("linear features", lambda: nn.Linear(3, 2), (4, 5), r"linear: x has 5 features .* \(2, 3\)"),
    ("conv1d rank", lambda: nn.Conv1d(3, 4, 3), (3, 8, 1, 1), r"Conv1d: expected 3D input"),
    ("conv1d channels", lambda: nn.Conv1d(3, 4, 3), (2, 5, 8), r"Conv1d: expected 3 input channels .* got 5"),
    ("conv2d rank", lambda: nn.Conv2d(3, 4, 3), (3, 8), r"Conv2d: expected 4D input .* got 2D"),
    ("conv2d channels", lambda: nn.Conv2d(3, 4, 3), (1, 2, 8, 8), r"Conv2d: expected 3 input channels .* got 2"),
    ("conv_transpose2d channels", lambda: nn.ConvTranspose2d(3, 4, 2), (1, 4, 5, 5),
     r"ConvTranspose2d: expected 3 input channels"),
    ("lstm features", lambda: nn.LSTM(3, 4, batch_first=True), (2, 5, 7), r"LSTM: input.size\(-1\) must be 3, got 7"),
    ("gru rank", lambda: nn.GRU(3, 4), (2, 5, 3, 1), r"GRU: expected 2D \(unbatched\) or 3D input, got 4D"),
    ("layer_norm shape", lambda: nn.LayerNorm(5), (2, 4), r"normalized_shape \(5,\) must equal the trailing"),
    ("batch_norm2d rank", lambda: nn.BatchNorm2d(3), (2, 3), r"BatchNorm2d: expected 4D input, got 2D"),
    ("batch_norm1d channels", lambda: nn.BatchNorm1d(3), (8, 4), r"BatchNorm1d: expected 3 channels .* got 4"),
    ("max_pool2d rank", lambda: nn.MaxPool2d(2), (4, 4), r"max_pool2d: x must have 3 or 4 dimensions"),
    ("encoder d_model", lambda: nn.TransformerEncoderLayer(8, 2, batch_first=True), (2, 3, 6),
     r"MultiheadAttention: query embed dim 6 != embed_dim 8"),
]


@pytest.mark.parametrize("name,make,shape,message", CASES, ids=[c[0] for c in CASES])
def test_layer_rejects_bad_input_shape(name, make, shape, message):
    layer = make()
    with pytest.raises(ValueError, match=message):
        layer(_x(*shape))


def test_embedding_rejects_float_and_out_of_range_indices():
    emb = nn.Embedding(5, 3)
    with pytest.raises(TypeError, match="embedding: input must hold integer indices, got float32"):
        emb(_x(2, 3))
    with pytest.raises(ValueError, match=r"indices\[1\] = 7 is out of range for 5 embeddings"):
        emb(Tensor(np.array([0, 7])))


@pytest.mark.parametrize("shape", [(8, 4), (8,)])
def test_batch_norm_bad_input_leaves_running_stats_alone(shape):
    bn = nn.BatchNorm1d(3)
    bn(_x(8, 3))
    before = {k: np.array(v) for k, v in bn.state_dict().items()}
    with pytest.raises(ValueError):
        bn(_x(*shape))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), before[k], err_msg=k)
