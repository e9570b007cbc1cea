"""Ops that move elements around: reshape, transpose, broadcasting, joining, indexing.

All of them are linear (``linear = True``), so each jvp is the op itself
applied to the tangent and each bprop is the adjoint op: reshape back,
inverse transpose, sum over broadcast axes, slice, scatter-add.

Batching rules keep the batch axis first by moving each op's axes past it
(indexing probes numpy's own rule for where the batch axis lands, since
separated integer-array indices move their axes to the front).  Sparsity:
the structural ops copy elements, so the rule derived from ``structural``
(the op run on element numbers) is exact for them; ``sum_to`` and
``scatter_add`` (which adds repeated positions) state theirs.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import backend
from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from . import patterns
from .base import (AXES, AXIS, INDEX, SHAPE, Op, as_node, as_nodes, as_shape, normalize_axis,
                   translate_with_f)
from .batching import all_batched, expand_after_batch, shifted, with_params


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether numpy broadcasts ``small`` to exactly ``big``."""
    try:
        return np.broadcast_shapes(small, big) == tuple(big)
    except ValueError:
        return False


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=object))  # exact: no int64 overflow on absurd shapes


class ToShape(Op):
    """Base of the ops whose one parameter is the shape of their result.

    Those that are a numpy view (reshape, broadcast_to) name the numpy function
    ``np.<view>(x, shape)`` that computes them, in Python and compiled code.
    """

    abstract = True
    param_types = {"shape": SHAPE}
    to_sympy = translate_with_f
    view: str = ""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def infer(self, x):
        problem = self.problem(x)
        if problem:
            raise ShapeError(f"{self.name}: {problem}")
        return self.shape, x.dtype

    def problem(self, x: Node) -> str | None:
        """Why ``x`` cannot become ``self.shape`` (None when it can)."""
        raise NotImplementedError

    def f(self, x):
        return getattr(np, self.view)(x, self.shape)

    def emit(self, out, ins, ctx):
        return f"{out} = np.{self.view}({ins[0]}, {self.shape})"

    def emits_view(self):
        return bool(self.view)


# ---------------------------------------------------------------------------
# reshape / transpose
# ---------------------------------------------------------------------------

class Reshape(ToShape, view="reshape", linear=True, structural=True):
    def problem(self, x):
        if _size(self.shape) != x.size:
            return f"cannot reshape array of shape {x.shape} (size {x.size}) into shape {self.shape}"
        return None

    def bprop(self, inputs, out, g):
        return [reshape(g, inputs[0].shape)]

    def batch(self, inputs, batched):
        (x,) = inputs
        return reshape(x, x.shape[:1] + self.shape)


