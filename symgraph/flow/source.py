"""The Python source ``sg.function`` runs for a loop or a branch (their ops' ``emit``).

A loop becomes a real ``for`` (``scan``) or ``while`` loop calling its
body, compiled once into a function of the same source
(``ctx.compile_body``, see ``symgraph.codegen.bodies``)::

    scan6_c0 = h0
    scan6_r1 = np.empty((100, 32), np.float64)
    scan6_r2 = np.empty((101, 32, 256), np.float64)
    scan6_f2 = np.asfortranarray(W)
    for scan6_t in range(100):
        scan6_r2[scan6_t] = scan6_c0
        try:
            scan6_c0, scan6_r1[scan6_t], = _body0(scan6_c0, xs[scan6_t], scan6_f2, U, w)
        except Exception as scan6_error:
            at_step(scan6_error, 'scan', scan6_t)
            raise
    scan6_r2[100] = scan6_c0
    scan6 = (scan6_c0, scan6_r1, scan6_r2, )
    del scan6_f2, scan6_c0, scan6_r1, scan6_r2

The stacked outputs and the records are preallocated and written step by
step, with ``Loop.f``'s layout (zeros past the trip count of a dynamic or
``while`` loop); the parts no ``Item`` of the compiled program reads are
neither computed nor stored (``ctx.results_used``): a function of the
forward value alone records nothing.  The tuple then holds the results and
the loop's own names are freed; inputs the loop is done with once it has
set up are freed before it starts (``ctx.dying``).  A branch becomes
``if``/``else`` calling one of two compiled bodies: the other never runs.

The planner of the function around a loop or branch is told which parts of
its results are arrays of its own (``loop_fresh_results``,
``cond_fresh_results``), so it may write into them or hand them to another
loop; a loop takes over an initial carry nothing reads after it
(``ctx.handed_over``, ``ctx.taken``) instead of copying it.
"""

from __future__ import annotations

import re
from typing import Any, Sequence


def loop_source(op: Any, out: str, ins: Sequence[str], ctx: Any) -> str | None:
    """The code binding ``out`` to the tuple of the loop ``op``'s results."""
    if not loop_emitted(op):
        return None
    return _LoopWriter(op, out, ctx).write(ins)


def loop_emitted(op: Any) -> bool:
    """Whether ``loop_source`` writes ``op``'s code (else ``Loop.f`` runs)."""
    # a while loop running backwards is never built: Loop.f has the meaning
    return not (op.cond is not None and not op.dynamic and op.reverse)


class BodyRequest:
    """What a loop compiles its body for, given the parts of its results the program reads
    (``used``): ``outputs`` (the new carries, the ys read, the step residuals recorded) and
    ``compile_body``'s ``invariant`` and ``carries``; the records and ys read."""

    def __init__(self, op: Any, used: frozenset[int]) -> None:
        nc, ny, body = op.n_carry, op.n_ys, op.body
        self.records = [(nc + ny + k, r) for k, r in enumerate(op.records) if nc + ny + k in used]
        self.ys = [i for i in range(ny) if nc + i in used]
        self.steps = [(idx, r[1]) for idx, r in self.records if r[0] == "step"]
        self.outputs = (list(body.outputs[:nc]) + [body.outputs[nc + i] for i in self.ys]
                        + [s for _, s in self.steps])
        self.invariant = range(nc + op.n_xs, len(body.inputs))
        self.carries = [(j, j) for j in range(nc)]


def loop_fresh_results(op: Any, used: frozenset[int], analyze: Any) -> frozenset[int]:
    """The parts (of those ``used``) of the loop ``op``'s results that its code makes arrays
    of its own, shared with nothing else: the ys and records it allocates, and the final
    carries whose every new value the body makes in a buffer of its own
    (``analyze(body, outputs, invariant, carries).fresh_carries``; the initial value is
    then copied, or taken over, when the loop may run no step)."""
    if not loop_emitted(op):
        return frozenset()
    req = BodyRequest(op, used)
    fresh = analyze(op.body, req.outputs, req.invariant, req.carries).fresh_carries
    return frozenset(k for k in used if k >= op.n_carry or k in fresh)


def cond_fresh_results(op: Any, used: frozenset[int], analyze: Any) -> frozenset[int]:
    """The parts (of those ``used``) of the branch ``op``'s results that both branches make
    in buffers of their own, shared with no other part (``analyze(...).fresh_outputs``)."""
    parts = sorted(used)
    fresh = set(range(len(parts)))
    for branch in (op.true_body, op.false_body):
        fresh &= analyze(branch, [branch.outputs[k] for k in parts], (), ()).fresh_outputs
    return frozenset(parts[i] for i in fresh)


