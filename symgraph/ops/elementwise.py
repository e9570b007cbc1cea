"""Elementwise ops: arithmetic, transcendental functions, comparisons, where, cast.

An elementwise op's Jacobian is diagonal, so it is its own transpose: each op
states its derivative once, as ``tangent`` (the derivative applied to one
tangent per input) or, for the common case, as a factor ``deriv(x, out)`` /
``deriv_a``/``deriv_b`` that multiplies the tangent.  ``Elementwise`` derives
both modes from it, the way JAX's ``defjvp`` tables and autograd's ``defvjp``
do: reverse mode feeds the cotangent through ``tangent`` and sums it back to
the input's shape (``unbroadcast``); forward mode feeds the tangents and
broadcasts the result to the output's shape.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from .. import backend, kernels
from ..errors import DTypeError, SymgraphError
from ..graph import Node, apply
from .base import (DTYPE, NO_SYMPY, Op, as_node, as_nodes, broadcast_shapes, built, is_inexact, make,
                   ufunc_dtype)
from .shape import broadcast_to, sum_to
from .folding import (KNOWN_OPS, beside, fold_sources, is_source, is_value, uniform_value,
                      zero_sign)
from .sources import Constant, Full, full, numeric_dtype


def _fit(x: Node, shape: tuple[int, ...]) -> Node:
    """Broadcast a tangent up to ``shape`` when a rule produced fewer dimensions."""
    return x if x.shape == shape else broadcast_to(x, shape)


def _sum_to(x: Node, shape: tuple[int, ...]) -> Node:
    return x if x.shape == shape else sum_to(x, shape)


def conformed(x: Node, shape: tuple[int, ...], dtype: np.dtype) -> Node:
    """``x`` cast to ``dtype`` and broadcast to ``shape`` (each only if needed)."""
    if x.dtype != dtype:
        x = cast(x, dtype)
    return x if x.shape == shape else broadcast_to(x, shape)


#: numpy ufuncs of floats whose numba version (``np.<name>`` on float64 scalars) gives
#: numpy's values (to rounding), NaN, inf and signed zeros: an op made of one of them gets
#: ``np.<name>(a, ...)`` as its numba code unless it declares ``numba`` itself
NUMBA_UFUNCS = frozenset({
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
    "floor", "ceil", "absolute", "arctan2", "hypot", "power",
})

#: numba codes of numpy's logical or / and on 0.0/1.0 (also boolean ``add``, ``maximum``...)
NUMBA_OR = "1.0 if (a != 0.0 or b != 0.0) else 0.0"
NUMBA_AND = "1.0 if (a != 0.0 and b != 0.0) else 0.0"


class Elementwise(Op):
    """Maps elements independently with numpy broadcasting; one derivative rule, both modes.

    Subclasses define ``tangent``; ``sympy`` names the sympy function of one
    element (e.g. ``"exp"``) or ``sympy_scalar`` builds it.
    """

    abstract = True
    elementwise = True
    #: the sympy function applied to each element (``getattr(sympy, sympy)``)
    sympy: str | None = None
    #: the numba backend's code for one element (``sg.function(..., backend="numba")``): an
    #: expression of the input elements ``a``, ``b``, ``c`` (float64 scalars, booleans as
    #: 0.0/1.0; a boolean result as 0.0/1.0 too) in numba's subset of numpy and ``math``,
    #: equal to numpy's value to rounding, with numpy's NaN, inf and signed zeros.  A plain
    #: ufunc numba implements gets ``np.<ufunc>(a, ...)`` by default; None: the numba
    #: backend computes the op with numpy.  See ``symgraph.codegen.native``.
    numba: str | None = None
    #: with ``numba``, an op of any number of inputs computed as a left fold of ``numba``
    #: (``add_n``: ``((a + b) + c) + ...``, the order of its ``f``)
    numba_fold: bool = False
    #: the numba code when the result is boolean (numpy's boolean loop: ``add`` is ``or``),
    #: exactly 0.0 or 1.0 on 0.0/1.0 operands; None: only a ``numba`` code of the form
    #: ``1.0 if ... else 0.0`` computes boolean results (else numpy does)
    numba_bool: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "numba" not in cls.__dict__:  # a plain ufunc numba implements: its numba name
            uf = cls.__dict__.get("ufunc")
            if isinstance(uf, np.ufunc) and uf.__name__ in NUMBA_UFUNCS:
                cls.numba = f"np.{uf.__name__}({', '.join('abc'[:uf.nin])})"
        if "to_sympy" not in cls.__dict__:  # translated element by element, if it says how
            declared = cls.sympy is not None or cls.sympy_scalar is not Elementwise.sympy_scalar
            if declared:
                cls.to_sympy = Elementwise._elementwise_sympy
            elif cls.to_sympy is not NO_SYMPY:  # a base's explicit "none" is inherited
                cls.to_sympy = None

    def fold(self, inputs):
        """Elementwise ops of constants are their value (``2 - 1`` is 1, ``-(1)`` is -1)."""
        for i in inputs:  # the common case first: some input is not known
            if not is_source(i):
                return None
        return fold_sources(self, inputs)

    def _elementwise_sympy(self, bridge, node, *arrays):
        return bridge.elementwise(lambda *xs: self.sympy_scalar(bridge.sympy, *xs), node, *arrays)

    def tangent(self, inputs: Sequence[Node], out: Node, tangents: Sequence[Node | None]
                ) -> Node | None:
        """The derivative applied to ``tangents`` (one per input; None is zero), elementwise."""
        raise NotImplementedError(f"op {self.name!r} states no derivative (tangent or deriv)")

    def bprop(self, inputs, out, g, needs):
        rules: list[Node | None] = [None] * len(inputs)
        for k, x in enumerate(inputs):
            if needs[k]:
                tangents = [None] * len(inputs)
                tangents[k] = g
                c = self.tangent(inputs, out, tangents)
                if c is not None:
                    rules[k] = c if c.shape == x.shape else sum_to(c, x.shape)
        return rules

    def jvp(self, inputs, out, tangents):
        t = self.tangent(inputs, out, tangents)
        return None if t is None else _fit(t, out.shape)

    def sympy_scalar(self, sp: Any, *xs: Any) -> Any:
        """The sympy expression of one output element from one element of each input."""
        return getattr(sp, self.sympy)(*xs)

    def numba_scalar(self) -> str | None:
        """This op's numba code for one element (``numba``; an op whose code depends on its
        parameters chooses here among ``numba_codes``), or None: computed with numpy."""
        return self.numba

    @classmethod
    def numba_codes(cls) -> tuple[str, ...]:
        """Every code ``numba_scalar`` may return: the numba backend's kernel has a case each."""
        return tuple(c for c in dict.fromkeys((cls.numba, cls.numba_bool)) if c)


