"""A safe parser for the math expressions people type on the command line.

The text is parsed with Python's ``ast`` module and accepted only if every
syntax node is on a short whitelist: numbers, names, ``+ - * / ** @``, unary
minus and calls of known symgraph functions by name.  Anything else
(attributes, indexing, strings, lambdas, comprehensions, keywords, dunder
names, ...) is rejected with a one-line ``ParseError``.  Nothing is ever
evaluated by Python: an accepted tree is translated, iteratively, into
symgraph builder calls, which only make graph nodes.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
import re
from typing import Callable, Collection, Mapping

import numpy as np

from . import ops
from .errors import SymgraphError
from .graph import Graph, Node, get_default_graph
from .ops.base import builtin_ops

#: Longest accepted expression, in characters.
MAX_LENGTH = 2000
#: Deepest accepted nesting of the syntax tree.
MAX_DEPTH = 200
#: Largest accepted |constant exponent| in ``a ** k``.
MAX_EXPONENT = 1000


class ParseError(SymgraphError, ValueError):
    """An expression that is not in the accepted language; the message says why.

    Raised by ``sg.parse_expression`` (and so by the command line) for syntax
    errors, operators and names outside the language.  ``column`` is the 1-based
    column of the offending character in the text as given (None when no single
    place is to blame), so a caller can point at it.

    Examples
    --------
    >>> try:
    ...     sg.parse_expression("x^2")
    ... except sg.ParseError as e:
    ...     print(e.column, e)
    2 invalid expression: ^ is not a power here; did you mean **, as in x**2? (at column 2)
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


def _cli_functions() -> dict[str, tuple[Callable[..., Node], int]]:
    """name -> (builder, number of arguments): the builders of the ops that allow the CLI
    (``Op.cli``), each called with its required positional arguments only."""
    table = {}
    for cls in builtin_ops().values():
        names = (cls.name,) if cls.cli is True else tuple(cls.cli or ())
        for name in names:
            builder = getattr(ops, name)
            params = inspect.signature(builder).parameters.values()
            table[name] = (builder, sum(1 for p in params if p.default is p.empty
                                        and p.kind is p.POSITIONAL_OR_KEYWORD))
    return dict(sorted(table.items()))


#: name -> (builder, number of arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Node], int]] = _cli_functions()

#: Names that stand for numbers rather than variables (unless declared as variables, see
#: ``parse_expression``).
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

#: Names other languages use for a function that has another name here.
ALIASES: dict[str, str] = {
    "ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "pow": "power",
    "fabs": "abs", "lgamma": "gammaln", "expit": "sigmoid", "logistic": "sigmoid",
}

_BINARY: dict[type, Callable[[Node, Node], Node]] = {
    ast.Add: ops.add, ast.Sub: ops.subtract, ast.Mult: ops.multiply, ast.Div: ops.divide,
    ast.Pow: ops.power, ast.MatMult: ops.matmul,
}
_UNARY: dict[type, Callable[[Node], Node]] = {ast.USub: ops.negative, ast.UAdd: lambda x: x}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_WHAT = {  # how rejected constructs are called in messages
    ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[...])",
    ast.Lambda: "lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.Compare: "comparison", ast.BoolOp: "and/or", ast.IfExp: "if/else",
    ast.Tuple: "a tuple", ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set",
    ast.JoinedStr: "an f-string", ast.Starred: "*arguments", ast.NamedExpr: "assignment (:=)",
    ast.Await: "await", ast.Slice: "a slice",
}


class _Source:
    """The text being parsed, to turn ``ast`` offsets (UTF-8 bytes into the stripped
    text) into 1-based columns of the text as the user typed it."""

    def __init__(self, text: str) -> None:
        self.lead = len(text) - len(text.lstrip())
        self.code = text.strip()
        self.data = self.code.encode("utf-8")

    def column(self, byte_offset: int) -> int:
        return self.lead + len(self.data[:byte_offset].decode("utf-8", "replace")) + 1

    def find(self, symbol: str, start: int, end: int) -> int | None:
        """The column of ``symbol`` between two byte offsets (an operator between operands)."""
        k = self.data.find(symbol.encode(), start, end)
        return None if k < 0 else self.column(k)


def _fail(reason: str, at: ast.AST | int | None = None, source: _Source | None = None
          ) -> ParseError:
    """A ParseError located at a column, or at a syntax node's first character in ``source``."""
    col = at if isinstance(at, int) else None
    if isinstance(at, ast.AST) and source is not None and hasattr(at, "col_offset"):
        col = source.column(at.col_offset)
    where = f" (at column {col})" if isinstance(col, int) else ""
    return ParseError(f"invalid expression: {reason}{where}", column=col)


