"""numpy's array-manipulation functions built from the core shape ops: squeeze,
expand_dims, ravel, swapaxes, moveaxis, flip, roll, repeat, tile, split, array_split,
hstack, vstack, column_stack, pad, take, take_along_axis.

None of them is a new op: each is a composition of reshape, transpose,
broadcast_to, concatenate and getitem (``symgraph.ops.shape``), so their
derivatives (to any order, both modes), compiled code, sympy and dask support
are those ops' own, and a graph shows what the function does.  Where numpy
copies one element to several places (``repeat`` with a scalar count, ``tile``)
the composition is a broadcast, whose adjoint is a sum; where the copies are
irregular (``repeat`` with counts, ``take``, the non-constant ``pad`` modes) it
is an integer-array getitem, whose adjoint (scatter_add) adds repeated
cotangents.  The integer arrays are computed by numpy on ``arange`` at build
time (``np.pad(np.arange(n), ...)``, ``np.take(np.arange(n), ...)``), so their
semantics, including the corner cases, are numpy's.

``pad`` is a composition too: constant padding is a concatenate with fills (its
adjoint is slicing), the other modes a gather along each axis in turn, which is
how numpy itself pads (axis by axis, the corners from the already padded
axes).  A dedicated op calling ``np.pad`` would gain little: the adjoint of
edge/reflect/symmetric/wrap padding must add the cotangent of every copy back,
which is the scatter_add the gather already has.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from .base import as_dim, as_node, holds_node, normalize_axis
from .shape import broadcast_to, concatenate, getitem, reshape, transpose
from .sorting import TakeAlong
from .sources import full, numeric_dtype

#: a full slice, for building indices that act along one axis
ALL = slice(None)


def _one_axis(axis: Any, ndim: int, what: str) -> int:
    """One axis as a non-negative int (negative counts from the end), or an error."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise SymgraphError(f"{what}: axis must be an integer, got {type(axis).__name__} {axis!r:.40}")
    return normalize_axis(int(axis), ndim, what)[0]


def _axis_list(axis: Any, ndim: int, what: str, *, allow_duplicate: bool = False) -> list[int]:
    """An int or sequence of ints as non-negative axes in the order given (moveaxis, roll)."""
    try:
        items = [axis] if isinstance(axis, numbers.Integral) else list(axis)
    except TypeError:
        raise SymgraphError(f"{what}: axis must be an int or a sequence of ints, got {axis!r:.40}") from None
    out = [_one_axis(a, ndim, what) for a in items]
    if not allow_duplicate and len(set(out)) != len(out):
        raise SymgraphError(f"{what}: repeated axis in {axis!r}")
    return out


def _along(axis: int, item: Any) -> tuple:
    """The index that applies ``item`` (a slice or an index array) along ``axis`` only."""
    return (ALL,) * axis + (item,)


def _not_node(value: Any, what: str, name: str) -> None:
    if isinstance(value, Node) or isinstance(value, (list, tuple)) and holds_node(value):
        raise SymgraphError(f"{what}: {name} must be numbers or arrays, not nodes: they are fixed "
                            "when the graph is built")


