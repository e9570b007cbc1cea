"""The G′ view of a picture: what ``build_grad`` walks and makes for some nodes ``wrt``.

``sg.draw(outputs, wrt=[w])`` shows G′, the part of the forward graph
between ``w`` and what is differentiated, and only the gradient nodes that
differentiation made for ``w``: those on the paths from the seed to the
gradient with respect to ``w``.  A graph does not record which gradient
node is the gradient of what, so this module replays ``sg.grad`` on a
private copy of the graph and finds the nodes it makes in the user's graph
by their structure (``Graph.find``: nodes are hash-consed, so building the
same op on the same inputs again names the same node).  The user's graph
gains no node.

What is differentiated (the roots): the scalar outputs drawn and the
scalar sinks of each order in the graph (nodes no node of their own order
or lower consumes, as a loss is), whenever the picture holds gradient nodes
of the next order.  A root whose replayed gradient is not in the picture
was not differentiated with respect to ``wrt`` there, and adds nothing.

Through a loop or a branch (``sg.scan``, ``sg.while_loop``, ``sg.cond``) the
replay would build gradient bodies in the graphs of their bodies, which the
user's graph shares, so a root that depends on one is not replayed: its view
is plain G′, every node between ``wrt`` and the outputs.
"""

from __future__ import annotations

from typing import Sequence

from .autodiff import grad
from .errors import SymgraphError
from .graph import Graph, Node, apply
from .ops.base import is_inexact
from .render_flow import private_copy, runs_bodies
from .traversal import ancestors, pruned_subgraph


def gprime(outputs: Sequence[Node], wrt: Sequence[Node], drawn: Sequence[Node]) -> list[Node]:
    """The nodes of ``drawn`` (the outputs and their ancestors) that the G′ view of ``wrt``
    shows, in topological order.

    That is G′ of each root whose gradient with respect to ``wrt`` is drawn, with the
    gradient nodes that gradient is built from, and G′ of each forward output.  When
    no drawn gradient is one of those, it is plain G′ of the outputs (the part of them
    that depends on ``wrt``), as for a forward graph.
    """
    in_picture = set(drawn)
    graph = outputs[0].graph
    orders = {n.order for n in drawn if n.role == "gradient"}
    core: set[Node] = set()
    explained = False
    for root in roots(graph, outputs, orders):
        made = replayed(root, wrt, graph)
        found = [n for n in made if n in in_picture]
        if found:
            explained = True
            core.update(found)
            core.update(n for n in pruned_subgraph([root], wrt) if n in in_picture)
    if not explained:
        return [n for n in pruned_subgraph(list(outputs), wrt) if n in in_picture]
    forward = [o for o in outputs if o.role != "gradient"]
    core.update(n for n in pruned_subgraph(forward, wrt) if n in in_picture)
    return sorted(core, key=_node_id)


def roots(graph: Graph, outputs: Sequence[Node], orders: set[int]) -> list[Node]:
    """The scalar nodes whose gradients the picture may hold: its scalar outputs and the
    graph's scalar sinks of each order, when gradient nodes of the next order are drawn."""
    lowest: dict[Node, int] = {}  # the lowest order among each node's consumers
    for n in graph.nodes:
        for i in n.inputs:
            if lowest.get(i, n.order + 1) > n.order:
                lowest[i] = n.order
    given = set(outputs)
    found: dict[Node, None] = {}
    for n in list(outputs) + graph.nodes:
        if n.graph is not graph or n.shape != () or not is_inexact(n.dtype):
            continue
        if n.order + 1 not in orders:
            continue
        if n in given or lowest.get(n, n.order + 1) > n.order:
            found[n] = None
    return list(found)


def replayed(root: Node, wrt: Sequence[Node], graph: Graph) -> list[Node]:
    """The nodes of ``graph`` that ``sg.grad(root, wrt)`` makes (gradient nodes and the
    constants they use), on the paths to the gradients; none when they are not all in
    ``graph``, the gradient cannot be built, or it would be built through a loop."""
    part = ancestors([root])
    if not set(wrt) & set(part) or any(runs_bodies(n) for n in part):
        return []  # through a loop, the replay would build gradient bodies in its body graph
    scratch = Graph("symgraph.render G′ replay", fold=graph.fold)
    copy: dict[Node, Node] = {}
    back: dict[Node, Node] = {}
    with scratch:  # the same ops on copies, as written (apply never folds)
        for n in part:
            op = n.op if n.op.is_variable else private_copy(n.op)
            c = apply(op, tuple(copy[i] for i in n.inputs))
            copy[n] = c
            back[c] = n
    n_copied = len(scratch)
    targets = [copy[w] for w in wrt if w in copy]
    try:
        results = grad(copy[root], targets)
    except SymgraphError:
        return []
    made = scratch.nodes[n_copied:]
    for c in made:  # in creation order: inputs first
        if c in back:
            continue
        inputs = [back.get(i) for i in c.inputs]
        if any(i is None for i in inputs):
            continue
        found = graph.find(c.op, inputs)  # type: ignore[arg-type]
        if found is not None:
            back[c] = found
    new = set(made)
    out: list[Node] = []
    for r in results:
        if r not in back:
            continue  # not built in the user's graph: not drawn
        out += [back[c] for c in ancestors([r]) if c in new and c in back]
    return list(dict.fromkeys(out))


def _node_id(n: Node) -> int:
    return n.id


__all__ = ["gprime", "roots", "replayed"]