# ---------------------------------------------------------------------------
# unary
# ---------------------------------------------------------------------------

class Unary(Elementwise):
    """A numpy ufunc of one argument with local derivative ``deriv(x, out)``."""

    abstract = True
    ufunc: np.ufunc
    emit_inplace = True

    def infer(self, x):
        return x.shape, ufunc_dtype(self.ufunc, x.dtype)

    def f(self, x):
        return self.ufunc(x)

    def emit(self, out, ins, ctx):
        fn = f"np.{self.ufunc.__name__}"
        return ctx.bind(f"{fn}({ins[0]}, out={ctx.into})") if ctx.into else f"{out} = {fn}({ins[0]})"

    def deriv(self, x: Node, out: Node) -> Node:
        """d out / d x, which multiplies the tangent."""
        raise NotImplementedError(f"op {self.name!r} states no derivative (tangent or deriv)")

    def tangent(self, inputs, out, tangents):
        (t,) = tangents
        return None if t is None else t * self.deriv(inputs[0], out)


def scipy_special() -> ModuleType:
    """The ``scipy`` package with ``scipy.special`` loaded (imported on first use)."""
    import scipy.special

    return scipy


def special_call(ctx: Any, name: str) -> str:
    """``scipy.special.<name>`` for compiled code, importing scipy.special in its preamble."""
    ctx.define("scipy", scipy_special(), "import scipy.special")
    return f"scipy.special.{name}"


class Special(Unary):
    """A ufunc of scipy.special, looked up by ``special`` (its name there) when first used."""

    abstract = True
    #: the ufunc's name in scipy.special
    special: str = ""

    @property
    def ufunc(self) -> np.ufunc:
        return getattr(scipy_special().special, self.special)

    def emit(self, out, ins, ctx):
        fn = special_call(ctx, self.special)
        return ctx.bind(f"{fn}({ins[0]}, out={ctx.into})") if ctx.into else f"{out} = {fn}({ins[0]})"


class Negative(Unary, ufunc=np.negative, linear=True):
    numba = "-a"

    def fold(self, inputs):
        """``-(-x) -> x``; ``-c`` of a constant is its value."""
        (x,) = inputs
        if isinstance(x.op, Negative):
            return x.inputs[0]
        return fold_sources(self, inputs) if is_source(x) else None

    def emit(self, out, ins, ctx):
        return ctx.bind(f"np.negative({ins[0]}, out={ctx.into})") if ctx.into else f"{out} = -{ins[0]}"

    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else negative(tangents[0])

    def sympy_scalar(self, sp, x):
        return -x


class Exp(Unary, ufunc=np.exp, sympy="exp", cli=True):
    def deriv(self, x, out):
        return out


class Log(Unary, ufunc=np.log, sympy="log", cli=True):
    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / inputs[0]


class Log1p(Unary, ufunc=np.log1p, cli=True):
    """``log(1 + x)``, accurate for tiny ``x`` where ``1 + x`` rounds to 1."""

    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / (1 + inputs[0])

    def sympy_scalar(self, sp, x):
        return sp.log(1 + x)


class Sin(Unary, ufunc=np.sin, sympy="sin", cli=True):
    def deriv(self, x, out):
        return cos(x)


class Cos(Unary, ufunc=np.cos, sympy="cos", cli=True):
    def deriv(self, x, out):
        return negative(sin(x))


class Tan(Unary, ufunc=np.tan, sympy="tan", cli=True):
    def deriv(self, x, out):
        return 1 + square(out)


class Tanh(Unary, ufunc=np.tanh, sympy="tanh", cli=True):
    def deriv(self, x, out):
        return 1 - square(out)


class Sigmoid(Special, special="expit", cli=True):
    """Logistic function ``1 / (1 + exp(-x))``: scipy's ``expit``, one pass, no overflow and
    full relative precision on both tails (``sigmoid(-40)`` is 4.2e-18, not 0)."""

    #: scipy's expit: ``1 / (1 + exp(-x))`` in double precision
    numba = "1.0 / (1.0 + np.exp(-a))"

    def deriv(self, x, out):
        """``sigmoid(x) * sigmoid(-x)``: ``out * (1 - out)`` cancels to 0 once out rounds to 1."""
        return out * sigmoid(negative(x))

    def sympy_scalar(self, sp, x):
        return 1 / (1 + sp.exp(-x))


