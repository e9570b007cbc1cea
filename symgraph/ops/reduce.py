"""Reductions over axes: sum, mean, max, min, logsumexp, prod, var, std, argmax, argmin."""

from __future__ import annotations

import builtins
import functools
import math
import numbers
from typing import Any

import numpy as np

from .. import kernels
from ..graph import Node, apply
from ..errors import DTypeError, ShapeError, SymgraphError
from . import patterns
from .base import (AXES, AXIS, BOOL, NO_SYMPY, SCALAR, Op, as_node, normalize_axis, result_dtype,
                   ufunc_dtype)
from .batching import shifted, with_params


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


@functools.lru_cache(maxsize=None)
def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return _kept_shape(shape, axes)
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class Reduction(Op):
    """Base of reductions: ``axis`` is a sorted tuple of distinct axes, ``keepdims`` a bool."""

    abstract = True
    param_types = {"axis": AXES, "keepdims": BOOL}
    cli = True

    def __init__(self, axis: tuple[int, ...], keepdims: bool) -> None:
        self.axis = axis
        self.keepdims = keepdims

    def infer(self, x):
        axes = self.axis
        if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.ndim for a in axes):
            raise ShapeError(f"{self.name}: axis {axes} is not a sorted tuple of distinct axes of "
                             f"shape {x.shape}")
        return _reduced_shape(x.shape, axes, self.keepdims), self._dtype(x.dtype)

    def batch(self, inputs, batched):
        """The same reduction over the same axes of each example (moved past the batch axis)."""
        return apply(with_params(self, axis=shifted(self.axis)), list(inputs))

    def sparsity(self, node):
        """Each output element reads every input element of its reduced group."""
        x = node.inputs[0]
        return [patterns.along_axes(x.shape, self.axis) if patterns.differentiable_input(x)
                else None]

    def reduce_sympy(self, bridge, node, x, fn):
        """The translation of a reduction that applies ``fn(*elements)`` over the axes."""
        return bridge.reduce(x, self.axis, fn, node.shape)

    def _dtype(self, dtype):
        """numpy's: small integers and bools sum in the platform integer (int32 -> int64)."""
        return result_dtype(np.sum, dtype, self.name)

    #: the numpy function ``emit`` calls, e.g. ``"np.sum"``
    np_name: str = ""

    def emit(self, out, ins, ctx):
        if not self.np_name:
            return None
        args = [ins[0], f"axis={ctx.axis(self.axis)}"]
        if self.keepdims:
            args.append("keepdims=True")
        if ctx.default_dtype(self.np_name, ctx.in_dtypes[0], self.axis) != ctx.node.dtype:
            args.append(f"dtype={ctx.dtype(ctx.node.dtype)}")
        return f"{out} = {self.np_name}({', '.join(args)})"

    def expand(self, g: Node, x_shape: tuple[int, ...]) -> Node:
        """Broadcast a reduced-shape node back to the input shape."""
        from .shape import broadcast_to, reshape

        if not self.keepdims:
            g = reshape(g, _kept_shape(x_shape, self.axis))
        return broadcast_to(g, x_shape)