def reshape(x, shape) -> Node:
    """``x`` with a new shape of the same size; one dimension may be -1.

    The elements keep their C order, as ``np.reshape``; the gradient is the
    incoming gradient reshaped back, so a flat parameter vector can be viewed as a
    matrix at no cost.

    Examples
    --------
    >>> x = sg.variable("x", (2, 3))
    >>> y = sg.reshape(x, (3, -1))
    >>> y.shape
    (3, 2)
    >>> w = sg.constant([[0., 1.], [2., 3.], [4., 5.]])
    >>> sg.evaluate(sg.grad((y * w).sum(), x), {"x": np.ones((2, 3))})
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
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
    if shape == x.shape:
        return x
    if isinstance(x.op, Reshape):  # reshape of reshape is one reshape
        x = x.inputs[0]
        if x.shape == shape:
            return x
    return apply(Reshape(shape), [x])


class Transpose(Op):
    name = "transpose"
    param_types = {"axes": AXES}
    linear = structural = True
    cli = True
    to_sympy = translate_with_f

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def infer(self, x):
        if sorted(self.axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {self.axes} are not a permutation of the {x.ndim} "
                             f"axes of shape {x.shape}")
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
        return [transpose(g, tuple(int(i) for i in np.argsort(self.axes)))]

    def batch(self, inputs, batched):
        return transpose(inputs[0], (0,) + shifted(self.axes))


def transpose(x, axes: Sequence[int] | None = None) -> Node:
    """Permute axes (reverse them when ``axes`` is None), like ``np.transpose``.

    A permutation that only moves length-one axes is a reshape (so reshapes around it
    merge, and an identity stays recognisable to ``matmul``).  The gradient is the
    incoming gradient put back by the inverse permutation.

    Examples
    --------
    >>> batch = sg.variable("batch", (4, 2, 3))
    >>> sg.transpose(batch, (0, 2, 1)).shape
    (4, 3, 2)
    >>> x = sg.variable("x", (2, 3))
    >>> w = sg.constant([[0., 1.], [2., 3.], [4., 5.]])
    >>> sg.evaluate(sg.grad((sg.transpose(x) * w).sum(), x), {"x": np.ones((2, 3))})
    array([[0., 2., 4.],
           [1., 3., 5.]])
    """
    x = as_node(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    else:
        axes = tuple(axes)
        if len(normalize_axis(axes, x.ndim, "transpose")) != x.ndim:
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of shape {x.shape}")
        axes = tuple(int(a) % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    moved = [a for a in axes if x.shape[a] != 1]
    if moved == sorted(moved):  # only length-one axes move: the same elements, reshaped
        return reshape(x, tuple(x.shape[a] for a in axes))
    return apply(Transpose(axes), [x])


def swap_last(x: Node) -> Node:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, perm)


# ---------------------------------------------------------------------------
# broadcasting
# ---------------------------------------------------------------------------

class BroadcastTo(ToShape, name="broadcast_to", view="broadcast_to", linear=True, structural=True):
    def problem(self, x):
        if not _broadcasts(x.shape, self.shape):
            return f"cannot broadcast shape {x.shape} to shape {self.shape}"
        return None

    def bprop(self, inputs, out, g):
        return [sum_to(g, inputs[0].shape)]

    def batch(self, inputs, batched):
        """Length-one axes after the batch axis line each example up with ``shape``'s
        trailing axes, as numpy lines up the unbatched input."""
        x = expand_after_batch(inputs[0], len(self.shape))
        return broadcast_to(x, x.shape[:1] + self.shape)


def broadcast_to(x, shape) -> Node:
    """``x`` broadcast to ``shape`` (numpy rules); a no-op when shapes match.

    Its gradient sums the incoming gradient over the broadcast axes, the rule
    that makes a bias shared by every row of a batch receive the sum of their
    gradients.

    Examples
    --------
    >>> v = sg.variable("v", (3,))
    >>> b = sg.broadcast_to(v, (2, 3))
    >>> sg.evaluate(b, {"v": np.array([1., 2., 3.])})
    array([[1., 2., 3.],
           [1., 2., 3.]])
    >>> sg.evaluate(sg.grad(b.sum(), v), {"v": np.array([1., 2., 3.])})
    array([2., 2., 2.])
    """
    x = as_node(x)
    shape = as_shape(shape, "broadcast_to")
    return x if x.shape == shape else apply(BroadcastTo(shape), [x])


class SumTo(ToShape, name="sum_to", linear=True):
    """Sum a broadcast result back down to ``shape``: the adjoint of broadcasting."""

    def problem(self, x):
        if not _broadcasts(self.shape, x.shape):
            return f"shape {self.shape} does not broadcast to shape {x.shape}"
        return None

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
        return [broadcast_to(g, inputs[0].shape)]

    def batch(self, inputs, batched):
        """Sum to ``(B, 1, ..., 1) + shape`` (as many axes as the input: no leading axis,
        so the batch axis is never summed, even when B is 1), then drop the ones."""
        (x,) = inputs
        lead = x.ndim - 1 - len(self.shape)
        kept = sum_to(x, x.shape[:1] + (1,) * lead + self.shape)
        return reshape(kept, x.shape[:1] + self.shape)

    def sparsity(self, node):
        """Each output element depends on the input elements summed into it."""
        x = node.inputs[0]
        if not patterns.differentiable_input(x):
            return [None]
        return [patterns.along_axes(x.shape, self.axes(x.shape)[0])]


def sum_to(x, shape) -> Node:
    """Sum ``x`` over the axes along which ``shape`` was broadcast to ``x.shape``."""
    x = as_node(x)
    shape = as_shape(shape, "sum_to")
    return x if x.shape == shape else apply(SumTo(shape), [x])


# ---------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------

class Join(Op):
    """Base of concatenate and stack: ``np.<name>(inputs, axis)`` of one or more arrays."""

    abstract = True
    param_types = {"axis": AXIS}
    linear = structural = True
    to_sympy = translate_with_f

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, *xs):
        if not xs:
            raise SymgraphError(f"{self.name} needs at least one array")
        return self.joined_shape(xs), np.result_type(*[x.dtype for x in xs])

    def joined_shape(self, xs: Sequence[Node]) -> tuple[int, ...]:
        """The result's shape, or a ShapeError saying why the inputs do not join."""
        raise NotImplementedError

    def f(self, *xs):
        return getattr(np, self.name)(xs, axis=self.axis)

    def batch(self, inputs, batched):
        """Join along the axis moved past the batch axis; unbatched inputs are repeated
        along the batch (every example joins the same array)."""
        return apply(with_params(self, axis=shifted(self.axis)), all_batched(inputs, batched))

    def emit(self, out, ins, ctx):
        return f"{out} = np.{self.name}(({', '.join(ins)},), axis={self.axis})"


