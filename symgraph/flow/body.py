"""Bodies: a function traced once into a graph of its own, and the bodies derived from it.

``sg.scan``'s ``fn``, ``sg.while_loop``'s ``cond_fn``/``body_fn`` and
``sg.cond``'s branches are each called once, on variables of a new graph
whose ``parent`` is the graph around them (as a jaxpr, or PyTensor's inner
graph).  Nodes of the enclosing graphs the function uses are *captured*
(``Graph.capture``): they become variables of the body, and the loop or
branch node takes the outer nodes as inputs, so gradients reach them.

Derived bodies live in the same graph as the body they come from:
``body_vjp`` inserts the body's gradient nodes (``build_grad`` on the body
graph), ``body_jvp`` its tangent nodes.  So a loop's reverse sweep is another
loop over a body built once, and differentiating it again differentiates
that body again: any order, and the pictures colour body nodes by order.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..autodiff import build_grad, build_jvp
from ..errors import SymgraphError
from ..graph import Graph, Node, get_default_graph
from ..ops.base import as_node, is_inexact
from ..ops.sources import variable, zeros
from ..traversal import ancestors, paused_gc

#: (name, shape, dtype) of one input of a body
Spec = tuple[str, tuple[int, ...], np.dtype]


class Body:
    """A traced function: variables ``inputs`` and result nodes ``outputs`` of ``graph``.

    ``inputs`` ends with the variables standing for captured outer nodes;
    ``captured`` lists those outer nodes, nodes of ``graph.parent`` (a traced body's; a
    derived body has none of its own: the loop node that runs it says what its inputs are).  A body
    is immutable and hashes by identity; derived bodies share its graph.
    """

    __slots__ = ("graph", "inputs", "outputs", "captured", "_derived", "__weakref__")

    def __init__(self, graph: Graph, inputs: Sequence[Node], outputs: Sequence[Node],
                 captured: Sequence[Node] = ()) -> None:
        self.graph = graph
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.captured = tuple(captured)
        self._derived: dict[tuple, Any] = {}
        for n in self.inputs + self.outputs:
            if n.graph is not graph:
                raise SymgraphError(f"body: {n!r} is not a node of the body's graph {graph!r}")

    def nodes(self) -> list[Node]:
        """The body's nodes the outputs need, in topological order."""
        return ancestors(list(self.outputs), stop=frozenset(self.inputs))

    def derived(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A body derived from this one (its vjp, its jvp...), made once per ``key``."""
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = make()
        return found

    def __repr__(self) -> str:
        return (f"<Body of {len(self.inputs)} inputs, {len(self.outputs)} outputs in "
                f"{self.graph!r}>")


def trace(fn: Callable[[list[Node]], Sequence[Any]], specs: Sequence[Spec], what: str, *,
          parent: Graph | None = None, order: int | None = None) -> Body:
    """Call ``fn`` once on fresh variables of a new body graph and return the Body.

    ``fn`` takes the list of input variables and returns a flat sequence of
    results (nodes of this body or of enclosing graphs, arrays, numbers).
    ``order`` marks the nodes made as gradient nodes of that order (a body
    traced while building a derivative).
    """
    parent = parent if parent is not None else get_default_graph()
    graph = Graph(f"{what} body", parent=parent)
    inputs = [variable(name, shape, dtype, graph=graph) for name, shape, dtype in specs]
    with paused_gc(), graph:
        if order is not None:
            with graph.building("gradient", order):
                raw = fn(inputs)
        else:
            raw = fn(inputs)
        outputs = [_as_body_node(graph, r, what) for r in raw]
    captured = graph.captures
    cap_vars = [graph.capture(c) for c in captured]
    stray = [v for v in graph.variables() if v not in set(inputs) | set(cap_vars)]
    if stray:
        names = ", ".join(repr(v.name) for v in stray)
        raise SymgraphError(f"{what}: the function made variable(s) {names} inside its body; make "
                            "variables outside and use them from the body (they are captured)")
    graph.seal()
    return Body(graph, inputs + cap_vars, outputs, captured)


def _as_body_node(graph: Graph, value: Any, what: str) -> Node:
    if isinstance(value, Node):
        return graph.capture(value) if value.graph is not graph else value
    try:
        node = as_node(value)
    except SymgraphError as e:
        raise SymgraphError(f"{what}: the function returned {type(value).__name__} {value!r:.40}, "
                            f"not a node or array: {e}") from None
    return graph.capture(node) if node.graph is not graph else node


def graph_of(nodes: Sequence[Node]) -> Graph:
    """The graph a loop over ``nodes`` is built in: the innermost of theirs and the default."""
    graph = nodes[0].graph if nodes else get_default_graph()
    for g in [n.graph for n in nodes[1:]] + [get_default_graph()]:
        if g is not graph and graph.encloses(g):
            graph = g
    return graph



def with_inputs(body: Body, inputs: Sequence[Node], outputs: Sequence[Node] | None = None) -> Body:
    """``body`` over another list of its graph's variables (extra ones unused)."""
    return Body(body.graph, inputs, body.outputs if outputs is None else outputs, body.captured)


def fresh_inputs(body: Body, nodes: Sequence[Node], prefix: str) -> list[Node]:
    """New variables of ``body``'s graph shaped like ``nodes`` (seeds, tangents, stand-ins)."""
    return [variable(f"{prefix}{k}", n.shape, n.dtype, graph=body.graph)
            for k, n in enumerate(nodes)]


def body_vjp(body: Body, seeded: Sequence[Node], wrt: Sequence[Node]) -> tuple[list[Node], list[Node]]:
    """Seeds (one variable per node of ``seeded``) and the gradient nodes of
    ``sum <seeded_i, seed_i>`` with respect to each of ``wrt`` (body variables), all in
    the body's graph; made once per (seeded, wrt)."""
    def make() -> tuple[list[Node], list[Node]]:
        seeds = fresh_inputs(body, seeded, "ct")
        grads = build_grad(list(seeded), seeds, list(wrt)) if seeded else \
            [zeros_in(body.graph, w) for w in wrt]
        return seeds, grads

    return body.derived(("vjp", tuple(seeded), tuple(wrt)), make)


def body_jvp(body: Body, outs: Sequence[Node], moving: Sequence[Node]) -> tuple[list[Node], list[Node]]:
    """Tangent variables (one per node of ``moving``) and the tangents of ``outs``; made once."""
    def make() -> tuple[list[Node], list[Node]]:
        tangents = fresh_inputs(body, moving, "dot")
        inexact = [o for o in outs if is_inexact(o.dtype)]
        got = dict(zip(inexact, build_jvp(inexact, list(moving), tangents))) if moving else {}
        return tangents, [got.get(o) if o in got else zeros_in(body.graph, o) for o in outs]

    return body.derived(("jvp", tuple(outs), tuple(moving)), make)


def refs_in(values: Any) -> list[Body | Node]:
    """The bodies and nodes inside op parameter values (tuples, lists and dicts of them, as a
    loop's records): what saving, loading and simplifying a loop or branch must follow."""
    out: list[Body | Node] = []
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, (Body, Node)):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return out


