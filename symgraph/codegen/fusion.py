"""Fusions: patterns of graph nodes that compiled code computes as one step.

Each rule looks at one node (the root of the pattern) and returns the fused op
and its input nodes, or None.  The nodes a rule absorbs must be used only by
the pattern (``view.single_use``), so nothing is computed twice.  Rules never
change the graph: they only decide what the generated source says.

* ``masked_gradient``: ``where(cond, g, 0)`` (the relu rule) as ``g * cond``,
  in place when ``g`` is dead; ``x > 0`` is read from ``relu(x)`` when that is
  computed anyway, so ``x`` itself can be freed after the forward pass.  Unlike
  ``where``, the product keeps a NaN/Inf of ``g`` where the mask is off.
* ``softmax_xent_gradient``: ``(softmax(z) - one_hot(labels)) * s`` as one
  buffer: softmax, subtract 1 at the labels (integer indexing), scale in place;
  ``one_hot_subtract`` does the middle step alone when the softmax is shared.
* ``sum_of_products``: ``sum(a * b)`` and ``sum(square(a))`` over all axes as
  ``np.vdot`` (no temporary array).
* ``scaled_product``: ``s * (c * x)`` with ``s`` one element and ``c`` a power
  of two as ``(s * c) * x``: one pass over ``x`` instead of two, and exact
  (scaling by a power of two never rounds).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..graph import Node
from ..ops.elementwise import Greater, Multiply, Relu, Square, Subtract, Where
from ..ops.nn import OneHot, Softmax, _softmax
from ..ops.reduce import Sum
from ..ops.shape import BroadcastTo, Reshape
from ..ops.sources import Constant, Fill


class FusedOp:
    """An op that exists only in compiled code (several graph nodes at once)."""

    name = "fused"
    elementwise = False
    emit_inplace = False

    def emits_view(self) -> bool:
        return False

    def describe(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<FusedOp {self.name}>"


class MaskedGradient(FusedOp):
    """``where(cond, g, 0)`` as ``g * cond``; with ``positive``, cond is ``x > 0`` of input 1."""

    name = "mask"
    elementwise = True
    emit_inplace = True

    def __init__(self, positive: bool) -> None:
        self.positive = positive

    def emit(self, out, ins, ctx):
        g, cond = ins
        if self.positive:
            cond = f"({cond} > 0)"
        if ctx.into == out == g:
            return f"{out} *= {cond}"
        if ctx.into:
            return ctx.bind(f"np.multiply({g}, {cond}, out={ctx.into})")
        return f"{out} = {g} * {cond}"


def _subtract_one_hot(d, labels):
    """d -= one_hot(labels) in place, by integer indexing (no one-hot array)."""
    c = d.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        d -= labels[..., None] == np.arange(c)  # out-of-range labels have an all-zero one-hot row
    elif labels.ndim == 1:
        d[np.arange(labels.shape[0]), labels] -= 1
    else:
        at = labels[..., None]
        np.put_along_axis(d, at, np.take_along_axis(d, at, -1) - 1, -1)
    return d


def _softmax_xent_grad(logits, labels, scale=None):
    """(softmax(logits) - one_hot(labels)) * scale over the last axis, in one buffer."""
    d = _subtract_one_hot(_softmax(logits, -1), labels)
    if scale is not None:
        d *= scale
    return d


class SoftmaxXentGradient(FusedOp):
    name = "xent_grad"

    def emit(self, out, ins, ctx):
        ctx.helper(_softmax)
        ctx.helper(_subtract_one_hot)
        return f"{out} = {ctx.helper(_softmax_xent_grad)}({', '.join(ins)})"


class OneHotSubtract(FusedOp):
    """``a - one_hot(labels)``: subtract 1 at the labels, in ``a``'s buffer when it is dead."""

    name = "sub_one_hot"
    emit_inplace = True

    def emit(self, out, ins, ctx):
        a, labels = ins
        fn = ctx.helper(_subtract_one_hot)
        if ctx.into == out == a:
            return f"{fn}({out}, {labels})"
        if ctx.into:
            return f"np.copyto({ctx.into}, {a})\n" + ctx.bind(f"{fn}({ctx.into}, {labels})")
        return f"{out} = {fn}(np.array({a}, dtype={ctx.dtype(ctx.node.dtype)}), {labels})"


class SumOfProducts(FusedOp):
    name = "vdot"

    def emit(self, out, ins, ctx):
        a, b = ins if len(ins) == 2 else (ins[0], ins[0])
        return f"{out} = np.vdot({a}, {b})"


class ScaledProduct(FusedOp):
    """``(s * c) * x`` for the pattern ``s * (c * x)``."""

    name = "scale"
    elementwise = True
    emit_inplace = True

    def emit(self, out, ins, ctx):
        s, c, x = ins
        if ctx.into == out == x:
            return f"{out} *= {s} * {c}"
        if ctx.into:
            return ctx.bind(f"np.multiply({s} * {c}, {x}, out={ctx.into})")
        return f"{out} = ({s} * {c}) * {x}"


