"""Nodes with several results: a loop or branch node holds a tuple, ``item`` reads one part.

A node has one value.  An op with ``multiple_results`` (``sg.scan``,
``sg.while_loop``, ``sg.cond``) makes a node whose value is the tuple of its
results, kept in a 0-d object array so every runner passes it along like any
value; its shape is ``()`` and its dtype ``object`` (``RESULTS``).  The parts
the program uses are ``Item`` nodes.  Autodiff treats the pair as one op:
the cotangents of the items reach the tuple node's ``bprop`` together, and its
``jvp`` returns one tangent per part (see ``symgraph.autodiff``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SymgraphError
from ..graph import Node, apply
from .base import DTYPE, INT, NO_SYMPY, SHAPE, Op
from .batching import all_batched
from .patterns import DENSE

#: the dtype of a node whose value is a tuple of arrays
RESULTS = np.dtype(object)


def pack(values: Sequence) -> np.ndarray:
    """``values`` (arrays) as the 0-d object array a ``multiple_results`` op returns."""
    out = np.empty((), dtype=object)
    out[()] = tuple(values)
    return out


def unpack(value) -> tuple:
    """The tuple of arrays a ``multiple_results`` node's value holds."""
    return value[()] if isinstance(value, np.ndarray) else value


class Item(Op):
    """Part ``index`` of a ``multiple_results`` node (a loop's final carry, its stacked ys...)."""

    name = "item"
    param_types = {"index": INT, "shape": SHAPE, "dtype": DTYPE}
    to_sympy = NO_SYMPY

    def __init__(self, index: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.index, self.shape, self.dtype = index, shape, dtype

    def infer(self, results):
        if not results.op.multiple_results:
            raise SymgraphError(f"item: node #{results.id} ({results.op.name}) has one result, "
                                "not a tuple")
        if self.index < 0:
            raise SymgraphError(f"item: index {self.index} is negative")
        return self.shape, self.dtype

    def f(self, results):
        return unpack(results)[self.index]

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}[{self.index}]"

    def emits_view(self) -> bool:
        return True

    def describe(self) -> str:
        return f"item {self.index}"

    # autodiff routes an item's cotangent to its tuple node itself (see autodiff)
    def bprop(self, inputs, out, g, needs):
        return [None]

    def batch(self, inputs, batched):
        """The batched tuple node batches every part (see ``Loop.batch``)."""
        (results,) = inputs
        return item(results, self.index)

    def sparsity(self, node):
        return [DENSE]


class Pack(Op):
    """A tuple node made of the nodes it takes: what the batching rule of a loop or branch
    returns when the parts of the batched loop need rearranging (ys scanned as (T, B, ...)
    come back as (B, T, ...)), so the batched version of a tuple node is a tuple node
    again.  ``item`` of a pack is the packed node itself, so a pack is rarely run."""

    name = "pack"
    multiple_results = True
    to_sympy = NO_SYMPY

    def infer(self, *parts):
        return (), RESULTS

    def result_avals(self, node: Node) -> list[tuple[tuple[int, ...], np.dtype]]:
        return [(p.shape, p.dtype) for p in node.inputs]

    def result_count(self, node: Node) -> int:
        return len(node.inputs)

    def f(self, *parts):
        return pack(parts)

    def emit(self, out, ins, ctx):
        return f"{out} = ({''.join(i + ', ' for i in ins)})"

    def bprop(self, inputs, out, gs, needs):
        return [g if need else None for g, need in zip(gs, needs)]

    def jvp(self, inputs, out, ts):
        return list(ts)

    def batch(self, inputs, batched):
        return apply(self, all_batched(inputs, batched))

    def sparsity(self, node):
        return [DENSE] * len(node.inputs)


def pack_nodes(parts: Sequence[Node]) -> Node:
    """The tuple node whose parts are ``parts``."""
    return apply(Pack(), list(parts))


def item(results: Node, index: int) -> Node:
    """Part ``index`` of the ``multiple_results`` node ``results``."""
    if type(results.op) is Pack:
        return results.inputs[index]
    shape, dtype = results.op.result_avals(results)[index]
    return apply(Item(index, tuple(shape), np.dtype(dtype)), [results])


__all__: list[str] = []
