"""Pictures of graphs: DOT text (``to_dot``), rendered drawings (``draw``) and Jupyter reprs.

Renderers only read the graph: drawing never adds nodes to it.  Values for
the overlay are evaluated (which adds nothing), and gradients are built on a
private copy of the drawn part (through a loop, that builds the loop body's
gradient body in the body graph once, as ``sg.grad`` would; the loop itself
records nothing more).

Loops and branches (``sg.scan``, ``sg.while_loop``, ``sg.cond``) are drawn as
the program reads: each body a cluster, drawn once however many loop nodes
run it, with the carries' edges in and round and the items' edges out (see
``symgraph.render_flow``).

A node's colour says what made it: inputs, constants, forward nodes, and the
gradient nodes of each differentiation order; a legend explains the colours.
A node's box says what computes it and its shape.  With a feed, every edge
carries the value flowing along it (green, on top) and, with ``grads_of=y``,
the derivative of ``y`` with respect to that value (red, underneath), as in
the back-propagation figures of textbooks; an output, which has no edge
leaving it, shows them inside its box.

The G′ view (``wrt=``) is chosen by ``symgraph.render_gprime``; the direction,
the cluster titles and the width shown by ``symgraph.render_layout``.

``to_dot`` needs only the ``graphviz`` Python package; ``draw`` and the
Jupyter pictures also need Graphviz's ``dot`` program.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .autodiff import grad
from .traversal import ancestors
from .errors import SymgraphError
from .evaluate import Evaluator
from .runtime import NameScope, normalize_feed
from .graph import ROLES, Graph, Node, common_graph, register_display
from .ops.base import is_inexact
from .ops.sources import Variable
from .render_gprime import gprime
from .render_layout import Captions, EdgeLog, choose_rankdir, fit_width, text_width
from .render_flow import Scene, describe_details, item_label, private_copy, runs_bodies
from .structure import flatten
from . import render_flow

INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`")

#: Formats ``Drawing.save`` infers from a file's extension.
SAVE_FORMATS = ("svg", "png", "pdf")

DEFAULT_MAX_NODES = 250
#: The width, in pixels, a picture is shown at most (a notebook's or a documentation
#: page's column); with ``rankdir="auto"`` the direction is chosen to fit it.
DEFAULT_MAX_WIDTH = 960


class RenderError(SymgraphError):
    """A picture cannot be made: Graphviz's ``dot`` is missing, or options do not fit.

    Raised by ``sg.draw``, ``sg.to_dot`` and ``Drawing.save``; its message says what
    to change (or how to install ``dot``).

    See Also
    --------
    draw : Renders a picture of a graph.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> try:
    ...     sg.to_dot(x, rankdir="sideways")
    ... except sg.RenderError as e:
    ...     print(e)
    rankdir must be one of auto, LR, TB, BT, RL; got 'sideways'
    """


# ---------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How one kind of node looks, and what the legend calls it."""

    fill: str
    border: str
    shape: str
    legend: str


INPUT = Style("#fff2c2", "#a67c00", "ellipse", "input")
CONSTANT = Style("#e0e0e0", "#8c8c8c", "box", "constant")
FORWARD = Style("#d9e8fb", "#2c64a8", "box", "forward")
#: (fill, border) for gradient nodes of order 1, 2, 3, 4 (cycled beyond): red, purple, green,
#: indigo.  Chosen so that every two kinds of node (these, inputs, constants, forward
#: nodes) stay apart, fills and borders, also as seen with each kind of colour blindness
#: (tests/test_render.py measures it).
GRADIENT_COLOURS = (
    ("#f2a9a2", "#b03a2e"),
    ("#dcc3ee", "#6c3483"),
    ("#bdf5d3", "#17804a"),
    ("#b9b3ee", "#3d2a9e"),
)
VALUE_COLOUR = "#1b7a3d"
GRAD_COLOUR = "#c0392b"
MUTED = "#6b6b6b"
FONT = "Helvetica,Arial,sans-serif"


def style_of(node: Node) -> Style:
    """The style of ``node`` from its role and differentiation order."""
    if node.role == "input":
        return INPUT
    if node.role == "constant":
        return CONSTANT
    if node.role == "gradient":
        order = max(node.order, 1)
        fill, border = gradient_colours(order)
        return Style(fill, border, "box", f"gradient, order {order}")
    return FORWARD


def gradient_colours(order: int) -> tuple[str, str]:
    """(fill, border) of gradient nodes of differentiation ``order`` >= 1."""
    return GRADIENT_COLOURS[(order - 1) % len(GRADIENT_COLOURS)]


# ---------------------------------------------------------------------------
# what to draw
# ---------------------------------------------------------------------------


@dataclass
class _Selection:
    graph: Graph
    outputs: list[Node]
    nodes: list[Node]                 # drawn, topological order
    context: set[Node]                # drawn faded: inputs of G' from outside G'
    folded: set[Node]                 # scalar constants shown inside their consumers
    hidden: set[Node] = field(default_factory=set)  # cut by max_nodes
    scene: Scene = field(default_factory=Scene)     # the bodies of loops and branches drawn

    def shown(self) -> list[Node]:
        """Every node drawn as a box: the outer ones, then the bodies' (a loop or branch
        node is drawn as the clusters of its bodies)."""
        out = [n for n in self.nodes if not runs_bodies(n)]
        for view in self.scene.bodies.values():
            out += [n for n in view.nodes if not runs_bodies(n)]
        return out

    def dot_id(self, n: Node) -> str:
        view = self.scene.bodies.get(n.graph) if n.graph is not self.graph else None
        return f"n{n.id}" if view is None else f"{view.key}n{n.id}"