class Sum(Reduction):
    name = "sum"
    np_name = "np.sum"
    linear = True

    def f(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def bprop(self, inputs, out, g):
        return [self.expand(g, inputs[0].shape)]

    def to_sympy(self, bridge, node, x):
        return self.reduce_sympy(bridge, node, x, lambda *xs: bridge.sympy.Add(*xs))


class Mean(Reduction):
    name = "mean"
    np_name = "np.mean"
    linear = True

    def _dtype(self, dtype):
        return np.dtype(dtype) if np.dtype(dtype).kind in "fc" else np.dtype(np.float64)

    def f(self, x):
        return np.mean(x, axis=self.axis, keepdims=self.keepdims)

    def count(self, shape) -> int:
        return int(np.prod([shape[a] for a in self.axis], dtype=np.int64))

    def bprop(self, inputs, out, g):
        return [self.expand(g / self.count(inputs[0].shape), inputs[0].shape)]

    def to_sympy(self, bridge, node, x):
        return self.reduce_sympy(bridge, node, x, lambda *xs: bridge.sympy.Add(*xs) / len(xs))


class Weighted(Reduction):
    """A reduction whose derivative weights each element: ``d out = sum(weights * d x)``.

    Both rules follow from ``weights(x, out)`` (same shape as ``x``): reverse
    mode spreads the cotangent back times the weights, forward mode sums the
    weighted tangent.
    """

    abstract = True

    def weights(self, x: Node, out: Node) -> Node:
        """d out / d x, element by element (broadcast against the expanded output)."""
        raise NotImplementedError

    def bprop(self, inputs, out, g):
        x = inputs[0]
        return [self.expand(g, x.shape) * self.weights(x, out)]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        if t is None:
            return None
        return sum(t * self.weights(inputs[0], out), self.axis, self.keepdims)


class _Extremum(Weighted):
    """max/min: the gradient goes to the arg-extremum, split evenly among ties."""

    abstract = True
    selects = True
    #: piecewise linear: its second derivative is zero wherever it exists (the symbolic one
    #: too: the weights come from comparisons), so it adds no curvature to a Hessian pattern
    linear_in = (0,)
    np_func: Any
    #: the sympy function of the extremum of several elements
    sympy: str

    def _dtype(self, dtype):
        return np.dtype(dtype)

    def infer(self, x):
        if any(x.shape[a] == 0 for a in self.axis if a < x.ndim):  # numpy: no identity to return
            raise ShapeError(f"{self.name}: zero-size array of shape {x.shape} has no {self.name} "
                             f"over axis {self.axis}")
        return super().infer(x)

    def f(self, x):
        return self.np_func(x, axis=self.axis, keepdims=self.keepdims)

    def weights(self, x: Node, out: Node) -> Node:
        """1/count at each extremum, 0 elsewhere: ties share the gradient."""
        from .elementwise import cast, equal

        hit = cast(equal(x, self.expand(out, x.shape)), x.dtype)
        return hit / self.expand(sum(hit, self.axis, keepdims=True), x.shape)

    def to_sympy(self, bridge, node, x):
        return self.reduce_sympy(bridge, node, x, getattr(bridge.sympy, self.sympy))


class Max(_Extremum, np_name="np.max", np_func=staticmethod(np.max), sympy="Max"):
    """Maximum over axes."""


class Min(_Extremum, np_name="np.min", np_func=staticmethod(np.min), sympy="Min"):
    """Minimum over axes."""


class LogSumExp(Weighted):
    """``log(sum(exp(x)))`` computed stably by shifting by the maximum."""

    name = "logsumexp"

    def _dtype(self, dtype):
        return ufunc_dtype(np.exp, dtype)

    def f(self, x):
        out = kernels.logsumexp(x, self.axis, self.keepdims)
        return out.astype(self._dtype(x.dtype), copy=False)

    def emit(self, out, ins, ctx):
        fn = ctx.helper(kernels.logsumexp)
        return f"{out} = {fn}({ins[0]}, {ctx.axis(self.axis)}, {self.keepdims})"

    def weights(self, x: Node, out: Node) -> Node:
        """softmax(x) over the reduced axes: the derivative of logsumexp."""
        from .elementwise import exp

        return exp(x - self.expand(out, x.shape))

    def to_sympy(self, bridge, node, x):
        sp = bridge.sympy
        return self.reduce_sympy(bridge, node, x, lambda *xs: sp.log(sp.Add(*[sp.exp(e) for e in xs])))


class Prod(Weighted):
    """Product over axes; the gradient is the product of the *other* elements.

    That product is ``exclusive_cumprod(x) * exclusive_cumprod(x, reversed)``
    over the reduced elements (as TensorFlow computes it), never ``out / x``:
    exact with one zero (only the zero's own entry is nonzero) or several (all
    zero), and differentiable again at zeros through ``cumprod``'s
    division-free rules.
    """

    name = "prod"

    def _dtype(self, dtype):
        return result_dtype(np.prod, dtype, self.name)

    def f(self, x):
        return np.prod(x, axis=self.axis, keepdims=self.keepdims)

    def emit(self, out, ins, ctx):
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{out} = np.prod({ins[0]}, axis={ctx.axis(self.axis)}{keep})"

    def weights(self, x: Node, out: Node) -> Node:
        """The product of all reduced elements but each one (zero-safe, see the class doc)."""
        from .cumulative import cumprod, flip, shift
        from .shape import reshape, transpose
        from .sources import full

        kept = [a for a in range(x.ndim) if a not in self.axis]
        n = math.prod(x.shape[a] for a in self.axis)
        if n <= 1 or x.size == 0:  # no other elements: an empty product
            return full(x.shape, 1, x.dtype, graph=x.graph)
        perm = tuple(kept) + self.axis  # the reduced elements last, in one axis
        moved = transpose(x, perm)
        rows = reshape(moved, moved.shape[:len(kept)] + (n,))
        last = rows.ndim - 1
        before = cumprod(shift(rows, 1, last, 1), last)  # prod of x[j] for j < i
        after = flip(cumprod(shift(flip(rows, last), 1, last, 1), last), last)  # for j > i
        others = reshape(before * after, moved.shape)
        return transpose(others, tuple(int(i) for i in np.argsort(perm)))

    def to_sympy(self, bridge, node, x):
        return self.reduce_sympy(bridge, node, x, lambda *xs: bridge.sympy.Mul(*xs))


class Var(Weighted):
    """Variance over axes with ``ddof`` delta degrees of freedom (``np.var``).

    ``d var / d x = 2 (x - mean) / (n - ddof)``.  The divisor is
    ``max(n - ddof, 0)`` as in numpy: ``ddof >= n`` gives inf or nan (numpy
    warns "Degrees of freedom <= 0"), and so does the gradient.
    """

    name = "var"
    param_types = {"axis": AXES, "keepdims": BOOL, "ddof": SCALAR}
    cli = ("var", "std")

    def __init__(self, axis: tuple[int, ...], keepdims: bool, ddof: int | float = 0) -> None:
        super().__init__(axis, keepdims)
        self.ddof = ddof

    def infer(self, x):
        ddof = self.ddof
        if isinstance(ddof, (bool, complex)) or not math.isfinite(ddof):
            raise SymgraphError(f"var: ddof must be a finite real number, got {ddof!r}")
        if x.dtype.kind == "c":
            raise DTypeError(f"var: complex input (dtype {x.dtype}) is not supported; take the "
                             "variance of the real and imaginary parts")
        return super().infer(x)

    def _dtype(self, dtype):
        return result_dtype(np.var, dtype, self.name)

    def count(self, shape: tuple[int, ...]) -> int:
        return math.prod(shape[a] for a in self.axis)

    def divisor(self, shape: tuple[int, ...]) -> float:
        """``max(n - ddof, 0)``: what numpy divides the sum of squared deviations by."""
        return builtins.max(self.count(shape) - self.ddof, 0)

    def f(self, x):
        return np.var(x, axis=self.axis, ddof=self.ddof, keepdims=self.keepdims)

    def emit(self, out, ins, ctx):
        ddof = f", ddof={self.ddof!r}" if self.ddof else ""
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{out} = np.var({ins[0]}, axis={ctx.axis(self.axis)}{ddof}{keep})"

    def weights(self, x: Node, out: Node) -> Node:
        """``2 (x - mean(x)) / (n - ddof)``; an ``inf`` scale when ``n - ddof <= 0`` (numpy's 0)."""
        divisor = self.divisor(x.shape)
        scale = 2.0 / divisor if divisor > 0 else math.inf
        return (x - mean(x, self.axis, keepdims=True)) * scale

    def to_sympy(self, bridge, node, x):
        sp = bridge.sympy
        shape = node.inputs[0].shape
        divisor = self.divisor(shape)
        if divisor <= 0:
            raise SymgraphError(f"to_sympy: var with ddof={self.ddof} over {self.count(shape)} "
                                "elements divides by zero")
        d = bridge.number(divisor)

        def var(*xs):
            m = sp.Add(*xs) / len(xs)
            return sp.Add(*[(e - m) ** 2 for e in xs]) / d

        return self.reduce_sympy(bridge, node, x, var)


class _ArgExtremum(Op):
    """argmax/argmin along one axis: int64 positions, the first one on ties (numpy's rule)."""

    abstract = True
    param_types = {"axis": AXIS, "keepdims": BOOL}
    differentiable = False
    to_sympy = NO_SYMPY
    np_func: Any

    def __init__(self, axis: int, keepdims: bool) -> None:
        self.axis = axis
        self.keepdims = keepdims

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"{self.name}: axis {self.axis} is out of bounds for shape {x.shape}")
        if x.shape[self.axis] == 0:
            raise ShapeError(f"{self.name}: axis {self.axis} of shape {x.shape} is empty: an empty "
                             f"sequence has no {self.name}")
        return _reduced_shape(x.shape, (self.axis,), self.keepdims), np.dtype(np.int64)

    def f(self, x):
        return self.np_func(x, axis=self.axis, keepdims=self.keepdims)

    def emit(self, out, ins, ctx):
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{out} = np.{self.name}({ins[0]}, axis={self.axis}{keep})"

    def batch(self, inputs, batched):
        return apply(with_params(self, axis=self.axis + 1), list(inputs))


