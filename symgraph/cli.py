"""The ``symgraph`` command: gradients of a typed expression, printed, drawn or as JSON.

    symgraph grad "(w*x - y)**2" --at w=1 x=2 y=3

Expressions are read by the safe parser in ``symgraph.parse`` (never by
``eval``).  Every error is one line on stderr with exit status 2; the command
never shows a traceback.  (On a terminal, an error in the expression is
followed by the expression with a ``^`` under the place; scripts reading
stderr through a pipe still get the one line.)
"""

from __future__ import annotations

import argparse
import ast
import difflib
import itertools
import json
import math
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import __version__
from .autodiff import grad
from .traversal import ancestors
from .errors import SymgraphError
from .evaluate import evaluate
from .graph import Graph, Node
from .parse import CONSTANTS, FUNCTIONS, ParseError, parse_expression, variable_names
from .render import INSTALL_HINT, SAVE_FORMATS, RenderError, dot_available, draw, to_dot
from .rewrite import simplify

#: Highest --order accepted (the graphs of higher derivatives grow quickly).
MAX_ORDER = 8
#: Most scalar coordinates differentiated twice or more (--order >= 2, --hessian).
MAX_COORDINATES = 64
#: Most partial derivatives of order >= 2 computed in one run.
MAX_PARTIALS = 2000
#: Longest accepted --at value, in characters.
MAX_VALUE_LENGTH = 100_000
#: Default of --max-elements: most elements of any array fed, computed or printed.
MAX_ELEMENTS = 10**7


class UsageError(SymgraphError):
    """Wrong command-line arguments."""


class ExpressionError(UsageError):
    """EXPR is not in the language; ``column`` (1-based) is where, when known."""

    def __init__(self, message: str, expr: str, column: int | None) -> None:
        super().__init__(message)
        self.expr, self.column = expr, column


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (one-line errors)."""

    #: option strings of the grad command (see _protect_expressions)
    grad_options: frozenset[str] = frozenset()

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """argparse's parse, with a "did you mean" for a misspelt option."""
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            expr = (getattr(ns, "expr", None) or "").strip()  # grad's first positional
            if OPTION.match(expr):  # `grad --heesian x ...`: the misspelt option took EXPR's place
                raise UsageError(f"unknown option {expr!r}"
                                 f"{did_you_mean_option(expr, self.grad_options)}")
            words = [e.strip() for e in extras]
            options = [w for w in words if OPTION.match(w)]
            hint = (did_you_mean_option(options[0], self.grad_options) if options else
                    " (give one EXPR, quoted if it has spaces: \"x + y\")")
            raise UsageError(f"unrecognized arguments: {' '.join(map(repr, words))}{hint} "
                             "(see 'symgraph grad --help')")
        return ns


_EXAMPLES = [
    ('grad "(w*x - y)**2" --at w=1 x=2 y=3', "value and gradient"),
    ('grad "(w*x - y)**2" --at w=1 x=2 y=3 --wrt w', "only df/dw"),
    ('grad "sin(x)" --at x=0.5 --order 4', "derivatives up to order 4"),
    ('grad "x*y**3" --at x=1 y=2 --hessian', "Hessian matrix"),
    ('grad "sum(x**2)" --at "x=[1, 2, 3]"', "vector variables"),
    ('grad "log(1 + exp(a*b))" --at a=1 b=-2 --json', "JSON output"),
    ('grad --at w=1 x=2 y=3 --wrt w "(w*x - y)**2"', "options in any order"),
    ('grad "(w*x - y)**2" --at w=1 x=2 y=3 -o f.svg', "picture (.svg, .png or .pdf)"),
    ('grad "(w*x - y)**2" --at w=1 x=2 y=3 --dot', "Graphviz DOT text"),
]
_WIDTH = max(len(cmd) for cmd, _ in _EXAMPLES)
EXAMPLES = "examples:\n" + "".join(f"  symgraph {cmd.ljust(_WIDTH)}  # {why}\n"
                                   for cmd, why in _EXAMPLES)