# ---------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------

class GraphView:
    """What rules may ask about the graph being compiled."""

    def __init__(self, consumers: dict[Node, list[Node]], pinned: set[Node]) -> None:
        self.consumers = consumers
        self.pinned = pinned  # outputs and fed nodes: never absorbed

    def single_use(self, n: Node) -> bool:
        return n not in self.pinned and len(self.consumers.get(n, ())) == 1

    def computed(self, n: Node) -> bool:
        return n in self.consumers or n in self.pinned


def _scalar_value(n: Node):
    """The value of a one-element constant or fill node, else None."""
    if isinstance(n.op, Fill):
        return n.op.value
    if isinstance(n.op, Constant) and n.op.value.size == 1:
        return n.op.value.reshape(()).item()
    return None


def _is_zero(n: Node) -> bool:
    v = _scalar_value(n)
    return v is not None and v == 0


def masked_gradient(n: Node, view: GraphView):
    if type(n.op) is not Where:
        return None
    cond, g, zero = n.inputs
    if not _is_zero(zero) or n.dtype != g.dtype or g.dtype.kind not in "iufc":
        return None
    if type(cond.op) is Greater and view.single_use(cond) and _is_zero(cond.inputs[1]):
        x = cond.inputs[0]
        relu = next((c for c in view.consumers.get(x, ()) if type(c.op) is Relu), None)
        return MaskedGradient(True), [g, relu if relu is not None else x]
    return MaskedGradient(False), [g, cond]


def _residual(r: Node, view: GraphView):
    """(logits, labels) when ``r`` is softmax(logits) - one_hot(labels) over the last axis."""
    if type(r.op) is not Subtract:
        return None
    p, oh = r.inputs
    if not (type(p.op) is Softmax and type(oh.op) is OneHot and view.single_use(p)):
        return None
    if p.op.axis != p.ndim - 1 or not (p.shape == oh.shape == r.shape) or not (
            p.dtype == oh.dtype == r.dtype):
        return None
    return [p.inputs[0], oh.inputs[0]]


def softmax_xent_gradient(n: Node, view: GraphView):
    if type(n.op) is Subtract:
        found = _residual(n, view)
        return None if found is None else (SoftmaxXentGradient(), found)
    if type(n.op) is not Multiply:
        return None
    for r, s in (n.inputs, n.inputs[::-1]):
        if r.shape == n.shape and r.dtype == n.dtype and view.single_use(r):
            found = _residual(r, view)
            if found is not None:
                return SoftmaxXentGradient(), found + [s]
    return None


def one_hot_subtract(n: Node, view: GraphView):
    if type(n.op) is not Subtract:
        return None
    a, oh = n.inputs
    if (type(oh.op) is OneHot and view.single_use(oh) and a.shape == oh.shape == n.shape
            and a.dtype == oh.dtype == n.dtype):
        return OneHotSubtract(), [a, oh.inputs[0]]
    return None


def sum_of_products(n: Node, view: GraphView):
    if type(n.op) is not Sum or n.op.keepdims or len(n.op.axis) != n.inputs[0].ndim:
        return None
    m = n.inputs[0]
    if not view.single_use(m) or m.dtype.kind != "f" or n.dtype != m.dtype:
        return None
    if type(m.op) is Square:
        return SumOfProducts(), [m.inputs[0]]
    if type(m.op) is Multiply:
        a, b = m.inputs
        if a.shape == b.shape == m.shape and a.dtype == b.dtype == m.dtype:
            return SumOfProducts(), [a, b]
    return None


def _one_element(n: Node) -> bool:
    """True when ``n`` is one value broadcast (compiled code keeps it unbroadcast)."""
    while type(n.op) in (BroadcastTo, Reshape):
        n = n.inputs[0]
    return n.size == 1


def _power_of_two(n: Node) -> bool:
    v = _scalar_value(n)
    if v is None or isinstance(v, (bool, complex)) or not v or not math.isfinite(v):
        return False
    return math.frexp(abs(v))[0] == 0.5


def scaled_product(n: Node, view: GraphView):
    if type(n.op) is not Multiply or n.dtype.kind != "f":
        return None
    for s, m in (n.inputs, n.inputs[::-1]):
        if type(m.op) is Multiply and _one_element(s) and view.single_use(m):
            for c, x in (m.inputs, m.inputs[::-1]):
                if _power_of_two(c) and s.dtype == c.dtype == x.dtype == n.dtype:
                    return ScaledProduct(), [s, c, x]
    return None


RULES: list[Callable] = [masked_gradient, softmax_xent_gradient, one_hot_subtract, sum_of_products,
                         scaled_product]


def match(n: Node, view: GraphView):
    """The first rule's fusion rooted at ``n``: ``(fused op, input nodes)``, or None."""
    for rule in RULES:
        found = rule(n, view)
        if found is not None:
            return found
    return None
