"""Loops in the graph: ``sg.scan`` and ``sg.while_loop``, one op each over a traced body.

A loop node's inputs are, in order: the initial carries, the sequences
``xs`` (scanned along their leading axis), the body's constants (captured
outer nodes), the stop condition's constants (``while_loop``), and the trip
count (a *dynamic* loop: the reverse sweep of a ``while_loop``).  Its value is
the tuple (see ``symgraph.ops.tuples``) of the final carries, the stacked
per-step outputs ``ys``, and the *records*: values the reverse sweep needs,
registered by ``bprop`` when a gradient is built (so a loop nobody
differentiates records nothing):

* ``("traj", j)``: carry ``j`` at every step boundary, ``(length + 1, ...)``;
  entry ``t`` enters step ``t`` and entry ``t + 1`` leaves it (the other way
  round for a loop that runs backwards), so a carry that is its body's output
  is stored once and both uses are views;
* ``("step", node)``: a body node the gradient needs (a *residual*: ``tanh``'s
  output, say), stacked ``(length, ...)``;
* ``("checkpoints", j)``: carry ``j`` entering steps ``0, k, 2k...``
  (``checkpoint=k``), from which the reverse sweep recomputes one segment of
  ``k`` steps at a time: memory O(length/k + k) carries;
* ``("trips",)``: how many steps a ``while_loop`` ran.

Reverse mode is a loop running the other way over the body's gradient body
(``flow.body.body_vjp``: built once, in the body's graph); forward mode is a
loop over the body's jvp body.  Both are loops again, so they nest.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import backend
from ..errors import DTypeError, ShapeError, SymgraphError, UndefinedGradientError
from ..graph import Graph, Node, apply, get_default_graph
from ..ops.base import BOOL, NO_SYMPY, SIZE, Op, ParamKind, as_node, is_inexact
from ..ops.patterns import DENSE
from ..ops.shape import concatenate, reshape
from ..ops.sources import zeros, zeros_like
from ..ops.tuples import RESULTS, item, pack
from ..structure import flatten
from ..transforms.substitute import substitute
from ..traversal import ancestors
from .body import Body, body_jvp, body_runner, body_vjp, fresh_inputs, trace, with_inputs
from .source import loop_source


def _is_records(v: Any) -> bool:
    if not isinstance(v, list):
        return False
    for r in v:
        if not (isinstance(r, tuple) and r and r[0] in RECORD_KINDS):
            return False
        if r[0] == "step" and not (len(r) == 2 and isinstance(r[1], Node)):
            return False
        if r[0] in ("traj", "checkpoints") and not (len(r) == 2 and isinstance(r[1], int)):
            return False
    return True


RECORD_KINDS = ("traj", "step", "checkpoints", "trips")
BODY = ParamKind("body", lambda v: isinstance(v, Body))
OPTIONAL_BODY = ParamKind("body or None", lambda v: v is None or isinstance(v, Body))
OPTIONAL_SIZE = ParamKind("size or None", lambda v: v is None or (isinstance(v, int) and not
                                                                 isinstance(v, bool) and v >= 0))
POSITIVE_OR_NONE = ParamKind("positive int or None", lambda v: v is None or (
    isinstance(v, int) and not isinstance(v, bool) and v > 0))
RECORDS = ParamKind("records", _is_records)


class Loop(Op):
    """A loop over a traced body; ``Scan`` and ``WhileLoop`` are its two spellings."""

    abstract = True
    multiple_results = True
    to_sympy = NO_SYMPY  # a loop has no closed form
    param_types = {"body": BODY, "cond": OPTIONAL_BODY, "n_carry": SIZE, "n_xs": SIZE,
                   "length": OPTIONAL_SIZE, "reverse": BOOL, "dynamic": BOOL,
                   "checkpoint": POSITIVE_OR_NONE, "records": RECORDS}

    def __init__(self, body: Body, cond: Body | None, n_carry: int, n_xs: int,
                 length: int | None, reverse: bool = False, dynamic: bool = False,
                 checkpoint: int | None = None, records: Sequence[tuple] = ()) -> None:
        self.body = body
        self.cond = cond
        self.n_carry = n_carry
        self.n_xs = n_xs
        self.length = length
        self.reverse = reverse
        self.dynamic = dynamic
        self.checkpoint = checkpoint
        #: append-only: what the reverse sweeps built so far need (see the module docstring)
        self.records = list(records)

    def cse_key(self) -> None:
        return None  # records grow as gradients are built: never share a loop node

    def renewed(self) -> Loop:
        return type(self)(**self.params())

    # -- layout --------------------------------------------------------------
    @property
    def n_consts(self) -> int:
        return len(self.body.inputs) - self.n_carry - self.n_xs

    @property
    def n_cond_consts(self) -> int:
        return 0 if self.cond is None else len(self.cond.inputs) - self.n_carry

    @property
    def n_ys(self) -> int:
        return len(self.body.outputs) - self.n_carry

    def split(self, inputs: Sequence) -> tuple[list, list, list, list, Any]:
        """``inputs`` as (carries, xs, body constants, condition constants, trip count)."""
        nc, nx, nb, ncc = self.n_carry, self.n_xs, self.n_consts, self.n_cond_consts
        a, b, c, d = nc, nc + nx, nc + nx + nb, nc + nx + nb + ncc
        return (list(inputs[:a]), list(inputs[a:b]), list(inputs[b:c]), list(inputs[c:d]),
                inputs[d] if self.dynamic else None)

    def record(self, rec: tuple, out: Node) -> Node:
        """The node holding record ``rec`` of the loop node ``out`` (registered once)."""
        # compared item by item with ``is``: ``==`` on a Node builds a comparison node
        index = next((k for k, r in enumerate(self.records)
                      if len(r) == len(rec) and all(a is b or (not isinstance(a, Node) and a == b)
                                                    for a, b in zip(r, rec))), None)
        if index is None:
            index = len(self.records)
            self.records.append(rec)
        return item(out, self.n_carry + self.n_ys + index)

    def result_avals(self, node: Node | None = None) -> list[tuple[tuple[int, ...], np.dtype]]:
        body = self.body
        L = self.length or 0
        carries = [(c.shape, c.dtype) for c in body.inputs[:self.n_carry]]
        out = list(carries)
        out += [((L,) + y.shape, y.dtype) for y in body.outputs[self.n_carry:]]
        for rec in self.records:
            kind = rec[0]
            if kind == "traj":
                shape, dtype = carries[rec[1]]
                out.append(((L + 1,) + shape, dtype))
            elif kind == "step":
                out.append(((L,) + rec[1].shape, rec[1].dtype))
            elif kind == "checkpoints":
                shape, dtype = carries[rec[1]]
                out.append(((-(-L // self.checkpoint),) + shape, dtype))
            else:
                out.append(((), np.dtype(np.int64)))
        return out

    def result_count(self, node: Node | None = None) -> int:
        return self.n_carry + self.n_ys + len(self.records)

    # -- checks ----------------------------------------------------------------
    def infer(self, *inputs: Node):
        body, nc, nx = self.body, self.n_carry, self.n_xs
        what = self.name
        if self.n_consts < 0 or self.n_ys < 0 or self.n_cond_consts < 0:
            raise SymgraphError(f"{what}: the body has {len(body.inputs)} inputs and "
                                f"{len(body.outputs)} outputs, fewer than its {nc} carries "
                                f"and {nx} sequences")
        expected = nc + nx + self.n_consts + self.n_cond_consts + self.dynamic
        if len(inputs) != expected:
            raise SymgraphError(f"{what}: {len(inputs)} inputs given, the loop takes {expected}")
        if self.cond is None and self.length is None:
            raise SymgraphError(f"{what}: a loop without a stop condition needs a length")
        if self.cond is not None and (self.n_xs or self.n_ys) and not self.dynamic:
            raise SymgraphError(f"{what}: a while loop scans no sequences")
        L = self.length
        carries, xs, consts, cconsts, n = self.split(inputs)
        for k, (v, b) in enumerate(zip(carries, body.inputs[:nc])):
            _same(v.shape, v.dtype, b, f"{what}: initial carry {k}")
        for k, (c_out, b) in enumerate(zip(body.outputs[:nc], body.inputs[:nc])):
            _same(c_out.shape, c_out.dtype, b, f"{what}: the body's carry {k} out")
        for k, (v, b) in enumerate(zip(xs, body.inputs[nc:nc + nx])):
            if v.shape != (L,) + b.shape or v.dtype != b.dtype:
                raise ShapeError(f"{what}: sequence {k} has shape {v.shape} and dtype {v.dtype}; "
                                 f"the body reads slices of shape {b.shape} and dtype {b.dtype} "
                                 f"over {L} steps")
        for k, (v, b) in enumerate(zip(consts, body.inputs[nc + nx:])):
            _same(v.shape, v.dtype, b, f"{what}: body constant {k}")
        if self.cond is not None:
            (pred,) = self.cond.outputs
            if pred.shape != ():
                raise ShapeError(f"{what}: the condition must be a scalar, got shape {pred.shape}")
            for k, (v, b) in enumerate(zip(cconsts, self.cond.inputs[nc:])):
                _same(v.shape, v.dtype, b, f"{what}: condition constant {k}")
            for k, (c, b) in enumerate(zip(self.cond.inputs[:nc], body.inputs[:nc])):
                _same(c.shape, c.dtype, b, f"{what}: the condition's carry {k}")
        if n is not None and (n.shape != () or n.dtype.kind not in "iu"):
            raise SymgraphError(f"{what}: the trip count must be an integer scalar")
        return (), RESULTS

    def describe(self) -> str:
        if self.cond is not None and not self.dynamic:
            return self.name if self.length is None else f"{self.name}(max_steps={self.length})"
        parts = [f"length={self.length}"] if not self.dynamic else [f"steps<={self.length}"]
        if self.reverse:
            parts.append("reverse")
        if self.checkpoint:
            parts.append(f"checkpoint={self.checkpoint}")
        return f"{self.name}({', '.join(parts)})"

    def params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.param_types}

    # -- running -------------------------------------------------------------
    def f(self, *arrays: Any) -> np.ndarray:
        body, nc = self.body, self.n_carry
        carries, xs, consts, cconsts, n = self.split(arrays)
        steps = [r[1] for r in self.records if r[0] == "step"]
        run = body_runner(body, list(body.outputs) + steps)
        test = body_runner(self.cond, self.cond.outputs) if self.cond is not None else None
        ny = self.n_ys
        wants_traj = any(r[0] == "traj" for r in self.records)
        # checkpoints alone keep every k-th carry only (memory O(length / k), not O(length))
        every = 1 if wants_traj else (self.checkpoint if any(
            r[0] == "checkpoints" for r in self.records) else 0)
        L = self.length
        T = int(backend.concrete(n)) if n is not None else L
        if T is not None and L is not None and not 0 <= T <= L:
            raise SymgraphError(f"{self.name}: trip count {T} is outside 0..{L}")
        entering: list[list] = []
        ys: list[list] = []
        recorded: list[list] = []
        p = 0
        while True:
            if test is None or self.dynamic:
                if p >= T:
                    break
            else:
                if L is not None and p >= L:
                    break
                if any(backend.is_foreign(c) for c in carries):
                    carries = backend.persist(carries)  # the condition reads them: compute once
                try:
                    go = test(carries + list(cconsts))[0]
                except SymgraphError as e:
                    raise at_step(e, f"the condition before step {p}") from None
                if not _truth(go):
                    break
            t = T - 1 - p if self.reverse else p
            if every and p % every == 0:
                entering.append(carries)
            try:
                outs = run(carries + [x[t] for x in xs] + consts)
            except SymgraphError as e:
                raise at_step(e, _step_label(t, T, test is not None and not self.dynamic)
                              ) from None
            carries = list(outs[:nc])
            ys.append(outs[nc:nc + ny])
            recorded.append(outs[nc + ny:])
            p += 1
        if self.reverse:
            ys.reverse()
            recorded.reverse()
        avals = self.result_avals()
        results = list(carries)
        k = nc
        for i in range(ny):
            results.append(_stack([s[i] for s in ys], avals[k]))
            k += 1
        step_k = 0
        for rec in self.records:
            kind = rec[0]
            if kind == "step":
                results.append(_stack([s[step_k] for s in recorded], avals[k]))
                step_k += 1
            elif kind == "traj":
                j = rec[1]
                path = [e[j] for e in entering]
                path = [carries[j]] + path[::-1] if self.reverse else path + [carries[j]]
                results.append(_stack(path, avals[k]))
            elif kind == "checkpoints":
                j = rec[1]
                results.append(_stack([e[j] for e in entering[::self.checkpoint // every]],
                                       avals[k]))
            else:
                results.append(np.asarray(p, np.int64))
            k += 1
        return pack(results)

    def emit(self, out: str, ins: Sequence[str], ctx: Any) -> str | None:
        """A Python loop calling the body compiled once (see ``flow.source``)."""
        return loop_source(self, out, ins, ctx)

    # -- derivatives ---------------------------------------------------------
    def bprop(self, inputs: Sequence[Node], out: Node, gs: Sequence[Node | None],
              needs: Sequence[bool]) -> list:
        if self.cond is not None and self.length is None:
            raise UndefinedGradientError(
                f"{self.name}: reverse mode through a while_loop needs max_steps (it bounds the "
                "carries the forward pass records); pass max_steps=, or use forward mode (sg.jvp)")
        nc, ny = self.n_carry, self.n_ys
        if (self.checkpoint and self.cond is None and not self.dynamic and not self.reverse
                and all(g is None for g in gs[nc + ny:])):
            return checkpointed_sweep(self, inputs, out, gs, needs)
        return reverse_sweep(self, inputs, out, gs, needs)

    def jvp(self, inputs: Sequence[Node], out: Node, ts: Sequence[Node | None]) -> list | None:
        return forward_sweep(self, inputs, out, ts)

    def batch(self, inputs, batched):
        from .batching import batch_loop

        return batch_loop(self, inputs, batched)

    def sparsity(self, node: Node) -> list:
        return [DENSE] * len(node.inputs)


class Scan(Loop):
    """``sg.scan``: the body over the leading axis of the sequences (see ``scan``)."""

    name = "scan"


class WhileLoop(Loop):
    """``sg.while_loop``: the body while the condition holds (see ``while_loop``)."""

    name = "while_loop"


def _same(shape: tuple, dtype: np.dtype, b: Node, what: str) -> None:
    if shape != b.shape:
        raise ShapeError(f"{what} has shape {shape}, expected {b.shape}")
    if dtype != b.dtype:
        raise DTypeError(f"{what} has dtype {dtype}, expected {b.dtype}")


def _truth(value: Any) -> bool:
    """Whether a condition holds; a lazy (dask) condition is computed: the loop must know."""
    return bool(backend.concrete(value))


def _step_label(t: int, T: int | None, open_ended: bool) -> str:
    if open_ended:  # a while loop: T is max_steps, if any
        return f"step {t}" + (f" (max_steps={T})" if T is not None else "")
    return f"step {t} of {T}"


def at_step(e: SymgraphError, where: str) -> SymgraphError:
    """``e``, raised in a body, saying where in the loop or branch it came from (``"step 3 of
    10"``, ``"true branch"``); ``e.in_body`` asks the evaluator to name the loop node too."""
    if e.args and isinstance(e.args[0], str):
        e.args = (f"{where}: {e.args[0]}",) + e.args[1:]
    e.in_body = True
    return e


def _stack(values: list, aval: tuple) -> Any:
    """Per-step values stacked on a new leading axis, padded with zeros to the static length."""
    shape, dtype = aval
    if not values:
        return np.zeros(shape, dtype)
    arr = np.stack(values)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if arr.shape[0] < shape[0]:
        arr = np.concatenate([arr, np.zeros((shape[0] - arr.shape[0],) + shape[1:], dtype)])
    return arr


# ---------------------------------------------------------------------------
# reverse mode
# ---------------------------------------------------------------------------

def reverse_sweep(op: Loop, inputs: Sequence[Node], out: Node, gs: Sequence[Node | None],
                  needs: Sequence[bool], acc_init: dict[int, Node] | None = None) -> list:
    """The loop's vector-Jacobian product: a loop running the other way over the body's
    gradient, fed by the recorded carries and residuals.

    The gradients of the body's constants are summed over the steps in accumulators
    carried by that loop, starting at zero or at ``acc_init[i]`` for constant ``i`` (a
    checkpointed segment continues the sum of the segments after it: no second buffer).
    """
    body, nc, nx, ny = op.body, op.n_carry, op.n_xs, op.n_ys
    carries, xs, consts, _, n = op.split(inputs)
    c_in, x_in = body.inputs[:nc], body.inputs[nc:nc + nx]
    k_in = body.inputs[nc + nx:]
    c_out, y_out = body.outputs[:nc], body.outputs[nc:]
    diff = [j for j in range(nc) if is_inexact(c_in[j].dtype)]
    g_final, g_ys, g_rec = gs[:nc], gs[nc:nc + ny], gs[nc + ny:]
    if all(g is None for g in gs):
        return [None] * len(inputs)

    # cotangents of records: per-step outputs of their own, plus the ends of trajectories
    extra_nodes: list[Node] = []
    extra_cts: list[Node] = []
    init_extra: dict[int, Node] = {}
    final_extra: dict[int, Node] = {}
    for rec, g in zip(list(op.records), g_rec):
        if g is None:
            continue
        if rec[0] == "step":
            extra_nodes.append(rec[1])
            extra_cts.append(g)
        elif rec[0] == "traj":
            j = rec[1]
            extra_nodes.append(c_in[j] if op.reverse else c_out[j])
            extra_cts.append(g[1:])
            (final_extra if op.reverse else init_extra)[j] = g[0]
        elif rec[0] == "checkpoints":
            extra_nodes.append(c_in[rec[1]])
            extra_cts.append(_spread(g, op.checkpoint, op.length))

    y_seeded = [k for k in range(ny) if g_ys[k] is not None and is_inexact(y_out[k].dtype)]
    seeded = [c_out[j] for j in diff] + [y_out[k] for k in y_seeded] + extra_nodes
    x_need = [i for i in range(nx) if needs[nc + i] and is_inexact(x_in[i].dtype)]
    k_need = [i for i in range(len(consts)) if needs[nc + nx + i] and is_inexact(k_in[i].dtype)]
    wrt = [c_in[j] for j in diff] + [x_in[i] for i in x_need] + [k_in[i] for i in k_need]
    if not wrt:
        return [None] * len(inputs)
    seeds, grads = body_vjp(body, seeded, wrt)
    nd = len(diff)
    g_c, g_x, g_k = grads[:nd], grads[nd:nd + len(x_need)], grads[nd + len(x_need):]
    order = max([g.order for g in grads] + [1])

    # the residuals: what the gradient body reads of the forward body, per step
    seed_set = set(seeds)
    frontier = residual_frontier(grads, seed_set, set(c_in) | set(x_in),
                                 frozenset(c_in) | frozenset(x_in) | frozenset(c_out))
    carry_out_index = {c_out[j]: j for j in range(nc)}
    replace: dict[Node, Node] = {}
    fed_xs: list[tuple[Node, Node]] = []  # (body variable, the stacked values fed for it)
    traj: dict[int, Node] = {}

    def trajectory(j: int) -> Node:
        if j not in traj:
            traj[j] = op.record(("traj", j), out)
        return traj[j]

    c_in_index = {c: j for j, c in enumerate(c_in)}
    for node in frontier:
        if node in c_in_index:
            j = c_in_index[node]
            fed_xs.append((node, trajectory(j)[1:] if op.reverse else trajectory(j)[:-1]))
        elif node in set(x_in):
            continue  # the sequences themselves
        elif node in carry_out_index:
            j = carry_out_index[node]
            var = fresh_inputs(body, [node], f"carry{j}_out")[0]
            replace[node] = var
            fed_xs.append((var, trajectory(j)[:-1] if op.reverse else trajectory(j)[1:]))
        else:
            var = fresh_inputs(body, [node], "res")[0]
            replace[node] = var
            fed_xs.append((var, op.record(("step", node), out)))

    accs = fresh_inputs(body, [k_in[i] for i in k_need], "acc")
    with body.graph.building("gradient", order):
        summed = [a + g for a, g in zip(accs, g_k)]
    new_outs = substitute(list(g_c) + summed + list(g_x), replace) if replace else \
        list(g_c) + summed + list(g_x)
    used = set(ancestors(new_outs))
    seeds_c, seeds_rest = seeds[:nd], seeds[nd:]
    xs_used = [(x_in[i], xs[i]) for i in range(nx) if x_in[i] in used]
    k_used = [(k_in[i], consts[i]) for i in range(len(consts)) if k_in[i] in used]
    fed_xs = [(v, a) for v, a in fed_xs if v in used]
    seq_vars = list(seeds_rest) + [v for v, _ in fed_xs] + [v for v, _ in xs_used]
    seq_vals = [g_ys[k] for k in y_seeded] + extra_cts + [a for _, a in fed_xs] + \
        [a for _, a in xs_used]
    g_body = Body(body.graph, list(seeds_c) + accs + seq_vars + [v for v, _ in k_used], new_outs)

    graph = out.graph
    init_ct = []
    for j in diff:
        g = g_final[j] if g_final[j] is not None else zeros_like(carries[j])
        if j in final_extra:
            g = g + final_extra[j]
        init_ct.append(g)
    acc0 = [acc_init[i] if acc_init and i in acc_init else zeros_like(consts[i]) for i in k_need]
    trips = n if op.dynamic else (op.record(("trips",), out) if op.cond is not None else None)
    back = Scan(g_body, None, nd + len(k_need), len(seq_vars), op.length, reverse=not op.reverse,
                dynamic=trips is not None)
    node = apply(back, init_ct + acc0 + seq_vals + [a for _, a in k_used]
                 + ([trips] if trips is not None else []))
    del graph

    rules: list = [None] * len(inputs)
    for pos, j in enumerate(diff):
        if needs[j]:
            r = item(node, pos)
            rules[j] = r + init_extra[j] if j in init_extra else r
    for pos, i in enumerate(k_need):
        rules[nc + nx + i] = item(node, nd + pos)
    for pos, i in enumerate(x_need):
        rules[nc + i] = item(node, nd + len(k_need) + pos)
    return rules


def residual_frontier(grads: Sequence[Node], seeds: set[Node], varying: set[Node],
                      available: frozenset[Node] = frozenset()) -> list[Node]:
    """The nodes of the forward body the gradient nodes read that change from step to step.

    A node depends on the seeds (the cotangents) or not; the frontier is the
    set of seed-free nodes a seed-dependent node (or a result) reads.  Those
    that do not depend on a carry or a sequence slice (``varying``) are the
    same at every step (the body's constants, ``W.T``) and are left to the
    gradient body.  What the reverse sweep can read anyway (``available``: the
    carries in and out, on the trajectory, and the sequence slices) is not
    stored twice: a structural node (a reshape or transpose) is replaced by
    what it reads, and so is an elementwise node computed from available
    values only (``1 - h**2`` from the trajectory of ``h = tanh(...)``): cheap
    to redo, a whole carry per step to store.
    """
    seeded: set[Node] = set()
    moving: set[Node] = set(varying)
    cheap: set[Node] = set(available)
    frontier: dict[Node, None] = {}
    for n in ancestors(list(grads)):
        if n in seeds or any(i in seeded for i in n.inputs):
            seeded.add(n)
            for i in n.inputs:
                if i not in seeded and i in moving:
                    frontier[i] = None
        elif any(i in moving for i in n.inputs):
            moving.add(n)
            if (n.op.elementwise or n.op.structural) and all(
                    i in cheap or i not in moving for i in n.inputs):
                cheap.add(n)
    for g in grads:
        if g not in seeded and g in moving:
            frontier[g] = None
    out: dict[Node, None] = {}
    done: set[Node] = set()
    todo = list(frontier)
    while todo:
        n = todo.pop()
        if n in done:
            continue
        done.add(n)
        if n not in available and n.inputs and (n in cheap or n.op.structural):
            todo.extend(i for i in n.inputs if i in moving)
        else:
            out[n] = None
    return list(out)


def _spread(g: Node, k: int, length: int) -> Node:
    """``g`` (one entry per k steps) as a per-step array: zeros between the entries."""
    m = g.shape[0]
    rest = g.shape[1:]
    if k == 1:
        return g[:length]
    pad = zeros((m, k - 1) + rest, g.dtype, graph=g.graph)
    wide = concatenate([reshape(g, (m, 1) + rest), pad], axis=1)
    return reshape(wide, (m * k,) + rest)[:length]


def checkpointed_sweep(op: Loop, inputs: Sequence[Node], out: Node, gs: Sequence[Node | None],
                       needs: Sequence[bool]) -> list:
    """Reverse mode storing only every k-th carry: a reverse loop over segments of k steps,
    each running the forward body again (recording that segment) and then its reverse sweep.
    A shorter last segment is swept first on its own."""
    body, nc, nx, ny = op.body, op.n_carry, op.n_xs, op.n_ys
    carries, xs, consts, _, _ = op.split(inputs)
    k, T = op.checkpoint, op.length
    m_full, r = divmod(T, k)
    diff = [j for j in range(nc) if is_inexact(carries[j].dtype)]
    g_final, g_ys = list(gs[:nc]), list(gs[nc:nc + ny])
    if all(g is None for g in gs):
        return [None] * len(inputs)
    ckpts = [op.record(("checkpoints", j), out) for j in range(nc)]
    x_need = [i for i in range(nx) if needs[nc + i]]
    k_need = [i for i in range(len(consts)) if needs[nc + nx + i]]
    inner_needs = [True] * nc + [needs[nc + i] for i in range(nx)] + \
        [needs[nc + nx + i] for i in range(len(consts))]
    order = out.order + 1

    ct_c: list[Node | None] = [g_final[j] for j in range(nc)]
    acc: list[Node | None] = [None] * len(k_need)
    tail_x: list[Node | None] = [None] * len(x_need)
    if r:
        start = m_full * k
        tail = apply(Scan(body, None, nc, nx, r), [c[m_full] for c in ckpts]
                     + [x[start:] for x in xs] + list(consts))
        rules = tail.op.bprop(tail.inputs, tail, ct_c + [g[start:] if g is not None else None
                                                         for g in g_ys], inner_needs)
        ct_c = [rules[j] if j in diff else None for j in range(nc)]
        acc = [rules[nc + nx + i] for i in k_need]
        tail_x = [rules[nc + i] for i in x_need]
    if not m_full:
        rules_out: list = [None] * len(inputs)
        for j in diff:
            rules_out[j] = ct_c[j] if needs[j] else None
        for pos, i in enumerate(k_need):
            rules_out[nc + nx + i] = acc[pos]
        for pos, i in enumerate(x_need):
            rules_out[nc + i] = tail_x[pos]
        return rules_out

    nd, nk = len(diff), len(k_need)
    seg_ys = [g is not None for g in g_ys]
    span = m_full * k

    def segments(a: Node) -> Node:
        return reshape(a[:span], (m_full, k) + a.shape[1:])

    seq_vals = [c[:m_full] for c in ckpts] + [segments(x) for x in xs] + \
        [segments(g) for g in g_ys if g is not None]
    specs = ([(f"ct{j}", carries[j].shape, carries[j].dtype) for j in diff]
             + [(f"acc{i}", consts[i].shape, consts[i].dtype) for i in k_need]
             + [(f"checkpoint{j}", carries[j].shape, carries[j].dtype) for j in range(nc)]
             + [(f"xs{i}", (k,) + xs[i].shape[1:], xs[i].dtype) for i in range(nx)]
             + [(f"ct_ys{i}", (k,) + g_ys[i].shape[1:], g_ys[i].dtype)
                for i in range(ny) if seg_ys[i]]
             + [(f"const{i}", consts[i].shape, consts[i].dtype) for i in range(len(consts))])

    def segment(vs: list[Node]) -> list[Node]:
        it = iter(vs)
        cts = [next(it) for _ in diff]
        accs = [next(it) for _ in k_need]
        c0 = [next(it) for _ in range(nc)]
        xseg = [next(it) for _ in range(nx)]
        gy = [next(it) if seg_ys[i] else None for i in range(ny)]
        ks = [next(it) for _ in consts]
        inner = apply(Scan(body, None, nc, nx, k), c0 + xseg + ks)
        g_in = [None] * nc
        for pos, j in enumerate(diff):
            g_in[j] = cts[pos]
        rules = reverse_sweep(inner.op, inner.inputs, inner, g_in + gy, inner_needs,
                              acc_init=dict(zip(k_need, accs)))
        new_ct = [rules[j] if rules[j] is not None else zeros_like(c0[j]) for j in diff]
        new_acc = [rules[nc + nx + i] if rules[nc + nx + i] is not None else a
                   for a, i in zip(accs, k_need)]
        ct_x = [rules[nc + i] if rules[nc + i] is not None else zeros_like(xseg[i])
                for i in x_need]
        return new_ct + new_acc + ct_x

    seg_body = trace(segment, specs, "checkpointed scan segment", parent=out.graph, order=order)
    n_seq = nc + nx + sum(seg_ys)
    back = Scan(seg_body, None, nd + nk, n_seq, m_full, reverse=True)
    init_ct = [ct_c[j] if ct_c[j] is not None else zeros_like(carries[j]) for j in diff]
    acc0 = [a if a is not None else zeros_like(consts[i]) for a, i in zip(acc, k_need)]
    node = apply(back, init_ct + acc0 + seq_vals + list(consts) + list(seg_body.captured))
    rules_out = [None] * len(inputs)
    for pos, j in enumerate(diff):
        if needs[j]:
            rules_out[j] = item(node, pos)
    for pos, i in enumerate(k_need):
        rules_out[nc + nx + i] = item(node, nd + pos)
    for pos, i in enumerate(x_need):
        seg = item(node, nd + nk + pos)
        flat = reshape(seg, (span,) + seg.shape[2:])
        rules_out[nc + i] = concatenate([flat, tail_x[pos]]) if r else flat
    return rules_out


# ---------------------------------------------------------------------------
# forward mode
# ---------------------------------------------------------------------------

def forward_sweep(op: Loop, inputs: Sequence[Node], out: Node, ts: Sequence[Node | None]
                  ) -> list | None:
    """The loop's Jacobian-vector product: one loop over the body and its tangents."""
    body, nc, nx, ny = op.body, op.n_carry, op.n_xs, op.n_ys
    carries, xs, consts, cconsts, n = op.split(inputs)
    c_in, x_in, k_in = body.inputs[:nc], body.inputs[nc:nc + nx], body.inputs[nc + nx:]
    c_out, y_out = body.outputs[:nc], body.outputs[nc:]
    t_c, t_x, t_k = ts[:nc], ts[nc:nc + nx], ts[nc + nx:nc + nx + len(consts)]
    if all(t is None for t in list(t_c) + list(t_x) + list(t_k)):
        return None
    diff = [j for j in range(nc) if is_inexact(c_in[j].dtype)]
    mx = [i for i in range(nx) if t_x[i] is not None]
    mk = [i for i in range(len(consts)) if t_k[i] is not None]
    moving = [c_in[j] for j in diff] + [x_in[i] for i in mx] + [k_in[i] for i in mk]
    records = list(op.records)
    steps = [r[1] for r in records if r[0] == "step"]
    outs = [c_out[j] for j in diff] + list(y_out) + steps
    tvars, touts = body_jvp(body, outs, moving)
    nd = len(diff)
    tc_vars, tx_vars, tk_vars = tvars[:nd], tvars[nd:nd + len(mx)], tvars[nd + len(mx):]
    tc_out, ty_out, tstep = touts[:nd], touts[nd:nd + ny], touts[nd + ny:]
    j_body = Body(body.graph, list(c_in) + tc_vars + list(x_in) + tx_vars + list(k_in) + tk_vars,
                  list(c_out) + tc_out + list(y_out) + ty_out)
    cond = op.cond
    if cond is not None:
        extra = fresh_inputs(cond, [c_in[j] for j in diff], "dot")
        cond = with_inputs(cond, list(cond.inputs[:nc]) + extra + list(cond.inputs[nc:]))
    new = type(op)(j_body, cond, nc + nd, nx + len(mx), op.length, op.reverse, op.dynamic,
                   op.checkpoint)
    init_t = [t_c[j] if t_c[j] is not None else zeros_like(carries[j]) for j in diff]
    node = apply(new, list(carries) + init_t + list(xs) + [t_x[i] for i in mx] + list(consts)
                 + [t_k[i] for i in mk] + list(cconsts) + ([n] if n is not None else []))
    tangents: list = [None] * op.result_count()
    for pos, j in enumerate(diff):
        tangents[j] = item(node, nc + pos)
    base = 2 * nc - (nc - nd)
    for k in range(ny):
        if is_inexact(y_out[k].dtype):
            tangents[nc + k] = item(node, base + ny + k)
    step_pos = 0
    for r_index, rec in enumerate(records):
        kind = rec[0]
        where = nc + ny + r_index
        if kind == "step":
            tangent_node = tstep[step_pos]
            step_pos += 1
            if is_inexact(rec[1].dtype):
                tangents[where] = new.record(("step", tangent_node), node)
        elif kind in ("traj", "checkpoints") and rec[1] in diff:
            tangents[where] = new.record((kind, nc + diff.index(rec[1])), node)
    return tangents


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

def _leaves(tree: Any, what: str, graph: Graph | None) -> tuple[list[Node], Any]:
    leaves, unflatten = flatten(tree, lambda t: isinstance(t, Node))
    nodes = []
    for v in leaves:
        try:
            nodes.append(as_node(v) if not isinstance(v, Node) else v)
        except SymgraphError as e:
            raise SymgraphError(f"{what}: {type(v).__name__} {v!r:.40} is not a node or an "
                                f"array: {e}") from None
    return nodes, unflatten


def _names(prefix: str, n: int) -> list[str]:
    return [prefix if n == 1 else f"{prefix}{k}" for k in range(n)]


def _check_carry(new: list[Node], init: list[Node], unflatten: Any, new_structure: Any,
                 what: str) -> None:
    if new_structure.key != unflatten.key:
        raise SymgraphError(f"{what}: the body returned a carry of another structure than init "
                            "(same nesting of tuples, lists and dicts of the same lengths needed)")
    for k, (a, b) in enumerate(zip(new, init)):
        if a.shape != b.shape:
            raise ShapeError(f"{what}: carry {k} comes out of the body with shape {a.shape} but "
                             f"went in with shape {b.shape}; a carry keeps its shape")
        if a.dtype != b.dtype:
            raise DTypeError(f"{what}: carry {k} comes out of the body with dtype {a.dtype} but "
                             f"went in with dtype {b.dtype}; cast it (a carry keeps its dtype)")


def scan(fn: Callable, init: Any, xs: Any = None, length: int | None = None,
         checkpoint: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """Loop ``fn(carry, x) -> (carry, y)`` over the leading axis of ``xs`` (``jax.lax.scan``).

    ``init`` is a node or array, or a tuple/list/dict of them (the carry keeps
    that structure, and each part its shape and dtype); ``xs`` likewise, each
    part scanned along its leading axis (or ``None`` with ``length``).  ``fn``
    is called once, on nodes, to trace the body into a subgraph; it may use
    nodes from outside (they are captured and get gradients).  Returns
    ``(final_carry, ys)``, the ``y`` of every step stacked on a new leading
    axis (``None`` if ``fn`` returns ``None`` for ``y``).

    Differentiable in both modes, to any order: reverse mode is a loop running
    backwards over the body's gradient (built once), reading the carries and
    the body values it needs, recorded by the forward loop; forward mode is a
    loop over the body's jvp.  ``checkpoint=k`` records only every k-th carry
    and recomputes each segment of k steps in the reverse sweep: memory
    O(length/k + k) carries instead of O(length) (``k = int(sqrt(length))``
    is the usual choice).  ``reverse=True`` scans from the last step to the
    first (ys stay in step order).

    ``sg.vectorize`` (and so ``sg.jacobian``/``sg.hessian``) batches the body once,
    never looping over the batch (``flow.batching``).  On dask arrays each step
    is dask operations on the carries (lazy, nothing computed).

    Example::

        def step(h, x):
            h = sg.tanh(h @ W + x @ U)
            return h, h @ v
        h_T, ys = sg.scan(step, h0, xs)
    """
    what = "scan"
    graph = get_default_graph()
    init_nodes, unflatten_c = _leaves(init, what, graph)
    if xs is None:
        x_nodes, unflatten_x = [], None
    else:
        x_nodes, unflatten_x = _leaves(xs, what, graph)
    if length is not None:
        length = _size(length, "scan: length")
    lengths = {x.shape[0] if x.ndim else None for x in x_nodes}
    if None in lengths:
        raise ShapeError("scan: every part of xs needs a leading axis to scan over (a 0-d value "
                         "has none)")
    if len(lengths) > 1:
        raise ShapeError(f"scan: the parts of xs have different lengths {sorted(lengths)}")
    if lengths:
        T = lengths.pop()
        if length is not None and length != T:
            raise ShapeError(f"scan: length={length} but xs has length {T}")
    elif length is None:
        raise SymgraphError("scan: give xs or length (the number of steps)")
    else:
        T = length
    if checkpoint is not None:
        checkpoint = _size(checkpoint, "scan: checkpoint")
        if checkpoint < 1:
            raise SymgraphError(f"scan: checkpoint must be a positive number of steps, got "
                                f"{checkpoint}")
    if reverse:
        x_nodes = [x[::-1] for x in x_nodes]
    parent = graph_of(init_nodes + x_nodes)
    out_info: dict[str, Any] = {}
    nc = len(init_nodes)
    specs = ([(n, c.shape, c.dtype) for n, c in zip(_names("carry", nc), init_nodes)]
             + [(n, x.shape[1:], x.dtype) for n, x in zip(_names("x", len(x_nodes)), x_nodes)])

    def body(vs: list[Node]) -> list[Node]:
        carry = unflatten_c(vs[:nc])
        x = unflatten_x(vs[nc:]) if unflatten_x is not None else None
        result = fn(carry, x)
        if not isinstance(result, tuple) or len(result) != 2:
            raise SymgraphError(f"scan: fn must return a pair (carry, y), got "
                                f"{type(result).__name__}")
        new_c, y = result
        new_leaves, new_structure = _leaves(new_c, what, None)
        new_leaves = [n if isinstance(n, Node) else as_node(n) for n in new_leaves]
        _check_carry(new_leaves, vs[:nc], unflatten_c, new_structure, what)
        if y is None:
            out_info["y"] = None
            return new_leaves
        y_leaves, unflatten_y = _leaves(y, what, None)
        out_info["y"] = unflatten_y
        return new_leaves + y_leaves

    traced = trace(body, specs, what, parent=parent)
    op = Scan(traced, None, nc, len(x_nodes), T, checkpoint=checkpoint)
    node = apply(op, init_nodes + x_nodes + list(traced.captured))
    final = unflatten_c([item(node, k) for k in range(nc)])
    if out_info["y"] is None:
        return final, None
    ys = [item(node, nc + k) for k in range(op.n_ys)]
    if reverse:
        ys = [y[::-1] for y in ys]
    return final, out_info["y"](ys)


def while_loop(cond_fn: Callable, body_fn: Callable, init: Any,
               max_steps: int | None = None) -> Any:
    """Run ``carry = body_fn(carry)`` while ``cond_fn(carry)`` is true (``jax.lax.while_loop``).

    ``init`` is a node or array, or a tuple/list/dict of them; ``cond_fn``
    returns a scalar (its truth is tested) and ``body_fn`` a carry of the same
    structure, shapes and dtypes.  Both are traced once.  ``max_steps`` caps the
    number of steps (the loop stops there even if ``cond_fn`` still holds, as an
    iterative solver's ``maxiter``).

    Forward mode (``sg.jvp``) always works.  Reverse mode works too, unlike
    JAX's ``while_loop``: the forward pass records the trip count and the
    carries, which needs ``max_steps`` to bound the storage.  The trip count
    itself has no derivative (it is piecewise constant).

    ``sg.vectorize`` over a value the condition reads gives examples different
    trip counts: the batched loop runs until the last example stops, keeping the
    carries of finished examples (``where``), so the body still runs on their
    frozen values (as JAX's ``vmap`` of ``while_loop``; see ``flow.batching``).
    On dask arrays the condition is computed at every step (the loop must know
    whether to go on: the one computation a lazy run makes), after the carries are
    persisted so that no step's work is done twice; the results stay dask arrays.
    """
    what = "while_loop"
    init_nodes, unflatten_c = _leaves(init, what, None)
    if max_steps is not None:
        max_steps = _size(max_steps, "while_loop: max_steps")
    parent = graph_of(init_nodes)
    nc = len(init_nodes)
    specs = [(n, c.shape, c.dtype) for n, c in zip(_names("carry", nc), init_nodes)]

    def cond_body(vs: list[Node]) -> list[Node]:
        pred = as_node(cond_fn(unflatten_c(vs)))
        if pred.shape != ():
            raise ShapeError(f"while_loop: cond_fn must return a scalar, got shape {pred.shape}")
        return [pred]

    def step_body(vs: list[Node]) -> list[Node]:
        new_leaves, new_structure = _leaves(body_fn(unflatten_c(vs)), what, None)
        _check_carry(new_leaves, vs, unflatten_c, new_structure, what)
        return new_leaves

    cond = trace(cond_body, specs, "while_loop condition", parent=parent)
    step = trace(step_body, specs, what, parent=parent)
    op = WhileLoop(step, cond, nc, 0, max_steps)
    node = apply(op, init_nodes + list(step.captured) + list(cond.captured))
    return unflatten_c([item(node, k) for k in range(nc)])


def graph_of(nodes: Sequence[Node]) -> Graph:
    """The graph a loop over ``nodes`` is built in: the innermost of theirs and the default."""
    graph = nodes[0].graph if nodes else get_default_graph()
    for g in [n.graph for n in nodes[1:]] + [get_default_graph()]:
        if g is not graph and graph.encloses(g):
            graph = g
    return graph


def _size(v: Any, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise SymgraphError(f"{what} must be an integer, got {type(v).__name__} {v!r:.40}")
    if v < 0:
        raise SymgraphError(f"{what} must be non-negative, got {v}")
    return int(v)


__all__ = ["scan", "while_loop"]
