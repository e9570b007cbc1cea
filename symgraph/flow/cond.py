"""Branches in the graph: ``sg.cond`` runs one of two traced bodies, chosen at run time.

Both branches are traced once into bodies that take the same inputs (the
operands, then every node either branch captured) and give results of the same
shapes and dtypes.  Only the taken branch runs, and its derivatives are
branches again (the gradient of the taken branch, chosen by the same
predicate), so the untaken branch can overflow, divide by zero or raise
without ever touching a value or a derivative: no "double where" needed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import backend
from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from ..ops.base import NO_SYMPY, Op, as_node, is_inexact
from ..ops.patterns import DENSE
from ..ops.tuples import RESULTS, item, pack
from ..structure import flatten
from .body import Body, body_jvp, body_runner, body_vjp, fresh_inputs, trace
from .body import graph_of
from .loops import BODY, at_step
from .source import cond_source


class Cond(Op):
    """``sg.cond``: the results of ``true_body`` or ``false_body`` on the same inputs."""

    name = "cond"
    multiple_results = True
    to_sympy = NO_SYMPY  # a branch on a run-time value
    param_types = {"true_body": BODY, "false_body": BODY}

    def __init__(self, true_body: Body, false_body: Body) -> None:
        self.true_body = true_body
        self.false_body = false_body

    def infer(self, pred: Node, *args: Node):
        t, f = self.true_body, self.false_body
        if pred.shape != ():
            raise ShapeError(f"cond: the predicate must be a scalar, got shape {pred.shape}")
        if len(args) != len(t.inputs) or len(t.inputs) != len(f.inputs):
            raise SymgraphError(f"cond: {len(args)} operands given; the branches take "
                                f"{len(t.inputs)} and {len(f.inputs)}")
        for k, (a, b, c) in enumerate(zip(args, t.inputs, f.inputs)):
            if not a.shape == b.shape == c.shape or not a.dtype == b.dtype == c.dtype:
                raise ShapeError(f"cond: operand {k} has shape {a.shape} and dtype {a.dtype}; the "
                                 f"branches take {b.shape} {b.dtype} and {c.shape} {c.dtype}")
        check_same_results(t.outputs, f.outputs)
        return (), RESULTS

    def result_avals(self, node: Node | None = None) -> list[tuple[tuple[int, ...], np.dtype]]:
        return [(o.shape, o.dtype) for o in self.true_body.outputs]

    def result_count(self, node: Node | None = None) -> int:
        return len(self.true_body.outputs)

    def f(self, pred: Any, *args: Any) -> np.ndarray:
        taken = bool(backend.concrete(pred))  # a lazy (dask) predicate is computed: one runs
        body = self.true_body if taken else self.false_body
        try:
            return pack(body_runner(body, body.outputs)(list(args)))
        except SymgraphError as e:
            raise at_step(e, "true branch" if taken else "false branch") from None

    def describe(self) -> str:
        return self.name

    def emit(self, out: str, ins: Sequence[str], ctx: Any) -> str:
        """``if``/``else`` calling the branches compiled once (see ``flow.source``)."""
        return cond_source(self, out, ins, ctx)

    def bprop(self, inputs: Sequence[Node], out: Node, gs: Sequence[Node | None],
              needs: Sequence[bool]) -> list:
        args = inputs[1:]
        t, f = self.true_body, self.false_body
        seeded = [k for k, g in enumerate(gs) if g is not None and is_inexact(t.outputs[k].dtype)]
        want = [k for k in range(len(args)) if needs[k + 1] and is_inexact(args[k].dtype)]
        if not seeded or not want:
            return [None] * len(inputs)

        def branch(body: Body) -> Body:
            seeds, grads = body_vjp(body, [body.outputs[k] for k in seeded],
                                    [body.inputs[k] for k in want])
            return Body(body.graph, list(body.inputs) + seeds, grads)

        node = apply(Cond(branch(t), branch(f)), [inputs[0], *args, *[gs[k] for k in seeded]])
        rules: list = [None] * len(inputs)
        for pos, k in enumerate(want):
            rules[k + 1] = item(node, pos)
        return rules

    def jvp(self, inputs: Sequence[Node], out: Node, ts: Sequence[Node | None]) -> list | None:
        args, targs = inputs[1:], ts[1:]
        moving = [k for k, tk in enumerate(targs) if tk is not None]
        if not moving:
            return None
        def branch(body: Body) -> Body:
            tangents, touts = body_jvp(body, list(body.outputs), [body.inputs[k] for k in moving])
            return Body(body.graph, list(body.inputs) + tangents, list(body.outputs) + touts)

        node = apply(Cond(branch(self.true_body), branch(self.false_body)),
                     [inputs[0], *args, *[targs[k] for k in moving]])
        n = len(self.true_body.outputs)
        return [item(node, n + k) if is_inexact(o.dtype) else None
                for k, o in enumerate(self.true_body.outputs)]

    def batch(self, inputs, batched):
        from .batching import batch_cond

        return batch_cond(self, inputs, batched)

    def sparsity(self, node: Node) -> list:
        return [None] + [DENSE] * (len(node.inputs) - 1)


def check_same_results(a: Sequence[Node], b: Sequence[Node]) -> None:
    if len(a) != len(b):
        raise SymgraphError(f"cond: the branches return {len(a)} and {len(b)} results")
    for k, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape:
            raise ShapeError(f"cond: result {k} has shape {x.shape} in the true branch and "
                             f"{y.shape} in the false branch; both branches must agree")
        if x.dtype != y.dtype:
            raise DTypeError(f"cond: result {k} has dtype {x.dtype} in the true branch and "
                             f"{y.dtype} in the false branch; both branches must agree")


def cond(pred: Any, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, running only that one.

    ``pred`` is a scalar node (its truth is tested at run time); each branch
    is traced once and may use nodes from outside (captured).  The branches
    return the same structure (a node, or a tuple/list/dict of nodes) with the
    same shapes and dtypes, and so does ``cond``.

    Unlike ``sg.where``, which computes both sides, the branch not taken never
    runs: it may overflow, take the log of a negative number or raise, and
    neither the value nor any derivative sees it (gradients of ``where`` turn
    NaN when the masked side is NaN; these do not).

    A dask predicate is computed (a branch must be chosen); the branch's values
    stay lazy.  Under ``sg.vectorize`` with a batched predicate, examples take
    different branches: then both branches run on every example and ``where``
    picks (as JAX's ``vmap`` of ``cond``), so the guarantee above does not hold.

    Parameters
    ----------
    pred : Node or bool
        A scalar; its truth picks the branch.
    true_fn, false_fn : callable
        Called once each, on nodes standing for ``operands``, to trace the
        branches.
    *operands : Node or array_like
        The branches' arguments.

    Returns
    -------
    Node or a tuple, list or dict of Node
        What the branches return.

    See Also
    --------
    where, while_loop

    Examples
    --------
    >>> x = sg.variable("x")
    >>> y = sg.cond(x > 0, lambda x: sg.sqrt(x), lambda x: -x, x)
    >>> sg.evaluate([y, sg.grad(y, x)], {x: 4.0})
    [array(2.), array(0.25)]
    >>> with np.errstate(all="raise"):        # sqrt(-1) never runs
    ...     sg.evaluate([y, sg.grad(y, x)], {x: -1.0})
    [array(1.), array(-1.)]
    """
    pred = as_node(pred)
    if pred.shape != ():
        raise ShapeError(f"cond: the predicate must be a scalar, got shape {pred.shape}")
    leaves, unflatten = flatten(list(operands), lambda t: isinstance(t, Node))
    ops_nodes = [v if isinstance(v, Node) else as_node(v) for v in leaves]
    parent = graph_of([pred] + ops_nodes)
    specs = [(f"operand{k}", o.shape, o.dtype) for k, o in enumerate(ops_nodes)]
    structures: dict[str, Any] = {}

    def traced(name: str, fn: Callable) -> Callable[[list[Node]], list]:
        def call(vs: list[Node]) -> list:
            result = fn(*unflatten(vs))
            outs, structure = flatten(result, lambda t: isinstance(t, Node))
            structures[name] = structure
            return outs
        return call

    t = trace(traced("true", true_fn), specs, "cond true branch", parent=parent)
    f = trace(traced("false", false_fn), specs, "cond false branch", parent=parent)
    if structures["true"].key != structures["false"].key:
        raise SymgraphError("cond: the branches return different structures (the same nesting "
                            "of tuples, lists and dicts of nodes is needed)")
    check_same_results(t.outputs, f.outputs)
    # both branches take the operands and every captured node
    captured = list(dict.fromkeys(list(t.captured) + list(f.captured)))
    t_body = _over(t, len(ops_nodes), captured)
    f_body = _over(f, len(ops_nodes), captured)
    node = apply(Cond(t_body, f_body), [pred, *ops_nodes, *captured])
    return structures["true"]([item(node, k) for k in range(len(t.outputs))])


def _over(body: Body, n_operands: int, captured: list[Node]) -> Body:
    """``body`` taking the operands then all of ``captured`` (unused ones as fresh variables)."""
    own = dict(zip(body.captured, body.inputs[n_operands:]))
    extra = [own[c] if c in own else fresh_inputs(body, [c], "unused")[0] for c in captured]
    return Body(body.graph, list(body.inputs[:n_operands]) + extra, body.outputs, captured)


__all__ = ["cond"]
