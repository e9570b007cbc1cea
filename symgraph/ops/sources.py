"""Nodes without inputs: variables (fed at run time), constants and fills, and
numpy's array-creation functions built from them (zeros, ones, full, eye, arange,
linspace and the ``*_like`` forms).

Creation functions make their array when the graph is built, so the result's
shape is always known; the one exception to "no inputs" is ``linspace`` between
nodes (and ``full`` of a node), which is arithmetic on those nodes so that it
stays differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Graph, Node, get_default_graph
from .base import (ARRAY, DTYPE, INT, NAME, SCALAR, SHAPE, SIZE, Op, as_dim, as_node, as_nodes,
                   as_shape, holds_node, normalize_axis)
from .shape import broadcast_to, concatenate, transpose


def numeric_dtype(dtype: Any, what: str) -> np.dtype:
    """``dtype`` as a numpy dtype, or a DTypeError: not a dtype, or not a number type."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{what}: {dtype!r} is not a dtype") from None
    if dtype.kind not in "biufc":
        raise DTypeError(f"{what}: dtype {dtype} is not numeric")
    return dtype


class Variable(Op):
    """A placeholder fed at evaluation time; never shared between calls."""

    name = "variable"
    is_variable = True
    param_types = {"var_name": NAME, "shape": SHAPE, "dtype": DTYPE}

    def __init__(self, var_name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.var_name = var_name
        self.shape = shape
        self.dtype = dtype

    def cse_key(self) -> None:
        return None

    def node_name(self) -> str:
        return self.var_name

    def infer(self):
        return self.shape, self.dtype

    def f(self):
        raise SymgraphError(f"variable {self.var_name!r} must be fed")

    def describe(self) -> str:
        return self.var_name

    def to_sympy(self, bridge, node):
        return bridge.variable_symbols(node, {})


class Constant(Op):
    """A fixed array stored in the graph (read-only)."""

    name = "constant"
    param_types = {"value": ARRAY}

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def cse_key(self):
        # Small constants are shared by value; large ones by identity only.
        if self.value.size <= 64:
            return (Constant, self.value.dtype.str, self.value.shape, self.value.tobytes())
        return None

    def infer(self):
        return self.value.shape, self.value.dtype

    def f(self):
        return self.value

    def describe(self) -> str:
        v = self.value
        if v.ndim == 0:
            return f"{v.item():.6g}" if v.dtype.kind in "fc" else str(v.item())
        return f"const{list(v.shape)}"

    def to_sympy(self, bridge, node):
        return bridge.constant_exprs(self.value)


class Full(Op):
    """An array of one repeated value: zeros, ones and gradient seeds."""

    name = "full"
    param_types = {"value": SCALAR, "shape": SHAPE, "dtype": DTYPE}
    formerly = ("symgraph.ops.sources.Fill",)

    def __init__(self, value: float, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.value = value
        self.shape = shape
        self.dtype = dtype

    def infer(self):
        return self.shape, self.dtype

    def f(self):
        return np.full(self.shape, self.value, dtype=self.dtype)

    def describe(self) -> str:
        return f"{self.value:g}" if not self.shape else f"full({self.value:g}, {list(self.shape)})"

    def to_sympy(self, bridge, node):
        value = bridge.number(np.asarray(self.value, node.dtype))
        return np.broadcast_to(np.asarray(value, dtype=object), node.shape)


def variable(name: str, shape: Any = (), dtype: Any = "float64", *, graph: Graph | None = None) -> Node:
    """A named input of the graph, fed by node or by ``name`` when evaluating.

    Variables are what ``sg.grad`` differentiates with respect to and what
    ``sg.evaluate`` and ``sg.function`` take values for.  ``shape`` and ``dtype``
    are fixed when the graph is built, so every node made from a variable knows
    its own shape before anything runs.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = (x ** 2).sum()
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": np.array([1., 2., 3.])})
    [array(14.), array([2., 4., 6.])]
    """
    if not isinstance(name, str) or not name:
        raise SymgraphError(f"variable name must be a non-empty string, got {name!r}")
    shape = as_shape(shape, f"variable {name!r}")
    dtype = numeric_dtype(dtype, f"variable {name!r}")
    return (graph if graph is not None else get_default_graph())._add(Variable(name, shape, dtype), ())


def constant(value: Any, dtype: Any = None, *, graph: Graph | None = None) -> Node:
    """A constant node holding a copy of ``value``.

    The copy is read-only, so changing the array afterwards does not change the
    graph; small constants are shared by value.  No gradient flows into a constant.

    Examples
    --------
    >>> a = np.array([1., 2.])
    >>> c = sg.constant(a)
    >>> a[0] = 100.
    >>> sg.evaluate(c * 2)
    array([2., 4.])
    """
    if isinstance(value, Node) or isinstance(value, (list, tuple)) and holds_node(value):
        raise SymgraphError("constant() expects an array or scalar, not Nodes; use sg.stack for a "
                            "list of nodes (any other builder stacks such a list itself)")
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"constant: cannot convert {type(value).__name__} to an array: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise DTypeError(f"constant: dtype {arr.dtype} is not numeric (value {value!r:.60})")
    arr.setflags(write=False)
    return (graph if graph is not None else get_default_graph())._add(Constant(arr), ())



# ---------------------------------------------------------------------------
# fills
# ---------------------------------------------------------------------------

def full(shape: Any, fill_value: Any, dtype: Any = None, *, graph: Graph | None = None) -> Node:
    """``np.full(shape, fill_value, dtype)``: a node of ``shape`` holding ``fill_value``.

    ``dtype=None`` takes the dtype of ``np.array(fill_value)`` as numpy does
    (``full(s, 1.5)`` is float64, ``full(s, 0)`` int64, ``full(s, True)`` bool);
    with a ``dtype`` the value is converted to it (``full(s, 1.7, "int64")`` holds 1).
    A scalar makes one ``Full`` node (shared by value, folded by rewrites); an
    array ``fill_value`` is broadcast to ``shape`` into a constant; a node (or a
    list holding nodes) is broadcast symbolically, so the result is
    differentiable in it.

    Examples
    --------
    >>> sg.evaluate(sg.full((2, 3), 0.5))
    array([[0.5, 0.5, 0.5],
           [0.5, 0.5, 0.5]])

    A node as the fill value is differentiable: each of the three copies adds one.

    >>> s = sg.variable("s")
    >>> sg.evaluate(sg.grad(sg.full((3,), s).sum(), s), {"s": 2.0})
    array(3.)
    """
    shape = as_shape(shape, "full")
    return _filled(shape, fill_value, dtype, graph, "full")


def _filled(shape: tuple[int, ...], fill_value: Any, dtype: Any, graph: Graph | None, what: str) -> Node:
    """``fill_value`` broadcast to ``shape`` as ``dtype`` (None: the value's own dtype)."""
    if isinstance(fill_value, Node) or isinstance(fill_value, (list, tuple)) and holds_node(fill_value):
        value = as_node(fill_value)
        if dtype is not None:
            value = value.astype(numeric_dtype(dtype, what))
        try:
            return broadcast_to(value, shape)
        except ShapeError:
            raise ShapeError(f"{what}: fill value of shape {value.shape} does not broadcast to "
                             f"shape {shape}") from None
    if dtype is None:
        try:
            dtype = np.asarray(fill_value).dtype
        except (TypeError, ValueError) as e:
            raise DTypeError(f"{what}: fill value {fill_value!r:.60} is not a number or array: {e}") from None
    dtype = numeric_dtype(dtype, what)
    graph = graph if graph is not None else get_default_graph()
    try:
        if np.ndim(fill_value) == 0:
            value = np.asarray(fill_value, dtype=dtype).item()
            return graph._add(Full(value, shape, dtype), ())
        array = np.full(shape, fill_value, dtype=dtype)
    except (TypeError, OverflowError) as e:
        raise DTypeError(f"{what}: cannot convert fill value {fill_value!r:.60} to {dtype}: {e}") from None
    except ValueError as e:
        raise ShapeError(f"{what}: fill value of shape {np.shape(fill_value)} does not fill shape "
                         f"{shape}: {e}") from None
    return constant(array, graph=graph)


def zeros(shape: Any, dtype: Any = "float64", *, graph: Graph | None = None) -> Node:
    """``np.zeros(shape, dtype)``: a ``Full`` node of zeros (float64 unless told).

    One small node however large the shape: nothing is stored in the graph, its
    saved file or compiled source.

    Examples
    --------
    >>> sg.evaluate(sg.zeros((2, 3)))
    array([[0., 0., 0.],
           [0., 0., 0.]])
    >>> sg.zeros(3, "int64").dtype
    dtype('int64')
    """
    return full(shape, 0, "float64" if dtype is None else dtype, graph=graph)


def ones(shape: Any, dtype: Any = "float64", *, graph: Graph | None = None) -> Node:
    """``np.ones(shape, dtype)``: a ``Full`` node of ones (float64 unless told).

    One small node however large the shape, e.g. a column of ones to append to a
    design matrix.

    Examples
    --------
    >>> X = sg.variable("X", (2, 2))
    >>> design = sg.concatenate([X, sg.ones((2, 1))], axis=1)
    >>> sg.evaluate(design, {"X": np.array([[1., 2.], [3., 4.]])})
    array([[1., 2., 1.],
           [3., 4., 1.]])
    """
    return full(shape, 1, "float64" if dtype is None else dtype, graph=graph)


def _like(a: Any, what: str) -> tuple[tuple[int, ...], np.dtype, Graph | None]:
    """The shape, dtype and graph of ``a``: a node, a list holding nodes, or an array_like."""
    if isinstance(a, Node) or isinstance(a, (list, tuple)) and holds_node(a):
        a = as_node(a)
        return a.shape, a.dtype, a.graph
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{what}: cannot convert {type(a).__name__} to an array: {e}") from None
    return arr.shape, numeric_dtype(arr.dtype, what), None


def full_like(a: Any, fill_value: Any, dtype: Any = None, *, shape: Any = None,
              graph: Graph | None = None) -> Node:
    """``np.full_like(a, fill_value, dtype, shape=shape)``: ``fill_value`` shaped like ``a``.

    The shape and dtype are those of ``a`` (a node or any array_like) unless
    ``dtype``/``shape`` are given.  The value is converted to the dtype like
    numpy's unsafe copy (``full_like(ints, 1.7)`` holds 1).  Only ``a``'s shape and
    dtype are read: the result does not depend on ``a``'s values, so no gradient
    flows to ``a``.

    Examples
    --------
    >>> x = sg.variable("x", (2, 3))
    >>> sg.evaluate(sg.full_like(x, -1.0))
    array([[-1., -1., -1.],
           [-1., -1., -1.]])
    >>> sg.full_like(np.arange(3), 1.7).dtype
    dtype('int64')
    """
    like_shape, like_dtype, like_graph = _like(a, "full_like")
    shape = like_shape if shape is None else as_shape(shape, "full_like")
    return _filled(shape, fill_value, like_dtype if dtype is None else dtype,
                   graph if graph is not None else like_graph, "full_like")


def zeros_like(a: Any, dtype: Any = None, *, shape: Any = None, graph: Graph | None = None) -> Node:
    """``np.zeros_like(a, dtype, shape=shape)``: zeros in the shape and dtype of ``a``.

    ``a`` is a node or any array_like; ``dtype``/``shape`` override its own.  The
    result is built in ``a``'s graph when ``a`` is a node and is independent of
    ``a``'s values (no gradient flows to ``a``): a starting accumulator or a mask.

    Examples
    --------
    >>> x = sg.variable("x", (2, 2), "float32")
    >>> z = sg.zeros_like(x)
    >>> z.shape, z.dtype
    ((2, 2), dtype('float32'))
    >>> sg.evaluate(sg.maximum(x, z), {"x": np.array([[-1., 2.], [3., -4.]], "float32")})
    array([[0., 2.],
           [3., 0.]], dtype=float32)
    """
    return full_like(a, 0, dtype, shape=shape, graph=graph)


def ones_like(a: Any, dtype: Any = None, *, shape: Any = None, graph: Graph | None = None) -> Node:
    """``np.ones_like(a, dtype, shape=shape)``: ones in the shape and dtype of ``a``.

    ``a`` is a node or any array_like; ``dtype``/``shape`` override its own.  The
    result is built in ``a``'s graph when ``a`` is a node and is independent of
    ``a``'s values (no gradient flows to ``a``), e.g. a cotangent seed for ``sg.vjp``.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = x ** 2
    >>> sg.evaluate(sg.vjp(y, x, sg.ones_like(y)), {"x": np.array([1., 2., 3.])})
    array([2., 4., 6.])
    """
    return full_like(a, 1, dtype, shape=shape, graph=graph)


# ---------------------------------------------------------------------------
# ranges and the identity
# ---------------------------------------------------------------------------

class Eye(Op):
    """``np.eye(n, m, k, dtype)``, made when the graph runs: a large identity (a GP's noise
    term) is then no n x m constant in the graph, its saved file or compiled source."""

    name = "eye"
    param_types = {"n": SIZE, "m": SIZE, "k": INT, "dtype": DTYPE}

    def __init__(self, n: int, m: int, k: int, dtype: np.dtype) -> None:
        self.n, self.m, self.k, self.dtype = n, m, k, dtype

    def infer(self):
        return (self.n, self.m), self.dtype

    def describe(self) -> str:
        """``eye(3)``, ``eye(3, 4, k=1, float32)``: numpy's call, defaults left out."""
        args = [str(self.n)] + ([str(self.m)] if self.m != self.n else [])
        args += [f"k={self.k}"] if self.k else []
        args += [str(self.dtype)] if self.dtype != np.float64 else []
        return f"eye({', '.join(args)})"

    def f(self):
        return np.eye(self.n, self.m, self.k, dtype=self.dtype)

    def emit(self, out, ins, ctx):
        return f"{out} = np.eye({self.n}, {self.m}, {self.k}, dtype={ctx.dtype(self.dtype)})"

    def to_sympy(self, bridge, node):
        one, zero = (bridge.number(np.asarray(v, node.dtype)) for v in (1, 0))
        return np.where(np.eye(self.n, self.m, self.k, dtype=bool), one, zero).astype(object)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = "float64", *,
        graph: Graph | None = None) -> Node:
    """``np.eye(N, M, k, dtype)``: ones on diagonal ``k`` of an ``N x M`` array, zeros elsewhere.

    ``M`` defaults to ``N``; ``k`` is 0 for the main diagonal, > 0 above it, < 0
    below.  The array is made when the graph runs, so a large identity (a
    regulariser, a GP's noise term) is no stored constant.

    Examples
    --------
    >>> sg.evaluate(sg.eye(3, k=1))
    array([[0., 1., 0.],
           [0., 0., 1.],
           [0., 0., 0.]])
    >>> A = sg.variable("A", (2, 2))
    >>> sg.evaluate(A + 0.5 * sg.eye(2), {"A": np.ones((2, 2))})
    array([[1.5, 1. ],
           [1. , 1.5]])
    """
    n = as_dim(N, "eye: N")
    m = n if M is None else as_dim(M, "eye: M")
    if n < 0 or m < 0:
        raise ShapeError(f"eye: negative dimensions are not allowed (N={n}, M={m})")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise SymgraphError(f"eye: k must be an integer, got {type(k).__name__} {k!r:.40}")
    op = Eye(n, m, int(k), numeric_dtype(dtype, "eye"))
    return (graph if graph is not None else get_default_graph())._add(op, ())


def _refuse_nodes(what: str, *values: Any) -> None:
    for v in values:
        if isinstance(v, Node) or isinstance(v, (list, tuple)) and holds_node(v):
            raise SymgraphError(f"{what}: start, stop and step must be numbers, not nodes (the length "
                                "of the result depends on them); for a differentiable ramp use "
                                "start + step * sg.arange(n)")


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None, *,
           graph: Graph | None = None) -> Node:
    """``np.arange([start,] stop[, step], dtype)``: evenly spaced values in ``[start, stop)``.

    ``arange(n)`` is ``0, 1, ..., n-1``.  numpy computes the constant, so lengths
    (``ceil((stop - start) / step)``, with float steps too), the result dtype (ints
    stay ints, ``dtype`` forces one) and the empty result of a step pointing away
    from ``stop`` are numpy's.  A zero step is a SymgraphError.  The arguments must
    be numbers: the length of the result cannot depend on a node (for a
    differentiable ramp write ``start + step * sg.arange(n)``).

    Examples
    --------
    >>> sg.evaluate(sg.arange(0.0, 1.0, 0.25))
    array([0.  , 0.25, 0.5 , 0.75])
    >>> sg.arange(4).dtype
    dtype('int64')
    """
    _refuse_nodes("arange", start, stop, step)
    if dtype is not None:
        dtype = numeric_dtype(dtype, "arange")
    try:
        array = np.arange(start, stop, step, dtype=dtype)
    except ZeroDivisionError:
        raise SymgraphError(f"arange: step must not be zero (start={start!r}, stop={stop!r})") from None
    except (TypeError, ValueError) as e:
        raise SymgraphError(f"arange: {e}") from None
    return constant(array, graph=graph)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0, *, graph: Graph | None = None) -> Any:
    """``np.linspace(start, stop, num, endpoint, retstep, dtype, axis)``: evenly spaced samples.

    The samples run from ``start`` to ``stop`` (included unless
    ``endpoint=False``).  Array start/stop give one sequence per element along a
    new axis ``axis``.  With ``retstep`` the result is ``(samples, step)``.
    Numbers make a constant computed by numpy.  When ``start`` or ``stop`` is a
    node the samples are numpy's formula written with nodes,
    ``start + arange(num) * ((stop - start) / div)`` with the last sample exactly
    ``stop`` (``div`` is ``num - 1``, or ``num`` without the endpoint), so the
    result has numpy's values and is differentiable in ``start`` and ``stop``; it
    then needs a floating ``dtype`` (numpy floors into integer dtypes, which has
    no gradient).

    Examples
    --------
    >>> sg.evaluate(sg.linspace(0.0, 1.0, 5))
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])

    Between nodes the grid moves with its ends: five samples, each half ``a``
    and half ``b`` on average.

    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> total = sg.linspace(a, b, 5).sum()
    >>> sg.evaluate(sg.grad(total, [a, b]), {"a": 0.0, "b": 1.0})
    [array(2.5), array(2.5)]
    """
    num = as_dim(num, "linspace: num")
    if num < 0:
        raise SymgraphError(f"linspace: number of samples, {num}, must be non-negative")
    symbolic = [isinstance(v, Node) or isinstance(v, (list, tuple)) and holds_node(v) for v in (start, stop)]
    if not any(symbolic):
        if dtype is not None:
            dtype = numeric_dtype(dtype, "linspace")
        try:
            samples, step = np.linspace(start, stop, num, endpoint, retstep=True, dtype=dtype, axis=axis)
        except np.exceptions.AxisError as e:
            raise ShapeError(f"linspace: {e}") from None
        except (TypeError, ValueError) as e:
            raise SymgraphError(f"linspace: {e}") from None
        samples = constant(samples, graph=graph)
        return (samples, step) if retstep else samples
    return _linspace_nodes(start, stop, num, endpoint, retstep, dtype, axis)


