"""Differentiable operations: a :class:`Function` subclass pairs a forward and a backward on raw
arrays (NumPy or CuPy); ``apply`` runs the forward and, when recording, links a :class:`Node`
into the graph.

The graph is a DAG of Nodes. Each Node holds its Function's context (the arrays saved for the
backward) and one *edge* per positional input: ``(target, output_nr)`` where target is the
producing Node, or the leaf Tensor itself for leaves that require grad (the engine accumulates
into its ``.grad``), or None for inputs that need no gradient.
"""
from __future__ import annotations

from typing import Any

from . import grad_mode
from .grad_mode import is_grad_enabled

_FLOAT_KINDS = "fc"
_Tensor = None  # fastnn.tensor.Tensor, bound on first use (tensor.py imports this module)


def _tensor_class():
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor

        _Tensor = Tensor
    return _Tensor


class Context:
    """Scratch space a forward leaves for its backward (plain attributes), plus
    ``needs_input_grad``: one bool per positional input."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad


class Node:
    """One recorded Function call."""

    __slots__ = ("fn", "ctx", "next_edges", "out_meta", "retained", "__weakref__")

    def __init__(self, fn: type, ctx: Context, next_edges: tuple, out_meta: tuple):
        self.fn = fn
        self.ctx = ctx                  # None once the graph is freed
        self.next_edges = next_edges    # per input: (Node | leaf Tensor, output_nr) or None
        self.out_meta = out_meta        # per output: (shape, dtype, device) or None (not differentiable)
        self.retained = None            # {output_nr: weakref(Tensor)} for retain_grad()

    def name(self) -> str:
        return self.fn.__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class Function:
    """Subclass and define::

        @staticmethod
        def forward(ctx, *args, **kwargs) -> array | tuple of arrays
        @staticmethod
        def backward(ctx, *grad_outputs) -> grad | tuple of grads, one per positional arg

    Tensors among the positional args arrive as arrays; keyword args are constants. Integer
    and bool outputs are never differentiable. Gradients of None mean zero; backward may leave
    out trailing gradients of inputs that need none (constants such as shapes).
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grad_outputs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        Tensor = _Tensor or _tensor_class()
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        enabled = is_grad_enabled()
        record = enabled and any(needs)
        ctx = Context(needs)
        grad_mode._set(False)  # a forward never records (its arrays are not Tensors anyway)
        try:
            outs = cls.forward(ctx, *raw, **kwargs)
        finally:
            grad_mode._set(enabled)
        single = not isinstance(outs, tuple)
        outs = (outs,) if single else outs
        if not record:
            wrapped = tuple(None if o is None else Tensor._wrap(o) for o in outs)
            return wrapped[0] if single else wrapped

        edges = tuple(_edge(a) if need else None for a, need in zip(args, needs))
        meta = tuple(None if o is None or o.dtype.kind not in _FLOAT_KINDS else (o.shape, o.dtype, _device(o))
                     for o in outs)
        node = Node(cls, ctx, edges, meta)
        wrapped = []
        for i, o in enumerate(outs):
            if o is None:
                wrapped.append(None)
            elif meta[i] is None:
                wrapped.append(Tensor._wrap(o))
            else:
                wrapped.append(Tensor._wrap(o, grad_fn=node, output_nr=i))
        return wrapped[0] if single else tuple(wrapped)


def _edge(t: Any) -> tuple:
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    return (t, 0)  # leaf that requires grad: the engine accumulates into t.grad


def _device(a: Any) -> str:
    return "cpu" if type(a).__module__ == "numpy" else "cuda"
