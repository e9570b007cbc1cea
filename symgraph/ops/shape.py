"""Ops that move elements around: reshape, transpose, broadcasting, joining, indexing.

All of them are linear, so each bprop is the adjoint op (reshape back,
inverse transpose, sum over broadcast axes, slice, scatter-add) and each jvp
is the op itself applied to the tangent.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import backend
from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from .base import Op, as_node, as_nodes, as_shape, normalize_axis
from .sources import zeros_like


# ---------------------------------------------------------------------------
# reshape / transpose
# ---------------------------------------------------------------------------

class Reshape(Op):
    name = "reshape"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def infer(self, x):
        return self.shape, x.dtype

    def f(self, x):
        return np.reshape(x, self.shape)

    def emit(self, out, ins, ctx):
        return f"{out} = np.reshape({ins[0]}, {self.shape})"

    def emits_view(self):
        return True

    def bprop(self, inputs, out, g):
        return [lambda: reshape(g, inputs[0].shape)]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else reshape(tangents[0], self.shape)


def reshape(x, shape) -> Node:
    """``x`` with a new shape of the same size; one dimension may be -1."""
    x = as_node(x)
    shape = as_shape(shape, "reshape", allow_minus_one=True)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if len(unknown) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape: invalid target shape {shape} for input of shape {x.shape}")
    if unknown:
        if known == 0 or x.size % known:
            raise ShapeError(f"reshape: cannot reshape array of shape {x.shape} into shape {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                         f"into shape {shape}")
    if shape == x.shape:
        return x
    if isinstance(x.op, Reshape):  # reshape of reshape is one reshape
        x = x.inputs[0]
        if x.shape == shape:
            return x
    return apply(Reshape(shape), [x])


class Transpose(Op):
    name = "transpose"

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def infer(self, x):
        return tuple(x.shape[a] for a in self.axes), x.dtype

    def f(self, x):
        return np.transpose(x, self.axes)

    def emit(self, out, ins, ctx):
        if self.axes == (1, 0):
            return f"{out} = {ins[0]}.T"
        return f"{out} = np.transpose({ins[0]}, {self.axes})"

    def emits_view(self):
        return True

    def bprop(self, inputs, out, g):
        return [lambda: transpose(g, tuple(int(i) for i in np.argsort(self.axes)))]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else transpose(tangents[0], self.axes)


def transpose(x, axes: Sequence[int] | None = None) -> Node:
    """Permute axes (reverse them when ``axes`` is None), like ``np.transpose``."""
    x = as_node(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    else:
        axes = tuple(axes)
        if sorted(normalize_axis(axes, x.ndim, "transpose")) != list(range(x.ndim)) or len(axes) != x.ndim:
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of shape {x.shape}")
        axes = tuple(int(a) % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return apply(Transpose(axes), [x])


def swap_last(x: Node) -> Node:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, perm)


# ---------------------------------------------------------------------------
# broadcasting
# ---------------------------------------------------------------------------

class BroadcastTo(Op):
    name = "broadcast_to"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def infer(self, x):
        return self.shape, x.dtype

    def f(self, x):
        return np.broadcast_to(x, self.shape)

    def emit(self, out, ins, ctx):
        return f"{out} = np.broadcast_to({ins[0]}, {self.shape})"

    def emits_view(self):
        return True

    def bprop(self, inputs, out, g):
        return [lambda: sum_to(g, inputs[0].shape)]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else broadcast_to(tangents[0], self.shape)


def broadcast_to(x, shape) -> Node:
    """``x`` broadcast to ``shape`` (numpy rules); a no-op when shapes match."""
    x = as_node(x)
    shape = as_shape(shape, "broadcast_to")
    try:
        ok = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to shape {shape}")
    return x if x.shape == shape else apply(BroadcastTo(shape), [x])


class SumTo(Op):
    """Sum a broadcast result back down to ``shape``: the adjoint of broadcasting."""

    name = "sum_to"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def infer(self, x):
        return self.shape, x.dtype

    def axes(self, in_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        lead = len(in_shape) - len(self.shape)
        ones = tuple(lead + i for i, s in enumerate(self.shape) if s == 1 and in_shape[lead + i] != 1)
        return tuple(range(lead)) + ones, lead

    def f(self, x):
        axes, lead = self.axes(np.shape(x))
        out = np.sum(x, axis=axes, keepdims=True) if axes else x
        return np.reshape(out, self.shape)

    def emit(self, out, ins, ctx):
        in_shape = ctx.node.inputs[0].shape
        axes, lead = self.axes(in_shape)
        if not axes:
            return f"{out} = np.reshape({ins[0]}, {self.shape})"
        dtype = ""
        if ctx.default_dtype("np.sum", ctx.in_dtypes[0], axes) != ctx.node.dtype:
            dtype = f", dtype={ctx.dtype(ctx.node.dtype)}"
        if all(a < lead for a in axes):  # only leading axes: no reshape needed
            return f"{out} = np.sum({ins[0]}, axis={ctx.axis(axes)}{dtype})"
        return (f"{out} = np.sum({ins[0]}, axis={ctx.axis(axes)}, keepdims=True{dtype})"
                f".reshape({self.shape})")

    def bprop(self, inputs, out, g):
        return [lambda: broadcast_to(g, inputs[0].shape)]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else sum_to(tangents[0], self.shape)


def sum_to(x, shape) -> Node:
    """Sum ``x`` over the axes along which ``shape`` was broadcast to ``x.shape``."""
    x = as_node(x)
    shape = as_shape(shape, "sum_to")
    if x.shape == shape:
        return x
    try:
        ok = np.broadcast_shapes(x.shape, shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"sum_to: shape {shape} does not broadcast to shape {x.shape}")
    return apply(SumTo(shape), [x])


# ---------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------

class Concatenate(Op):
    name = "concatenate"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, *xs):
        first = xs[0].shape
        for x in xs[1:]:
            if len(x.shape) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(first, x.shape)) if i != self.axis):
                raise ShapeError(f"concatenate: shapes {first} and {x.shape} differ outside "
                                 f"axis {self.axis}")
        shape = list(first)
        shape[self.axis] = int(np.sum([x.shape[self.axis] for x in xs]))
        return tuple(shape), np.result_type(*[x.dtype for x in xs])

    def f(self, *xs):
        return np.concatenate(xs, axis=self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = np.concatenate(({', '.join(ins)},), axis={self.axis})"

    def bprop(self, inputs, out, g):
        rules, start = [], 0
        for x in inputs:
            stop = start + x.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            rules.append(lambda index=index: getitem(g, index))
            start = stop
        return rules

    def jvp(self, inputs, out, tangents):
        if all(t is None for t in tangents):
            return None
        parts = [zeros_like(x) if t is None else t for x, t in zip(inputs, tangents)]
        return concatenate(parts, self.axis)


def concatenate(xs: Sequence, axis: int = 0) -> Node:
    """Join nodes along an existing axis."""
    xs = as_nodes(*xs)
    if not xs:
        raise SymgraphError("concatenate needs at least one array")
    if xs[0].ndim == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    (axis,) = normalize_axis(axis, xs[0].ndim, "concatenate")
    if len(xs) == 1:
        return xs[0]
    return apply(Concatenate(axis), xs)


class Stack(Op):
    name = "stack"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, *xs):
        for x in xs[1:]:
            if x.shape != xs[0].shape:
                raise ShapeError(f"stack: all inputs need one shape, got {xs[0].shape} and {x.shape}")
        shape = list(xs[0].shape)
        shape.insert(self.axis, len(xs))
        return tuple(shape), np.result_type(*[x.dtype for x in xs])

    def f(self, *xs):
        return np.stack(xs, axis=self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = np.stack(({', '.join(ins)},), axis={self.axis})"

    def bprop(self, inputs, out, g):
        return [(lambda i=i: getitem(g, (slice(None),) * self.axis + (i,)))
                for i in range(len(inputs))]

    def jvp(self, inputs, out, tangents):
        if all(t is None for t in tangents):
            return None
        return stack([zeros_like(x) if t is None else t for x, t in zip(inputs, tangents)], self.axis)


def stack(xs: Sequence, axis: int = 0) -> Node:
    """Join same-shaped nodes along a new axis."""
    xs = as_nodes(*xs)
    if not xs:
        raise SymgraphError("stack needs at least one array")
    (axis,) = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return apply(Stack(axis), xs)


# ---------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------

def normalize_index(index: Any, shape: tuple[int, ...]) -> tuple:
    """A canonical tuple index: ints, slices, None, Ellipsis and int64 arrays.

    Boolean masks become integer arrays (``np.nonzero``) so every result shape
    is known when the node is built.
    """
    if not isinstance(index, tuple):
        index = (index,)
    out: list = []
    for item in index:
        if isinstance(item, Node):
            raise SymgraphError("indexing with a symbolic Node is not supported; "
                                "use a numpy integer array or sg.where")
        if item is None or item is Ellipsis or isinstance(item, slice):
            if isinstance(item, slice):
                item = slice(*(None if v is None else _as_int(v) for v in (item.start, item.stop, item.step)))
            out.append(item)
        elif isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, (bool, np.bool_)):
            out.append(int(item))
        else:
            arr = np.asarray(item)
            if arr.dtype == np.bool_:
                out.extend(np.nonzero(arr))
            elif arr.dtype.kind in "iu":
                out.append(arr.astype(np.int64))
            else:
                raise SymgraphError(f"invalid index {item!r}: only ints, slices, None, Ellipsis "
                                    "and integer or boolean arrays are allowed")
    return tuple(out)


def _as_int(v: Any) -> int:
    if isinstance(v, (numbers.Integral, np.integer)):
        return int(v)
    raise SymgraphError(f"slice bounds must be ints or None, got {v!r}")


_is_basic = backend.is_basic_index  # the test moved to backend; this name stays for importers


class GetItem(Op):
    name = "getitem"

    def __init__(self, index: tuple) -> None:
        self.index = index

    def infer(self, x):
        try:
            probe = np.broadcast_to(np.zeros((), x.dtype), x.shape)[self.index]
        except IndexError as e:
            raise ShapeError(f"getitem: index {_show_index(self.index)} is invalid for shape "
                             f"{x.shape}: {e}") from None
        return probe.shape, x.dtype

    def f(self, x):
        return backend.getitem(x, self.index)

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}[{index_source(self.index, ctx)}]"

    def emits_view(self):
        return _is_basic(self.index)

    def bprop(self, inputs, out, g):
        return [lambda: apply(ScatterAdd(self.index, inputs[0].shape), [g])]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else getitem(tangents[0], self.index)

    def describe(self) -> str:
        return f"[{_show_index(self.index)}]"


class ScatterAdd(Op):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of getitem."""

    name = "scatter_add"

    def __init__(self, index: tuple, shape: tuple[int, ...]) -> None:
        self.index = index
        self.shape = shape

    def infer(self, g):
        return self.shape, g.dtype

    def f(self, g):
        return backend.scatter_add(g, self.index, self.shape)

    def emit(self, out, ins, ctx):
        if _is_basic(self.index):
            write = f"{out}[{index_source(self.index, ctx)}] = {ins[0]}"
        else:
            write = f"np.add.at({out}, {index_source(self.index, ctx, subscript=False)}, {ins[0]})"
        return f"{out} = np.zeros({self.shape}, {ctx.dtype(ctx.node.dtype)})\n{write}"

    def bprop(self, inputs, out, g):
        return [lambda: getitem(g, self.index)]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else apply(ScatterAdd(self.index, self.shape), [t])

    def describe(self) -> str:
        return f"scatter_add[{_show_index(self.index)}]"