class _LoopWriter:
    """The lines of one loop: its buffers, its header, one step, what follows it."""

    def __init__(self, op: Any, out: str, ctx: Any) -> None:
        self.op, self.out, self.ctx = op, out, ctx
        self.lines: list[str] = []
        self.temps: list[str] = []  # locals of the loop's own, freed after it
        self.results: list[str | None] = [None] * op.result_count()
        self.t = ctx.local(f"{out}_t")
        self.L = op.length
        self.test_body = op.cond if op.cond is not None and not op.dynamic else None

    def write(self, ins: Sequence[str]) -> str:
        op, ctx, lines, t = self.op, self.ctx, self.lines, self.t
        nc, L = op.n_carry, self.L
        carries, xs, consts, cconsts, n = op.split(ins)
        req = BodyRequest(op, ctx.results_used)
        recs, steps = req.records, req.steps
        fn = ctx.compile_body(op.body, req.outputs, invariant=req.invariant,
                              carries=req.carries, steps=L, repeated=True)
        test = None if self.test_body is None else ctx.compile_body(
            self.test_body, self.test_body.outputs,
            invariant=range(nc, len(self.test_body.inputs)), repeated=True)

        c = [ctx.local(f"{self.out}_c{j}") for j in range(nc)]
        self.results[:nc] = c
        zeros = op.dynamic or test is not None  # may stop before `length`: zeros after
        guarded = self.start(c, carries, fn, zeros)
        ys = [f"{self.buffer(nc + i, zeros)}[{t}]" for i in req.ys]
        residuals = [f"{self.buffer(idx, zeros)}[{t}]" for idx, _ in steps]
        trajs = [(r[1], self.buffer(idx, zeros)) for idx, r in recs if r[0] == "traj"]
        ckpts = [(r[1], self.buffer(idx, zeros)) for idx, r in recs if r[0] == "checkpoints"]
        count = self.trip_count(n, test is not None)
        # sequences and constants given as expressions (a slice, a broadcast) are made once
        xs = [self.bound(x, f"x{i}") for i, x in enumerate(xs)]
        consts = [self.bound(k, f"k{i}") for i, k in enumerate(consts)]
        cconsts = [self.bound(k, f"q{i}") for i, k in enumerate(cconsts)]
        setup = fn.setup([None] * (nc + op.n_xs) + consts)
        step = self.step(fn.call(c + [f"{x}[{t}]" for x in xs] + consts), c + ys + residuals,
                         trajs, ckpts, count)

        # the body's setup (hoisted values: they might raise) runs only if a step does
        lazy = bool(setup) and (test is not None or op.dynamic)
        before_loop = len(lines)
        if lazy:
            lines.append(f"{' = '.join(fn.locals)} = None")
        if test is not None:
            lines.append(f"{t} = 0")
            if L != 0:
                lines += test.setup([None] * nc + cconsts)
                self.temps += test.locals
                lines.append(f"while {t} < {L}:" if L is not None else "while True:")
                lines.append(f"    if not {test.call(c + cconsts)}[0]:")
                lines.append("        break")
                if setup:
                    lines.append(f"    if {t} == 0:")
                    lines += ["        " + s for s in setup]
                lines += ["    " + s for s in step]
                lines.append(f"    {t} += 1")
        elif L != 0:
            if lazy:
                lines.append(f"if {count} > 0:")
                lines += ["    " + s for s in setup]
            else:
                lines += setup
            span = f"{count} - 1, -1, -1" if op.reverse else count
            lines.append(f"for {t} in range({span}):")
            lines += ["    " + s for s in step]
        if guarded:  # no step ran: the final carry is the initial value, made the loop's own
            lines.append(f"if {count} == 0:")
            lines += [f"    {c[j]} = {c[j]}.copy()" for j in guarded]
        final = "0" if op.reverse else count  # traj entry of the final carry
        for j, buf in trajs:
            lines.append(f"{buf}[{final}] = {c[j]}")
        for idx, r in recs:
            if r[0] == "trips":
                self.results[idx] = f"np.asarray({count}, np.int64)"
        lines.append(f"{self.out} = ({''.join((r or 'None') + ', ' for r in self.results)})")
        if L != 0 or lazy:
            self.temps += fn.locals
        self.temps += [r for r in self.results if r is not None and r.isidentifier()]
        lines.append(f"del {', '.join(self.temps)}")  # the tuple holds the results now
        _free_early(lines, before_loop, ctx)
        return "\n".join(lines)

    def start(self, c: list[str], carries: list[str], fn: Any, may_stop: bool) -> list[int]:
        """Bind the carries ``c`` to their initial values; returns the carries to copy after
        the loop if it ran no step.

        A carry the body writes in place (``fn.owned``) starts as a copy, unless the
        initial value's buffer is handed over (nothing else reads it any more): the loop
        takes it (``ctx.taken``).  A carry whose every new value is a buffer of the body's
        own (``fn.fresh_carries``) ends as an array of the loop's own (see
        ``loop_fresh_results``) even if no step runs (``may_stop``; a loop of no steps
        copies it at once): the initial value taken over, or copied.
        """
        ctx = self.ctx
        may_stop = may_stop or self.L == 0
        guarded = []
        for j in range(self.op.n_carry):
            private = j in fn.owned or (j in fn.fresh_carries and may_stop)
            handed = j in ctx.handed_over
            if private and handed:
                ctx.taken.add(j)
            copy = private and not handed and (j in fn.owned or self.L == 0)
            if private and not handed and not copy:
                guarded.append(j)
            self.lines.append(f"{c[j]} = {carries[j]}{'.copy()' if copy else ''}")
        return guarded

    def buffer(self, idx: int, zeros: bool) -> str:
        """A new array for result ``idx`` (stacked per step), zeros if steps may be missing."""
        shape, dtype = self.op.result_avals()[idx]
        name = self.results[idx] = self.ctx.local(f"{self.out}_r{idx}")
        self.lines.append(f"{name} = np.{'zeros' if zeros else 'empty'}({tuple(shape)}, "
                          f"{self.ctx.dtype(dtype)})")
        return name

    def bound(self, src: str, what: str) -> str:
        return _bound(src, f"{self.out}_{what}", self.lines, self.temps, self.ctx)

    def trip_count(self, n: str | None, is_while: bool) -> str:
        """The source of the number of steps (a while loop's step counter counts them)."""
        op, L = self.op, self.L
        if is_while:
            return self.t
        if not op.dynamic:
            return str(L)
        count = self.ctx.local(f"{self.out}_n")
        self.lines.append(f"{count} = int({n})")
        self.lines.append(f"if not 0 <= {count} <= {L}:")
        self.lines.append(f"    raise ValueError('{op.name}: trip count %d is outside 0..{L}' % "
                          f"{count})")
        return count

    def step(self, call: str, targets: list[str], trajs: list[tuple[int, str]],
             ckpts: list[tuple[int, str]], count: str) -> list[str]:
        """Step ``t``: record the entering carries, call the body, name the step in errors."""
        op, t, c = self.op, self.t, self.results[:self.op.n_carry]
        lines = []
        enter = f"{t} + 1" if op.reverse else t  # traj entry of the carry entering step t
        for j, buf in trajs:
            lines.append(f"{buf}[{enter}] = {c[j]}")
        p = f"({count} - 1 - {t})" if op.reverse else t  # the number of steps done before
        for j, buf in ckpts:
            k = op.checkpoint
            lines.append(f"if {p} % {k} == 0:")
            lines.append(f"    {buf}[{p} // {k}] = {c[j]}")
        err = self.ctx.local(f"{self.out}_error")
        node = self.ctx.node
        where = f"{op.name} node #{node.id}, step %d" if node is not None else f"{op.name} step %d"
        if op.cond is not None and not op.dynamic:
            where += f" (max_steps={op.length})" if op.length is not None else ""
        elif not op.dynamic:
            where += f" of {op.length}"
        lines += ["try:", "    " + _assign(targets, call),
                  f"except Exception as {err}:",  # free when nothing is raised
                  f"    {self.ctx.helper(at_step)}({err}, {where!r}, {t})", "    raise"]
        return lines


