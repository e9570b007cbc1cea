"""The sympy bridge: ``to_sympy`` turns nodes into sympy expressions, ``from_sympy`` back.

``to_sympy`` works element by element: every node becomes a numpy object array
of sympy expressions (one per element), computed in topological order, so
arrays, broadcasting, indexing, reductions and matrix products all translate.
Scalar variables become ``Symbol(name)`` and array variables
``IndexedBase(name)`` with elements ``x[i, j]`` (which ``sympy.diff`` accepts):
the very symbols a user writes, so ``sympy.diff(to_sympy(f), Symbol("w"))``
and comparisons with the user's own expressions are right.  Symbols carry no
assumptions unless asked: ``assumptions=True`` makes float variables
``real=True`` and integer ones ``integer=True`` (sympy then simplifies more,
e.g. ``sqrt(x**2)`` to ``|x|``, but such symbols are different from plain
ones); ``assumptions={"positive": True}`` gives every variable those
assumptions.  A scalar node gives a sympy expression, an array node a
``sympy.Array`` of its shape (``.tomatrix()`` for 2-D).

Shared subexpressions: with ``cse=False`` the result is a plain expression
(sympy shares identical subtrees in memory, but printing repeats them).  With
``cse=True`` every non-leaf node used more than once in the graph becomes a
symbol ``_t0, _t1, ...`` and the result is ``(replacements, expr)`` in the
format of ``sympy.cse``: ``replacements`` is a list of ``(symbol, expression)``
in dependency order and substituting them back in reverse gives the plain
expression.  The graph's own sharing is used, so no search is needed.

Each op declares its own translation (``Op.to_sympy``, given this module for
``sympy`` and the helpers ``elementwise``, ``reduce``, ``number``, ...; an
elementwise op just names its sympy function).  ``stop_gradient`` translates
to its argument (sympy has no such notion), and ``cross_entropy``/``one_hot``
need constant labels.  Ops without a translation raise ``SymgraphError``; a
user op declares ``to_sympy`` or is registered with ``@register_to_sympy(MyOp)``.

``from_sympy(expr, {"x": node, ...})`` builds nodes from a sympy expression:
symbols are looked up by name, whatever their assumptions (an array node makes
the expression apply elementwise, with numpy broadcasting), ``x[i, j]``
(``IndexedBase``) and ``X[i, j]`` (``MatrixSymbol``) index the node called
``x``/``X``, numbers become weakly typed scalars (float32 nodes stay float32),
and ``Add, Mul, Pow, exp, log, sin, cos, tan, tanh, sinh, cosh, Abs, sign, Max,
Min, Piecewise``, comparisons and every other function an op names (``asin, erf,
loggamma, polygamma``, ...) map to symgraph ops.  It takes sympy objects
and numbers only: a string is refused, never parsed (``sympy.sympify`` would
``eval`` it), so no text reaching ``from_sympy`` can run code.

Both directions walk their input iteratively (no recursion in this module).
sympy itself recurses when it builds, hashes or evaluates deeply nested
expressions; when that exhausts Python's recursion limit the bridge raises a
``SymgraphError`` saying how deep the expression is and what the limit is.  The
bridge never changes the recursion limit (it is process-wide).
"""

from __future__ import annotations

import functools
import itertools
import numbers
import sys
from fractions import Fraction
from typing import Any, Callable, Mapping

import numpy as np
import sympy
from sympy.matrices.expressions.matexpr import MatrixElement

from .traversal import ancestors
from .errors import MissingInputError, SymgraphError
from .graph import Node, get_default_graph
from .ops import elementwise as ew, shape as sh, sources, transcendental
from .ops.base import NO_SYMPY, as_nodes, builtin_ops
from .structure import flatten

#: to_sympy refuses nodes with more elements than this: every element is an expression.
MAX_ELEMENTS = 10_000

# ---------------------------------------------------------------------------
# to_sympy
# ---------------------------------------------------------------------------

_TO_SYMPY: dict[type, Callable[..., np.ndarray]] = {}


def register_to_sympy(*op_types: type) -> Callable:
    """Decorator: ``fn(node, *input_arrays) -> object array`` translating ``op_types``.

    Each input array is a numpy object array of sympy expressions shaped like
    that input; the result must be shaped like ``node``.
    """
    def decorate(fn):
        for t in op_types:
            _TO_SYMPY[t] = fn
        return fn
    return decorate


