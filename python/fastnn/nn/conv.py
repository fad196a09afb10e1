"""Conv1d, Conv2d, ConvTranspose2d: PyTorch weight layouts, names and initialisation."""
from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import empty_parameter


def _tuple(v: Any, n: int) -> tuple:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"expected an int or a {n}-tuple, got {v}")
    return v


class _ConvNd(Module):
    def __init__(self, nd, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, transposed, output_padding, device, dtype):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                             f"by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode {padding_mode!r} is not supported (only 'zeros')")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or numbers, got {padding!r}")
            if padding == "same" and any(s != 1 for s in _tuple(stride, nd)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _tuple(kernel_size, nd)
        self.stride, self.dilation = _tuple(stride, nd), _tuple(dilation, nd)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, nd)
        self.output_padding = _tuple(output_padding, nd)
        self.groups, self.padding_mode, self.transposed = groups, padding_mode, transposed
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = empty_parameter(shape + self.kernel_size, dtype, device)
        if bias:
            self.bias = empty_parameter((out_channels,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        # The layer's own message: the functional one would blame the weight's shape.
        nd = len(self.kernel_size) + 2
        if x.ndim != nd:
            raise ValueError(f"{type(self).__name__}: expected {nd}D input (N, C, ...), got {x.ndim}D (shape {x.shape})")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected {self.in_channels} input channels in dimension 1, "
                             f"got {x.shape[1]} (shape {x.shape})")

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,) * len(self.kernel_size),):
            s += f", padding={self.padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, False, 0, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, False, 0, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d: padding must be numbers")
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, True, output_padding, device, dtype)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple:
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        pads = []
        for d in range(2):
            smallest = ((x.shape[d + 2] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra = size[d] - smallest
            if not 0 <= extra < max(self.stride[d], self.dilation[d]):
                raise ValueError(f"ConvTranspose2d: requested output size {size} is not reachable from input "
                                 f"{x.shape[2:]} (sizes from {smallest} to {smallest + self.stride[d] - 1} in dim {d})")
            pads.append(extra)
        return tuple(pads)

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        self._check_input(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups, self.dilation)