def _int_array(value: Any, what: str, name: str) -> np.ndarray:
    """``value`` (array_like of integers) as an int64 array; floats and bools are refused."""
    _not_node(value, what, name)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise SymgraphError(f"{what}: {name} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------
# reshapes
# ---------------------------------------------------------------------------

def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Node:
    """``np.squeeze(x, axis)``: ``x`` without its length-one axes.

    All of them are dropped, or those in ``axis``, which must have length one.
    A reshape, so it costs nothing and its gradient is a reshape back.

    Examples
    --------
    >>> x = sg.variable("x", (1, 3, 1))
    >>> sg.squeeze(x).shape, sg.squeeze(x, axis=0).shape
    ((3,), (3, 1))
    """
    x = as_node(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_axis(axis, x.ndim, "squeeze")
    wide = [a for a in axes if x.shape[a] != 1]
    if wide:
        raise ShapeError(f"squeeze: cannot select an axis to squeeze out which has size not equal to "
                         f"one (axis {wide[0]} of shape {x.shape})")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def expand_dims(x: Any, axis: int | Sequence[int]) -> Node:
    """``np.expand_dims(x, axis)``: ``x`` with length-one axes inserted at ``axis``.

    ``axis`` is an int or a tuple, counted in the result, negative from its end.
    A reshape: use it to line up axes for broadcasting.

    Examples
    --------
    >>> v = sg.variable("v", (3,))
    >>> sg.expand_dims(v, (0, -1)).shape
    (1, 3, 1)
    >>> sg.evaluate(sg.expand_dims(v, 1) * v, {"v": np.array([1., 2., 3.])})
    array([[1., 2., 3.],
           [2., 4., 6.],
           [3., 6., 9.]])
    """
    x = as_node(x)
    try:
        n_new = 1 if isinstance(axis, numbers.Integral) else len(tuple(axis))
    except TypeError:
        raise SymgraphError(f"expand_dims: axis must be an int or a tuple of ints, "
                            f"got {axis!r:.40}") from None
    axes = normalize_axis(axis, x.ndim + n_new, "expand_dims")
    dims = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(dims) for i in range(x.ndim + n_new)))


def ravel(x: Any) -> Node:
    """``np.ravel(x)``: the elements of ``x`` in C order as a 1-D node (0-d gives shape (1,)).

    A reshape; its gradient comes back in ``x``'s shape.

    Examples
    --------
    >>> m = sg.variable("m", (2, 2))
    >>> r = sg.ravel(m)
    >>> sg.evaluate(r, {"m": np.array([[1., 2.], [3., 4.]])})
    array([1., 2., 3., 4.])
    >>> sg.evaluate(sg.grad((r * sg.constant([1., 2., 3., 4.])).sum(), m), {"m": np.zeros((2, 2))})
    array([[1., 2.],
           [3., 4.]])
    """
    x = as_node(x)
    return reshape(x, (x.size,))


# ---------------------------------------------------------------------------
# permutations
# ---------------------------------------------------------------------------