def _translation(op: Any) -> Callable | None:
    """``fn(node, *arrays)``: a registered translation, else the op's own ``to_sympy``."""
    for klass in type(op).__mro__:
        fn = _TO_SYMPY.get(klass)
        if fn is not None:
            return fn
    own = op.to_sympy
    if own is None or own is NO_SYMPY:
        return None
    module = sys.modules[__name__]
    return lambda node, *arrays: own(module, node, *arrays)


def to_sympy(nodes: Any, cse: bool = False, *,
             assumptions: bool | Mapping[str, bool] = False) -> Any:
    """The sympy expression of a node (or of a nested list of nodes, mirrored).

    Scalars give sympy expressions, arrays ``sympy.Array``s.  With ``cse=True``
    returns ``(replacements, exprs)`` like ``sympy.cse``.  Variables become plain
    ``Symbol(name)``/``IndexedBase(name)``, equal to the symbols users write;
    ``assumptions=True`` adds ``real``/``integer`` from the dtype and a dict
    (e.g. ``{"positive": True}``) gives every variable those assumptions.
    See the module docstring.

    Parameters
    ----------
    nodes : Node or list, tuple or dict of Node
        What to translate (gradient nodes included).
    cse : bool, default False
        Name each non-leaf node used more than once (``_t0, _t1, ...``) and
        return ``(replacements, exprs)`` as ``sympy.cse`` does.
    assumptions : bool or dict of str to bool, default False
        False: plain symbols.  True: ``real``/``integer`` from each variable's
        dtype.  A dict: those assumptions for every variable.

    Returns
    -------
    sympy expression, ``sympy.Array``, or a structure of them
        Mirroring ``nodes``; with ``cse``, ``(replacements, exprs)``.

    Raises
    ------
    SymgraphError
        An op without a sympy translation.

    See Also
    --------
    from_sympy

    Examples
    --------
    >>> import sympy
    >>> w, x = sg.variable("w"), sg.variable("x")
    >>> f = sg.exp(w * x) + w
    >>> sg.to_sympy(f)
    w + exp(w*x)
    >>> sympy.expand(sg.to_sympy(sg.grad(f, w)))
    x*exp(w*x) + 1
    >>> u = sg.exp(x)
    >>> sg.to_sympy(u * u + u, cse=True)
    ([(_t0, exp(x))], _t0**2 + _t0)
    >>> sg.to_sympy(sg.sqrt(x ** 2), assumptions={"positive": True})
    x
    >>> v = sg.variable("v", (2,))
    >>> sg.to_sympy(sg.sum(v * v))
    v[0]**2 + v[1]**2
    """
    leaves, unflatten = flatten(nodes, lambda t: isinstance(t, Node))
    for leaf in leaves:
        if not isinstance(leaf, Node):
            raise SymgraphError(f"to_sympy: expected Nodes, got {type(leaf).__name__}")
    fixed = _check_assumptions(assumptions)
    order = ancestors(leaves)
    _check_names(order)
    uses: dict[Node, int] = {}
    for n in order:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    for leaf in leaves:
        uses[leaf] = uses.get(leaf, 0) + 1
    reserved = {n.name for n in order if n.op.is_variable}
    names = (f"_t{k}" for k in itertools.count() if f"_t{k}" not in reserved)
    replacements: list[tuple[sympy.Symbol, sympy.Expr]] = []
    symbol_of: dict[sympy.Basic, sympy.Symbol] = {}

    values: dict[Node, np.ndarray] = {}
    depth: dict[Node, int] = {}
    for n in order:
        depth[n] = 1 + max((depth[i] for i in n.inputs), default=0)
        if n.size > MAX_ELEMENTS:
            raise SymgraphError(f"to_sympy: node #{n.id} ({n.op.name}) has {n.size} elements; "
                                f"to_sympy expands arrays elementwise (limit {MAX_ELEMENTS})")
        fn = _translation(n.op)
        if fn is None:
            raise SymgraphError(f"to_sympy: op {n.op.name!r} (node #{n.id}) has no sympy "
                                "translation; declare to_sympy on the op or register one with "
                                "symgraph.sympy_bridge.register_to_sympy")
        try:
            if n.op.is_variable:
                out = variable_symbols(n, fixed)
            else:
                out = as_exprs(fn(n, *[values[i] for i in n.inputs]))
            if out.shape != n.shape:
                raise SymgraphError(f"to_sympy: translation of {n.op.name!r} gave shape "
                                    f"{out.shape}, expected {n.shape}")
            if cse and n.inputs and uses.get(n, 0) > 1 and not n.op.structural:
                out = _replace(out, n, names, symbol_of, replacements, fixed is not None)
        except RecursionError:
            raise _too_deep("to_sympy", f"node #{n.id} ({n.op.name}) is {depth[n]} ops "
                            "deep") from None
        values[n] = out
    try:
        exprs = unflatten([_result(values[leaf]) for leaf in leaves])
    except RecursionError:
        raise _too_deep("to_sympy", f"the graph is {max(depth.values())} ops deep") from None
    return (replacements, exprs) if cse else exprs