class Relu(Unary, cli=True, linear_in=(0,)):
    #: numpy's maximum(x, 0) (see ``Maximum.numba``)
    numba = "a if (a > 0.0 or a != a) else 0.0"

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return kernels.relu(x)

    def scratch_bytes(self, shapes) -> int:
        """The row of zeros ``kernels.relu`` compares a large array with (the planner counts it)."""
        return kernels.relu_scratch_bytes(math.prod(shapes[0]))

    def emit(self, out, ins, ctx):
        fn = ctx.helper(kernels.relu)  # numpy's fast maximum: against a row of zeros
        if ctx.into:
            return ctx.bind(f"{fn}({ins[0]}, out={ctx.into})")
        return f"{out} = {fn}({ins[0]})"

    def tangent(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else where(inputs[0] > 0, t, 0)

    def sympy_scalar(self, sp, x):
        return sp.Max(x, 0)


class Abs(Unary, ufunc=np.abs, sympy="Abs", cli=True, linear_in=(0,)):
    def deriv(self, x, out):
        return sign(x)


class Sqrt(Unary, ufunc=np.sqrt, sympy="sqrt", cli=True):
    def tangent(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / (2 * out)


class Square(Unary, ufunc=np.square, cli=True):
    numba = "a * a"

    def deriv(self, x, out):
        return 2 * x

    def sympy_scalar(self, sp, x):
        return x ** 2


class Sign(Unary, ufunc=np.sign, sympy="sign", differentiable=False, cli=True):
    """Piecewise constant: its derivative is zero wherever it exists."""

    numba = "1.0 if a > 0.0 else (-1.0 if a < 0.0 else (0.0 if a == 0.0 else a))"


class Cast(Elementwise, linear_in=(0,)):
    """``x.astype(dtype)``; derivatives flow (unchanged) only between floating dtypes."""

    name = "cast"
    param_types = {"dtype": DTYPE}

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)

    def infer(self, x):
        return x.shape, self.dtype

    def f(self, x):
        return backend.astype(x, self.dtype)

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}.astype({ctx.dtype(self.dtype)})"

    def numba_scalar(self) -> str | None:
        """Only to float64 (the conversion is the kernel's, on loading) and to bool."""
        if self.dtype == np.float64:
            return "a"
        return "1.0 if a != 0.0 else 0.0" if self.dtype == np.bool_ else None

    @classmethod
    def numba_codes(cls) -> tuple[str, ...]:
        return ("a", "1.0 if a != 0.0 else 0.0")

    def tangent(self, inputs, out, tangents):
        """The identity between floating dtypes (autodiff casts the result to the input's
        dtype in reverse mode and to the output's in forward mode)."""
        t = tangents[0]
        return t if t is not None and is_inexact(inputs[0].dtype) and is_inexact(self.dtype) else None

    def to_sympy(self, bridge, node, x):
        src, dst = node.inputs[0].dtype, node.dtype
        if dst.kind in "fc" and src.kind in "iufc" or dst.kind in "iu" and src.kind in "iu":
            return x
        if src.kind == "b" and dst.kind in "iufc":
            sp = bridge.sympy
            return bridge.elementwise(lambda c: sp.Piecewise((1, c), (0, True)), node, x)
        raise SymgraphError(f"to_sympy: cast from {src} to {dst} has no sympy translation")


# ---------------------------------------------------------------------------
# binary
# ---------------------------------------------------------------------------

class Binary(Elementwise):
    """A broadcasting numpy ufunc of two arguments with partials ``deriv_a``/``deriv_b``."""

    abstract = True
    ufunc: np.ufunc
    #: Python operator that computes the ufunc (readable compiled source), if any.
    operator: str | None = None
    emit_inplace = True

    def infer(self, a, b):
        shape = a.shape if a.shape == b.shape else broadcast_shapes([a.shape, b.shape], self.name)
        return shape, ufunc_dtype(self.ufunc, a.dtype, b.dtype)

    def f(self, a, b):
        return self.ufunc(a, b)

    def emit(self, out, ins, ctx):
        a, b = ins
        fn = f"np.{self.ufunc.__name__}"
        if ctx.into == out == a and self.operator:
            return f"{out} {self.operator}= {b}"
        if ctx.into:
            return ctx.bind(f"{fn}({a}, {b}, out={ctx.into})")
        if self.operator:
            return f"{out} = {a} {self.operator} {b}"
        return f"{out} = {fn}({a}, {b})"

    def fold(self, inputs):
        a, b = inputs
        if type(a.op) not in KNOWN_OPS and type(b.op) not in KNOWN_OPS:
            return None  # the common case: neither operand is known
        folded = fold_sources(self, inputs)
        if folded is None:
            folded = self.fold_identity(a, b)
        if folded is None:
            folded = self.fold_broadcast(a, b)
        return folded

    def fold_broadcast(self, a: Node, b: Node) -> Node | None:
        """A known uniform operand broadcast to the other's shape is its 0-d value: the
        op broadcasts it anyway (``sum``'s gradient ``broadcast_to(reshape(c))`` times ``x``
        is ``c * x``)."""
        for known, other in ((a, b), (b, a)):
            if not known.ndim or type(known.op) not in KNOWN_OPS or other.ndim < known.ndim:
                continue
            value = uniform_value(known)
            if value is not None and other.shape == self.infer(a, b)[0]:
                scalar = full((), value[()], known.dtype, graph=known.graph)
                return built(known.graph, self, (scalar, b) if known is a else (a, scalar))
        return None

    def fold_identity(self, a: Node, b: Node) -> Node | None:
        """The identity this op has with a known operand (``x * 1 -> x``), or None;
        only called when ``a`` or ``b`` is a constant or fill."""
        return None

    def inexact(self, a: Node, b: Node) -> bool:
        """Whether ``a (op) b`` is a float (where signed zeros make identities inexact)."""
        return is_inexact(self.infer(a, b)[1])

    def conformed(self, x: Node, a: Node, b: Node) -> Node:
        """``x`` in the shape and dtype of ``a (op) b``: what an identity fold returns."""
        shape, dtype = self.infer(a, b)  # also for alike operands: int / 1 is float
        return conformed(x, shape, np.dtype(dtype))

    def deriv_a(self, a: Node, b: Node, out: Node) -> Node:
        """d out / d a, which multiplies a's tangent."""
        raise NotImplementedError(f"op {self.name!r} states no derivative (tangent or deriv_a)")

    def deriv_b(self, a: Node, b: Node, out: Node) -> Node:
        """d out / d b, which multiplies b's tangent."""
        raise NotImplementedError(f"op {self.name!r} states no derivative (tangent or deriv_b)")

    def tangent(self, inputs, out, tangents):
        a, b = inputs
        ta, tb = tangents
        return _present([None if ta is None else ta * self.deriv_a(a, b, out),
                         None if tb is None else tb * self.deriv_b(a, b, out)])

    def bprop(self, inputs, out, g, needs):
        if type(self).tangent is not Binary.tangent:
            return super().bprop(inputs, out, g, needs)
        a, b = inputs  # the same rule as tangent's, without its bookkeeping (a hot path)
        return [_sum_to(g * self.deriv_a(a, b, out), a.shape) if needs[0] else None,
                _sum_to(g * self.deriv_b(a, b, out), b.shape) if needs[1] else None]


