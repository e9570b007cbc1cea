"""``substitute`` and ``vectorize``: the outputs rebuilt with some nodes replaced.

Both walk only the nodes between the replaced nodes and the outputs (the
pruned subgraph), once each, in topological order: linear in the size of
that part, no recursion.  Nodes outside it are shared with the original
graph, so a vectorized Hessian keeps one copy of the forward pass and the
gradient, and batches only what depends on the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, GraphMismatchError, ShapeError, SymgraphError
from ..graph import Graph, Node, apply, common_graph
from ..ops.base import DTYPE, SHAPE, Op
from ..ops.batching import add_batch, batch_by_loop
from ..structure import flatten
from ..ops.sources import constant
from ..traversal import ancestors, paused_gc, pruned_subgraph


class Placeholder(Op):
    """A stand-in that a transform replaces before anything runs: the seed of a sweep
    that ``vectorize`` then batches over identity or colour seeds.  Never shared (each is
    its own node) and zeros if ever evaluated."""

    name = "placeholder"
    param_types = {"shape": SHAPE, "dtype": DTYPE}

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, dtype

    def cse_key(self) -> None:
        return None

    def infer(self):
        return self.shape, self.dtype

    def f(self):
        return np.zeros(self.shape, self.dtype)

    def to_sympy(self, bridge, node):
        return np.full(self.shape, bridge.number(np.asarray(0, self.dtype)), dtype=object)


def placeholder(shape: tuple[int, ...], dtype: np.dtype, graph: Graph) -> Node:
    """A fresh ``Placeholder`` node in ``graph``."""
    return graph._add(Placeholder(tuple(shape), np.dtype(dtype)), ())


def _label(n: Node) -> str:
    return f"variable {n.name!r}" if n.name else f"node #{n.id} ({n.op.name})"


def _pairs(outputs: Any, replace: Any, what: str) -> tuple[list[Node], Any, dict[Node, Node]]:
    """The outputs as a flat list, their rebuilder, and ``replace`` as a node -> node dict.

    A key may be a variable's name (looked up among the variables the outputs
    depend on, as ``sg.evaluate`` does); a value may be an array, which becomes
    a constant of the key's dtype.
    """
    outs, unflatten = flatten(outputs, lambda t: isinstance(t, Node))
    for o in outs:
        if not isinstance(o, Node):
            raise SymgraphError(f"{what}: outputs must be nodes (or nested lists/tuples/dicts of "
                                f"nodes), got {type(o).__name__}")
    if not isinstance(replace, dict):
        raise SymgraphError(f"{what}: replace must be a dict mapping nodes (or variable names) "
                            f"to nodes or arrays, got {type(replace).__name__}")
    try:
        graph = common_graph(outs + [k for k in replace if isinstance(k, Node)]
                             + [v for v in replace.values() if isinstance(v, Node)])
    except GraphMismatchError as e:
        raise GraphMismatchError(f"{what}: {e}") from None
    table: dict[Node, Node] = {}
    for k, v in replace.items():
        if isinstance(k, str):
            k = _variable_named(k, outs, what)
        if not isinstance(k, Node):
            raise SymgraphError(f"{what}: replace's keys must be nodes or variable names, got "
                                f"{type(k).__name__}")
        if not isinstance(v, Node):
            try:
                v = constant(np.asarray(v, dtype=k.dtype), graph=graph)
            except (TypeError, ValueError) as e:
                raise SymgraphError(f"{what}: the value for {_label(k)} is neither a node nor "
                                    f"an array of its dtype {k.dtype}: {e}") from None
        table[k] = v
    return outs, unflatten, table


def _variable_named(name: str, outs: list[Node], what: str) -> Node:
    found = [n for n in ancestors(outs) if n.op.is_variable and n.name == name]
    if len(found) != 1:
        why = "none of" if not found else f"{len(found)} variables of"
        raise SymgraphError(f"{what}: {why} the outputs' variables is named {name!r}; pass the "
                            "node itself")
    return found[0]


def substitute(outputs: Any, replace: dict[Node, Node]) -> Any:
    """The outputs rebuilt with each key node of ``replace`` swapped for its value node.

    Values must have their key's shape and dtype (arrays become constants);
    keys may be variable names.  The result mirrors
    ``outputs`` (a node, or nested lists/tuples/dicts of nodes); outputs that
    do not depend on any key come back unchanged.  Example: with
    ``y = sg.exp(x) * w``, ``sg.substitute(y, {x: sg.log(z)})`` is
    ``sg.exp(sg.log(z)) * w``.

    Parameters
    ----------
    outputs : Node or list, tuple or dict of Node
        What to rebuild.
    replace : dict
        Node (or variable name) to its replacement: a node or array of the
        same shape and dtype.

    Returns
    -------
    Node or list, tuple or dict of Node
        In the structure of ``outputs``, in the same graph.

    Raises
    ------
    ShapeError, DTypeError
        A replacement of another shape or dtype than its key.

    See Also
    --------
    vectorize

    Examples
    --------
    >>> x, w, z = sg.variable("x"), sg.variable("w"), sg.variable("z")
    >>> y = sg.exp(x) * w
    >>> sg.to_sympy(sg.substitute(y, {x: sg.log(z)}))
    w*z
    >>> sg.evaluate(sg.substitute(y, {"x": np.float64(0.0)}), {w: 5.0})
    array(5.)
    """
    outs, unflatten, table = _pairs(outputs, replace, "substitute")
    for k, v in table.items():
        if v.shape != k.shape:
            raise ShapeError(f"substitute: {_label(v)} of shape {v.shape} cannot replace "
                             f"{_label(k)} of shape {k.shape}")
        if v.dtype != k.dtype:
            raise DTypeError(f"substitute: {_label(v)} of dtype {v.dtype} cannot replace "
                             f"{_label(k)} of dtype {k.dtype}")
    if not outs or not table:
        return unflatten(outs)
    graph = outs[0].graph
    with paused_gc():
        for node in pruned_subgraph(outs, list(table)):
            if node in table:
                continue
            ins = [table.get(i, i) for i in node.inputs]
            with graph.building(node.role, node.order):
                table[node] = apply(node.op.renewed(), ins)
    return unflatten([table.get(o, o) for o in outs])


def vectorize(outputs: Any, replace: dict[Node, Node]) -> Any:
    """The outputs for a batch of values of some nodes, as one graph (JAX's ``vmap``).

    Each value node of ``replace`` has one extra leading axis (the same length B
    for all) over its key's shape; the outputs come back with that leading
    axis: output[b] is what the output would be with every key replaced by
    ``value[b]``.  Nodes not in ``replace`` stay unbatched, and outputs that do
    not depend on any key are broadcast along the batch axis.  Keys may be
    variable names and values arrays (constants of the key's dtype).

    Every op declares a batching rule (``Op.batch``), so any graph vectorizes,
    gradient graphs and second-order graphs included, and the result has the
    same number of nodes whatever B is.  An op without a rule (a user op) is
    run once per example.

    Parameters
    ----------
    outputs : Node or list, tuple or dict of Node
        What to batch.
    replace : dict
        Node (or variable name) to its batch: a node or array of shape
        ``(B,) + key.shape`` and the key's dtype.

    Returns
    -------
    Node or list, tuple or dict of Node
        In the structure of ``outputs``, each with a leading axis of length B.

    Raises
    ------
    ShapeError
        A batch whose shape is not ``(B,) + key.shape``, or batches of
        different lengths.

    See Also
    --------
    substitute, jacobian

    Examples
    --------
    Per-example gradients: the gradient for each row of ``xs``, as one graph.

    >>> w, x = sg.variable("w", (2,)), sg.variable("x", (2,))
    >>> loss = sg.sum((w * x - 1) ** 2)
    >>> xs = sg.variable("xs", (3, 2))
    >>> gs = sg.vectorize(sg.grad(loss, w), {x: xs})
    >>> gs.shape
    (3, 2)
    >>> sg.evaluate(gs, {w: [1.0, 1.0], xs: [[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]]})
    array([[ 0.,  4.],
           [ 4.,  0.],
           [12., 12.]])
    """
    outs, unflatten, table = _pairs(outputs, replace, "vectorize")
    sizes = {v.shape[0] if v.ndim else None for v in table.values()}
    for k, v in table.items():
        if v.ndim != k.ndim + 1 or v.shape[1:] != k.shape:
            raise ShapeError(f"vectorize: {_label(v)} of shape {v.shape} cannot batch {_label(k)} "
                             f"of shape {k.shape}: it needs shape (B,) + {k.shape}")
        if v.dtype != k.dtype:
            raise DTypeError(f"vectorize: {_label(v)} of dtype {v.dtype} cannot batch "
                             f"{_label(k)} of dtype {k.dtype}")
    if len(sizes) > 1:
        raise ShapeError(f"vectorize: the batched values have different batch lengths "
                         f"{sorted(sizes)}")
    if not table:
        raise SymgraphError("vectorize: replace is empty, so there is no batch axis")
    size = sizes.pop()
    graph = outs[0].graph if outs else next(iter(table)).graph
    with paused_gc():
        for node in pruned_subgraph(outs, list(table)):
            if node in table:
                continue
            batched = [i in table for i in node.inputs]
            ins = [table.get(i, i) for i in node.inputs]
            op = node.op
            with graph.building(node.role, node.order):
                new = (op.batch(ins, batched) if op.batch is not None
                       else batch_by_loop(op, ins, batched))
            if op.multiple_results:
                table[node] = _batched_tuple(node, new, size)
                continue
            if not isinstance(new, Node) or new.shape != (size,) + node.shape:
                got = new.shape if isinstance(new, Node) else type(new).__name__
                raise SymgraphError(f"vectorize: the batching rule of op {op.name!r} gave "
                                    f"{got} for node #{node.id}; expected shape "
                                    f"{(size,) + node.shape}")
            if new.dtype != node.dtype:
                raise DTypeError(f"vectorize: the batching rule of op {op.name!r} gave dtype "
                                 f"{new.dtype} for node #{node.id} of dtype {node.dtype}")
            table[node] = new
    return unflatten([table[o] if o in table else add_batch(o, size) for o in outs])


def _batched_tuple(node: Node, new: Any, size: int) -> Node:
    """The batching rule's result for a tuple node (a loop or branch), checked: a tuple
    node whose every part is the corresponding part of ``node`` with the batch axis."""
    op = node.op
    if not isinstance(new, Node) or not new.op.multiple_results:
        got = new.op.name if isinstance(new, Node) else type(new).__name__
        raise SymgraphError(f"vectorize: the batching rule of op {op.name!r} gave {got} for "
                            f"node #{node.id}; expected a tuple node (multiple_results)")
    want = [((size,) + tuple(s), np.dtype(d)) for s, d in op.result_avals(node)]
    got = [(tuple(s), np.dtype(d)) for s, d in new.op.result_avals(new)]
    if got[:len(want)] != want:
        raise SymgraphError(f"vectorize: the batching rule of op {op.name!r} gave parts "
                            f"{got} for node #{node.id}; expected {want}")
    return new


__all__ = ["substitute", "vectorize", "Placeholder", "placeholder"]
