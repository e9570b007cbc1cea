"""Neural-network ops: softmax, log-softmax and softmax cross-entropy, all stable.

Each is computed by shifting with the maximum (``symgraph.kernels``, shared
with compiled code), so logits of +-1000 give finite values and finite gradients.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from .. import backend, kernels
from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from . import patterns
from .base import AXIS, DTYPE, SIZE, Op, as_dim, as_node, normalize_axis, one_of, ufunc_dtype
from .batching import all_batched, with_params
from .elementwise import exp
from .reduce import logsumexp, mean, sum
from .shape import reshape


def _sympy_exp_and_total(bridge, x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """exp of each element, and the sum of those over ``axis`` (kept as a length-1 axis)."""
    e = np.frompyfunc(bridge.sympy.exp, 1, 1)(x)
    shape = list(x.shape)
    shape[axis] = 1
    return e, bridge.reduce(e, (axis,), lambda *xs: bridge.sympy.Add(*xs), tuple(shape))


def _sympy_log_softmax(bridge, x: np.ndarray, axis: int) -> np.ndarray:
    _, total = _sympy_exp_and_total(bridge, x, axis)
    return x - np.frompyfunc(bridge.sympy.log, 1, 1)(total)


class AlongAxis(Op):
    """Base of softmax and log_softmax: a stable ``kernels`` function of ``(x, axis)``."""

    abstract = True
    param_types = {"axis": AXIS}
    cli = True
    #: the numpy kernel, also what compiled code calls (copied into its preamble)
    kernel: Callable[[np.ndarray, int], np.ndarray]

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"{self.name}: axis {self.axis} is out of range for shape {x.shape}")
        return x.shape, ufunc_dtype(np.exp, x.dtype)

    def f(self, x):
        return self.kernel(x, self.axis)

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(self.kernel)}({ins[0]}, {self.axis})"

    def batch(self, inputs, batched):
        return apply(with_params(self, axis=self.axis + 1), list(inputs))

    def sparsity(self, node):
        """Every output reads its whole lane along the axis (through the normaliser)."""
        x = node.inputs[0]
        if not patterns.differentiable_input(x):
            return [None]
        lanes = patterns.along_axes(x.shape, (self.axis,))
        return [(lanes.T @ lanes).tocsr()]


class Softmax(AlongAxis, kernel=staticmethod(kernels.softmax)):
    def bprop(self, inputs, y, g):
        return [y * (g - sum(g * y, self.axis, keepdims=True))]

    def jvp(self, inputs, y, tangents):
        t = tangents[0]
        return None if t is None else y * (t - sum(t * y, self.axis, keepdims=True))

    def to_sympy(self, bridge, node, x):
        e, total = _sympy_exp_and_total(bridge, x, self.axis)
        return e / total


class LogSoftmax(AlongAxis, name="log_softmax", kernel=staticmethod(kernels.log_softmax)):
    def bprop(self, inputs, out, g):
        return [g - exp(out) * sum(g, self.axis, keepdims=True)]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else t - sum(exp(out) * t, self.axis, keepdims=True)

    def to_sympy(self, bridge, node, x):
        return _sympy_log_softmax(bridge, x, self.axis)


def _check_label_dtype(op: Op, labels: Node) -> None:
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"{op.name}: labels must be integers, got dtype {labels.dtype}")


class OneHot(Op):
    """Integer labels to one-hot rows of ``depth`` classes (no gradient)."""

    name = "one_hot"
    param_types = {"depth": SIZE, "dtype": DTYPE}
    differentiable = False

    def __init__(self, depth: int, dtype: np.dtype) -> None:
        self.depth = depth
        self.dtype = np.dtype(dtype)

    def infer(self, labels):
        _check_label_dtype(self, labels)
        return labels.shape + (self.depth,), self.dtype

    def batch(self, inputs, batched):
        return apply(self, list(inputs))  # the classes axis goes last: leading axes are a stack

    def f(self, labels):
        return backend.astype(labels[..., None] == np.arange(self.depth), self.dtype)

    def emit(self, out, ins, ctx):
        classes = ctx.const(np.arange(self.depth))
        return f"{out} = ({ins[0]}[..., None] == {classes}).astype({ctx.dtype(self.dtype)})"

    def to_sympy(self, bridge, node, labels):
        lab = bridge.integer_labels(node, labels, "one_hot")
        return (lab[..., None] == np.arange(self.depth)).astype(np.int64)


def one_hot(labels, depth: int, dtype="float64") -> Node:
    """One-hot rows of ``depth`` classes for integer ``labels`` (no gradient).

    The result has the labels' shape plus a last axis of ``depth``, in ``dtype``
    (float64 by default); a label outside ``0..depth-1`` gives a row of zeros.

    Examples
    --------
    >>> labels = sg.variable("labels", (3,), "int64")
    >>> sg.evaluate(sg.one_hot(labels, 3), {"labels": [0, 2, 1]})
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    labels = as_node(labels)
    depth = as_dim(depth, "one_hot depth")
    if depth < 0:
        raise ShapeError(f"one_hot: depth must be >= 0, got {depth}")
    return apply(OneHot(depth, np.dtype(dtype)), [labels])


REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Op):
    """Softmax cross-entropy of logits ``(..., C)`` against integer labels ``(...)``."""

    name = "cross_entropy"
    param_types = {"reduction": one_of(*REDUCTIONS)}

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def infer(self, logits, labels):
        if logits.ndim == 0:
            raise ShapeError("cross_entropy: logits must have a class axis, got shape ()")
        _check_label_dtype(self, labels)
        if labels.shape != logits.shape[:-1]:
            raise ShapeError(f"cross_entropy: labels of shape {labels.shape} do not match logits "
                             f"of shape {logits.shape} (expected labels shape {logits.shape[:-1]})")
        shape = () if self.reduction != "none" else labels.shape
        return shape, ufunc_dtype(np.exp, logits.dtype)

    def f(self, logits, labels):
        # kernels.cross_entropy, but with the labels taken (and checked) per array family:
        # on dask, block by block when the result is computed
        nll = -backend.take_labels(kernels.log_softmax(logits, -1), labels)
        return kernels.reduce_loss(nll, self.reduction)

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.cross_entropy)}({ins[0]}, {ins[1]}, {self.reduction!r})"

    def batch(self, inputs, batched):
        """The per-example losses of every batch at once (labels or logits broadcast along
        the batch when unbatched), then each batch's own mean or sum."""
        logits, labels = all_batched(inputs, batched)
        losses = apply(CrossEntropy("none"), [logits, labels])
        if self.reduction == "none":
            return losses
        axes = tuple(range(1, losses.ndim))
        return mean(losses, axes) if self.reduction == "mean" else sum(losses, axes)

    def sparsity(self, node):
        """Each example's loss reads its row of logits; a mean or sum reads them all."""
        logits = node.inputs[0]
        if not patterns.differentiable_input(logits):
            return [None, None]
        if self.reduction != "none":
            return [patterns.DENSE, None]
        return [patterns.along_axes(logits.shape, (logits.ndim - 1,)), None]

    def hessian_pairs(self, node, a, b, rows):
        """Curvature couples only the logits of one example (a block per example), however
        the losses are reduced: a classifier's Hessian in its logits is block-diagonal."""
        logits = node.inputs[0]
        block = patterns.along_axes(logits.shape, (logits.ndim - 1,))  # example x logit
        return block.T @ block

    def residual(self, logits: Node, labels: Node) -> Node:
        """softmax(logits) - one_hot(labels): d(per-example loss)/d(logits)."""
        p = softmax(logits, axis=-1)
        return p - one_hot(labels, logits.shape[-1], p.dtype)

    def per_example(self, g: Node, logits: Node) -> Node:
        """The incoming gradient spread over examples, shaped to broadcast against logits."""
        if self.reduction == "none":
            return reshape(g, g.shape + (1,))
        if self.reduction == "mean":
            n = int(np.prod(logits.shape[:-1], dtype=np.int64))
            return g / n
        return g

    def bprop(self, inputs, out, g):
        logits, labels = inputs
        return [self.residual(logits, labels) * self.per_example(g, logits), None]

    def jvp(self, inputs, out, tangents):
        logits, labels = inputs
        t = tangents[0]
        if t is None:
            return None
        per_example = sum(t * self.residual(logits, labels), axis=-1)
        if self.reduction == "mean":
            return per_example.mean()
        if self.reduction == "sum":
            return per_example.sum()
        return per_example

    def to_sympy(self, bridge, node, logits, labels):
        lab = bridge.integer_labels(node, labels, "cross_entropy")
        lsm = _sympy_log_softmax(bridge, logits, logits.ndim - 1)
        # an object array even for one example (0-d labels), where numpy gives a bare scalar
        nll = np.asarray(-np.take_along_axis(lsm, lab[..., None], axis=-1)[..., 0], dtype=object)
        if self.reduction == "none":
            return nll
        total = bridge.sympy.Add(*nll.reshape(-1))
        return np.asarray(total / nll.size if self.reduction == "mean" else total, dtype=object)