def _show_index(index: tuple) -> str:
    parts = []
    for i in index:
        if i is None:
            parts.append("None")
        elif i is Ellipsis:
            parts.append("...")
        elif isinstance(i, slice):
            parts.append(_show_slice(i))
        elif isinstance(i, np.ndarray):
            parts.append(f"int{list(i.shape)}" if i.size > 4 else str(i.tolist()))
        else:
            parts.append(str(i))
    return ", ".join(parts)


def _show_slice(s: slice) -> str:
    """``1:``, ``:3``, ``::2`` as numpy spells them (``1:`` is not ``[1]``)."""
    text = ("" if s.start is None else str(s.start)) + ":" + ("" if s.stop is None else str(s.stop))
    return text if s.step is None else f"{text}:{s.step}"


def index_source(index: tuple, ctx, subscript: bool = True) -> str:
    """``index`` as source: ``1:3, None, ...`` inside brackets (``subscript``), else as a
    tuple expression; integer arrays become named constants."""
    parts = []
    for i in index:
        if isinstance(i, slice):
            bounds = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            if subscript:
                parts.append(":".join(bounds if i.step is not None else bounds[:2]))
            else:
                parts.append(f"slice({', '.join(b or 'None' for b in bounds)})")
        elif i is None:
            parts.append("None")
        elif i is Ellipsis:
            parts.append("..." if subscript else "Ellipsis")
        elif isinstance(i, np.ndarray):
            parts.append(ctx.const(i))
        else:
            parts.append(str(int(i)))
    if subscript:
        return ", ".join(parts) if parts else "()"
    return f"({', '.join(parts)},)" if parts else "()"


def getitem(x, index) -> Node:
    """numpy indexing with ints, slices, None, Ellipsis and integer/boolean arrays."""
    x = as_node(x)
    index = normalize_index(index, x.shape)
    if len(index) <= x.ndim and all(
            i is Ellipsis or (isinstance(i, slice) and i == slice(None)) for i in index):
        return x
    return apply(GetItem(index), [x])
