"""Batching rules of loops and branches: ``sg.vectorize`` through ``scan``, ``while_loop``, ``cond``.

Neither rule loops over the batch: the body is batched once, by ``vectorize``
applied to the body's own graph (batched inputs become new variables of that
graph with a leading batch axis), so the graph does not grow with B.

Loops.  A carry whose new value depends on a batched value is batched from
the start (its initial value broadcast): a fixed point over the carries.
Batched sequences arrive as ``(B, T, ...)`` and are scanned as ``(T, B, ...)``;
the ys come out ``(T, B, ...)`` and go back to ``(B, T, ...)``.  The batched
loop is a new loop: the records the original had (trajectories, residuals,
trip count; see ``flow.loops``) are registered on it again and brought to
the batch-major layout, so a gradient built before vectorizing reads them as
before.  Every result is batched.

Trip counts that differ between examples: a ``while_loop`` whose condition
reads a batched value (or the reverse sweep of one, whose trip count is then
batched) cannot run one loop of one length for all examples.  The batched
loop runs until the last example stops (or ``max_steps``); an example that
has stopped keeps its carries (``where``), and counts its own steps.  So the
results equal per-example loops, but the body keeps running on the frozen
values of finished examples (as with JAX's ``vmap`` of ``while_loop``): it
must not raise on them, and their NaN or Inf, masked out of the values, can
still reach gradients through the ``where`` (0 * inf).

Branches.  An unbatched predicate: one ``cond`` of the batched branches (only
the taken branch runs).  A batched predicate: the examples take different
branches, so BOTH branches run on every example and ``where`` picks each
example's result (JAX's ``vmap`` of ``cond`` does the same); the guarantee of
``sg.cond`` that the untaken branch never runs does not hold then.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SymgraphError
from ..graph import Graph, Node, apply, get_default_graph
from ..ops.batching import add_batch, batch_size, expand_after_batch
from ..ops.elementwise import cast, less, less_equal, logical_and, not_equal, where
from ..ops.rearrange import moveaxis
from ..ops.shape import reshape
from ..ops.reduce import sum as reduce_sum
from ..ops.sources import arange, variable, zeros
from ..ops.tuples import item, pack_nodes
from ..transforms.substitute import vectorize
from ..traversal import ancestors
from .body import Body, trace
from .cond import Cond
from .loops import Loop, Scan, WhileLoop

INT64 = np.dtype(np.int64)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def inline(inputs: Sequence[Node], outputs: Sequence[Node], args: Sequence[Node],
           graph: Graph) -> list[Node]:
    """The nodes between ``inputs`` and ``outputs`` (of a body) made again over ``args``.

    Each node is re-applied to the copies of its inputs, so it lands in the innermost
    graph of those (a node reading only outer nodes is made outside: hoisted out of
    the loop); nodes without inputs are made in ``graph``.  One pass, no recursion.
    """
    table: dict[Node, Node] = dict(zip(inputs, args))
    if not outputs:
        return []
    with graph:
        for node in ancestors(list(outputs), stop=frozenset(inputs)):
            if node in table:
                continue
            if node.op.is_variable:
                raise SymgraphError(f"vectorize: body variable {node.name!r} is none of the body's "
                                    "inputs")
            with graph.building(node.role, node.order):
                table[node] = apply(node.op.renewed(), [table[i] for i in node.inputs])
    return [table[o] for o in outputs]


def input_masks(inputs: Sequence[Node], outputs: Sequence[Node]) -> list[int]:
    """For each output, the inputs it depends on as a bit mask (bit k: ``inputs[k]``)."""
    if not outputs:
        return []
    bit = {v: 1 << k for k, v in enumerate(inputs)}
    mask: dict[Node, int] = {}
    for n in ancestors(list(outputs), stop=frozenset(inputs)):
        m = bit.get(n)
        if m is None:
            m = 0
            for i in n.inputs:
                m |= mask.get(i, 0)
        mask[n] = m
    return [mask[o] for o in outputs]


def _bits(flags: Sequence[bool]) -> int:
    return sum(1 << k for k, f in enumerate(flags) if f)


def _batched_var(v: Node, size: int) -> Node:
    """A new variable of ``v``'s graph standing for ``v`` with a leading batch axis."""
    return variable(f"{v.name or 'v'}_batch", (size,) + v.shape, v.dtype, graph=v.graph)


