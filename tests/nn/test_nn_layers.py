"""Feed-forward layers: outputs and every gradient equal PyTorch's (same weights, same inputs,
float32), and float64 central differences agree with the gradients (the oracle route)."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn

from nn_parity import fd_check, parity, torch  # noqa: E402  (skips the module without torch)

tnn = torch.nn


def R(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# (name, fastnn factory, torch factory, input shapes)
CASES = [
    ("linear", lambda: nn.Linear(7, 5), lambda: tnn.Linear(7, 5), [(3, 7)]),
    ("linear_3d_nobias", lambda: nn.Linear(7, 5, bias=False), lambda: tnn.Linear(7, 5, bias=False), [(2, 3, 7)]),
    ("dense_alias", lambda: nn.Dense(4, 9), lambda: tnn.Linear(4, 9), [(5, 4)]),
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda: tnn.Conv1d(3, 4, 3, stride=2, padding=1),
     [(2, 3, 11)]),
    ("conv1d_same_dil_groups", lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2),
     lambda: tnn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2), [(2, 4, 9)]),
    ("conv2d", lambda: nn.Conv2d(3, 5, 3, padding=1), lambda: tnn.Conv2d(3, 5, 3, padding=1), [(2, 3, 7, 6)]),
    ("conv2d_strided_rect", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2,
                                              bias=False),
     lambda: tnn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
     [(2, 4, 9, 7)]),
    ("conv2d_valid", lambda: nn.Conv2d(2, 3, 2, padding="valid"), lambda: tnn.Conv2d(2, 3, 2, padding="valid"),
     [(1, 2, 5, 5)]),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
     lambda: tnn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), [(2, 3, 4, 5)]),
    ("conv_transpose2d_groups_dil", lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), groups=2, dilation=2),
     lambda: tnn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), groups=2, dilation=2), [(1, 4, 3, 4)]),
    ("maxpool", lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), [(2, 3, 6, 7)]),
    ("maxpool_pad_ceil_dil", lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
     lambda: tnn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True), [(2, 2, 7, 8)]),
    ("maxpool_dilated", lambda: nn.MaxPool2d(2, stride=1, dilation=2), lambda: tnn.MaxPool2d(2, stride=1, dilation=2),
     [(1, 2, 6, 5)]),
    ("avgpool", lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), [(2, 3, 6, 7)]),
    ("avgpool_pad_excl_ceil", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda: tnn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), [(2, 2, 7, 8)]),
    ("avgpool_divisor", lambda: nn.AvgPool2d(2, 1, divisor_override=3), lambda: tnn.AvgPool2d(2, 1, divisor_override=3),
     [(1, 2, 4, 5)]),
    ("adaptive_avgpool", lambda: nn.AdaptiveAvgPool2d((3, 4)), lambda: tnn.AdaptiveAvgPool2d((3, 4)), [(2, 3, 7, 9)]),
    ("adaptive_avgpool_1", lambda: nn.AdaptiveAvgPool2d(1), lambda: tnn.AdaptiveAvgPool2d(1), [(2, 3, 5, 5)]),
    ("flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), [(2, 3, 4, 5)]),
    ("flatten_mid", lambda: nn.Flatten(1, 2), lambda: tnn.Flatten(1, 2), [(2, 3, 4, 5)]),
    ("unflatten", lambda: nn.Unflatten(1, (3, 4)), lambda: tnn.Unflatten(1, (3, 4)), [(2, 12)]),
    ("identity", lambda: nn.Identity(), lambda: tnn.Identity(), [(2, 3)]),
    ("relu", nn.ReLU, tnn.ReLU, [(4, 9)]),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda: tnn.LeakyReLU(0.2), [(4, 9)]),
    ("gelu", nn.GELU, tnn.GELU, [(4, 9)]),
    ("gelu_tanh", lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh"), [(4, 9)]),
    ("silu", nn.SiLU, tnn.SiLU, [(4, 9)]),
    ("sigmoid", nn.Sigmoid, tnn.Sigmoid, [(4, 9)]),
    ("tanh", nn.Tanh, tnn.Tanh, [(4, 9)]),
    ("softplus", lambda: nn.Softplus(2.0, 3.0), lambda: tnn.Softplus(2.0, 3.0), [(4, 9)]),
    ("softmax", lambda: nn.Softmax(1), lambda: tnn.Softmax(1), [(3, 5, 2)]),
    ("log_softmax", lambda: nn.LogSoftmax(-1), lambda: tnn.LogSoftmax(-1), [(3, 7)]),
    ("layernorm", lambda: nn.LayerNorm(6), lambda: tnn.LayerNorm(6), [(3, 4, 6)]),
    ("layernorm_2d_nobias", lambda: nn.LayerNorm((4, 6), bias=False), lambda: tnn.LayerNorm((4, 6), bias=False),
     [(3, 4, 6)]),
    ("layernorm_noaffine", lambda: nn.LayerNorm(5, elementwise_affine=False),
     lambda: tnn.LayerNorm(5, elementwise_affine=False), [(3, 5)]),
    ("rmsnorm", lambda: nn.RMSNorm(6), lambda: tnn.RMSNorm(6), [(3, 4, 6)]),
    ("rmsnorm_eps", lambda: nn.RMSNorm((2, 3), eps=1e-3), lambda: tnn.RMSNorm((2, 3), eps=1e-3), [(4, 2, 3)]),
    ("batchnorm1d", lambda: nn.BatchNorm1d(5), lambda: tnn.BatchNorm1d(5), [(8, 5)]),
    ("batchnorm1d_3d", lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), [(4, 3, 6)]),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), [(2, 3, 4, 5)]),
    ("batchnorm2d_cma_noaffine", lambda: nn.BatchNorm2d(3, momentum=None, affine=False),
     lambda: tnn.BatchNorm2d(3, momentum=None, affine=False), [(2, 3, 4, 5)]),
    ("batchnorm2d_no_stats", lambda: nn.BatchNorm2d(3, track_running_stats=False),
     lambda: tnn.BatchNorm2d(3, track_running_stats=False), [(2, 3, 4, 5)]),
    ("sequential", lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3), nn.Tanh()),
     lambda: tnn.Sequential(tnn.Linear(6, 8), tnn.ReLU(), tnn.Linear(8, 3), tnn.Tanh()), [(5, 6)]),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(4 * 3 * 3, 5)),
     lambda: tnn.Sequential(tnn.Conv2d(2, 4, 3, padding=1, bias=False), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2),
                            tnn.Flatten(), tnn.Linear(4 * 3 * 3, 5)), [(3, 2, 6, 7)]),
]
IDS = [c[0] for c in CASES]


def _randomize_affine(tmod):
    """Non-trivial norm weights so their gradients are exercised."""
    with torch.no_grad():
        for name, p in tmod.named_parameters():
            if p.ndim == 1 and ("norm" in type(tmod).__name__.lower() or "weight" in name):
                p.copy_(torch.randn(p.shape) * 0.5 + 1.0)


@pytest.mark.parametrize("name,fmake,tmake,shapes", CASES, ids=IDS)
def test_layer_matches_torch(name, fmake, tmake, shapes):
    torch.manual_seed(0)
    tmod = tmake()
    _randomize_affine(tmod)
    fmod = fmake()
    inputs = [R(*s, seed=i + 1) for i, s in enumerate(shapes)]
    parity(fmod, tmod, inputs, rtol=1e-4)
    # running statistics and counters of batch norm follow PyTorch too
    for (k, fb), (k2, tb) in zip(fmod.named_buffers(), tmod.named_buffers()):
        assert k == k2
        np.testing.assert_allclose(fb.data, tb.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


WITH_MODES = [c for c in CASES if c[0].startswith(("batchnorm", "cnn"))]


@pytest.mark.parametrize("name,fmake,tmake,shapes", WITH_MODES, ids=[c[0] for c in WITH_MODES])
def test_layer_eval_mode_matches_torch(name, fmake, tmake, shapes):
    torch.manual_seed(0)
    tmod = tmake()
    fmod = fmake()
    inputs = [R(*s, seed=i + 1) for i, s in enumerate(shapes)]
    parity(fmod, tmod, inputs)        # one training step moves the running statistics
    fmod.eval(), tmod.eval()
    parity(fmod, tmod, inputs, load=False, seed=3)


@pytest.mark.parametrize("name,fmake,tmake,shapes", CASES, ids=IDS)
def test_layer_finite_differences(name, fmake, tmake, shapes):
    fastnn.manual_seed(0)
    fmod = fmake()
    if name.startswith("maxpool") or name == "cnn":
        # distinct values: the finite difference must not cross a tie in a max window
        inputs = [np.random.default_rng(5).permutation(int(np.prod(s))).reshape(s).astype(np.float64) / 7
                  for s in shapes]
    else:
        inputs = [R(*s, seed=i + 1).astype(np.float64) for i, s in enumerate(shapes)]
    if name in ("relu", "leaky_relu", "cnn"):
        for a in inputs:  # keep away from the kink at 0
            a[np.abs(a) < 1e-3] = 0.5
    fd_check(fmod, inputs)


@pytest.mark.parametrize("name,fmake,tmake,shapes", WITH_MODES, ids=[c[0] for c in WITH_MODES])
def test_layer_eval_mode_finite_differences(name, fmake, tmake, shapes):
    fastnn.manual_seed(0)
    fmod = fmake()
    x = np.random.default_rng(5).permutation(int(np.prod(shapes[0]))).reshape(shapes[0]).astype(np.float64) / 7
    fmod.double()
    fmod(fastnn.Tensor(x))  # training step: non-trivial running statistics
    fmod.eval()
    fd_check(fmod, [x])


def test_linear_fused_activation_matches_torch():
    torch.manual_seed(0)
    for act, tf in (("relu", torch.relu), ("gelu", torch.nn.functional.gelu), ("tanh", torch.tanh)):
        t, f = tnn.Linear(6, 4), nn.Linear(6, 4, activation=act)
        parity(f, t, [R(5, 6)], call=lambda m, x, tf=tf: m(x) if isinstance(m, nn.Module) else tf(m(x)))
        fd_check(f, [R(5, 6) + 0.01])


def test_conv_transpose2d_output_size():
    torch.manual_seed(0)
    t = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    f = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    parity(f, t, [R(1, 2, 4, 4)], call=lambda m, x: m(x, output_size=(8, 8)))
    with pytest.raises(ValueError, match="not reachable"):
        f(fastnn.Tensor(R(1, 2, 4, 4)), output_size=(11, 11))


def test_maxpool_return_indices_match_torch():
    torch.manual_seed(0)
    x = R(2, 3, 7, 6)
    f, t = nn.MaxPool2d(3, 2, 1, return_indices=True), tnn.MaxPool2d(3, 2, 1, return_indices=True)
    (fy, fi), (ty, ti) = f(fastnn.Tensor(x)), t(torch.tensor(x))
    np.testing.assert_array_equal(fi.data, ti.numpy())
    np.testing.assert_array_equal(fy.data, ty.numpy())
    assert fi.dtype == np.int64 and not fi.requires_grad


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    torch.manual_seed(0)
    t = tnn.Embedding(10, 4, padding_idx=padding_idx)
    f = nn.Embedding(10, 4, padding_idx=padding_idx)
    idx = np.array([[1, 2, 2, 9], [0, 9, 9, 2]], dtype=np.int64)  # repeats accumulate
    parity(f, t, [idx])
    if padding_idx is not None:
        assert np.all(f.weight.grad.data[padding_idx % 10] == 0)


def test_embedding_finite_differences_and_from_pretrained():
    fastnn.manual_seed(0)
    # (padding_idx deliberately zeroes a true gradient, so it is checked against torch only)
    fd_check(nn.Embedding(6, 3), [np.array([[0, 1, 5], [5, 5, 2]])])
    w = R(5, 3)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(np.array([4, 0])).data, w[[4, 0]])
    with pytest.raises(TypeError, match="integer"):
        e(fastnn.Tensor(np.zeros(2, np.float32)))


class TestDropout:
    def test_statistics_and_backward(self):
        fastnn.manual_seed(1)
        d = nn.Dropout(0.3)
        x = fastnn.Tensor(np.ones((200, 500), np.float32), requires_grad=True)
        y = d(x)
        kept = y.data != 0
        assert abs(kept.mean() - 0.7) < 0.01
        np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
        y.backward(np.full(y.shape, 2.0, np.float32))
        np.testing.assert_allclose(x.grad.data, np.where(kept, 2 / 0.7, 0), rtol=1e-6)

    def test_eval_p0_p1_and_seed(self):
        x = fastnn.Tensor(R(30, 40))
        d = nn.Dropout(0.5).eval()
        assert d(x) is x
        assert nn.Dropout(0.0)(x) is x
        np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)
        fastnn.manual_seed(7)
        a = nn.Dropout(0.5)(x).data
        b = nn.Dropout(0.5)(x).data
        fastnn.manual_seed(7)
        np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, a)  # reproducible
        assert not np.array_equal(a, b)                           # fresh mask per call
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(1.5)

    def test_finite_differences_with_fixed_mask(self):
        fd_check(nn.Dropout(0.4), [R(6, 7)], reseed=3)


# ---- losses ------------------------------------------------------------------------------------

def _loss_cases():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (6, 5)).astype(np.float32)
    t01 = rng.uniform(0, 1, (6, 5)).astype(np.float32)
    w = rng.uniform(0.5, 2, (6, 5)).astype(np.float32)
    pw = rng.uniform(0.5, 3, (5,)).astype(np.float32)
    cls = rng.integers(0, 5, 6)
    cls_ign = cls.copy()
    cls_ign[2] = -100
    x4 = rng.standard_normal((3, 5, 2, 4)).astype(np.float32)
    cls4 = rng.integers(0, 5, (3, 2, 4))
    cw = rng.uniform(0.5, 2, 5).astype(np.float32)
    T = torch.tensor
    out = []
    for red in ("mean", "sum", "none"):
        out += [
            (f"mse_{red}", nn.MSELoss(red), tnn.MSELoss(reduction=red), [x, t01], [True, True]),
            (f"bce_{red}", nn.BCELoss(reduction=red), tnn.BCELoss(reduction=red), [p, t01], [True, False]),
            (f"bce_w_{red}", nn.BCELoss(weight=fastnn.Tensor(w), reduction=red),
             tnn.BCELoss(weight=T(w), reduction=red), [p, t01], [True, False]),
            (f"bcelogits_{red}", nn.BCEWithLogitsLoss(reduction=red), tnn.BCEWithLogitsLoss(reduction=red),
             [x, t01], [True, False]),
            (f"bcelogits_pw_{red}", nn.BCEWithLogitsLoss(weight=fastnn.Tensor(w), reduction=red,
                                                         pos_weight=fastnn.Tensor(pw)),
             tnn.BCEWithLogitsLoss(weight=T(w), reduction=red, pos_weight=T(pw)), [x, t01], [True, False]),
            (f"ce_{red}", nn.CrossEntropyLoss(reduction=red), tnn.CrossEntropyLoss(reduction=red), [x, cls],
             [True, False]),
            (f"ce_w_ignore_smooth_{red}", nn.CrossEntropyLoss(fastnn.Tensor(cw), reduction=red, label_smoothing=0.2),
             tnn.CrossEntropyLoss(T(cw), reduction=red, label_smoothing=0.2), [x, cls_ign], [True, False]),
            (f"ce_kdim_{red}", nn.CrossEntropyLoss(reduction=red, ignore_index=1),
             tnn.CrossEntropyLoss(reduction=red, ignore_index=1), [x4, cls4], [True, False]),
        ]
    return out


LOSSES = _loss_cases()


@pytest.mark.parametrize("name,fmod,tmod,inputs,grads", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(name, fmod, tmod, inputs, grads):
    parity(fmod, tmod, inputs, grad_inputs=grads, rtol=1e-5)


@pytest.mark.parametrize("name,fmod,tmod,inputs,grads", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_finite_differences(name, fmod, tmod, inputs, grads):
    fd_check(fmod, inputs, grad_inputs=grads)


def test_loss_errors():
    x = fastnn.Tensor(R(3, 4), requires_grad=True)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("avg")
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer"):
        nn.functional.cross_entropy(x, R(3, 4))
    with pytest.raises(ValueError, match="mse_loss: target shape"):
        nn.functional.mse_loss(x, R(3, 5))
    with pytest.raises(ValueError, match="gradients with respect to target"):
        nn.functional.binary_cross_entropy_with_logits(x, fastnn.Tensor(R(3, 4), requires_grad=True))
