"""Rematerialization: fit a memory budget by ordering well and computing values again.

A backward pass reads forward values long after they were made.  When the
planned peak (``Plan.peak_bytes``) is over the budget, two things happen:

1. Free first: values move up to right after their arguments where that
   frees more bytes than it holds (``hoisted``: a weight's gradient
   ``h.T @ g``, an output held to the end anyway, made as soon as ``g`` is,
   so ``g`` does not wait through the rest of the backward pass).
2. Recompute: at the peak step, a buffer *idle* there (made before it, read
   next after it) is freed until its next read, and what that read needs is
   made again just before it: the value (``tanh(z)``) and, when they are no
   longer alive then, its arguments too (``z = h @ W`` from the ``h`` kept
   for the layer's own gradient), back to values alive anyway, parameters
   and constants.  That is checkpointing's store-vs-recompute trade, decided
   greedily against the planner's own byte count:

   * what is made again is a small sub-DAG of built-in ops (at most
     ``MAX_RECOMPUTE`` values); never a loop, a branch, a user op run
     through its ``f`` or a tuple's item.  The same code on the same
     arguments: copies are bitwise equal to the originals;
   * policy, in tiers tried in turn: elementwise sub-DAGs (and views);
     then ones with other linear-time ops (reductions, shapes, softmax);
     then ones with products or factorizations (``h @ W``: checkpointing a
     deep network).  A tier starts only when the ones before it cannot
     meet the budget (no pick left, or ``MAX_STALE`` rounds in a row each
     lowering the peak by less than 1/``STALE_FRACTION``).  Within a tier,
     the pick freeing a buffer at the peak for the fewest estimated flops
     per byte freed (``recompute_cost``) goes first;
   * each round re-plans the program once for a *batch* of picks, each at
     the peak of the byte profile predicted from the ones before it, none
     freeing a buffer another reads or frees.  The batch is kept only if the
     real plan's peak (then the bytes held over time) goes down; batches
     double on success and halve on failure (a lone pick that fails is never
     tried again).

Budget semantics (``sg.function(memory_budget=...)``): the bytes a call
holds at once in buffers of its own, as ``Plan.peak_bytes`` counts them:
temporaries (and an op's scratch inside its step, ``scratch_bytes``) and
the returned arrays (allocated inside the call), the kept workspace in full;
not the caller's inputs nor the compiled constants.  tracemalloc measures
the same within the arrays' Python objects.  A budget the default plan fits
changes nothing; otherwise the search stops at the first plan that fits.
An unmet budget is no error and no warning (0 is the way to ask for the
lowest peak): the function gets the lowest peak found, and
``f.peak_bytes > memory_budget`` says the budget was not met.

Complexity: at most ``MAX_ROUNDS`` (+1 for the move) plans of the program,
each O(N log N) for its N values (N grows by the copies), plus per pick one
numpy scan over the gaps (O(N) in C) and the sub-DAG walks (at most
``MAX_RECOMPUTE`` values each, done once per gap and round).  A 2000-level
chain's value and gradient (17,000 nodes, every buffer a candidate)
compiles in about 4x the time it takes without a budget at half its
default peak, 8x at budget 0; an 800-layer MLP (11,000 nodes) 6x and 11x.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

import numpy as np

from ..ops.tuples import Item
from .fusion import FusedOp, MatmulAccumulate, TriangularProduct
from .ir import Program, Ref, Value, has_emit
from .schedule import Plan, aliasing, infer_shapes, nbytes, schedule

#: values in one recomputed sub-DAG, at most
MAX_RECOMPUTE = 32
#: planning rounds, at most (each re-plans the whole program once)
MAX_ROUNDS = 32
#: rounds in a row that lower the peak by less than 1/STALE_FRACTION of it, at most
MAX_STALE = 3
STALE_FRACTION = 256
#: picks tried together in one round, at most
MAX_BATCH = 4096
#: a rank's unit per tier; flops per byte are capped below it (a rank stays exact to 1e-6)
TIER = 1e9
#: modules of superlinear ops (factorizations, solves, contractions)
_SUPERLINEAR_MODULES = ("linalg", "solve", "eigen", "qr", "triangular", "contract")


def plan_program(prog: Program, optimize: bool, reuse: bool = False,
                 owned: frozenset = frozenset(), planner: Any = None,
                 order: list[Value] | None = None) -> Plan:
    """``prog`` scheduled (or in the given ``order``) and its memory planned (``schedule.Plan``)."""
    if order is None:
        order = schedule(prog)
        infer_shapes(order)
    return Plan(prog, order, optimize, reuse, owned, planner)


def recompute_cost(v: Value) -> tuple[int, float]:
    """``(tier, flops)`` of computing ``v`` again: tier 0 views and elementwise ops, 1 other
    linear-time ops, 2 products and factorizations (see the module's docstring)."""
    op = v.op
    if aliasing(v) == "view":
        return 0, 0.0
    out = math.prod(v.shape)
    if v.elementwise:
        return 0, float(out)
    ins = [math.prod(r.value.shape) for r in v.args]
    module = type(op).__module__.rsplit(".", 1)[-1]
    if (getattr(op, "multilinear", False) or isinstance(op, (MatmulAccumulate, TriangularProduct))
            or (isinstance(op, FusedOp) and any(w in op.name for w in ("matmul", "gemm")))):
        big = sorted(ins)[-2:]  # m*k*n = sqrt(|a| |b| |a @ b|)
        return 2, 2.0 * math.sqrt(float(math.prod(big)) * max(out, 1))
    if module in _SUPERLINEAR_MODULES:
        return 2, float(max(ins + [out])) ** 1.5
    return 1, float(out + sum(ins))


def copyable(v: Value) -> bool:
    """Whether compiled code may compute ``v`` a second time: a built-in (or emitting) op
    with one result; not a loop, a branch, a tuple's item or a user op run through ``f``."""
    return (v.kind == "op" and has_emit(v.op) and not getattr(v.op, "multiple_results", False)
            and not isinstance(v.op, Item))


class Pick:
    """One buffer freed between its reads at ``gap`` (exclusive): the values ``recompute``
    (in order) made again before the reads ``late`` (consumer, argument position), inserted
    at ``at`` in the round's order; ``sources``: the buffers they read (alive anyway)."""

    __slots__ = ("buffer", "gap", "late", "recompute", "key", "sources", "extra", "at")

    def __init__(self, buffer: Value, gap: tuple[int, int], late: list[tuple[Value, int]],
                 recompute: list[Value], key: tuple, sources: set[Value], extra: int,
                 at: int) -> None:
        self.buffer, self.gap, self.late, self.recompute = buffer, gap, late, recompute
        self.key, self.sources, self.extra, self.at = key, sources, extra, at

    def clashes(self, other: Pick) -> bool:
        """Whether ``self`` reads ``other``'s buffer inside ``other``'s gap (or before its
        copies exist): then it would keep the buffer ``other`` frees alive."""
        a, b = other.gap
        return other.buffer in self.sources and a < self.gap[1] and self.at <= other.at


class Round:
    """What one plan says about buffers: their reads, their idle gaps, the live-byte profile."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.order = with_inlined_last(plan, plan.all)
        self.index = {v: k for k, v in enumerate(self.order)}
        pos, owner = plan.pos, plan.owner
        reads: dict[Value, list[tuple[int, Value, int]]] = {}
        for w in plan.all:
            p = pos[w]
            for k, r in enumerate(w.args):
                for root in plan.roots[r.value]:
                    b = owner.get(root)
                    if b is not None:
                        reads.setdefault(b, []).append((p, w, k))
        for lst in reads.values():
            lst.sort(key=lambda e: e[0])
        self.reads = reads
        self.read_pos = {b: [e[0] for e in lst] for b, lst in reads.items()}
        self.buffers = list(plan.buffer_end)
        self.slot_of = {o: j for j, o in enumerate(self.buffers)}
        start = np.array([pos[plan.born.get(o, o)] for o in self.buffers], dtype=np.int64)
        end = np.array([plan.buffer_end[o] for o in self.buffers], dtype=np.int64)
        self.size = np.array([plan.size(o) for o in self.buffers], dtype=np.int64)
        steps = len(plan.order)
        delta = np.zeros(steps + 2, dtype=np.int64)
        np.add.at(delta, start, self.size)
        np.add.at(delta, end + 1, -self.size)
        self.live = np.cumsum(delta)[:steps + 1]
        for v, size in plan.scratch.items():
            self.live[pos[v]] += size
        # the gaps: a buffer (not returned) idle between two steps that touch it
        gaps: list[tuple[Value, int, int, int]] = []
        for j, o in enumerate(self.buffers):
            rp = self.read_pos.get(o)
            if not rp or end[j] >= steps:
                continue
            last = int(start[j])
            for i, b in enumerate(rp):
                if b - last >= 2:
                    gaps.append((o, i, last, b))
                last = b
        self.gaps = gaps
        self.gap_a = np.array([g[2] for g in gaps], dtype=np.int64)
        self.gap_b = np.array([g[3] for g in gaps], dtype=np.int64)
        self.rank = np.full(len(gaps), np.nan)  # computed when first needed; inf: no pick
        self.picks: list[Pick | None] = [None] * len(gaps)
        self.of_buffer: dict[Value, list[int]] = {}
        for j, g in enumerate(gaps):
            self.of_buffer.setdefault(g[0], []).append(j)
        self.costs: dict[Value, tuple[int, float]] = {}

    def buffer_of(self, v: Value) -> Value | None:
        """The one buffer of the function's own ``v`` lives in, or None."""
        found = {self.plan.owner[r] for r in self.plan.roots[v] if r in self.plan.owner}
        return found.pop() if len(found) == 1 else None

    def best(self, t: int, excluded: np.ndarray, tier: int) -> int | None:
        """The best-ranked gap around step ``t`` not ``excluded`` whose pick's tier is at
        most ``tier``, or None."""
        cand = np.nonzero((self.gap_a < t) & (self.gap_b > t) & ~excluded)[0]
        if not cand.size:
            return None
        for j in cand[np.isnan(self.rank[cand])]:
            self.rank[j] = self.evaluate(int(j))
        j = int(cand[np.argmin(self.rank[cand])])
        return None if self.rank[j] >= (tier + 1) * TIER else j

    def evaluate(self, j: int) -> float:
        """Gap ``j``'s pick made, and its rank: tier first, then flops per byte freed
        (nudged towards longer gaps: at most 25% more for the shortest)."""
        buffer, i, a, b = self.gaps[j]
        pick = self.picks[j] = self.make_pick(buffer, i, a, b)
        if pick is None:
            return np.inf
        tier, flops = 0, 0.0
        for v in pick.recompute:
            if v not in self.costs:
                self.costs[v] = recompute_cost(v)
            vt, vf = self.costs[v]
            tier, flops = max(tier, vt), flops + vf
        per_byte = flops / max(int(self.size[self.slot_of[buffer]]), 1)
        per_byte = min(per_byte * (1.0 + 1.0 / (b - a + 2)), TIER / 2)  # long gaps free more steps
        return tier * TIER + per_byte

    def make_pick(self, buffer: Value, i: int, a: int, b: int) -> Pick | None:
        """Free ``buffer`` between steps ``a`` and ``b`` (its ``i``-th read), if what its reads
        from ``b`` on need can be made again from what is alive at ``b``."""
        plan = self.plan
        pos = plan.pos
        late = []
        wanted: list[Value] = []
        for p, w, k in self.reads[buffer][i:]:
            x = w.args[k].value
            if pos[x] <= a:  # made before the gap: made again (one made later reads copies)
                late.append((w, k))
                if x not in wanted:
                    wanted.append(x)
        if not late:
            return None
        at = min(self.index[w] for w, _ in late)
        # the sub-DAG to make again: back to what is alive at b anyway
        recompute: set[Value] = set()
        sources: set[Value] = set()
        stack = list(wanted)
        while stack:
            x = stack.pop()
            if x in recompute:
                continue
            if not copyable(x) or len(recompute) >= MAX_RECOMPUTE:
                return None
            recompute.add(x)
            for r in x.args:
                u = r.value
                if u.kind != "op" or plan.last_use.get(u, pos[u]) >= b:
                    if self.index[u] >= at:
                        return None  # placed after the first late read: cannot go before it
                    sources.add(u)
                elif u not in recompute:
                    stack.append(u)
        ordered = sorted(recompute, key=self.index.__getitem__)
        extra = max((nbytes(v) for v in ordered if v not in wanted and aliasing(v) != "view"),
                    default=0)  # chains are mostly made in place: the largest link
        reads = {o for o in map(self.buffer_of, sources) if o is not None}
        key = (buffer, tuple(wanted))
        return Pick(buffer, (a, b), late, ordered, key, reads, extra, at)


def choose(rnd: Round, budget: int, count: int, rejected: set, tier: int) -> list[Pick]:
    """Up to ``count`` picks, each at the peak of the profile predicted from those before it.
    A pick reading a buffer another frees reads it before its gap, or the other's copies
    after it (``Pick.clashes``), so the predictions add up."""
    predicted = rnd.live.copy()
    excluded = np.zeros(len(rnd.gaps), dtype=bool)
    picks: list[Pick] = []
    freeing: dict[Value, Pick] = {}  # buffer -> the pick freeing it
    reading: dict[Value, list[Pick]] = {}  # buffer -> the picks reading it
    while len(picks) < count:
        t = int(np.argmax(predicted))
        if predicted[t] <= budget:
            break
        j = rnd.best(t, excluded, tier)
        if j is None:
            break
        pick = rnd.picks[j]
        assert pick is not None
        if (pick.key in rejected
                or any(pick.clashes(freeing[o]) for o in pick.sources if o in freeing)
                or any(p.clashes(pick) for p in reading.get(pick.buffer, ()))):
            excluded[j] = True
            continue
        picks.append(pick)
        freeing[pick.buffer] = pick
        for o in pick.sources:
            reading.setdefault(o, []).append(pick)
        excluded[rnd.of_buffer[pick.buffer]] = True
        a, b = pick.gap
        predicted[a + 1:b] -= rnd.size[rnd.slot_of[pick.buffer]]
        predicted[b] += pick.extra
    return picks


def apply(prog: Program, rnd: Round, picks: list[Pick]) -> tuple[list[Value], list, list[Value]]:
    """Add the picks' copies to ``prog``; the new order, what undoes it, and the copies.
    All copies are made from the arguments as they were before any read is redirected."""
    before: dict[int, list[Value]] = {}
    copies: list[Value] = []
    redirects: list[tuple[Value, int, Value]] = []
    replaced: dict[Value, Value] = {}  # a value read late -> its copy, for picks placed later
    for pick in sorted(picks, key=lambda p: p.at):
        made: dict[Value, Value] = {}
        for x in pick.recompute:
            args = [Ref(made.get(r.value) or replaced.get(r.value, r.value), r.shape)
                    for r in x.args]
            c = Value(x.node, x.op, args, "op")
            c.copy_of = x.copy_of if x.copy_of is not None else x
            c.shape = x.shape
            c.index = len(prog.values)
            prog.values.append(c)
            made[x] = c
            copies.append(c)
        redirects.extend((w, k, made[w.args[k].value]) for w, k in pick.late)
        replaced.update((w.args[k].value, made[w.args[k].value]) for w, k in pick.late)
        before.setdefault(pick.at, []).extend(made.values())
    undo: list[tuple[Value, int, Ref]] = []
    for w, k, c in redirects:
        undo.append((w, k, w.args[k]))
        w.args[k] = Ref(c, w.args[k].shape)
    order: list[Value] = []
    for k, v in enumerate(rnd.order):
        order.extend(before.get(k, ()))
        order.append(v)
    return live_only(prog, order), undo, copies


def live_only(prog: Program, order: list[Value]) -> list[Value]:
    """``order`` without the values nothing reads any more (a copy made again later)."""
    needed = {r.value for r in prog.outputs}
    for v in reversed(order):
        if v in needed:
            needed.update(r.value for r in v.args)
    return [v for v in order if v in needed]


def revert(prog: Program, undo: list, count: int) -> None:
    for w, k, old in reversed(undo):
        w.args[k] = old
    del prog.values[len(prog.values) - count:]


def hoisted(rnd: Round) -> list[Value]:
    """``rnd``'s order with values moved up to right after their arguments where that frees
    more bytes than it holds: a weight's gradient ``h.T @ g`` (an output, held to the end
    anyway) made as soon as ``g`` is, so ``g`` is not kept through the rest of the backward
    pass.  One pass in order: a value's new key is after its arguments' new keys, so the
    result is topological."""
    plan = rnd.plan
    order = rnd.order
    key: dict[Value, float] = {}
    at: dict[Value, int] = {}  # the step a value is made at after the moves (roughly)
    n = len(order)
    for i, v in enumerate(order):
        ready = max((key[r.value] for r in v.args), default=-1.0)
        p = plan.pos[v]
        key[v], at[v] = float(i), p
        start = max((at[r.value] for r in v.args), default=0)
        if v in plan.inline:  # goes with its consumer: no later than its arguments allow
            key[v], at[v] = ready + 0.5 * (i + 1) / (n + 1), start
            continue
        if v.kind != "op" or ready >= i - 1 or start >= p:
            continue
        gain = 0
        for r in v.args:
            b = rnd.buffer_of(r.value)
            reads = rnd.read_pos.get(b) if b is not None else None
            if not reads or reads[-1] != p or plan.buffer_end[b] != p:
                continue
            k = bisect_right(reads, p - 1)
            prev = reads[k - 1] if k else p
            gain += int(rnd.size[rnd.slot_of[b]]) * (p - max(prev, start))
        cost = nbytes(v) * (p - start) if v in plan.allocated else 0
        if gain > cost:
            key[v], at[v] = ready + 0.5 * (i + 1) / (n + 1), start
    return with_inlined_last(plan, sorted(order, key=key.__getitem__))


def with_inlined_last(plan: Plan, order: list[Value]) -> list[Value]:
    """``order`` with each value ``plan`` inlines right before its consumer (then a copy
    placed before a read of it goes before the expression reading it)."""
    out: list[Value] = []
    for v in order:
        if v in plan.inline:
            continue
        out.extend(r.value for r in v.args if r.value in plan.inline)
        out.append(v)
    return out


def rematerialize(prog: Program, budget: int, optimize: bool, reuse: bool = False,
                  planner: Any = None) -> tuple[Plan, list[Value]]:
    """Add recomputed copies to ``prog`` until its estimated peak is at most ``budget`` bytes
    (or no pick lowers it); the plan, and one copy per node computed twice."""
    plan = plan_program(prog, optimize, reuse, planner=planner)
    if plan.peak_bytes > budget:  # first what costs nothing: a better order
        trial = plan_program(prog, optimize, reuse, planner=planner, order=hoisted(Round(plan)))
        if (trial.peak_bytes, trial.byte_steps) < (plan.peak_bytes, plan.byte_steps):
            plan = trial
    rejected: set = set()
    rounds = 0
    for tier in range(3):  # elementwise first; products only when that is not enough
        count, stale = 8, 0
        while plan.peak_bytes > budget and stale < MAX_STALE and rounds < MAX_ROUNDS:
            rounds += 1
            rnd = Round(plan)
            picks = choose(rnd, budget, count, rejected, tier)
            if not picks:
                break
            order, undo, made = apply(prog, rnd, picks)
            trial = plan_program(prog, optimize, reuse, planner=planner, order=order)
            gain = plan.peak_bytes - trial.peak_bytes
            stale = 0 if gain * STALE_FRACTION > plan.peak_bytes else stale + 1
            if (trial.peak_bytes, trial.byte_steps) < (plan.peak_bytes, plan.byte_steps):
                plan = trial
                count = min(2 * count, MAX_BATCH)
            else:
                revert(prog, undo, len(made))
                if len(picks) == 1:
                    rejected.add(picks[0].key)
                count = max(1, len(picks) // 2)
    return plan, computed_twice(plan)


def computed_twice(plan: Plan) -> list[Value]:
    """One copy per node the plan computes more than once.  A copy whose original nothing
    reads any more only moved the node later: it is the node's one value again (and is
    named as such)."""
    count: dict = {}
    for v in plan.all:
        count[v.node] = count.get(v.node, 0) + 1
    first: dict = {}
    for c in plan.all:
        if c.copy_of is not None:
            if count[c.node] > 1:
                first.setdefault(c.node, c)
            else:
                c.copy_of = None
    return list(first.values())
