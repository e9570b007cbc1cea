"""Elementwise transcendental and special functions: exp/log variants, the cube root,
hyperbolic and inverse trigonometric functions, and scipy.special's erf, erfc, gammaln,
digamma, polygamma.

Each is one ``Unary`` op whose forward is the numpy (or scipy.special) ufunc, so
dtypes follow numpy: float32 stays float32, integers become floats (float16 for the
smallest ones with numpy's ufuncs; scipy.special has no float16 loops, so float64).
Derivatives are written with symgraph ops, in forms that stay accurate where the
naive one loses digits (``expm1' = expm1(x) + 1``, ``arccosh' = 1/sqrt((x-1)(x+1))``).

scipy.special is imported on first use, not with symgraph (``elementwise.Special``):
it costs about as much as importing symgraph itself.  Compiled code calls
``scipy.special.<name>`` and its source imports it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DTypeError, SymgraphError
from ..graph import Node
from .base import INT, as_node, make, ufunc_dtype
from .elementwise import (Special, Unary, cast, exp, negative, scipy_special, special_call, sqrt,
                          square, unary_builder)
from .sources import Constant

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
#: polygamma(n, x) = (-1)**(n+1) n! zeta(n+1, x) needs n! as a float64: n <= 170
MAX_POLYGAMMA_ORDER = 170


# ---------------------------------------------------------------------------
# exp and log variants
# ---------------------------------------------------------------------------

class Expm1(Unary, ufunc=np.expm1, cli=True):
    """``exp(x) - 1``, accurate for tiny ``x`` where ``exp(x)`` rounds to 1."""

    def deriv(self, x, out):
        return out + 1  # exp(x), exactly: no second exp

    def sympy_scalar(self, sp, x):
        return sp.exp(x) - 1


class Log2(Unary, ufunc=np.log2, cli=True):
    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / (inputs[0] * _LN2)

    def sympy_scalar(self, sp, x):
        return sp.log(x, 2)


class Log10(Unary, ufunc=np.log10, cli=True):
    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / (inputs[0] * _LN10)

    def sympy_scalar(self, sp, x):
        return sp.log(x, 10)


class Exp2(Unary, ufunc=np.exp2, cli=True):
    def deriv(self, x, out):
        return out * _LN2

    def sympy_scalar(self, sp, x):
        return sp.Integer(2) ** x


class Cbrt(Unary, ufunc=np.cbrt, cli=True):
    """The real cube root; unlike ``x ** (1/3)`` it is defined for negative ``x``."""

    def deriv(self, x, out):
        return 1 / (3 * square(out))  # from the result: no second root; infinite at 0

    def sympy_scalar(self, sp, x):
        return sp.real_root(x, 3)  # sympy's cbrt is the principal (complex) root for x < 0


class Reciprocal(Unary, ufunc=np.reciprocal, cli=True):
    """``1 / x``; like numpy, integer inputs give integers (truncated: 1/2 is 0)."""

    numba = "1.0 / a"

    def deriv(self, x, out):
        return negative(square(out))

    def to_sympy(self, bridge, node, x):
        if node.dtype.kind not in "fc":
            raise SymgraphError(f"to_sympy: reciprocal of {node.inputs[0].dtype} truncates to "
                                "an integer as numpy does; sympy's 1/x does not")
        return bridge.elementwise(lambda v: 1 / v, node, x)


# ---------------------------------------------------------------------------
# hyperbolic and inverse trigonometric
# ---------------------------------------------------------------------------

class Sinh(Unary, ufunc=np.sinh, sympy="sinh", cli=True):
    def deriv(self, x, out):
        return cosh(x)


class Cosh(Unary, ufunc=np.cosh, sympy="cosh", cli=True):
    def deriv(self, x, out):
        return sinh(x)


def _one_minus_square(x: Node) -> Node:
    """``1 - x**2`` as ``(1 - x)(1 + x)``: no cancellation near |x| = 1."""
    return (1 - x) * (1 + x)


class Arcsin(Unary, ufunc=np.arcsin, sympy="asin", cli=True):
    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else t / sqrt(_one_minus_square(inputs[0]))


class Arccos(Unary, ufunc=np.arccos, sympy="acos", cli=True):
    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else negative(t) / sqrt(_one_minus_square(inputs[0]))


class Arctan(Unary, ufunc=np.arctan, sympy="atan", cli=True):
    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else t / (1 + square(inputs[0]))


class Arcsinh(Unary, ufunc=np.arcsinh, sympy="asinh", cli=True):
    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else t / sqrt(1 + square(inputs[0]))


class Arccosh(Unary, ufunc=np.arccosh, sympy="acosh", cli=True):
    def tangent(self, inputs, out, tangents):
        t, x = tangents[0], inputs[0]
        return None if t is None else t / sqrt((x - 1) * (x + 1))


class Arctanh(Unary, ufunc=np.arctanh, sympy="atanh", cli=True):
    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else t / _one_minus_square(inputs[0])


# ---------------------------------------------------------------------------
# scipy.special
# ---------------------------------------------------------------------------


class Erf(Special, special="erf", sympy="erf", cli=True):
    #: libm's erf (scipy's cephes differs by an ulp at most)
    numba = "math.erf(a)"

    def deriv(self, x, out):
        return _TWO_OVER_SQRT_PI * exp(negative(square(x)))


class Erfc(Special, special="erfc", sympy="erfc", cli=True):
    """``1 - erf(x)``, accurate where erf(x) is close to 1."""

    numba = "math.erfc(a)"

    def deriv(self, x, out):
        return -_TWO_OVER_SQRT_PI * exp(negative(square(x)))


class Gammaln(Special, special="gammaln", sympy="loggamma", cli=True):
    """``log|gamma(x)|``; sympy's ``loggamma`` is the same for x > 0 (complex where
    gamma(x) < 0)."""

    #: libm's lgamma, but scipy's -inf at -inf
    numba = "a if a == -math.inf else math.lgamma(a)"

    def deriv(self, x, out):
        return digamma(x)


class Digamma(Special, special="psi", sympy="digamma", cli=True):
    """``gamma'(x) / gamma(x)`` (scipy's ``psi``)."""

    def deriv(self, x, out):
        return make(Polygamma(1), x)


class Polygamma(Unary, cli=True):
    """The ``n``-th derivative of digamma, n >= 1, for float32/float64 inputs (the
    builder casts others), as ``(-1)**(n+1) n! zeta(n+1, x)``: what
    ``scipy.special.polygamma`` computes, but keeping float32 (scipy's gives float64)
    and in one ufunc call (dask arrays stay lazy; scipy's calls ``np.asarray``)."""

    param_types = {"n": INT}
    emit_inplace = False

    def __init__(self, n: int) -> None:
        self.n = n

    def infer(self, x):
        if not 1 <= self.n <= MAX_POLYGAMMA_ORDER:
            raise SymgraphError(f"polygamma: order n must be in 1..{MAX_POLYGAMMA_ORDER} "
                                f"(n! overflows float64 beyond; n = 0 is digamma), got {self.n}")
        if x.dtype not in (np.float32, np.float64):
            raise DTypeError(f"polygamma: x must be float32 or float64, got {x.dtype} "
                             "(sg.polygamma casts other real dtypes)")
        return x.shape, x.dtype

    def coefficient(self) -> float:
        """``(-1)**(n+1) n!``, a Python float (so float32 inputs stay float32)."""
        return (-1.0) ** (self.n + 1) * float(math.factorial(self.n))

    def f(self, x):
        return self.coefficient() * scipy_special().special.zeta(self.n + 1, x)

    def emit(self, out, ins, ctx):
        call = f"{special_call(ctx, 'zeta')}({self.n + 1}, {ins[0]})"
        c = self.coefficient()
        return f"{out} = {call}" if c == 1 else f"{out} = {c!r} * {call}"

    def deriv(self, x, out):
        return make(Polygamma(self.n + 1), x)

    def sympy_scalar(self, sp, x):
        return sp.polygamma(self.n, x)


#: Below this ``|pi x|`` sinc is its Maclaurin series (the terms below): there the formula's
#: derivatives cancel (its second is 2 sin(y)/y**3 - ... = -1/3 + O(y**2)).
SINC_SERIES_BELOW = 0.1
#: ``(-1)**j / (2j + 1)!``: sin(y)/y = sum_j c_j y**(2j); the first term left out moves
#: even the fourth derivative at |y| = 0.1 by less than 1e-21.
SINC_SERIES = tuple((-1.0) ** j / math.factorial(2 * j + 1) for j in range(8))


def sinc(x) -> Node:
    """numpy's normalised ``sinc(x) = sin(pi x) / (pi x)``, 1 at ``x == 0``.

    Its derivatives of every order are exact near and at 0 (0, ``-pi**2/3``, ...):
    where ``|pi x| < 0.1`` the value is the Maclaurin series of ``sin(y)/y``
    (whose derivatives do not cancel), elsewhere the formula; each branch is
    evaluated at a safe point when not taken, so no 0/0 reaches a derivative.

    Examples
    --------
    Value, first and second derivative at 0, where the formula is 0/0:

    >>> x = sg.variable("x")
    >>> y = sg.sinc(x)
    >>> dy = sg.grad(y, x)
    >>> sg.evaluate([y, dy, sg.grad(dy, x)], {"x": 0.0})
    [array(1.), array(0.), array(-3.28986813)]
    """
    from .elementwise import abs as abs_, less, sin, where

    y = np.pi * as_node(x)
    small = less(abs_(y), SINC_SERIES_BELOW)
    near, far = where(small, y, 0), where(small, 1, y)
    z = near * near
    series = SINC_SERIES[-1]
    for c in reversed(SINC_SERIES[:-1]):
        series = series * z + c
    return where(small, series, sin(far) / far)


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

expm1 = unary_builder(Expm1, """``exp(x) - 1`` (numpy.expm1), accurate for tiny ``x``.

Where ``exp(x)`` rounds near 1, ``exp(x) - 1`` keeps only a few digits (below, the
eighth is already wrong); ``expm1`` keeps them all.  Its derivative ``expm1(x) + 1``
reuses the result.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.expm1(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1e-10})
[array(1.e-10), array(1.)]
>>> sg.evaluate(sg.exp(x) - 1, {"x": 1e-10})
array(1.00000008e-10)
""")
log2 = unary_builder(Log2, """Base-2 logarithm (numpy.log2); derivative ``1 / (x ln 2)``.

Exact at powers of two, where ``log(x) / log(2)`` may round.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.log2(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 8.0})
[array(3.), array(0.18033688)]
""")
log10 = unary_builder(Log10, """Base-10 logarithm (numpy.log10); derivative ``1 / (x ln 10)``.

Exact at powers of ten, where ``log(x) / log(10)`` may round.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.log10(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1000.0})
[array(3.), array(0.00043429)]
""")
exp2 = unary_builder(Exp2, """``2 ** x`` (numpy.exp2); derivative ``2 ** x ln 2`` from the result.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.exp2(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 3.0})
[array(8.), array(5.54517744)]
""")
cbrt = unary_builder(Cbrt, """The real cube root (numpy.cbrt), defined for negative ``x``.

``cbrt(-8.0)`` is -2, where ``(-8.0) ** (1/3)`` is NaN.  Its derivative
``1 / (3 cbrt(x)**2)`` reuses the result and is infinite at 0.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.cbrt(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": -8.0})
[array(-2.), array(0.08333333)]
""")
reciprocal = unary_builder(Reciprocal, """``1 / x`` (numpy.reciprocal); derivative ``-1 / x**2``.

As in numpy, integer inputs stay integers: ``reciprocal(2)`` is 0 and ``reciprocal(0)``
is undefined; use ``1 / x`` (true division) for a float result.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.reciprocal(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 4.0})
[array(0.25), array(-0.0625)]
>>> sg.evaluate(sg.reciprocal(2))
array(0)
""")
sinh = unary_builder(Sinh, """Hyperbolic sine (numpy.sinh); its derivative is ``cosh(x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.sinh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": np.log(2.0)})
[array(0.75), array(1.25)]
""")
cosh = unary_builder(Cosh, """Hyperbolic cosine (numpy.cosh); its derivative is ``sinh(x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.cosh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": np.log(2.0)})
[array(1.25), array(0.75)]
""")
arcsin = unary_builder(Arcsin, """Inverse sine (numpy.arcsin), in [-pi/2, pi/2].

NaN outside [-1, 1]; the derivative ``1/sqrt((1-x)(1+x))`` is infinite at +-1 and
factored so that it does not cancel near them.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arcsin(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.6})
[array(0.64350111), array(1.25)]
""")
arccos = unary_builder(Arccos, """Inverse cosine (numpy.arccos), in [0, pi].

NaN outside [-1, 1]; the derivative ``-1/sqrt((1-x)(1+x))`` is infinite at +-1 and
factored so that it does not cancel near them.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arccos(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.6})
[array(0.92729522), array(-1.25)]
""")
arctan = unary_builder(Arctan, """Inverse tangent (numpy.arctan), in (-pi/2, pi/2).

Its derivative is ``1 / (1 + x**2)``; for the angle of a point, with its
quadrant, use ``sg.arctan2``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arctan(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.0})
[array(0.78539816), array(0.5)]
""")
arcsinh = unary_builder(Arcsinh, """Inverse hyperbolic sine (numpy.arcsinh).

Its derivative is ``1/sqrt(1 + x**2)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arcsinh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.75})
[array(0.69314718), array(0.8)]
""")
arccosh = unary_builder(Arccosh, """Inverse hyperbolic cosine (numpy.arccosh), for x >= 1.

NaN below 1; the derivative ``1/sqrt((x-1)(x+1))`` is infinite at 1 and factored
so that it does not cancel near it.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arccosh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.25})
[array(0.69314718), array(1.33333333)]
""")
arctanh = unary_builder(Arctanh, """Inverse hyperbolic tangent (numpy.arctanh).

+-inf at +-1, NaN outside [-1, 1]; the derivative ``1/((1-x)(1+x))`` is factored
so that it does not cancel near +-1.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.arctanh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.6})
[array(0.69314718), array(1.5625)]
""")
erf = unary_builder(Erf, """The error function (scipy.special.erf).

``2/sqrt(pi)`` times the integral of ``exp(-t**2)`` from 0 to x; the normal
distribution's CDF is ``(1 + erf(x / sqrt(2))) / 2``.  Its derivative is
``2/sqrt(pi) exp(-x**2)``; for ``1 - erf(x)`` at large ``x`` use ``sg.erfc``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.erf(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.0})
[array(0.), array(1.12837917)]
""")
erfc = unary_builder(Erfc, """The complementary error function ``1 - erf(x)`` (scipy.special.erfc).

Accurate for large x, where ``erf(x)`` rounds to 1 and ``1 - erf(x)`` to 0; its
derivative is ``-2/sqrt(pi) exp(-x**2)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.erfc(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 10.0})
[array(2.08848758e-45), array(-4.19765623e-44)]
>>> sg.evaluate(1 - sg.erf(x), {"x": 10.0})
array(0.)
""")
gammaln = unary_builder(Gammaln, """Log-gamma, ``log|gamma(x)|`` (scipy.special.gammaln).

Finite where gamma overflows: ``gamma(200.0)`` overflows float64, its logarithm
is 857.9.  Log-likelihoods of gamma, beta and Poisson distributions are written
with it.  +inf at 0 and the
negative integers (poles); its derivative is ``digamma(x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.gammaln(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 200.0})
[array(857.93366983), array(5.29581528)]
""")
digamma = unary_builder(Digamma, """The digamma function ``gamma'(x)/gamma(x)`` (scipy.special.psi).

The derivative of ``gammaln``; ``digamma(1.0)`` is minus Euler's constant.
Infinite or NaN at 0 and the negative integers (poles); its derivative is
``polygamma(1, x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.digamma(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.0})
[array(-0.57721566), array(1.64493407)]
""")


def polygamma(n: Any, x: Any) -> Node:
    """The ``n``-th derivative of digamma (scipy.special.polygamma(n, x)).

    ``n`` is a non-negative integer (a whole float, or a scalar constant node holding
    one, as the command line passes literals, is accepted); ``polygamma(0, x)`` is
    ``digamma(x)`` and ``polygamma(1, x)`` the trigamma function; n is at most 170
    (n! overflows float64 beyond).  float32 stays float32 (scipy's own polygamma
    returns float64); integers become float64.  Its derivative in ``x`` is
    ``polygamma(n + 1, x)``.

    Examples
    --------
    The trigamma function at 1 is ``pi**2 / 6``, its derivative ``-2 zeta(3)``:

    >>> x = sg.variable("x")
    >>> y = sg.polygamma(1, x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.0})
    [array(1.64493407), array(-2.40411381)]
    >>> sg.evaluate(sg.polygamma(1, np.float32(1.0)))
    array(1.644934, dtype=float32)
    """
    k = _polygamma_order(n)
    x = as_node(x)
    if k == 0:
        return digamma(x)
    if x.dtype not in (np.float32, np.float64):
        x = cast(x, ufunc_dtype(scipy_special().special.psi, x.dtype))
    return make(Polygamma(k), x)


def _polygamma_order(n: Any) -> int:
    """``n`` as a Python int if it holds a whole number >= 0, else a SymgraphError."""
    value = n
    if isinstance(n, Node):
        if not (isinstance(n.op, Constant) and n.shape == ()):
            raise SymgraphError("polygamma: the order n must be a constant integer, not a node "
                                "computed from variables")
        value = np.asarray(n.op.value).item()
    v = np.asarray(value) if isinstance(value, (int, float, np.number)) else None
    if (v is not None and v.dtype.kind in "iuf" and np.isfinite(v) and float(v).is_integer()
            and v >= 0):
        return int(v)
    raise SymgraphError(f"polygamma: the order n must be a non-negative integer, got {value!r:.40}")


__all__ = [
    "expm1", "log2", "log10", "exp2", "cbrt", "reciprocal", "sinh", "cosh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "erf", "erfc", "gammaln", "digamma", "polygamma", "sinc",
]
