"""Symbol-to-symbol differentiation: reverse mode (build_grad) and forward mode (jvp).

Both insert new nodes into the graph that holds ``y`` and never evaluate
anything.  The nodes they make are marked role "gradient" with order
``1 + the highest order among the nodes differentiated``, so a gradient of a
gradient has order 2, and so on.

The walk is the back-propagation chapter's ``build_grad`` done iteratively:
prune to the ancestors of ``y`` that are descendants of ``wrt``, visit them in
reverse creation (= reverse topological) order, and sum every node's
contributions from all of its consumers once.  Cost: O(nodes + edges).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import (DTypeError, GraphMismatchError, ShapeError, SymgraphError,
                     UndefinedGradientError)
from .graph import Graph, Node, common_graph
from .ops.base import Op, as_node, is_inexact
from .ops.elementwise import add_n, cast
from .ops.folding import is_value
from .ops.reduce import sum as reduce_sum
from .ops.sources import Full, full, zeros_like
from .ops.tuples import Item
from .structure import flatten
from .traversal import paused_gc, pruned_subgraph

# ---------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------


def check_wrt(wrt: Any, what: str) -> tuple[list[Node], Any]:
    leaves, unflatten = flatten(wrt, lambda t: isinstance(t, Node))
    if not leaves:
        raise SymgraphError(f"{what}: wrt is empty")
    for w in leaves:
        if not isinstance(w, Node):
            raise SymgraphError(f"{what}: wrt must be a Node or a list of Nodes, got "
                                f"{type(w).__name__} {w!r:.80}")
        if not is_inexact(w.dtype):
            raise DTypeError(f"{what}: cannot differentiate with respect to {node_label(w)} of "
                             f"dtype {w.dtype}; only floating-point nodes have derivatives")
    return leaves, unflatten


def node_label(n: Node) -> str:
    return f"variable {n.name!r}" if n.name else f"node #{n.id} ({n.op.name})"


def lifted(graph: Graph, nodes: list[Node]) -> list[Node]:
    """``nodes`` as nodes of ``graph``: inside a loop or branch body, an outer node the body
    uses is its captured variable (``Graph.capture``), so ``sg.grad(f, W)`` works in a body."""
    return [graph.capture(n) if n.graph is not graph and n.graph.encloses(graph) else n
            for n in nodes]


def same_graph(nodes: Sequence[Node], what: str) -> Graph:
    try:
        return common_graph(list(nodes))
    except GraphMismatchError as e:
        raise GraphMismatchError(f"{what}: {e}") from None


def seed_for(y: Node, grad_y: Any, what: str) -> Node:
    if not is_inexact(y.dtype):
        raise DTypeError(f"{what}: cannot differentiate {node_label(y)} of dtype {y.dtype}")
    if grad_y is None:
        if y.shape != ():
            raise ShapeError(f"{what}: y has shape {y.shape}; gradients need a scalar y, or pass "
                             f"grad_y (a cotangent of shape {y.shape}) to get a vector-Jacobian "
                             "product")
        return full((), 1, y.dtype, graph=y.graph)
    g = as_node(grad_y, like=y)
    if g.graph is not y.graph:
        raise GraphMismatchError(f"{what}: grad_y belongs to another graph than y")
    if g.shape != y.shape:
        raise ShapeError(f"{what}: grad_y has shape {g.shape} but y has shape {y.shape}")
    return cast(g, y.dtype)


def _check_rules(op: Op, node: Node, rules: Any) -> None:
    """A bprop result must be a list or tuple with one entry per input."""
    n = len(node.inputs)
    if not isinstance(rules, (list, tuple)) or len(rules) != n:
        got = (f"{len(rules)} entr{'y' if len(rules) == 1 else 'ies'}"
               if isinstance(rules, (list, tuple)) else type(rules).__name__)
        raise SymgraphError(f"bprop of op {op.name!r} (node #{node.id}) returned {got} for its "
                            f"{n} input{'s' if n != 1 else ''}; it must return a list with one "
                            "entry (a Node, None or a callable) per input")


def _bprop(op: Op, node: Node, g: Node, needs: list[bool]) -> list:
    """The op's bprop entries for ``node`` (checked: one per input), given only what is needed."""
    if op.bprop is None:
        raise UndefinedGradientError(
            f"op {op.name!r} (node #{node.id}) defines no bprop, so no gradient can flow "
            "through it; define bprop on the op or wrap its input in stop_gradient")
    if op.bprop_takes_needs:
        rules = op.bprop(node.inputs, node, g, needs)
    else:
        rules = op.bprop(node.inputs, node, g)
    _check_rules(op, node, rules)
    return rules


