"""The Python source ``sg.function`` runs for a loop or a branch (their ops' ``emit``).

A loop becomes a real ``for`` (``scan``) or ``while`` loop calling its
body, compiled once into a function of the same source
(``ctx.compile_body``, see ``symgraph.codegen.bodies``)::

    scan6_c0 = h0
    scan6_r1 = np.empty((100, 32), np.float64)
    scan6_r2 = np.empty((101, 32, 256), np.float64)
    scan6_ws = _body0_ws()
    for scan6_t in range(100):
        scan6_r2[scan6_t] = scan6_c0
        scan6_c0, scan6_r1[scan6_t], = _body0(scan6_c0, xs[scan6_t], W, scan6_ws)
    scan6_r2[100] = scan6_c0
    scan6 = (scan6_c0, scan6_r1, scan6_r2, )

The stacked outputs and the records are preallocated and written step by
step, with ``Loop.f``'s layout (zeros past the trip count of a dynamic or
``while`` loop); the parts no ``Item`` of the compiled program reads are
neither computed nor stored (``ctx.results_used``): a function of the
forward value alone records nothing.  A branch becomes ``if``/``else``
calling one of two compiled bodies: the other never runs.
"""

from __future__ import annotations

import re
from typing import Any, Sequence


def loop_source(op: Any, out: str, ins: Sequence[str], ctx: Any) -> str | None:
    """The code binding ``out`` to the tuple of the loop ``op``'s results."""
    body, nc, nx, ny = op.body, op.n_carry, op.n_xs, op.n_ys
    dynamic, L = op.dynamic, op.length
    test_body = op.cond if op.cond is not None and not dynamic else None
    if test_body is not None and op.reverse:
        return None  # a while loop running backwards is never built: Loop.f has the meaning
    used = ctx.results_used
    records = list(op.records)
    avals = op.result_avals()
    carries, xs, consts, cconsts, n = op.split(ins)
    ys_used = [i for i in range(ny) if nc + i in used]
    recs = [(nc + ny + k, rec) for k, rec in enumerate(records) if nc + ny + k in used]
    steps = [(idx, rec[1]) for idx, rec in recs if rec[0] == "step"]
    outputs = (list(body.outputs[:nc]) + [body.outputs[nc + i] for i in ys_used]
               + [node for _, node in steps])
    fn = ctx.compile_body(body, outputs, invariant=range(nc + nx, len(body.inputs)),
                          carries=[(j, j) for j in range(nc)], steps=L)
    test = None if test_body is None else ctx.compile_body(
        test_body, test_body.outputs, invariant=range(nc, len(test_body.inputs)))
    padded = dynamic or test is not None  # may stop before `length`: zeros after
    lines: list[str] = []
    results: list[str | None] = [None] * op.result_count()

    def buffer(idx: int) -> str:
        shape, dtype = avals[idx]
        name = results[idx] = ctx.local(f"{out}_r{idx}")
        lines.append(f"{name} = np.{'zeros' if padded else 'empty'}({tuple(shape)}, "
                     f"{ctx.dtype(dtype)})")
        return name

    c = [ctx.local(f"{out}_c{j}") for j in range(nc)]
    for j in range(nc):
        # a carry the body writes in place starts as a copy: the initial value is not ours
        lines.append(f"{c[j]} = {carries[j]}{'.copy()' if j in fn.owned else ''}")
        results[j] = c[j]
    ys_buf = {i: buffer(nc + i) for i in ys_used}
    step_buf = {idx: buffer(idx) for idx, _ in steps}
    trajs = [(rec[1], buffer(idx)) for idx, rec in recs if rec[0] == "traj"]
    ckpts = [(rec[1], buffer(idx)) for idx, rec in recs if rec[0] == "checkpoints"]
    trips = [idx for idx, rec in recs if rec[0] == "trips"]

    t = ctx.local(f"{out}_t")
    if test is not None:
        count = t  # a while loop counts its steps: step t is the t-th
    elif dynamic:
        count = ctx.local(f"{out}_n")
        lines.append(f"{count} = int({n})")
        lines.append(f"if not 0 <= {count} <= {L}:")
        lines.append(f"    raise ValueError('{op.name}: trip count %d is outside 0..{L}' % "
                     f"{count})")
    else:
        count = str(L)
    # p, the number of steps done before step t, where checkpoints need it
    p = f"({count} - 1 - {t})" if op.reverse else t
    # sequences and constants given as expressions (a slice, a broadcast) are made once
    temps: list[str] = []  # locals of the loop's own, freed after it
    xs = [_bound(x, f"{out}_x{i}", lines, temps, ctx) for i, x in enumerate(xs)]
    consts = [_bound(k, f"{out}_k{i}", lines, temps, ctx) for i, k in enumerate(consts)]
    cconsts = [_bound(k, f"{out}_q{i}", lines, temps, ctx) for i, k in enumerate(cconsts)]
    args = c + [f"{x}[{t}]" for x in xs] + list(consts)
    setup = fn.setup([None] * (nc + nx) + list(consts))

    step: list[str] = []
    enter = f"{t} + 1" if op.reverse else t  # traj entry of the carry entering step t
    for j, buf in trajs:
        step.append(f"{buf}[{enter}] = {c[j]}")
    for j, buf in ckpts:
        k = op.checkpoint
        step.append(f"if {p} % {k} == 0:")
        step.append(f"    {buf}[{p} // {k}] = {c[j]}")
    targets = c + [f"{ys_buf[i]}[{t}]" for i in ys_used] + [f"{step_buf[idx]}[{t}]"
                                                           for idx, _ in steps]
    step.append("try:")
    step.append("    " + _assign(targets, fn.call(args)))
    err = ctx.local(f"{out}_error")
    step.append(f"except Exception as {err}:")  # free when nothing is raised
    step.append(f"    {ctx.helper(at_step)}({err}, {op.name!r}, {t})")
    step.append("    raise")

    # the body's setup (hoisted values: they might raise) runs only if a step does
    lazy = setup and (test is not None or dynamic)
    before_loop = len(lines)
    if lazy:
        lines.append(f"{' = '.join(fn.locals)} = None")
    if test is not None:
        lines.append(f"{t} = 0")
        if L != 0:
            lines += test.setup([None] * nc + list(cconsts))
            temps += test.locals
            lines.append(f"while {t} < {L}:" if L is not None else "while True:")
            lines.append(f"    if not {test.call(c + list(cconsts))}[0]:")
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
    final = "0" if op.reverse else count  # traj entry of the final carry
    for j, buf in trajs:
        lines.append(f"{buf}[{final}] = {c[j]}")
    for idx in trips:
        results[idx] = f"np.asarray({count}, np.int64)"
    lines.append(f"{out} = ({''.join((r or 'None') + ', ' for r in results)})")
    if L != 0 or lazy:
        temps += fn.locals
    temps += [r for r in results if r is not None and r.isidentifier()]  # in the tuple now
    lines.append(f"del {', '.join(temps)}")
    _free_early(lines, before_loop, ctx)
    return "\n".join(lines)


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


def at_step(e: BaseException, name: str, t: int) -> None:
    """Say in ``e``'s message (raised by a loop's body) at which step it was raised."""
    if e.args and isinstance(e.args[0], str):
        e.args = (f"{name} step {t}: {e.args[0]}",) + e.args[1:]