def zeros_in(graph: Graph, like: Node) -> Node:
    return zeros(like.shape, like.dtype, graph=graph)


# ---------------------------------------------------------------------------
# running a body: the evaluator registers how (it is a layer above)
# ---------------------------------------------------------------------------

_RUNNER: Callable[[Sequence[Node], Sequence[Node]], Callable[[list], list]] | None = None


def register_runner(make: Callable[[Sequence[Node], Sequence[Node]], Callable[[list], list]]) -> None:
    """``make(outputs, inputs)`` returns ``run(input_values) -> output values``; called by
    ``symgraph.evaluate`` on import (the evaluator runs bodies with the same checks)."""
    global _RUNNER
    _RUNNER = make


def body_runner(body: Body, outputs: Sequence[Node]) -> Callable[[list], list]:
    """``run(values of body.inputs) -> values of outputs`` (nodes of the body), made once."""
    def make() -> Callable[[list], list]:
        if _RUNNER is None:  # pragma: no cover - symgraph.evaluate is imported by the package
            raise SymgraphError("no body runner registered: import symgraph")
        return _RUNNER(list(outputs), list(body.inputs))

    return body.derived(("run", tuple(outputs)), make)


__all__ = ["Body", "trace", "graph_of", "with_inputs", "fresh_inputs", "body_vjp", "body_jvp", "register_runner",
           "body_runner", "zeros_in", "refs_in"]
