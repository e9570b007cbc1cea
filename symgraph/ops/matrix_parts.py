"""Parts of matrices: diag, diagonal, trace, triu, tril.

``diagonal`` is a linear op whose adjoint, ``diag_embed``, puts a stack of
vectors on a diagonal of zeros (and whose adjoint is ``diagonal`` again);
``diag`` of a vector is that embedding and ``trace`` sums a diagonal.
``triu``/``tril`` are ops of their own rather than ``x * mask``: numpy's
give exact zeros where ``x`` holds inf or nan, a product would give nan.
Each triangle is a projection, so it is its own adjoint.

All four batch by moving their axes past the batch axis (the triangles work
on the last two axes already); their sparsity is exact: diagonal's is derived
from ``structural``, diag_embed's and the triangles' come from the positions
they copy (the rest are fresh zeros that depend on nothing).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import backend
from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from . import patterns
from .base import AXIS, INT, SHAPE, Op, as_node, normalize_axis, translate_with_f
from .batching import shifted, with_params
from .reduce import sum
from .shape import broadcast_to


def _as_int(value: Any, what: str) -> int:
    """An integer parameter (Python or numpy int; bools and floats are refused, as numpy does)."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise SymgraphError(f"{what} must be an integer, got {type(value).__name__} {value!r:.40}")


def diagonal_length(rows: int, cols: int, offset: int) -> int:
    """How many elements diagonal ``offset`` of a ``rows x cols`` matrix has (0 when outside)."""
    n = min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols)
    return max(n, 0)


# ---------------------------------------------------------------------------
# diagonal and its adjoint
# ---------------------------------------------------------------------------

class DiagonalOp(Op):
    """Base of diagonal and diag_embed: diagonal ``offset`` of the planes ``(axis1, axis2)``."""

    abstract = True
    linear = True
    to_sympy = translate_with_f

    def planes(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int, int]:
        """For a full array of ``shape``: its other axes' sizes, the plane's rows and columns,
        and the diagonal's length; a ShapeError when the axes do not fit ``shape``."""
        a1, a2 = self.axis1, self.axis2
        if len(shape) < 2 or a1 == a2 or max(a1, a2) >= len(shape):
            raise ShapeError(f"{self.name}: axes {a1} and {a2} are not two distinct axes of "
                             f"shape {shape}")
        other = tuple(s for i, s in enumerate(shape) if i not in (a1, a2))
        rows, cols = shape[a1], shape[a2]
        return other, rows, cols, diagonal_length(rows, cols, self.offset)

    def moved_past_batch(self, **changes: Any) -> DiagonalOp:
        """The same op for arrays with one more leading axis, which it keeps first (numpy
        keeps the other axes in order and puts the diagonal last)."""
        return with_params(self, axis1=shifted(self.axis1), axis2=shifted(self.axis2), **changes)


class Diagonal(DiagonalOp, structural=True):
    """``np.diagonal``: the axes ``axis1, axis2`` go, the diagonal is the last axis.

    A read-only numpy view (declared by ``emits_view``, so compiled code never
    writes into it).
    """

    name = "diagonal"
    param_types = {"offset": INT, "axis1": AXIS, "axis2": AXIS}

    def __init__(self, offset: int, axis1: int, axis2: int) -> None:
        self.offset = offset
        self.axis1 = axis1
        self.axis2 = axis2

    def infer(self, x):
        other, _, _, n = self.planes(x.shape)
        return other + (n,), x.dtype

    def f(self, x):
        return np.diagonal(x, self.offset, self.axis1, self.axis2)

    def emit(self, out, ins, ctx):
        return f"{out} = np.diagonal({ins[0]}, {self.offset}, {self.axis1}, {self.axis2})"

    def emits_view(self):
        return True

    def bprop(self, inputs, out, g):
        return [apply(DiagEmbed(inputs[0].shape, self.offset, self.axis1, self.axis2), [g])]

    def batch(self, inputs, batched):
        return apply(self.moved_past_batch(), inputs)