def _too_deep(where: str, what: str) -> SymgraphError:
    """The error for a RecursionError inside sympy, which recurses over expression trees."""
    return SymgraphError(f"{where}: expression too deeply nested for sympy ({what}); sympy "
                         f"recurses over it and hit Python's recursion limit "
                         f"(sys.getrecursionlimit() = {sys.getrecursionlimit()})")


def _check_assumptions(assumptions: Any) -> dict[str, bool] | None:
    """``None`` for dtype-derived assumptions (``True``), else the dict every symbol gets."""
    if assumptions is True:
        return None
    if assumptions is False or assumptions is None:
        return {}
    if not isinstance(assumptions, Mapping):
        raise SymgraphError("to_sympy: assumptions must be True, False or a dict like "
                            f"{{'positive': True}}, got {type(assumptions).__name__}")
    from sympy.core.assumptions import _assume_defined
    out = {}
    for key, value in assumptions.items():
        if key not in _assume_defined or not isinstance(value, (bool, np.bool_)):
            raise SymgraphError(f"to_sympy: {key!r}: {value!r} is not a sympy assumption "
                                f"(known: {', '.join(sorted(_assume_defined))}; values True/False)")
        out[key] = bool(value)
    try:
        sympy.Symbol("_check", **out)
    except ValueError as e:  # sympy's InconsistentAssumptions
        raise SymgraphError(f"to_sympy: inconsistent assumptions {out}: "
                            f"{str(e).splitlines()[-1]}") from None
    return out


def _replace(out, node, names, symbol_of, replacements, plain: bool) -> np.ndarray:
    """Each compound element of a shared node becomes a symbol (one per distinct expression)."""
    real = node.dtype.kind == "f" and not plain
    flat = out.reshape(-1).copy()
    for k, e in enumerate(flat):
        if e.is_Atom or isinstance(e, sympy.Indexed) or not isinstance(e, sympy.Expr):
            continue
        sym = symbol_of.get(e)
        if sym is None:
            sym = symbol_of[e] = sympy.Symbol(next(names), real=real or None)
            replacements.append((sym, e))
        flat[k] = sym
    return flat.reshape(out.shape)


def _check_names(order: list[Node]) -> None:
    seen: dict[str, Node] = {}
    for n in order:
        if n.op.is_variable:
            if n.name in seen:
                raise SymgraphError(f"to_sympy: two variables are called {n.name!r}; sympy symbols "
                                    "are identified by name, so rename one")
            seen[n.name] = n


def as_exprs(arr: Any) -> np.ndarray:
    """An object array whose entries are all sympy objects."""
    arr = np.asarray(arr, dtype=object)
    flat = arr.reshape(-1)
    if not all(isinstance(e, sympy.Basic) for e in flat):
        flat = np.array([_sympy_object(e, "to_sympy: a translation") for e in flat] or [],
                        dtype=object)
    return flat.reshape(arr.shape)