def _resolve(graph_or_nodes: Any) -> tuple[Graph, list[Node], list[Node] | None]:
    """(graph, outputs, every node when a whole Graph was given)."""
    if isinstance(graph_or_nodes, Graph):
        g = graph_or_nodes
        consumed = {i for n in g.nodes for i in n.inputs}
        # a constant nothing uses (a gradient seed folded away, a transform's placeholder)
        # is not part of any computation: leave it out of the picture
        unused = {n for n in g.nodes if n not in consumed and not n.inputs
                  and not n.op.is_variable}
        nodes = [n for n in g.nodes if n not in unused]
        return g, [n for n in nodes if n not in consumed], nodes
    leaves, _ = flatten(graph_or_nodes, lambda t: isinstance(t, Node))
    for leaf in leaves:
        if not isinstance(leaf, Node):
            raise RenderError(f"can only draw a Graph, a Node or a list of Nodes, got "
                              f"{type(leaf).__name__}")
    if not leaves:
        raise RenderError("nothing to draw: the list of nodes is empty")
    try:
        g = common_graph(leaves)
    except SymgraphError as e:
        raise RenderError(f"cannot draw nodes of two graphs in one picture: {e}") from None
    return g, list(dict.fromkeys(leaves)), None


def _select(graph_or_nodes: Any, wrt: Any, collapse_constants: bool,
            max_nodes: int | None) -> _Selection:
    graph, outputs, whole = _resolve(graph_or_nodes)
    context: set[Node] = set()
    if wrt is not None:
        wrt_nodes, _ = flatten(wrt, lambda t: isinstance(t, Node))
        if not wrt_nodes or not all(isinstance(w, Node) and w.graph is graph for w in wrt_nodes):
            raise RenderError("wrt must be a node or a list of nodes of the graph being drawn")
        core = gprime(outputs, wrt_nodes, whole if whole is not None else ancestors(outputs))
        core_set = set(core)
        context = {i for n in core for i in n.inputs if i not in core_set}
        nodes = sorted(core_set | context, key=_node_id)
        outputs = [o for o in outputs if o in core_set]
    else:
        nodes = whole if whole is not None else ancestors(outputs)
    drawn = set(nodes)
    folded: set[Node] = set()
    if collapse_constants:
        consumed = {i for n in nodes if n not in context for i in n.inputs}
        # a loop's inputs are drawn: its picture is its body, which cannot show them inside
        fed = {i for n in nodes if runs_bodies(n) for i in n.inputs}
        outs = set(outputs)  # an output is drawn, with its value, even when it is a constant
        folded = {n for n in nodes if _is_scalar_constant(n) and n in consumed and n not in fed
                  and n not in outs}
        drawn -= folded
    if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
        raise RenderError(f"max_nodes must be a positive int or None, got {max_nodes!r}")

    def foldable(n: Node) -> bool:
        return collapse_constants and _is_scalar_constant(n)

    kept, scene = render_flow.select(outputs, drawn, max_nodes, foldable)
    hidden = drawn - kept if max_nodes is not None else set()
    drawn -= hidden
    return _Selection(graph, outputs, [n for n in nodes if n in drawn], context & drawn,
                      folded, hidden, scene)


def _node_id(n: Node) -> int:
    return n.id


def _is_scalar_constant(n: Node) -> bool:
    return not n.inputs and not n.op.is_variable and n.shape == ()


# ---------------------------------------------------------------------------
# values and gradients for the overlay
# ---------------------------------------------------------------------------


def _overlay(sel: _Selection, values: Mapping, grads_of: Node | None
             ) -> tuple[dict[Node, np.ndarray], dict[Node, np.ndarray]]:
    """Values of the drawn nodes the feed determines, and d grads_of / d node for those
    that ``grads_of`` depends on.

    Values are evaluated on the user's graph (evaluation adds no nodes).  The
    gradients are built on a private copy of only the part between the drawn
    nodes and ``grads_of``; what enters that part from outside does not depend
    on the drawn nodes, so it is fed in as constants.  Fed nodes cut the graph,
    as they do in ``evaluate``.
    """
    targets = list(sel.nodes) + ([grads_of] if grads_of is not None else [])
    feed = normalize_feed(sel.graph, values, NameScope(targets))
    fed = frozenset(feed)
    computable: dict[Node, bool] = {}
    for n in ancestors(targets, stop=fed):
        computable[n] = n in fed or (not n.op.is_variable and all(computable[i] for i in n.inputs))
    shown = [n for n in sel.nodes if computable[n]]
    wrt: list[Node] = []
    region: list[Node] = []
    boundary: list[Node] = []
    if grads_of is not None:
        if grads_of.graph is not sel.graph:
            raise RenderError("grads_of must be a node of the graph being drawn")
        if grads_of.shape != ():
            raise RenderError(f"grads_of must be a scalar node; it has shape {grads_of.shape}")
        if not computable[grads_of]:
            raise RenderError("grads_of cannot be evaluated with the given values: feed every "
                              "variable it depends on")
        depends = ancestors([grads_of], stop=fed)
        wrt = [n for n in shown if n in set(depends) and is_inexact(n.dtype)]
        region, boundary = _between(wrt, depends, fed)
    with np.errstate(all="ignore"):
        results = Evaluator(shown + boundary).run(feed) if shown or boundary else []
    vals = dict(zip(shown, results))
    if not wrt:
        return vals, {}
    known = {**dict(zip(boundary, results[len(shown):])), **feed}
    return vals, dict(zip(wrt, _gradients(grads_of, wrt, region, boundary, known, fed)))


def _between(wrt: list[Node], depends: list[Node], fed: frozenset[Node]
             ) -> tuple[list[Node], list[Node]]:
    """The nodes on paths from ``wrt`` to the output (fed nodes end paths), and their
    inputs from outside that part, both in topological order."""
    wrt_set = set(wrt)
    inside: set[Node] = set()
    region = []
    for n in depends:
        if n in wrt_set or (n not in fed and any(i in inside for i in n.inputs)):
            inside.add(n)
            region.append(n)
    boundary = {i: None for n in region if n not in fed for i in n.inputs if i not in inside}
    return region, sorted(boundary, key=_node_id)