class ArgMax(_ArgExtremum, name="argmax", np_func=staticmethod(np.argmax)):
    """Position of the maximum along an axis."""


class ArgMin(_ArgExtremum, name="argmin", np_func=staticmethod(np.argmin)):
    """Position of the minimum along an axis."""


def _reduce(cls, x, axis, keepdims) -> Node:
    x = as_node(x)
    op = cls(normalize_axis(axis, x.ndim, cls.name), bool(keepdims))
    if not op.axis and op._dtype(x.dtype) == x.dtype:
        return x  # reducing over no axes is the identity
    return apply(op, [x])


def sum(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001 - numpy's name
    """Sum over ``axis`` (None: all axes; an int or a tuple of ints).

    Shapes are known when the graph is built; ``keepdims=True`` keeps the summed
    axes with length 1, so the result broadcasts against ``x``.  Its gradient
    copies the cotangent back along the summed axes.

    Examples
    --------
    >>> x = sg.variable("x", (2, 3))
    >>> y = sg.sum(x, axis=0)
    >>> y.shape, sg.sum(x, axis=1, keepdims=True).shape
    ((3,), (2, 1))
    >>> feed = {"x": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}
    >>> sg.evaluate([y, sg.grad(sg.sum(y * [1.0, 10.0, 100.0]), x)], feed)
    [array([5., 7., 9.]), array([[  1.,  10., 100.],
           [  1.,  10., 100.]])]
    """
    return _reduce(Sum, x, axis, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Node:
    """Arithmetic mean over ``axis`` (None: all axes; an int or a tuple of ints).

    Integers and bools give float64, as in numpy.  Each element's gradient is
    ``1 / n`` for the ``n`` elements averaged.

    Examples
    --------
    >>> x = sg.variable("x", (2, 2))
    >>> y = sg.mean(x, axis=1)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [[1.0, 3.0], [2.0, 6.0]]})
    [array([2., 4.]), array([[0.5, 0.5],
           [0.5, 0.5]])]
    """
    return _reduce(Mean, x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001
    """Maximum over ``axis`` (None: all axes); ``sg.amax`` is the same function.

    Its gradient goes to the maximum and is shared evenly among tied maxima, so
    it does not depend on the order of the elements.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.max(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [1.0, 3.0, 3.0]})
    [array(3.), array([0. , 0.5, 0.5])]
    """
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001
    """Minimum over ``axis`` (None: all axes); ``sg.amin`` is the same function.

    Its gradient goes to the minimum and is shared evenly among tied minima.

    Examples
    --------
    >>> x = sg.variable("x", (2, 2))
    >>> y = sg.min(x, axis=0)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [[1.0, 5.0], [2.0, 4.0]]})
    [array([1., 4.]), array([[1., 0.],
           [0., 1.]])]
    """
    return _reduce(Min, x, axis, keepdims)


def logsumexp(x, axis=None, keepdims: bool = False) -> Node:
    """Numerically stable ``log(sum(exp(x), axis))``, shifted by the maximum.

    The composition overflows to inf once an element passes about 709; this
    does not.  Its gradient is the softmax of ``x`` over the reduced axes.

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> y = sg.logsumexp(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [1000.0, 1000.0]})
    [array(1000.69314718), array([0.5, 0.5])]
    """
    return _reduce(LogSumExp, x, axis, keepdims)


def prod(x, axis=None, keepdims: bool = False) -> Node:
    """``np.prod``: product over ``axis`` (None: all axes; an int or a tuple of ints).

    Integers and bools multiply in int64 (uint64 for unsigned), as numpy.  The
    gradient is right where elements are zero, also at second order: it is the
    product of the other elements, built without dividing (see ``Prod``).

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.prod(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [2.0, 0.0, 3.0]})
    [array(0.), array([0., 6., 0.])]
    """
    return _reduce(Prod, x, axis, keepdims)


def _ddof(ddof: Any) -> int | float:
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, numbers.Real):
        raise SymgraphError(f"var: ddof must be a real number, got {ddof!r}")
    if isinstance(ddof, numbers.Integral):
        return int(ddof)
    return float(ddof)


def var(x, axis=None, ddof: int | float = 0, keepdims: bool = False) -> Node:
    """``np.var``: mean squared deviation from the mean over ``axis``, divided by ``n - ddof``.

    Integers and bools give float64, float32 stays float32; complex input is
    refused.  ``ddof >= n`` gives inf/nan, as numpy (with its warning).
    ``ddof=1`` gives the unbiased estimate from a sample.  Its gradient is
    ``2 (x - mean) / (n - ddof)``.

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> y = sg.var(x, ddof=1)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [1.0, 2.0, 3.0, 4.0]})
    [array(1.66666667), array([-1.        , -0.33333333,  0.33333333,  1.        ])]
    """
    x = as_node(x)
    return apply(Var(normalize_axis(axis, x.ndim, "var"), bool(keepdims), _ddof(ddof)), [x])


def std(x, axis=None, ddof: int | float = 0, keepdims: bool = False) -> Node:
    """``np.std``: ``sqrt(var(x, axis, ddof, keepdims))``, as numpy computes it.

    Its gradient is infinite/NaN where the variance is 0 (constant data), as
    in JAX; for a smooth spread use ``sqrt(var(x) + eps)``.

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> y = sg.std(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": [1.0, 2.0, 3.0, 4.0]})
    [array(1.11803399), array([-0.3354102, -0.1118034,  0.1118034,  0.3354102])]
    """
    from .elementwise import sqrt

    return sqrt(var(x, axis, ddof, keepdims))


def _arg(cls, x, axis, keepdims) -> Node:
    from .shape import reshape

    x = as_node(x)
    if axis is None:  # numpy: the position in the flattened array
        out = apply(cls(0, False), [reshape(x, (-1,))])
        return reshape(out, (1,) * x.ndim) if keepdims else out
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise SymgraphError(f"{cls.name}: axis must be None or an int, got {axis!r}")
    (axis,) = normalize_axis(axis, x.ndim, cls.name)
    return apply(cls(axis, bool(keepdims)), [x])


def argmax(x, axis: int | None = None, keepdims: bool = False) -> Node:
    """``np.argmax``: int64 position of the maximum along ``axis`` (None: in the flattened array).

    Ties give the first position; NaN counts as the maximum (numpy's rules).
    It has no gradient (``differentiable = False``).

    Examples
    --------
    >>> x = sg.variable("x", (2, 3))
    >>> feed = {"x": [[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]}
    >>> sg.evaluate([sg.argmax(x, axis=1), sg.argmax(x)], feed)
    [array([1, 0]), array(3)]
    """
    return _arg(ArgMax, x, axis, keepdims)


def argmin(x, axis: int | None = None, keepdims: bool = False) -> Node:
    """``np.argmin``: int64 position of the minimum along ``axis`` (None: in the flattened array).

    Ties give the first position; NaN counts as the minimum (numpy's rules).
    It has no gradient (``differentiable = False``).

    Examples
    --------
    >>> x = sg.variable("x", (2, 3))
    >>> feed = {"x": [[1.0, 5.0, 2.0], [7.0, 0.0, 2.0]]}
    >>> sg.evaluate([sg.argmin(x, axis=0), sg.argmin(x)], feed)
    [array([0, 1, 0]), array(4)]
    """
    return _arg(ArgMin, x, axis, keepdims)


__all__ = ["sum", "mean", "max", "min", "logsumexp", "prod", "var", "std", "argmax", "argmin"]