def _sympy_object(value: Any, what: str) -> sympy.Basic:
    """``value`` if it is a sympy object, a sympy number for a Python/numpy number.

    Anything else, strings above all, is refused: ``sympy.sympify`` would parse
    a string with ``eval``, so the bridge never passes it text.
    """
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, (numbers.Number, np.number, np.bool_)):
        return sympy.sympify(value, strict=True)
    hint = ("; strings are never parsed (sympy would eval them): build the expression with "
            "sympy or use sg.parse_expression") if isinstance(value, (str, bytes, np.str_)) else ""
    raise SymgraphError(f"{what} gave a {type(value).__name__}, expected a sympy expression or a "
                        f"number{hint}")


def _result(arr: np.ndarray):
    if arr.ndim == 0:
        return arr.item()
    return sympy.ImmutableDenseNDimArray(arr.reshape(-1).tolist(), arr.shape)


def number(value: Any) -> sympy.Basic:
    """A numpy/Python scalar as an exact sympy number.

    Integral values become Integers and dyadic fractions with small
    denominators (0.5, 0.25, 1.5, ...) Rationals, so ``x ** 0.5`` reads
    ``sqrt(x)``; other floats keep their 53-bit value as ``Float``.
    """
    value = np.asarray(value).item()
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, complex):
        return number(value.real) + sympy.I * number(value.imag)
    if np.isnan(value):
        return sympy.nan
    if np.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    frac = Fraction(value)
    if frac.denominator <= 1024 and abs(frac.numerator) <= 2**53:
        return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Float(value, precision=53)


def elementwise(fn: Callable, node: Node, *arrays: np.ndarray) -> np.ndarray:
    """``fn`` applied to matching elements of ``arrays`` (broadcast), shaped like ``node``."""
    ufunc = np.frompyfunc(fn, len(arrays), 1)
    return np.broadcast_to(np.asarray(ufunc(*arrays), dtype=object), node.shape)


def variable_symbols(node: Node, fixed: dict[str, bool] | None = None) -> np.ndarray:
    """``Symbol(name)`` or elements of ``IndexedBase(name)``; ``fixed`` None: from the dtype."""
    kind = node.dtype.kind
    if fixed is not None:
        assumptions = fixed
    else:
        assumptions = {"integer": True} if kind in "iu" else {"real": True} if kind == "f" else {}
    if kind == "b":
        raise SymgraphError(f"to_sympy: boolean variable {node.name!r} is not supported")
    if not node.shape:
        return np.asarray(sympy.Symbol(node.name, **assumptions), dtype=object)
    base = sympy.IndexedBase(node.name, **assumptions)  # no shape: equal to a user's IndexedBase
    out = np.empty(node.shape, dtype=object)
    for idx in np.ndindex(*node.shape):
        out[idx] = base[idx]
    return out


def constant_exprs(value: np.ndarray) -> np.ndarray:
    """A constant array as an object array of exact sympy numbers."""
    if not value.size:
        return np.empty(value.shape, dtype=object)
    return as_exprs(np.vectorize(number, otypes=[object])(value))


def reduce(x: np.ndarray, axes: tuple[int, ...], fn: Callable, out_shape) -> np.ndarray:
    """``fn(*elements)`` over ``axes`` of ``x``, shaped as ``out_shape``."""
    keep = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, keep + list(axes))
    rows = moved.reshape(int(np.prod([x.shape[a] for a in keep], dtype=np.int64)), -1)
    return np.array([fn(*row) for row in rows] or [], dtype=object).reshape(out_shape)


def integer_labels(node: Node, labels: np.ndarray, what: str) -> np.ndarray:
    """Constant integer labels as an int64 array (symbolic ones have no translation)."""
    if not all(isinstance(e, sympy.Integer) for e in labels.reshape(-1)):
        raise SymgraphError(f"to_sympy: {what} needs constant integer labels; node #{node.id} "
                            "has symbolic ones")
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------
# from_sympy
# ---------------------------------------------------------------------------