def _present(terms: Sequence[Node | None]) -> Node | None:
    """The sum of the terms that are not None (None if all are)."""
    terms = [t for t in terms if t is not None]
    if len(terms) < 2:
        return terms[0] if terms else None
    return add_n(terms)


class Add(Binary, ufunc=np.add, operator="+", sympy="Add", linear=True, commutative=True):
    numba = "a + b"
    numba_bool = NUMBA_OR

    def tangent(self, inputs, out, tangents):
        return _present(tangents)

    def fold_identity(self, a, b):
        """``x + 0 -> x``, where that is exact: for integers, or a zero of -0.0 (a float ``x``
        of -0.0 plus +0.0 is +0.0)."""
        for x, zero in ((a, b), (b, a)):
            if is_value(zero, 0) and (zero_sign(zero) or not self.inexact(a, b)):
                return self.conformed(x, a, b)
        return None


class Subtract(Binary, ufunc=np.subtract, operator="-", linear=True):
    numba = "a - b"

    def fold_identity(self, a, b):
        """``x - 0 -> x`` and ``0 - x -> -x``, where exact: ``x - (-0.0)`` is +0.0 for
        ``x = -0.0``, and ``+0.0 - x`` is +0.0 for ``x = +0.0`` (so that one folds only for
        integers or a zero of -0.0)."""
        if is_value(b, 0) and not zero_sign(b):
            return self.conformed(a, a, b)
        if is_value(a, 0) and (zero_sign(a) or not self.inexact(a, b)):
            return negative(self.conformed(b, a, b))
        return None

    def tangent(self, inputs, out, tangents):
        ta, tb = tangents
        if tb is None:
            return ta
        return negative(tb) if ta is None else ta - tb

    def sympy_scalar(self, sp, a, b):
        return a - b


class Multiply(Binary, ufunc=np.multiply, operator="*", sympy="Mul", multilinear=True,
               commutative=True):
    numba = "a * b"
    numba_bool = NUMBA_AND

    def fold_identity(self, a, b):
        """``x * 1 -> x`` (a gradient's seed of ones vanishes) and ``x * -1 -> -x``."""
        x = beside(a, b, 1)
        if x is not None:
            return self.conformed(x, a, b)
        x = beside(a, b, -1)
        return None if x is None else negative(self.conformed(x, a, b))  # cast, then negate

    def deriv_a(self, a, b, out):
        return b

    def deriv_b(self, a, b, out):
        return a


class Divide(Binary, ufunc=np.true_divide, operator="/", linear_in=(0,)):
    numba = "a / b"

    def fold_identity(self, a, b):
        """``x / 1 -> x``."""
        return self.conformed(a, a, b) if is_value(b, 1) else None

    def tangent(self, inputs, out, tangents):
        """``ta / b - (tb / b) * out``: the two parts share ``g / b`` in reverse mode."""
        a, b = inputs
        ta, tb = tangents
        return _present([None if ta is None else ta / b,
                         None if tb is None else negative(tb / b) * out])

    def sympy_scalar(self, sp, a, b):
        return a / b


class Power(Binary, ufunc=np.power, operator="**", sympy="Pow", cli=True):
    """``a ** b``; its partials stay finite where the true derivative is finite.

    d/da is ``b * a ** (b - 1)`` with ``a`` replaced by 1 where ``a == b == 0``:
    there the true value is 0 (``a ** 0`` is constant) but the plain rule gives
    ``0 * inf``.  The substitution happens in the base, not by masking the
    result, so the rule is differentiable again (at any order, either mode) and
    the mixed partial in ``b`` stays right at ``b == 0``.  d/db uses ``log(a)``
    with ``a == 0`` replaced by 1 (as JAX does): ``out`` is 0 there anyway.
    """

    def fold_identity(self, a, b):
        """``x ** 1 -> x`` and ``x ** 0 -> 1`` (numpy gives 1 even for 0, inf and NaN)."""
        if is_value(b, 1):
            return self.conformed(a, a, b)
        if is_value(b, 0):
            shape, dtype = self.infer(a, b)
            return full(shape, 1, dtype, graph=a.graph)
        return None

    def deriv_a(self, a, b, out):
        if _nonzero_constant(b):  # the common x ** 2: no select needed
            return b * power(a, b - 1)
        safe = where(where(equal(b, 0), equal(a, 0), False), 1, a)
        return b * power(safe, b - 1)

    def deriv_b(self, a, b, out):
        return out * log(where(equal(a, 0), 1, a))


class Maximum(Binary, ufunc=np.maximum, sympy="Max", commutative=True, selects=True, cli=True):
    """Elementwise max; the gradient goes to the larger input, split evenly on ties."""

    #: numpy's loops: NaN from either side; on ties (-0.0 and 0.0) the second operand
    numba = "a if (a > b or a != a) else b"
    numba_bool = NUMBA_OR

    def deriv_a(self, a, b, out):
        return _tie_mask(a, b, greater)

    def deriv_b(self, a, b, out):
        return _tie_mask(b, a, greater)


class Minimum(Binary, ufunc=np.minimum, sympy="Min", commutative=True, selects=True, cli=True):
    """Elementwise min; the gradient goes to the smaller input, split evenly on ties."""

    numba = "a if (a < b or a != a) else b"
    numba_bool = NUMBA_AND

    def deriv_a(self, a, b, out):
        return _tie_mask(a, b, less)

    def deriv_b(self, a, b, out):
        return _tie_mask(b, a, less)


def _nonzero_constant(x: Node) -> bool:
    """Whether ``x`` is a constant (or full) node with no zero element."""
    op = x.op
    if isinstance(op, Constant):
        return bool(np.all(op.value != 0))
    if isinstance(op, Full):
        return op.value != 0
    return False


def _tie_mask(x: Node, other: Node, wins) -> Node:
    dtype = np.result_type(x.dtype, other.dtype)
    one, half, zero = (full((), v, dtype, graph=x.graph) for v in (1, 0.5, 0))
    return where(wins(x, other), one, where(equal(x, other), half, zero))


