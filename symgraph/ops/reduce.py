"""Reductions over axes: sum, mean, max, min, logsumexp."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..graph import Node, apply
from ..errors import ShapeError
from .base import AXES, BOOL, Op, as_node, normalize_axis, ufunc_dtype


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


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

    def reduce_sympy(self, bridge, node, x, fn):
        """The translation of a reduction that applies ``fn(*elements)`` over the axes."""
        return bridge.reduce(x, self.axis, fn, node.shape)

    def _dtype(self, dtype):
        return ufunc_dtype(np.add, dtype, dtype) if dtype != np.bool_ else np.dtype(np.int64)

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


def _reduce(cls, x, axis, keepdims) -> Node:
    x = as_node(x)
    op = cls(normalize_axis(axis, x.ndim, cls.name), bool(keepdims))
    if not op.axis and op._dtype(x.dtype) == x.dtype:
        return x  # reducing over no axes is the identity
    return apply(op, [x])


def sum(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001 - numpy's name
    """Sum over ``axis`` (None: all axes; an int or a tuple of ints)."""
    return _reduce(Sum, x, axis, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Node:
    """Arithmetic mean over ``axis``."""
    return _reduce(Mean, x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001
    """Maximum over ``axis``; its gradient is shared among tied maxima."""
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001
    """Minimum over ``axis``; its gradient is shared among tied minima."""
    return _reduce(Min, x, axis, keepdims)


def logsumexp(x, axis=None, keepdims: bool = False) -> Node:
    """Numerically stable ``log(sum(exp(x), axis))``."""
    return _reduce(LogSumExp, x, axis, keepdims)



__all__ = ["sum", "mean", "max", "min", "logsumexp"]
