"""fastnn.Tensor: construction, dtype rules, operators, shape ops, device/dtype moves, in-place rules."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import fastnn
from fastnn import Tensor


def test_construction_and_dtypes():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor(a)
    assert t.data is a and t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float32 and t.device == "cpu"
    assert Tensor([1.0, 2.0]).dtype == np.float32           # Python floats -> float32, like torch
    assert Tensor(3.5).shape == () and Tensor(3.5).item() == 3.5
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    assert t.is_leaf and not t.requires_grad and t.grad is None
    assert t.size() == (2, 3) and t.size(1) == 3 and t.numel() == 6 and len(t) == 2
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="fastnn.Tensor: expected a NumPy or CuPy array"):
        Tensor(object())
    assert "requires_grad=True" in repr(Tensor(a, requires_grad=True))
    z, o = fastnn.zeros(2, 3), fastnn.ones((4,), dtype=np.float64)
    assert z.shape == (2, 3) and z.dtype == np.float32 and np.all(o.data == 1) and o.dtype == np.float64
    assert fastnn.Tensor(torch_like := np.ones(3, np.float32)).data is torch_like


def test_operators_with_numbers_and_arrays():
    a = Tensor(np.array([1.0, 2.0, 4.0], np.float32))
    np.testing.assert_array_equal((a + 1).data, [2, 3, 5])
    np.testing.assert_array_equal((1 + a).data, [2, 3, 5])
    np.testing.assert_array_equal((a - 1).data, [0, 1, 3])
    np.testing.assert_array_equal((1 - a).data, [0, -1, -3])
    np.testing.assert_array_equal((a * 2).data, [2, 4, 8])
    np.testing.assert_array_equal((a / 2).data, [0.5, 1, 2])
    np.testing.assert_allclose((2 / a).data, [2, 1, 0.5])
    np.testing.assert_array_equal((-a).data, [-1, -2, -4])
    np.testing.assert_array_equal((a ** 2).data, [1, 4, 16])
    np.testing.assert_array_equal((np.float32(2) * a).data, [2, 4, 8])
    r = np.ones(3, np.float32) + a      # NumPy defers to Tensor
    assert isinstance(r, Tensor) and r.dtype == np.float32
    assert (a + np.ones(3)).dtype == np.float32  # arrays are cast to the tensor's dtype
    with pytest.raises(TypeError, match="dtype mismatch"):
        a + Tensor(np.ones(3))
    assert (a > 1.5).dtype == np.bool_ and (a > 1.5).tolist() == [False, True, True]
    assert a.eq(2.0).tolist() == [False, True, False]
    assert {a: 1}[a] == 1  # hashable by identity: optimizer state is keyed by tensors


def test_shape_ops():
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.T.shape == (4, 3, 2) and x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x[:, :1].squeeze(1).shape == (2, 4) and x.squeeze().shape == (2, 3, 4)
    assert x[0, 1:, ::2].shape == (2, 2) and x[..., -1].shape == (2, 3)
    assert x[np.array([1, 0, 1])].shape == (3, 3, 4)
    assert Tensor(np.ones((3, 1), np.float32)).expand(2, 3, 4).shape == (2, 3, 4)
    parts = x.split(2, dim=2)
    assert [p.shape for p in parts] == [(2, 3, 2), (2, 3, 2)]
    assert [p.shape for p in x.chunk(2, 1)] == [(2, 2, 4), (2, 1, 4)]
    assert fastnn.cat([x, x], 1).shape == (2, 6, 4) and fastnn.stack([x, x], -1).shape == (2, 3, 4, 2)
    assert x.sum().item() == 276 and x.sum(1).shape == (2, 4) and x.mean((0, 2), keepdim=True).shape == (1, 3, 1)
    vals, idx = x.max(1)
    np.testing.assert_array_equal(idx.data, 2) and np.testing.assert_array_equal(vals.data, x.data[:, 2])
    assert x.max().item() == 23 and x.argmax(-1).shape == (2, 3)
    assert Tensor(np.array([1, 2, 3])).sum().item() == 6  # integer sums work (no gradient)
    y = x.masked_fill(x.data > 10, 0.0)
    assert y.data.max() == 10


def test_detach_clone_contiguous_and_to():
    a = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = a * 2
    d = b.detach()
    assert d.is_leaf and not d.requires_grad and d.data is b.data
    c = b.clone()
    assert c.data is not b.data and c.requires_grad
    tt = b.T.contiguous()
    assert tt.data.flags.c_contiguous
    h = a.double()
    assert h.dtype == np.float64 and h.requires_grad
    h.sum().backward()
    assert a.grad.dtype == np.float32 and np.all(a.grad.data == 1)
    assert a.to("cpu") is a and a.cpu() is a
    with pytest.raises(ValueError, match="device must be"):
        a.to("tpu")
    e = copy.deepcopy(a)
    assert e.data is not a.data and e.requires_grad
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        copy.deepcopy(b)


def test_inplace_rules():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be modified in place"):
        a.zero_()
    with fastnn.no_grad():
        a.fill_(2.0)
        a.copy_(np.array([1, 2, 3]))
    np.testing.assert_array_equal(a.data, [1, 2, 3])
    b = a * 1
    with pytest.raises(RuntimeError, match="only be changed on leaf"):
        b.requires_grad_(False)
    with pytest.raises(TypeError, match="numpy\\(\\)|cuda"):
        Tensor._wrap(_FakeCuda()).numpy()


class _FakeCuda:
    """Stands in for a CuPy array in a device-only check."""
    __cuda_array_interface__ = {}
    dtype = np.dtype(np.float32)
    shape = (1,)
    ndim = 1


def test_cuda_tensor(cupy):
    a = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    g = a.cuda()
    assert g.device == "cuda"
    np.testing.assert_array_equal(g.cpu().data, a.data)
