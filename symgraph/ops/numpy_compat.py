"""numpy's other spellings and small composites, so numpy code ports name for name.

None of these has an op of its own: each is built from the breadth ops, so its
derivatives, compiled code, sympy and dask behaviour are those of its parts.
``absolute`` is ``abs`` (``fabs`` casts to a float first); ``amax``/``amin`` are
``max``/``min``;
``remainder`` is ``mod``; ``true_divide`` is ``divide``; the rest are short
compositions with numpy's semantics, each stated in its docstring.  The statistics
(median, quantile, percentile) sort and read the sorted values at positions worked
out when building, so their derivatives are sort's; convolve/correlate gather
windows with one constant index matrix and contract them with a matmul.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Graph, Node, get_default_graph
from .base import as_dim, as_node, as_nodes, holds_node, normalize_axis, refuse_complex, ufunc_dtype
from .cumulative import cumprod
from .elementwise import abs as abs_
from .elementwise import cast, divide, equal, not_equal, sqrt, where
from .linalg import matmul
from .matrix_parts import diagonal
from .piecewise import clip, mod
from .rearrange import flip, moveaxis, split, stack_inputs, swapaxes
from .reduce import max as max_
from .reduce import mean
from .reduce import min as min_
from .reduce import sum as sum_
from .shape import broadcast_to, concatenate, getitem, reshape, stack, transpose
from .sorting import sort
from .sources import constant, eye, full, numeric_dtype, zeros_like

absolute = abs_
amax = max_
amin = min_
remainder = mod
true_divide = divide


def _as_float(x: Any, ufunc: np.ufunc) -> Node:
    """``x`` cast to the float dtype numpy's ``ufunc`` gives it (int8 -> float16, ...)."""
    x = as_node(x)
    return cast(x, ufunc_dtype(ufunc, x.dtype))


def fabs(x: Any) -> Node:
    """``|x|`` as a float (numpy.fabs: integers become floats, complex is refused).

    Use it where numpy code calls ``np.fabs``; the derivative is ``sign(x)``, as for
    ``abs``.

    Examples
    --------
    >>> sg.evaluate(sg.fabs(sg.constant([-2, 3])))
    array([2., 3.])
    >>> x = sg.variable("x", (3,))
    >>> sg.evaluate(sg.grad(sg.fabs(x).sum(), x), {"x": np.array([-2., 0.5, 3.])})
    array([-1.,  1.,  1.])
    """
    return abs_(_as_float(x, np.fabs))


def deg2rad(x: Any) -> Node:
    """Degrees to radians, ``x * pi / 180`` (numpy.deg2rad, numpy.radians).

    Angles given in degrees can feed the trigonometric functions directly, and
    derivatives come out per degree.

    Examples
    --------
    >>> d = sg.variable("d")
    >>> y = sg.sin(sg.deg2rad(d))
    >>> sg.evaluate([y, sg.grad(y, d)], {"d": 30.0})
    [array(0.5), array(0.01511499)]
    """
    return _as_float(x, np.deg2rad) * (np.pi / 180)


def rad2deg(x: Any) -> Node:
    """Radians to degrees, ``x * 180 / pi`` (numpy.rad2deg, numpy.degrees).

    Turns an angle computed in radians (``arctan2``, ``arccos``) into degrees for
    reporting; the derivative is the constant ``180 / pi``.

    Examples
    --------
    >>> y, x = sg.variable("y"), sg.variable("x")
    >>> sg.evaluate(sg.rad2deg(sg.arctan2(y, x)), {"y": 1.0, "x": 1.0})
    array(45.)
    """
    return _as_float(x, np.rad2deg) * (180 / np.pi)


radians = deg2rad
degrees = rad2deg


# ---------------------------------------------------------------------------
# dimensions
# ---------------------------------------------------------------------------

def _at_least(arrays: tuple, shape_of) -> Node | list[Node]:
    out = []
    for a in arrays:
        a = as_node(a)
        out.append(reshape(a, shape_of(a.shape)))
    return out[0] if len(out) == 1 else out


def atleast_1d(*arrays: Any) -> Node | list[Node]:
    """Each input with at least one dimension, as numpy.atleast_1d: () becomes (1,).

    One node for one input, else a list: a reshape, so code written for vectors
    also takes scalars.

    Examples
    --------
    >>> s, v = sg.variable("s"), sg.variable("v", (3,))
    >>> sg.atleast_1d(s).shape
    (1,)
    >>> [n.shape for n in sg.atleast_1d(s, v)]
    [(1,), (3,)]
    """
    return _at_least(arrays, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*arrays: Any) -> Node | list[Node]:
    """At least two dimensions: () -> (1, 1), (N,) -> (1, N) (numpy.atleast_2d).

    One node for one input, else a list; a vector becomes one row, so code written
    for matrices also takes vectors.

    Examples
    --------
    >>> v = sg.variable("v", (3,))
    >>> sg.atleast_2d(v).shape
    (1, 3)
    """
    return _at_least(arrays, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arrays: Any) -> Node | list[Node]:
    """At least three dimensions, as numpy.atleast_3d.

    () -> (1, 1, 1), (N,) -> (1, N, 1), (M, N) -> (M, N, 1).  One node for one input, else
    a list; note numpy's placement of the new axes (a matrix gains a trailing one, as an
    image with one channel).

    Examples
    --------
    >>> v, m = sg.variable("v", (3,)), sg.variable("m", (2, 3))
    >>> [n.shape for n in sg.atleast_3d(v, m)]
    [(1, 3, 1), (2, 3, 1)]
    """
    def shape_of(s):
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
    return _at_least(arrays, shape_of)


def rollaxis(x: Any, axis: int, start: int = 0) -> Node:
    """numpy.rollaxis: ``axis`` moved to sit before position ``start`` (prefer moveaxis).

    Kept for numpy code that uses it; a transpose.

    Examples
    --------
    >>> b = sg.variable("b", (2, 3, 4))
    >>> sg.rollaxis(b, 2).shape, sg.rollaxis(b, 0, 2).shape
    ((4, 2, 3), (3, 2, 4))
    """
    x = as_node(x)
    n = x.ndim
    (axis,) = normalize_axis(axis, n, "rollaxis")
    if not isinstance(start, numbers.Integral) or not -n <= start <= n:
        raise ShapeError(f"rollaxis: start {start!r} is out of range for {n} dimensions")
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    if axis == start:
        return x
    axes = [a for a in range(n) if a != axis]
    axes.insert(start, axis)
    return transpose(x, axes)


# ---------------------------------------------------------------------------
# flips, rotations, splits
# ---------------------------------------------------------------------------

def fliplr(x: Any) -> Node:
    """Reverse the columns (axis 1) of an array of at least 2 dimensions (numpy.fliplr).

    A getitem with a ``::-1`` slice; the gradient is flipped back.

    Examples
    --------
    >>> M = sg.variable("M", (2, 3))
    >>> sg.evaluate(sg.fliplr(M), {"M": np.arange(6.).reshape(2, 3)})
    array([[2., 1., 0.],
           [5., 4., 3.]])
    """
    x = as_node(x)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: input must be at least 2-d, got shape {x.shape}")
    return flip(x, 1)


