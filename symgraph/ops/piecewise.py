"""Piecewise elementwise functions: clip, floor, ceil, round, mod, fmax, fmin
(numpy/JAX conventions at ties and steps, stated per op).

Steps (floor, ceil, round) have a zero derivative wherever they have one, so
they are ``differentiable = False``: no gradient flows through them, and a
gradient asked for through them is zeros, not an error (JAX's ``defjvp_zero``,
which also gives 0 at the steps themselves).  Selections (clip, fmax, fmin) send the
gradient to the input they pick, split evenly between tied inputs, as
``sg.maximum`` does; clip is exactly JAX's ``minimum(a_max, maximum(a_min, x))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, SymgraphError
from ..graph import Node
from .base import BOOL, INT, as_dim, as_node, broadcast_shapes, make, refuse_complex, ufunc_dtype
from .elementwise import (Binary, Elementwise, Maximum, Minimum, Unary, add, equal, greater, less,
                          maximum, negative, not_equal, where)
from .sources import full

__all__ = ["clip", "floor", "ceil", "round", "mod", "fmax", "fmin"]

#: why clip, fmax and fmin refuse complex numbers
ORDER = "complex numbers have no order (numpy orders them lexicographically, JAX refuses them)"


def _share(wins: Node, ties: Node, like: Node) -> Node:
    """1 where ``wins``, 1/2 where ``ties``, else 0, in ``like``'s dtype: the part of the
    gradient an input of a selection gets (ties split evenly, as ``sg.maximum`` does)."""
    one, half, zero = (full((), v, like.dtype, graph=like.graph) for v in (1, 0.5, 0))
    return where(wins, one, where(ties, half, zero))


def _times(t: Node | None, *factors: Node | None) -> Node | None:
    """``t`` times the factors that are not None (None if ``t`` is)."""
    if t is None:
        return None
    for f in factors:
        if f is not None:
            t = t * f
    return t


def _total(*terms: Node | None) -> Node | None:
    """The sum of the terms that are not None (None if all are)."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    out = present[0]
    for t in present[1:]:
        out = add(out, t)
    return out


# ---------------------------------------------------------------------------
# steps: zero derivative
# ---------------------------------------------------------------------------

class Floor(Unary, ufunc=np.floor, sympy="floor", differentiable=False, cli=True):
    """The largest integer ``<= x`` (numpy's dtype); zero derivative."""


class Ceil(Unary, ufunc=np.ceil, sympy="ceiling", differentiable=False, cli=True):
    """The smallest integer ``>= x`` (numpy's dtype); zero derivative."""


class Round(Unary, differentiable=False, cli=True):
    """numpy's ``round(x, decimals)``: to ``decimals`` places, halves to even; zero derivative.

    numpy scales by ``10**decimals``, rounds half to even (``rint``) and scales
    back, so ``round(2.675, 2)`` is 2.67 or 2.68 as the binary value falls: this
    op is ``np.round`` itself and agrees with it bit for bit.
    """

    param_types = {"decimals": INT}

    def __init__(self, decimals: int) -> None:
        self.decimals = decimals

    def infer(self, x):
        if x.dtype.kind not in "iufc":
            raise DTypeError(f"round: not defined for dtype {x.dtype}")
        return x.shape, x.dtype

    def f(self, x):
        return np.round(x, self.decimals)

    def emit(self, out, ins, ctx):
        if ctx.into:
            return ctx.bind(f"np.round({ins[0]}, {self.decimals}, out={ctx.into})")
        return f"{out} = np.round({ins[0]}, {self.decimals})"

    def sympy_scalar(self, sp, x):
        """Half to even of ``x * 10**decimals``: ``floor(y + 1/2)``, minus 1 where ``y`` is a
        half-integer whose ``floor(y + 1/2)`` is odd (sympy's own ``round`` needs a number)."""
        scale = sp.Integer(10) ** self.decimals
        y = x * scale
        up = sp.floor(y + sp.Rational(1, 2))
        odd_half = sp.And(sp.Eq(up, y + sp.Rational(1, 2)), sp.Eq(sp.Mod(up, 2), 1))
        return sp.Piecewise((up - 1, odd_half), (up, True)) / scale


_FLOOR, _CEIL = Floor(), Ceil()