def _resolve(rule: Any) -> Node | None:
    return rule() if callable(rule) and not isinstance(rule, Node) else rule


def _checked(op: Op, k: int, inp: Node, g: Any, graph: Graph, what: str) -> Node:
    """A rule's result for input ``k``: a node of the input's graph, shape and dtype."""
    if not isinstance(g, Node):
        raise SymgraphError(f"{what} of op {op.name!r} returned {type(g).__name__} for input {k}; "
                            "expected a Node, None or a callable returning a Node")
    if g.graph is not graph:
        raise GraphMismatchError(f"{what} of op {op.name!r} returned a node of another graph "
                                 f"for input {k}")
    if g.shape != inp.shape:
        raise ShapeError(f"{what} of op {op.name!r} returned shape {g.shape} for input {k}, "
                         f"whose shape is {inp.shape}")
    return cast(g, inp.dtype) if g.dtype != inp.dtype else g


# ---------------------------------------------------------------------------
# reverse mode
# ---------------------------------------------------------------------------


def build_grad(ys: Sequence[Node], grad_ys: Sequence[Node], wrt: Sequence[Node], *,
               order: int | None = None) -> list[Node]:
    """Gradient nodes of ``sum_i <ys[i], grad_ys[i]>`` with respect to each node of ``wrt``.

    ``grad_ys[i]`` must already be nodes shaped like ``ys[i]``.  Nodes of
    ``wrt`` that the ys do not depend on get zeros of their shape.  ``order``
    overrides the differentiation order given to the new nodes (by default one
    more than the highest order among the nodes differentiated).
    """
    graph = same_graph(list(ys) + list(grad_ys) + list(wrt), "grad")
    with paused_gc():
        return _build_grad(graph, ys, grad_ys, wrt, order)


def _build_grad(graph: Graph, ys, grad_ys, wrt, order: int | None) -> list[Node]:
    relevant = pruned_subgraph(ys, wrt)
    relevant_set = set(relevant)
    if order is None:
        order = 1 + max((n.order for n in relevant), default=0)
    wrt_set = set(wrt)
    table: dict[Node, Node] = {}
    # a scalar y seeded with one: each node's total cotangent is dy/dnode (for pictures)
    # (not for the transpose trick's private sweep, whose "y" is no one's function)
    named = graph.derivatives if len(ys) == 1 and ys[0].shape == () and \
        is_value(grad_ys[0], 1) and not any(type(w.op) is LinearizationPoint for w in wrt) \
        else None
    with graph.building("gradient", order):
        pending: dict[Node, list[Node]] = {}
        for y, gy in zip(ys, grad_ys):
            if y in relevant_set:
                pending.setdefault(y, []).append(gy)
        # a multiple_results node's cotangents, per part, from its Item nodes
        parts: dict[Node, dict[int, list[Node]]] = {}
        for node in reversed(relevant):
            op = node.op
            if op.multiple_results:
                found_parts = parts.pop(node, None)
                if not found_parts:
                    continue
                g = [None] * op.result_count(node)
                for k, cs in found_parts.items():
                    g[k] = cs[0] if len(cs) == 1 else add_n(cs)
            else:
                contribs = pending.pop(node, None)
                if not contribs:
                    continue  # nothing flows back through this node (e.g. stop_gradient)
                g = contribs[0] if len(contribs) == 1 else add_n(contribs)
                if node in wrt_set:
                    table[node] = g
                # only nodes made by this sweep: a name then always raises the order along a
                # chain of derivatives of derivatives, so the chain ends (no cycles)
                if named is not None and g.order == order and g.role == "gradient" \
                        and g not in named:
                    named[g] = (ys[0], node)
                if type(op) is Item:
                    parts.setdefault(node.inputs[0], {}).setdefault(op.index, []).append(g)
                    continue
            if not op.differentiable:
                continue
            needs = [i in relevant_set and i.dtype.kind in "fc" for i in node.inputs]
            if not any(needs):
                continue
            rules = _bprop(op, node, g, needs)
            for k, inp in enumerate(node.inputs):
                rule = rules[k]
                if not needs[k] or rule is None:
                    continue
                c = rule if type(rule) is Node else _resolve(rule)
                if c is None:
                    continue
                if not (type(c) is Node and c.graph is graph and c.shape == inp.shape
                        and c.dtype == inp.dtype):
                    c = _checked(op, k, inp, c, graph, "bprop")
                found = pending.get(inp)
                if found is None:
                    pending[inp] = [c]
                else:
                    found.append(c)
        return [table[w] if w in table else zeros_like(w) for w in wrt]