def _parse_tree(text: str) -> ast.Expression:
    if not isinstance(text, str):
        raise ParseError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"invalid expression: too long ({len(text)} characters; the limit "
                         f"is {MAX_LENGTH})")
    if not text.strip():
        raise ParseError("invalid expression: it is empty")
    for k, c in enumerate(text, 1):
        if c == "#":
            raise _fail("comments (#) are not allowed", k)
        if not (c.isprintable() or c == "\t"):
            raise _fail(f"the character {c!r} is not allowed", k)
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        lead = len(text) - len(text.lstrip())
        col = lead + e.offset if e.offset else None
        raise _fail(e.msg, col) from None
    except (ValueError, MemoryError, RecursionError, OverflowError) as e:
        raise ParseError(f"invalid expression: {e}") from None


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, possibly negated; None for anything else."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        try:
            return sign * float(node.value)
        except OverflowError:
            return math.inf
    return None


def _check(tree: ast.Expression, source: _Source, declared: Collection[str] = ()) -> list[str]:
    """Reject everything off the whitelist; return the variable names in order of appearance.

    A constant's name (``pi``, ``e``) in ``declared`` is a variable there.
    """
    if "^" in source.code:
        _check_carets(tree, source)
    names: list[str] = []
    callees: set[int] = set()
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(f"nested too deeply (more than {MAX_DEPTH} levels)", node, source)
        children: list[ast.AST] = []
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                symbol = _op_symbol(node.op)
                col = source.find(symbol, node.left.end_col_offset, node.right.col_offset)
                raise _fail(f"operator {symbol} is not allowed; use + - * / ** @",
                            col if col is not None else node, source)
            if isinstance(node.op, ast.Pow):
                k = _number(node.right)
                if k is not None and abs(k) > MAX_EXPONENT:
                    raise _fail(f"exponent {k:g} is too large (the limit is {MAX_EXPONENT})",
                                node, source)
            children = [node.right, node.left]
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise _fail(f"operator {_op_symbol(node.op)} is not allowed", node, source)
            children = [node.operand]
        elif isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                kind = "a string" if isinstance(node.value, (str, bytes)) else repr(node.value)
                raise _fail(f"{kind} is not allowed; only real numbers are", node, source)
            if not math.isfinite(_number(node)):
                raise _fail("a number is too large to be a float64", node, source)
        elif isinstance(node, ast.Name):
            _check_name(node.id, node, source)
            if id(node) in callees:
                continue
            if node.id in FUNCTIONS:
                raise _fail(f"{node.id!r} is a function: call it as {node.id}(...)", node, source)
            if (node.id not in CONSTANTS or node.id in declared) and node.id not in names:
                names.append(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise _fail("only known functions can be called, by name", node, source)
            fname = node.func.id
            _check_name(fname, node.func, source)
            if fname not in FUNCTIONS:
                guess = did_you_mean(fname)  # a guess says enough; without one, list them all
                listed = "" if guess else f"; known functions: {', '.join(sorted(FUNCTIONS))}"
                raise _fail(f"unknown function {fname!r}{guess}{listed}", node.func, source)
            if node.keywords:
                raise _fail(f"keyword arguments are not allowed (in {fname}(...))", node, source)
            arity = FUNCTIONS[fname][1]
            if len(node.args) != arity:
                raise _fail(f"{fname} takes {arity} argument{'s' if arity > 1 else ''}, "
                            f"got {len(node.args)}", node, source)
            callees.add(id(node.func))
            children = list(reversed(node.args))
        else:
            what = _WHAT.get(type(node), f"syntax {type(node).__name__}")
            raise _fail(f"{what} is not allowed", node, source)
        stack.extend((c, depth + 1) for c in children)
    return names


def _check_name(name: str, at: ast.AST, source: _Source) -> None:
    if "__" in name or name.startswith("_"):
        raise _fail(f"name {name!r} is not allowed (names may not start with _ or contain __)",
                    at, source)
    if not _NAME.match(name):
        raise _fail(f"name {name!r} is not allowed: use ASCII letters, digits and _", at, source)


def _check_carets(tree: ast.Expression, source: _Source) -> None:
    """``x^2`` is Python's exclusive or, never a power: point at the first ``^`` and suggest
    ``**`` (which also binds tighter than ``*``, as ``^`` does in maths)."""
    columns = [source.find("^", n.left.end_col_offset, n.right.col_offset)
               for n in ast.walk(tree)  # ast.walk keeps a queue: no recursion
               if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitXor)]
    columns = [c for c in columns if c is not None]
    if columns:
        fixed = source.code.replace("^", "**")
        try:
            ast.parse(fixed, mode="eval")
        except SyntaxError:
            fixed = ""
        fixed = fixed if 0 < len(fixed) <= 60 else "x**2"
        raise _fail(f"^ is not a power here; did you mean **, as in {fixed}?", min(columns))