class Compare(Binary):
    """Comparisons give booleans: no gradient flows through them."""

    abstract = True
    differentiable = False


class Equal(Compare, ufunc=np.equal, operator="==", sympy="Eq", commutative=True):
    """``a == b``."""

    numba = "1.0 if a == b else 0.0"


class NotEqual(Compare, name="not_equal", ufunc=np.not_equal, operator="!=", sympy="Ne",
               commutative=True):
    """``a != b``."""

    numba = "1.0 if a != b else 0.0"


class Less(Compare, ufunc=np.less, operator="<", sympy="Lt"):
    """``a < b``."""

    numba = "1.0 if a < b else 0.0"


class LessEqual(Compare, name="less_equal", ufunc=np.less_equal, operator="<=", sympy="Le"):
    """``a <= b``."""

    numba = "1.0 if a <= b else 0.0"


class Greater(Compare, ufunc=np.greater, operator=">", sympy="Gt"):
    """``a > b``."""

    numba = "1.0 if a > b else 0.0"


class GreaterEqual(Compare, name="greater_equal", ufunc=np.greater_equal, operator=">=",
                   sympy="Ge"):
    """``a >= b``."""

    numba = "1.0 if a >= b else 0.0"


class LogicalAnd(Compare, name="logical_and", ufunc=np.logical_and, sympy="And",
                 commutative=True, cli=True):
    """``a and b`` elementwise (numpy's truth of numbers: nonzero is true)."""

    numba = NUMBA_AND


class LogicalOr(Compare, name="logical_or", ufunc=np.logical_or, sympy="Or", commutative=True,
                cli=True):
    """``a or b`` elementwise."""

    numba = NUMBA_OR


class LogicalXor(Compare, name="logical_xor", ufunc=np.logical_xor, sympy="Xor",
                 commutative=True, cli=True):
    """``a xor b`` elementwise."""

    numba = "1.0 if (a != 0.0) != (b != 0.0) else 0.0"


class LogicalNot(Unary, name="logical_not", ufunc=np.logical_not, sympy="Not",
                 differentiable=False, cli=True):
    """``not x`` elementwise (booleans: no gradient)."""

    numba = "1.0 if a == 0.0 else 0.0"


class Classify(Unary):
    """isnan/isinf/isfinite: booleans, no gradient; sympy's real numbers are all finite."""

    abstract = True
    differentiable = False
    to_sympy = NO_SYMPY


class IsNan(Classify, name="isnan", ufunc=np.isnan):
    """Whether each element is NaN."""

    numba = "1.0 if np.isnan(a) else 0.0"


class IsInf(Classify, name="isinf", ufunc=np.isinf):
    """Whether each element is +inf or -inf."""

    numba = "1.0 if np.isinf(a) else 0.0"


class IsFinite(Classify, name="isfinite", ufunc=np.isfinite):
    """Whether each element is neither NaN nor infinite."""

    numba = "1.0 if np.isfinite(a) else 0.0"


# ---------------------------------------------------------------------------
# n-ary
# ---------------------------------------------------------------------------

class Where(Elementwise, linear_in=(1, 2)):
    """``where(cond, a, b)``: the derivative of each branch is masked by ``cond``."""

    numba = "b if a != 0.0 else c"
    numba_bool = numba  # b and c are 0.0 or 1.0

    name = "where"

    def infer(self, cond, a, b):
        if cond.dtype != np.bool_:
            raise DTypeError(f"where: the condition must be boolean, got dtype {cond.dtype}")
        shape = broadcast_shapes([cond.shape, a.shape, b.shape], self.name)
        return shape, np.result_type(a.dtype, b.dtype)

    def f(self, cond, a, b):
        return np.where(cond, a, b)

    def emit(self, out, ins, ctx):
        return f"{out} = np.where({ins[0]}, {ins[1]}, {ins[2]})"

    def tangent(self, inputs, out, tangents):
        _, ta, tb = tangents
        if ta is None and tb is None:
            return None
        return where(inputs[0], 0 if ta is None else ta, 0 if tb is None else tb)

    def sympy_scalar(self, sp, c, a, b):
        return sp.Piecewise((a, c), (b, True))


class AddN(Elementwise):
    """Sum of several same-shaped arrays: how gradient contributions are accumulated."""

    numba = "a + b"
    numba_bool = NUMBA_OR
    numba_fold = True

    name = "add_n"
    emit_inplace = True
    linear = True
    commutative = True
    sympy = "Add"

    def infer(self, *xs):
        if len(xs) < 2:
            raise SymgraphError(f"add_n: needs at least two terms, got {len(xs)}")
        shape, dtype = xs[0].shape, xs[0].dtype
        for x in xs:
            if x.shape != shape or x.dtype != dtype:  # rare: gradients are alike
                shape = broadcast_shapes([x.shape for x in xs], self.name)
                return shape, np.result_type(*[x.dtype for x in xs])
        return shape, dtype

    def f(self, *xs):
        out = np.add(xs[0], xs[1])
        for x in xs[2:]:
            # ``out`` is a fresh array we own, so accumulate in place when it fits.
            if (isinstance(out, np.ndarray) and out.shape == np.broadcast_shapes(out.shape, np.shape(x))
                    and np.result_type(out, x) == out.dtype):
                np.add(out, x, out=out)
            else:
                out = np.add(out, x)
        return out

    def emit(self, out, ins, ctx):
        """Accumulate in place: one buffer for the whole sum (the backprop chapter's remark)."""
        rest = list(zip(ins, ctx.in_shapes, ctx.in_dtypes))
        if ctx.into in ins:  # write into the donated input, adding the others to it
            del rest[ins.index(ctx.into)]
            return "\n".join([f"{ctx.into} += {x}" for x, _, _ in rest] +
                             ([ctx.bind(ctx.into)] if out != ctx.into else []))
        (a, sa, da), (b, sb, db) = rest[:2]
        lines = [ctx.bind(f"np.add({a}, {b}, out={ctx.into})") if ctx.into else f"{out} = {a} + {b}"]
        shape, dtype = broadcast_shapes([sa, sb], self.name), np.result_type(da, db)
        if ctx.into:  # the buffer has the whole result's shape already
            shape, dtype = ctx.shape, ctx.node.dtype
        for x, sx, dx in rest[2:]:
            grown, wider = broadcast_shapes([shape, sx], self.name), np.result_type(dtype, dx)
            fits = grown == shape and wider == dtype
            lines.append(f"{out} += {x}" if fits else f"{out} = {out} + {x}")
            shape, dtype = grown, wider
        return "\n".join(lines)

    def tangent(self, inputs, out, tangents):
        return _present(tangents)


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