def floor(x: Any) -> Node:
    """The largest integer ``<= x`` elementwise, in ``np.floor``'s dtype.

    numpy 2.3+ keeps integer dtypes.  Its derivative is 0, also at the steps (JAX's
    convention): no gradient flows through it, and asking for one gives zeros, not
    an error.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.floor(x)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-1.5, 0.5, 2.0]})
    [array([-2.,  0.,  2.]), array([0., 0., 0.])]
    """
    return make(_FLOOR, x)


def ceil(x: Any) -> Node:
    """The smallest integer ``>= x`` elementwise (``np.ceil``).

    Its derivative is 0, also at the steps, as ``floor``'s: a gradient through it
    is zeros.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.ceil(x)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-1.5, 0.5, 2.0]})
    [array([-1.,  1.,  2.]), array([0., 0., 0.])]
    """
    return make(_CEIL, x)


def round(x: Any, decimals: int = 0) -> Node:  # noqa: A001 - numpy's name
    """``np.round(x, decimals)``: to ``decimals`` places, halves to the even neighbour.

    Halves go to even (``round(2.5) == 2``), which avoids the upward bias of
    rounding them up; negative ``decimals`` round to tens, hundreds, ...  Its
    derivative is 0, as ``floor``'s.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> sg.evaluate(sg.round(x), {"x": [0.5, 1.5, 2.5]})
    array([0., 2., 2.])
    >>> sg.evaluate(sg.round(x, -2), {"x": [149.0, 150.0, 1234.5]})
    array([ 100.,  200., 1200.])
    """
    return make(Round(as_dim(decimals, "round: decimals")), x)


# ---------------------------------------------------------------------------
# mod
# ---------------------------------------------------------------------------

class Mod(Binary, ufunc=np.mod, cli=True):
    """numpy's ``mod(a, b)`` (``remainder``, Python's ``%``): the result has the sign of ``b``.

    Partials (JAX's): 1 in ``a`` and ``-floor(a / b)`` in ``b``, as
    ``a - b * floor(a / b)`` with the floor held constant; at the steps, where ``a / b``
    is an integer, the same formulas (one-sided there).
    """

    #: numpy's npy_divmod: fmod, moved to the divisor's sign; a zero takes the divisor's sign
    numba = "(np.fmod(a, b) + b) if (np.fmod(a, b) != 0.0 and (b < 0.0) != (np.fmod(a, b) < 0.0)) else (np.fmod(a, b) if (np.fmod(a, b) != 0.0 or b == 0.0) else np.copysign(0.0, b))"

    def tangent(self, inputs, out, tangents):
        a, b = inputs
        ta, tb = tangents
        return _total(ta, _times(tb, negative(floor(a / b))))

    def sympy_scalar(self, sp, a, b):
        return sp.Mod(a, b)


_MOD = Mod()


def mod(a: Any, b: Any) -> Node:
    """``np.mod(a, b)``: remainder with the sign of the divisor (``mod(-1, 3) == 2``).

    What ``%`` on nodes builds (Python's ``%``, not C's ``fmod``); ``sg.remainder``
    is the same function.  Partials 1 in ``a`` and ``-floor(a / b)`` in ``b`` (JAX's).

    Examples
    --------
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> y = sg.mod(a, b)
    >>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 7.0, "b": 3.0})
    [array(1.), array(1.), array(-2.)]
    >>> sg.evaluate(y, {"a": -1.0, "b": 3.0})
    array(2.)
    """
    return make(_MOD, a, b)


# ---------------------------------------------------------------------------
# NaN-ignoring max and min
# ---------------------------------------------------------------------------

class NanIgnoring(Binary):
    """fmax/fmin: the input that ``wins`` (``greater``/``less``), or the one that is not NaN;
    complex inputs are refused (numpy would order them lexicographically)."""

    abstract = True
    commutative = selects = cli = True
    wins: Any

    def infer(self, a, b):
        refuse_complex(self.name, ORDER, a, b)
        return super().infer(a, b)

    def deriv_a(self, a, b, out):
        return _nan_ignoring_share(a, b, self.wins, out, first=True)

    def deriv_b(self, a, b, out):
        return _nan_ignoring_share(b, a, self.wins, out, first=False)