def _free_early(lines: list[str], at: int, ctx: Any) -> None:
    """``del`` before ``lines[at]`` the inputs dying here that no later line reads (what the
    loop copied or sliced before it starts need not live through the loop)."""
    later = set(re.findall(r"[A-Za-z_]\w*", "\n".join(lines[at:])))
    done = [name for name in ctx.dying if name not in later]
    if done:
        lines.insert(at, f"del {', '.join(done)}")
        ctx.freed.update(done)


def cond_source(op: Any, out: str, ins: Sequence[str], ctx: Any) -> str:
    """``if pred:`` one compiled branch ``else:`` the other; the tuple of their results."""
    used = sorted(ctx.results_used)
    results: list[str | None] = [None] * op.result_count()
    names = [ctx.local(f"{out}_r{k}") for k in used]
    for k, name in zip(used, names):
        results[k] = name
    args = list(ins[1:])
    lines = []
    for head, branch in ((f"if {ins[0]}:", op.true_body), ("else:", op.false_body)):
        fn = ctx.compile_body(branch, [branch.outputs[k] for k in used])
        lines.append(head)
        lines += ["    " + s for s in fn.setup(args)]
        lines.append("    " + _assign(names, fn.call(args)))
        if fn.locals:
            lines.append(f"    del {', '.join(fn.locals)}")
    lines.append(f"{out} = ({''.join((r or 'None') + ', ' for r in results)})")
    return "\n".join(lines)


def _assign(targets: Sequence[str], call: str) -> str:
    return f"{''.join(x + ', ' for x in targets)}= {call}" if targets else call


def _bound(src: str, name: str, lines: list[str], temps: list[str], ctx: Any) -> str:
    """``src`` itself if it is a name, else a new local (in ``temps``) bound to it."""
    if src.isidentifier():
        return src
    local = ctx.local(name)
    lines.append(f"{local} = {src}")
    temps.append(local)
    return local


def at_step(e: BaseException, where: str, t: int) -> None:
    """Say in ``e``'s message (raised by a loop's body) at which step of which loop node it was
    raised, as the evaluator does (``where`` is e.g. ``"scan node #12, step %d of 10"``)."""
    if e.args and isinstance(e.args[0], str):
        e.args = (f"{where % t}: {e.args[0]}",) + e.args[1:]