def _gradients(y: Node, wrt: list[Node], region: list[Node], boundary: list[Node],
               known: Mapping[Node, np.ndarray], fed: frozenset[Node]) -> list[np.ndarray]:
    """d y / d w for each w, by ``sg.grad`` on a private copy of ``region``."""
    if y not in set(region):  # every path from wrt to y is cut by a fed node
        return [np.zeros(w.shape, w.dtype) for w in wrt]
    scratch = Graph("symgraph.render scratch")
    leaves = boundary + [n for n in region if n in fed]
    copy = {n: scratch._add(Variable(f"#{n.id}", n.shape, n.dtype), ()) for n in leaves}
    for n in region:
        if n not in copy:
            copy[n] = scratch._add(private_copy(n.op), tuple(copy[i] for i in n.inputs))
    try:
        grad_nodes = grad(copy[y], [copy[w] for w in wrt])
    except SymgraphError as e:
        raise RenderError(f"cannot overlay gradients: {e}") from None
    with np.errstate(all="ignore"):
        return Evaluator(grad_nodes).run({copy[n]: known[n] for n in leaves})


def format_value(value: Any, digits: int = 4) -> str:
    """A short text for a value: ``-4``, ``0.3333``, ``[1, 2, 3]``, ``[0.126, -0.596, …]``.

    Arrays show at most three entries (the edge already shows their shape).
    """
    arr = np.asarray(value)
    if arr.ndim == 0:
        return _scalar_text(arr.item(), digits)
    flat = arr.reshape(-1)
    if flat.size <= 3:
        return "[" + ", ".join(_scalar_text(v.item(), digits - 1) for v in flat) + "]"
    return "[" + ", ".join(_scalar_text(v.item(), digits - 1) for v in flat[:2]) + ", …]"


def _scalar_text(v: Any, digits: int) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, complex):
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return str(v)
    return f"{v + 0.0:.{digits}g}"  # -0.0 + 0.0 is 0.0: a zero's sign is no information here


# ---------------------------------------------------------------------------
# DOT
# ---------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(str(text), quote=False)


#: Most arguments spelled out in a node's label, e.g. ``add_n(#3, #5, #7, #9, …)``.
MAX_ARGS_SHOWN = 4


def _short_name(n: Node, labels: Mapping[Node, str], folded: set[Node],
                drawn: set[Node]) -> str:
    """How a node is referred to inside another node's label: a folded constant by its
    value, a named node by its name, a drawn node by its id (written under it), and an
    unnamed node that is not drawn as ``⋯`` (an id nobody can find in the picture
    would only mislead)."""
    if n in folded:
        return n.op.describe()
    name = labels.get(n) or n.name
    if name:
        return name
    meaning = derivative_text(n, labels, folded, drawn)
    if meaning:
        return meaning
    return f"#{n.id}" if n in drawn else "⋯"


def derivative_text(n: Node, labels: Mapping[Node, str], folded: set[Node],
                    drawn: set[Node]) -> str | None:
    """``∂f/∂l2`` for a node ``build_grad`` made as the whole derivative of a scalar ``f``
    by ``l2`` (``Graph.derivatives``), or None: how the hand derivation names it."""
    meaning = n.graph.derivatives.get(n)
    if meaning is None:
        return None

    def name(v: Node) -> str:
        return labels.get(v) or v.name or (f"#{v.id}" if v in drawn else "⋯")

    y, x = meaning
    by = [name(x)]  # a derivative of a derivative is a higher one: d2f/dx dw
    seen = {n}
    while y in n.graph.derivatives and y not in seen:  # (autodiff makes no cycles; be sure)
        seen.add(y)
        y, x = n.graph.derivatives[y]
        by.append(name(x))
    runs: list[list] = []
    for v in by:
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    power = _superscript(len(by))
    return f"∂{power}{name(y)}/" + "".join(f"∂{v}{_superscript(k)}" for v, k in runs)


def _superscript(k: int) -> str:
    """``²`` for 2 (nothing for 1): the order written after a ∂."""
    return "" if k == 1 else str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _op_text(n: Node, folded: set[Node], labels: Mapping[Node, str], drawn: set[Node]) -> str:
    """``op.describe()``, with the arguments spelled out when their order matters or a
    constant is folded in: ``sub(l1, y)``, ``pow(l2, 2)``."""
    text = n.op.describe()
    if len(n.inputs) >= 2 or any(i in folded for i in n.inputs):
        args = [_short_name(i, labels, folded, drawn) for i in n.inputs[:MAX_ARGS_SHOWN]]
        if len(n.inputs) > MAX_ARGS_SHOWN:
            args.append("…")
        text = f"{text}({', '.join(args)})" if "(" not in text else f"{text} [{', '.join(args)}]"
    return text


#: Op texts longer than this many characters are wrapped after a comma (narrower nodes).
WRAP = 26


def _wrap(text: str, width: int = WRAP) -> list[str]:
    """``text`` in lines of at most ``width`` characters where it can be: broken between
    the arguments of the call it spells (after a ", " inside its outer parentheses) or
    before its " [...]" (a long ``sum(axis=(0, 1), keepdims=False)`` takes two lines)."""
    pieces, start, depth = [], 0, 0
    for k, c in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if (depth == 1 and text.startswith(", ", k)) or (depth == 0 and text.startswith(" [", k)):
            cut = k + 2 if c == "," else k
            pieces.append(text[start:cut])
            start = cut
    pieces.append(text[start:])
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(piece.lstrip())
        else:
            lines[-1] += piece
    return [line.rstrip() for line in lines]


def _shape_text(n: Node, shapes: bool) -> str:
    """``(256, 10)``, ``(256,) int64``; nothing for a float64 scalar or without ``shapes``."""
    if not shapes or (n.shape == () and n.dtype == np.float64):
        return ""
    return str(n.shape) + ("" if n.dtype == np.float64 else f" {n.dtype}")


