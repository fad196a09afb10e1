"""Reverse-mode execution: run every Node reachable from the roots exactly once, in a
topological order (a Node runs only after every consumer of its outputs has sent its gradient),
summing the gradients that meet at a Node and accumulating into leaves' ``.grad``.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import kernels
from .function import Node
from .grad_mode import no_grad

FREED_GRAPH_MESSAGE = (
    "Trying to backward through the graph a second time (or to use saved arrays after they were "
    "freed): the saved arrays of {name} were released by an earlier .backward(). "
    "Pass retain_graph=True to the first .backward() to keep them."
)


def _count_dependencies(roots: Sequence[Any]) -> dict[int, int]:
    """id(Node or leaf) -> number of edges that point at it, over the graph reachable from roots."""
    deps: dict[int, int] = {}
    seen: set[int] = set()
    stack = [r for r in roots if isinstance(r, Node)]
    for r in stack:
        seen.add(id(r))
    while stack:  # iterative: RNN graphs can be deeper than Python's recursion limit
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            target = edge[0]
            deps[id(target)] = deps.get(id(target), 0) + 1
            if isinstance(target, Node) and id(target) not in seen:
                seen.add(id(target))
                stack.append(target)
    return deps


def _owned(a: Any, handed_out: set[int]) -> bool:
    """Whether a gradient array may become a leaf's .grad without a copy: it owns its memory,
    is C-contiguous and writable, and was not given to anyone else in this pass."""
    flags = a.flags
    writable = getattr(flags, "writeable", True)
    return a.base is None and flags.c_contiguous and writable and id(a) not in handed_out


def _accumulate_leaf(t: Any, g: Any, handed_out: set[int]) -> None:
    from ..tensor import Tensor

    if g.shape != t.shape:
        raise RuntimeError(f"gradient of shape {tuple(g.shape)} for a leaf of shape {tuple(t.shape)}")
    if g.dtype != t.dtype:
        g = g.astype(t.dtype)
    if t.grad is None:
        if not _owned(g, handed_out):
            g = g.copy()
        handed_out.add(id(g))
        t.grad = Tensor._wrap(g)
    else:
        t.grad = Tensor._wrap(kernels.add(t.grad.data, g))


def _sum(a: Any, b: Any) -> Any:
    return b if a is None else (a if b is None else kernels.add(a, b))


def run_backward(tensors: Sequence[Any], grad_tensors: Sequence[Any], retain_graph: bool) -> None:
    """tensors: Tensors that require grad; grad_tensors: arrays of the same shapes."""
    roots, handed_out = [], set()
    buffers: dict[int, list] = {}
    for t, g in zip(tensors, grad_tensors):
        handed_out.add(id(g))
        if t.grad_fn is None:
            roots.append(t)
            buffers.setdefault(id(t), [None])[0] = _sum(buffers.get(id(t), [None])[0], g)
        else:
            node = t.grad_fn
            roots.append(node)
            buf = buffers.setdefault(id(node), [None] * len(node.out_meta))
            buf[t._output_nr] = _sum(buf[t._output_nr], g)
    deps = _count_dependencies(roots)
    ready, queued = [], set()
    for r in roots:
        if deps.get(id(r), 0) == 0 and id(r) not in queued:
            queued.add(id(r))
            ready.append(r)

    with no_grad():
        while ready:
            item = ready.pop()
            grads = buffers.pop(id(item), None)
            if not isinstance(item, Node):
                if grads is not None and grads[0] is not None:
                    _accumulate_leaf(item, grads[0], handed_out)
                continue
            node = item
            if grads is None or all(g is None for g in grads):
                # every path into this Node carried no gradient: nothing flows further
                in_grads = (None,) * len(node.next_edges)
            else:
                in_grads = _run_node(node, grads, handed_out)
            if not retain_graph:
                node.ctx = None
            for edge, g in zip(node.next_edges, in_grads):
                if edge is None:
                    continue
                target, nr = edge
                if g is not None:
                    want = target.out_meta[nr][0] if isinstance(target, Node) else target.shape
                    if tuple(g.shape) != tuple(want):
                        raise RuntimeError(f"{node.name()} returned a gradient of shape {tuple(g.shape)} "
                                           f"for an input of shape {tuple(want)}")
                    size = len(target.out_meta) if isinstance(target, Node) else 1
                    buf = buffers.setdefault(id(target), [None] * size)
                    buf[nr] = _sum(buf[nr], g)
                deps[id(target)] -= 1
                if deps[id(target)] == 0:
                    ready.append(target)


def _run_node(node: Node, grads: list, handed_out: set[int]) -> tuple:
    if node.ctx is None:
        raise RuntimeError(FREED_GRAPH_MESSAGE.format(name=node.name()))
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                _accumulate_leaf(t, grads[nr], handed_out)
    grads = [_zeros(meta) if g is None and meta is not None else g
             for g, meta in zip(grads, node.out_meta)]
    in_grads = node.fn.backward(node.ctx, *grads)
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    if len(in_grads) < len(node.next_edges) and all(e is None for e in node.next_edges[len(in_grads):]):
        in_grads = in_grads + (None,) * (len(node.next_edges) - len(in_grads))  # trailing constants
    if len(in_grads) != len(node.next_edges):
        raise RuntimeError(f"{node.name()} returned {len(in_grads)} gradients for "
                           f"{len(node.next_edges)} inputs")
    return in_grads


def _zeros(meta: tuple) -> Any:
    from .. import backend

    shape, dtype, device = meta
    return backend.xp_for(device).zeros(shape, dtype=dtype)
