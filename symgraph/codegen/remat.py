"""Rematerialization: recompute cheap values instead of keeping them alive.

The backward pass reads forward values long after they were made; an
elementwise value (``tanh(z)``, ``z * 0.5``, a mask) can be made again from
its inputs just before that late use, so it need not occupy memory in
between.  That is the seed's store-vs-recompute trade-off, decided greedily
against the planner's own byte count: the largest candidates first, each
accepted only if it lowers the estimated peak (or, at equal peak, the bytes
held over time), until the peak fits ``memory_budget``.  Recomputing may
keep an input alive longer; the estimate accounts for that.
"""

from __future__ import annotations

from typing import Any

from .ir import Program, Ref, Value
from .schedule import Plan, infer_shapes, nbytes, schedule

#: a value is split only when its uses are at least this many steps apart
MIN_GAP = 3


def plan_program(prog: Program, optimize: bool, reuse: bool = False,
                 owned: frozenset = frozenset(), planner: Any = None) -> Plan:
    """``prog`` scheduled and its memory planned (see ``schedule.Plan``)."""
    order = schedule(prog)
    infer_shapes(order)
    return Plan(prog, order, optimize, reuse, owned, planner)


def rematerialize(prog: Program, budget: int, optimize: bool, reuse: bool = False,
                  planner: Any = None) -> tuple[Plan, list[Value]]:
    """Add recomputed copies to ``prog`` until its estimated peak is at most ``budget`` bytes."""
    plan = plan_program(prog, optimize, reuse, planner=planner)
    copies: list[Value] = []
    if plan.peak_bytes <= budget:
        return plan, copies
    users: dict[Value, list[tuple[Value, int]]] = {}
    for v in plan.all:
        for k, r in enumerate(v.args):
            users.setdefault(r.value, []).append((v, k))
    candidates = [v for v in plan.order if v.elementwise and v in plan.fresh and
                  v not in plan.outputs and nbytes(v) > 0]
    candidates.sort(key=lambda v: (-nbytes(v), v.index))
    for v in candidates:
        uses = sorted(users.get(v, []), key=lambda u: plan.pos[u[0]])
        points = [plan.pos[v]] + [plan.pos[c] for c, _ in uses]
        gap, split = max(((points[i + 1] - points[i], i) for i in range(len(points) - 1)),
                         default=(0, 0))
        if gap < MIN_GAP:
            continue
        late = [(c, k) for c, k in uses if plan.pos[c] >= points[split + 1]]
        copy = Value(v.node, v.op, [Ref(r.value, r.shape) for r in v.args], "op")
        copy.copy_of = v
        copy.index = len(prog.values)
        for c, k in late:
            c.args[k] = Ref(copy, c.args[k].shape)
        prog.values.append(copy)
        trial = plan_program(prog, optimize, reuse, planner=planner)
        if (trial.peak_bytes, trial.byte_steps) < (plan.peak_bytes, plan.byte_steps):
            plan = trial
            copies.append(copy)
            users[v] = [u for u in users[v] if u not in late]
            users[copy] = late
            for k, r in enumerate(copy.args):
                users.setdefault(r.value, []).append((copy, k))
            if plan.peak_bytes <= budget:
                break
        else:
            for c, k in late:
                c.args[k] = Ref(v, c.args[k].shape)
            prog.values.pop()
    if copies:  # shapes of the last trial may differ from the accepted plan's
        infer_shapes(plan.order)
    return plan, copies