def _node_label(n: Node, folded: set[Node], labels: Mapping[Node, str], drawn: set[Node],
                shapes: bool, rows: list[str] = ()) -> str:
    """The node's name (or op) and, in small grey, what computes it and its shape (once,
    not on every edge leaving it); ``rows`` (an output's value and gradient) under a rule."""
    name = labels.get(n) or n.name
    notes: list[str] = []
    if n.op.is_variable:
        head = f"<B>{_esc(name)}</B>"
    elif render_flow.reads_loop(n):  # "final carry" / "scan #5 · item 0"
        owner = n.inputs[0]
        loop = f"{owner.op.name} #{owner.id}" if owner in drawn else owner.op.name
        head = f"<B>{_esc(name)}</B>"
        notes.append(f"{loop} · item {n.op.index}")
    elif name:
        head = f"<B>{_esc(name)}</B>"
        notes += _wrap(_op_text(n, folded, labels, drawn))
    else:
        head = "<BR/>".join(_esc(line) for line in _wrap(_op_text(n, folded, labels, drawn)))
        notes.append(f"#{n.id}")
    meaning = None if name else derivative_text(n, labels, folded, drawn)
    if meaning:  # what build_grad made it: the derivative of y by x
        notes.insert(0, meaning)
    shape = _shape_text(n, shapes)
    if shape and notes and len(notes[-1]) + len(shape) + 3 <= WRAP:
        notes[-1] += f" · {shape}"
    elif shape:
        notes.append(shape)
    if notes:
        text = "<BR/>".join(_esc(line) for line in notes)
        head += f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">{text}</FONT>'
    if not rows:
        return f"<{head}>"
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f"<TR><TD>{head}</TD></TR><HR/><TR><TD>{'<BR/>'.join(rows)}</TD></TR></TABLE>>")


def _value_rows(n: Node, vals: dict, grads: dict) -> list[str]:
    """What the overlay knows of the value of ``n``: the value (green) and the derivative
    of ``grads_of`` with respect to it (red)."""
    rows = []
    if n in vals:
        rows.append(f'<FONT COLOR="{VALUE_COLOUR}">{_esc(format_value(vals[n]))}</FONT>')
    if n in grads:
        rows.append(f'<FONT COLOR="{GRAD_COLOUR}">{_esc(format_value(grads[n]))}</FONT>')
    return rows


def _edge_label(n: Node, vals: dict, grads: dict) -> str | None:
    rows = _value_rows(n, vals, grads)
    return "<" + "<BR/>".join(rows) + ">" if rows else None


def _legend(nodes: list[Node], has_context: bool, has_vals: bool, grad_name: str | None,
            links: set[str] = frozenset()) -> str:
    """One row of colour swatches and overlay colours, for the kinds of node drawn."""
    kinds: dict[str, Style] = {}
    for n in sorted(nodes, key=lambda m: (ROLES.index(m.role), m.order)):
        s = style_of(n)
        kinds.setdefault(s.legend, s)
    cells = []
    for s in kinds.values():
        cells.append(f'<TD BGCOLOR="{s.fill}" COLOR="{s.border}" BORDER="1" WIDTH="14" '
                     f'HEIGHT="10" FIXEDSIZE="TRUE"></TD><TD ALIGN="LEFT">{_esc(s.legend)}</TD>')
    if has_context:
        cells.append(f'<TD></TD><TD ALIGN="LEFT"><FONT COLOR="{MUTED}">dashed: outside G′'
                     '</FONT></TD>')
    styles = [text for kind, text in (("next", "dashed: to the next step"),
                                      ("captured", "dotted: captured")) if kind in links]
    if styles:
        cells.append(f'<TD></TD><TD ALIGN="LEFT"><FONT COLOR="{MUTED}">{"; ".join(styles)}'
                     '</FONT></TD>')
    if has_vals:
        cells.append(f'<TD></TD><TD ALIGN="LEFT"><FONT COLOR="{VALUE_COLOUR}">value</FONT></TD>')
    if grad_name is not None:
        cells.append(f'<TD></TD><TD ALIGN="LEFT"><FONT COLOR="{GRAD_COLOUR}">'
                     f'∂{_esc(grad_name)}/∂value</FONT></TD>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0"><TR>'
            + "".join(cells) + "</TR></TABLE>>")


#: The options of ``to_dot`` and ``draw``, in numpydoc form (both docstrings list them).
OPTIONS_DOC = """graph_or_nodes : Graph, Node or list of Nodes
        What to draw: a Graph (every node in it), or a Node or a (nested) list of
        Nodes, drawn with every node they depend on.  Those nodes are the outputs:
        drawn bold, each with its shape and, given ``values``, its value inside.
    values : mapping, optional
        A feed (variables, by node or by name, to values).  Each edge then shows
        the value flowing along it in green, and each output its value inside its
        node.  Nodes whose value the feed does not determine show none.  Default:
        no values.
    grads_of : Node, optional
        A scalar node; with ``values``, each edge also shows, in red, the
        derivative of ``grads_of`` with respect to the value it carries (as
        ``sg.grad`` computes it, without adding nodes to the graph).  Default: none.
    wrt : Node or list of Nodes, optional
        Draw only the G′ view of these nodes: the part of the forward graph
        between ``wrt`` and what is differentiated (what ``build_grad`` walks), and
        only the gradient nodes built for ``wrt`` (those on the paths from the
        seed to the gradients with respect to ``wrt``).  Other inputs of that part
        are drawn dashed, for context.  Default: draw everything.
    labels : mapping of Node to str, optional
        Names for nodes, e.g. ``{{l1: "l1"}}``, used in their box and wherever
        another node's label refers to them.  Default: variables by their names,
        other nodes by their op and id.
    collapse_constants : bool, default True
        Write scalar constants inside the label of the node using them
        (``power(l2, 2)``) instead of drawing them as nodes.
    max_nodes : int or None, default {max_nodes}
        Draw at most this many nodes: the outputs and inputs always, then those
        nearest the outputs (through loop bodies too).  The rest is one "⋯ N more
        nodes" box (one per loop body); labels write a node left out as ``⋯``,
        never by an id that is not in the picture.  A drawn loop always shows its
        carry variables and its body's outputs.  None: no limit.
    clusters : bool, default True
        Box the gradient nodes of each differentiation order (loop and branch
        bodies are boxed either way).
    shapes : bool, default True
        Write each node's shape (when it is not a scalar) and dtype (when it is
        not float64) in its box.
    rankdir : {{"auto", "LR", "TB", "BT", "RL"}}, default "auto"
        Which way the picture runs.  "auto": left to right, as in textbook
        figures, when that fits in ``max_width`` (or is narrower anyway), else top
        to bottom.
    title : str, optional
        A caption above the picture.  Default: none.
    max_width : float or None, default {max_width}
        The width, in CSS pixels, to fit: the SVG of a wider picture is shown
        scaled down to this width (and never wider than the page), while PNG and
        PDF files keep the drawing's full size; "auto" ``rankdir`` chooses the
        direction that fits it.  None: show SVGs at full size."""


