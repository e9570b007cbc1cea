"""Vector and matrix norms with numpy.linalg.norm's ord/axis/keepdims semantics.

``norm`` is a composition of existing ops (abs, square, sum, sqrt, power,
max, min; singular values for the matrix 2-, -2- and nuclear norms), so its
derivatives are theirs, and its graph reads like its formula.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import ShapeError, SymgraphError
from ..graph import Node
from .base import as_node, normalize_axis
from .elementwise import abs, cast, not_equal, power, sqrt, square
from .reduce import max, min, sum
from .shape import reshape, transpose


def _float(x: Node) -> Node:
    """numpy.linalg.norm computes in floating point: ints and bools become float64."""
    return x if x.dtype.kind in "fc" else cast(x, np.float64)


def _squares(x: Node) -> Node:
    """``|x| ** 2`` (``x * x`` for real ``x``)."""
    return square(abs(x) if x.dtype.kind == "c" else x)


def _real_dtype(x: Node) -> np.dtype:
    return np.empty(0, x.dtype).real.dtype


def _vector_norm(x: Node, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Node:
    if ord is None or (_is_number(ord) and ord == 2):
        return sqrt(sum(_squares(x), axis, keepdims))
    if not _is_number(ord):
        raise SymgraphError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == math.inf:
        return max(abs(x), axis, keepdims)
    if ord == -math.inf:
        return min(abs(x), axis, keepdims)
    if ord == 0:  # the number of nonzero elements
        return sum(cast(not_equal(x, 0), _real_dtype(x)), axis, keepdims)
    if ord == 1:
        return sum(abs(x), axis, keepdims)
    p = float(ord)
    return power(sum(power(abs(x), p), axis, keepdims), 1.0 / p)


def _matrix_norm(x: Node, ord: Any, rows: int, cols: int, keepdims: bool) -> Node:
    axes = tuple(sorted((rows, cols)))
    if ord is None or ord == "fro":
        return sqrt(sum(_squares(x), axes, keepdims))
    if ord in (2, -2, "nuc"):
        from .linalg import svdvals  # singular values, descending, over the last two axes

        others = tuple(a for a in range(x.ndim) if a not in axes)
        s = svdvals(transpose(x, others + (rows, cols)))
        out = sum(s, -1) if ord == "nuc" else max(s, -1) if ord == 2 else min(s, -1)
        return reshape(out, _kept(x.shape, axes)) if keepdims else out
    if ord in (1, -1, math.inf, -math.inf):
        # ord 1: the largest column sum (sum down the rows); inf: the largest row sum
        first, then = (rows, cols) if ord in (1, -1) else (cols, rows)
        pick = max if ord in (1, math.inf) else min
        out = pick(sum(abs(x), first, keepdims=True), then, keepdims=True)
        return out if keepdims else reshape(out, tuple(s for i, s in enumerate(out.shape)
                                                       if i not in axes))
    raise SymgraphError(f"norm: invalid norm order {ord!r} for matrices")


def _kept(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def norm(x, ord: Any = None, axis: int | tuple[int, ...] | None = None,
         keepdims: bool = False) -> Node:
    """``numpy.linalg.norm``: a vector norm over one axis, a matrix norm over two.

    ``axis`` None: the 2-norm of the flattened ``x`` when ``ord`` is None,
    else ``x`` must be 1-D (a vector norm) or 2-D (a matrix norm).  Vector
    ``ord``: None/2 (Euclidean), 1, inf (``max(abs(x))``), -inf (``min(abs(x))``),
    0 (count of nonzeros) or any real p (``sum(abs(x)**p) ** (1/p)``).  Matrix
    ``ord``: None/'fro', 'nuc' (sum of singular values), 1/-1 (max/min column sum
    of ``abs(x)``), inf/-inf (max/min row sum), 2/-2 (largest/smallest singular
    value, from ``svdvals``).  Integers and bools are computed in float64.

    Gradient at ``x == 0``: like JAX (jax issue #21723, "working as intended"),
    the 2-norm, the Frobenius norm and p-norms with p > 1 have a NaN gradient
    there, as ``sqrt`` has an infinite slope at 0.  Where zeros can occur, use
    a smooth norm, ``sqrt(sum(x**2) + eps)``, or the double ``where``::

        sq = sum(x**2)
        safe = where(sq > 0, sq, 1)
        n = where(sq > 0, sqrt(safe), 0)      # gradient 0 at x == 0

    ord 1 and inf use ``abs``/``max``, whose derivative at a kink or tie is
    taken as 0 or shared evenly.

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> y = sg.norm(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [3.0, 4.0]})
    [array(5.), array([0.6, 0.8])]
    >>> sg.evaluate([sg.norm(x, 1), sg.norm(x, np.inf)], {"x": [3.0, -4.0]})
    [array(7.), array(4.)]
    >>> m = sg.variable("m", (2, 2))
    >>> sg.evaluate(sg.norm(m, axis=1), {"m": [[3.0, 4.0], [6.0, 8.0]]})
    array([ 5., 10.])
    """
    x = _float(as_node(x))
    keepdims = bool(keepdims)
    if axis is None:
        if ord is None:
            out = sqrt(sum(_squares(x)))
            return reshape(out, (1,) * x.ndim) if keepdims else out
        if x.ndim not in (1, 2):
            raise ShapeError(f"norm: an order {ord!r} norm of all axes needs a 1-D or 2-D array, "
                             f"got shape {x.shape}; pass axis")
        axis = tuple(range(x.ndim))
    elif isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_)):
        axis = (axis,)
    elif not isinstance(axis, tuple):
        raise SymgraphError(f"norm: axis must be None, an int or a tuple of one or two ints, "
                            f"got {axis!r}")
    if len(axis) == 1:
        return _vector_norm(x, ord, normalize_axis(axis, x.ndim, "norm"), keepdims)
    if len(axis) == 2:
        normalize_axis(axis, x.ndim, "norm")  # bounds and duplicates
        rows, cols = (int(a) % x.ndim for a in axis)
        return _matrix_norm(x, ord, rows, cols, keepdims)
    raise ShapeError(f"norm: axis {axis} names {len(axis)} axes; a norm is over one axis "
                     "(a vector norm) or two (a matrix norm)")


__all__ = ["norm"]