def flipud(x: Any) -> Node:
    """Reverse the rows (axis 0) of an array of at least 1 dimension (numpy.flipud).

    A getitem with a ``::-1`` slice; the gradient is flipped back.

    Examples
    --------
    >>> M = sg.variable("M", (2, 3))
    >>> sg.evaluate(sg.flipud(M), {"M": np.arange(6.).reshape(2, 3)})
    array([[3., 4., 5.],
           [0., 1., 2.]])
    """
    x = as_node(x)
    if x.ndim < 1:
        raise ShapeError("flipud: input must be at least 1-d, got a 0-d array")
    return flip(x, 0)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Node:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (numpy.rot90).

    The rotation goes from the first axis towards the second; a flip and a
    transpose, e.g. to augment image data inside a graph.

    Examples
    --------
    >>> M = sg.variable("M", (2, 3))
    >>> sg.evaluate(sg.rot90(M), {"M": np.arange(6.).reshape(2, 3)})
    array([[2., 5.],
           [1., 4.],
           [0., 3.]])
    """
    x = as_node(x)
    if not isinstance(axes, (tuple, list)) or len(axes) != 2:
        raise SymgraphError(f"rot90: axes must name two axes, got {axes!r}")
    (a0,), (a1,) = (normalize_axis(a, x.ndim, "rot90") for a in axes)
    if a0 == a1:
        raise SymgraphError(f"rot90: axes must be different, got {axes!r}")
    k = as_dim(k, "rot90: k") % 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    if k == 1:
        return swapaxes(flip(x, a1), a0, a1)
    return flip(swapaxes(x, a0, a1), a1)


def _split_at_least(x: Any, sections: Any, ndim: int, axis: int, what: str) -> list[Node]:
    x = as_node(x)
    if x.ndim < ndim:
        raise ShapeError(f"{what} only works on arrays of {ndim} or more dimensions, got shape "
                         f"{x.shape}")
    return split(x, sections, axis)


def hsplit(x: Any, indices_or_sections: Any) -> list[Node]:
    """Split along axis 1 (axis 0 for 1-d input), as numpy.hsplit.

    An int N gives N equal pieces; a list gives the indices to split at.

    Examples
    --------
    >>> M = sg.variable("M", (2, 4))
    >>> [piece.shape for piece in sg.hsplit(M, [1])]
    [(2, 1), (2, 3)]
    """
    x = as_node(x)
    if x.ndim == 0:
        raise ShapeError("hsplit only works on arrays of 1 or more dimensions")
    return split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


def vsplit(x: Any, indices_or_sections: Any) -> list[Node]:
    """Split along axis 0 of an array of at least 2 dimensions (numpy.vsplit).

    An int N gives N equal pieces; a list gives the indices to split at.

    Examples
    --------
    >>> N = sg.variable("N", (4, 2))
    >>> [piece.shape for piece in sg.vsplit(N, 2)]
    [(2, 2), (2, 2)]
    """
    return _split_at_least(x, indices_or_sections, 2, 0, "vsplit")


def dsplit(x: Any, indices_or_sections: Any) -> list[Node]:
    """Split along axis 2 of an array of at least 3 dimensions (numpy.dsplit).

    An int N gives N equal pieces (e.g. the channels of an image); a list gives
    the indices to split at.

    Examples
    --------
    >>> T = sg.variable("T", (2, 2, 6))
    >>> [piece.shape for piece in sg.dsplit(T, 3)]
    [(2, 2, 2), (2, 2, 2), (2, 2, 2)]
    """
    return _split_at_least(x, indices_or_sections, 3, 2, "dsplit")


# ---------------------------------------------------------------------------
# products and differences
# ---------------------------------------------------------------------------

def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Node:
    """The cross product of 3-vectors, as numpy.cross.

    The vectors lie along ``axisa``/``axisb``, the result along ``axisc``.  It broadcasts
    over the other axes, so a stack of vectors crosses with one vector at once.  2-vectors
    count as 3-vectors with z = 0; two 2-vectors give the z component alone, a scalar per
    pair, as numpy does.

    Examples
    --------
    >>> a, b = sg.variable("a", (3,)), sg.variable("b", (3,))
    >>> c = sg.cross(a, b)
    >>> feed = {"a": np.array([1., 0., 0.]), "b": np.array([0., 2., 0.])}
    >>> sg.evaluate(c, feed)
    array([0., 0., 2.])
    >>> sg.evaluate(sg.grad(c[2], a), feed)
    array([2., 0., 0.])
    >>> sg.cross(sg.variable("A", (5, 3)), b).shape
    (5, 3)
    """
    a, b = as_nodes(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    for v, ax, name in ((a, axisa, "a"), (b, axisb, "b")):
        if v.ndim == 0 or v.shape[normalize_axis(ax, v.ndim, "cross")[0]] not in (2, 3):
            raise ShapeError(f"cross: incompatible dimensions for cross product of {name} with "
                             f"shape {v.shape} along axis {ax} (dimension must be 2 or 3)")
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    a_, b_ = [[getitem(v, (Ellipsis, k)) for k in range(v.shape[-1])] for v in (a, b)]
    if len(a_) == len(b_) == 2:
        return a_[0] * b_[1] - a_[1] * b_[0]
    zero = constant(np.zeros((), np.result_type(a.dtype, b.dtype)), graph=a.graph)
    a_, b_ = [c + [zero] * (3 - len(c)) for c in (a_, b_)]
    parts = [a_[1] * b_[2] - a_[2] * b_[1], a_[2] * b_[0] - a_[0] * b_[2],
             a_[0] * b_[1] - a_[1] * b_[0]]
    shape = np.broadcast_shapes(*[p.shape for p in parts])
    c = stack([broadcast_to(p, shape) for p in parts], axis=-1)
    return moveaxis(c, -1, axisc)


def _spacing(h: Any, n: int, what: str) -> np.ndarray:
    """The n - 1 steps along an axis: a scalar step, or differences of n coordinates."""
    try:
        h = np.asarray(h, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymgraphError(f"{what}: spacing must be a number or an array of coordinates, got "
                            f"{h!r:.40}") from None
    if h.ndim == 0:
        return np.full(n - 1, float(h))
    if h.shape != (n,):
        raise ShapeError(f"{what}: coordinates must have the axis' length {n}, got shape {h.shape}")
    return np.diff(h)


def _gradient_along(f: Node, axis: int, h: Any, edge_order: int) -> Node:
    n = f.shape[axis]
    if n < edge_order + 1:
        raise ShapeError(f"gradient: shape {f.shape} has {n} elements along axis {axis}; "
                         f"edge_order={edge_order} needs at least {edge_order + 1}")
    dx = _spacing(h, n, "gradient")

    def at(k: Any) -> Node:
        index = [slice(None)] * f.ndim
        index[axis] = k
        return getitem(f, tuple(index))

    def along(values: np.ndarray) -> np.ndarray:  # shaped to broadcast along ``axis``
        return values.reshape((-1,) + (1,) * (f.ndim - axis - 1))

    parts = []
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) / dx[0]
        last = (at(slice(n - 1, n)) - at(slice(n - 2, n - 1))) / dx[-1]
    else:
        e1, e2 = dx[0], dx[1]
        first = (-(2 * e1 + e2) / (e1 * (e1 + e2)) * at(slice(0, 1))
                 + (e1 + e2) / (e1 * e2) * at(slice(1, 2)) - e1 / (e2 * (e1 + e2)) * at(slice(2, 3)))
        e1, e2 = dx[-2], dx[-1]
        last = (e2 / (e1 * (e1 + e2)) * at(slice(n - 3, n - 2))
                - (e2 + e1) / (e1 * e2) * at(slice(n - 2, n - 1))
                + (2 * e2 + e1) / (e2 * (e1 + e2)) * at(slice(n - 1, n)))
    parts.append(first)
    if n > 2 and np.all(dx == dx[0]):  # second-order central differences
        parts.append((at(slice(2, n)) - at(slice(0, n - 2))) / (2 * dx[0]))
    elif n > 2:  # numpy's weights for uneven steps
        d1, d2 = dx[:-1], dx[1:]
        a = along(-d2 / (d1 * (d1 + d2)))
        b = along((d2 - d1) / (d1 * d2))
        c = along(d1 / (d2 * (d1 + d2)))
        parts.append(a * at(slice(0, n - 2)) + b * at(slice(1, n - 1)) + c * at(slice(2, n)))
    parts.append(last)
    out = concatenate(parts, axis)
    return out if out.dtype == f.dtype or f.dtype.kind != "f" else out.astype(f.dtype)


def gradient(f: Any, *varargs: Any, axis: int | Sequence[int] | None = None,
             edge_order: int = 1) -> Node | list[Node]:
    """numpy.gradient: finite differences of sampled values, second-order central inside.

    At the ends the differences are one-sided, of order ``edge_order`` (1 or 2).
    ``varargs``: one step for all axes, one per axis, or coordinate arrays (uneven
    steps).  One node for one axis, else a list.  This is the numerical derivative
    of data, not ``sg.grad``; being linear in ``f`` it is differentiable itself.

    Examples
    --------
    Samples of ``x**2`` at ``x = 0, 1, 2, 3, 4``: exact inside, and at the ends
    too with ``edge_order=2``.

    >>> f = sg.variable("f", (5,))
    >>> samples = {"f": np.array([0., 1., 4., 9., 16.])}
    >>> sg.evaluate(sg.gradient(f), samples)
    array([1., 2., 4., 6., 7.])
    >>> sg.evaluate(sg.gradient(f, edge_order=2), samples)
    array([0., 2., 4., 6., 8.])
    """
    f = as_node(f)
    if axis is None:
        axes = tuple(range(f.ndim))
    elif isinstance(axis, (numbers.Integral, tuple, list)):
        axes = tuple(normalize_axis(a, f.ndim, "gradient")[0]
                     for a in ((axis,) if isinstance(axis, numbers.Integral) else axis))
    else:
        raise SymgraphError(f"gradient: axis must be None, an int or a tuple of ints, got {axis!r}")
    if edge_order not in (1, 2):
        raise SymgraphError(f"gradient: edge_order must be 1 or 2, got {edge_order!r}")
    if not varargs:
        steps = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        steps = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        steps = list(varargs)
    else:
        raise SymgraphError(f"gradient: give one spacing or one per axis ({len(axes)}), got "
                            f"{len(varargs)}")
    if f.dtype.kind != "f":
        f = f.astype(np.float64)
    out = [_gradient_along(f, a, h, edge_order) for a, h in zip(axes, steps)]
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------------------
# cleaning and selecting
# ---------------------------------------------------------------------------

def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Node:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (numpy.nan_to_num).

    By default they become 0 and the dtype's largest and smallest finite values.
    The gradient flows only where ``x`` is finite (autograd's rule).

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> feed = {"x": np.array([np.nan, np.inf, 2.])}
    >>> sg.evaluate(sg.nan_to_num(x, posinf=1e3), feed)
    array([   0., 1000.,    2.])
    >>> sg.evaluate(sg.grad(sg.nan_to_num(x).sum(), x), feed)
    array([0., 0., 1.])
    """
    x = as_node(x)
    if x.dtype.kind == "c":
        raise DTypeError("nan_to_num: complex inputs are not supported (numpy cleans their real "
                         "and imaginary parts apart; symgraph has no real/imag ops)")
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(not_equal(x, x), nan, x)
    out = where(equal(x, np.inf), posinf, out)
    return where(equal(x, -np.inf), neginf, out)