def to_dot(graph_or_nodes: Any, *, values: Mapping | None = None, grads_of: Node | None = None,
           wrt: Any = None, labels: Mapping[Node, str] | None = None,
           collapse_constants: bool = True, max_nodes: int | None = DEFAULT_MAX_NODES,
           clusters: bool = True, shapes: bool = True, rankdir: str = "auto",
           title: str | None = None, max_width: float | None = DEFAULT_MAX_WIDTH) -> str:
    """DOT source (Graphviz's language) of a picture of a graph.

    What ``draw`` renders, as text: it needs only the ``graphviz`` Python package,
    not Graphviz's ``dot`` program.  A node's colour says what made it (inputs,
    constants, forward nodes, and the gradient nodes of each differentiation order);
    a legend under the picture explains the colours.  Drawing never adds nodes to
    the graph.

    Parameters
    ----------
    {options}

    Returns
    -------
    str
        The DOT source, starting ``digraph symgraph {{``.

    Raises
    ------
    RenderError
        When the options do not fit the graph (``grads_of`` without ``values``, a
        ``wrt`` of another graph, an unknown ``rankdir`` ...).

    See Also
    --------
    draw : The same picture rendered, for Jupyter or a file.

    Examples
    --------
    >>> w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    >>> f = (w * x - y) ** 2
    >>> dot = sg.to_dot(f, labels={{f: "f"}})
    >>> dot.splitlines()[0]
    'digraph symgraph {{'
    >>> "multiply(w, x)" in dot and "<B>f</B>" in dot
    True

    With a feed, the values are in the picture (the output's inside its node):

    >>> ">-4</FONT>" in sg.to_dot(sg.grad(f, w), values={{"w": 1, "x": 2, "y": 3}})
    True
    """
    source, _ = _build(graph_or_nodes, values=values, grads_of=grads_of, wrt=wrt, labels=labels,
                       collapse_constants=collapse_constants, max_nodes=max_nodes,
                       clusters=clusters, shapes=shapes, rankdir=rankdir, title=title,
                       max_width=max_width)
    return source


def _build(graph_or_nodes: Any, *, values, grads_of, wrt, labels, collapse_constants, max_nodes,
           clusters, shapes, rankdir, title, max_width) -> tuple[str, int]:
    """DOT source and the number of graph nodes drawn."""
    import graphviz

    if rankdir not in ("auto", "LR", "TB", "BT", "RL"):
        raise RenderError(f"rankdir must be one of auto, LR, TB, BT, RL; got {rankdir!r}")
    if max_width is not None and (not isinstance(max_width, (int, float)) or max_width <= 0):
        raise RenderError(f"max_width must be a positive number of pixels or None, got "
                          f"{max_width!r}")
    if grads_of is not None and values is None:
        raise RenderError("grads_of needs values: pass the feed at which to evaluate gradients")
    if grads_of is not None and not isinstance(grads_of, Node):
        raise RenderError(f"grads_of must be a Node, got {type(grads_of).__name__}")
    labels = dict(labels or {})
    sel = _select(graph_or_nodes, wrt, collapse_constants, max_nodes)
    vals, grads = _overlay(sel, values, grads_of) if values is not None else ({}, {})
    shown = sel.shown()
    given = dict(labels)
    for n in shown:  # items of loops and branches say what they hold
        if render_flow.reads_loop(n) and n not in given:
            labels[n] = item_label(n, lambda v: given.get(v) or v.name)
    root = differentiated_scalar(shown)
    if root is not None and root not in labels and not root.name and \
            not any((labels.get(n) or n.name) == "f" for n in shown):
        labels[root] = "f"  # as the hand derivation names it: df/dl2, df/dw
    texts = _node_labels(sel, labels, shapes, vals, grads)
    edges = EdgeLog()
    links = _emit_edges(edges, sel, vals, grads)
    depth = edges.depths()
    if rankdir == "auto":
        widths = {sel.dot_id(n): text_width(t) for n, t in texts.items()}
        labelled = any("label" in attrs for _, _, attrs in edges.edges)
        rankdir = choose_rankdir(widths, depth, labelled, max_width or DEFAULT_MAX_WIDTH)

    dot = graphviz.Digraph(
        name="symgraph",
        graph_attr={"rankdir": rankdir, "bgcolor": "white", "fontname": FONT, "fontsize": "11",
                    "nodesep": "0.3", "ranksep": "0.5", "labelloc": "b", "labeljust": "c",
                    "newrank": "true", "pad": "0.15", "compound": "true"},
        node_attr={"fontname": FONT, "fontsize": "12", "style": "filled,rounded",
                   "shape": "box", "margin": "0.12,0.05", "height": "0.3", "penwidth": "1.2"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.7", "color": "#4d4d4d",
                   "penwidth": "1.0"},
    )
    captions = Captions(depth)
    if title and sel.nodes:  # the title above the picture, the legend below it
        with dot.subgraph(name="cluster_title") as top:
            top.attr(label=f"<<B>{_esc(title)}</B>>", labelloc="t", color="white",
                     fontsize="13")
            _emit_nodes(top, sel, texts, clusters, captions)
    else:
        _emit_nodes(dot, sel, texts, clusters, captions)
    edges.write(dot)
    grad_name = None
    if grads_of is not None:
        grad_name = labels.get(grads_of) or grads_of.name or "f"
    if sel.nodes:
        dot.attr(label=_legend(shown, bool(sel.context), bool(vals), grad_name, links))
    else:
        dot.attr(label=title or "(empty graph)")
    return dot.source, len(shown)


def differentiated_scalar(nodes: list[Node]) -> Node | None:
    """The one scalar every derivative among ``nodes`` is a derivative of (through
    derivatives of derivatives, ``Graph.derivatives``), or None when there are several
    or none."""
    roots = set()
    for n in nodes:
        known = n.graph.derivatives
        if n not in known:
            continue
        y, seen = known[n][0], {n}
        while y in known and y not in seen:
            seen.add(y)
            y = known[y][0]
        roots.add(y)
    return roots.pop() if len(roots) == 1 else None