def from_sympy(expr: Any, mapping: Mapping[Any, Any] | None = None) -> Node:
    """Nodes computing the sympy expression ``expr``; ``mapping`` gives each symbol's node.

    ``expr`` is a sympy expression, ``sympy.Matrix``/``Array`` (a node of its
    shape) or a number; strings are refused, never parsed.  Keys are symbol
    names (or sympy Symbols / IndexedBases / MatrixSymbols); values are nodes
    (or numbers/arrays, made constants).  Numbers without symbols become weakly
    typed scalars.

    Parameters
    ----------
    expr : sympy expression, Matrix or Array, or a number
        What to build.
    mapping : dict, optional
        Each free symbol (by name or as a sympy symbol) to its node or value.

    Returns
    -------
    Node
        Of the shape of ``expr``.

    Raises
    ------
    SymgraphError
        A string, a symbol missing from ``mapping``, or a sympy function
        without a symgraph counterpart.

    See Also
    --------
    to_sympy

    Examples
    --------
    >>> import sympy
    >>> t = sympy.Symbol("t")
    >>> x = sg.variable("x")
    >>> y = sg.from_sympy(sympy.sin(t) ** 2 + 1, {"t": x})
    >>> sg.evaluate([y, sg.grad(y, x)], {x: 0.0})
    [array(1.), array(0.)]
    >>> m = sg.from_sympy(sympy.Matrix([[t, 1], [0, t ** 2]]), {t: x})
    >>> sg.evaluate(m, {x: 3.0})
    array([[3., 1.],
           [0., 9.]])
    """
    mapping = dict(mapping or {})
    env: dict[str, Any] = {}
    for key, value in mapping.items():
        name = key if isinstance(key, str) else getattr(key, "name", None)
        if name is None:
            raise SymgraphError(f"from_sympy: mapping keys must be names or sympy symbols, got {key!r}")
        if isinstance(value, (str, bytes, np.str_, np.bytes_)):
            raise SymgraphError(f"from_sympy: the mapping gives {name!r} a {type(value).__name__}; "
                                "give a node or a number (strings are never parsed)")
        env[str(name)] = value
    nodes = [v for v in env.values() if isinstance(v, Node)]
    graph = nodes[0].graph if nodes else get_default_graph()
    try:
        if isinstance(expr, (sympy.MatrixBase, sympy.NDimArray)):
            shape = tuple(expr.shape)
            elements = [_build(_sympy_object(e, "from_sympy: a matrix element"), env, graph)
                        for e in _elements(expr)]
            if not elements:
                raise SymgraphError("from_sympy: empty matrix")
            return sh.reshape(sh.stack(as_nodes(*elements), 0), shape)
        out = _build(_sympy_object(expr, "from_sympy: the expression"), env, graph)
    except RecursionError:
        raise _too_deep("from_sympy", f"{_depth(expr)} levels deep") from None
    if not isinstance(out, Node):
        out = sources.constant(out, graph=graph)
    return out


def _depth(expr: Any) -> int:
    """Nesting depth of a sympy expression (or matrix), found without recursion."""
    top = _elements(expr) if isinstance(expr, (sympy.MatrixBase, sympy.NDimArray)) else [expr]
    deepest, stack = 0, [(e, 1) for e in top if isinstance(e, sympy.Basic)]
    while stack:
        e, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((a, d + 1) for a in e.args)
    return deepest


def _elements(expr):
    if isinstance(expr, sympy.MatrixBase):
        return list(expr)
    return list(sympy.flatten(expr.tolist())) if expr.shape else [expr[()]]


def _build(expr: sympy.Basic, env: dict[str, Any], graph) -> Any:
    """Postorder over ``expr`` with an explicit stack; shared subtrees are built once."""
    numeric = _numeric_subtrees(expr)
    built: dict[sympy.Basic, Any] = {}
    stack = [expr]
    with graph:
        _walk(stack, built, env, numeric)
    return built[expr]


_GENERIC_IS_NUMBER = sympy.Expr.is_number
"""``Expr.is_number``: "all arguments are numbers", computed recursively by sympy."""


def _is_number(e: sympy.Basic, numeric: dict[sympy.Basic, bool]) -> bool:
    """``e.is_number`` (and not a boolean), reading the arguments' answers from ``numeric``."""
    if isinstance(e, sympy.logic.boolalg.Boolean):
        return False
    if type(e).is_number is _GENERIC_IS_NUMBER:
        return all(numeric[a] if a in numeric else a.is_number for a in e.args)
    return bool(e.is_number)


