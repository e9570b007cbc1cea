"""Numerically stable elementwise functions that are single ops, not compositions:
softplus, log_sigmoid, logaddexp, logaddexp2, xlogy, hypot, arctan2.

Each is one op so that its forward *and* its derivative rules can be computed
stably; the composition a user would write (``log(1 + exp(x))``,
``sqrt(a*a + b*b)``) overflows, underflows or cancels long before the
function itself does.

The rules of the log-sum-exp family are written with ``sigmoid``, whose own
derivative ``sigmoid(x) * sigmoid(-x)`` is computed from two stable factors
rather than as ``s * (1 - s)``, which cancels to nothing once ``s`` rounds
to 1 (``x`` beyond ~17 in float32, ~37 in float64): so second and higher
derivatives stay exact at any magnitude, in both modes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels
from ..graph import Node
from .base import make, refuse_complex, result_dtype
from .elementwise import Binary, Unary, equal, log, scipy_special, sigmoid, special_call, where

#: why the two-input functions here refuse complex numbers
NO_COMPLEX_RULE = "their derivative rules here are the real ones"

__all__ = ["softplus", "log_sigmoid", "logaddexp", "logaddexp2", "xlogy", "hypot", "arctan2"]


# ---------------------------------------------------------------------------
# one input
# ---------------------------------------------------------------------------

class KernelUnary(Unary):
    """A function of one array computed by a kernel of ``symgraph.kernels``: the evaluator
    and compiled code call the same numpy code."""

    abstract = True
    emit_inplace = False
    kernel: Any

    def infer(self, x):
        return x.shape, result_dtype(self.kernel, x.dtype, self.name)

    def f(self, x):
        return self.kernel(x)

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(self.kernel)}({ins[0]})"


class Softplus(KernelUnary, kernel=staticmethod(kernels.softplus), cli=True):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))`` (``kernels.softplus``): no
    overflow, exact for tiny ``exp(x)``, twice as fast as ``np.logaddexp(0, x)``.
    Derivative ``sigmoid(x)``, second ``sigmoid(x) * sigmoid(-x)``."""

    #: the kernel's ``log1p(exp(-|x|))``, plus ``x`` where ``x > 0``
    numba = "(np.log1p(np.exp(-abs(a))) + a) if a > 0.0 else np.log1p(np.exp(-abs(a)))"

    def deriv(self, x, out):
        return sigmoid(x)

    def sympy_scalar(self, sp, x):
        return sp.log(1 + sp.exp(x))


class LogSigmoid(KernelUnary, name="log_sigmoid", kernel=staticmethod(kernels.log_sigmoid),
                 cli=True):
    """``log(sigmoid(x)) = -softplus(-x)``: finite for every finite ``x`` (the composition
    ``log(sigmoid(x))`` is ``-inf`` below about -745).  Derivative ``sigmoid(-x)``."""

    numba = "(-np.log1p(np.exp(-abs(a))) + a) if a < 0.0 else -np.log1p(np.exp(-abs(a)))"

    def deriv(self, x, out):
        return sigmoid(-x)

    def sympy_scalar(self, sp, x):
        return -sp.log(1 + sp.exp(-x))


_SOFTPLUS, _LOG_SIGMOID = Softplus(), LogSigmoid()


def softplus(x: Any) -> Node:
    """``log(1 + exp(x))``, stable at any magnitude (numpy's ``logaddexp(0, x)``).

    Its derivative is ``sigmoid(x)`` and its second ``sigmoid(x) * sigmoid(-x)``, both
    computed without cancellation.  The composition overflows to inf above about
    709 and rounds to 0 below about -37; ``softplus`` is exact at both ends.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> y = sg.softplus(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 1000.0})
    [array(1000.), array(1.)]
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": -40.0})
    [array(4.24835426e-18), array(4.24835426e-18)]
    >>> sg.evaluate(sg.log(1 + sg.exp(x)), {"x": -40.0})
    array(0.)
    """
    return make(_SOFTPLUS, x)


def log_sigmoid(x: Any) -> Node:
    """``log(sigmoid(x)) = -softplus(-x)``, the log-likelihood of a logit.

    Finite at any finite ``x``, where the composition ``log(sigmoid(x))`` is
    ``-inf`` below about -745; its derivative is ``sigmoid(-x)``.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> y = sg.log_sigmoid(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.0})
    [array(-0.69314718), array(0.5)]
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": -1000.0})
    [array(-1000.), array(1.)]
    """
    return make(_LOG_SIGMOID, x)


# ---------------------------------------------------------------------------
# two inputs
# ---------------------------------------------------------------------------