def swapaxes(x: Any, axis1: int, axis2: int) -> Node:
    """``np.swapaxes(x, axis1, axis2)``: ``x`` with two axes interchanged.

    A transpose; ``swapaxes(x, -1, -2)`` transposes every matrix of a stack.

    Examples
    --------
    >>> b = sg.variable("b", (5, 2, 3))
    >>> sg.swapaxes(b, -1, -2).shape
    (5, 3, 2)
    """
    x = as_node(x)
    a, b = _one_axis(axis1, x.ndim, "swapaxes"), _one_axis(axis2, x.ndim, "swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Node:
    """``np.moveaxis(x, source, destination)``: axes ``source`` moved to ``destination``.

    ``source`` and ``destination`` are ints or same-length sequences; the other
    axes keep their order.  A transpose, handy to bring a batch axis last or first.

    Examples
    --------
    >>> b = sg.variable("b", (2, 3, 4))
    >>> sg.moveaxis(b, 0, -1).shape
    (3, 4, 2)
    """
    x = as_node(x)
    src = _axis_list(source, x.ndim, "moveaxis")
    dst = _axis_list(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise SymgraphError("moveaxis: `source` and `destination` arguments must have the same "
                            f"number of elements, got {source!r} and {destination!r}")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def flip(x: Any, axis: int | Sequence[int] | None = None) -> Node:
    """``np.flip(x, axis)``: ``x`` with the order of elements reversed along ``axis``.

    All axes are reversed when ``axis`` is None.  A getitem with ``::-1`` slices,
    whose gradient is flipped back.

    Examples
    --------
    >>> v = sg.variable("v", (3,))
    >>> sg.evaluate(sg.flip(v), {"v": np.array([1., 2., 3.])})
    array([3., 2., 1.])
    >>> w = sg.constant([1., 10., 100.])
    >>> sg.evaluate(sg.grad((sg.flip(v) * w).sum(), v), {"v": np.zeros(3)})
    array([100.,  10.,   1.])
    """
    x = as_node(x)
    axes = normalize_axis(axis, x.ndim, "flip")
    return getitem(x, tuple(slice(None, None, -1) if i in axes else ALL for i in range(x.ndim)))


def roll(x: Any, shift: Any, axis: int | Sequence[int] | None = None) -> Node:
    """``np.roll(x, shift, axis)``: elements shifted ``shift`` places along ``axis``, cyclically.

    Those that leave at one end come back at the other.  With ``axis=None`` the
    flattened array is rolled and reshaped back.  ``shift`` and ``axis`` may be
    sequences (broadcast together; shifts along a repeated axis add up).  A
    concatenate of two slices per axis, so the gradient is rolled back.

    Examples
    --------
    >>> sg.evaluate(sg.roll(sg.constant([1, 2, 3, 4]), 1))
    array([4, 1, 2, 3])
    >>> v, w = sg.variable("v", (3,)), sg.constant([1., 10., 100.])
    >>> sg.evaluate(sg.grad((sg.roll(v, 1) * w).sum(), v), {"v": np.zeros(3)})
    array([ 10., 100.,   1.])
    """
    x = as_node(x)
    _not_node(shift, "roll", "shift")
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    axes = _axis_list(axis, x.ndim, "roll", allow_duplicate=True)
    shifts = np.asarray(shift)
    if shifts.dtype.kind not in "iu":
        raise SymgraphError(f"roll: shift must be integers, got {shift!r:.60}")
    axis_arr = np.asarray(axes) if not isinstance(axis, numbers.Integral) else np.asarray(axes[0])
    try:
        pairs = np.broadcast(shifts, axis_arr)
    except ValueError:
        raise ShapeError(f"roll: shift {shift!r:.40} and axis {axis!r:.40} do not broadcast "
                         "together") from None
    if pairs.ndim > 1:
        raise SymgraphError("roll: 'shift' and 'axis' should be scalars or 1D sequences")
    total = dict.fromkeys(range(x.ndim), 0)
    for sh, ax in pairs:
        total[int(ax)] += int(sh)
    for ax, sh in total.items():
        n = x.shape[ax]
        cut = n - sh % n if n else n
        if 0 < cut < n:
            x = concatenate([getitem(x, _along(ax, slice(cut, None))),
                             getitem(x, _along(ax, slice(None, cut)))], axis=ax)
    return x


# ---------------------------------------------------------------------------
# copies
# ---------------------------------------------------------------------------

def repeat(x: Any, repeats: Any, axis: int | None = None) -> Node:
    """``np.repeat(x, repeats, axis)``: each element repeated ``repeats`` times along ``axis``.

    The flattened ``x`` is used when ``axis`` is None.  ``repeats`` is a
    non-negative int, or one count per element along the axis.  One count is a
    broadcast of a new axis then a reshape (adjoint: a sum); several counts gather
    with an index array.  Each element's gradient is the sum over its copies.

    Examples
    --------
    >>> a = sg.variable("a", (2,))
    >>> r = sg.repeat(a, [1, 3])
    >>> sg.evaluate(r, {"a": np.array([1., 2.])})
    array([1., 2., 2., 2.])
    >>> sg.evaluate(sg.grad(r.sum(), a), {"a": np.array([1., 2.])})
    array([1., 3.])
    """
    x = as_node(x)
    counts = _int_array(repeats, "repeat", "repeats")
    if axis is None:
        x, axis = ravel(x), 0
    else:
        axis = _one_axis(axis, x.ndim, "repeat")
    n = x.shape[axis]
    if counts.ndim > 1:
        raise ShapeError(f"repeat: repeats must be an int or 1-D, got shape {counts.shape}")
    if counts.size == 1:
        r = int(counts.reshape(()))
        if r < 0:
            raise SymgraphError(f"repeat: repeats may not contain negative values, got {r}")
        if r == 1:
            return x
        spread = broadcast_to(reshape(x, x.shape[:axis + 1] + (1,) + x.shape[axis + 1:]),
                              x.shape[:axis + 1] + (r,) + x.shape[axis + 1:])
        return reshape(spread, x.shape[:axis] + (n * r,) + x.shape[axis + 1:])
    try:
        index = np.repeat(np.arange(n, dtype=np.int64), counts)
    except ValueError as e:
        raise ShapeError(f"repeat: {len(counts)} repeats for an axis of length {n}: {e}") from None
    return getitem(x, _along(axis, index))


def tile(x: Any, reps: Any) -> Node:
    """``np.tile(x, reps)``: ``x`` repeated ``reps[i]`` times along axis ``i``, whole copies.

    ``reps`` and ``x.shape`` are aligned on the right, the shorter padded with
    ones (so the result has ``max(len(reps), x.ndim)`` axes).  A broadcast between
    reshapes (adjoint: a sum over the copies).

    Examples
    --------
    >>> a = sg.variable("a", (2,))
    >>> t = sg.tile(a, 2)
    >>> sg.evaluate(t, {"a": np.array([1., 2.])})
    array([1., 2., 1., 2.])
    >>> sg.evaluate(sg.grad(t.sum(), a), {"a": np.array([1., 2.])})
    array([2., 2.])
    >>> sg.tile(a, (3, 1)).shape
    (3, 2)
    """
    x = as_node(x)
    _not_node(reps, "tile", "reps")
    try:
        reps = tuple(reps)
    except TypeError:
        reps = (reps,)
    reps = tuple(as_dim(r, "tile: reps") for r in reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: negative dimensions are not allowed, got reps {reps}")
    d = max(len(reps), x.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - x.ndim) + x.shape
    if all(r == 1 for r in reps):
        return reshape(x, shape)
    split_shape, copies = [], []
    for r, s in zip(reps, shape):
        split_shape += [1, s] if r != 1 else [s]
        copies += [r, s] if r != 1 else [s]
    tiled = broadcast_to(reshape(x, tuple(split_shape)), tuple(copies))
    return reshape(tiled, tuple(r * s for r, s in zip(reps, shape)))


# ---------------------------------------------------------------------------
# splitting and stacking
# ---------------------------------------------------------------------------

def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Node]:
    """``np.array_split(x, indices_or_sections, axis)``: a list of slices of ``x`` along ``axis``.

    An int N gives N pieces as equal as can be (the first ``len % N`` one
    longer); a sequence of indices gives the pieces between them, with Python slice
    semantics (negative indices, indices past the end give empty pieces).  Unlike
    ``split`` the length need not divide evenly.

    Examples
    --------
    >>> x = sg.variable("x", (5,))
    >>> sg.evaluate(sg.array_split(x, 3), {"x": np.arange(5.)})
    [array([0., 1.]), array([2., 3.]), array([4.])]
    """
    x = as_node(x)
    _not_node(indices_or_sections, "array_split", "indices_or_sections")
    if x.ndim == 0:
        raise ShapeError("array_split: a 0-d array cannot be split")
    axis = _one_axis(axis, x.ndim, "array_split")
    n = x.shape[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = as_dim(indices_or_sections, "array_split: sections")
        if sections <= 0:
            raise SymgraphError(f"array_split: number sections must be larger than 0, got {sections}")
        each, extras = divmod(n, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        points = np.cumsum(sizes).tolist()
    else:
        points = [0] + [as_dim(i, "array_split: indices") for i in indices_or_sections] + [n]
    pieces = [slice(start, stop) for start, stop in zip(points[:-1], points[1:])]
    return [getitem(x, _along(axis, ALL if p.indices(n) == (0, n, 1) else p)) for p in pieces]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Node]:
    """``np.split(x, indices_or_sections, axis)``: as ``array_split``, but even pieces only.

    An int N must divide the length of ``axis`` (a ShapeError otherwise, as
    numpy's ValueError), which catches a wrong axis or batch size at build time.

    Examples
    --------
    >>> x = sg.variable("x", (4, 3))
    >>> [piece.shape for piece in sg.split(x, 2)]
    [(2, 3), (2, 3)]
    >>> first, rest = sg.split(x, [1], axis=1)
    >>> first.shape, rest.shape
    ((4, 1), (4, 2))
    """
    x = as_node(x)
    _not_node(indices_or_sections, "split", "indices_or_sections")
    if np.ndim(indices_or_sections) == 0:
        sections = as_dim(indices_or_sections, "split: sections")
        if x.ndim == 0:
            raise ShapeError("split: a 0-d array cannot be split")
        n = x.shape[_one_axis(axis, x.ndim, "split")]
        if sections > 0 and n % sections:
            raise ShapeError(f"split: array split does not result in an equal division "
                             f"({n} elements along axis {axis} into {sections} sections)")
    return array_split(x, indices_or_sections, axis)


_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


def stack_inputs(tup: Any, what: str) -> list[Node]:
    """The arrays of a stacking function: each element its own node (numpy converts each
    alone, so a Python scalar among them is float64/int64, not typed after the others)."""
    if isinstance(tup, (Node, np.ndarray)):
        tup = list(tup)
    elif not isinstance(tup, Sequence) or isinstance(tup, (str, bytes)):
        raise SymgraphError(f"{what}: arrays to stack must be passed as a sequence such as a list "
                            f"or tuple, got {type(tup).__name__}")
    if len(tup) == 0:
        raise SymgraphError(f"{what}: need at least one array to concatenate")
    return [as_node(v) for v in tup]


def _join(xs: list[Node], axis: int, dtype: Any, casting: str, what: str) -> Node:
    """``np.concatenate(xs, axis, dtype=dtype, casting=casting)``."""
    if casting not in _CASTINGS:
        raise SymgraphError(f"{what}: casting must be one of {_CASTINGS}, got {casting!r}")
    if dtype is not None:
        dtype = numeric_dtype(dtype, what)
        for v in xs:
            if not np.can_cast(v.dtype, dtype, casting):
                raise DTypeError(f"{what}: cannot cast array data from {v.dtype} to {dtype} according "
                                 f"to the rule {casting!r}")
        xs = [v.astype(dtype) for v in xs]
    return concatenate(xs, axis)


def vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Node:
    """``np.vstack(tup)``: the arrays joined along axis 0, as rows.

    1-D ones (n,) become rows (1, n) and 0-d ones (1, 1).  ``tup`` is a sequence
    of nodes or array_likes.

    Examples
    --------
    >>> a, b = sg.variable("a", (3,)), sg.variable("b", (3,))
    >>> sg.vstack([a, b]).shape
    (2, 3)
    """
    xs = [v if v.ndim >= 2 else reshape(v, (1, v.size)) for v in stack_inputs(tup, "vstack")]
    return _join(xs, 0, dtype, casting, "vstack")


def hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Node:
    """``np.hstack(tup)``: the arrays joined along axis 1, or along axis 0 when the first is 1-D.

    0-d ones count as shape (1,).  ``tup`` is a sequence of nodes or array_likes,
    so numbers and nodes mix.

    Examples
    --------
    >>> a = sg.variable("a", (3,))
    >>> sg.evaluate(sg.hstack([a, 1.0]), {"a": np.array([1., 2., 3.])})
    array([1., 2., 3., 1.])
    """
    xs = [v if v.ndim >= 1 else reshape(v, (1,)) for v in stack_inputs(tup, "hstack")]
    return _join(xs, 0 if xs[0].ndim == 1 else 1, dtype, casting, "hstack")


def column_stack(tup: Any) -> Node:
    """``np.column_stack(tup)``: the arrays joined along axis 1, 1-D ones as columns.

    1-D ones (n,) become columns (n, 1) and 0-d ones (1, 1).  ``tup`` is a
    sequence of nodes or array_likes.

    Examples
    --------
    >>> a, b = sg.variable("a", (3,)), sg.variable("b", (3,))
    >>> sg.evaluate(sg.column_stack([a, b]), {"a": [1., 2., 3.], "b": [4., 5., 6.]})
    array([[1., 4.],
           [2., 5.],
           [3., 6.]])
    """
    xs = [v if v.ndim >= 2 else reshape(v, (v.size, 1)) for v in stack_inputs(tup, "column_stack")]
    return concatenate(xs, 1)


# ---------------------------------------------------------------------------
# padding
# ---------------------------------------------------------------------------

#: the keywords each supported mode accepts (numpy's)
_PAD_KEYWORDS = {"constant": {"constant_values"}, "edge": set(), "wrap": set(),
                 "reflect": {"reflect_type"}, "symmetric": {"reflect_type"}}


def _as_pairs(value: Any, ndim: int, as_index: bool, what: str) -> list[tuple]:
    """numpy's ``_as_pairs``: a (before, after) pair per axis from a scalar, a pair, or one
    pair per axis (anything broadcastable to shape (ndim, 2))."""
    arr = np.array(value)
    if as_index:
        if arr.dtype.kind not in "iu":
            raise SymgraphError(f"{what}: pad_width must be of integral type, got {value!r:.60}")
        arr = arr.astype(np.int64)
        if arr.size and arr.min() < 0:
            raise ShapeError(f"{what}: pad_width can't contain negative values, got {value!r:.60}")
    elif arr.dtype.kind not in "biufc":
        raise DTypeError(f"{what}: constant_values must be numbers, got {value!r:.60}")
    if arr.ndim < 3 and arr.size == 1:
        v = arr.ravel()[0].item()
        return [(v, v)] * ndim
    if arr.ndim < 3 and arr.size == 2 and arr.shape != (2, 1):
        a, b = arr.ravel().tolist()
        return [(a, b)] * ndim
    try:
        return [tuple(p) for p in np.broadcast_to(arr, (ndim, 2)).tolist()]
    except ValueError:
        raise ShapeError(f"{what}: {value!r:.60} of shape {arr.shape} does not give a (before, after) "
                         f"pair for each of {ndim} axes") from None


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Node:
    """``np.pad(array, pad_width, mode, **kwargs)``: ``array`` extended at both ends of each axis.

    ``pad_width`` is ``n``, ``(before, after)`` or one such pair per axis.  Modes:
    ``"constant"`` (``constant_values``: a scalar, a pair, or a pair per axis; default 0),
    ``"edge"`` (the edge value repeated), ``"reflect"`` (mirrored without the edge),
    ``"symmetric"`` (mirrored with the edge) and ``"wrap"`` (the other end); other numpy
    modes and ``reflect_type="odd"`` are refused.  Axes are padded in order, each using the
    already padded ones, as numpy does, so corners agree.  Constant padding concatenates
    fills (float32 stays float32; the constant converted to the array's dtype); the other
    modes gather along each axis with ``np.pad(np.arange(n), ..., mode)``, so an element
    copied into the padding gets the gradient of each copy.

    Examples
    --------
    >>> a = sg.variable("a", (3,))
    >>> p = sg.pad(a, (1, 2), "reflect")
    >>> sg.evaluate(p, {"a": np.array([1., 2., 3.])})
    array([2., 1., 2., 3., 2., 1.])
    >>> sg.evaluate(sg.grad(p.sum(), a), {"a": np.array([1., 2., 3.])})
    array([2., 3., 1.])
    """
    x = as_node(array)
    if not isinstance(mode, str) or mode not in _PAD_KEYWORDS:
        raise SymgraphError(f"pad: mode must be one of {sorted(_PAD_KEYWORDS)}, got {mode!r:.40} "
                            "(numpy's statistic and ramp modes and callables are not supported)")
    unsupported = set(kwargs) - _PAD_KEYWORDS[mode]
    if unsupported:
        raise SymgraphError(f"pad: unsupported keyword arguments for mode {mode!r}: {sorted(unsupported)}")
    if kwargs.get("reflect_type", "even") != "even":
        raise SymgraphError(f"pad: only reflect_type='even' is supported, got {kwargs['reflect_type']!r}")
    _not_node(pad_width, "pad", "pad_width")
    widths = _as_pairs(pad_width, x.ndim, True, "pad")
    if mode == "constant":
        _not_node(kwargs.get("constant_values", 0), "pad", "constant_values")
        values = _as_pairs(kwargs.get("constant_values", 0), x.ndim, False, "pad")
        for axis, ((before, after), (v_before, v_after)) in enumerate(zip(widths, values)):
            parts = [x]
            if before:
                parts.insert(0, full(x.shape[:axis] + (before,) + x.shape[axis + 1:], v_before, x.dtype,
                                     graph=x.graph))
            if after:
                parts.append(full(x.shape[:axis] + (after,) + x.shape[axis + 1:], v_after, x.dtype,
                                  graph=x.graph))
            x = concatenate(parts, axis) if len(parts) > 1 else x
        return x
    for axis, (before, after) in enumerate(widths):
        if before or after:
            try:
                index = np.pad(np.arange(x.shape[axis], dtype=np.int64), (before, after), mode=mode)
            except ValueError as e:
                raise ShapeError(f"pad: axis {axis} of shape {x.shape}: {e}") from None
            x = getitem(x, _along(axis, index))
    return x


# ---------------------------------------------------------------------------
# taking
# ---------------------------------------------------------------------------

def take(x: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Node:
    """``np.take(x, indices, axis, mode=mode)``: elements of ``x`` at ``indices`` along ``axis``.

    ``x`` is flattened when ``axis`` is None; ``indices`` is an int or an int
    array, not a node, and the result has ``indices``' shape in place of that
    axis.  ``mode="raise"`` (numpy's default) makes an index outside ``[-n, n)`` a
    SymgraphError at build time; ``"wrap"`` wraps indices around, ``"clip"`` clips
    them to ``[0, n-1]``.  Repeated indices are fine (their gradients add up), as
    in an embedding lookup.

    Examples
    --------
    >>> a = sg.variable("a", (3,))
    >>> t = sg.take(a, [[0, 2], [2, -1]])
    >>> sg.evaluate(t, {"a": np.array([4., 5., 6.])})
    array([[4., 6.],
           [6., 6.]])
    >>> sg.evaluate(sg.grad(t.sum(), a), {"a": np.array([4., 5., 6.])})
    array([1., 0., 3.])
    """
    x = as_node(x)
    if mode not in ("raise", "wrap", "clip"):
        raise SymgraphError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r:.40}")
    if axis is None:
        x, axis = ravel(x), 0
    else:
        axis = _one_axis(axis, x.ndim, "take")
    n = x.shape[axis]
    indices = _int_array(indices, "take", "indices")
    try:
        index = np.take(np.arange(n, dtype=np.int64), indices, mode=mode)
    except IndexError as e:
        raise SymgraphError(f"take: {e} (indices into an axis of length {n})") from None
    return getitem(x, _along(axis, int(index) if index.ndim == 0 else index))


def take_along_axis(x: Any, indices: Any, axis: int | None = -1) -> Node:
    """``np.take_along_axis(x, indices, axis)``: ``x`` indexed along ``axis`` by ``indices``.

    ``indices`` is an int array with ``x``'s number of dimensions (its other axes
    broadcast against ``x``'s), e.g. the result of ``np.argsort`` along that axis.
    ``axis=None`` works on the flattened ``x`` with 1-D ``indices``.  Negative
    indices count from the end; others out of range are a ShapeError at build
    time.  A getitem with numpy's own fancy index (``indices`` along ``axis``,
    ``arange`` grids along the other axes).

    ``indices`` may also be an integer node, e.g. ``sg.argsort(x)``: then they are
    known only when the graph runs (the op ``take_along``; no gradient flows to
    them, and their range is numpy's to check).

    Examples
    --------
    Each row sorted through its own argsort; the gradient goes back to where
    each element came from.

    >>> x = sg.variable("x", (2, 3))
    >>> s = sg.take_along_axis(x, sg.argsort(x, axis=1), axis=1)
    >>> X = np.array([[3., 1., 2.], [0., 5., 4.]])
    >>> sg.evaluate(s, {"x": X})
    array([[1., 2., 3.],
           [0., 4., 5.]])
    >>> sg.evaluate(sg.grad((s * sg.constant([1., 2., 3.])).sum(), x), {"x": X})
    array([[3., 1., 2.],
           [1., 3., 2.]])
    """
    x = as_node(x)
    if isinstance(indices, Node):
        return _take_along_node(x, indices, axis)
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise SymgraphError(f"take_along_axis: `indices` must be an integer array, got dtype "
                            f"{indices.dtype}")
    if axis is None:
        if indices.ndim != 1:
            raise ShapeError("take_along_axis: when axis=None, `indices` must have a single dimension, "
                             f"got shape {indices.shape}")
        x, axis = ravel(x), 0
    else:
        axis = _one_axis(axis, x.ndim, "take_along_axis")
    if indices.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: `indices` and `arr` must have the same number of "
                         f"dimensions, got shapes {indices.shape} and {x.shape}")
    n = x.shape[axis]
    outside = indices[(indices < -n) | (indices >= n)]
    if outside.size:
        raise ShapeError(f"take_along_axis: index {int(outside[0])} is out of bounds for axis {axis} "
                         f"with size {n}")
    ones = (1,) * x.ndim
    fancy = tuple(indices.astype(np.int64) if d == axis else
                  np.arange(s, dtype=np.int64).reshape(ones[:d] + (-1,) + ones[d + 1:])
                  for d, s in enumerate(x.shape))
    return getitem(x, fancy)


def _take_along_node(x: Node, indices: Node, axis: int | None) -> Node:
    if indices.dtype.kind not in "iu":
        raise SymgraphError(f"take_along_axis: `indices` must be integers, got dtype {indices.dtype}")
    if axis is None:
        if indices.ndim != 1:
            raise ShapeError("take_along_axis: when axis=None, `indices` must have a single dimension, "
                             f"got shape {indices.shape}")
        x, axis = ravel(x), 0
    axis = _one_axis(axis, x.ndim, "take_along_axis")
    if indices.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: `indices` and `arr` must have the same number of "
                         f"dimensions, got shapes {indices.shape} and {x.shape}")
    try:  # numpy broadcasts the other axes against each other
        common = np.broadcast_shapes(tuple(1 if d == axis else s for d, s in enumerate(x.shape)),
                                     tuple(1 if d == axis else s for d, s in enumerate(indices.shape)))
    except ValueError:
        raise ShapeError(f"take_along_axis: shapes {x.shape} and {indices.shape} do not broadcast "
                         f"outside axis {axis}") from None
    x = broadcast_to(x, tuple(x.shape[axis] if d == axis else s for d, s in enumerate(common)))
    indices = broadcast_to(indices, tuple(indices.shape[axis] if d == axis else s
                                          for d, s in enumerate(common)))
    return apply(TakeAlong(axis), [x, indices])


__all__ = ["squeeze", "expand_dims", "ravel", "swapaxes", "moveaxis", "flip", "roll", "repeat", "tile",
           "split", "array_split", "hstack", "vstack", "column_stack", "pad", "take", "take_along_axis"]