def grad(y: Node, wrt: Any, grad_y: Any = None) -> Any:
    """Gradient nodes of ``y`` with respect to ``wrt``, in the same graph.

    Reverse mode (the back-propagation chapter's ``build_grad``): one sweep
    over the ancestors of ``y`` that depend on ``wrt``, in linear time.  Nothing
    is evaluated; the result is new nodes (role ``"gradient"``, order one more
    than the highest order differentiated), which can be evaluated, compiled,
    drawn, or differentiated again for higher orders.

    Parameters
    ----------
    y : Node
        What to differentiate: a floating-point node, a scalar unless
        ``grad_y`` is given.
    wrt : Node or list, tuple or dict of Node
        The nodes to differentiate with respect to: variables or any
        intermediate node (its own ancestors are then held fixed), floating
        point only, possibly nested.  The result has the same structure.
    grad_y : Node or array_like, optional
        The cotangent of ``y`` (its shape, cast to its dtype).  Default None:
        1 for a scalar ``y``, and an error (``ShapeError``) for any other shape.
        Given, the result is the vector-Jacobian product
        ``grad_y^T (dy/dwrt)`` (see ``vjp``).

    Returns
    -------
    Node or list, tuple or dict of Node
        Shaped like ``wrt``, each entry with its node's shape and dtype.  A node
        that ``y`` does not depend on gets zeros.

    Raises
    ------
    ShapeError
        ``y`` is not a scalar and no ``grad_y`` was given, or ``grad_y`` has the
        wrong shape.
    DTypeError
        ``y`` or a ``wrt`` node is not floating point.
    UndefinedGradientError
        The path from ``wrt`` to ``y`` goes through an op without ``bprop``.

    See Also
    --------
    vjp, jvp, hvp, jacobian, hessian

    Examples
    --------
    >>> w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    >>> f = (w * x - y) ** 2
    >>> dw, dx = sg.grad(f, [w, x])
    >>> sg.evaluate([dw, dx], {"w": 1.0, "x": 2.0, "y": 3.0})
    [array(-4.), array(-2.)]
    >>> sg.evaluate(sg.grad(dw, w), {"w": 1.0, "x": 2.0, "y": 3.0})   # 2 x**2
    array(8.)

    A non-scalar ``y`` needs a cotangent:

    >>> v = sg.variable("v", (3,))
    >>> sg.evaluate(sg.grad(v ** 2, v, grad_y=[1.0, 0.0, 2.0]), {v: [1.0, 2.0, 3.0]})
    array([ 2.,  0., 12.])
    """
    if not isinstance(y, Node):
        raise SymgraphError(f"grad: y must be a Node, got {type(y).__name__}")
    leaves, unflatten = check_wrt(wrt, "grad")
    leaves = lifted(y.graph, leaves)
    same_graph([y] + leaves, "grad")
    seed = seed_for(y, grad_y, "grad")
    return unflatten(build_grad([y], [seed], leaves))