def unary_builder(cls: type, doc: str) -> Callable[[Any], Node]:
    """The builder of a parameterless unary op: named after the op, sharing one instance."""
    op = cls()

    def build(x: Any) -> Node:
        x = x if type(x) is Node else as_node(x)
        return built(x.graph, op, (x,))

    return _named(build, cls, doc)


def binary_builder(cls: type, doc: str) -> Callable[[Any, Any], Node]:
    """The builder of a parameterless broadcasting binary op (Python scalars typed weakly)."""
    op = cls()

    def build(a: Any, b: Any) -> Node:
        if type(a) is Node and type(b) is Node and a.graph is b.graph:  # hot path
            return built(a.graph, op, (a, b))
        return make(op, a, b)

    return _named(build, cls, doc)


def _named(build: Callable, cls: type, doc: str) -> Callable:
    build.__name__ = build.__qualname__ = cls.name
    build.__doc__ = doc
    return build


add = binary_builder(Add, """``a + b`` with numpy broadcasting (what ``+`` on nodes builds).

The gradient of an operand that was broadcast is summed back to its own shape:
a scalar added to a vector gets the sum of the vector's cotangent.

Examples
--------
>>> a = sg.variable("a", (2,))
>>> b = sg.variable("b")
>>> y = sg.add(a, b)
>>> sg.evaluate([y, *sg.grad(sg.sum(y), [a, b])], {"a": [1.0, 2.0], "b": 10.0})
[array([11., 12.]), array([1., 1.]), array(2.)]
""")
subtract = binary_builder(Subtract, """``a - b`` with numpy broadcasting.

What ``-`` on nodes builds.  Its partials are 1 and -1, summed back to an operand's
shape where it was broadcast.

Examples
--------
>>> a, b = sg.variable("a"), sg.variable("b")
>>> y = sg.subtract(a, b)
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 5.0, "b": 3.0})
[array(2.), array(1.), array(-1.)]
""")
multiply = binary_builder(Multiply, """``a * b`` with numpy broadcasting (what ``*`` on nodes builds).

The partial in each operand is the other operand.  A product with ones (a
gradient's seed) is the other operand itself, so derivative graphs have no
``1 * x`` nodes (see ``Op.fold``).

Examples
--------
>>> a, b = sg.variable("a"), sg.variable("b")
>>> y = sg.multiply(a, b)
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 2.0, "b": 3.0})
[array(6.), array(3.), array(2.)]
>>> sg.multiply(a, 1) is a
True
""")
divide = binary_builder(Divide, """``a / b`` (true division) with numpy broadcasting.

What ``/`` on nodes builds; ``sg.true_divide`` is the same function.  Integers
divide to floats, as in numpy.  The partials are ``1 / b`` and
``-a / b**2``; reverse mode computes the cotangent over ``b`` once for both.

Examples
--------
>>> a, b = sg.variable("a"), sg.variable("b")
>>> y = sg.divide(a, b)
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 1.0, "b": 4.0})
[array(0.25), array(0.25), array(-0.0625)]
""")
power = binary_builder(Power, """``a ** b`` with numpy broadcasting (what ``**`` on nodes builds).

Negative and non-integer exponents are allowed (numpy semantics).  Both partials
stay finite where the true derivative is finite: at ``a == b == 0`` the plain
rules would give ``0 * inf`` and ``log(0)``, here they give 0.

Examples
--------
>>> a, b = sg.variable("a"), sg.variable("b")
>>> y = sg.power(a, b)
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 2.0, "b": 3.0})
[array(8.), array(12.), array(5.54517744)]
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 0.0, "b": 0.0})
[array(1.), array(0.), array(0.)]
""")
maximum = binary_builder(Maximum, """Elementwise maximum of ``a`` and ``b`` with numpy broadcasting.

The gradient goes to the larger input and is split evenly on ties, so
``maximum(a, b)`` and ``maximum(b, a)`` have the same derivatives.

Examples
--------
>>> a, b = sg.variable("a"), sg.variable("b")
>>> y = sg.maximum(a, b)
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 2.0, "b": 1.0})
[array(2.), array(1.), array(0.)]
>>> sg.evaluate([y, *sg.grad(y, [a, b])], {"a": 1.0, "b": 1.0})
[array(1.), array(0.5), array(0.5)]
""")
minimum = binary_builder(Minimum, """Elementwise minimum of ``a`` and ``b`` with numpy broadcasting.

The gradient goes to the smaller input and is split evenly on ties; with a
constant bound it caps values from above, as ``sg.clip`` does.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.minimum(x, 1.0)
>>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [0.0, 1.0, 2.0]})
[array([0., 1., 1.]), array([1. , 0.5, 0. ])]
""")
equal = binary_builder(Equal, """``a == b`` elementwise (boolean, no gradient).

What ``==`` on nodes builds; a mask for ``sg.where``.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.equal(x, 2.0), {"x": [1.0, 2.0, 3.0]})
array([False,  True, False])
""")
not_equal = binary_builder(NotEqual, """``a != b`` elementwise (boolean, no gradient).

What ``!=`` on nodes builds.  ``not_equal(x, x)`` is true exactly where ``x`` is NaN.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.not_equal(x, x), {"x": [1.0, np.nan, 3.0]})
array([False,  True, False])
""")
less = binary_builder(Less, """``a < b`` elementwise (boolean, no gradient).

What ``<`` on nodes builds; a mask for ``sg.where``.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> below = sg.less(x, 0.0)
>>> sg.evaluate([below, sg.where(below, 0.0, x)], {"x": [-1.0, 0.0, 2.0]})
[array([ True, False, False]), array([0., 0., 2.])]
""")
less_equal = binary_builder(LessEqual, """``a <= b`` elementwise (boolean, no gradient).

What ``<=`` on nodes builds.  Broadcasting a vector against a column compares every
pair at once.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.less_equal(x, [[0.0], [1.0]]), {"x": [0.0, 1.0, 2.0]})
array([[ True, False, False],
       [ True,  True, False]])
""")
greater = binary_builder(Greater, """``a > b`` elementwise (boolean, no gradient).

What ``>`` on nodes builds.  No gradient flows through the comparison itself, but
through the branches of the ``sg.where`` it selects with, here a leaky ReLU.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.where(sg.greater(x, 0.0), x, 0.01 * x)
>>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-1.0, 0.0, 2.0]})
[array([-0.01,  0.  ,  2.  ]), array([0.01, 0.01, 1.  ])]
""")
greater_equal = binary_builder(GreaterEqual, """``a >= b`` elementwise (boolean, no gradient).

What ``>=`` on nodes builds.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.greater_equal(x, 1.0), {"x": [0.0, 1.0, 2.0]})
array([False,  True,  True])
""")
logical_and = binary_builder(LogicalAnd, """``a and b`` elementwise (boolean, no gradient).

What ``&`` on nodes builds: combine masks, e.g. "inside an interval".  Numbers
count as true where nonzero, as in numpy.

Examples
--------
>>> x = sg.variable("x", (4,))
>>> inside = sg.logical_and(x >= 0.0, x <= 1.0)
>>> sg.evaluate(inside, {"x": [-0.5, 0.0, 0.5, 2.0]})
array([False,  True,  True, False])
""")
logical_or = binary_builder(LogicalOr, """``a or b`` elementwise (boolean, no gradient).

What ``|`` on nodes builds: combine masks, e.g. "outside an interval".

Examples
--------
>>> x = sg.variable("x", (4,))
>>> outside = sg.logical_or(x < 0.0, x > 1.0)
>>> sg.evaluate(outside, {"x": [-0.5, 0.0, 0.5, 2.0]})
array([ True, False, False,  True])
""")
logical_xor = binary_builder(LogicalXor, """``a xor b`` elementwise (boolean, no gradient).

What ``^`` on nodes builds: true where exactly one of the two holds.

Examples
--------
>>> a = sg.variable("a", (4,), "bool")
>>> b = sg.variable("b", (4,), "bool")
>>> feed = {"a": [True, True, False, False], "b": [True, False, True, False]}
>>> sg.evaluate(sg.logical_xor(a, b), feed)
array([False,  True,  True, False])
""")

