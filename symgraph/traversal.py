"""Walks over the graph: the ancestors of some nodes, the part between two sets of nodes.

Every pass that reads a graph (autodiff, rewriting, evaluation, compilation,
saving, drawing) starts from these.  They are loops over explicit stacks and
sets, linear in the nodes and edges they visit, so graphs of any depth work.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterable, Iterator, Sequence

from .graph import Node



def ancestors(outputs: Iterable[Node], stop: set[Node] | frozenset = frozenset()) -> list[Node]:
    """The outputs and every node they depend on, in creation (topological) order.

    The walk does not go past nodes in ``stop`` (they are included themselves).
    """
    outputs = list(outputs)
    if not outputs:
        return []
    nodes = outputs[0].graph._nodes
    seen: set[int] = set()
    todo = outputs
    while todo:
        n = todo.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if n not in stop:
            todo.extend(n.inputs)
    return [nodes[i] for i in sorted(seen)]


def pruned_subgraph(ys: Sequence[Node], wrt: Sequence[Node]) -> list[Node]:
    """G': ancestors of ``ys`` that are also descendants of ``wrt``, topologically ordered."""
    relevant: set[Node] = set(wrt)
    out = []
    for n in ancestors(ys):
        if n in relevant:
            out.append(n)
            continue
        for i in n.inputs:
            if i in relevant:
                relevant.add(n)
                out.append(n)
                break
    return out


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many nodes at once.

    Building creates hundreds of thousands of long-lived objects; CPython's
    collector would otherwise rescan the growing heap over and over.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["ancestors", "pruned_subgraph", "paused_gc"]
