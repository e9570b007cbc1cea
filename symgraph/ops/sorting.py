"""Sorting: sort (its derivative routes each cotangent back to the element it came from).

``sort(x)`` is ``take_along(x, argsort(x))``: locally a fixed permutation of
``x``, so its jvp takes the tangent along the same permutation and its bprop
puts the cotangent back (``put_along``).  The permutation is data, known only
at run time, so it is a node (``argsort``, no gradient) feeding the two
internal ops ``take_along``/``put_along``, each linear in its first input and
the other's adjoint.  At ties sort has a kink; the derivative is then that
of the permutation numpy's argsort returns: its default (fast) one, or the
stable one (tied elements keep their input order) for ``kind="stable"``.
A stable argsort costs about 7 times the default one on float64.

numpy's sort has no dask version (dask has only ``topk``): these ops raise
``BackendError`` on dask arrays rather than compute them whole.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import backend
from ..errors import BackendError, DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from . import patterns
from .base import AXIS, BOOL, NO_SYMPY, SHAPE, Op, as_node, normalize_axis
from .batching import all_batched, batch_size, with_params
from .shape import reshape

#: the sort algorithms numpy names (``mergesort`` and ``stable`` are stable)
KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _refuse_foreign(op: Op, numpy_name: str, *arrays: Any) -> None:
    """``numpy_name`` would compute a lazy (dask) array whole: say so instead."""
    for a in arrays:
        if backend.is_foreign(a):
            raise BackendError(f"{op.name}: {numpy_name} has no {backend.family_of(a)} version "
                               f"(got a {backend.type_name(a)}); evaluate on numpy arrays")


def lane_pattern(out_shape: tuple[int, ...], in_shape: tuple[int, ...], axis: int) -> Any:
    """Each output element depends on the whole lane of the input along ``axis`` through
    its own position (the shapes agree except along ``axis``): the dependence of an op
    that moves elements along an axis by value (a sort, a gather from a node)."""
    return (patterns.along_axes(out_shape, (axis,)).T
            @ patterns.along_axes(in_shape, (axis,))).tocsr()


def _check_axis(op: Op, ndim: int) -> None:
    if not 0 <= op.axis < ndim:
        raise ShapeError(f"{op.name}: axis {op.axis} is out of range for an array of {ndim} "
                         "dimensions")


# ---------------------------------------------------------------------------
# gathering and scattering along an axis with indices from a node
# ---------------------------------------------------------------------------

class AlongIndices(Op):
    """Base of take_along and put_along: input 0 moves along ``axis`` to or from the
    positions in input 1, an integer node of input 0's shape but along ``axis``."""

    abstract = True

    def check(self, values: Node, indices: Node, full: tuple[int, ...]) -> None:
        """ShapeError/DTypeError unless ``indices`` fit ``values`` and the full array's shape."""
        if indices.dtype.kind not in "iu":
            raise DTypeError(f"{self.name}: indices must be integers, got dtype {indices.dtype}")
        _check_axis(self, len(full))
        other = [s for i, s in enumerate(full) if i != self.axis]
        if (indices.shape != values.shape or len(indices.shape) != len(full)
                or [s for i, s in enumerate(indices.shape) if i != self.axis] != other):
            raise ShapeError(f"{self.name}: values {values.shape} and indices {indices.shape} "
                             f"must have one shape, that of {full} except along axis {self.axis}")

    def grid(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """An open grid (``np.ix_``) over ``shape``: with the indices put in along ``axis``,
        the numpy index that addresses the positions."""
        return list(np.ix_(*[np.arange(n) for n in shape]))

    def batch(self, inputs, batched):
        """Both inputs with the batch axis (an unbatched one broadcast), the axis moved past
        it: B gathers or scatters in one op."""
        changes = {"axis": self.axis + 1}
        if "shape" in self.param_types:
            changes["shape"] = (batch_size(inputs, batched),) + self.shape
        return apply(with_params(self, **changes), all_batched(inputs, batched))

    def positions(self, node: Node, full: tuple[int, ...]) -> np.ndarray | None:
        """The flat positions in an array of shape ``full`` that the indices address, when
        they are a constant (None otherwise); negative indices count from the end."""
        from .sources import Constant

        indices = node.inputs[1]
        if not isinstance(indices.op, Constant) or full[self.axis] == 0:
            return None
        index = self.grid(indices.shape)
        index[self.axis] = np.asarray(indices.op.value, dtype=np.int64) % full[self.axis]
        return np.ravel_multi_index(tuple(index), full).reshape(indices.shape)


class TakeAlong(AlongIndices):
    """``np.take_along_axis(x, indices, axis)`` with indices from a node (no broadcasting).
    Linear in ``x``; no gradient flows to the indices."""

    name = "take_along"
    param_types = {"axis": AXIS}
    linear_in = (0,)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, x, indices):
        self.check(indices, indices, x.shape)
        return indices.shape, x.dtype

    def f(self, x, indices):
        _refuse_foreign(self, "np.take_along_axis", x, indices)
        return np.take_along_axis(x, indices, self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = np.take_along_axis({ins[0]}, {ins[1]}, {self.axis})"

    def sparsity(self, node):
        """Exact for constant indices (each output copies one element), else the whole lane."""
        x = node.inputs[0]
        if not patterns.differentiable_input(x):
            return [None, None]
        pos = self.positions(node, x.shape)
        if pos is not None:
            return [patterns.index_map(pos, x.size), None]
        return [lane_pattern(node.shape, x.shape, self.axis), None]

    def bprop(self, inputs, out, g, needs):
        x, indices = inputs
        return [apply(PutAlong(self.axis, x.shape), [g, indices]) if needs[0] else None, None]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else apply(self, [t, inputs[1]])

    def to_sympy(self, bridge, node, x, indices):
        return self.f(x, bridge.integer_labels(node, indices, self.name))


class PutAlong(AlongIndices):
    """Zeros of ``shape`` with ``g`` added along ``axis`` at ``indices`` (repeats
    accumulate): the adjoint of ``take_along``, linear in ``g``.

    ``unique`` says the indices are a permutation along the axis (sort's), so
    each position is written once: a plain assignment, several times faster
    than ``np.add.at``.
    """

    name = "put_along"
    param_types = {"axis": AXIS, "shape": SHAPE, "unique": BOOL}
    linear_in = (0,)

    def __init__(self, axis: int, shape: tuple[int, ...], unique: bool = False) -> None:
        self.axis = axis
        self.shape = shape
        self.unique = unique

    def infer(self, g, indices):
        self.check(g, indices, self.shape)
        return self.shape, g.dtype

    def f(self, g, indices):
        _refuse_foreign(self, "np.add.at", g, indices)
        out = np.zeros(self.shape, dtype=g.dtype)
        if self.unique:
            np.put_along_axis(out, indices, g, self.axis)
            return out
        index = self.grid(np.shape(indices))
        index[self.axis] = indices
        np.add.at(out, tuple(index), g)
        return out

    def emit(self, out, ins, ctx):
        zeros = f"{out} = np.zeros({self.shape}, {ctx.dtype(ctx.node.dtype)})"
        if self.unique:
            return f"{zeros}\nnp.put_along_axis({out}, {ins[1]}, {ins[0]}, {self.axis})"
        grid = [ins[1] if k == self.axis else ctx.const(g)
                for k, g in enumerate(self.grid(ctx.node.inputs[1].shape))]
        return f"{zeros}\nnp.add.at({out}, ({', '.join(grid)},), {ins[0]})"

    def sparsity(self, node):
        """Exact for constant indices (each ``g`` element lands in one place), else the
        whole lane."""
        g = node.inputs[0]
        if not patterns.differentiable_input(g):
            return [None, None]
        pos = self.positions(node, self.shape)
        if pos is not None:
            return [patterns.index_map(pos, node.size).T.tocsr(), None]
        return [lane_pattern(self.shape, g.shape, self.axis), None]

    def bprop(self, inputs, out, g, needs):
        return [apply(TakeAlong(self.axis), [g, inputs[1]]) if needs[0] else None, None]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else apply(self, [t, inputs[1]])

    def to_sympy(self, bridge, node, g, indices):
        return self.f(g, bridge.integer_labels(node, indices, self.name))


# ---------------------------------------------------------------------------
# sort and argsort
# ---------------------------------------------------------------------------

class Sort(Op):
    """``np.sort(x, axis)``; the derivative is that of the permutation ``argsort`` gives
    (numpy's stable one with ``stable``, else its default one)."""

    name = "sort"
    param_types = {"axis": AXIS, "stable": BOOL}
    selects = True
    #: locally a fixed permutation: its second derivative is zero wherever it exists (the
    #: symbolic one too: the permutation comes from argsort), so it adds no curvature
    linear_in = (0,)
    to_sympy = NO_SYMPY  # sympy cannot order symbolic expressions

    def __init__(self, axis: int, stable: bool = False) -> None:
        self.axis = axis
        self.stable = stable

    def infer(self, x):
        _check_axis(self, x.ndim)
        return x.shape, x.dtype

    def f(self, x):
        _refuse_foreign(self, "np.sort", x)
        return np.sort(x, axis=self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = np.sort({ins[0]}, axis={self.axis})"

    def batch(self, inputs, batched):
        return apply(with_params(self, axis=self.axis + 1), list(inputs))

    def sparsity(self, node):
        """Which element lands where depends on the values: every output reads its lane."""
        x = node.inputs[0]
        return [lane_pattern(x.shape, x.shape, self.axis) if patterns.differentiable_input(x)
                else None]

    def permutation(self, x: Node) -> Node:
        return apply(Argsort(self.axis, self.stable), [x])

    def bprop(self, inputs, out, g):
        (x,) = inputs
        return [apply(PutAlong(self.axis, x.shape, unique=True), [g, self.permutation(x)])]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else apply(TakeAlong(self.axis), [t, self.permutation(inputs[0])])


class Argsort(Op):
    """``np.argsort(x, axis)`` as int64 (no gradient); ``stable`` keeps ties in input order."""

    name = "argsort"
    param_types = {"axis": AXIS, "stable": BOOL}
    differentiable = False
    to_sympy = NO_SYMPY

    def __init__(self, axis: int, stable: bool) -> None:
        self.axis = axis
        self.stable = stable

    def infer(self, x):
        _check_axis(self, x.ndim)
        return x.shape, np.dtype(np.int64)

    def f(self, x):
        _refuse_foreign(self, "np.argsort", x)
        return np.argsort(x, axis=self.axis, kind="stable" if self.stable else None
                          ).astype(np.int64, copy=False)

    def emit(self, out, ins, ctx):
        kind = ", kind='stable'" if self.stable else ""
        return f"{out} = np.argsort({ins[0]}, axis={self.axis}{kind})"

    def batch(self, inputs, batched):
        return apply(with_params(self, axis=self.axis + 1), list(inputs))


def _is_stable(kind: Any, stable: Any, what: str) -> bool:
    """numpy's ``kind``/``stable`` arguments as one bool (whether ties keep their order)."""
    if kind is not None and stable is not None:
        raise SymgraphError(f"{what}: give kind or stable, not both")
    if stable is not None:
        if not isinstance(stable, (bool, np.bool_)):
            raise SymgraphError(f"{what}: stable must be a bool or None, got {stable!r:.40}")
        return bool(stable)
    if kind is not None and kind not in KINDS:
        raise SymgraphError(f"{what}: kind must be one of {KINDS} or None, got {kind!r:.40}")
    return kind in ("mergesort", "stable")


def _sort_axis(x: Node, axis: Any, what: str) -> tuple[Node, int]:
    """``x`` (flattened when ``axis`` is None) and the axis to sort along, non-negative."""
    if axis is None:
        return reshape(x, (-1,)), 0
    if not isinstance(axis, (numbers.Integral, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise SymgraphError(f"{what}: axis must be None or an int, got {axis!r:.40}")
    (a,) = normalize_axis(int(axis), x.ndim, what)
    return x, a


def sort(x, axis: int | None = -1, kind: str | None = None, *, stable: bool | None = None) -> Node:
    """numpy's ``sort``: ``x`` sorted ascending along ``axis`` (None: flattened first).

    The derivative moves each (co)tangent with its element, so losses on order
    statistics (the top k, a trimmed mean) are differentiable.  At ties (a kink)
    it is that of the permutation ``argsort(x, kind=kind, stable=stable)``
    gives: with ``kind="stable"`` (or ``stable=True``) tied elements keep
    their input order; by default it is numpy's fast, unstable order.  The
    sorted values do not depend on ``kind``.  NaNs sort
    last, as in numpy.  Not available on dask arrays (``BackendError``).

    Examples
    --------
    The sum of the two largest elements, and which elements it depends on:

    >>> x = sg.variable("x", (3,))
    >>> top2 = sg.sort(x)[-2:].sum()
    >>> sg.evaluate([top2, sg.grad(top2, x)], {"x": np.array([3., 1., 2.])})
    [array(5.), array([1., 0., 1.])]
    """
    x = as_node(x)
    is_stable = _is_stable(kind, stable, "sort")
    x, a = _sort_axis(x, axis, "sort")
    if x.shape[a] <= 1:
        return x
    return apply(Sort(a, is_stable), [x])


def argsort(x, axis: int | None = -1, kind: str | None = None, *,
            stable: bool | None = None) -> Node:
    """numpy's ``argsort``: int64 indices that sort ``x`` along ``axis`` (None: flattened).

    No gradient flows (the result is piecewise constant); pass the indices to
    ``take_along_axis`` to reorder other arrays, or ``x`` itself differentiably.
    ``kind='stable'`` (or ``'mergesort'``, or ``stable=True``) keeps tied
    elements in input order; otherwise ties come in numpy's default order.  A 0-d
    ``x`` is sorted as a 1-element vector, as numpy does.  Not available on dask
    arrays.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> sg.evaluate(sg.argsort(x, stable=True), {"x": np.array([2., 1., 2.])})
    array([1, 0, 2])
    """
    x = as_node(x)
    is_stable = _is_stable(kind, stable, "argsort")
    if x.ndim == 0:
        x = reshape(x, (1,))
    x, a = _sort_axis(x, axis, "argsort")
    return apply(Argsort(a, is_stable), [x])


__all__ = ["sort", "argsort"]
