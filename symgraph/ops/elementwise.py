"""Elementwise ops: arithmetic, transcendental functions, comparisons, where, cast.

Each differentiable elementwise op states its local derivative once
(``deriv``/``deriv_a``/``deriv_b``) and both reverse mode (``bprop``: grad
times derivative, summed back to the input's shape) and forward mode
(``jvp``: tangent times derivative) are derived from it, the way JAX's
``defjvp`` tables do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..errors import DTypeError, SymgraphError
from ..graph import Node, apply
from .base import Op, as_node, as_nodes, broadcast_shapes, is_inexact, make, ufunc_dtype
from .sources import Constant, Fill, full

from . import shape as shape_ops  # noqa: E402  (shape's rules call back into this module)


def _fit(x: Node, shape: tuple[int, ...]) -> Node:
    """Broadcast a tangent up to ``shape`` when a rule produced fewer dimensions."""
    return x if x.shape == shape else shape_ops.broadcast_to(x, shape)


def _sum_to(x: Node, shape: tuple[int, ...]) -> Node:
    return x if x.shape == shape else shape_ops.sum_to(x, shape)


# ---------------------------------------------------------------------------
# unary
# ---------------------------------------------------------------------------

class Unary(Op):
    """A numpy ufunc of one argument with local derivative ``deriv(x, out)``."""

    ufunc: np.ufunc
    elementwise = True
    emit_inplace = True

    def infer(self, x):
        return x.shape, ufunc_dtype(self.ufunc, x.dtype)

    def f(self, x):
        return self.ufunc(x)

    def emit(self, out, ins, ctx):
        fn = f"np.{self.ufunc.__name__}"
        return ctx.bind(f"{fn}({ins[0]}, out={ctx.into})") if ctx.into else f"{out} = {fn}({ins[0]})"

    def deriv(self, x: Node, out: Node) -> Node:
        raise NotImplementedError

    def bprop(self, inputs, out, g):
        (x,) = inputs
        return [lambda: g * self.deriv(x, out)]

    def jvp(self, inputs, out, tangents):
        (x,), (t,) = inputs, tangents
        return None if t is None else t * self.deriv(x, out)


class Negative(Unary):
    name = "neg"
    ufunc = np.negative

    def emit(self, out, ins, ctx):
        return ctx.bind(f"np.negative({ins[0]}, out={ctx.into})") if ctx.into else f"{out} = -{ins[0]}"

    def bprop(self, inputs, out, g):
        return [lambda: negative(g)]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else negative(tangents[0])


class Exp(Unary):
    name = "exp"
    ufunc = np.exp

    def deriv(self, x, out):
        return out


class Log(Unary):
    name = "log"
    ufunc = np.log

    def bprop(self, inputs, out, g):
        return [lambda: g / inputs[0]]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / inputs[0]


class Sin(Unary):
    name = "sin"
    ufunc = np.sin

    def deriv(self, x, out):
        return cos(x)


class Cos(Unary):
    name = "cos"
    ufunc = np.cos

    def deriv(self, x, out):
        return negative(sin(x))


class Tan(Unary):
    name = "tan"
    ufunc = np.tan

    def deriv(self, x, out):
        return 1 + square(out)


class Tanh(Unary):
    name = "tanh"
    ufunc = np.tanh

    def deriv(self, x, out):
        return 1 - square(out)


class Sigmoid(Unary):
    """Logistic function, computed as ``exp(-logaddexp(0, -x))``: no overflow, full precision."""

    name = "sigmoid"

    def infer(self, x):
        return x.shape, ufunc_dtype(np.exp, x.dtype)

    def f(self, x):
        return np.exp(-np.logaddexp(0, -x))

    def emit(self, out, ins, ctx):
        into = ctx.into
        if not into:
            return f"{out} = np.exp(-np.logaddexp(0, -{ins[0]}))"
        return "\n".join([f"np.negative({ins[0]}, out={into})", f"np.logaddexp(0, {into}, out={into})",
                          f"np.negative({into}, out={into})", ctx.bind(f"np.exp({into}, out={into})")])

    def deriv(self, x, out):
        return out * (1 - out)


class Relu(Unary):
    name = "relu"

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return np.maximum(x, 0)

    def emit(self, out, ins, ctx):
        if ctx.into:
            return ctx.bind(f"np.maximum({ins[0]}, 0, out={ctx.into})")
        return f"{out} = np.maximum({ins[0]}, 0)"

    def bprop(self, inputs, out, g):
        return [lambda: where(inputs[0] > 0, g, 0)]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        return None if t is None else where(inputs[0] > 0, t, 0)


class Abs(Unary):
    name = "abs"
    ufunc = np.abs

    def deriv(self, x, out):
        return sign(x)


class Sqrt(Unary):
    name = "sqrt"
    ufunc = np.sqrt

    def bprop(self, inputs, out, g):
        return [lambda: g / (2 * out)]

    def jvp(self, inputs, out, tangents):
        return None if tangents[0] is None else tangents[0] / (2 * out)


class Square(Unary):
    name = "square"
    ufunc = np.square

    def deriv(self, x, out):
        return 2 * x


class Sign(Unary):
    """Piecewise constant: its derivative is zero wherever it exists."""

    name = "sign"
    ufunc = np.sign

    def bprop(self, inputs, out, g):
        return [None]

    def jvp(self, inputs, out, tangents):
        return None


class Cast(Op):
    """``x.astype(dtype)``; gradients flow back only between floating dtypes."""

    name = "cast"
    elementwise = True

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)

    def infer(self, x):
        return x.shape, self.dtype

    def f(self, x):
        return backend.astype(x, self.dtype)

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}.astype({ctx.dtype(self.dtype)})"

    def bprop(self, inputs, out, g):
        x = inputs[0]
        if not (is_inexact(x.dtype) and is_inexact(self.dtype)):
            return [None]
        return [lambda: cast(g, x.dtype)]

    def jvp(self, inputs, out, tangents):
        t = tangents[0]
        if t is None or not is_inexact(self.dtype):
            return None
        return cast(t, self.dtype)


# ---------------------------------------------------------------------------
# binary
# ---------------------------------------------------------------------------

class Binary(Op):
    """A broadcasting numpy ufunc of two arguments with partials ``deriv_a``/``deriv_b``."""

    ufunc: np.ufunc
    #: Python operator that computes the ufunc (readable compiled source), if any.
    operator: str | None = None
    elementwise = True
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

    def deriv_a(self, a: Node, b: Node, out: Node) -> Node:
        raise NotImplementedError

    def deriv_b(self, a: Node, b: Node, out: Node) -> Node:
        raise NotImplementedError

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: _sum_to(g * self.deriv_a(a, b, out), a.shape),
                lambda: _sum_to(g * self.deriv_b(a, b, out), b.shape)]

    def jvp(self, inputs, out, tangents):
        a, b = inputs
        ta, tb = tangents
        terms = []
        if ta is not None:
            terms.append(ta * self.deriv_a(a, b, out))
        if tb is not None:
            terms.append(tb * self.deriv_b(a, b, out))
        return _fit(add_n(terms), out.shape) if terms else None


class Add(Binary):
    name = "add"
    ufunc = np.add
    operator = "+"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: _sum_to(g, a.shape), lambda: _sum_to(g, b.shape)]

    def jvp(self, inputs, out, tangents):
        terms = [t for t in tangents if t is not None]
        return _fit(add_n(terms), out.shape) if terms else None


class Subtract(Binary):
    name = "sub"
    ufunc = np.subtract
    operator = "-"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: _sum_to(g, a.shape), lambda: _sum_to(negative(g), b.shape)]

    def jvp(self, inputs, out, tangents):
        ta, tb = tangents
        if tb is None:
            return None if ta is None else _fit(ta, out.shape)
        return _fit(negative(tb) if ta is None else ta - tb, out.shape)


class Multiply(Binary):
    name = "mul"
    ufunc = np.multiply
    operator = "*"

    def deriv_a(self, a, b, out):
        return b

    def deriv_b(self, a, b, out):
        return a


class Divide(Binary):
    name = "div"
    ufunc = np.true_divide
    operator = "/"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: _sum_to(g / b, a.shape),
                lambda: _sum_to(negative(g / b) * out, b.shape)]

    def jvp(self, inputs, out, tangents):
        a, b = inputs
        ta, tb = tangents
        if ta is None and tb is None:
            return None
        if tb is None:
            return _fit(ta / b, out.shape)
        num = negative(tb * out) if ta is None else ta - tb * out
        return _fit(num / b, out.shape)


class Power(Binary):
    """``a ** b``; its partials stay finite where the true derivative is finite.

    d/da is ``b * a ** (b - 1)`` with ``a`` replaced by 1 where ``a == b == 0``:
    there the true value is 0 (``a ** 0`` is constant) but the plain rule gives
    ``0 * inf``.  The substitution happens in the base, not by masking the
    result, so the rule is differentiable again (at any order, either mode) and
    the mixed partial in ``b`` stays right at ``b == 0``.  d/db uses ``log(a)``
    with ``a == 0`` replaced by 1 (as JAX does): ``out`` is 0 there anyway.
    """

    name = "pow"
    ufunc = np.power
    operator = "**"

    def deriv_a(self, a, b, out):
        if _nonzero_constant(b):  # the common x ** 2: no select needed
            return b * power(a, b - 1)
        safe = where(where(equal(b, 0), equal(a, 0), False), 1, a)
        return b * power(safe, b - 1)

    def deriv_b(self, a, b, out):
        return out * log(where(equal(a, 0), 1, a))


class Maximum(Binary):
    """Elementwise max; the gradient goes to the larger input, split evenly on ties."""

    name = "maximum"
    ufunc = np.maximum

    def deriv_a(self, a, b, out):
        return _tie_mask(a, b, greater)

    def deriv_b(self, a, b, out):
        return _tie_mask(b, a, greater)


class Minimum(Binary):
    """Elementwise min; the gradient goes to the smaller input, split evenly on ties."""

    name = "minimum"
    ufunc = np.minimum

    def deriv_a(self, a, b, out):
        return _tie_mask(a, b, less)

    def deriv_b(self, a, b, out):
        return _tie_mask(b, a, less)


def _nonzero_constant(x: Node) -> bool:
    """Whether ``x`` is a constant (or fill) node with no zero element."""
    op = x.op
    if isinstance(op, Constant):
        return bool(np.all(op.value != 0))
    if isinstance(op, Fill):
        return op.value != 0
    return False


def _tie_mask(x: Node, other: Node, wins) -> Node:
    dtype = np.result_type(x.dtype, other.dtype)
    one, half, zero = (full((), v, dtype, graph=x.graph) for v in (1, 0.5, 0))
    return where(wins(x, other), one, where(equal(x, other), half, zero))


class Compare(Binary):
    """Comparisons give booleans: no gradient flows through them."""

    def bprop(self, inputs, out, g):
        return [None, None]

    def jvp(self, inputs, out, tangents):
        return None


class Equal(Compare):
    name = "equal"
    ufunc = np.equal
    operator = "=="


class NotEqual(Compare):
    name = "not_equal"
    ufunc = np.not_equal
    operator = "!="


class Less(Compare):
    name = "less"
    ufunc = np.less
    operator = "<"


class LessEqual(Compare):
    name = "less_equal"
    ufunc = np.less_equal
    operator = "<="


class Greater(Compare):
    name = "greater"
    ufunc = np.greater
    operator = ">"


class GreaterEqual(Compare):
    name = "greater_equal"
    ufunc = np.greater_equal
    operator = ">="


# ---------------------------------------------------------------------------
# n-ary
# ---------------------------------------------------------------------------

class Where(Op):
    """``where(cond, a, b)``: the gradient of each branch is masked by ``cond``."""

    name = "where"
    elementwise = True

    def infer(self, cond, a, b):
        shape = broadcast_shapes([cond.shape, a.shape, b.shape], self.name)
        return shape, np.result_type(a.dtype, b.dtype)

    def f(self, cond, a, b):
        return np.where(cond, a, b)

    def emit(self, out, ins, ctx):
        return f"{out} = np.where({ins[0]}, {ins[1]}, {ins[2]})"

    def bprop(self, inputs, out, g):
        cond, a, b = inputs
        return [None,
                lambda: _sum_to(where(cond, g, 0), a.shape),
                lambda: _sum_to(where(cond, 0, g), b.shape)]

    def jvp(self, inputs, out, tangents):
        cond = inputs[0]
        _, ta, tb = tangents
        if ta is None and tb is None:
            return None
        return _fit(where(cond, 0 if ta is None else ta, 0 if tb is None else tb), out.shape)


class AddN(Op):
    """Sum of several same-shaped arrays: how gradient contributions are accumulated."""

    name = "add_n"
    elementwise = True
    emit_inplace = True

    def infer(self, *xs):
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

    def bprop(self, inputs, out, g):
        return [(lambda x=x: _sum_to(g, x.shape)) for x in inputs]

    def jvp(self, inputs, out, tangents):
        terms = [t for t in tangents if t is not None]
        return _fit(add_n(terms), out.shape) if terms else None


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

# Parameterless ops are immutable, so one shared instance each is enough.
_ABS = Abs()
_ADD = Add()
_ADDN = AddN()
_COS = Cos()
_DIVIDE = Divide()
_EQUAL = Equal()
_EXP = Exp()
_GREATER = Greater()
_GREATEREQUAL = GreaterEqual()
_LESS = Less()
_LESSEQUAL = LessEqual()
_LOG = Log()
_MAXIMUM = Maximum()
_MINIMUM = Minimum()
_MULTIPLY = Multiply()
_NEGATIVE = Negative()
_NOTEQUAL = NotEqual()
_POWER = Power()
_RELU = Relu()
_SIGMOID = Sigmoid()
_SIGN = Sign()
_SIN = Sin()
_SQRT = Sqrt()
_SQUARE = Square()
_SUBTRACT = Subtract()
_TAN = Tan()
_TANH = Tanh()


def _binary(op: Op, a: Any, b: Any) -> Node:
    if type(a) is Node and type(b) is Node and a.graph is b.graph:  # hot path
        return a.graph._add(op, (a, b))
    return make(op, a, b)


def add(a, b) -> Node:
    """``a + b`` with numpy broadcasting."""
    return _binary(_ADD, a, b)


def subtract(a, b) -> Node:
    """``a - b`` with numpy broadcasting."""
    return _binary(_SUBTRACT, a, b)


def multiply(a, b) -> Node:
    """``a * b`` with numpy broadcasting."""
    return _binary(_MULTIPLY, a, b)


def divide(a, b) -> Node:
    """``a / b`` (true division) with numpy broadcasting."""
    return _binary(_DIVIDE, a, b)


def power(a, b) -> Node:
    """``a ** b``; negative and non-integer exponents allowed (numpy semantics)."""
    return _binary(_POWER, a, b)


def maximum(a, b) -> Node:
    """Elementwise maximum."""
    return _binary(_MAXIMUM, a, b)


def minimum(a, b) -> Node:
    """Elementwise minimum."""
    return _binary(_MINIMUM, a, b)


def equal(a, b) -> Node:
    return _binary(_EQUAL, a, b)


def not_equal(a, b) -> Node:
    return _binary(_NOTEQUAL, a, b)


def less(a, b) -> Node:
    return _binary(_LESS, a, b)


def less_equal(a, b) -> Node:
    return _binary(_LESSEQUAL, a, b)


def greater(a, b) -> Node:
    return _binary(_GREATER, a, b)


def greater_equal(a, b) -> Node:
    return _binary(_GREATEREQUAL, a, b)


def _unary(op: Op, x: Any) -> Node:
    if type(x) is Node:
        return x.graph._add(op, (x,))
    return apply(op, [as_node(x)])


def negative(x) -> Node:
    return _unary(_NEGATIVE, x)


def exp(x) -> Node:
    return _unary(_EXP, x)


def log(x) -> Node:
    return _unary(_LOG, x)


def sin(x) -> Node:
    return _unary(_SIN, x)


def cos(x) -> Node:
    return _unary(_COS, x)


def tan(x) -> Node:
    return _unary(_TAN, x)


def tanh(x) -> Node:
    return _unary(_TANH, x)


def sigmoid(x) -> Node:
    """Numerically stable logistic function ``1 / (1 + exp(-x))``."""
    return _unary(_SIGMOID, x)


def relu(x) -> Node:
    """``max(x, 0)``; its derivative at 0 is taken as 0."""
    return _unary(_RELU, x)


def abs(x) -> Node:  # noqa: A001 - mirrors numpy's name
    return _unary(_ABS, x)


def sqrt(x) -> Node:
    return _unary(_SQRT, x)


def square(x) -> Node:
    return _unary(_SQUARE, x)


def sign(x) -> Node:
    return _unary(_SIGN, x)


def cast(x, dtype) -> Node:
    """``x.astype(dtype)``; returns ``x`` itself when the dtype already matches."""
    x = as_node(x)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"cast: {dtype!r} is not a dtype") from None
    if dtype.kind not in "biufc":
        raise DTypeError(f"cast: dtype {dtype} is not numeric")
    return x if x.dtype == dtype else apply(Cast(dtype), [x])


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
    but make some second derivatives silently wrong, e.g. d2(w*sqrt(x))/dw dx
    at w = 0, and cost a select per rule; symgraph prefers a loud NaN.)
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
    return apply(Where(), [cond, a, b])


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
