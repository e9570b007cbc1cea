"""Bridge to sympy: scalar expressions both ways, for checking derivatives and printing formulas.

``to_sympy`` maps scalar (0-d) elementwise graphs to sympy expressions; each
variable becomes a ``sympy.Symbol`` of the same name.  Shared subexpressions are
expanded into one plain expression by default; ``cse=True`` returns sympy's
``(replacements, expression)`` pair instead, which keeps shared work shared.
Array-valued nodes and ops without a scalar counterpart raise SymgraphError.

``from_sympy`` builds symgraph nodes from a sympy expression, with symbols
mapped to nodes by name.  Both directions walk iteratively (no recursion).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from .autodiff import ancestors
from .errors import SymgraphError
from .graph import Node
from .ops import base as _base
from .ops import elementwise as E
from .ops import sources as S
from .ops.control import StopGradient

_UNARY_TO_SYMPY = {
    E.Negative: lambda a: -a, E.Exp: sympy.exp, E.Log: sympy.log, E.Sin: sympy.sin,
    E.Cos: sympy.cos, E.Tan: sympy.tan, E.Tanh: sympy.tanh, E.Sqrt: sympy.sqrt,
    E.Square: lambda a: a ** 2, E.Abs: sympy.Abs, E.Sign: sympy.sign,
    E.Sigmoid: lambda a: 1 / (1 + sympy.exp(-a)),
    E.Relu: lambda a: sympy.Max(a, 0), StopGradient: lambda a: a,
}
_BINARY_TO_SYMPY = {
    E.Add: lambda a, b: a + b, E.Subtract: lambda a, b: a - b, E.Multiply: lambda a, b: a * b,
    E.Divide: lambda a, b: a / b, E.Power: lambda a, b: a ** b,
    E.Maximum: sympy.Max, E.Minimum: sympy.Min,
}


def _constant(value: np.ndarray) -> sympy.Expr:
    v = value.item()
    if isinstance(v, (bool, int, np.integer)):
        return sympy.Integer(int(v))
    if float(v).is_integer():
        return sympy.Integer(int(v))
    return sympy.Float(float(v))


def to_sympy(node: Node, cse: bool = False) -> Any:
    """The sympy expression of a scalar node (or sympy.cse's pair with ``cse=True``)."""
    if not isinstance(node, Node):
        raise SymgraphError(f"to_sympy expects a Node, got {type(node).__name__}")
    exprs: dict[Node, sympy.Expr] = {}
    for n in ancestors([node]):
        if n.shape != ():
            raise SymgraphError(f"to_sympy handles scalar graphs; node #{n.id} ({n.op.name}) has "
                                f"shape {n.shape}")
        op, kind = n.op, type(n.op)
        args = [exprs[i] for i in n.inputs]
        if op.is_variable:
            exprs[n] = sympy.Symbol(n.name, real=True)
        elif isinstance(op, S.Constant):
            exprs[n] = _constant(op.value)
        elif isinstance(op, S.Fill):
            exprs[n] = _constant(np.asarray(op.value))
        elif kind in _UNARY_TO_SYMPY:
            exprs[n] = _UNARY_TO_SYMPY[kind](*args)
        elif kind in _BINARY_TO_SYMPY:
            exprs[n] = _BINARY_TO_SYMPY[kind](*args)
        elif isinstance(op, E.AddN):
            exprs[n] = sympy.Add(*args)
        elif isinstance(op, E.Where) and args[0] in (sympy.true, sympy.false):
            exprs[n] = args[1] if args[0] is sympy.true else args[2]
        elif isinstance(op, E.Where):
            exprs[n] = sympy.Piecewise((args[1], args[0]), (args[2], True))
        elif isinstance(op, E.Compare):
            rel = {E.Greater: sympy.Gt, E.GreaterEqual: sympy.Ge, E.Less: sympy.Lt,
                   E.LessEqual: sympy.Le, E.Equal: sympy.Eq, E.NotEqual: sympy.Ne}[kind]
            exprs[n] = rel(*args)
        elif isinstance(op, E.Cast) or (hasattr(op, "axis") and n.inputs and n.inputs[0].shape == ()):
            exprs[n] = args[0]  # casts and reductions of a scalar are the identity here
        else:
            raise SymgraphError(f"to_sympy: op {op.name!r} (node #{n.id}) has no sympy counterpart")
    expr = exprs[node]
    if cse:
        replacements, reduced = sympy.cse(expr)
        return replacements, reduced[0]
    return expr


_FUNCTIONS = {
    sympy.exp: E.exp, sympy.log: E.log, sympy.sin: E.sin, sympy.cos: E.cos, sympy.tan: E.tan,
    sympy.tanh: E.tanh, sympy.Abs: E.abs, sympy.sign: E.sign,
}


def from_sympy(expr: Any, symbols: Mapping[str, Node]) -> Node:
    """symgraph nodes computing ``expr``; ``symbols`` maps each free symbol's name to a node."""
    expr = sympy.sympify(expr)
    missing = sorted(str(s) for s in expr.free_symbols if str(s) not in symbols)
    if missing:
        raise SymgraphError(f"from_sympy: no node given for symbol(s) {', '.join(missing)}")
    like = next(iter(symbols.values()), None)
    built: dict[sympy.Basic, Node] = {}
    for sub in sympy.postorder_traversal(expr):
        if sub in built:
            continue
        args = [built[a] for a in sub.args]
        if isinstance(sub, sympy.Symbol):
            node = _base.as_node(symbols[str(sub)])
        elif sub is sympy.pi or sub is sympy.E:
            node = _base.as_node(float(sub), like)
        elif isinstance(sub, sympy.Number):
            node = _base.as_node(float(sub) if not sub.is_Integer else int(sub), like)
        elif isinstance(sub, sympy.Add):
            node = E.add_n(args)
        elif isinstance(sub, sympy.Mul):
            node = args[0]
            for a in args[1:]:
                node = node * a
        elif isinstance(sub, sympy.Pow):
            base, exponent = sub.args
            if exponent == sympy.Rational(1, 2):
                node = E.sqrt(args[0])
            elif exponent == 2:
                node = E.square(args[0])
            else:
                node = E.power(args[0], args[1])
        elif isinstance(sub, (sympy.Max, sympy.Min)):
            fn = E.maximum if isinstance(sub, sympy.Max) else E.minimum
            node = args[0]
            for a in args[1:]:
                node = fn(node, a)
        elif sub.func in _FUNCTIONS:
            node = _FUNCTIONS[sub.func](*args)
        else:
            raise SymgraphError(f"from_sympy: {sub.func.__name__} is not supported")
        built[sub] = node
    return built[expr]