class Fmax(NanIgnoring, ufunc=np.fmax, sympy="Max", wins=staticmethod(greater)):
    """numpy's ``fmax``: the larger input, or the one that is not NaN.

    The gradient goes to the input picked: all of it to ``a`` where ``b`` is NaN (and
    to ``b`` where only ``a`` is), split evenly on ties as ``sg.maximum`` does.  (JAX's
    ``fmax``, a ``where(a > b | isnan(b), a, b)``, gives all of a tie to ``b``; the even
    split keeps ``fmax(a, b)`` and ``fmax(b, a)`` the same function in every respect.)
    """

    #: numpy's loop: ``b`` on ties (-0.0 and 0.0) and where ``a`` is NaN
    numba = "a if (a > b or b != b) else b"


class Fmin(NanIgnoring, ufunc=np.fmin, sympy="Min", wins=staticmethod(less)):
    """numpy's ``fmin``: the smaller input, or the one that is not NaN; gradient as ``fmax``."""

    numba = "a if (a < b or b != b) else b"


def _nan_ignoring_share(x: Node, other: Node, wins, out: Node, first: bool) -> Node:
    """The part of fmax's/fmin's gradient that input ``x`` gets (``wins``: ``greater`` or
    ``less``): all of it where only ``other`` is NaN, none where only ``x`` is, split evenly
    on ties; where both are NaN (the result is NaN) all of it goes to the first input."""
    one, zero = (full((), v, out.dtype, graph=out.graph) for v in (1, 0))
    share = _share(wins(x, other), equal(x, other), out)
    x_nan, other_nan = not_equal(x, x), not_equal(other, other)
    if first:
        return where(other_nan, one, where(x_nan, zero, share))
    return where(x_nan, zero, where(other_nan, one, share))


_FMAX, _FMIN = Fmax(), Fmin()


def fmax(a: Any, b: Any) -> Node:
    """``np.fmax``: elementwise maximum ignoring NaNs (NaN only where both are NaN).

    Where ``sg.maximum`` propagates a NaN, ``fmax`` picks the other input, e.g. to
    fill missing values with a floor.  The gradient goes to the input picked, split
    evenly on ties (as ``sg.maximum``).

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.fmax(x, 0.0)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [np.nan, -1.0, 2.0]})
    [array([0., 0., 2.]), array([0., 0., 1.])]
    """
    return make(_FMAX, a, b)


def fmin(a: Any, b: Any) -> Node:
    """``np.fmin``: elementwise minimum ignoring NaNs (NaN only where both are NaN).

    Where ``sg.minimum`` propagates a NaN, ``fmin`` picks the other input.  The
    gradient goes to the input picked, split evenly on ties, as ``fmax``'s.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.fmin(x, 1.0)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [np.nan, 0.5, 2.0]})
    [array([1. , 0.5, 1. ]), array([0., 1., 0.])]
    """
    return make(_FMIN, a, b)


# ---------------------------------------------------------------------------
# clip
# ---------------------------------------------------------------------------