def _numeric_subtrees(expr: sympy.Basic) -> dict[sympy.Basic, bool]:
    """Which subexpressions are numbers, found bottom-up without recursion.

    Visiting arguments before their expression also makes sympy compute (and
    cache) hashes bottom-up; ``hash`` and ``is_number`` of a fresh deep
    expression would otherwise recurse through the whole tree.
    """
    numeric: dict[sympy.Basic, bool] = {}
    seen: set[int] = set()
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        e, args_done = stack.pop()
        if args_done:
            numeric[e] = _is_number(e, numeric)
        elif id(e) not in seen:
            seen.add(id(e))
            stack.append((e, True))
            stack.extend((a, False) for a in e.args)
    return numeric


def _walk(stack: list[sympy.Basic], built: dict[sympy.Basic, Any], env: dict[str, Any],
          numeric: dict[sympy.Basic, bool]) -> None:
    while stack:
        e = stack[-1]
        if e in built:
            stack.pop()
            continue
        if e not in numeric:  # made by _operands, its arguments are known
            numeric[e] = _is_number(e, numeric)
        if numeric[e]:
            built[e] = _python_number(e)
            stack.pop()
            continue
        operands = _operands(e)
        missing = [o for o in operands if o not in built]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        built[e] = _translate(e, [built[o] for o in operands], env)


def _python_number(e: sympy.Basic) -> Any:
    if e is sympy.nan:
        return float("nan")
    if e.is_Integer:
        return int(e)
    value = complex(e.evalf(17))
    return value.real if value.imag == 0 else value


def _coeff_split(term: sympy.Basic) -> tuple[bool, sympy.Basic]:
    """(is negated, magnitude) for a term of a sum: ``-y`` is (True, y)."""
    coeff, rest = term.as_coeff_Mul()
    if coeff == -1:
        return True, rest
    return False, term


def _denominator(factor: sympy.Basic) -> sympy.Basic | None:
    """For ``b ** -k`` with a positive number k: ``b ** k`` (``b`` when k is 1)."""
    if isinstance(factor, sympy.Pow) and factor.exp.is_number and factor.exp.is_negative:
        return factor.base if factor.exp == -1 else sympy.Pow(factor.base, -factor.exp, evaluate=False)
    return None


def _operands(e: sympy.Basic) -> list[sympy.Basic]:
    """The subexpressions whose nodes the translation of ``e`` needs."""
    if isinstance(e, sympy.Add):
        return [_coeff_split(t)[1] for t in e.args]
    if isinstance(e, sympy.Mul):
        coeff, rest = e.as_coeff_Mul()
        factors = sympy.Mul.make_args(rest) if coeff.is_Rational else e.args
        return [_denominator(f) or f for f in factors]
    if isinstance(e, sympy.Pow):
        return [e.base] if e.exp.is_number else [e.base, e.exp]
    if isinstance(e, sympy.Piecewise):
        return [p for pair in e.args for p in pair if p is not sympy.true]
    if isinstance(e, (sympy.Symbol, sympy.Indexed, MatrixElement)):
        return []
    return list(e.args)


def _translate(e: sympy.Basic, ops: list[Any], env: dict[str, Any]) -> Any:
    if isinstance(e, sympy.Symbol):
        return _lookup(e.name, env)
    if isinstance(e, sympy.Indexed):
        base = _lookup(str(e.base.label), env)
        try:
            index = tuple(int(i) for i in e.indices)
        except TypeError:
            raise SymgraphError(f"from_sympy: {e} has symbolic indices; only integer indices "
                                "are supported") from None
        return sh.getitem(base, index)
    if isinstance(e, MatrixElement):
        base = _lookup(str(e.parent.name), env)
        try:
            index = (int(e.i), int(e.j))
        except TypeError:
            raise SymgraphError(f"from_sympy: {e} has symbolic indices; only integer indices "
                                "are supported") from None
        return sh.getitem(base, index)
    if isinstance(e, sympy.Add):
        pos = [o for o, t in zip(ops, e.args) if not _coeff_split(t)[0]]
        neg = [o for o, t in zip(ops, e.args) if _coeff_split(t)[0]]
        total = _sum_nodes(pos)
        if not neg:
            return total
        subtracted = _sum_nodes(neg)
        return ew.negative(subtracted) if total is None else ew.subtract(total, subtracted)
    if isinstance(e, sympy.Mul):
        return _product(e, ops)
    if isinstance(e, sympy.Pow):
        return _power(e, ops)
    if isinstance(e, sympy.Piecewise):
        return _piecewise(e, ops)
    table = _from_sympy_table()
    fn = table.get(type(e)) or next((f for k, f in table.items() if isinstance(e, k)), None)
    if fn is None:
        raise SymgraphError(f"from_sympy: {type(e).__name__} ({e}) has no symgraph translation")
    return fn(*ops)