def batch_body(inputs: Sequence[Node], outputs: Sequence[Node], flags: Sequence[bool],
               want: Sequence[bool], size: int) -> tuple[list[Node], list[Node]]:
    """The body over batched inputs (``flags``): its new inputs and its outputs, those with
    ``want`` batched (broadcast if they do not depend on a batched input), the others as
    they are (they must not depend on one)."""
    replace = {v: _batched_var(v, size) for v, f in zip(inputs, flags) if f}
    new_inputs = [replace.get(v, v) for v in inputs]
    chosen = [o for o, w in zip(outputs, want) if w]
    if not chosen:
        return new_inputs, list(outputs)
    got = iter(vectorize(chosen, replace) if replace else [add_batch(o, size) for o in chosen])
    return new_inputs, [next(got) if w else o for o, w in zip(outputs, want)]


def _truth(p: Node) -> Node:
    return p if p.dtype == np.bool_ else not_equal(p, 0)


def _freeze(active: Node, new: Node, old: Node) -> Node:
    """``new`` for the examples still running, ``old`` for the others."""
    return where(expand_after_batch(active, old.ndim - 1), new, old)


def _batch_major(r: Node, flag: bool, size: int) -> Node:
    """A stacked result ``(T, B, ...)`` as ``(B, T, ...)`` (or an unbatched one broadcast)."""
    return moveaxis(r, 0, 1) if flag else add_batch(r, size)


def _first(r: Node, count: Node) -> Node:
    """Batch-major ``r`` (B, M, ...) with entries after position ``count[b]`` zeroed, as a
    loop that stopped after ``count[b]`` steps pads its trajectory."""
    m = r.shape[1]
    keep = less_equal(arange(m, dtype=INT64, graph=r.graph)[None, :], cast(count, INT64)[:, None])
    keep = reshape(keep, keep.shape + (1,) * (r.ndim - 2))
    return where(keep, r, zeros((), r.dtype, graph=r.graph))


# ---------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------

def batch_loop(op: Loop, inputs: Sequence[Node], batched: Sequence[bool]) -> Node:
    """The loop over a leading batch axis of some inputs: a tuple node whose parts all have
    it (see the module docstring)."""
    size = batch_size(inputs, batched)
    nc = op.n_carry
    body = op.body
    fc, fx, fk, fcc, fn = op.split(list(batched))
    deps = input_masks(body.inputs, body.outputs[:nc])
    bc = list(fc)
    while True:  # a carry whose new value depends on a batched value is batched
        have = _bits(bc + fx + fk)
        grown = [b or bool(d & have) for b, d in zip(bc, deps)]
        if grown == bc:
            break
        bc = grown
    cond = None if op.dynamic else op.cond
    varying = bool(fn)
    if cond is not None and not varying:
        (pred_deps,) = input_masks(cond.inputs, cond.outputs)
        varying = bool(pred_deps & _bits(bc + fcc))
    if not varying:
        return _uniform(op, inputs, batched, bc, size)
    if op.dynamic:
        return _masked_scan(op, inputs, batched, size)
    return _masked_while(op, inputs, batched, size)


def _step_nodes(op: Loop) -> list[Node]:
    return [r[1] for r in op.records if r[0] == "step"]