def partition(x: Any, kth: int | Sequence[int], axis: int | None = -1) -> Node:
    """numpy.partition's contract: each ``kth`` element where a sort along ``axis`` puts it.

    Smaller ones come before it and larger ones after.  numpy leaves the order
    within each side unspecified; here it is sorted (a valid partition), so the
    values at ``kth`` equal numpy's but other positions may differ from numpy's.
    The derivative of the ``kth`` element goes to the input element it came from.

    Examples
    --------
    >>> x = sg.variable("x", (5,))
    >>> third = sg.partition(x, 2)[2]
    >>> sg.evaluate([third, sg.grad(third, x)], {"x": np.array([5., 1., 4., 2., 3.])})
    [array(3.), array([0., 0., 0., 0., 1.])]
    """
    x = as_node(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = normalize_axis(axis, x.ndim, "partition")
    n = x.shape[axis]
    for k in np.atleast_1d(np.asarray(kth, dtype=object)).ravel():
        k = as_dim(k, "partition: kth")
        if not -n <= k < n:
            raise ShapeError(f"partition: kth {k} is out of bounds for axis {axis} of length {n}")
    return sort(x, axis)


__all__ = [
    "absolute", "fabs", "amax", "amin", "remainder", "true_divide", "deg2rad", "rad2deg",
    "radians", "degrees", "atleast_1d", "atleast_2d", "atleast_3d", "rollaxis", "fliplr",
    "flipud", "rot90", "hsplit", "vsplit", "dsplit", "cross", "gradient", "nan_to_num",
    "partition", "identity", "tri", "dstack", "meshgrid", "vander", "polyval", "convolve",
    "correlate", "average", "cov", "corrcoef", "median", "quantile", "percentile", "nansum",
    "nanmean",
]


# ---------------------------------------------------------------------------
# constant matrices, grids, stacking
# ---------------------------------------------------------------------------

def identity(n: int, dtype: Any = None) -> Node:
    """numpy.identity: the ``n x n`` identity matrix (float64 unless ``dtype``), a constant.

    Examples
    --------
    >>> sg.evaluate(sg.identity(2))
    array([[1., 0.],
           [0., 1.]])
    >>> sg.identity(3, int).dtype
    dtype('int64')
    """
    return eye(n, dtype="float64" if dtype is None else dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = float) -> Node:
    """numpy.tri: the ``N x M`` constant with ones at and below diagonal ``k``.

    ``M`` defaults to ``N``; ``k`` > 0 is above the main diagonal, < 0 below.
    ``tri(3, k=-1)`` is the strictly lower triangle; ``x * tri(n)`` is ``tril(x)``,
    a mask that also masks the gradient.

    Examples
    --------
    >>> sg.evaluate(sg.tri(3, k=-1))
    array([[0., 0., 0.],
           [1., 0., 0.],
           [1., 1., 0.]])
    """
    n = as_dim(N, "tri: N")
    m = n if M is None else as_dim(M, "tri: M")
    if n < 0 or m < 0:
        raise ShapeError(f"tri: negative dimensions are not allowed (N={n}, M={m})")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise SymgraphError(f"tri: k must be an integer, got {type(k).__name__} {k!r:.40}")
    return constant(np.tri(n, m, int(k), dtype=numeric_dtype(dtype, "tri")))


def dstack(tup: Any) -> Node:
    """numpy.dstack: the arrays joined along axis 2 (depth) after ``atleast_3d``.

    (N,) becomes (1, N, 1) and (M, N) becomes (M, N, 1), so two images stack
    into two channels.

    Examples
    --------
    >>> u, v = sg.variable("u", (2, 3)), sg.variable("v", (2, 3))
    >>> sg.dstack([u, v]).shape
    (2, 3, 2)
    """
    return concatenate([atleast_3d(x) for x in stack_inputs(tup, "dstack")], 2)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> tuple[Node, ...]:
    """numpy.meshgrid: coordinate arrays, one per input (each flattened), as a tuple.

    ``indexing="xy"`` (Cartesian, the default) gives shape ``(len(y), len(x), ...)``,
    ``"ij"`` (matrix) ``(len(x), len(y), ...)``; ``sparse=True`` leaves each array with
    length 1 along the other axes (they broadcast) instead of broadcast in full.  Inputs
    may be nodes: each output is a reshape/broadcast of its input, so differentiable.
    ``copy`` is accepted for numpy's signature (nodes are never written to).
    ``X, Y = meshgrid(x, y)`` has ``X[i, j] == x[j]`` and ``Y[i, j] == y[i]``.

    Examples
    --------
    >>> x, y = sg.variable("x", (3,)), sg.variable("y", (2,))
    >>> X, Y = sg.meshgrid(x, y)
    >>> feed = {"x": np.array([1., 2., 3.]), "y": np.array([1., 10.])}
    >>> sg.evaluate(X * Y, feed)
    array([[ 1.,  2.,  3.],
           [10., 20., 30.]])
    >>> sg.evaluate(sg.grad((X * Y).sum(), x), feed)
    array([11., 11., 11.])
    """
    if indexing not in ("xy", "ij"):
        raise SymgraphError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r:.40}")
    ndim = len(xi)
    s0 = (1,) * ndim
    out = [reshape(as_node(x), s0[:i] + (-1,) + s0[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        out[0] = reshape(out[0], (1, -1) + s0[2:])
        out[1] = reshape(out[1], (-1, 1) + s0[2:])
    if not sparse:
        shape = np.broadcast_shapes(*[o.shape for o in out])
        out = [broadcast_to(o, shape) for o in out]
    return tuple(out)


# ---------------------------------------------------------------------------
# polynomials
# ---------------------------------------------------------------------------

def _graph_of(*values: Any) -> Graph:
    """The graph of the first node among ``values`` (the default graph if none is one)."""
    for v in values:
        if isinstance(v, Node):
            return v.graph
    return get_default_graph()


def _on_graph(value: Any, graph: Graph) -> Node:
    """``value`` as a node: a node as is, an array_like as numpy converts it (a Python
    float is float64, not typed after another operand) in ``graph``."""
    if isinstance(value, Node) or isinstance(value, (list, tuple)) and holds_node(value):
        return as_node(value)
    return constant(value, graph=graph)


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Node:
    """numpy.vander: the Vandermonde matrix of a 1-D ``x``, columns ``x**(N-1), ..., x, 1``.

    ``increasing=True`` gives ``1, x, ..., x**(N-1)``; ``N`` defaults to ``len(x)``. As
    numpy, the dtype is ``promote_types(x.dtype, int)``: integers stay int64 but float32
    becomes float64.  The powers are running products (``cumprod``, as numpy's
    ``multiply.accumulate``), so values match numpy's and derivatives are exact at 0.
    ``vander(x) @ c`` evaluates a polynomial at every ``x``: a least-squares fit's design
    matrix.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> sg.evaluate(sg.vander(x), {"x": np.array([1., 2., 3.])})
    array([[1., 1., 1.],
           [4., 2., 1.],
           [9., 3., 1.]])
    >>> fit = sg.vander(x, 3, increasing=True) @ sg.constant([1., 2., 3.])
    >>> sg.evaluate(sg.grad(fit.sum(), x), {"x": np.array([0., 1., 2.])})
    array([ 2.,  8., 14.])
    """
    x = as_node(x)
    if x.ndim != 1:
        raise ShapeError(f"vander: x must be a one-dimensional array, got shape {x.shape}")
    n = x.shape[0]
    cols = n if N is None else as_dim(N, "vander: N")
    if cols < 0:
        raise ShapeError(f"vander: N must be non-negative, got {cols}")
    dtype = np.promote_types(x.dtype, int)
    if cols == 0:
        return constant(np.empty((n, 0), dtype), graph=x.graph)
    parts = [full((n, 1), 1, dtype, graph=x.graph)]
    if cols > 1:
        column = reshape(cast(x, dtype), (n, 1))
        parts.append(cumprod(broadcast_to(column, (n, cols - 1)), axis=1))
    v = concatenate(parts, 1)
    return v if increasing else flip(v, 1)


def polyval(p: Any, x: Any) -> Node:
    """numpy.polyval: the polynomial with coefficients ``p`` (highest power first) at ``x``.

    Computed by Horner's rule ``y = y * x + p[i]`` from ``y = zeros_like(x)``, as
    numpy computes it (so dtypes are numpy's: a float64 ``p`` makes a float32
    ``x``'s result float64).  ``p`` is a 1-D node, array, or list of numbers and
    nodes (differentiable in both ``p`` and ``x``); numpy's ``poly1d`` is not
    supported.

    Examples
    --------
    ``3 t**2 + 1`` and its derivative ``6 t`` at ``t = 5``; with respect to the
    coefficients the derivative is the powers of ``t``.

    >>> t, p = sg.variable("t"), sg.variable("p", (3,))
    >>> y = sg.polyval([3., 0., 1.], t)
    >>> sg.evaluate([y, sg.grad(y, t)], {"t": 5.0})
    [array(76.), array(30.)]
    >>> sg.evaluate(sg.grad(sg.polyval(p, t), p), {"t": 5.0, "p": np.array([3., 0., 1.])})
    array([25.,  5.,  1.])
    """
    if isinstance(p, np.poly1d) or isinstance(x, np.poly1d):
        raise SymgraphError("polyval: numpy.poly1d is not supported; pass the coefficients")
    graph = _graph_of(p, x)
    p, x = _on_graph(p, graph), _on_graph(x, graph)
    if p.ndim == 0:
        raise ShapeError("polyval: p must be a sequence of coefficients, got a 0-d array")
    y = zeros_like(x)
    for i in range(p.shape[0]):
        y = y * x + getitem(p, i)
    return y


# ---------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------

_CONV_MODES = ("full", "same", "valid")


def _signal(v: Any, graph: Graph, what: str, name: str) -> Node:
    """A 1-D, non-empty operand of convolve/correlate (convolve takes a 0-d one as length 1,
    as numpy)."""
    v = _on_graph(v, graph)
    if v.ndim == 0 and what == "convolve":
        v = reshape(v, (1,))
    if v.ndim != 1:
        raise ShapeError(f"{what}: {name} must be one-dimensional, got shape {v.shape}")
    if v.shape[0] == 0:
        raise ShapeError(f"{what}: {name} cannot be empty")
    return v


def _operands(a: Any, v: Any, mode: Any, what: str) -> tuple[Node, Node]:
    if not isinstance(mode, str) or mode not in _CONV_MODES:
        raise SymgraphError(f"{what}: mode must be one of {_CONV_MODES}, got {mode!r:.40}")
    graph = _graph_of(a, v)
    return _signal(a, graph, what, "a"), _signal(v, graph, what, "v")


def _slide(a: Node, v: Node, mode: str) -> Node:
    """``out[k] = sum_j a[k + j - left] * v[j]`` (zero outside ``a``), len(a) >= len(v), with
    numpy's padding per mode: full m-1 | m-1, same m//2 | m-1-m//2, valid none.  One
    getitem of a constant index matrix (out of range -> an appended zero) and a matmul."""
    n, m = a.shape[0], v.shape[0]
    left, right = {"full": (m - 1, m - 1), "same": (m // 2, m - 1 - m // 2),
                   "valid": (0, 0)}[mode]
    index = np.arange(n + left + right - m + 1)[:, None] + np.arange(m) - left
    if left or right:
        index = np.where((index < 0) | (index >= n), n, index)
        a = concatenate([a, full((1,), 0, a.dtype, graph=a.graph)])
    return matmul(getitem(a, index), v)


def correlate(a: Any, v: Any, mode: str = "valid") -> Node:
    """numpy.correlate: the cross-correlation of two 1-D sequences.

    It is ``c[k] = sum_n a[n + k] * v[n]``; ``mode`` is "valid" (the default: where they
    overlap fully), "same" (``max(len(a), len(v))`` values) or "full" (every
    overlap).  When ``v`` is the longer one, numpy's swap-and-reverse rule applies.  Real
    inputs only (numpy conjugates ``v``; symgraph has no conj).  O(len(a) * len(v)) work,
    as numpy. Differentiable in both, so a filter ``v`` can be learned.

    Examples
    --------
    A difference filter slid along a signal, and the gradient to the filter:

    >>> s, k = sg.variable("s", (5,)), sg.variable("k", (2,))
    >>> feed = {"s": np.array([1., 2., 3., 4., 5.]), "k": np.array([1., -1.])}
    >>> sg.evaluate(sg.correlate(s, k), feed)
    array([-1., -1., -1., -1.])
    >>> sg.evaluate(sg.grad(sg.correlate(s, k).sum(), k), feed)
    array([10., 14.])
    """
    a, v = _operands(a, v, mode, "correlate")
    refuse_complex("correlate", "numpy conjugates v, and symgraph has no conj", a, v)
    if v.shape[0] > a.shape[0]:
        return flip(_slide(v, a, mode), 0)
    return _slide(a, v, mode)


def convolve(a: Any, v: Any, mode: str = "full") -> Node:
    """numpy.convolve: the discrete linear convolution of two 1-D sequences.

    It is ``c[k] = sum_j a[j] * v[k - j]``; ``mode`` is "full" (the default,
    ``len(a) + len(v) - 1`` values), "same" (``max(len(a), len(v))``, centred as numpy) or
    "valid" (full overlap only). Symmetric in ``a`` and ``v`` (numpy swaps them when ``v``
    is longer). Differentiable in both.

    Examples
    --------
    >>> a = sg.variable("a", (2,))
    >>> c = sg.convolve(a, [1., 1., 1.])
    >>> sg.evaluate(c, {"a": np.array([1., 2.])})
    array([1., 3., 3., 2.])
    >>> sg.evaluate(sg.grad(c.sum(), a), {"a": np.array([1., 2.])})
    array([3., 3.])
    """
    a, v = _operands(a, v, mode, "convolve")
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    return _slide(a, flip(v, 0), mode)


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------

def _no_out(out: Any, what: str) -> None:
    if out is not None:
        raise SymgraphError(f"{what}: out= is not supported (a node is never written to)")


def _is_nan(x: Node) -> Node:
    return not_equal(x, x)


def average(a: Any, axis: int | Sequence[int] | None = None, weights: Any = None,
            returned: bool = False, *, keepdims: bool = False) -> Node | tuple[Node, Node]:
    """numpy.average: the mean over ``axis``, or with ``weights`` ``sum(a * w) / sum(w)``.

    ``weights`` has ``a``'s shape, or (with ``axis``) the shape of ``a`` along ``axis``,
    in ``axis``' order; it may be a node (differentiable).  Integer/bool ``a`` averages
    as float64; otherwise the dtype is ``result_type(a, weights)``.  ``returned=True``
    also gives the sum of the weights (the count without weights) in the average's
    shape.  numpy raises when the weights sum to zero: so does this for weights known
    when building; node weights summing to zero give inf/NaN.

    Examples
    --------
    >>> a = sg.variable("a", (3,))
    >>> m = sg.average(a, weights=[1, 1, 2])
    >>> sg.evaluate([m, sg.grad(m, a)], {"a": np.array([1., 2., 4.])})
    [array(2.75), array([0.25, 0.25, 0.5 ])]
    >>> M = sg.variable("M", (2, 3))
    >>> sg.evaluate(sg.average(M, axis=1, weights=[1., 0., 1.]), {"M": [[0, 1, 2], [3, 4, 5]]})
    array([1., 4.])
    """
    a = as_node(a)
    axes = normalize_axis(axis, a.ndim, "average")  # sorted; weights follow ``axis``' order
    order = None if axis is None else [normalize_axis(ax, a.ndim, "average")[0] for ax in (
        (axis,) if isinstance(axis, numbers.Integral) else axis)]
    if weights is None:
        avg = mean(a, axes, keepdims)
        scl = full(avg.shape, a.size / max(avg.size, 1), avg.dtype, graph=a.graph)
        return (avg, scl) if returned else avg
    known = None if isinstance(weights, Node) or isinstance(weights, (list, tuple)) and holds_node(
        weights) else np.asarray(weights)
    w = _on_graph(weights, a.graph)
    if a.shape != w.shape:
        if order is None:
            raise SymgraphError(f"average: axis must be given when the shapes of a {a.shape} and "
                                f"weights {w.shape} differ")
        if w.shape != tuple(a.shape[ax] for ax in order):
            raise ShapeError(f"average: weights of shape {w.shape} must match a {a.shape} along "
                             f"axis {tuple(order)}")
        w = transpose(w, [int(i) for i in np.argsort(order)])
        w = reshape(w, tuple(s if ax in order else 1 for ax, s in enumerate(a.shape)))
        if known is not None:
            known = known.transpose(np.argsort(order)).reshape(w.shape)
    if known is not None and np.any(np.sum(known, axis=axes) == 0):
        raise SymgraphError("average: weights sum to zero, can't be normalized")
    floats = "f8" if a.dtype.kind in "biu" else a.dtype
    dtype = np.result_type(a.dtype, w.dtype, floats)
    w = cast(w, dtype)
    scl = sum_(w, axes, keepdims)
    avg = sum_(cast(a, dtype) * w, axes, keepdims) / scl
    return (avg, broadcast_to(scl, avg.shape)) if returned else avg


def _sample_weights(value: Any, count: int, name: str) -> np.ndarray | None:
    """cov's fweights/aweights checked as numpy checks them: 1-D, one per observation, >= 0."""
    if value is None:
        return None
    if isinstance(value, Node) or isinstance(value, (list, tuple)) and holds_node(value):
        raise SymgraphError(f"cov: {name} must be an array known when building, not a node")
    w = np.asarray(value, dtype=float)
    if w.ndim != 1 or w.shape[0] != count:
        raise ShapeError(f"cov: {name} must be 1-D with one weight per observation ({count}), "
                         f"got shape {w.shape}")
    if np.any(w < 0):
        raise SymgraphError(f"cov: {name} cannot be negative")
    if name == "fweights" and not np.all(w == np.around(w)):
        raise SymgraphError("cov: fweights must be integers")
    return w


def _as_rows(x: Node, dtype: np.dtype, name: str) -> Node:
    """An input of cov as a 2-D node of ``dtype`` (1-D: one row)."""
    if x.ndim > 2:
        raise ShapeError(f"cov: {name} has more than 2 dimensions (shape {x.shape})")
    refuse_complex("cov", "numpy conjugates, and symgraph has no conj", x)
    return atleast_2d(cast(x, dtype))


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: Any = None, aweights: Any = None, *,
        dtype: Any = None) -> Node:
    """numpy.cov: the covariance matrix of the variables in ``m`` (and ``y``, appended).

    Each row is a variable and each column an observation (``rowvar=False``: the other
    way round).  Normalised by ``N - 1`` (``bias=True``: ``N``; ``ddof`` overrides
    both), with numpy's rules for integer frequency weights ``fweights`` and
    observation weights ``aweights`` (arrays known when building, not nodes).  The
    result is squeezed: one variable gives a 0-d node.  As numpy, the dtype is
    ``result_type(m, y, float64)`` unless ``dtype`` is given (float32 data gives float64:
    pass ``dtype=np.float32`` to keep it).  ``N - ddof <= 0`` warns and gives inf/NaN.
    Real inputs only.

    Examples
    --------
    >>> m = sg.variable("m", (2, 3))
    >>> feed = {"m": np.array([[0., 1., 2.], [2., 1., 0.]])}
    >>> sg.evaluate(sg.cov(m), feed)
    array([[ 1., -1.],
           [-1.,  1.]])
    >>> sg.evaluate(sg.grad(sg.cov(m)[0, 1], m), feed)
    array([[ 0.5,  0. , -0.5],
           [-0.5,  0. ,  0.5]])
    """
    if ddof is not None and (not isinstance(ddof, numbers.Real) or ddof != int(ddof)):
        raise SymgraphError(f"cov: ddof must be an integer, got {ddof!r:.40}")
    m = as_node(m)
    y = None if y is None else _on_graph(y, m.graph)
    if dtype is None:
        dtype = np.result_type(m.dtype, *([] if y is None else [y.dtype]), np.float64)
    else:
        dtype = numeric_dtype(dtype, "cov")
        if dtype.kind == "c":
            raise DTypeError(f"cov: complex dtype {dtype} is not supported (numpy conjugates, "
                             "and symgraph has no conj)")
    X = _as_rows(m, dtype, "m")
    if not rowvar and m.ndim != 1:
        X = transpose(X)
    if X.shape[0] == 0:
        return constant(np.empty((0, 0)), graph=m.graph)
    if y is not None:
        Y = _as_rows(y, dtype, "y")
        if not rowvar and Y.shape[0] != 1:  # numpy's test for y (not y.ndim as for m)
            Y = transpose(Y)
        if Y.shape[1] != X.shape[1]:
            raise ShapeError(f"cov: m and y must have the same number of observations, got "
                             f"{X.shape[1]} and {Y.shape[1]}")
        X = concatenate([X, Y], 0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = X.shape[1]
    fw = _sample_weights(fweights, n, "fweights")
    aw = _sample_weights(aweights, n, "aweights")
    w = fw if aw is None else aw if fw is None else fw * aw
    if w is None:
        avg, fact = average(X, axis=1), float(n - ddof)
    else:
        avg, w_sum = average(X, axis=1, weights=w), np.sum(w)
        if ddof == 0:
            fact = w_sum
        elif aw is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * np.sum(w * aw) / w_sum
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    X = cast(X - reshape(avg, (-1, 1)), X.dtype)  # numpy subtracts in place: X keeps its dtype
    c = matmul(X, transpose(X if w is None else X * w))
    with np.errstate(divide="ignore"):
        c = c * float(np.true_divide(1, np.float64(fact)))
    return reshape(c, tuple(s for s in c.shape if s != 1))


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Node:
    """numpy.corrcoef: Pearson correlation coefficients, ``cov / outer(std, std)``.

    The covariance is ``cov(x, y, rowvar, dtype=dtype)``; the result is clipped
    to [-1, 1] as numpy does.  A single variable gives ``c / c`` (1, or NaN for
    constant data), as numpy.  Derivatives are those of the formula: NaN/inf for a
    constant variable.

    Examples
    --------
    >>> m = sg.variable("m", (2, 3))
    >>> feed = {"m": np.array([[0., 1., 2.], [1., 3., 2.]])}
    >>> sg.evaluate(sg.corrcoef(m), feed)
    array([[1. , 0.5],
           [0.5, 1. ]])
    >>> sg.evaluate(sg.grad(sg.corrcoef(m)[0, 1], m), feed)
    array([[-0.25,  0.5 , -0.25],
           [-0.25, -0.25,  0.5 ]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    stddev = sqrt(diagonal(c))
    c = c / reshape(stddev, (-1, 1))
    c = c / reshape(stddev, (1, -1))
    return clip(c, -1, 1)


def _sorted_sample(a: Node, axis: Any, what: str) -> tuple[Node, tuple[int, ...]]:
    """``a`` with the axes ``axis`` (None: all) merged into one leading axis and sorted along
    it (derivatives flow through sort), and the shape ``keepdims`` gives the result."""
    refuse_complex(what, "numpy orders complex numbers lexicographically; symgraph's sort "
                   "does not", a)
    axes = normalize_axis(axis, a.ndim, what)
    kept = [d for d in range(a.ndim) if d not in axes]
    n = int(np.prod([a.shape[d] for d in axes], dtype=np.int64))
    if n == 0:
        raise ShapeError(f"{what}: the sample along axis {axis} of shape {a.shape} is empty "
                         "(numpy gives NaN or fails)")
    order = list(axes) + kept
    front = a if order == sorted(order) else transpose(a, order)
    front = reshape(front, (n,) + tuple(a.shape[d] for d in kept))
    keep_shape = tuple(1 if d in axes else s for d, s in enumerate(a.shape))
    return sort(front, axis=0), keep_shape


def _nan_if_sample_has_nan(out: Node, s: Node) -> Node:
    """NaN where the sorted sample ``s`` holds a NaN (sorted last), as numpy's median and
    quantile; the gradient there is zero."""
    if s.dtype.kind != "f":
        return out
    last = getitem(s, -1)
    return where(_is_nan(last), np.nan, out)


def median(a: Any, axis: int | Sequence[int] | None = None, out: Any = None,
           overwrite_input: bool = False, keepdims: bool = False) -> Node:
    """numpy.median: the middle value of the sorted sample along ``axis``.

    ``axis=None`` takes all; a tuple merges those axes.  An even count gives the
    mean of the middle two; NaN where the sample holds a NaN.  Integers give
    float64, float32 stays float32.  Built from ``sort``, so the derivative goes to
    the middle element(s) (half each for an even count): a robust loss that
    ignores outliers.  At ties it follows the sort's permutation.
    ``overwrite_input`` is accepted and has no effect.  An empty sample is a
    ShapeError (numpy: NaN and a warning).

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> m = sg.median(x)
    >>> sg.evaluate([m, sg.grad(m, x)], {"x": np.array([3., 1., 4., 1.5])})
    [array(2.25), array([0.5, 0. , 0. , 0.5])]
    >>> M = sg.variable("M", (2, 3))
    >>> sg.evaluate(sg.median(M, axis=1), {"M": np.array([[1., 5., 3.], [2., 0., 4.]])})
    array([3., 2.])
    """
    _no_out(out, "median")
    a = as_node(a)
    s, keep_shape = _sorted_sample(a, axis, "median")
    n = s.shape[0]
    half = n // 2
    middle = getitem(s, slice(half, half + 1) if n % 2 else slice(half - 1, half + 1))
    result = _nan_if_sample_has_nan(mean(middle, 0), s)
    return reshape(result, keep_shape) if keepdims else result


#: numpy's quantile methods (Hyndman and Fan's nine and numpy's older four)
QUANTILE_METHODS = ("inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                    "interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
                    "normal_unbiased", "lower", "higher", "midpoint", "nearest")
#: (alpha, beta) of the continuous methods: virtual index n q + alpha + q (1 - alpha - beta) - 1
_CONTINUOUS = {"interpolated_inverted_cdf": (0, 1), "hazen": (0.5, 0.5), "weibull": (0, 0),
               "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}


def _boundary_index(index: np.ndarray, at_lower: np.ndarray) -> np.ndarray:
    """The discontinuous methods' pick: ``floor(index)`` where ``at_lower``, else the next."""
    lower = np.floor(index)
    return np.maximum(np.where(at_lower, lower, lower + 1).astype(np.intp), 0)


def _quantile_positions(n: int, q: np.ndarray, method: str
                       ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Where numpy's quantile of ``n`` sorted values reads them, worked out when building:
    ``(index, None, None)`` for a method that picks one value, else ``(below, above,
    gamma)`` with the result ``lerp(s[below], s[above], gamma)``.  The formulas are
    numpy's (numpy/lib/_function_base_impl.py, ``_QuantileMethods``), index for index."""
    if method == "inverted_cdf":
        index = n * q - 1
        return _boundary_index(index, index - np.floor(index) == 0), None, None
    if method == "closest_observation":
        index = n * q - 1 - 0.5
        even = (index - np.floor(index) == 0) & (np.floor(index) % 2 == 1)
        return _boundary_index(index, even), None, None
    if method in ("lower", "higher", "nearest"):
        rule = {"lower": np.floor, "higher": np.ceil, "nearest": np.around}[method]
        return rule((n - 1) * q).astype(np.intp), None, None
    if method == "linear":
        virtual = np.asanyarray((n - 1) * q)
        if virtual.dtype.kind in "iu":
            return virtual.astype(np.intp), None, None
    elif method == "midpoint":
        virtual = np.asanyarray(0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q)))
    elif method == "averaged_inverted_cdf":
        virtual = np.asanyarray(n * q - 1)
    else:
        alpha, beta = _CONTINUOUS[method]
        virtual = np.asanyarray(n * q + (alpha + q * (1 - alpha - beta)) - 1)
    lower = np.floor(virtual)
    over, under = virtual >= n - 1, virtual < 0  # outside: both ends the last / first value
    below = np.where(over, -1, np.where(under, 0, lower)).astype(np.intp)
    above = np.where(over, -1, np.where(under, 0, lower + 1)).astype(np.intp)
    gamma = virtual - below
    if method == "averaged_inverted_cdf":
        gamma = np.where(gamma == 0, 0.5, 1.0)
    elif method == "midpoint":
        gamma = np.where(virtual % 1 == 0, 0.0, 0.5)
    return below, above, np.asarray(gamma, virtual.dtype)


def _lerp(lo: Node, hi: Node, t: Any) -> Node:
    """numpy's ``_lerp``: ``lo + (hi - lo) t``, or ``hi - (hi - lo)(1 - t)`` where
    ``t >= 0.5`` (exact at both ends); ``t`` a Python float or an array known now."""
    d = hi - lo
    upper = np.asarray(t) >= 0.5
    if not isinstance(t, float):
        t = constant(t, graph=lo.graph)
    if not upper.any():
        return lo + d * t
    if upper.all():
        return hi - d * (1 - t)
    return where(constant(upper, graph=lo.graph), hi - d * (1 - t), lo + d * t)


def _quantile(a: Any, q: Any, axis: Any, method: str, keepdims: bool, weights: Any,
              what: str, scale: float) -> Node:
    if weights is not None:
        raise SymgraphError(f"{what}: weights are not supported")
    if method not in QUANTILE_METHODS:
        raise SymgraphError(f"{what}: {method!r:.40} is not a valid method; use one of "
                            f"{QUANTILE_METHODS}")
    if isinstance(q, Node) or isinstance(q, (list, tuple)) and holds_node(q):
        raise SymgraphError(f"{what}: q must be a number or an array known when building, not "
                            "a node (the positions read from the sorted sample depend on it)")
    weak_q = type(q) in (int, float)
    try:
        q = np.asanyarray(q) if scale == 1 else np.asanyarray(np.true_divide(q, scale))
    except TypeError:
        raise SymgraphError(f"{what}: q must be a number or an array, got {q!r:.40}") from None
    if q.dtype.kind not in "biuf":
        raise SymgraphError(f"{what}: q must be real numbers, got dtype {q.dtype}")
    if q.ndim > 2:
        raise ShapeError(f"{what}: q must be a scalar or 1-d (2-d at most), got shape {q.shape}")
    if q.size and not (np.min(q) >= 0 and np.max(q) <= 1):
        bound = "[0, 1]" if scale == 1 else "[0, 100]"
        raise SymgraphError(f"{what}: q must be in the range {bound}")
    a = as_node(a)
    s, keep_shape = _sorted_sample(a, axis, what)
    below, above, gamma = _quantile_positions(s.shape[0], q, method)

    def at(index: np.ndarray) -> Node:
        return getitem(s, int(index) if index.ndim == 0 else index)

    if gamma is None:
        result = at(below)
    else:
        t = float(gamma) if weak_q else gamma.reshape(gamma.shape + (1,) * (s.ndim - 1))
        result = _lerp(at(below), at(above), t)
    result = _nan_if_sample_has_nan(result, s)
    return reshape(result, q.shape + keep_shape) if keepdims else result


def quantile(a: Any, q: Any, axis: int | Sequence[int] | None = None, out: Any = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
             weights: Any = None) -> Node:
    """numpy.quantile: the ``q``-th quantiles of the sample along ``axis``, ``q`` in [0, 1].

    ``q`` is a number or an array of up to 2 dimensions known when building, prepended to
    the result's shape; ``axis=None`` takes all, a tuple merges those axes.  ``method`` is
    any of numpy's (default "linear": ``s[i] + (s[i+1] - s[i]) g`` at virtual index
    ``(n - 1) q = i + g``).  The sample is sorted with ``sort`` and the positions and
    weights are numpy's, computed when building, so values and dtypes are numpy's (a
    Python float ``q`` keeps float32 float32, an array ``q`` of float64 makes it float64;
    picking methods keep integers) and the derivative flows through the sort to the values
    read (at ties it follows the sort's permutation).  NaN where the sample holds a
    NaN.  ``weights`` and ``out`` are not supported; ``overwrite_input`` has no effect.

    Examples
    --------
    The first quartile lies a quarter of the way from 1 to 2, and its derivative
    weighs those two elements accordingly:

    >>> y = sg.variable("y", (4,))
    >>> feed = {"y": np.array([4., 1., 3., 2.])}
    >>> q1 = sg.quantile(y, 0.25)
    >>> sg.evaluate([q1, sg.grad(q1, y)], feed)
    [array(1.75), array([0.  , 0.25, 0.  , 0.75])]
    >>> sg.evaluate(sg.quantile(y, [0.25, 0.5, 1.0]), feed)
    array([1.75, 2.5 , 4.  ])
    """
    _no_out(out, "quantile")
    return _quantile(a, q, axis, method, keepdims, weights, "quantile", 1)


def percentile(a: Any, q: Any, axis: int | Sequence[int] | None = None, out: Any = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
               weights: Any = None) -> Node:
    """numpy.percentile: ``quantile(a, q / 100, ...)`` with ``q`` in [0, 100].

    The arguments, methods and derivatives are ``quantile``'s.

    Examples
    --------
    >>> y = sg.variable("y", (4,))
    >>> feed = {"y": np.array([4., 1., 3., 2.])}
    >>> sg.evaluate(sg.percentile(y, [10, 90]), feed)
    array([1.3, 3.7])
    >>> sg.evaluate(sg.grad(sg.percentile(y, 50), y), feed)
    array([0. , 0. , 0.5, 0.5])
    """
    _no_out(out, "percentile")
    return _quantile(a, q, axis, method, keepdims, weights, "percentile", 100)


def nansum(a: Any, axis: int | Sequence[int] | None = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False) -> Node:
    """numpy.nansum: the sum over ``axis`` with NaNs counted as zero.

    An all-NaN slice sums to 0.  It is ``where(isnan(a), 0, a)`` summed, so the gradient is
    zero at the NaNs and one elsewhere: missing data drops out of a loss without poisoning
    its gradient.  ``dtype`` casts ``a`` before summing.

    Examples
    --------
    >>> z = sg.variable("z", (3,))
    >>> s = sg.nansum(z)
    >>> sg.evaluate([s, sg.grad(s, z)], {"z": np.array([1., np.nan, 2.])})
    [array(3.), array([1., 0., 1.])]
    """
    _no_out(out, "nansum")
    a = as_node(a)
    if a.dtype.kind in "fc":
        a = where(_is_nan(a), 0, a)
    if dtype is not None:
        a = cast(a, numeric_dtype(dtype, "nansum"))
    return sum_(a, axis, keepdims)


def nanmean(a: Any, axis: int | Sequence[int] | None = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False) -> Node:
    """numpy.nanmean: the mean over ``axis`` of the elements that are not NaN.

    An all-NaN slice gives NaN (numpy also warns).  The sum of
    ``where(isnan(a), 0, a)`` divided by the count of non-NaNs, so the gradient is
    zero at the NaNs.  Integers give float64 (numpy's mean); float32 stays float32.

    Examples
    --------
    >>> z = sg.variable("z", (3,))
    >>> m = sg.nanmean(z)
    >>> sg.evaluate([m, sg.grad(m, z)], {"z": np.array([1., np.nan, 2.])})
    [array(1.5), array([0.5, 0. , 0.5])]
    >>> W = sg.variable("W", (2, 2))
    >>> sg.evaluate(sg.nanmean(W, axis=0), {"W": np.array([[1., np.nan], [3., 4.]])})
    array([2., 4.])
    """
    _no_out(out, "nanmean")
    a = as_node(a)
    if dtype is not None:
        dtype = numeric_dtype(dtype, "nanmean")
    if a.dtype.kind not in "fc":
        return mean(a if dtype is None else cast(a, dtype), axis, keepdims)
    if dtype is not None and dtype.kind not in "fc":
        raise DTypeError(f"nanmean: a is inexact ({a.dtype}), so dtype must be too, got {dtype}")
    kept = equal(a, a)
    total = sum_(where(kept, a, 0) if dtype is None else cast(where(kept, a, 0), dtype), axis,
                 keepdims)
    count = sum_(cast(kept, np.int64), axis, keepdims)
    return cast(total / count, total.dtype)  # numpy divides into the sum's dtype