class DiagEmbed(DiagonalOp):
    """Zeros of ``shape`` whose ``diagonal(offset, axis1, axis2)`` is the input: the adjoint
    of ``diagonal`` (``diag`` of a vector is one)."""

    name = "diag_embed"
    param_types = {"shape": SHAPE, "offset": INT, "axis1": AXIS, "axis2": AXIS}

    def __init__(self, shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> None:
        self.shape = shape
        self.offset = offset
        self.axis1 = axis1
        self.axis2 = axis2

    def infer(self, g):
        other, _, _, n = self.planes(self.shape)
        if g.shape != other + (n,):
            raise ShapeError(f"diag_embed: diagonal {self.offset} of axes {self.axis1}, "
                             f"{self.axis2} of shape {self.shape} has shape {other + (n,)}, "
                             f"but the input has shape {g.shape}")
        return self.shape, g.dtype

    def flat_slice(self, cols: int, n: int) -> slice:
        """The diagonal's positions in a C-ordered ``rows x cols`` plane, flattened."""
        start = self.offset if self.offset >= 0 else -self.offset * cols
        return slice(start, start + n * (cols + 1), cols + 1)

    def f(self, g):
        other, rows, cols, n = self.planes(self.shape)
        if backend.is_foreign(g):  # dask: no item assignment, so select instead of write
            return self._by_selection(g, other, rows, cols, n)
        planes = np.zeros(other + (rows, cols), dtype=np.asarray(g).dtype)
        planes.reshape(other + (rows * cols,))[..., self.flat_slice(cols, n)] = g
        return np.moveaxis(planes, (-2, -1), (self.axis1, self.axis2))

    def _by_selection(self, g, other, rows, cols, n):
        """The same with numpy functions every array family has: pad the vectors to a side
        of the plane and keep them where the plane's diagonal is."""
        on = np.arange(cols)[None, :] - np.arange(rows)[:, None] == self.offset
        along_rows = self.offset >= 0  # element i sits in row i (else in column i)
        width = (rows if along_rows else cols) - n
        padded = np.pad(g, [(0, 0)] * len(other) + [(0, width)])
        spread = padded[..., :, None] if along_rows else padded[..., None, :]
        planes = np.where(on, spread, np.zeros((), dtype=g.dtype))
        return np.moveaxis(planes, (-2, -1), (self.axis1, self.axis2))

    def emit(self, out, ins, ctx):
        other, rows, cols, n = self.planes(self.shape)
        s = self.flat_slice(cols, n)
        lines = [f"{out} = np.zeros({other + (rows, cols)}, {ctx.dtype(ctx.node.dtype)})",
                 f"{out}.reshape({other + (rows * cols,)})[..., {s.start}:{s.stop}:{s.step}] "
                 f"= {ins[0]}"]
        if (self.axis1, self.axis2) != (len(self.shape) - 2, len(self.shape) - 1):
            lines.append(f"{out} = np.moveaxis({out}, (-2, -1), ({self.axis1}, {self.axis2}))")
        return "\n".join(lines)

    def bprop(self, inputs, out, g):
        return [apply(Diagonal(self.offset, self.axis1, self.axis2), [g])]

    def batch(self, inputs, batched):
        (g,) = inputs
        return apply(self.moved_past_batch(shape=g.shape[:1] + self.shape), [g])

    def sparsity(self, node):
        """Output element i copies the input element the op writes there, or is zero: the
        op run on element numbers 1, 2, ... (0 marks the zeros)."""
        g = node.inputs[0]
        if not patterns.differentiable_input(g):
            return [None]
        numbered = np.arange(1, g.size + 1, dtype=np.int64).reshape(g.shape)
        return [patterns.index_map(self.f(numbered) - 1, g.size)]


def _plane_axes(x: Node, axis1: Any, axis2: Any, what: str) -> tuple[int, int]:
    if x.ndim < 2:
        raise ShapeError(f"{what}: needs an array of at least 2 dimensions, got shape {x.shape}")
    (a1,) = normalize_axis(_as_int(axis1, f"{what}: axis1"), x.ndim, what)
    (a2,) = normalize_axis(_as_int(axis2, f"{what}: axis2"), x.ndim, what)
    if a1 == a2:
        raise SymgraphError(f"{what}: axis1 and axis2 cannot be the same (both are axis {a1})")
    return a1, a2


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Node:
    """numpy's ``diagonal``: the diagonals of the planes ``(axis1, axis2)``.

    Its elements are ``x[..., i, ..., i + offset, ...]``; those two axes go and
    the diagonal becomes the LAST axis, so a stack of matrices gives a stack of
    diagonals.  ``offset`` > 0 is above the main diagonal, < 0 below; one outside
    the plane gives an empty diagonal.
    ``diagonal(x)[i] == x[i, i]`` for a matrix.  The gradient lands on the
    diagonal and is zero elsewhere.

    Examples
    --------
    >>> M = sg.variable("M", (3, 3))
    >>> X = np.arange(9.).reshape(3, 3)
    >>> sg.evaluate(sg.diagonal(M, 1), {"M": X})
    array([1., 5.])
    >>> sg.evaluate(sg.grad(sg.diagonal(M).sum(), M), {"M": X})
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> sg.diagonal(sg.variable("A", (2, 3, 3)), axis1=1, axis2=2).shape
    (2, 3)
    """
    x = as_node(x)
    offset = _as_int(offset, "diagonal: offset")
    a1, a2 = _plane_axes(x, axis1, axis2, "diagonal")
    return apply(Diagonal(offset, a1, a2), [x])


def diag(v, k: int = 0) -> Node:
    """numpy's ``diag``: a vector becomes a diagonal matrix; a matrix gives its diagonal ``k``.

    From a vector the result is the square matrix (side ``len(v) + |k|``) with
    ``v`` on diagonal ``k`` and zeros elsewhere, e.g. to build a covariance from
    its standard deviations.

    Examples
    --------
    >>> v = sg.variable("v", (2,))
    >>> sg.evaluate(sg.diag(v, 1), {"v": np.array([1., 2.])})
    array([[0., 1., 0.],
           [0., 0., 2.],
           [0., 0., 0.]])
    >>> sg.evaluate(sg.diag(sg.constant(np.arange(9.).reshape(3, 3))))
    array([0., 4., 8.])
    """
    v = as_node(v)
    k = _as_int(k, "diag: k")
    if v.ndim == 1:
        side = v.shape[0] + abs(k)
        return apply(DiagEmbed((side, side), k, 0, 1), [v])
    if v.ndim == 2:
        return diagonal(v, k)
    raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {v.shape}")


def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Node:
    """numpy's ``trace``: the sum along diagonal ``offset`` of the planes ``(axis1, axis2)``.

    That is ``sum(diagonal(x, offset, axis1, axis2), axis=-1)``, in numpy's dtype
    (small integers and bools are summed as the platform integer, as ``np.trace``
    does).  Its gradient is the identity, the textbook
    ``d tr(M) / dM = I``.

    Examples
    --------
    >>> M = sg.variable("M", (3, 3))
    >>> X = np.arange(9.).reshape(3, 3)
    >>> sg.evaluate(sg.trace(M), {"M": X})
    array(12.)
    >>> sg.evaluate(sg.grad(sg.trace(M), M), {"M": X})
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    d = diagonal(x, offset, axis1, axis2)
    return sum(d, axis=-1)


# ---------------------------------------------------------------------------
# triangles
# ---------------------------------------------------------------------------

class Triangle(Op):
    """Base of triu and tril: ``np.<name>(x, k)`` on the last two axes (a projection, so its
    own adjoint)."""

    abstract = True
    param_types = {"k": INT}
    linear = True
    to_sympy = translate_with_f

    def __init__(self, k: int) -> None:
        self.k = k

    def infer(self, x):
        if x.ndim < 2:
            raise ShapeError(f"{self.name}: needs an array of at least 2 dimensions, got shape "
                             f"{x.shape}")
        return x.shape, x.dtype

    def f(self, x):
        return getattr(np, self.name)(x, self.k)

    def emit(self, out, ins, ctx):
        return f"{out} = np.{self.name}({ins[0]}, {self.k})"

    def bprop(self, inputs, out, g):
        return [apply(self, [g])]

    def batch(self, inputs, batched):
        return apply(self, inputs)  # the last two axes: a leading batch axis is one more plane

    def sparsity(self, node):
        """Output element i is input element i inside the triangle, a fresh zero outside."""
        x = node.inputs[0]
        if not patterns.differentiable_input(x):
            return [None]
        inside = self.f(np.ones(x.shape[-2:], dtype=bool))
        positions = np.where(inside, np.arange(x.size).reshape(x.shape), -1)
        return [patterns.index_map(positions, x.size)]


class Triu(Triangle):
    name = "triu"


class Tril(Triangle):
    name = "tril"


def _triangle(cls: type, x: Any, k: Any) -> Node:
    x = as_node(x)
    k = _as_int(k, f"{cls.name}: k")
    if x.ndim == 0:
        raise ShapeError(f"{cls.name}: needs an array of at least 1 dimension, got a scalar")
    if x.ndim == 1:  # numpy repeats a vector into a square matrix first
        x = broadcast_to(x, x.shape * 2)
    return apply(cls(k), [x])


def triu(x, k: int = 0) -> Node:
    """numpy's ``triu``: zeros below diagonal ``k`` of the last two axes.

    The zeros are exact, also where ``x`` is inf or nan (a mask, not a
    multiplication), and the gradient below the diagonal is zero.  A vector is
    first repeated into a square matrix, as numpy does.

    Examples
    --------
    >>> M = sg.variable("M", (3, 3))
    >>> sg.evaluate(sg.triu(M), {"M": np.full((3, 3), np.inf)})
    array([[inf, inf, inf],
           [ 0., inf, inf],
           [ 0.,  0., inf]])
    >>> sg.evaluate(sg.grad(sg.triu(M).sum(), M), {"M": np.zeros((3, 3))})
    array([[1., 1., 1.],
           [0., 1., 1.],
           [0., 0., 1.]])
    """
    return _triangle(Triu, x, k)


def tril(x, k: int = 0) -> Node:
    """numpy's ``tril``: zeros above diagonal ``k`` of the last two axes.

    The zeros are exact, also where ``x`` is inf or nan (a mask, not a
    multiplication), and the gradient above the diagonal is zero.  A vector is
    first repeated into a square matrix, as numpy does.

    Examples
    --------
    >>> M = sg.variable("M", (3, 3))
    >>> sg.evaluate(sg.tril(M, -1), {"M": np.arange(9.).reshape(3, 3)})
    array([[0., 0., 0.],
           [3., 0., 0.],
           [6., 7., 0.]])
    >>> sg.evaluate(sg.grad(sg.tril(M).sum(), M), {"M": np.zeros((3, 3))})
    array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.]])
    """
    return _triangle(Tril, x, k)


__all__ = ["diagonal", "diag", "trace", "triu", "tril"]