LANGUAGE = (
    "EXPR uses numbers, variables, + - * / ** @ (** is the power; ^ is not), unary minus, "
    "the constants pi and e (Euler's number; a name given a value with --at is a variable, "
    "even pi or e) and the functions " + ", ".join(sorted(FUNCTIONS)) + ". Anything else "
    "(attributes, indexing, strings, keywords, ...) is rejected; nothing is ever executed.")

ORDER = (
    "EXPR and the options may come in any order: an --at item has an =, a --wrt item is a "
    "variable name, and the one argument that is neither is EXPR. A one-name EXPR such as x "
    "is never taken from a --wrt list: write it first.")


def _paragraphs(*texts: str) -> str:
    return "\n\n".join(textwrap.fill(t, width=79) for t in texts)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symgraph",
        description="Symbol-to-symbol automatic differentiation from the command line.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"symgraph {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    g = commands.add_parser(
        "grad", help="value and derivatives of an expression at a point",
        description=_paragraphs("Print the value of EXPR and its derivatives with respect to "
                                "its variables at the point given by --at.", LANGUAGE, ORDER),
        usage="symgraph grad EXPR --at NAME=VALUE [NAME=VALUE ...] [options]",
        epilog=EXAMPLES + """
output:
  f = value, then df/dv for every variable v (arrays for vector variables).
  --order N adds every distinct partial derivative of orders 2..N, each once
  (mixed partials commute), e.g. d2f/dw dx, d3f/dw2 dx; coordinates of vector
  variables are written x[0], x[1].  --hessian prints the full matrix.
  Numbers have up to 10 significant digits; -0 is printed as 0.  JSON has no
  nan or infinity, so --json writes them as the strings "nan", "inf", "-inf".
  The numbers are printed before a picture (--out) is drawn, so they appear
  even when drawing fails; the exit status is then 2.
""",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    g.add_argument("expr", metavar="EXPR", nargs="?",
                   help="the expression, e.g. \"(w*x - y)**2\"")
    out = g.add_mutually_exclusive_group()
    options = [
        g.add_argument("--at", nargs="+", action="extend", metavar="NAME=VALUE", required=True,
                       help="the point: one NAME=VALUE per variable; VALUE is a number or a "
                            "list of numbers, e.g. x=2 or \"v=[1, 2, 3]\"; --at may be "
                            "repeated (--at x=1 --at y=2), but each name given once"),
        g.add_argument("--wrt", nargs="+", action="extend", metavar="NAME",
                       help="differentiate with respect to these variables only (default: all); "
                            "may be repeated"),
        g.add_argument("--order", type=int, default=1, metavar="N",
                       help=f"also print partial derivatives of orders 2..N (N <= {MAX_ORDER})"),
        g.add_argument("--hessian", action="store_true",
                       help="print the Hessian matrix (second derivatives)"),
        g.add_argument("--max-elements", type=int, default=MAX_ELEMENTS, metavar="N",
                       help="refuse inputs and expressions that need an array (input, "
                            "intermediate or result) of more than N elements; checked from the "
                            f"shapes before anything is computed (default {MAX_ELEMENTS})"),
        g.add_argument("--simplify", action="store_true",
                       help="simplify the derivative graph (constant folding, identities, CSE) "
                            "before evaluating and drawing it"),
        out.add_argument("--json", action="store_true",
                         help="print the results as JSON; nan, inf and -inf are written as "
                              "the strings \"nan\", \"inf\" and \"-inf\""),
        out.add_argument("--dot", action="store_true",
                         help="print the graph with its derivative nodes as Graphviz DOT, "
                              "with values and gradients on the edges"),
        g.add_argument("-o", "--out", "--svg", dest="out", metavar="FILE",
                       help="also draw that graph to FILE, in the format its extension names "
                            "(.svg, .png or .pdf; needs Graphviz's dot); --svg is an older "
                            "name for the same option"),
    ]
    parser.grad_options = frozenset({"-h", "--help", "--"}.union(
        *(a.option_strings for a in options)))
    g.set_defaults(run=_run_grad, grad_options=parser.grad_options)
    return parser


# ---------------------------------------------------------------------------
# reading arguments
# ---------------------------------------------------------------------------


#: An argument that can only be a (misspelt) option: --word or --word=...
OPTION = re.compile(r"--[A-Za-z][\w-]*(=.*)?\Z", re.S)
#: A --wrt item: a variable name.
NAME = re.compile(r"[A-Za-z_]\w*\Z")


def did_you_mean_option(word: str, options: frozenset[str]) -> str:
    """`` (did you mean --hessian?)`` for ``--heesian``, else ``""``."""
    close = difflib.get_close_matches(word.split("=", 1)[0],
                                      sorted(o for o in options if o.startswith("--") and len(o) > 2), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def split_arguments(expr: str | None, at: Sequence[str], wrt: Sequence[str],
                    options: frozenset[str] = frozenset()) -> tuple[str, list[str], list[str]]:
    """``(EXPR, --at items, --wrt names)`` from what argparse gathered, options in any order.

    ``--at`` and ``--wrt`` take several values, so an EXPR after them lands in
    their lists.  It is told apart by its form: an ``--at`` item has an ``=``
    (EXPR never does), a ``--wrt`` item is a variable name (an EXPR of one
    name is never taken from a --wrt list: it is ambiguous, and said so).
    """
    given = {a.partition("=")[0].strip() for a in at}
    words = [w.strip() for w in [*at, *wrt]]
    if expr is not None and expr.strip()[2:] not in given:  # --x is an EXPR when x is given
        words.append(expr.strip())
    for w in words:
        if OPTION.match(w):
            raise UsageError(f"unknown option {w!r}{did_you_mean_option(w, options)}")
    assignments = [a.strip() for a in at if "=" in a]
    at_other = [a.strip() for a in at if "=" not in a]
    names = [w.strip() for w in wrt if NAME.match(w.strip())]
    wrt_other = [w.strip() for w in wrt if not NAME.match(w.strip())]
    if expr is not None:
        if at_other:
            raise UsageError(f"--at expects NAME=VALUE, got {at_other[0]!r:.60}")
        if wrt_other:
            raise UsageError(f"--wrt expects variable names, got {wrt_other[0]!r:.60}")
        return expr, assignments, names
    candidates = at_other + wrt_other
    if len(candidates) > 1:
        raise UsageError(f"which is the expression, {candidates[0]!r:.40} or "
                         f"{candidates[1]!r:.40}? Give one EXPR; --at takes NAME=VALUE items "
                         "and --wrt variable names")
    if not candidates:
        hint = (f" (a one-name EXPR such as {names[-1]!r} is not taken from the --wrt list: "
                "write it first)") if names else ""
        raise UsageError(f"no expression: give EXPR, e.g. symgraph grad \"x**2\" --at x=1{hint}")
    return candidates[0], assignments, names


def parse_assignments(items: Sequence[str]) -> dict[str, np.ndarray]:
    """``["w=1", "x=[1, 2]"]`` -> ``{"w": array(1.), "x": array([1., 2.])}``."""
    point: dict[str, np.ndarray] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if OPTION.match(item.strip()):
            raise UsageError(f"unknown option {item.strip()!r}")
        if not sep or not name or not text:
            raise UsageError(f"--at expects NAME=VALUE, got {item!r:.60}")
        if name in point:
            raise UsageError(f"--at gives {name!r} twice")
        point[name] = parse_value(name, text)
    return point


def parse_value(name: str, text: str) -> np.ndarray:
    """A number, or a (nested) list of numbers read with ``ast.literal_eval``."""
    if len(text) > MAX_VALUE_LENGTH:
        raise UsageError(f"the value of {name} is too long ({len(text)} characters)")
    if not text.startswith("["):
        try:
            return np.array(float(text))
        except ValueError:
            raise UsageError(f"the value of {name} must be a number or a list of numbers like "
                             f"[1, 2, 3], got {text!r:.60}") from None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise UsageError(f"the value of {name} is not a list of numbers: {text!r:.60}") from None
    if not _numbers_only(value):
        raise UsageError(f"the value of {name} must contain only numbers: {text!r:.60}")
    try:
        arr = np.array(value, dtype=np.float64)
    except (ValueError, OverflowError):
        raise UsageError(f"the value of {name} is a ragged list; rows must have equal "
                         f"lengths") from None
    return arr


def _numbers_only(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif type(v) not in (int, float):
            return False
    return True


# ---------------------------------------------------------------------------
# differentiating
# ---------------------------------------------------------------------------


@dataclass
class Coordinate:
    """One scalar coordinate of a variable: ``w`` or ``x[1]``."""

    name: str
    index: tuple[int, ...]

    @property
    def label(self) -> str:
        return self.name if not self.index else f"{self.name}[{', '.join(map(str, self.index))}]"


@dataclass
class Derivatives:
    """The nodes the command evaluates."""

    f: Node
    gradient: dict[str, Node]
    coordinates: list[Coordinate] = field(default_factory=list)
    #: sorted tuple of coordinate positions -> node, for orders >= 2
    partials: dict[tuple[int, ...], Node] = field(default_factory=dict)


def simplified(d: Derivatives) -> Derivatives:
    """The same derivatives after ``sg.simplify`` (one pass over all of them)."""
    f, gradient, partials = simplify([d.f, d.gradient, d.partials])
    return Derivatives(f, gradient, d.coordinates, partials)


def partial_label(coords: Sequence[Coordinate]) -> str:
    """``d2f/dw dx``, ``d3f/dw2 dx``, ``d2f/dx[0]^2`` for the partial over ``coords``."""
    k = len(coords)
    parts = []
    for label, group in itertools.groupby(c.label for c in coords):
        n = len(list(group))
        power = "" if n == 1 else (f"^{n}" if label.endswith("]") else str(n))
        parts.append(f"d{label}{power}")
    return f"d{k if k > 1 else ''}f/" + " ".join(parts)


def differentiate(f: Node, wrt: dict[str, Node], max_order: int) -> Derivatives:
    """Gradient nodes of ``f`` and, up to ``max_order``, every distinct higher partial.

    The partial over a sorted tuple of coordinates is the derivative of the
    partial over its prefix, so each order costs one reverse pass per partial
    of the order below.
    """
    names = list(wrt)
    grads = grad(f, [wrt[n] for n in names])
    out = Derivatives(f, dict(zip(names, grads)))
    if max_order < 2:
        return out
    out.coordinates = [Coordinate(n, idx) for n in names for idx in np.ndindex(wrt[n].shape)]
    m = len(out.coordinates)
    if m > MAX_COORDINATES:
        raise UsageError(f"higher derivatives with respect to {m} coordinates are too many (the "
                         f"limit is {MAX_COORDINATES}); choose fewer variables with --wrt")
    count = sum(math.comb(m + k - 1, k) for k in range(2, max_order + 1))
    if count > MAX_PARTIALS:
        raise UsageError(f"that is {count} partial derivatives (the limit is {MAX_PARTIALS}); "
                         "lower --order or choose fewer variables with --wrt")
    var_pos = {n: k for k, n in enumerate(names)}

    def element(by_var: list[Node], c: Coordinate) -> Node:
        node = by_var[var_pos[c.name]]
        return node[c.index] if c.index else node

    level = {(j,): element(grads, c) for j, c in enumerate(out.coordinates)}
    for _ in range(2, max_order + 1):
        new_level = {}
        for prefix, node in level.items():
            by_var = grad(node, [wrt[n] for n in names])
            for j in range(prefix[-1], m):
                new_level[prefix + (j,)] = element(by_var, out.coordinates[j])
        out.partials.update(new_level)
        level = new_level
    return out


# ---------------------------------------------------------------------------
# the grad command
# ---------------------------------------------------------------------------


@dataclass
class Report:
    """Everything the grad command prints, in whichever format."""

    expr: str
    names: list[str]
    point: dict[str, np.ndarray]
    order: int
    hessian: bool
    value: np.ndarray
    gradient: dict[str, np.ndarray]
    coordinates: list[Coordinate]
    partials: dict[tuple[int, ...], np.ndarray]  # orders >= 2, by sorted coordinate positions

    def label(self, key: tuple[int, ...]) -> str:
        return partial_label([self.coordinates[j] for j in key])

    def point_text(self) -> str:
        return ", ".join(f"{n} = {format_array(self.point[n], one_line=True)}"
                         for n in self.names)


def _run_grad(args: argparse.Namespace) -> int:
    if not 1 <= args.order <= MAX_ORDER:
        raise UsageError(f"--order must be between 1 and {MAX_ORDER}, got {args.order}")
    if args.max_elements < 1:
        raise UsageError(f"--max-elements must be at least 1, got {args.max_elements}")
    if args.out and Path(args.out).suffix.lower().lstrip(".") not in SAVE_FORMATS:
        raise UsageError(f"--out {args.out!r}: the file name must end in "
                         f".{', .'.join(SAVE_FORMATS)}")
    if args.out and not Path(args.out).resolve().parent.is_dir():  # fail before computing
        raise UsageError(f"cannot write the picture to {args.out!r}: no such directory")
    expr, at, wrt = split_arguments(args.expr, args.at, args.wrt or [], args.grad_options)
    if expr.startswith(" -"):  # the space _protect_expressions added: columns count without it
        expr = expr[1:]
    try:  # a name given a value is a variable, even pi or e
        names = variable_names(expr, declared={a.partition("=")[0].strip() for a in at})
    except ParseError as e:
        raise ExpressionError(str(e), expr, e.column) from None
    if not names:
        raise UsageError("the expression has no variables to differentiate with respect to")
    point = parse_assignments(at)
    for n, v in point.items():
        if v.size > args.max_elements:
            raise UsageError(f"the value of {n} has {v.size} elements, more than --max-elements "
                             f"{args.max_elements}")
    unknown = [n for n in point if n not in names]
    if unknown:
        raise UsageError(f"--at gives {unknown[0]!r}, which the expression does not use "
                         f"(its variables: {', '.join(names)})")
    missing = [n for n in names if n not in point]
    if missing:
        raise UsageError(f"no value for {missing[0]!r}: add {missing[0]}=... to --at")
    for n in wrt:
        if n not in names:
            constant = (f"; {n} is the constant {CONSTANTS[n]:.6g} unless --at gives it a value"
                        if n in CONSTANTS else "")
            raise UsageError(f"--wrt {n!r} is not a variable of the expression "
                             f"(its variables: {', '.join(names)}){constant}")
    wrt_names = list(dict.fromkeys(wrt or names))

    with Graph("symgraph cli"):
        f, variables = parse_expression(expr, {n: v.shape for n, v in point.items()})
        check_sizes([f], args.max_elements)  # fail before differentiating a hopeless expression
        if f.shape != ():
            raise UsageError(f"the expression has shape {f.shape}, but gradients need a scalar; "
                             "reduce it, e.g. sum(...)")
        d = differentiate(f, {n: variables[n] for n in wrt_names},
                          max(args.order, 2 if args.hessian else 1))
        if args.simplify:
            d = simplified(d)
        outputs = [d.f, *d.gradient.values(), *d.partials.values()]
        check_sizes(outputs, args.max_elements)
        feed = {variables[n]: v for n, v in point.items()}
        values = evaluate(outputs, feed)
    k = 1 + len(d.gradient)
    report = Report(expr.strip(), names, point, args.order, args.hessian, values[0],
                    dict(zip(d.gradient, values[1:k])), d.coordinates,
                    dict(zip(d.partials, values[k:])))

    # the numbers (or the DOT text) first: they stand even if drawing fails below
    picture = _picture_kwargs(d, feed, report) if args.out or args.dot else {}
    if args.dot:
        print(to_dot(**picture))
    else:
        if not all(np.isfinite(v).all() for v in values):
            print("symgraph: warning: some results are not finite (nan or inf) at this point",
                  file=sys.stderr)
        print(json.dumps(_as_json(report), indent=2, allow_nan=False) if args.json
              else _as_text(report))
    if args.out:
        sys.stdout.flush()
        if not dot_available():
            raise RenderError(f"cannot draw {args.out}: Graphviz's `dot` is not on the PATH; {INSTALL_HINT}")
        draw(**picture).save(args.out)
        if not (args.json or args.dot):
            print(f"\nwrote {args.out}")
    return 0


def check_sizes(outputs: Sequence[Node], limit: int) -> None:
    """Refuse to evaluate ``outputs`` if any node they need has more than ``limit`` elements.

    Every node's shape is known before evaluation, so a huge broadcast such as
    ``x*y`` with 24,000 and 12,000 values is refused without allocating it.
    """
    for n in ancestors(outputs):
        if n.size > limit:
            raise UsageError(f"evaluating this needs an array of shape {n.shape} ({n.size} "
                             f"elements, from {n.op.name}), more than --max-elements {limit}")


def _picture_kwargs(d: Derivatives, feed: dict, report: Report) -> dict:
    """The augmented graph: f, its gradient and the partials printed, with values."""
    labels = {d.f: "f"}

    def name(node: Node, meaning: str) -> None:
        """Label ``node`` by what it is; a node that has a name already keeps it
        (``y = df/dx`` when the derivative is the variable y itself)."""
        known = labels.get(node) or node.name
        if not known:
            labels[node] = meaning
        elif meaning not in known.split(" = "):
            labels[node] = f"{known} = {meaning}"

    for var, node in d.gradient.items():
        name(node, f"df/d{var}")
    nodes = [d.f, *d.gradient.values()]
    order = max(report.order, 2 if report.hessian else 1)  # --hessian draws its nodes too
    for key, node in d.partials.items():
        if len(key) <= order:
            name(node, report.label(key))
            nodes.append(node)
    title = f"f = {report.expr}  at  {report.point_text()}"
    return dict(graph_or_nodes=nodes, values=feed, grads_of=d.f, labels=labels,
                title=title if len(title) <= 120 else title[:117] + "...")


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------


def format_number(v: Any) -> str:
    """``-4``, ``0.3333333333``, ``nan``: ten significant digits, no trailing zeros; ``-0``
    is printed as ``0`` (its sign is an artefact of the arithmetic, not information)."""
    v = float(v) + 0.0  # -0.0 + 0.0 == +0.0
    return f"{v:.10g}" if math.isfinite(v) else str(v)


def format_array(a: np.ndarray, indent: int = 0, one_line: bool = False) -> str:
    """numpy's layout with ``format_number`` entries; continuation lines indented."""
    a = np.asarray(a)
    if a.ndim == 0:
        return format_number(a)
    text = np.array2string(a, separator=", ", formatter={"float_kind": format_number},
                           max_line_width=100)
    return " ".join(text.split()) if one_line else text.replace("\n", "\n" + " " * indent)


def _as_text(r: Report) -> str:
    lines = [f"f({', '.join(r.names)}) = {r.expr}", f"at {r.point_text()}", ""]
    rows = [("f", r.value)] + [(f"df/d{n}", g) for n, g in r.gradient.items()]
    rows += [(r.label(key), v) for key, v in sorted(r.partials.items(), key=_by_order)
             if len(key) <= r.order]
    width = max(len(label) for label, _ in rows)
    lines += [f"{label.ljust(width)} = {format_array(v, width + 3)}" for label, v in rows]
    if r.hessian:
        lines += ["", "Hessian (d2f/da db):"] + _hessian_lines(r)
    return "\n".join(lines)


def _by_order(item: tuple[tuple[int, ...], Any]) -> tuple[int, tuple[int, ...]]:
    return len(item[0]), item[0]


def hessian_matrix(r: Report) -> np.ndarray:
    m = len(r.coordinates)
    h = np.empty((m, m))
    for i in range(m):
        for j in range(i, m):
            h[i, j] = h[j, i] = r.partials[(i, j)]
    return h


def _hessian_lines(r: Report) -> list[str]:
    heads = [c.label for c in r.coordinates]
    cells = [[format_number(v) for v in row] for row in hessian_matrix(r)]
    width = max(len(s) for s in heads + [c for row in cells for c in row])
    left = max(len(s) for s in heads)
    lines = [" " * left + "  " + "  ".join(s.rjust(width) for s in heads)]
    for head, row in zip(heads, cells):
        lines.append(head.ljust(left) + "  " + "  ".join(c.rjust(width) for c in row))
    return ["  " + line for line in lines]


def _jsonable(v: Any) -> Any:
    """Numbers as JSON: -0 as 0, and nan/inf/-inf (not JSON numbers) as those strings."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        x = float(a) + 0.0
        return x if math.isfinite(x) else str(x)
    return [_jsonable(row) for row in a]


def _as_json(r: Report) -> dict:
    out: dict[str, Any] = {
        "expression": r.expr,
        "variables": r.names,
        "at": {n: _jsonable(r.point[n]) for n in r.names},
        "value": _jsonable(r.value),
        "gradient": {n: _jsonable(g) for n, g in r.gradient.items()},
    }
    if r.order >= 2:
        out["derivatives"] = [
            {"order": len(key), "wrt": [r.coordinates[j].label for j in key],
             "label": r.label(key), "value": _jsonable(v)}
            for key, v in sorted(r.partials.items(), key=_by_order) if len(key) <= r.order]
    if r.hessian:
        out["hessian"] = {"coordinates": [c.label for c in r.coordinates],
                          "matrix": _jsonable(hessian_matrix(r))}
    return out


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def _protect_expressions(argv: list[str], options: frozenset[str]) -> list[str]:
    """Keep argparse from reading an expression such as ``-x**2`` as an option.

    Any argument of ``grad`` that starts with ``-`` but is none of its options
    gets a leading space, which argparse does not take for an option and the
    expression parser ignores.
    """
    if len(argv) < 2 or argv[0] != "grad":
        return argv
    return [argv[0]] + [f" {a}" if a.startswith("-") and not _is_option(a, options)
                        else a for a in argv[1:]]


def _is_option(arg: str, options: frozenset[str]) -> bool:
    """``--out=f.svg``, ``--json``, and a short option with its value attached (``-of.svg``)."""
    return arg.split("=", 1)[0] in options or (not arg.startswith("--") and arg[:2] in options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 on any error, never a traceback)."""
    try:
        parser = _build_parser()
        argv = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(_protect_expressions(argv, parser.grad_options))
        with np.errstate(all="ignore"):
            return args.run(args)
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except SymgraphError as e:
        _error(str(e))
        if isinstance(e, ExpressionError) and e.column and sys.stderr.isatty():
            print("\n".join(caret_lines(e.expr, e.column)), file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `symgraph ... | head`: stop quietly, as the docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # a bug: still one line, never a traceback
        _error(f"internal error ({type(e).__name__}: {e}); please report it")
    return 2


def caret_lines(expr: str, column: int, width: int = 78) -> list[str]:
    """The expression (a window of it, if long) and a ``^`` under ``column`` (1-based)."""
    start = max(0, min(column - 1 - width // 2, len(expr) - width))
    shown = expr[start:start + width].replace("\t", " ")
    return ["  " + shown, "  " + " " * (column - 1 - start) + "^"]


def _error(message: str) -> None:
    print(f"symgraph: error: {' '.join(message.split())}", file=sys.stderr)

