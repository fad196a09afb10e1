"""Module system: registration, PyTorch names and order, state_dict round trips with PyTorch,
train/eval, dtype moves, containers, initialisation that matches PyTorch's defaults."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import nn

from nn_parity import torch  # noqa: E402

tnn = torch.nn


class Net(nn.Module):
    def __init__(self, mod):
        super().__init__()
        self.conv = mod.Conv2d(2, 4, 3)
        self.bn = mod.BatchNorm2d(4)
        self.blocks = mod.ModuleList([mod.Linear(4, 4), mod.Sequential(mod.Linear(4, 3), mod.ReLU())])
        self.heads = mod.ModuleDict({"a": mod.Linear(3, 2), "b": mod.LayerNorm(3)})
        self.rnn = mod.GRU(3, 5, bidirectional=True)
        self.attn = mod.MultiheadAttention(6, 2, kdim=4, vdim=4)


class TorchNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(2, 4, 3)
        self.bn = tnn.BatchNorm2d(4)
        self.blocks = tnn.ModuleList([tnn.Linear(4, 4), tnn.Sequential(tnn.Linear(4, 3), tnn.ReLU())])
        self.heads = tnn.ModuleDict({"a": tnn.Linear(3, 2), "b": tnn.LayerNorm(3)})
        self.rnn = tnn.GRU(3, 5, bidirectional=True)
        self.attn = tnn.MultiheadAttention(6, 2, kdim=4, vdim=4)


def test_state_dict_names_order_shapes_match_torch():
    f, t = Net(nn), TorchNet()
    fsd, tsd = f.state_dict(), t.state_dict()
    assert list(fsd) == list(tsd)
    for k in tsd:
        assert tuple(fsd[k].shape) == tuple(tsd[k].shape), k
        assert str(fsd[k].dtype) == str(tsd[k].dtype).replace("torch.", ""), k
    assert [n for n, _ in f.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in f.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in f.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in f.named_children()] == [n for n, _ in t.named_children()]


def test_state_dict_round_trip_through_torch():
    torch.manual_seed(0)
    f, t = Net(nn), TorchNet()
    t.bn.running_mean.uniform_(), t.bn.num_batches_tracked.fill_(7)
    f.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})      # torch -> fastnn
    t2 = TorchNet()
    t2.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in f.state_dict().items()})  # fastnn -> torch
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(t2.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert int(f.bn.num_batches_tracked.data) == 7 and f.bn.num_batches_tracked.dtype == np.int64
    # torch tensors are accepted directly too
    f2 = Net(nn)
    f2.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(f2.conv.weight.data, t.conv.weight.detach().numpy())


def test_load_state_dict_errors_and_non_strict():
    f = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"'):
        f.load_state_dict({"weight": np.zeros((2, 3), np.float32)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        f.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2), "extra": np.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape \(3, 3\)"):
        f.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(2)})
    w = f.weight
    res = f.load_state_dict({"weight": np.ones((2, 3))}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == []
    assert f.weight is w and f.weight.dtype == np.float32 and np.all(w.data == 1)  # copied in place, cast


def test_registration_train_eval_zero_grad_and_repr():
    m = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    assert len(m) == 3 and isinstance(m[0], nn.Linear) and len(list(m.parameters())) == 4
    assert all(mod.training for mod in m.modules())
    m.eval()
    assert not any(mod.training for mod in m.modules())
    m.train()
    out = m(fastnn.Tensor(np.ones((2, 3), np.float32))).sum()
    out.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert "Linear(in_features=3, out_features=4, bias=True)" in repr(m)
    # attribute assignment rules
    m.extra = nn.Linear(1, 1)
    assert "extra" in dict(m.named_children())
    with pytest.raises(TypeError, match="cannot assign"):
        m[0].weight = np.zeros((4, 3))
    shared = nn.Linear(2, 2)
    tied = nn.Sequential(shared, shared)
    assert len(list(tied.parameters())) == 2  # shared parameters are listed once


def test_double_and_float_convert_in_place():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(m.parameters())
    m.double()
    assert all(p.dtype == np.float64 for p in m.parameters()) and list(m.parameters())[0] is params[0]
    assert m[1].num_batches_tracked.dtype == np.int64  # integer buffers stay integer
    y = m(fastnn.Tensor(np.ones((4, 3))))
    assert y.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())


def test_deepcopy_and_requires_grad_():
    import copy

    m = nn.Linear(3, 2)
    c = copy.deepcopy(m)
    assert c.weight is not m.weight and np.array_equal(c.weight.data, m.weight.data)
    c.weight.data[...] = 0
    assert not np.all(m.weight.data == 0)
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


# ---- initialisation ---------------------------------------------------------------------------

def _uniform_bound_ok(a, bound):
    a = np.asarray(a, np.float64)
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    if a.size >= 2000:  # the samples fill the range and have the uniform's spread
        assert np.abs(a).max() > 0.95 * bound
        assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound


INIT_CASES = [
    ("linear", lambda: nn.Linear(300, 200), {"weight": 1 / math.sqrt(300), "bias": 1 / math.sqrt(300)}),
    ("conv2d", lambda: nn.Conv2d(6, 64, 5, groups=2), {"weight": 1 / math.sqrt(3 * 25), "bias": 1 / math.sqrt(75)}),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(64, 12, 3, groups=2),
     {"weight": 1 / math.sqrt(6 * 9), "bias": 1 / math.sqrt(54)}),
    ("conv1d", lambda: nn.Conv1d(8, 300, 7), {"weight": 1 / math.sqrt(56), "bias": 1 / math.sqrt(56)}),
    ("lstm", lambda: nn.LSTM(10, 64), {k: 1 / 8 for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                          "bias_hh_l0")}),
    ("mha", lambda: nn.MultiheadAttention(64, 4),
     {"in_proj_weight": math.sqrt(6 / (64 + 192)), "out_proj.weight": 1 / 8}),
]


@pytest.mark.parametrize("name,make,bounds", INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_default_init_matches_torch_distribution(name, make, bounds):
    fastnn.manual_seed(0)
    params = dict(make().named_parameters())
    for k, bound in bounds.items():
        _uniform_bound_ok(params[k].data, bound)


def test_other_default_inits():
    fastnn.manual_seed(0)
    e = nn.Embedding(500, 20, padding_idx=3)
    w = e.weight.data
    assert abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05 and np.all(w[3] == 0)
    mha = nn.MultiheadAttention(8, 2)
    assert np.all(mha.in_proj_bias.data == 0) and np.all(mha.out_proj.bias.data == 0)
    bn = nn.BatchNorm2d(5)
    assert np.all(bn.weight.data == 1) and np.all(bn.bias.data == 0) and np.all(bn.running_var.data == 1)
    ln = nn.LayerNorm(4)
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)
    t = nn.Transformer(16, 2, 1, 1, 32)
    w = t.encoder.layers[0].linear1.weight.data  # xavier_uniform on every matrix
    _uniform_bound_ok(w, math.sqrt(6 / (16 + 32)))


def test_manual_seed_reproducible():
    fastnn.manual_seed(123)
    a = nn.Linear(5, 5).weight.data.copy()
    b = nn.Linear(5, 5).weight.data.copy()
    fastnn.manual_seed(123)
    np.testing.assert_array_equal(nn.Linear(5, 5).weight.data, a)
    assert not np.array_equal(a, b)
    with pytest.raises(TypeError, match="seed must be an int"):
        fastnn.manual_seed(1.5)


def test_init_functions_match_torch_formulas():
    t = fastnn.Tensor(np.zeros((40, 30, 3), np.float32))
    assert nn.init._calculate_fan_in_and_fan_out(t) == (90, 120)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5)))
    for name in ("relu", "tanh", "linear", "sigmoid"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    fastnn.manual_seed(0)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.data.std() - math.sqrt(2 / 120)) < 0.01
    nn.init.orthogonal_(q := fastnn.Tensor(np.zeros((6, 10))))
    np.testing.assert_allclose(q.data @ q.data.T, np.eye(6), atol=1e-12)


def test_model_on_cuda_matches_cpu(cupy):
    """The same code on CuPy arrays: forward, backward and an optimizer step agree with the CPU."""
    fastnn.manual_seed(0)
    cpu = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 5))
    gpu = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 5))
    gpu.load_state_dict(cpu.state_dict())
    gpu.cuda()
    assert all(p.device == "cuda" for p in gpu.parameters())
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    y = np.array([0, 3, 4])
    losses = []
    for m, xx in ((cpu, fastnn.Tensor(x)), (gpu, fastnn.Tensor(cupy.asarray(x)))):
        opt = fastnn.optim.Adam(m.parameters(), lr=0.01)
        loss = nn.functional.cross_entropy(m(xx), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    for k, v in cpu.state_dict().items():
        np.testing.assert_allclose(cupy.asnumpy(gpu.state_dict()[k]), v, rtol=1e-4, atol=1e-5, err_msg=k)
    seq = nn.LSTM(3, 4).cuda()
    out, (h, c) = seq(fastnn.Tensor(cupy.ones((5, 2, 3), dtype=cupy.float32)))
    out.sum().backward()
    assert h.device == "cuda" and seq.weight_ih_l0.grad.device == "cuda"