def vjp(y: Node, wrt: Any, cotangent: Any) -> Any:
    """Vector-Jacobian product ``cotangent^T (dy/dwrt)`` by reverse mode.

    The same as ``grad(y, wrt, grad_y=cotangent)``, with the cotangent required.

    Parameters
    ----------
    y : Node
        A floating-point node of any shape.
    wrt : Node or list, tuple or dict of Node
        As for ``grad``; the result has the same structure.
    cotangent : Node or array_like
        Shaped like ``y``.

    Returns
    -------
    Node or list, tuple or dict of Node
        Shaped like ``wrt``.

    See Also
    --------
    grad, jvp

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> u = sg.vjp(sg.sin(x), x, np.array([1.0, 0.0, 2.0]))   # cos(x) * cotangent
    >>> sg.evaluate(u, {x: np.zeros(3)})
    array([1., 0., 2.])
    """
    if cotangent is None:
        raise SymgraphError("vjp: a cotangent shaped like y is required")
    return grad(y, wrt, grad_y=cotangent)


# ---------------------------------------------------------------------------
# forward mode
# ---------------------------------------------------------------------------


class LinearizationPoint(Full):
    """Zeros that are never shared with other nodes: the dummy cotangent used
    to transpose a bprop rule into a forward-mode rule."""

    name = "linearization_point"

    def cse_key(self) -> None:
        return None


def _jvp_from_bprop(node: Node, tangents: list[Node | None], order: int) -> Node | None:
    """Forward-mode rule of an op that only has ``bprop`` (the transpose trick).

    ``bprop`` is linear in its cotangent ``u``, so ``J t = grad_u <bprop(u), t>``
    evaluated at any ``u``; ``u`` is a private zeros node so the result never
    depends on it numerically.  This costs one extra small reverse sweep over
    the nodes of the bprop rule, per use; an op that is differentiated in
    forward mode often should define ``jvp``.
    """
    op = node.op
    if op.bprop is None:
        raise UndefinedGradientError(f"op {op.name!r} (node #{node.id}) defines neither jvp nor "
                                     "bprop, so no derivative can flow through it")
    u = node.graph._add(LinearizationPoint(0, node.shape, node.dtype), ())
    rules = _bprop(op, node, u, [t is not None for t in tangents])
    terms = []
    for k, (inp, rule, t) in enumerate(zip(node.inputs, rules, tangents)):
        if t is None or rule is None:
            continue
        r = _resolve(rule)
        if r is not None:
            terms.append(reduce_sum(_checked(op, k, inp, r, node.graph, "bprop") * t))
    if not terms:
        return None
    (jt,) = build_grad([add_n(terms)], [full((), 1, terms[0].dtype, graph=node.graph)], [u],
                       order=order)
    return jt