def _one_axis(axis: Any) -> bool:
    return isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_))


def softmax(x, axis: int | tuple[int, ...] | None = -1) -> Node:
    """Numerically stable softmax along ``axis`` (default the last one, as JAX and PyTorch).

    scipy.special.softmax defaults to all axes: pass ``axis=None`` for that.  Over
    several axes (a tuple, or None) it is ``exp(x - logsumexp(x, axis, keepdims=True))``.
    Shifted by the maximum, logits of 1000 give finite probabilities and gradients.

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> p = sg.softmax(x)
    >>> sg.evaluate([p, sg.grad(p[0], x)], {"x": [1000.0, 1000.0]})
    [array([0.5, 0.5]), array([ 0.25, -0.25])]
    """
    x = as_node(x)
    if not _one_axis(axis):
        return exp(x - logsumexp(x, axis, keepdims=True))
    (axis,) = normalize_axis(axis, x.ndim, "softmax")
    return apply(Softmax(axis), [x])


def log_softmax(x, axis: int | tuple[int, ...] | None = -1) -> Node:
    """Numerically stable ``log(softmax(x))`` along ``axis`` (an int, a tuple or None).

    ``axis`` is read as ``softmax`` reads it.  Finite where ``softmax`` underflows
    to 0 and its log would be ``-inf``: the log-probabilities of a classifier.  The
    gradient of its ``k``-th element is ``one_hot(k) - softmax(x)``.

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> y = sg.log_softmax(x)
    >>> sg.evaluate([y, sg.grad(y[1], x)], {"x": [1000.0, 0.0]})
    [array([    0., -1000.]), array([-1.,  1.])]
    """
    x = as_node(x)
    if not _one_axis(axis):
        return x - logsumexp(x, axis, keepdims=True)
    (axis,) = normalize_axis(axis, x.ndim, "log_softmax")
    return apply(LogSoftmax(axis), [x])


def cross_entropy(logits, labels, reduction: str = "mean") -> Node:
    """Softmax cross-entropy of unnormalised ``logits`` (..., C) and integer ``labels`` (...).

    ``reduction`` is "mean" (default), "sum" or "none" (per-example losses).  One op,
    stable for large logits, with gradient ``(softmax(logits) - one_hot(labels)) / n``
    for the mean over ``n`` examples.

    Examples
    --------
    >>> logits = sg.variable("logits", (2, 3))
    >>> loss = sg.cross_entropy(logits, [0, 2])
    >>> sg.evaluate([loss, sg.grad(loss, logits)], {"logits": np.zeros((2, 3))})
    [array(1.09861229), array([[-0.33333333,  0.16666667,  0.16666667],
           [ 0.16666667,  0.16666667, -0.33333333]])]
    >>> per_example = sg.cross_entropy(logits, [0, 2], reduction="none")
    >>> sg.evaluate(per_example, {"logits": [[0.0, 1000.0, 0.0], [0.0, 0.0, 0.0]]})
    array([1000.        ,    1.09861229])
    """
    logits, labels = as_node(logits), as_node(labels)
    if reduction not in REDUCTIONS:
        raise SymgraphError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return apply(CrossEntropy(reduction), [logits, labels])




__all__ = ["softmax", "log_softmax", "cross_entropy", "one_hot"]
