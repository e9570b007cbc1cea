"""numpy's other spellings and small composites, so numpy code ports name for name.

None of these has an op of its own: each is built from the breadth ops, so its
derivatives, compiled code, sympy and dask behaviour are those of its parts.
``absolute`` is ``abs`` (``fabs`` casts to a float first); ``amax``/``amin`` are
``max``/``min``;
``remainder`` is ``mod``; ``true_divide`` is ``divide``; the rest are short
compositions with numpy's semantics, each stated in its docstring.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node
from .base import as_dim, as_node, as_nodes, normalize_axis, ufunc_dtype
from .elementwise import abs as abs_
from .elementwise import cast, divide, equal, not_equal, where
from .piecewise import mod
from .rearrange import flip, moveaxis, split, swapaxes
from .reduce import max as max_
from .reduce import min as min_
from .shape import concatenate, getitem, reshape, stack, transpose
from .sorting import sort
from .sources import constant

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
    """``|x|`` as a float (numpy.fabs: integers become floats, complex is refused)."""
    return abs_(_as_float(x, np.fabs))


def deg2rad(x: Any) -> Node:
    """Degrees to radians, ``x * pi / 180`` (numpy.deg2rad, numpy.radians)."""
    return _as_float(x, np.deg2rad) * (np.pi / 180)


def rad2deg(x: Any) -> Node:
    """Radians to degrees, ``x * 180 / pi`` (numpy.rad2deg, numpy.degrees)."""
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
    """Each input with at least one dimension (a 0-d one becomes shape (1,)); one node for
    one input, else a list (numpy.atleast_1d)."""
    return _at_least(arrays, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*arrays: Any) -> Node | list[Node]:
    """At least two dimensions: () -> (1, 1), (N,) -> (1, N) (numpy.atleast_2d)."""
    return _at_least(arrays, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arrays: Any) -> Node | list[Node]:
    """At least three dimensions: () -> (1, 1, 1), (N,) -> (1, N, 1), (M, N) -> (M, N, 1)
    (numpy.atleast_3d)."""
    def shape_of(s):
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)
    return _at_least(arrays, shape_of)


def rollaxis(x: Any, axis: int, start: int = 0) -> Node:
    """numpy.rollaxis: ``axis`` moved to sit before position ``start`` (prefer moveaxis)."""
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
    """Reverse the columns (axis 1) of an array of at least 2 dimensions (numpy.fliplr)."""
    x = as_node(x)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: input must be at least 2-d, got shape {x.shape}")
    return flip(x, 1)


def flipud(x: Any) -> Node:
    """Reverse the rows (axis 0) of an array of at least 1 dimension (numpy.flipud)."""
    x = as_node(x)
    if x.ndim < 1:
        raise ShapeError("flipud: input must be at least 1-d, got a 0-d array")
    return flip(x, 0)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Node:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the first axis
    towards the second (numpy.rot90)."""
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
    """Split along axis 1 (axis 0 for 1-d input), as numpy.hsplit."""
    x = as_node(x)
    if x.ndim == 0:
        raise ShapeError("hsplit only works on arrays of 1 or more dimensions")
    return split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


def vsplit(x: Any, indices_or_sections: Any) -> list[Node]:
    """Split along axis 0 of an array of at least 2 dimensions (numpy.vsplit)."""
    return _split_at_least(x, indices_or_sections, 2, 0, "vsplit")


def dsplit(x: Any, indices_or_sections: Any) -> list[Node]:
    """Split along axis 2 of an array of at least 3 dimensions (numpy.dsplit)."""
    return _split_at_least(x, indices_or_sections, 3, 2, "dsplit")


# ---------------------------------------------------------------------------
# products and differences
# ---------------------------------------------------------------------------

def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Node:
    """The cross product of 3-vectors along ``axisa``/``axisb`` (broadcast over the other
    axes), placed along ``axisc`` (numpy.cross).  2-vectors count as 3-vectors with z = 0;
    two 2-vectors give the z component alone, a scalar per pair, as numpy does."""
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
    from .shape import broadcast_to

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
    """numpy.gradient: second-order central differences inside, one-sided differences of
    order ``edge_order`` (1 or 2) at the ends.  ``varargs``: one step for all axes, one
    per axis, or coordinate arrays (uneven steps).  One node for one axis, else a list."""
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
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the
    dtype's largest and smallest finite values), as numpy.nan_to_num.  The gradient flows
    only where ``x`` is finite (autograd's rule)."""
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
    """numpy.partition's contract: along ``axis`` the element at each ``kth`` is where a
    sort would put it, smaller ones before it and larger ones after.  numpy leaves the
    order within each side unspecified; here it is sorted (a valid partition), so the
    values at ``kth`` equal numpy's but other positions may differ from numpy's."""
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
    "partition",
]