class Concatenate(Join):
    def joined_shape(self, xs):
        first = xs[0].shape
        if not 0 <= self.axis < len(first):
            raise ShapeError(f"concatenate: axis {self.axis} is out of range for shape {first}")
        for x in xs[1:]:
            if len(x.shape) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(first, x.shape)) if i != self.axis):
                raise ShapeError(f"concatenate: shapes {first} and {x.shape} differ outside "
                                 f"axis {self.axis}")
        shape = list(first)
        shape[self.axis] = int(np.sum([x.shape[self.axis] for x in xs]))
        return tuple(shape)

    def bprop(self, inputs, out, g, needs):
        rules, start = [], 0
        for x, need in zip(inputs, needs):
            stop = start + x.shape[self.axis]
            rules.append(getitem(g, (slice(None),) * self.axis + (slice(start, stop),))
                         if need else None)
            start = stop
        return rules


def concatenate(xs: Sequence, axis: int | None = 0) -> Node:
    """Join nodes along an existing axis (``axis=None``: flattened first, as numpy).

    Each input receives its own slice of the gradient, so features built from
    different pieces of a model can be joined and still differentiated.

    Examples
    --------
    >>> a = sg.variable("a", (2,))
    >>> c = sg.concatenate([a, a ** 2])
    >>> sg.evaluate(c, {"a": np.array([1., 3.])})
    array([1., 3., 1., 9.])
    >>> sg.evaluate(sg.grad(c.sum(), a), {"a": np.array([1., 3.])})
    array([3., 7.])
    """
    xs = as_nodes(*xs)
    if not xs:
        raise SymgraphError("concatenate needs at least one array")
    if axis is None:
        xs, axis = [reshape(x, (-1,)) for x in xs], 0
    if xs[0].ndim == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    (axis,) = normalize_axis(axis, xs[0].ndim, "concatenate")
    if len(xs) == 1:
        return xs[0]
    return apply(Concatenate(axis), xs)


class Stack(Join):
    def joined_shape(self, xs):
        if not 0 <= self.axis <= xs[0].ndim:
            raise ShapeError(f"stack: axis {self.axis} is out of range for stacking arrays of "
                             f"shape {xs[0].shape}")
        for x in xs[1:]:
            if x.shape != xs[0].shape:
                raise ShapeError(f"stack: all inputs need one shape, got {xs[0].shape} and {x.shape}")
        shape = list(xs[0].shape)
        shape.insert(self.axis, len(xs))
        return tuple(shape)

    def bprop(self, inputs, out, g, needs):
        return [getitem(g, (slice(None),) * self.axis + (i,)) if need else None
                for i, need in enumerate(needs)]


def stack(xs: Sequence, axis: int = 0) -> Node:
    """Join same-shaped nodes along a new axis.

    ``axis`` is where the new axis goes, as ``np.stack``; a list of scalar nodes
    stacked is a vector node that can be differentiated as a whole.

    Examples
    --------
    >>> a = sg.variable("a", (2,))
    >>> s = sg.stack([a, 2 * a], axis=1)
    >>> sg.evaluate(s, {"a": np.array([1., 3.])})
    array([[1., 2.],
           [3., 6.]])
    >>> sg.evaluate(sg.grad(s[:, 1].sum(), a), {"a": np.array([1., 3.])})
    array([2., 2.])
    """
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
            raise SymgraphError("indexing with a symbolic Node is not supported: index with a "
                                "numpy integer array, gather along an axis with node indices "
                                "by sg.take_along_axis (e.g. of sg.argsort or sg.argmax), "
                                "or select with sg.where")
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


