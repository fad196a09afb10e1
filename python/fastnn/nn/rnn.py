"""RNN, LSTM, GRU: multi-layer, bidirectional, batch_first, initial states, PyTorch gate order
([i, f, g, o] / [r, z, n]) and parameter names (weight_ih_l{k}[_reverse], ...)."""
from __future__ import annotations

import math
from typing import Any

from ..autograd.rnn_ops import RecurrentLayer
from ..tensor import Tensor, cat, stack
from . import functional as F
from . import init
from .module import Module
from .parameter import empty_parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_KERNEL_MODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: str | None = None, dtype: Any = None):
        super().__init__()
        if proj_size:
            raise NotImplementedError("LSTM proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1]")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        D = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            for direction in range(D):
                in_size = input_size if layer == 0 else hidden_size * D
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + sfx, empty_parameter((gate_size, in_size), dtype, device))
                setattr(self, "weight_hh" + sfx, empty_parameter((gate_size, hidden_size), dtype, device))
                if bias:
                    setattr(self, "bias_ih" + sfx, empty_parameter((gate_size,), dtype, device))
                    setattr(self, "bias_hh" + sfx, empty_parameter((gate_size,), dtype, device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _layer_params(self, layer: int, direction: int):
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        get = (lambda name: getattr(self, name + sfx) if self.bias or name.startswith("weight") else None)
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _run(self, x: Tensor, h0: Tensor | None, c0: Tensor | None):
        """x (L, N, I) -> (output (L, N, D*H), h_n (layers*D, N, H), c_n or None)."""
        D = 2 if self.bidirectional else 1
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                i = layer * D + direction
                out, h, c = RecurrentLayer.apply(layer_in, None if h0 is None else h0[i],
                                                 None if c0 is None else c0[i], *self._layer_params(layer, direction),
                                                 mode=_KERNEL_MODE[self.mode], reverse=bool(direction))
                outs.append(out)
                hs.append(h)
                cs.append(c)
            layer_in = outs[0] if D == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, stack(hs, 0), (stack(cs, 0) if self.mode == "LSTM" else None)

    def _check_state(self, name: str, h: Tensor | None, batch: int, batched: bool) -> None:
        if h is None:
            return
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, batch, self.hidden_size) if batched else (self.num_layers * D, self.hidden_size)
        if h.shape != want:
            raise ValueError(f"{type(self).__name__}: expected {name} of shape {want}, got {h.shape}")

    def _forward(self, input: Tensor, h0: Tensor | None, c0: Tensor | None):
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected 2D (unbatched) or 3D input, got {input.ndim}D")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input.size(-1) must be {self.input_size}, got {input.shape[-1]}")
        batched = input.ndim == 3
        x = input
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        N = x.shape[1]
        self._check_state("h_0", h0, N if batched else None, batched)
        self._check_state("c_0", c0, N if batched else None, batched)
        if not batched:
            h0 = None if h0 is None else h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        out, h_n, c_n = self._run(x, h0, c0)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n


class LSTM(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: str | None = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None):
        h0, c0 = (None, None) if hx is None else hx
        out, h_n, c_n = self._forward(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n