class LogAddExp(Binary, ufunc=np.logaddexp, commutative=True, cli=True):
    """``log(exp(a) + exp(b))`` (numpy's); partials ``sigmoid(a - b)`` and ``sigmoid(b - a)``,
    which equal ``exp(a - out)`` and ``exp(b - out)`` but keep full relative precision
    at every order (see the module doc)."""

    #: numpy's npy_logaddexp, case by case
    numba = "(a + 0.6931471805599453) if a == b else ((a + np.log1p(np.exp(b - a))) if a - b > 0.0 else ((b + np.log1p(np.exp(a - b))) if a - b <= 0.0 else a - b))"

    def infer(self, a, b):
        refuse_complex(self.name, NO_COMPLEX_RULE, a, b)
        return super().infer(a, b)

    def deriv_a(self, a, b, out):
        return sigmoid(a - b)

    def deriv_b(self, a, b, out):
        return sigmoid(b - a)

    def sympy_scalar(self, sp, a, b):
        return sp.log(sp.exp(a) + sp.exp(b))


class LogAddExp2(Binary, ufunc=np.logaddexp2, commutative=True, cli=True):
    """``log2(2**a + 2**b)`` (numpy's); partials ``2**(a - out) = sigmoid((a - b) ln 2)``."""

    numba = "(a + 1.0) if a == b else ((a + 1.4426950408889634 * np.log1p(np.exp2(b - a))) if a - b > 0.0 else ((b + 1.4426950408889634 * np.log1p(np.exp2(a - b))) if a - b <= 0.0 else a - b))"

    def infer(self, a, b):
        refuse_complex(self.name, NO_COMPLEX_RULE, a, b)
        return super().infer(a, b)

    def deriv_a(self, a, b, out):
        return sigmoid((a - b) * math.log(2))

    def deriv_b(self, a, b, out):
        return sigmoid((b - a) * math.log(2))

    def sympy_scalar(self, sp, a, b):
        return sp.log(2 ** a + 2 ** b) / sp.log(2)


class Xlogy(Binary, cli=True):
    """``x * log(y)``, 0 where ``x == 0`` (unless ``y`` is NaN): scipy.special.xlogy.

    Partials (JAX's ``xlogy`` rule): ``log(y)`` in ``x``, also at ``x == 0``, where
    it is the true partial for ``y > 0`` (so ``-inf`` at ``y == 0``, where none
    exists); ``x / y`` in ``y``, which is 0 wherever ``x == 0`` -- also at
    ``x == y == 0``, where JAX's ``0 / 0`` gives NaN: ``xlogy(0, y)`` is 0 for every
    ``y``, so 0 is the true partial there.
    """

    #: scipy's xlogy: 0 where x == 0 unless y is NaN
    numba = "0.0 if (a == 0.0 and b == b) else a * np.log(b)"

    @property
    def ufunc(self) -> np.ufunc:  # scipy.special loads on first use, not with symgraph
        return scipy_special().special.xlogy

    def emit(self, out, ins, ctx):
        fn = special_call(ctx, "xlogy")
        if ctx.into:
            return ctx.bind(f"{fn}({ins[0]}, {ins[1]}, out={ctx.into})")
        return f"{out} = {fn}({ins[0]}, {ins[1]})"

    def deriv_a(self, a, b, out):
        return log(b)

    def deriv_b(self, a, b, out):
        origin = where(equal(a, 0), equal(b, 0), False)
        return a / where(origin, 1, b)  # a safe divisor at the origin only: x / y elsewhere

    def sympy_scalar(self, sp, x, y):
        return sp.Piecewise((0, sp.Eq(x, 0)), (x * sp.log(y), True))


class Hypot(Binary, ufunc=np.hypot, commutative=True, cli=True):
    """``sqrt(a**2 + b**2)`` without overflow or underflow (numpy's); partials ``a / out``
    and ``b / out``.  At the origin, where it has no derivative, each partial is 1/2,
    as in JAX (a subgradient; JAX's comes from its ``abs'(0) = 1`` and max's even split
    on ties)."""

    def infer(self, a, b):
        refuse_complex(self.name, NO_COMPLEX_RULE, a, b)
        return super().infer(a, b)

    def deriv_a(self, a, b, out):
        return _over_norm(a, out)

    def deriv_b(self, a, b, out):
        return _over_norm(b, out)

    def sympy_scalar(self, sp, a, b):
        return sp.sqrt(a ** 2 + b ** 2)


def _over_norm(x: Node, out: Node) -> Node:
    """``x / out``, 1/2 where ``out == 0`` (a safe divisor there: differentiable again)."""
    origin = equal(out, 0)
    return where(origin, 0.5, x / where(origin, 1, out))