def did_you_mean(name: str) -> str:
    """`` (did you mean sin?)`` for a misspelt or foreign function name, else ``""``."""
    lower = name.lower()
    if lower in FUNCTIONS or lower in ALIASES:
        guesses = [ALIASES.get(lower, lower)]
    else:
        guesses = difflib.get_close_matches(lower, list(FUNCTIONS), n=3, cutoff=0.7)
    if not guesses:
        return ""
    listed = guesses[0] if len(guesses) == 1 else f"{', '.join(guesses[:-1])} or {guesses[-1]}"
    return f" (did you mean {listed}?)"


def _op_symbol(op: ast.AST) -> str:
    symbols = {ast.Mod: "%", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|",
               ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~",
               ast.Not: "not"}
    return symbols.get(type(op), type(op).__name__)


def variable_names(text: str, declared: Collection[str] = ()) -> list[str]:
    """The variables ``text`` uses, in order of first appearance; raises ParseError if invalid.

    ``pi`` and ``e`` are constants, not variables, unless they are in ``declared``.
    """
    return _check(_parse_tree(text), _Source(text), declared)


def parse_expression(text: str, shapes: Mapping[str, tuple[int, ...]] | None = None, *,
                     graph: Graph | None = None) -> tuple[Node, dict[str, Node]]:
    """Build the graph of ``text`` and return ``(node, {name: variable})``.

    Each name in the expression becomes a float64 variable, of shape
    ``shapes[name]`` (scalar when not given).  Functions are those in
    ``FUNCTIONS``; ``pi`` and ``e`` are constants, unless ``shapes`` names
    them: then they are variables like any other name.  Raises ``ParseError`` (a
    ``SymgraphError``) for anything outside that language, and the usual
    symgraph errors (e.g. ``ShapeError``) when the shapes do not fit.

    Nothing in ``text`` is ever executed by Python: the syntax tree is checked
    against a whitelist and translated into builder calls.  This is the
    parser of the ``symgraph grad`` command.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"(w*x - y)**2"`` or ``"sum(exp(x))"``.
    shapes : dict of str to tuple of int, optional
        Shapes of the variables by name; the others are scalars.
    graph : Graph, optional
        Where to build (default: the default graph).

    Returns
    -------
    node : Node
        The expression's value.
    variables : dict of str to Node
        One float64 variable per name in the expression.

    Raises
    ------
    ParseError
        For anything outside the language, with the reason and column.

    Examples
    --------
    >>> f, variables = sg.parse_expression("(w*x - y)**2")
    >>> sorted(variables)
    ['w', 'x', 'y']
    >>> sg.evaluate(f, {"w": 1.0, "x": 2.0, "y": 3.0})
    array(1.)
    >>> g, _ = sg.parse_expression("sum(exp(x))", {"x": (3,)})
    >>> sg.evaluate(g, {"x": np.zeros(3)})
    array(3.)
    >>> f, v = sg.parse_expression("e * x")  # e is Euler's number...
    >>> list(v), list(sg.parse_expression("e * x", {"e": ()})[1])  # ...unless shapes names it
    (['x'], ['e', 'x'])
    >>> sg.parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    symgraph.parse.ParseError: ...
    """
    tree = _parse_tree(text)
    shapes = dict(shapes or {})
    names = _check(tree, _Source(text), shapes)
    graph = graph if graph is not None else get_default_graph()
    variables = {n: ops.variable(n, shapes.get(n, ()), graph=graph) for n in names}
    return _translate(tree, variables, graph), variables


def _translate(tree: ast.Expression, variables: dict[str, Node], graph: Graph) -> Node:
    """Post-order walk with an explicit stack (no recursion), making one node per syntax node."""
    done: dict[int, Node] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        if isinstance(node, ast.Constant):
            done[id(node)] = ops.constant(np.float64(node.value), graph=graph)
        elif isinstance(node, ast.Name):
            done[id(node)] = (variables[node.id] if node.id in variables
                              else ops.constant(np.float64(CONSTANTS[node.id]), graph=graph))
        else:
            args = _operands(node)
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(args))
                continue
            values = [done[id(a)] for a in args]
            if isinstance(node, ast.BinOp):
                done[id(node)] = _BINARY[type(node.op)](*values)
            elif isinstance(node, ast.UnaryOp):
                done[id(node)] = _UNARY[type(node.op)](*values)
            else:
                done[id(node)] = FUNCTIONS[node.func.id][0](*values)
    return done[id(tree.body)]


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    return list(node.args)
