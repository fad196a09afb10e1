"""MultiheadAttention with PyTorch's parameters, names and semantics, on fastnn's fused
attention kernel; optional grouped-query attention (``num_kv_heads``, a fastnn extension).

Masks follow PyTorch: a bool ``attn_mask`` / ``key_padding_mask`` marks positions that may NOT
be attended (True = masked); float masks are added to the scores. A query row whose every key
is masked gives zeros (PyTorch gives NaN).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import kernels as K
from ..tensor import Tensor, _as_array
from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import empty_parameter


def _raw(m: Any) -> Any:
    return m.data if isinstance(m, Tensor) else m


def _additive(mask: Any, dtype: Any) -> Any:
    """A PyTorch mask (bool: True = masked, or float additive) as an additive float mask."""
    xp = K._xp(mask)
    if mask.dtype == np.bool_:
        return xp.where(mask, xp.asarray(-np.inf, dtype=dtype), xp.asarray(0.0, dtype=dtype))
    return mask.astype(dtype, copy=False)


def merge_masks(attn_mask: Any, key_padding_mask: Any, N: int, H: int, L: int, S: int, dtype: Any,
                device: str = "cpu") -> Any:
    """PyTorch's attn_mask ((L, S) or (N*H, L, S)) and key_padding_mask ((N, S)) as one mask in the
    kernel's convention, broadcastable to (N, H, L, S): bool True = keep when both are bool (or
    absent), else additive float. None when there is no mask."""
    am, kpm = _raw(attn_mask), _raw(key_padding_mask)
    if am is not None:
        am = _as_array(am, device=device)
        if am.ndim == 2:
            am = am.reshape(1, 1, L, S)
        elif am.ndim == 3:
            am = am.reshape(N, H, L, S)
        else:
            raise ValueError(f"attn_mask must be 2D (L, S) or 3D (N*num_heads, L, S), got shape {am.shape}")
    if kpm is not None:
        kpm = _as_array(kpm, device=device)
        if kpm.shape != (N, S):
            raise ValueError(f"key_padding_mask must have shape {(N, S)}, got {kpm.shape}")
        kpm = kpm.reshape(N, 1, 1, S)
    if am is None and kpm is None:
        return None
    if all(m is None or m.dtype == np.bool_ for m in (am, kpm)):
        keep = None
        for m in (am, kpm):
            if m is not None:
                keep = ~m if keep is None else keep & ~m
        return keep
    masks = [_additive(m, dtype) for m in (am, kpm) if m is not None]
    return masks[0] if len(masks) == 1 else K.add(masks[0], masks[1])


class MultiheadAttention(Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: str | None = None, dtype: Any = None,
                 num_kv_heads: int | None = None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_heads % num_kv_heads:
            raise ValueError(f"num_heads ({num_heads}) must be a multiple of num_kv_heads ({num_kv_heads})")
        self.embed_dim, self.num_heads, self.num_kv_heads = embed_dim, num_heads, num_kv_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        kv_dim = num_kv_heads * self.head_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim and kv_dim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * embed_dim, embed_dim), dtype, device)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter((embed_dim, embed_dim), dtype, device)
            self.k_proj_weight = empty_parameter((kv_dim, self.kdim), dtype, device)
            self.v_proj_weight = empty_parameter((kv_dim, self.vdim), dtype, device)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter((embed_dim + 2 * kv_dim,), dtype, device)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        E, kv = self.embed_dim, self.num_kv_heads * self.head_dim
        b = self.in_proj_bias
        bq = bk = bv = None
        if self._qkv_same_embed_dim and query is key and key is value:
            q, k, v = F.linear(query, self.in_proj_weight, b).split([E, E, E], -1)  # one GEMM
            return q, k, v
        if b is not None:
            bq, bk, bv = b.split([E, kv, kv], 0)
        if self._qkv_same_embed_dim:
            wq, wk, wv = self.in_proj_weight.split([E, E, E], 0)
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """query (L, N, E) [(N, L, E) batch_first, (L, E) unbatched], key (S, N, kdim), value (S, N, vdim)
        -> (output like query, weights (N, L, S) averaged over heads / (N, H, L, S), or None)."""
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _as_array(_raw(key_padding_mask)).reshape(1, -1)
        elif self.batch_first:
            same_kv = key is value
            same_qk = query is key
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        # internal layout: (L, N, E)
        L, N, E = query.shape
        S = key.shape[0]
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query embed dim {E} != embed_dim {self.embed_dim}")
        H, Hkv, hd = self.num_heads, self.num_kv_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)      # (N, H, L, hd)
        k = k.reshape(S, N, Hkv, hd).permute(1, 2, 0, 3)    # (N, Hkv, S, hd)
        v = v.reshape(S, N, Hkv, hd).permute(1, 2, 0, 3)
        causal = bool(is_causal) and key_padding_mask is None and L == S
        dev = q.device
        mask = None if causal else merge_masks(attn_mask, key_padding_mask, N, H, L, S, q.dtype, dev)
        if is_causal and attn_mask is None and not causal:  # causal hint without a mask, plus padding
            mask = merge_masks(np.triu(np.ones((L, S), dtype=bool), 1), key_padding_mask, N, H, L, S, q.dtype, dev)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights or dropout > 0:
            out, weights = self._explicit(q, k, v, mask, causal, dropout)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                                 enable_gqa=Hkv != H)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)       # (L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None and need_weights:
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.squeeze(0)
        return out, (weights if need_weights else None)

    def _explicit(self, q: Tensor, k: Tensor, v: Tensor, mask: Any, causal: bool, dropout: float):
        """softmax(q k^T / sqrt(hd) + mask) v with the weights materialised (need_weights or
        attention dropout): matmul, add and softmax kernels."""
        N, H, L, hd = q.shape
        S = k.shape[2]
        if self.num_kv_heads != H:
            rep = H // self.num_kv_heads
            k = k.unsqueeze(2).expand(N, self.num_kv_heads, rep, S, hd).reshape(N, H, S, hd)
            v = v.unsqueeze(2).expand(N, self.num_kv_heads, rep, S, hd).reshape(N, H, S, hd)
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)   # (N, H, L, S)
        if causal:
            mask = merge_masks(np.triu(np.ones((L, S), dtype=bool), 1), None, N, H, L, S, q.dtype, q.device)
        if mask is not None:
            scores = scores + Tensor._wrap(_additive(~mask if mask.dtype == np.bool_ else mask, q.dtype))
        weights = F.softmax(scores, -1)
        attn = F.dropout(weights, dropout, True) if dropout > 0 else weights
        return attn @ v, weights

    def extra_repr(self) -> str:
        kv = f", num_kv_heads={self.num_kv_heads}" if self.num_kv_heads != self.num_heads else ""
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{kv}, batch_first={self.batch_first}"