class Arctan2(Binary, ufunc=np.arctan2, cli=True):
    """The angle of the point ``(b, a)``: numpy's ``arctan2(a, b)``, in ``[-pi, pi]``.

    Partials ``b / (a**2 + b**2)`` and ``-a / (a**2 + b**2)``, computed as
    ``(b / h) / h`` with ``h = hypot(a, b)``: no overflow or underflow of the squares
    (in float32 they overflow past 1.8e19 and vanish below 1e-23).  At the origin,
    where the angle jumps, they are NaN, as in JAX.
    """

    def infer(self, a, b):
        refuse_complex(self.name, NO_COMPLEX_RULE, a, b)
        return super().infer(a, b)

    def deriv_a(self, a, b, out):
        h = hypot(a, b)
        return b / h / h

    def deriv_b(self, a, b, out):
        h = hypot(a, b)
        return -a / h / h

    def sympy_scalar(self, sp, a, b):
        return sp.atan2(a, b)


_LOGADDEXP, _LOGADDEXP2, _XLOGY = LogAddExp(), LogAddExp2(), Xlogy()
_HYPOT, _ARCTAN2 = Hypot(), Arctan2()


def logaddexp(a: Any, b: Any) -> Node:
    """``log(exp(a) + exp(b))`` with numpy broadcasting, stable at any magnitude.

    Gradient ``(sigmoid(a - b), sigmoid(b - a))``: ``sg.logaddexp(1000.0, 0.0)`` is
    1000 with gradient ``(1, exp(-1000))``, in float32 as in float64.  The log of
    a sum of probabilities kept as logarithms, e.g. in mixture models.

    Examples
    --------
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> y = sg.logaddexp(a, b)
    >>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 1000.0, "b": 1000.0})
    [array(1000.69314718), array(0.5), array(0.5)]
    """
    return make(_LOGADDEXP, a, b)


def logaddexp2(a: Any, b: Any) -> Node:
    """``log2(2**a + 2**b)`` with numpy broadcasting, stable at any magnitude.

    The base-2 ``logaddexp`` (quantities in bits); partials ``sigmoid((a - b) ln 2)``
    and ``sigmoid((b - a) ln 2)``.

    Examples
    --------
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> y = sg.logaddexp2(a, b)
    >>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 1000.0, "b": 1000.0})
    [array(1001.), array(0.5), array(0.5)]
    """
    return make(_LOGADDEXP2, a, b)


def xlogy(x: Any, y: Any) -> Node:
    """``x * log(y)``, 0 where ``x == 0`` (scipy.special.xlogy).

    For entropies with zero probabilities, ``sum(xlogy(p, p))``, where
    ``p * log(p)`` is NaN at 0.  Partials ``log(y)`` and ``x / y`` (JAX's), the
    latter 0 also at ``x == y == 0`` (JAX: NaN), as ``xlogy(0, y)`` is 0 for every ``y``.

    Examples
    --------
    >>> p = sg.variable("p", (3,))
    >>> entropy = -sg.sum(sg.xlogy(p, p))
    >>> sg.evaluate(entropy, {"p": [0.5, 0.5, 0.0]})
    array(0.69314718)
    >>> x, y = sg.variable("x"), sg.variable("y")
    >>> z = sg.xlogy(x, y)
    >>> sg.evaluate([z, *sg.grad(z, [x, y])], {"x": 2.0, "y": np.e})
    [array(2.), array(1.), array(0.73575888)]
    """
    return make(_XLOGY, x, y)


def hypot(a: Any, b: Any) -> Node:
    """``sqrt(a**2 + b**2)`` with numpy broadcasting, without overflow or underflow.

    The squares overflow float64 above about 1e154; ``hypot`` does not.  Partials
    ``a / out``, ``b / out``; 1/2 each at the origin (JAX's convention).

    Examples
    --------
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> y = sg.hypot(a, b)
    >>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 3e200, "b": 4e200})
    [array(5.e+200), array(0.6), array(0.8)]
    """
    return make(_HYPOT, a, b)


def arctan2(a: Any, b: Any) -> Node:
    """numpy's ``arctan2(a, b)``: the angle of the point ``(x=b, y=a)`` in ``[-pi, pi]``.

    Unlike ``arctan(a / b)`` it knows the quadrant.  Partials
    ``(b, -a) / (a**2 + b**2)``, stable at any scale; NaN at the origin.

    Examples
    --------
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> y = sg.arctan2(a, b)
    >>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 1.0, "b": -1.0})
    [array(2.35619449), array(-0.5), array(-0.5)]
    """
    return make(_ARCTAN2, a, b)
