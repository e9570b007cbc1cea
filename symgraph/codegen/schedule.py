"""Order, shapes, lifetimes, in-place reuse and the memory they add up to.

The order is a depth-first post-order from the outputs that visits the
deepest argument first (Sethi-Ullman style): shallow terms such as a weight
decay gradient are computed right before the sum that consumes them instead
of waiting in memory through the whole backward pass.

A value may share memory with others (views, the same object): values are
grouped by the buffers ("roots") they may alias.  A buffer may be written in
place only when the compiled code allocated it itself (not a fed input, a
constant, a view or a user op's result), no alias of it is used later, it is
not returned, and it has the result's exact shape and dtype.

A loop's or branch's tuple of results may hold its inputs as they came in
(a carry passed through), so its parts are views of it and of its inputs,
except the parts the ``planner`` knows its code makes new arrays of its own
(stacked ys, records, a final carry the body makes in a buffer of its own:
see ``codegen.bodies.Planner``): the ``Item`` reading such a part is a
buffer of the function's own, from the loop's step on.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Iterable, Sequence

import numpy as np

from ..ops.base import broadcast_shapes
from ..ops.sources import Full
from ..ops.tuples import Item
from .fusion import FusedOp
from .ir import Program, Value, has_emit


def schedule(prog: Program) -> list[Value]:
    """Values in evaluation order: post-order DFS from the outputs, deepest argument first."""
    height: dict[Value, int] = {}
    for v in topological(prog.values):
        height[v] = 1 + max((height[r.value] for r in v.args), default=0)
    order: list[Value] = []
    done: set[Value] = set()
    for out in prog.outputs:
        stack = [(out.value, False)]
        while stack:
            v, expanded = stack.pop()
            if v in done:
                continue
            if expanded:
                done.add(v)
                order.append(v)
                continue
            stack.append((v, True))
            if len(v.args) == 1:  # most values: no sorting
                stack.append((v.args[0].value, False))
                continue
            args = sorted({r.value for r in v.args} - done, key=lambda a: (height[a], -a.index))
            stack.extend((a, False) for a in args)  # deepest popped (so computed) first
    return order


def topological(values: Iterable[Value]) -> list[Value]:
    """``values`` and what they read, every argument before its consumers (copies sit after
    originals; an explicit stack)."""
    seen: set[Value] = set()
    out: list[Value] = []
    for root in values:
        stack = [(root, False)]
        while stack:
            v, expanded = stack.pop()
            if expanded:
                out.append(v)
                continue
            if v in seen:
                continue
            seen.add(v)
            stack.append((v, True))
            stack.extend((r.value, False) for r in v.args if r.value not in seen)
    return out


def infer_shapes(order: Sequence[Value]) -> None:
    """Set each value's computed shape: elementwise results of unbroadcast inputs stay small."""
    for v in order:
        if v.kind == "const" and isinstance(v.op, Full):
            v.shape = ()
        elif v.elementwise:
            v.shape = broadcast_shapes([r.value.shape for r in v.args], "compile")
        else:
            v.shape = v.node.shape


def nbytes(v: Value) -> int:
    if v.kind == "op" and getattr(v.op, "multiple_results", False):  # a loop's tuple: its parts
        return sum(math.prod(s) * np.dtype(d).itemsize for s, d in v.op.result_avals(v.node))
    return math.prod(v.shape) * v.dtype.itemsize


class Roots(dict):
    """Value -> the buffers ("roots") it may share memory with; a value alone in its own
    buffer (most values) is not stored: it reads as ``(value,)``."""

    def __missing__(self, v: Value) -> tuple[Value]:
        return (v,)


def aliasing(v: Value) -> str:
    """"fresh" (a new buffer), "view" (may share input 0's memory) or "any" (may share any
    input's memory: a user op run through ``f``, or a loop or branch, whose tuple of results
    may hold an input as it came in, a carry passed through), for an op value."""
    op = v.op
    if isinstance(op, FusedOp):
        return "fresh"
    if not has_emit(op) or getattr(op, "multiple_results", False):
        return "any"
    return "view" if op.emits_view() else "fresh"