def _lookup(name: str, env: dict[str, Any]) -> Any:
    if name not in env:
        known = ", ".join(repr(k) for k in sorted(env)) or "(none)"
        raise MissingInputError(f"from_sympy: no node given for symbol {name!r}; the mapping has "
                                f"{known}")
    value = env[name]
    return value if isinstance(value, Node) else sources.constant(value)


def _sum_nodes(terms: list[Any]) -> Any:
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    if len(terms) == 2:
        return ew.add(terms[0], terms[1])
    return ew.add_n(terms)


def _product(e: sympy.Mul, ops: list[Any]) -> Any:
    coeff, rest = e.as_coeff_Mul()
    if coeff.is_Rational:
        factors = sympy.Mul.make_args(rest)
    else:
        coeff, factors = sympy.Integer(1), e.args
    num, den = [], []
    for f, o in zip(factors, ops):
        (den if _denominator(f) is not None else num).append(o)
    negate = coeff < 0
    p, q = abs(coeff.p), coeff.q
    out = None
    for o in ([p] if p != 1 else []) + num:
        out = o if out is None else ew.multiply(out, o)
    divisor = None
    for o in ([q] if q != 1 else []) + den:
        divisor = o if divisor is None else ew.multiply(divisor, o)
    if out is None:
        out = 1
    if divisor is not None:
        out = ew.divide(out, divisor)
    return ew.negative(out) if negate else out


def _power(e: sympy.Pow, ops: list[Any]) -> Any:
    base = ops[0]
    if not e.exp.is_number:
        return ew.power(base, ops[1])
    k = e.exp
    if k == sympy.Rational(1, 2):
        return ew.sqrt(base)
    if k == -sympy.Rational(1, 2):
        return ew.divide(1, ew.sqrt(base))
    if k == 2:
        return ew.square(base)
    if k == -1:
        return ew.divide(1, base)
    return ew.power(base, _python_number(k))


def _piecewise(e: sympy.Piecewise, ops: list[Any]) -> Any:
    pieces, it = [], iter(ops)
    for value, cond in e.args:
        v = next(it)
        c = True if cond is sympy.true else next(it)
        pieces.append((v, c))
    out = None
    for v, c in reversed(pieces):
        if out is None:
            if c is not True:
                raise SymgraphError(f"from_sympy: {e} is undefined where no condition holds; "
                                    "add a final (value, True) piece")
            out = v
        else:
            out = ew.where(c, v, out)
    return out


def _n_ary(fn: Callable) -> Callable:
    return lambda *xs: functools.reduce(fn, xs)


#: sympy functions translated by a builder, not one op instance: constants, and functions
#: whose first argument is the op's parameter (``polygamma(n, x)``)
_COMPOSED: dict[type, Callable] = {
    sympy.polygamma: transcendental.polygamma,
    sympy.logic.boolalg.BooleanTrue: lambda: True,
    sympy.logic.boolalg.BooleanFalse: lambda: False,
}
_FROM_SYMPY: dict[type, Callable] = {}


def _from_sympy_table() -> dict[type, Callable]:
    """sympy function class -> builder: each elementwise op that names a sympy class in
    ``sympy`` (one op instance applied, pairwise for n-ary ``Max``/``Min``), plus ``_COMPOSED``."""
    if not _FROM_SYMPY:
        table = dict(_COMPOSED)
        for cls in builtin_ops().values():
            target = getattr(sympy, cls.sympy, None) if isinstance(getattr(cls, "sympy", None), str) else None
            if isinstance(target, type) and cls.param_types is None:
                table[target] = _n_ary(cls()) if issubclass(cls, ew.Binary) else cls()
        _FROM_SYMPY.update(table)
    return _FROM_SYMPY


__all__ = ["to_sympy", "from_sympy", "register_to_sympy", "number", "elementwise", "reduce",
           "as_exprs", "constant_exprs", "variable_symbols", "integer_labels", "MAX_ELEMENTS"]
