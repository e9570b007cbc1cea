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
    structural = False
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
        part = results.op.result_avals(results)[self.index]
        return apply(Item(self.index, part[0], part[1]), [results])

    def sparsity(self, node):
        return [DENSE]


def item(results: Node, index: int) -> Node:
    """Part ``index`` of the ``multiple_results`` node ``results``."""
    shape, dtype = results.op.result_avals(results)[index]
    return apply(Item(index, tuple(shape), np.dtype(dtype)), [results])


__all__: list[str] = []