def build_jvp(ys: Sequence[Node], wrt: Sequence[Node], tangents: Sequence[Node]) -> list[Node]:
    """Tangent nodes of each of ``ys`` when ``wrt`` moves along ``tangents``."""
    graph = same_graph(list(ys) + list(wrt) + list(tangents), "jvp")
    relevant = pruned_subgraph(ys, wrt)
    order = 1 + max((n.order for n in relevant), default=0)
    tangent_of: dict[Node, Node | None] = {}
    with graph.building("gradient", order):
        for w, t in zip(wrt, tangents):  # a node listed twice moves by the sum of its tangents
            tangent_of[w] = t if w not in tangent_of else tangent_of[w] + t
        for node in relevant:
            if node in tangent_of:
                continue
            if type(node.op) is Item:  # one part of its tuple node's tangents
                parts = tangent_of.get(node.inputs[0])
                t = parts[node.op.index] if parts is not None and node.op.index < len(parts) else None
                tangent_of[node] = t if t is not None and is_inexact(node.dtype) else None
                continue
            ts = [tangent_of.get(i) for i in node.inputs]
            ts = [t if t is not None and is_inexact(i.dtype) else None for i, t in zip(node.inputs, ts)]
            if all(t is None for t in ts):
                tangent_of[node] = None
                continue
            op = node.op
            if op.multiple_results:
                tangent_of[node] = op.jvp(node.inputs, node, ts)
                continue
            out = (op.jvp(node.inputs, node, ts) if op.jvp is not None
                   else _jvp_from_bprop(node, ts, order))
            if out is not None:
                if not isinstance(out, Node):
                    raise SymgraphError(f"jvp of op {op.name!r} returned {type(out).__name__}; "
                                        "expected a Node or None")
                if out.shape != node.shape:
                    raise ShapeError(f"jvp of op {op.name!r} returned shape {out.shape}; the "
                                     f"op's output has shape {node.shape}")
                if out.dtype != node.dtype and is_inexact(node.dtype):
                    out = cast(out, node.dtype)
            tangent_of[node] = out
        results = []
        for y in ys:
            t = tangent_of.get(y)
            results.append(t if t is not None else zeros_like(y))
        return results


def jvp(y: Any, wrt: Any, tangent: Any) -> Any:
    """Jacobian-vector product ``(dy/dwrt) tangent`` by forward mode.

    ``wrt`` and ``tangent`` have the same structure (a node, or a list of
    nodes); each tangent is shaped like its wrt node.  ``y`` may be a node or a
    list of nodes; the result mirrors ``y``.  Every op's ``jvp`` rule is used;
    an op that only defines ``bprop`` is differentiated by transposing it.
    Tangents are seeds, never differentiated here.

    Forward mode costs one sweep per tangent whatever the size of ``y``: the
    better choice when ``y`` has more elements than ``wrt``.

    Parameters
    ----------
    y : Node or list of Node
        Floating-point nodes of any shape.
    wrt : Node or list of Node
        The nodes that move.
    tangent : Node or array_like, or a list of them
        The direction, with the structure of ``wrt``; each shaped like its node.

    Returns
    -------
    Node or list of Node
        Shaped like ``y``: the directional derivative of each.

    See Also
    --------
    grad, vjp, hvp

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> t = sg.jvp(x ** 2, x, np.array([1.0, 0.0, 2.0]))     # 2 x * t
    >>> sg.evaluate(t, {x: [1.0, 2.0, 3.0]})
    array([ 2.,  0., 12.])
    >>> sg.evaluate(sg.jvp([sg.sum(x ** 2), x[0]], x, np.ones(3)), {x: [1.0, 2.0, 3.0]})
    [array(12.), array(1.)]
    """
    ys, unflatten_y = flatten(y, lambda t: isinstance(t, Node))
    for n in ys:
        if not isinstance(n, Node):
            raise SymgraphError(f"jvp: y must be a Node or a list of Nodes, got {type(n).__name__}")
    leaves, _ = check_wrt(wrt, "jvp")
    leaves = lifted(ys[0].graph, leaves) if ys else leaves
    tleaves, _ = flatten(tangent, lambda t: isinstance(t, Node))
    if len(tleaves) != len(leaves):
        raise SymgraphError(f"jvp: {len(leaves)} wrt nodes but {len(tleaves)} tangents")
    graph = same_graph(ys + leaves, "jvp")
    tnodes = []
    for w, t in zip(leaves, tleaves):
        t = as_node(t, like=w) if isinstance(t, Node) else as_node(np.asarray(t, dtype=w.dtype), like=w)
        if t.graph is not graph:
            raise GraphMismatchError("jvp: a tangent belongs to another graph")
        if t.shape != w.shape:
            raise ShapeError(f"jvp: tangent of shape {t.shape} for {node_label(w)} of shape {w.shape}")
        tnodes.append(cast(t, w.dtype))
    return unflatten_y(build_jvp(ys, leaves, tnodes))