def _node_labels(sel: _Selection, labels: Mapping[Node, str], shapes: bool, vals: dict,
                 grads: dict) -> dict[Node, str]:
    """The label of every node drawn; an output's shape, value and gradient sit in its
    node (it has no edge to carry them)."""
    scene = sel.scene
    folded = set(sel.folded).union(*(v.folded for v in scene.bodies.values()))
    drawn = set(sel.shown()) | set(scene.loops)  # a loop is drawn as its bodies' clusters
    outputs = set(sel.outputs)
    return {n: _node_label(n, folded, labels, drawn, shapes,
                           _value_rows(n, vals, grads) if n in outputs else [])
            for n in sel.shown()}


def _emit_nodes(dot: Any, sel: _Selection, texts: Mapping[Node, str], clusters: bool,
                captions: Captions) -> None:
    """One DOT node per drawn node; gradient nodes boxed per order when ``clusters``; the
    bodies of loops and branches as clusters, nested as the loops are, each titled."""
    import graphviz

    outputs = set(sel.outputs)
    scene = sel.scene
    inside = render_flow.nesting(scene)

    def emit(target: Any, n: Node) -> None:
        s = style_of(n)
        attrs = {"label": texts[n], "shape": s.shape,
                 "fillcolor": s.fill, "color": s.border, "tooltip": graphviz.nohtml(repr(n))}
        if s is CONSTANT:
            attrs["fontsize"] = "10"
        if n in sel.context:
            attrs.update(style="dashed,rounded", fillcolor="white", fontcolor=MUTED)
        view = scene.bodies.get(n.graph) if n.graph is not sel.graph else None
        if n in outputs or (view is not None and n in view.reads):
            attrs["penwidth"] = "2.4"
        target.node(sel.dot_id(n), **attrs)
        captions.add(sel.dot_id(n))

    def emit_graph(target: Any, nodes: list[Node], prefix: str, hidden: set[Node]) -> None:
        by_order: dict[int, list[Node]] = {}
        for n in nodes:
            if runs_bodies(n):
                continue  # drawn as its bodies' clusters
            if clusters and n.role == "gradient":
                by_order.setdefault(n.order, []).append(n)
            else:
                emit(target, n)
        for k in sorted(by_order):
            _, border = gradient_colours(k)
            with target.subgraph(name=f"cluster_{prefix}order{k}") as sub:
                sub.attr(label="", style="dashed,rounded", color=border)  # titled by a node
                captions.open()
                for n in by_order[k]:
                    emit(sub, n)
                captions.close(sub, f"{prefix}order{k}", f"order-{k} gradient nodes", border,
                               "10")
        if hidden:
            many = "s" if len(hidden) != 1 else ""
            target.node(f"{prefix}hidden", label=f"⋯ {len(hidden)} more node{many}",
                        shape="note", style="dashed", color=MUTED, fontcolor=MUTED,
                        fillcolor="white")
            captions.add(f"{prefix}hidden")

    def emit_bodies(target: Any, parent: Graph | None) -> None:
        done: set[str] = set()
        for g in inside.get(parent, []):
            group = scene.bodies[g].group
            if group is None:
                emit_body(target, g, grouped=False)
            elif group.key not in done:
                done.add(group.key)
                with target.subgraph(name=f"cluster_{group.key}") as box:
                    box.attr(label="", style="rounded", color="#9a9a9a")
                    captions.open()
                    for h in group.graphs:
                        emit_body(box, h, grouped=True)
                    captions.close(box, group.key,
                                   _cluster_label(group.owner.op.name,
                                                  _users(scene, group.graphs), sel.graph),
                                   "black", "11")

    def emit_body(target: Any, g: Graph, grouped: bool) -> None:
        view = scene.bodies[g]
        owner, part = view.users[0]
        head = render_flow.title(owner, part, grouped)
        with target.subgraph(name=f"cluster_{view.key}") as sub:
            sub.attr(label="", style="rounded,filled", fillcolor="#f7f9fc", color="#7f8c9d")
            captions.open()
            emit_graph(sub, view.nodes, view.key, view.hidden)
            emit_bodies(sub, g)
            captions.close(sub, view.key,
                           _cluster_label(head, [] if grouped else _users(scene, [g]),
                                          sel.graph), "black", "11")

    emit_graph(dot, sel.nodes, "", sel.hidden)
    emit_bodies(dot, None)


def _users(scene: Scene, graphs: list[Graph]) -> list[Node]:
    """The loop and branch nodes drawing from ``graphs``, each once, in the order met."""
    found: dict[Node, None] = {}
    for g in graphs:
        for node, _ in scene.bodies[g].users:
            found[node] = None
    return sorted(found, key=render_flow.first_drawn)


def _loop_colour(node: Node) -> str:
    """The colour of the edges of one loop or branch node: forward blue, gradient by order."""
    return style_of(node).border


def _cluster_label(head: str, users: list[Node], top: Graph) -> str:
    """A body's caption (HTML-like text): "scan body (length 100)" for the one loop running
    it, or the caption and one line per loop, in the colour of its edges."""
    rows = [f"<B>{_esc(head)}</B>"]
    if len(users) == 1 and users[0].role != "gradient":
        details = describe_details(users[0])
        if details:
            rows[0] += f" ({_esc(', '.join(details))})"
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{MUTED}">run by {_esc(users[0].op.name)} '
                    f'#{users[0].id}</FONT>')
    else:
        for u in users:
            rows.append(f'<FONT POINT-SIZE="10" COLOR="{_loop_colour(u)}">'
                        f"━ {_esc(render_flow.describe(u, top))}</FONT>")
    return "<BR ALIGN=\"LEFT\"/>".join(rows) + "<BR ALIGN=\"LEFT\"/>"


