"""The compiler's own view of a graph: one Value per computed node, after fusions.

Lowering reads the graph and never changes it.  It keeps only the nodes the
outputs need, applies the fusion rules, and drops ``broadcast_to`` nodes: an
argument is a ``Ref`` to a value plus the shape its consumer expects, so an
elementwise consumer can use the value before it is broadcast (numpy
broadcasts anyway) and only other consumers see ``np.broadcast_to``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from ..traversal import ancestors
from ..errors import MissingInputError
from ..graph import Node
from ..ops.base import Op
from ..ops.shape import BroadcastTo
from ..ops.sources import Constant, Full
from ..ops.folding import FOLD_MAX_INPUT_SIZE, FOLD_MAX_SIZE, fold_value
from . import fusion


def has_emit(op: Any) -> bool:
    """Whether compiled code computes ``op`` with its own ``emit`` (built-in and fused ops)
    rather than by calling its ``f`` (users' ops, which may alias inputs or be impure)."""
    return isinstance(op, fusion.FusedOp) or (isinstance(op, Op) and type(op).emit is not Op.emit)


class Ref:
    """An argument: ``value``, wanted by its consumer with ``shape``."""

    __slots__ = ("value", "shape")

    def __init__(self, value: Value, shape: tuple[int, ...]) -> None:
        self.value = value
        self.shape = shape

    def __repr__(self) -> str:
        return f"Ref({self.value!r}, {self.shape})"


class Value:
    """One value of the compiled function: a parameter, a constant or an op's result.

    ``shape`` is the shape the generated code actually computes, which for
    elementwise results of broadcast inputs may be smaller than ``node.shape``
    (it always broadcasts to it).
    """

    __slots__ = ("node", "op", "args", "kind", "shape", "copy_of", "index")

    def __init__(self, node: Node, op: Any, args: list[Ref], kind: str) -> None:
        self.node = node
        self.op = op
        self.args = args
        self.kind = kind  # "param" | "const" | "op"
        self.shape = node.shape
        self.copy_of: Value | None = None  # set on recomputed copies
        self.index = -1

    @property
    def dtype(self):
        return self.node.dtype

    @property
    def elementwise(self) -> bool:
        """An elementwise op's value: it may be computed on inputs not broadcast yet (a user
        op that sets ``elementwise`` too: its ``f`` gets the unbroadcast inputs)."""
        return self.kind == "op" and bool(getattr(self.op, "elementwise", False))

    def __repr__(self) -> str:
        what = self.kind if self.kind != "op" else getattr(self.op, "name", "?")
        return f"<Value #{self.node.id} {what} {self.shape}>"


class Program:
    """Lowered values (topologically ordered), parameters and output refs."""

    def __init__(self, values: list[Value], params: list[Value], outputs: list[Ref]) -> None:
        self.values = values
        self.params = params
        self.outputs = outputs


def _unbroadcast(n: Node, fed: set[Node]) -> Node:
    while isinstance(n.op, BroadcastTo) and n not in fed:
        n = n.inputs[0]
    return n


def lower(outputs: Sequence[Node], inputs: Sequence[Node], fuse: bool = True) -> Program:
    """Lower ``outputs`` computed from ``inputs`` to a Program (fusing unless ``fuse`` is False)."""
    fed = set(inputs)
    order = ancestors(outputs, stop=fed)
    missing = [n for n in order if n.op.is_variable and n not in fed]
    if missing:
        names = ", ".join(repr(v.name) for v in missing)
        raise MissingInputError(f"missing value for variable {names}: add it to the function's "
                                "inputs")
    consumers: dict[Node, list[Node]] = {}
    for n in order:
        if n not in fed:
            for i in n.inputs:
                consumers.setdefault(i, []).append(n)
    view = fusion.GraphView(consumers, set(outputs) | fed)

    plans: dict[Node, tuple[Any, list[Node], str]] = {}
    needed = {_unbroadcast(o, fed) for o in outputs}
    for n in reversed(order):
        if n not in needed:
            continue
        if n in fed:
            plans[n] = (None, [], "param")
            continue
        if isinstance(n.op, (Constant, Full)):
            plans[n] = (n.op, [], "const")
            continue
        found = fusion.match(n, view) if fuse else None
        op, args = found if found is not None else (n.op, list(n.inputs))
        plans[n] = (op, args, "op")
        needed.update(_unbroadcast(a, fed) for a in args)

    values: dict[Node, Value] = {}
    plain: dict[Value, Ref] = {}  # one Ref per value for its own shape (most arguments)

    def ref(a: Node, base: Node) -> Ref:  # base: a without its broadcasts
        v = values[base]
        if a.shape != v.node.shape:
            return Ref(v, a.shape)
        r = plain.get(v)
        if r is None:
            r = plain[v] = Ref(v, a.shape)
        return r

    for root in order:
        if root in values or root not in plans:
            continue
        # A fusion may read a node built after its root (sort reads the argsort its
        # gradient made): such a node's value is made first, so values stay in order.
        stack = [root]
        while stack:
            n = stack[-1]
            op, args, kind = plans[n]
            bases = [_unbroadcast(a, fed) for a in args]
            later = [b for b in bases if b not in values]
            if later:
                stack.extend(later)
                continue
            stack.pop()
            if n not in values:
                values[n] = Value(n, op, [ref(a, b) for a, b in zip(args, bases)], kind)
    if fuse:  # outputs stay fresh arrays, as the evaluator returns them
        returned = {values[_unbroadcast(o, fed)] for o in outputs}
        _fold_constants(v for v in values.values() if v not in returned)
    params = [values[n] for n in inputs if n in values]
    outs = [ref(o, _unbroadcast(o, fed)) for o in outputs]
    prog = Program(list(values.values()), params, outs)
    for k, v in enumerate(prog.values):
        v.index = k
    return prog


def _fold_constants(values: Iterable[Value]) -> None:
    """Compute built-in ops whose inputs are all constants while compiling, with the one
    constant folder (``ops.folding.fold_value``: their own ``f``, so the values are the
    evaluator's) and its size limits; failures wait for run time."""
    for v in values:
        if (v.kind != "op" or not v.args or v.op is not v.node.op or not has_emit(v.op)
                or getattr(v.op, "multiple_results", False)):
            continue  # fused values, users' ops (which might not be pure), loops: at run time
        if (not all(r.value.kind == "const" for r in v.args) or v.node.size > FOLD_MAX_SIZE
                or sum(math.prod(r.shape) for r in v.args) > FOLD_MAX_INPUT_SIZE):
            continue
        args = []
        for r in v.args:
            op = r.value.op
            value = op.value if isinstance(op, Constant) else np.full(r.value.node.shape, op.value,
                                                                      r.value.dtype)
            args.append(np.broadcast_to(value, r.shape) if value.shape != r.shape else value)
        result = fold_value(v.op, args, v.node.shape, v.node.dtype)
        if result is None:
            continue
        result = np.array(result)  # its own read-only copy (f may return a view of a constant)
        result.setflags(write=False)
        v.op, v.args, v.kind = Constant(result), [], "const"