def _uniform(op: Loop, inputs: Sequence[Node], batched: Sequence[bool], bc: list[bool],
             size: int) -> Node:
    """Every example runs the same steps: one loop over the batched body."""
    nc, nx, ny = op.n_carry, op.n_xs, op.n_ys
    body = op.body
    carries, xs, consts, cconsts, n = op.split(list(inputs))
    fc, fx, fk, fcc, _ = op.split(list(batched))
    steps = _step_nodes(op)
    outs = list(body.outputs) + steps
    have = _bits(bc + fx + fk)
    out_deps = input_masks(body.inputs, outs)
    want = bc + [bool(d & have) for d in out_deps[nc:]]
    new_in, new_out = batch_body(body.inputs, outs, bc + fx + fk, want, size)
    new_body = Body(body.graph, new_in, new_out[:nc + ny])
    new_steps = new_out[nc + ny:]
    new_cond = None
    if op.cond is not None and not op.dynamic:
        c = op.cond
        cin = [_batched_var(v, size) if f else v for v, f in zip(c.inputs, bc + fcc)]
        new_cond = Body(c.graph, cin, c.outputs)
    else:
        cconsts = []
    new = type(op)(new_body, new_cond, nc, nx, op.length, op.reverse, op.dynamic, op.checkpoint)
    init = [add_batch(c, size) if b and not f else c for c, b, f in zip(carries, bc, fc)]
    seqs = [moveaxis(x, 0, 1) if f else x for x, f in zip(xs, fx)]
    node = apply(new, init + seqs + list(consts) + list(cconsts) + ([n] if op.dynamic else []))
    parts = [item(node, j) if bc[j] else add_batch(item(node, j), size) for j in range(nc)]
    parts += [_batch_major(item(node, nc + k), want[nc + k], size) for k in range(ny)]
    step_of = dict(zip(steps, zip(new_steps, want[nc + ny:])))
    for rec in op.records:
        kind = rec[0]
        if kind in ("traj", "checkpoints"):
            parts.append(_batch_major(new.record(rec, node), bc[rec[1]], size))
        elif kind == "step":
            new_node, flag = step_of[rec[1]]
            parts.append(_batch_major(new.record(("step", new_node), node), flag, size))
        else:
            parts.append(add_batch(new.record(rec, node), size))
    return pack_nodes(parts)


def _masked_while(op: Loop, inputs: Sequence[Node], batched: Sequence[bool], size: int) -> Node:
    """A while loop whose condition differs between examples: run until every example has
    stopped, freezing the carries of those that have, each counting its own steps."""
    nc = op.n_carry
    body, cond = op.body, op.cond
    carries, _, consts, cconsts, _ = op.split(list(inputs))
    fc, _, fk, fcc, _ = op.split(list(batched))
    graph = inputs[0].graph
    steps = _step_nodes(op)
    all_c = [True] * nc
    step_in, step_out = batch_body(body.inputs, list(body.outputs) + steps, all_c + fk,
                                   [True] * (nc + len(steps)), size)
    cond_in, (pred,) = batch_body(cond.inputs, cond.outputs, all_c + fcc, [True], size)
    init = [c if f else add_batch(c, size) for c, f in zip(carries, fc)]
    (active0,) = inline(cond_in, [pred], init + list(cconsts), graph)
    masked_steps: list[Node] = []

    def step(vs: list[Node]) -> list[Node]:
        c, active, count = vs[:nc], vs[nc], vs[nc + 1]
        got = inline(step_in, step_out, c + list(consts), get_default_graph())
        new_c = [_freeze(active, o, old) for o, old in zip(got[:nc], c)]
        masked_steps[:] = [_freeze(active, v, zeros(v.shape, v.dtype, graph=v.graph))
                           for v in got[nc:]]
        (again,) = inline(cond_in, [pred], new_c + list(cconsts), get_default_graph())
        return new_c + [logical_and(active, _truth(again)), count + cast(active, INT64)]

    specs = ([(f"carry{j}", (size,) + c.shape, c.dtype) for j, c in enumerate(body.inputs[:nc])]
             + [("active", (size,), np.dtype(bool)), ("steps", (size,), INT64)])
    new_body = trace(step, specs, f"batched {op.name}", parent=graph)
    new_cond = trace(lambda vs: [reduce_sum(cast(vs[nc], INT64)) > 0], specs,
                     f"batched {op.name} condition", parent=graph)
    new = WhileLoop(new_body, new_cond, nc + 2, 0, op.length)
    start = [_truth(active0), zeros((size,), INT64, graph=graph)]
    node = apply(new, init + start + list(new_body.captured) + list(new_cond.captured))
    count = item(node, nc + 1)
    return pack_nodes(_parts(op, new, node, count, dict(zip(steps, masked_steps)), size))


