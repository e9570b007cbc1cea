"""Reductions along one axis that keep it: cumsum, cumprod, diff.

cumprod's derivatives never divide by the input, so they are right where
elements are zero (one or several, at any order of differentiation): the
rules are the tangent of a Hillis-Steele prefix product written with
symgraph ops (getitem, concatenate, multiply, add), the way JAX
differentiates ``cumprod`` through its associative scan.  The naive rule
``cumsum(g * out, reversed) / x`` is 0/0 at a zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from . import patterns
from .base import AXIS, Op, as_node, holds_node, normalize_axis, result_dtype, translate_with_f
from .batching import with_params
from .elementwise import not_equal
from .shape import broadcast_to, concatenate, getitem, reshape
from .sources import full


def along(axis: int, index: Any) -> tuple:
    """An index that applies ``index`` (a slice or int) to ``axis`` only."""
    return (slice(None),) * axis + (index,)


def flip(x: Node, axis: int) -> Node:
    """``x`` reversed along ``axis`` (``np.flip``)."""
    return getitem(x, along(axis, slice(None, None, -1)))


def shift(x: Node, d: int, axis: int, fill: float) -> Node:
    """``x`` moved ``d`` places up along ``axis``: ``out[k] = x[k - d]``, ``fill`` for ``k < d``."""
    n = x.shape[axis]
    head = full(x.shape[:axis] + (min(d, n),) + x.shape[axis + 1:], fill, x.dtype, graph=x.graph)
    if d >= n:
        return head
    return concatenate([head, getitem(x, along(axis, slice(0, n - d)))], axis)


def unshift(x: Node, d: int, axis: int) -> Node:
    """The adjoint of ``shift(., d, axis, 0)``: ``out[k] = x[k + d]``, zeros at the end."""
    n = x.shape[axis]
    tail = full(x.shape[:axis] + (min(d, n),) + x.shape[axis + 1:], 0, x.dtype, graph=x.graph)
    if d >= n:
        return tail
    return concatenate([getitem(x, along(axis, slice(d, None))), tail], axis)


def prefix_pattern(shape: tuple[int, ...], axis: int) -> Any:
    """The sparsity of a scan along ``axis``: element ``k`` of a lane depends on elements
    ``0..k`` of that lane (lower triangular within each lane), built in O(nnz)."""
    import scipy.sparse as sp

    n = shape[axis]
    pre = int(np.prod(shape[:axis], dtype=np.int64))
    post = int(np.prod(shape[axis + 1:], dtype=np.int64))
    k, m = np.tril_indices(n)  # output position k reads input position m <= k
    base = (np.arange(pre, dtype=np.int64) * (n * post))[:, None, None]
    q = np.arange(post, dtype=np.int64)[None, None, :]
    rows = base + k[None, :, None] * post + q
    cols = base + m[None, :, None] * post + q
    size = pre * n * post
    return sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows.ravel(), cols.ravel())),
                         shape=(size, size))


def prefix_levels(x: Node, axis: int) -> list[tuple[int, Node, Node]]:
    """The levels ``(d, y, s)`` of the Hillis-Steele prefix product of ``x`` along ``axis``.

    ``y`` starts as ``x``; each level multiplies it by ``s = shift(y, d, axis, 1)``
    for ``d = 1, 2, 4, ...`` (``y * s`` is the next level's ``y``), and after
    the last level ``y`` is ``cumprod(x)``.  No division anywhere: a zero stays
    a factor, so rules built on these levels are exact at zeros.
    """
    n = x.shape[axis]
    levels, y, d = [], x, 1
    while d < n:
        if levels:
            y = levels[-1][1] * levels[-1][2]
        levels.append((d, y, shift(y, d, axis, 1)))
        d *= 2
    return levels


class Cumulative(Op):
    """Base of the scans ``np.<name>(x, axis)`` along one (non-negative) ``axis``."""

    abstract = True
    param_types = {"axis": AXIS}
    cli = True
    to_sympy = translate_with_f
    #: the numpy scan, e.g. ``np.cumsum``
    np_func: Any

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"{self.name}: axis {self.axis} is out of bounds for shape {x.shape}")
        return x.shape, result_dtype(self.np_func, x.dtype, self.name)

    def f(self, x):
        return self.np_func(x, axis=self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = np.{self.name}({ins[0]}, axis={self.axis})"

    def batch(self, inputs, batched):
        return apply(with_params(self, axis=self.axis + 1), list(inputs))

    def sparsity(self, node):
        """Output ``k`` of a lane reads inputs ``0..k`` of that lane (exact for both scans)."""
        x = node.inputs[0]
        return [prefix_pattern(x.shape, self.axis) if patterns.differentiable_input(x) else None]


class Cumsum(Cumulative, np_func=staticmethod(np.cumsum), linear=True):
    """Running sums; the adjoint is the running sum from the other end."""

    def bprop(self, inputs, out, g):
        return [flip(cumsum(flip(g, self.axis), self.axis), self.axis)]


class Cumprod(Cumulative, np_func=staticmethod(np.cumprod)):
    """Running products, with division-free derivatives (exact at zeros, any order).

    Forward mode carries a tangent through the prefix-product levels of
    ``prefix_levels``: ``t <- t * s + y * shift(t, d, 0)``; reverse mode runs
    the transposed steps backwards: ``u <- u * s + unshift(u * y, d)``.  Cost:
    O(n log n) elementwise work for an axis of length n.
    """

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        if t is None:
            return None
        for d, y, s in prefix_levels(inputs[0], self.axis):
            t = t * s + y * shift(t, d, self.axis, 0)
        return t

    def bprop(self, inputs, out, g):
        u = g
        for d, y, s in reversed(prefix_levels(inputs[0], self.axis)):
            u = u * s + unshift(u * y, d, self.axis)
        return [u]


def _scan(cls: type, x: Any, axis: int | None) -> Node:
    x = as_node(x)
    if axis is None or x.ndim == 0:  # numpy flattens (a 0-d array scans as shape (1,))
        x = reshape(x, (-1,))
        axis = 0 if axis is None else axis
    elif not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise SymgraphError(f"{cls.name}: axis must be None or an int, got {axis!r}")
    (axis,) = normalize_axis(axis, x.ndim, cls.name)
    return apply(cls(axis), [x])


def cumsum(x, axis: int | None = None) -> Node:
    """``np.cumsum(x, axis)``: running sums along ``axis`` (None: of the flattened array).

    Integer and bool inputs accumulate in int64 (uint64 for unsigned), as numpy does.
    Its gradient is the running sum of the cotangent from the other end.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.cumsum(x)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [1.0, 2.0, 3.0]})
    [array([1., 3., 6.]), array([3., 2., 1.])]
    >>> m = sg.variable("m", (2, 2))
    >>> sg.evaluate(sg.cumsum(m, axis=1), {"m": [[1.0, 2.0], [3.0, 4.0]]})
    array([[1., 3.],
           [3., 7.]])
    """
    return _scan(Cumsum, x, axis)


def cumprod(x, axis: int | None = None) -> Node:
    """``np.cumprod(x, axis)``: running products along ``axis`` (None: of the flattened array).

    Its derivatives are exact where elements are zero, to any order (no
    division by ``x``; see ``Cumprod``), where the textbook rule divides by
    ``x`` and gives 0/0.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.cumprod(x)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [2.0, 0.0, 3.0]})
    [array([2., 0., 0.]), array([1., 8., 0.])]
    """
    return _scan(Cumprod, x, axis)


def diff(x, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Node:
    """``np.diff``: the ``n``-th forward difference ``x[1:] - x[:-1]`` along ``axis``.

    ``prepend``/``append`` are joined to ``x`` along ``axis`` first (a scalar
    is broadcast to one slice), converted as numpy converts them (a Python
    ``0`` is an int64 array, so ``diff(x32, prepend=0)`` is float64 as in
    numpy).  Booleans give ``x[1:] != x[:-1]``, as numpy.  A composition of
    getitem, subtract and concatenate, so its derivatives are theirs.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.diff(x)
    >>> sg.evaluate([y, sg.grad(sg.sum(y * y), x)], {"x": [1.0, 4.0, 9.0]})
    [array([3., 5.]), array([-6., -4., 10.])]
    >>> sg.evaluate([sg.diff(x, n=2), sg.diff(x, prepend=0.0)], {"x": [1.0, 4.0, 9.0]})
    [array([2.]), array([1., 3., 5.])]
    """
    x = as_node(x)
    if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
        raise SymgraphError(f"diff: order n must be an int, got {n!r}")
    if n < 0:
        raise SymgraphError(f"diff: order must be non-negative but got {n}")
    if n == 0:
        return x
    if x.ndim == 0:
        raise ShapeError("diff: requires input that is at least one dimensional")
    (axis,) = normalize_axis(axis, x.ndim, "diff")
    parts = []
    for extra in (prepend, x, append):
        if extra is None:
            continue
        symbolic = isinstance(extra, Node) or (isinstance(extra, (list, tuple)) and holds_node(extra))
        part = as_node(extra) if symbolic else as_node(np.asarray(extra), like=x)
        if part.ndim == 0:
            part = broadcast_to(part, x.shape[:axis] + (1,) + x.shape[axis + 1:])
        parts.append(part)
    x = concatenate(parts, axis)
    for _ in range(n):
        hi = getitem(x, along(axis, slice(1, None)))
        lo = getitem(x, along(axis, slice(None, -1)))
        x = not_equal(hi, lo) if x.dtype == np.bool_ else hi - lo
    return x


__all__ = ["cumsum", "cumprod", "diff"]