class Clip(Elementwise, cli=True):
    """``np.clip(x, a_min, a_max)`` with node bounds (``lower``/``upper``: which are given).

    Its value and derivatives are JAX's ``minimum(a_max, maximum(a_min, x))``: where
    ``a_min > a_max`` the result is ``a_max``; each input gets the gradient where it is
    picked, ties split evenly at each of the two steps.  So at ``x == a_min < a_max``
    x and a_min get 1/2 each, and at ``x == a_min == a_max`` x, a_min and a_max get
    1/4, 1/4 and 1/2.
    """

    param_types = {"lower": BOOL, "upper": BOOL}
    selects = True
    emit_inplace = True

    def __init__(self, lower: bool, upper: bool) -> None:
        self.lower = lower
        self.upper = upper

    def split(self, items: Any) -> tuple[Any, Any, Any]:
        """``(x, a_min or None, a_max or None)`` from the inputs ``x, [a_min], [a_max]``."""
        x, *rest = items
        lo = rest[0] if self.lower else None
        hi = rest[-1] if self.upper else None
        return x, lo, hi

    def infer(self, *inputs):
        if len(inputs) != 1 + self.lower + self.upper or not (self.lower or self.upper):
            raise SymgraphError(f"clip: takes x and {int(self.lower) + int(self.upper)} bound(s) "
                                f"(lower={self.lower}, upper={self.upper}), got {len(inputs)} inputs")
        refuse_complex(self.name, ORDER, *inputs)
        x, lo, hi = self.split(inputs)
        dtype = x.dtype
        if lo is not None:
            dtype = ufunc_dtype(np.maximum, dtype, lo.dtype)
        if hi is not None:
            dtype = ufunc_dtype(np.minimum, dtype, hi.dtype)
        return broadcast_shapes([i.shape for i in inputs], self.name), dtype

    def f(self, *arrays):
        x, lo, hi = self.split(arrays)
        return np.clip(x, lo, hi)

    def emit(self, out, ins, ctx):
        x, lo, hi = self.split(ins)
        call = f"np.clip({x}, {lo or 'None'}, {hi or 'None'}"
        return ctx.bind(f"{call}, out={ctx.into})") if ctx.into else f"{out} = {call})"

    #: numba codes: numpy's ``minimum(maximum(x, a_min), a_max)`` on arrays (``Maximum.numba``,
    #: ``Minimum.numba``; numpy's clip by scalar bounds differs on ties of -0.0 and 0.0)
    NUMBA_LOWER = Maximum.numba
    NUMBA_UPPER = Minimum.numba
    #: ``Minimum.numba`` of (``Maximum.numba`` of a, b) and c (its letters: a, b only)
    NUMBA_BOTH = Minimum.numba.replace("b", "c").replace("a", f"({Maximum.numba})")

    def numba_scalar(self) -> str | None:
        if self.lower and self.upper:
            return self.NUMBA_BOTH
        return self.NUMBA_LOWER if self.lower else self.NUMBA_UPPER

    @classmethod
    def numba_codes(cls) -> tuple[str, ...]:
        return (cls.NUMBA_BOTH, cls.NUMBA_LOWER, cls.NUMBA_UPPER)

    def tangent(self, inputs, out, tangents):
        x, lo, hi = self.split(inputs)
        tx, tlo, thi = self.split(tangents)
        x_share = lo_share = kept = hi_share = None
        m = x
        if lo is not None:  # m = maximum(a_min, x): x and a_min share by value
            ties = equal(x, lo)
            x_share = _share(greater(x, lo), ties, out) if tx is not None else None
            lo_share = _share(greater(lo, x), ties, out) if tlo is not None else None
            m = maximum(x, lo)
        if hi is not None:  # out = minimum(a_max, m): m and a_max share by value
            ties = equal(m, hi)
            kept = _share(less(m, hi), ties, out) if tx is not None or tlo is not None else None
            hi_share = _share(less(hi, m), ties, out) if thi is not None else None
        return _total(_times(tx, x_share, kept), _times(tlo, lo_share, kept), _times(thi, hi_share))

    def sympy_scalar(self, sp, *xs):
        x, lo, hi = self.split(xs)
        out = x if lo is None else sp.Max(lo, x)
        return out if hi is None else sp.Min(hi, out)


def clip(a: Any, a_min: Any, a_max: Any) -> Node:
    """``np.clip(a, a_min, a_max)``: ``a`` limited to ``[a_min, a_max]``, numpy broadcasting.

    Either bound may be None (no limit on that side; both None gives ``a``), a
    number, an array or a node.  Where ``a_min > a_max`` the result is ``a_max``,
    as in numpy.  Derivatives are JAX's (``minimum(a_max, maximum(a_min, a))``):
    1 for ``a`` strictly inside, split evenly at the bounds (``clip(0.0, 0.0, 1.0)``
    has derivative 1/2 in ``a`` and 1/2 in ``a_min``).  Complex inputs are refused.

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> y = sg.clip(x, 0.0, 1.0)
    >>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-1.0, 0.0, 0.5, 2.0]})
    [array([0. , 0. , 0.5, 1. ]), array([0. , 0.5, 1. , 0. ])]
    >>> sg.evaluate(sg.clip(x, None, 1.0), {"x": [-1.0, 0.0, 0.5, 2.0]})
    array([-1. ,  0. ,  0.5,  1. ])
    """
    bounds = [b for b in (a_min, a_max) if b is not None]
    if not bounds:
        return as_node(a)
    return make(Clip(a_min is not None, a_max is not None), a, *bounds)