negative = unary_builder(Negative, """``-x`` (what unary ``-`` on nodes builds).

Linear: its derivative is -1 and its forward-mode rule is itself.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.negative(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 2.0})
[array(-2.), array(-1.)]
""")
exp = unary_builder(Exp, """``e ** x``, the exponential (numpy.exp).

Its derivative is its own value, so the gradient graph reuses the node instead
of computing a second exponential.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.exp(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.0})
[array(2.71828183), array(2.71828183)]
""")
log = unary_builder(Log, """Natural logarithm (numpy.log); its derivative is ``1 / x``.

For ``log(1 + x)`` with small ``x`` use ``sg.log1p``, and for ``log(sigmoid(x))``
or ``log(sum(exp(x)))`` the stable ``sg.log_sigmoid`` and ``sg.logsumexp``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.log(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 2.0})
[array(0.69314718), array(0.5)]
""")
log1p = unary_builder(Log1p, """``log(1 + x)`` (numpy.log1p), accurate for tiny ``x``.

Where ``1 + x`` rounds, ``log(1 + x)`` loses digits (below, the eighth is
already wrong); ``log1p`` keeps them all.  Its derivative is ``1 / (1 + x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.log1p(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 1e-10})
[array(1.e-10), array(1.)]
>>> sg.evaluate(sg.log(1 + x), {"x": 1e-10})
array(1.00000008e-10)
""")
sin = unary_builder(Sin, """Sine (numpy.sin) of an angle in radians; derivative ``cos(x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.sin(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": np.pi / 6})
[array(0.5), array(0.8660254)]
""")
cos = unary_builder(Cos, """Cosine (numpy.cos) of an angle in radians; derivative ``-sin(x)``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.cos(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": np.pi / 3})
[array(0.5), array(-0.8660254)]
""")
tan = unary_builder(Tan, """Tangent (numpy.tan), of an angle in radians.

Its derivative ``1 + tan(x)**2`` is computed from the result, without a second
trigonometric function.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.tan(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": np.pi / 4})
[array(1.), array(2.)]
""")
tanh = unary_builder(Tanh, """Hyperbolic tangent (numpy.tanh), a smooth squashing into (-1, 1).

Its derivative ``1 - tanh(x)**2`` is computed from the result.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.tanh(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.5})
[array(0.46211716), array(0.78644773)]
""")
sigmoid = unary_builder(Sigmoid, """Numerically stable logistic function ``1 / (1 + exp(-x))``.

Computed by scipy's ``expit``: no overflow, and full relative precision on both
tails.  Its derivative is ``sigmoid(x) * sigmoid(-x)``, not ``s * (1 - s)``,
which cancels to 0 once ``s`` rounds to 1.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.sigmoid(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.0})
[array(0.5), array(0.25)]
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 40.0})
[array(1.), array(4.24835426e-18)]
""")
relu = unary_builder(Relu, """``max(x, 0)``, the rectified linear unit; derivative 0 at 0.

Unlike ``sg.maximum(x, 0)``, which splits the gradient of a tie, it gives ``x``
no gradient at 0.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.relu(x)
>>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-1.0, 0.0, 2.0]})
[array([0., 0., 2.]), array([0., 0., 1.])]
""")
abs = unary_builder(Abs, """Absolute value (numpy.abs); ``sg.absolute`` is the same function.

What ``abs()`` of a node builds.  Its derivative is ``sign(x)``, so 0 at ``x == 0``
(a subgradient).

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.abs(x)
>>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-2.0, 0.0, 3.0]})
[array([2., 0., 3.]), array([-1.,  0.,  1.])]
""")  # noqa: A001 - numpy's name
sqrt = unary_builder(Sqrt, """Square root (numpy.sqrt); NaN for negative ``x``.

Its derivative ``1 / (2 sqrt(x))`` reuses the result and is infinite at 0 (see
``sg.where`` for the "double where" that keeps a masked gradient finite there).

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.sqrt(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 4.0})
[array(2.), array(0.25)]
""")
square = unary_builder(Square, """``x ** 2`` (numpy.square), one multiplication; derivative ``2 x``.

Examples
--------
>>> x = sg.variable("x")
>>> y = sg.square(x)
>>> sg.evaluate([y, sg.grad(y, x)], {"x": 3.0})
[array(9.), array(6.)]
""")
sign = unary_builder(Sign, """-1, 0 or 1 by the sign of ``x`` (numpy.sign; no gradient).

Piecewise constant: its derivative is 0 wherever it exists, so a gradient
through it is zeros, not an error.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.sign(x)
>>> sg.evaluate([y, sg.grad(sg.sum(y), x)], {"x": [-2.0, 0.0, 3.0]})
[array([-1.,  0.,  1.]), array([0., 0., 0.])]
""")
logical_not = unary_builder(LogicalNot, """``not x`` elementwise (boolean, no gradient).

What ``~`` on nodes builds: the complement of a mask.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.logical_not(sg.isnan(x)), {"x": [1.0, np.nan, np.inf]})
array([ True, False,  True])
""")
isnan = unary_builder(IsNan, """Whether each element is NaN (boolean, no gradient).

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.isnan(x), {"x": [1.0, np.nan, np.inf]})
array([False,  True, False])
""")
isinf = unary_builder(IsInf, """Whether each element is +inf or -inf (boolean, no gradient).

Examples
--------
>>> x = sg.variable("x", (3,))
>>> sg.evaluate(sg.isinf(x), {"x": [1.0, np.nan, -np.inf]})
array([False, False,  True])
""")
isfinite = unary_builder(IsFinite, """Whether each element is finite (boolean, no gradient).

A mask for ``sg.where``, e.g. to replace NaN and infinities by 0.

Examples
--------
>>> x = sg.variable("x", (3,))
>>> y = sg.where(sg.isfinite(x), x, 0.0)
>>> sg.evaluate([sg.isfinite(x), y], {"x": [1.0, np.nan, np.inf]})
[array([ True, False, False]), array([1., 0., 0.])]
""")

