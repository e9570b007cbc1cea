"""The derivative rules of loops: reverse sweeps (stored or checkpointed) and forward sweeps.

A loop's vector-Jacobian product is a loop running the other way over the
body's gradient body (built once with ``build_grad`` in the body's graph),
fed by what the forward loop recorded: the carries' trajectories and the
few per-step values (*residuals*) that cannot be redone cheaply from them.
With ``checkpoint=k`` the forward loop records every k-th carry only, and the
reverse sweep is a loop over segments, each running k forward steps again
(recording them) and then their own reverse sweep.  The Jacobian-vector
product is one loop over the body and its tangents.  All of them are loops
again, so derivatives of derivatives work the same way.
"""

from __future__ import annotations

from typing import Sequence

from ..graph import Node, apply
from ..ops.base import is_inexact
from ..ops.shape import concatenate, reshape
from ..ops.sources import zeros, zeros_like
from ..ops.tuples import item
from ..transforms.substitute import substitute
from ..traversal import ancestors
from .body import Body, body_jvp, body_vjp, fresh_inputs, trace, with_inputs
from .loops import Loop, Scan

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



__all__ = ["reverse_sweep", "checkpointed_sweep", "forward_sweep", "residual_frontier"]