def _emit_edges(dot: Any, sel: _Selection, vals: dict, grads: dict) -> set[str]:
    """Input edges (labelled with shape, value, gradient), the edges to and from the "more
    nodes" placeholders, and the edges into, round and out of the bodies of loops and
    branches.  Returns the kinds of loop edges drawn (for the legend)."""
    shown = sel.shown()
    drawn = set(shown)
    edge_labels: dict[Node, str | None] = {}

    def label_of(n: Node, text: str = "") -> str | None:
        """The rows of the edges leaving ``n``, under ``text`` in italics."""
        if n not in edge_labels:
            edge_labels[n] = _edge_label(n, vals, grads)
        rows = edge_labels[n]
        if not text:
            return rows
        head = f"<I>{_esc(text)}</I>"
        return f"<{head}<BR/>{rows[1:-1]}>" if rows else f"<{head}>"

    hidden_of = {sel.graph: ("", sel.hidden)}
    hidden_of.update({g: (v.key, v.hidden) for g, v in sel.scene.bodies.items()})
    for n in shown:
        if n in sel.context:
            continue
        prefix, hidden = hidden_of[n.graph]
        if any(i in hidden for i in n.inputs):
            dot.edge(f"{prefix}hidden", sel.dot_id(n), style="dashed", color=MUTED)
        colour = style_of(n).border if n.role == "gradient" else "#4d4d4d"
        for i in n.inputs:
            if i not in drawn:
                continue  # an item's loop node: see _emit_links
            attrs = {"color": colour}
            text = label_of(i)
            if text:
                attrs["label"] = text
            dot.edge(sel.dot_id(i), sel.dot_id(n), **attrs)
    for prefix, hidden in hidden_of.values():  # what feeds the part cut by max_nodes
        feeding = {i: None for h in sorted(hidden, key=_node_id) for i in h.inputs if i in drawn}
        for i in feeding:
            text = label_of(i)
            dot.edge(sel.dot_id(i), f"{prefix}hidden", style="dashed", color=MUTED,
                     **({"label": text} if text else {}))
    return _emit_links(dot, sel, drawn, label_of, vals, grads)


#: How each kind of edge into, round and out of a body looks.
LINK_STYLES = {"init": {}, "slice": {}, "result": {}, "operand": {},
               "captured": {"style": "dotted", "arrowsize": "0.5"},
               "next": {"style": "dashed", "constraint": "false"},
               "pred": {}, "trips": {}}


def _emit_links(dot: Any, sel: _Selection, drawn: set[Node], label_of: Any, vals: dict,
                grads: dict) -> set[str]:
    """The edges of loops and branches (``render_flow.all_links``), each in its loop's
    colour, once per pair of ends; returns the kinds drawn."""
    scene = sel.scene
    done: set[tuple] = set()
    kinds: set[str] = set()
    fed: set[Node] = set()  # body variables placed by a loop's edge: later loops' edges follow
    for owner, link in render_flow.all_links(scene, drawn):
        if link.head is not None and link.head not in drawn:
            continue
        if link.tail not in drawn:
            view = scene.bodies.get(link.tail.graph)
            key = (link.tail.graph, link.head)
            if link.kind == "result" and view is not None and link.tail in view.hidden \
                    and key not in done:  # read from a part of the body cut by max_nodes
                done.add(key)
                dot.edge(f"{view.key}hidden", sel.dot_id(link.head), style="dashed",
                         color=MUTED)
            continue
        key = (link.tail, link.head if link.head is not None else link.part.body.graph)
        if key in done:
            continue
        done.add(key)
        attrs = {"color": _loop_colour(owner), **LINK_STYLES[link.kind]}
        if link.kind in ("init", "slice", "captured", "operand"):
            if link.head in fed:
                attrs["constraint"] = "false"  # no cycle through the loop's own results
            fed.add(link.head)
        text = None
        if link.kind in ("init", "slice", "operand", "pred", "trips"):
            text = label_of(link.tail, link.text)
        elif link.kind == "captured":  # the variable inside repeats the name and shape
            attrs["color"] = MUTED
            text = _edge_label(link.tail, vals, grads)
        elif link.text:
            text = f"<<I>{_esc(link.text)}</I>>"
        if text:
            attrs["label"] = text
        head = link.head
        if head is None:  # into the cluster of the body (or of the group of bodies)
            view = scene.bodies[link.part.body.graph]
            head = next((n for n in view.nodes if not runs_bodies(n)), None)
            if head is None:
                continue
            grouped = view.group is not None and link.kind == "pred"
            attrs["lhead"] = f"cluster_{view.group.key if grouped else view.key}"
            if link.kind == "trips":  # recorded by the loop it feeds: it cannot sit above
                attrs["constraint"] = "false"
            if text:  # a label sits mid-edge, and this edge is clipped at the cluster
                del attrs["label"]
                attrs.update(taillabel=f"<<I>{_esc(link.text)}</I>>", labeldistance="1.6",
                             labelangle="-40")
        dot.edge(sel.dot_id(link.tail), sel.dot_id(head), **attrs)
        kinds.add(link.kind)
    return kinds


# ---------------------------------------------------------------------------
# rendering with dot
# ---------------------------------------------------------------------------


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def _require_dot() -> None:
    if not dot_available():
        raise RenderError(f"drawing needs Graphviz's `dot` program, which is not on the PATH; "
                          f"{INSTALL_HINT} (sg.to_dot works without it)")


def _pipe(source: str, fmt: str) -> bytes:
    import graphviz

    _require_dot()
    try:
        return graphviz.Source(source).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise RenderError(f"Graphviz's `dot` could not be run; {INSTALL_HINT}") from None
    except (subprocess.CalledProcessError, OSError) as e:
        raise RenderError(f"Graphviz's `dot` failed to render the picture as {fmt}: {e}") from None