def _linspace_nodes(start: Any, stop: Any, num: int, endpoint: bool, retstep: bool, dtype: Any,
                    axis: int) -> Any:
    """numpy's linspace, step for step, on nodes (see ``linspace``)."""
    start, stop = as_nodes(start, stop)
    dt = np.result_type(start.dtype, stop.dtype, float(num))  # numpy's, made inexact
    dtype = dt if dtype is None else numeric_dtype(dtype, "linspace")
    if dtype.kind not in "fc":
        raise DTypeError(f"linspace: samples between nodes need a floating dtype, got {dtype} "
                         "(integer samples are floored: no gradient)")
    start, stop = start.astype(dt), stop.astype(dt)
    delta = stop - start
    ramp = constant(np.arange(num, dtype=dt).reshape((-1,) + (1,) * delta.ndim), graph=delta.graph)
    div = (num - 1) if endpoint else num
    step = delta / div if div > 0 else None
    samples = ramp * (step if step is not None else delta) + start
    if endpoint and num > 1:
        last = broadcast_to(stop, delta.shape)
        samples = concatenate([samples[:-1], last[None]], axis=0)
    if axis != 0:
        (axis,) = normalize_axis(axis, samples.ndim, "linspace")
        perm = list(range(1, samples.ndim))
        perm.insert(axis, 0)
        samples = transpose(samples, perm)
    samples = samples.astype(dtype)
    if not retstep:
        return samples
    return samples, (step if step is not None else full((), np.nan, dt, graph=samples.graph))


__all__ = ["variable", "constant", "full", "full_like", "zeros", "ones", "zeros_like", "ones_like",
           "eye", "arange", "linspace"]