class Plan:
    """Positions, lifetimes, aliasing, in-place reuse and the estimated peak memory.

    With ``optimize``, a view used once (``W.T`` feeding a matmul) is inlined
    into its consumer's expression, and dead buffers are reused in place.
    ``owned`` parameters (a loop body's carries, whose buffers the loop hands
    over: nothing else reads them) may be written in place too.  ``planner``
    (see ``codegen.bodies.Planner``) says which parts of a loop's or branch's
    results are new arrays (``fresh_parts(value, parts_read)``); without it, none.
    """

    def __init__(self, prog: Program, order: list[Value], optimize: bool,
                 reuse: bool = False, owned: frozenset = frozenset(), planner: Any = None) -> None:
        self.optimize, self.reuse, self.owned, self.planner = optimize, reuse, owned, planner
        self.outputs = {r.value for r in prog.outputs}
        self.all = order
        consumers: dict[Value, list[Value]] = {}
        for v in order:
            for r in v.args:
                consumers.setdefault(r.value, []).append(v)
        self._parts(order, consumers)
        self._alias(order)
        self.inline: set[Value] = self._inlined(order, consumers) if optimize else set()
        self.order = [v for v in order if v not in self.inline]
        self._positions(consumers)
        self._lifetimes()
        # in-place reuse: value -> the argument whose buffer it takes over
        self.donor: dict[Value, Value] = {}
        self.owner: dict[Value, Value] = {v: v for v in self.allocated}
        if optimize:
            self._assign_donors()
        self.buffer_end = self._buffer_ends()
        # buffers kept between calls: buffer -> workspace slot
        self.slot: dict[Value, int] = {}
        self.workspace: list[tuple[tuple[int, ...], np.dtype]] = []
        if optimize and reuse:
            self._assign_workspace()
        self.workspace_bytes = sum(math.prod(s) * d.itemsize for s, d in self.workspace)
        # bytes an op's code allocates and frees within its step (``op.scratch_bytes``)
        self.scratch: dict[Value, int] = {}
        for v in self.order:
            scratch = getattr(v.op, "scratch_bytes", None)
            size = scratch([r.value.shape for r in v.args]) if scratch is not None else 0
            if size:
                self.scratch[v] = size
        self.peak_bytes, self.byte_steps = self._memory()

    def drop_planning_state(self) -> None:
        """Free what only planning (and rematerialization's rounds) read: a long program's
        plan stays alive while its text is written."""
        for name in ("owner", "root_end", "buffer_end"):
            self.__dict__.pop(name, None)

    def _parts(self, order: list[Value], consumers: dict[Value, list[Value]]) -> None:
        """The parts of tuples each ``Item`` reads, and which Items are new buffers
        (``born``: such an Item -> its tuple, whose step makes the buffer)."""
        self.parts_read: dict[Value, frozenset[int]] = {}
        self.born: dict[Value, Value] = {}
        self.claimed: dict[Value, int] = {}  # a tuple -> the bytes its born Items count
        for v in order:
            if v.kind != "op" or not getattr(v.op, "multiple_results", False):
                continue
            readers = consumers.get(v, [])
            if v in self.outputs:  # returned whole: every part, none a buffer of its own
                self.parts_read[v] = frozenset(range(v.op.result_count(v.node)))
                continue
            by_part: dict[int, set[Value]] = {}
            for c in readers:
                if isinstance(c.op, Item):
                    by_part.setdefault(c.op.index, set()).add(c)
            self.parts_read[v] = frozenset(by_part)
            if self.planner is None or any(not isinstance(c.op, Item) for c in readers):
                continue
            fresh = self.planner.fresh_parts(v, self.parts_read[v])
            for k, items in by_part.items():
                if k in fresh and len(items) == 1:  # two Items of one part would share it
                    (i,) = items
                    self.born[i] = v
                    self.claimed[v] = self.claimed.get(v, 0) + nbytes(i)

    def _alias(self, order: list[Value]) -> None:
        """The buffers ("roots") each value may share memory with, and which values are
        buffers the function allocates (``allocated``), fresh from an emitted op (``fresh``)."""
        self.roots = Roots()
        self.views: set[Value] = set()  # values that may share their first input's memory
        self.fresh: set[Value] = set()
        self.allocated: set[Value] = set()  # values whose buffer counts as the function's memory
        for v in order:
            kind = "fresh" if v in self.born else aliasing(v) if v.kind == "op" else "source"
            if kind == "view":
                self.roots[v] = self.roots[v.args[0].value]
                self.views.add(v)
            elif kind == "any":
                self.roots[v] = frozenset((v,)).union(*[self.roots[r.value] for r in v.args])
                self.allocated.add(v)
            else:  # alone in its buffer (most values): not stored (see ``Roots``)
                if kind == "fresh":
                    self.fresh.add(v)
                    self.allocated.add(v)
                elif v.kind == "param" and v.node in self.owned:
                    self.fresh.add(v)  # handed over by the loop: writable
                    self.allocated.add(v)

    def _inlined(self, order: list[Value], consumers: dict[Value, list[Value]]) -> set[Value]:
        """Views used once (``W.T`` feeding a matmul), not returned and not of an inlined
        value, which are written inside their consumer's expression."""
        inline: set[Value] = set()
        for v in order:
            if (v in self.views and v not in self.outputs
                    and v not in self.born and len(consumers.get(v, ())) == 1
                    and not any(r.value in inline for r in v.args)):
                inline.add(v)
        return inline

    def _positions(self, consumers: dict[Value, list[Value]]) -> None:
        """Each value's step; an inlined value's is its consumer's."""
        pos = self.pos = {v: k for k, v in enumerate(self.order)}
        for v in reversed(self.all):
            if v in self.inline:  # computed inside its consumer's expression
                pos[v] = pos[consumers[v][0]]

    def _lifetimes(self) -> None:
        """The last step each value is read at (outputs: past the end), and each root's."""
        pos = self.pos
        self.last_use: dict[Value, int] = {}
        for v in self.all:
            for r in v.args:
                if self.last_use.get(r.value, -1) < pos[v]:
                    self.last_use[r.value] = pos[v]
        for v in self.outputs:
            self.last_use[v] = len(self.order)
        self.root_end: dict[Value, int] = {}
        # root -> the values that may share it, when others than itself (see ``aliases_of``)
        self.aliases: dict[Value, list[Value]] = {}
        for v in self.all:
            end = self.last_use.get(v, pos[v])
            for r in self.roots[v]:
                if r is not v:
                    self.aliases.setdefault(r, [r]).append(v)
                if self.root_end.get(r, -1) < end:
                    self.root_end[r] = end

    def handed_over(self, v: Value) -> set[int]:
        """Positions of ``v``'s arguments whose buffers nothing reads after ``v`` but what
        ``v`` returns: a loop may keep such a buffer as a carry and write into it."""
        p = self.pos[v]
        args = [r.value for r in v.args]
        found = set()
        for k, r in enumerate(v.args):
            u = r.value
            if (u not in self.fresh or u in self.outputs or r.shape != u.shape
                    or any(u in self.roots[a] for j, a in enumerate(args) if j != k)):
                continue
            if all(self.last_use.get(w, self.pos[w]) <= p for w in self.aliases.get(u, (u,))
                   if v not in self.roots[w]):
                found.add(k)
        return found

    def _buffer_ends(self) -> dict[Value, int]:
        """Buffer (its first value) -> the last step any value living in it is read."""
        end: dict[Value, int] = {}
        for v, o in self.owner.items():
            end[o] = max(end.get(o, -1), self.root_end.get(v, self.pos[v]))
        return end

    def _assign_donors(self) -> None:
        """Let each fresh value that can write in place take over a dead argument's buffer."""
        for v in self.order:
            if v in self.fresh and v.shape and getattr(v.op, "emit_inplace", False):
                d = self._donor(v)
                if d is not None:
                    self.donor[v] = d
                    self.owner[v] = self.owner[d]

    def _assign_workspace(self) -> None:
        """Give each temporary buffer a slot reused across calls (linear scan by lifetime).

        Only buffers the generated code writes with ``out=`` qualify, and never one
        that is returned (or viewed by something returned): results stay fresh.
        """
        end_of_call = len(self.order)
        free: dict[tuple, list[int]] = {}
        active: list[tuple[int, int, tuple]] = []
        for o in sorted(self.buffer_end, key=lambda o: self.pos[o]):
            stop = self.buffer_end[o]
            if not (o in self.fresh and o.shape and getattr(o.op, "emit_inplace", False)
                    and stop < end_of_call):
                continue
            start = self.pos[o]
            while active and active[0][0] < start:
                _, slot, key = heapq.heappop(active)
                free[key].append(slot)
            key = (o.shape, o.dtype.str)
            if free.get(key):
                slot = free[key].pop()
            else:
                slot = len(self.workspace)
                self.workspace.append((o.shape, o.dtype))
                free.setdefault(key, [])
            self.slot[o] = slot
            heapq.heappush(active, (stop, slot, key))

    def _donor(self, v: Value) -> Value | None:
        if not (v.elementwise or isinstance(v.op, FusedOp)):
            return None  # e.g. a matmul into its own input would only copy behind the scenes
        p = self.pos[v]
        allowed = getattr(v.op, "inplace_args", None)  # the inputs it can write over, if not all
        for k, r in enumerate(v.args):
            u = r.value
            if allowed is not None and k not in allowed:
                continue
            if (u in self.fresh and u not in self.outputs and u.shape == v.shape
                    and u.dtype == v.dtype and self.root_end[u] == p
                    and not any(u in self.roots[o.value] for j, o in enumerate(v.args) if j != k)):
                return u
        return None

    def size(self, o: Value) -> int:
        """The bytes of buffer ``o``: a tuple's, the parts it computes not counted by
        Items of their own."""
        if o not in self.parts_read:
            return nbytes(o)
        avals = o.op.result_avals(o.node)
        return sum(math.prod(avals[k][0]) * np.dtype(avals[k][1]).itemsize
                   for k in self.parts_read[o]) - self.claimed.get(o, 0)

    def _memory(self) -> tuple[int, int]:
        """Peak bytes the function uses during a call (its workspace counted in full), and
        the bytes held summed over all steps (a tie-breaker for rematerialization)."""
        end = len(self.order)
        delta = [0] * (end + 2)  # (lists: numpy's item assignment costs more than the sum)
        fresh = [0] * (end + 2)
        for o, stop in self.buffer_end.items():
            start, size = self.pos[self.born.get(o, o)], self.size(o)
            delta[start] += size
            delta[stop + 1] -= size
            if o not in self.slot:
                fresh[start] += size
                fresh[stop + 1] -= size
        live = np.cumsum(np.asarray(delta, dtype=np.int64))[:end + 1]
        at_step = np.cumsum(np.asarray(fresh, dtype=np.int64))[:end + 1]
        for v in self.scratch:  # an expression's own temporary, freed within its step
            at_step[self.pos[v]] += self.scratch[v]
        peak = int(at_step.max(initial=0)) + self.workspace_bytes
        return peak, int(live.sum())