class Drawing:
    """A rendered picture: shows itself in Jupyter and saves as SVG, PNG or PDF.

    Made by ``sg.draw``, which renders it at once (so a problem surfaces there,
    not when it is displayed).

    Parameters
    ----------
    source : str
        The DOT source to render (as ``sg.to_dot`` gives it); kept as ``.source``.
    n_nodes : int
        How many nodes of the graph it draws; kept as ``.n_nodes``.
    max_width : float or None, default {max_width}
        The width, in CSS pixels, its SVG (``.svg``, and what Jupyter shows) is
        shown at most (None: full size); PNG and PDF keep the full size.

    See Also
    --------
    draw : Makes a Drawing of a graph.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> d = sg.draw(sg.exp(x) * x)
    >>> d.n_nodes
    3
    >>> d.svg.startswith("<?xml") and "<svg" in d.svg
    True
    >>> d.pipe("pdf")[:4]
    b'%PDF'
    """

    def __init__(self, source: str, n_nodes: int,
                 max_width: float | None = DEFAULT_MAX_WIDTH) -> None:
        self.source = source
        self.n_nodes = n_nodes
        self.max_width = max_width
        self._svg: str | None = None

    @property
    def svg(self) -> str:
        """The picture as SVG text (rendered once), shown at most ``max_width`` pixels wide."""
        if self._svg is None:
            self._svg = fit_width(_pipe(self.source, "svg").decode("utf-8"), self.max_width)
        return self._svg

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002 - graphviz's own name
        """The picture in any format ``dot`` supports, as bytes."""
        return self.svg.encode("utf-8") if format == "svg" else _pipe(self.source, format)

    def save(self, path: str | Path, format: str | None = None) -> Path:  # noqa: A002
        """Write the picture to ``path``; the format comes from the extension (svg, png, pdf)."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in SAVE_FORMATS:
            raise RenderError(f"cannot save a drawing as {fmt or 'a file without extension'!r}: "
                              f"use one of .{', .'.join(SAVE_FORMATS)} or pass format=")
        data = self.pipe(fmt)
        try:
            path.write_bytes(data)
        except OSError as e:
            raise RenderError(f"cannot write the picture to {str(path)!r}: {e.strerror}") from None
        return path

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"image/svg+xml": self.svg, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<symgraph.Drawing of {self.n_nodes} nodes>"


def draw(graph_or_nodes: Any, *, values: Mapping | None = None, grads_of: Node | None = None,
         wrt: Any = None, labels: Mapping[Node, str] | None = None,
         collapse_constants: bool = True, max_nodes: int | None = DEFAULT_MAX_NODES,
         clusters: bool = True, shapes: bool = True, rankdir: str = "auto",
         title: str | None = None, max_width: float | None = DEFAULT_MAX_WIDTH) -> Drawing:
    """A picture of a graph, rendered by Graphviz: shows itself in Jupyter, saves to a file.

    Forward and gradient nodes are told apart by colour (one per differentiation
    order, with a legend), and each gradient node says which derivative it is, as a
    hand derivation does: ``multiply(∂f/∂l2, x)`` is ``∂f/∂w``, a second derivative
    ``∂²f/∂x∂w`` (the differentiated scalar is called ``f`` unless it has a name or a
    label).  Given a feed, values (green) and gradients (red) are
    written on the edges, and each output's value inside its node.  Loops and
    branches are drawn as the program reads: each body a box.  Drawing never adds
    nodes to the graph.

    Parameters
    ----------
    {options}

    Returns
    -------
    Drawing
        The rendered picture (``.svg``, ``.save("f.png")``; Jupyter shows it).
        For a ``SparseDerivative`` (``sg.sparse_jacobian``, ``sg.sparse_hessian``):
        a spy plot of its pattern, coloured by its colouring (matplotlib), and
        only ``title`` applies.

    Raises
    ------
    RenderError
        When Graphviz's ``dot`` program is not installed (with how to install
        it; ``to_dot`` works without it), or the options do not fit the graph.

    See Also
    --------
    to_dot : The DOT source alone.

    Examples
    --------
    The seed example, its gradient and the values at w=1, x=2, y=3:

    >>> w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    >>> f = (w * x - y) ** 2
    >>> dw, dx, dy = sg.grad(f, [w, x, y])
    >>> d = sg.draw([f, dw, dx, dy], values={{"w": 1, "x": 2, "y": 3}}, grads_of=f,
    ...             labels={{f: "f", dw: "df/dw"}})
    >>> d
    <symgraph.Drawing of ... nodes>

    Only what differentiating with respect to ``w`` builds (the G′ view), saved as a
    PNG at full size:

    >>> import pathlib, tempfile
    >>> path = sg.draw([f, dw, dx, dy], wrt=[w]).save(pathlib.Path(tempfile.mkdtemp(), "g.png"))
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    from .sparse import SparseDerivative

    if isinstance(graph_or_nodes, SparseDerivative):
        return graph_or_nodes.draw(title=title)  # type: ignore[return-value]
    _require_dot()
    drawing = Drawing(*_build(graph_or_nodes, values=values, grads_of=grads_of, wrt=wrt,
                              labels=labels, collapse_constants=collapse_constants,
                              max_nodes=max_nodes, clusters=clusters, shapes=shapes,
                              rankdir=rankdir, title=title, max_width=max_width),
                      max_width=max_width)
    drawing.svg  # render now, so problems surface at draw() and not at display time
    return drawing


_OPTIONS = OPTIONS_DOC.format(max_nodes=DEFAULT_MAX_NODES, max_width=DEFAULT_MAX_WIDTH)
to_dot.__doc__ = to_dot.__doc__.format(options=_OPTIONS)
draw.__doc__ = draw.__doc__.format(options=_OPTIONS)
Drawing.__doc__ = Drawing.__doc__.format(max_width=DEFAULT_MAX_WIDTH)


def mimebundle(graph_or_nodes: Any) -> dict[str, str]:
    """Jupyter's view of a Graph or Node: SVG when ``dot`` exists, else text with a hint."""
    text = repr(graph_or_nodes[0] if isinstance(graph_or_nodes, list) and
                len(graph_or_nodes) == 1 else graph_or_nodes)
    if isinstance(graph_or_nodes, Graph) and len(graph_or_nodes) == 0:
        return {"text/plain": text}
    if not dot_available():
        return {"text/plain": f"{text}\n(to see it drawn, {INSTALL_HINT})"}
    try:
        return {"image/svg+xml": draw(graph_or_nodes).svg, "text/plain": text}
    except SymgraphError as e:
        return {"text/plain": f"{text}\n(cannot draw it: {e})"}


register_display(mimebundle)  # Graph and Node show themselves in Jupyter through it