def _masked_scan(op: Loop, inputs: Sequence[Node], batched: Sequence[bool], size: int) -> Node:
    """A loop of a batched trip count (the reverse sweep of a while loop whose examples
    stopped after different numbers of steps): all ``length`` steps, the steps past an
    example's count frozen (carries kept, ys and residuals zero, as the loop pads them)."""
    nc, nx, ny = op.n_carry, op.n_xs, op.n_ys
    body = op.body
    carries, xs, consts, _, n = op.split(list(inputs))
    fc, fx, fk, _, _ = op.split(list(batched))
    graph = inputs[0].graph
    steps = _step_nodes(op)
    L = op.length
    outs = list(body.outputs) + steps
    step_in, step_out = batch_body(body.inputs, outs, [True] * nc + fx + fk, [True] * len(outs),
                                   size)
    init = [c if f else add_batch(c, size) for c, f in zip(carries, fc)]
    masked_steps: list[Node] = []

    def step(vs: list[Node]) -> list[Node]:
        c, xv, t = vs[:nc], vs[nc:nc + nx], vs[nc + nx]
        active = less(t, n)
        got = inline(step_in, step_out, c + xv + list(consts), get_default_graph())
        new_c = [_freeze(active, o, old) for o, old in zip(got[:nc], c)]
        blank = [_freeze(active, v, zeros(v.shape, v.dtype, graph=v.graph)) for v in got[nc:]]
        masked_steps[:] = blank[ny:]
        return new_c + blank[:ny]

    specs = ([(f"carry{j}", (size,) + v.shape, v.dtype) for j, v in enumerate(body.inputs[:nc])]
             + [(f"x{i}", ((size,) if f else ()) + v.shape, v.dtype)
                for i, (v, f) in enumerate(zip(body.inputs[nc:nc + nx], fx))]
             + [("t", (), INT64)])
    new_body = trace(step, specs, f"batched {op.name}", parent=graph)
    new = Scan(new_body, None, nc, nx + 1, L, reverse=op.reverse)
    seqs = [moveaxis(x, 0, 1) if f else x for x, f in zip(xs, fx)]
    node = apply(new, init + seqs + [arange(L, dtype=INT64, graph=graph)]
                 + list(new_body.captured))
    return pack_nodes(_parts(op, new, node, n, dict(zip(steps, masked_steps)), size))


def _parts(op: Loop, new: Loop, node: Node, count: Node, step_of: dict[Node, Node],
           size: int) -> list[Node]:
    """The parts of the batched tuple node of a loop whose examples ran ``count`` steps."""
    nc, ny = op.n_carry, op.n_ys
    parts = [item(node, j) for j in range(nc)]
    parts += [moveaxis(item(node, nc + k), 0, 1) for k in range(ny)]
    for rec in op.records:
        kind = rec[0]
        if kind == "traj":
            parts.append(_first(moveaxis(new.record(rec, node), 0, 1), count))
        elif kind == "step":
            parts.append(moveaxis(new.record(("step", step_of[rec[1]]), node), 0, 1))
        elif kind == "trips":
            parts.append(cast(count, INT64))
        else:  # pragma: no cover - only a plain scan checkpoints, and its count is fixed
            raise SymgraphError(f"vectorize: {op.name} record {kind!r} with a batched trip count")
    return parts


# ---------------------------------------------------------------------------
# branches
# ---------------------------------------------------------------------------

def batch_cond(op: Cond, inputs: Sequence[Node], batched: Sequence[bool]) -> Node:
    """The branch over a leading batch axis: one ``cond`` of the batched branches when the
    predicate is shared, both branches and a ``where`` per example when it is batched."""
    size = batch_size(inputs, batched)
    pred, args = inputs[0], list(inputs[1:])
    flags = list(batched[1:])
    bodies = []
    for b in (op.true_body, op.false_body):
        new_in, new_out = batch_body(b.inputs, b.outputs, flags, [True] * len(b.outputs), size)
        bodies.append(Body(b.graph, new_in, new_out))
    if not batched[0]:
        return apply(Cond(*bodies), [pred] + args)
    graph = inputs[0].graph
    taken = _truth(pred)
    yes = inline(bodies[0].inputs, bodies[0].outputs, args, graph)
    no = inline(bodies[1].inputs, bodies[1].outputs, args, graph)
    return pack_nodes([where(expand_after_batch(taken, a.ndim - 1), a, b) for a, b in zip(yes, no)])


__all__ = ["batch_loop", "batch_cond", "batch_body", "inline", "input_masks"]
