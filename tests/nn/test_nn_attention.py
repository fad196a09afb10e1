"""MultiheadAttention and the Transformer stack against PyTorch (same weights, same inputs,
masks in PyTorch's conventions), GQA against a hand-built torch reference, and float64 central
differences through whole layers."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn

from nn_parity import fd_check, parity, torch  # noqa: E402

tnn = torch.nn
F = torch.nn.functional


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _mha_call(**kw):
    def call(m, q, k, v, *masks):
        kwargs = dict(kw)
        for name, mask in zip(("attn_mask", "key_padding_mask"), masks):
            if mask is not None:
                kwargs[name] = mask.data if isinstance(mask, fastnn.Tensor) else mask
        if isinstance(m, tnn.Module):
            kwargs = {k_: (torch.as_tensor(np.asarray(v_)) if isinstance(v_, np.ndarray) else v_)
                      for k_, v_ in kwargs.items()}
        return m(q, k, v, **kwargs)
    return call


L, S, N, E, H = 5, 7, 3, 8, 2
CAUSAL_BOOL = np.triu(np.ones((L, L), bool), 1)
PAD = np.zeros((N, S), bool)
PAD[0, -2:] = True
PAD[2, 0] = True
PAD_FLOAT = np.where(PAD, -np.inf, 0).astype(np.float32)
FLOAT_MASK = R(L, S, seed=9)
HEAD_MASK = np.random.default_rng(4).random((N * H, L, S)) < 0.3
HEAD_MASK[:, :, 0] = False  # every query row keeps a key (PyTorch gives NaN for empty rows)


MHA_CASES = [
    # name, ctor kwargs, call kwargs, self-attention?, masks (attn_mask, key_padding_mask)
    ("self_noweights", {}, dict(need_weights=False), True, ()),
    ("self_weights", {}, dict(need_weights=True), True, ()),
    ("self_weights_per_head", {}, dict(need_weights=True, average_attn_weights=False), True, ()),
    ("self_causal_bool", {}, dict(need_weights=False), True, (CAUSAL_BOOL,)),
    ("self_causal_hint", {}, dict(need_weights=False, is_causal=True), True, (CAUSAL_BOOL,)),
    ("cross_kdim_vdim", dict(kdim=5, vdim=3), dict(need_weights=True), False, ()),
    ("cross_float_mask_padding", {}, dict(need_weights=False), False, (FLOAT_MASK, PAD_FLOAT)),
    ("cross_per_head_bool_padding_weights", {}, dict(need_weights=True), False, (HEAD_MASK, PAD)),
    ("cross_batch_first_nobias", dict(batch_first=True, bias=False), dict(need_weights=False), False, (None, PAD)),
]


@pytest.mark.parametrize("name,ctor,kw,is_self,masks", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_mha_matches_torch(name, ctor, kw, is_self, masks):
    torch.manual_seed(0)
    tmod = tnn.MultiheadAttention(E, H, **ctor)
    fmod = nn.MultiheadAttention(E, H, **ctor)
    with torch.no_grad():  # non-zero biases so their gradients are exercised
        for n_, p in tmod.named_parameters():
            if "bias" in n_:
                p.copy_(torch.randn(p.shape) * 0.1)
    bf = ctor.get("batch_first", False)
    Lk = L if is_self else S
    q = R(N, L, E) if bf else R(L, N, E)
    k = R(N, Lk, ctor.get("kdim", E), seed=1) if bf else R(Lk, N, ctor.get("kdim", E), seed=1)
    v = R(N, Lk, ctor.get("vdim", E), seed=2) if bf else R(Lk, N, ctor.get("vdim", E), seed=2)
    if is_self:
        call = _mha_call(**kw)
        parity(fmod, tmod, [q, *masks], grad_inputs=[True] + [False] * len(masks),
               call=lambda m, x, *ms: call(m, x, x, x, *ms), rtol=1e-4)
    else:
        parity(fmod, tmod, [q, k, v, *masks], grad_inputs=[True] * 3 + [False] * len(masks),
               call=_mha_call(**kw), rtol=1e-4)


def test_mha_mixed_bool_and_float_masks_equal_all_float():
    fastnn.manual_seed(0)
    m = nn.MultiheadAttention(E, H)
    q, k = fastnn.Tensor(R(L, N, E)), fastnn.Tensor(R(S, N, E, seed=1))
    a = m(q, k, k, attn_mask=FLOAT_MASK, key_padding_mask=PAD, need_weights=False)[0]
    b = m(q, k, k, attn_mask=FLOAT_MASK, key_padding_mask=PAD_FLOAT, need_weights=False)[0]
    np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-7)


def test_mha_unbatched_matches_torch():
    torch.manual_seed(0)
    t, f = tnn.MultiheadAttention(E, H), nn.MultiheadAttention(E, H)
    pad = np.array([False] * (S - 1) + [True])
    parity(f, t, [R(L, E), R(S, E, seed=1), R(S, E, seed=2), None, pad], grad_inputs=[True, True, True, False, False],
           call=_mha_call(need_weights=True))


def _gqa_torch(params, q, k, v, Hq, Hkv, mask=None):
    """Hand-built PyTorch GQA with fastnn's parameter layout (batch_first=False)."""
    Lq, Nb, Ed = q.shape
    hd = Ed // Hq
    bq, bk, bv = params["in_proj_bias"].split([Ed, Hkv * hd, Hkv * hd])
    qp = F.linear(q, params["q_proj_weight"], bq).reshape(Lq, Nb, Hq, hd).permute(1, 2, 0, 3)
    kp = F.linear(k, params["k_proj_weight"], bk).reshape(k.shape[0], Nb, Hkv, hd).permute(1, 2, 0, 3)
    vp = F.linear(v, params["v_proj_weight"], bv).reshape(v.shape[0], Nb, Hkv, hd).permute(1, 2, 0, 3)
    o = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask, enable_gqa=True)
    o = o.permute(2, 0, 1, 3).reshape(Lq, Nb, Ed)
    return F.linear(o, params["out_proj.weight"], params["out_proj.bias"])


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_gqa_matches_torch_sdpa(need_weights):
    fastnn.manual_seed(0)
    Hq, Hkv, Ed = 4, 2, 8
    f = nn.MultiheadAttention(Ed, Hq, num_kv_heads=Hkv)
    assert f.k_proj_weight.shape == (Hkv * 2, Ed) and f.in_proj_weight is None
    rng = np.random.default_rng(0)
    with fastnn.no_grad():
        f.in_proj_bias.data[...] = rng.standard_normal(f.in_proj_bias.shape) * 0.1
    params = {k: torch.tensor(np.array(v), requires_grad=True) for k, v in f.state_dict().items()}
    q, k, v = R(L, N, Ed), R(S, N, Ed, seed=1), R(S, N, Ed, seed=2)
    keep = ~np.broadcast_to(PAD[:, None, None, :], (N, 1, L, S))

    class TorchGQA:
        def __call__(self, *a):
            return (_gqa_torch(params, *a, Hq, Hkv, mask=torch.tensor(keep)),)

        def named_parameters(self):
            return params.items()

    fq, fk, fv = (fastnn.Tensor(a, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    fo = f(fq, fk, fv, key_padding_mask=PAD, need_weights=need_weights)[0]
    to = TorchGQA()(tq, tk, tv)[0]
    np.testing.assert_allclose(fo.data, to.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = R(*fo.shape, seed=5)
    fo.backward(g)
    to.backward(torch.tensor(g))
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in f.named_parameters():
        np.testing.assert_allclose(p.grad.data, params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("case", ["self_packed", "cross_masks", "gqa_weights"])
def test_mha_finite_differences(case):
    fastnn.manual_seed(0)
    if case == "self_packed":
        m = nn.MultiheadAttention(E, H)
        fd_check(m, [R(L, N, E)], call=lambda m_, x: m_(x, x, x, attn_mask=CAUSAL_BOOL, need_weights=False)[0])
    elif case == "cross_masks":
        m = nn.MultiheadAttention(E, H, kdim=5, vdim=3, batch_first=True)
        fd_check(m, [R(N, L, E), R(N, S, 5, seed=1), R(N, S, 3, seed=2)],
                 call=lambda m_, q, k, v: m_(q, k, v, attn_mask=FLOAT_MASK.astype(np.float64), key_padding_mask=PAD,
                                             need_weights=False)[0])
    else:
        m = nn.MultiheadAttention(E, 4, num_kv_heads=2)
        fd_check(m, [R(L, N, E), R(S, N, E, seed=1)], call=lambda m_, q, kv: m_(q, kv, kv, key_padding_mask=PAD))


# ---- transformer ---------------------------------------------------------------------------------

def _enc_layer(mod, **kw):
    return mod.TransformerEncoderLayer(E, H, dim_feedforward=12, dropout=0.0, **kw)


def _dec_layer(mod, **kw):
    return mod.TransformerDecoderLayer(E, H, dim_feedforward=12, dropout=0.0, **kw)


TRANSFORMER_CASES = [
    ("enc_post", lambda m: _enc_layer(m), "enc"),
    ("enc_pre_gelu_bf", lambda m: _enc_layer(m, norm_first=True, activation="gelu", batch_first=True), "enc"),
    ("dec_post", lambda m: _dec_layer(m), "dec"),
    ("dec_pre", lambda m: _dec_layer(m, norm_first=True), "dec"),
    ("encoder_stack_norm", lambda m: m.TransformerEncoder(_enc_layer(m), 2, norm=m.LayerNorm(E),
                                                          **({"enable_nested_tensor": False} if m is tnn else {})),
     "enc"),
    ("decoder_stack", lambda m: m.TransformerDecoder(_dec_layer(m, norm_first=True), 2, norm=m.LayerNorm(E)), "dec"),
    ("transformer", lambda m: m.Transformer(E, H, 2, 2, 12, dropout=0.0), "full"),
]


def _masks(kind, Lt, Ls):
    causal = np.triu(np.ones((Lt, Lt), bool), 1)  # bool like the padding masks (torch warns on mixing)
    src_pad = np.zeros((N, Ls), bool)
    src_pad[1, -1] = True
    tgt_pad = np.zeros((N, Lt), bool)
    tgt_pad[0, -1] = True
    return causal, src_pad, tgt_pad


def _transformer_call(kind, batch_first):
    def call(m, a, b=None):
        tm = isinstance(m, tnn.Module)
        conv = (lambda x: torch.as_tensor(x)) if tm else (lambda x: x)
        Lt = (a.shape[1] if batch_first else a.shape[0])
        causal, src_pad, tgt_pad = _masks(kind, Lt, b.shape[1 if batch_first else 0] if b is not None else Lt)
        if kind == "enc":
            return m(a, conv(causal), src_key_padding_mask=conv(tgt_pad))
        if kind == "dec":
            return m(a, b, tgt_mask=conv(causal), tgt_key_padding_mask=conv(tgt_pad),
                     memory_key_padding_mask=conv(src_pad))
        return m(b, a, tgt_mask=conv(causal), src_key_padding_mask=conv(src_pad),
                 memory_key_padding_mask=conv(src_pad))
    return call


NESTED_WARNING = "ignore:enable_nested_tensor is True:UserWarning"  # torch.nn.Transformer's own notice


@pytest.mark.filterwarnings(NESTED_WARNING)
@pytest.mark.parametrize("name,make,kind", TRANSFORMER_CASES, ids=[c[0] for c in TRANSFORMER_CASES])
def test_transformer_matches_torch(name, make, kind):
    torch.manual_seed(0)
    tmod, fmod = make(tnn), make(nn)
    bf = "bf" in name
    tgt = R(N, L, E) if bf else R(L, N, E)
    mem = R(N, S, E, seed=1) if bf else R(S, N, E, seed=1)
    inputs = [tgt] if kind == "enc" else [tgt, mem]
    parity(fmod, tmod, inputs, call=_transformer_call(kind, bf), rtol=2e-4)


@pytest.mark.parametrize("name,make,kind", TRANSFORMER_CASES, ids=[c[0] for c in TRANSFORMER_CASES])
def test_transformer_finite_differences(name, make, kind):
    fastnn.manual_seed(0)
    fmod = make(nn)
    bf = "bf" in name
    tgt = R(N, 4, E) if bf else R(4, N, E)
    mem = R(N, 3, E, seed=1) if bf else R(3, N, E, seed=1)
    fd_check(fmod, [tgt] if kind == "enc" else [tgt, mem], call=_transformer_call(kind, bf))


@pytest.mark.filterwarnings(NESTED_WARNING)
def test_transformer_dropout_trains_and_structure():
    fastnn.manual_seed(0)
    m = nn.Transformer(E, H, 1, 1, 12, dropout=0.2)
    t = tnn.Transformer(E, H, 1, 1, 12, dropout=0.2)
    assert list(m.state_dict()) == list(t.state_dict())
    src, tgt = fastnn.Tensor(R(S, N, E)), fastnn.Tensor(R(L, N, E), requires_grad=True)
    out = m(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(L))
    out.sum().backward()
    assert tgt.grad is not None and all(p.grad is not None for p in m.parameters())
    m.eval()
    a = m(src, tgt).data
    np.testing.assert_array_equal(a, m(src, tgt).data)
    mask = nn.Transformer.generate_square_subsequent_mask(4).data
    np.testing.assert_array_equal(mask, tnn.Transformer.generate_square_subsequent_mask(4).numpy())