_WHERE = Where()
_ADDN = AddN()


def cast(x, dtype) -> Node:
    """``x.astype(dtype)``; returns ``x`` itself when the dtype already matches.

    Derivatives flow through a cast between floating dtypes (the identity, cast
    to the other side's dtype) and stop at integer and boolean ones: casting a
    mask to numbers gives a constant to autodiff.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> y = sg.cast(x, "float32")
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 1.5})
    [array(1.5, dtype=float32), array(1.)]
    >>> sg.evaluate(sg.cast(x > 0, "int64"), {"x": 1.5})
    array(1)
    """
    x = as_node(x)
    dtype = numeric_dtype(dtype, "cast")
    return x if x.dtype == dtype else built(x.graph, Cast(dtype), (x,))


def where(cond, a, b) -> Node:
    """``a`` where ``cond`` holds, else ``b`` (numpy broadcasting).

    The gradient of each branch is masked by ``cond``, but both branches are
    still *differentiated everywhere*.  So ``where(x > 0, sqrt(x), 0)`` has a NaN
    gradient at ``x == 0``: the mask sends a zero cotangent into sqrt's rule,
    whose local derivative there is infinite, and ``0 * inf`` is NaN (JAX and
    PyTorch behave the same).  Make the masked-out input safe as well -- the
    "double where" idiom::

        safe_x = where(x > 0, x, 1)              # any value in sqrt's domain
        y = where(x > 0, sqrt(safe_x), 0)        # finite value and gradient

    ``evaluate(..., check_finite=True)`` names the rule that produced the NaN.
    (Rules that return 0 where the cotangent is exactly 0 would hide this trap
    but make some second derivatives silently wrong, e.g. ``d2(w*sqrt(x))/dw dx``
    at ``w = 0``, and cost a select per rule; symgraph prefers a loud NaN.)

    Examples
    --------
    The double where: value and gradient are finite at 0, and right elsewhere.

    >>> x = sg.variable("x")
    >>> safe = sg.where(x > 0, x, 1.0)
    >>> y = sg.where(x > 0, sg.sqrt(safe), 0.0)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 0.0})
    [array(0.), array(0.)]
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 4.0})
    [array(2.), array(0.25)]
    """
    if isinstance(a, Node) or isinstance(b, Node):
        # Python scalars take the dtype of the value operands (weak typing), not the
        # condition's: where(x32 > 0, x32, 0) stays float32.
        a, b = as_nodes(a, b)
        cond = as_node(cond if isinstance(cond, Node) else np.asarray(cond), like=a)
    else:
        cond, a, b = as_nodes(cond, a, b)
    if cond.dtype != np.bool_:
        cond = not_equal(cond, 0)
    return apply(_WHERE, [cond, a, b])


def add_n(xs: list) -> Node:
    """Sum of a list of nodes (one node for the whole sum)."""
    if not isinstance(xs, (list, tuple)):
        if isinstance(xs, Node) or not hasattr(xs, "__iter__"):
            raise SymgraphError(f"add_n takes a list of nodes, got {type(xs).__name__}")
        xs = list(xs)
    if not xs:
        raise SymgraphError("add_n needs at least one term, got an empty list (the sum of no "
                            "terms has no shape: use sg.zeros_like or sg.full)")
    if len(xs) == 1:
        return as_node(xs[0])
    return apply(_ADDN, as_nodes(*xs))


__all__ = [
    "negative", "exp", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs",
    "sqrt", "square", "sign", "cast", "add", "subtract", "multiply", "divide", "power", "maximum",
    "minimum", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "where",
    "add_n",
]