class GetItem(Op):
    name = "getitem"
    param_types = {"index": INDEX}
    linear = structural = True
    to_sympy = translate_with_f

    def __init__(self, index: tuple) -> None:
        self.index = index

    def infer(self, x):
        return _indexed_shape(self.index, x.shape, "getitem"), x.dtype

    def f(self, x):
        return backend.getitem(x, self.index)

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}[{index_source(self.index, ctx)}]"

    def emits_view(self):
        return backend.is_basic_index(self.index)

    def bprop(self, inputs, out, g):
        return [apply(ScatterAdd(self.index, inputs[0].shape), [g])]

    def batch(self, inputs, batched):
        """Index past the batch axis; when numpy moves separated integer-array indices'
        axes to the front, the batch axis lands behind them and is moved back first."""
        (x,) = inputs
        index = (slice(None),) + self.index
        at = batch_position(index, x.shape[1:])
        out = apply(GetItem(index), [x])
        if at == 0:
            return out
        rest = [a for a in range(out.ndim) if a != at]
        return transpose(out, (at,) + tuple(rest))

    def describe(self) -> str:
        return f"[{_show_index(self.index)}]"


class ScatterAdd(Op):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of getitem."""

    name = "scatter_add"
    param_types = {"index": INDEX, "shape": SHAPE}
    linear = True
    to_sympy = translate_with_f

    def __init__(self, index: tuple, shape: tuple[int, ...]) -> None:
        self.index = index
        self.shape = shape

    def infer(self, g):
        selected = _indexed_shape(self.index, self.shape, "scatter_add")
        if selected != g.shape:
            raise ShapeError(f"scatter_add: index {_show_index(self.index)} selects shape "
                             f"{selected} from shape {self.shape}, but the input has shape {g.shape}")
        return self.shape, g.dtype

    def f(self, g):
        return backend.scatter_add(g, self.index, self.shape)

    def emit(self, out, ins, ctx):
        if backend.is_basic_index(self.index):
            write = f"{out}[{index_source(self.index, ctx)}] = {ins[0]}"
        else:
            write = f"np.add.at({out}, {index_source(self.index, ctx, subscript=False)}, {ins[0]})"
        return f"{out} = np.zeros({self.shape}, {ctx.dtype(ctx.node.dtype)})\n{write}"

    def bprop(self, inputs, out, g):
        return [getitem(g, self.index)]

    def batch(self, inputs, batched):
        """The mirror of getitem's rule: the batch axis of ``g`` goes where indexing the
        batched zeros past their batch axis puts it, then one scatter-add."""
        (g,) = inputs
        index = (slice(None),) + self.index
        at = batch_position(index, self.shape)
        if at:
            rest = list(range(1, g.ndim))
            g = transpose(g, tuple(rest[:at]) + (0,) + tuple(rest[at:]))
        return apply(ScatterAdd(index, g.shape[at:at + 1] + self.shape), [g])

    def sparsity(self, node):
        """Output element j depends on every input element added at j (positions may
        repeat: several inputs then feed one output)."""
        g = node.inputs[0]
        if not patterns.differentiable_input(g):
            return [None]
        gathered = patterns.index_map(backend.flat_positions(self.index, self.shape), node.size)
        return [gathered.T.tocsr()]  # the transpose of the gather that is its adjoint

    def describe(self) -> str:
        return f"scatter_add[{_show_index(self.index)}]"


def _indexed_shape(index: tuple, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """The shape ``index`` selects from an array of ``shape`` (numpy's own rules, no data)."""
    try:
        return np.broadcast_to(np.zeros((), np.int8), shape)[index].shape
    except (IndexError, ValueError, TypeError) as e:
        raise ShapeError(f"{what}: index {_show_index(index)} is invalid for shape {shape}: {e}") from None


def batch_position(index: tuple, shape: tuple[int, ...]) -> int:
    """Where the batch axis lands in ``x[index]`` for ``x`` of shape ``(B,) + shape`` and an
    ``index`` that starts with a full slice: 0, unless numpy moves separated integer-array
    indices' axes to the front.  Found by numpy's own rules (shapes only, no data): the one
    axis of the result whose length follows B."""
    one, two = (_indexed_shape(index, (b,) + tuple(shape), "batch") for b in (1, 2))
    return next(a for a, (p, q) in enumerate(zip(one, two)) if p != q)


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


__all__ = ["reshape", "transpose", "broadcast_to", "sum_to", "concatenate", "stack", "getitem"]
