"""Loop and branch bodies compiled to module-level functions of the same source.

A loop's or branch's ``emit`` asks ``ctx.compile_body(body, outputs, ...)``;
the body is compiled ONCE per source, with the pipeline of the function
around it (lower, fuse, schedule and plan memory, emit), into

    def _body3(carry, x, W, U, in4, _ws):
        _w0, = _ws
        ...
        return (tanh7, matmul9, )

placed in the source's preamble (so ``.source`` still runs on its own), and
the op's code calls it once per step.  A nested loop compiles its body the
same way from inside the outer body's writer (recursion over nesting depth
only).  Three things keep the steps cheap:

* hoisting: the values that depend only on the *invariant* inputs (a loop's
  constants: ``W.T``, a weight's broadcast) are computed once before the
  first step by ``_body3_pre`` and passed in (``in4`` above);
* a workspace: the temporaries' buffers written with ``out=`` are made once
  per loop, by ``_body3_ws``, and reused at every step;
* ownership: a carry whose new value the body makes in a fresh buffer of its
  own (not a view, an input or a constant, not shared with another carry) is
  handed back to the body at the next step, which may then write into it in
  place (``acc += h.T @ g``) or hand it to a loop of its own, which then
  starts from it without a copy (the segment of a checkpointed gradient: its
  reverse sweep continues the accumulators).  The loop gives the first step
  a copy of the initial value (``BodyFunction.owned``), or the value's buffer
  itself when nothing reads it after the loop.  Such a loop's final carries,
  like its stacked ys and records, are arrays of its own: the function
  around it may write into them or hand them on in turn (``Planner``);
* layout: the invariant right operand of a matrix product (``h @ W``) is
  passed in Fortran order to a loop of at least ``RELAYOUT_STEPS`` steps (one
  ``np.asfortranarray`` before it, 78 us for 256 x 256), unless the loop is
  itself inside a loop's body (the recomputed segment of a checkpointed
  gradient): there the copy would be made again at each step of the loop
  around it and held on top of all that loop keeps (the copy of a 256 x 256
  W is 8 carries of 32 x 256, at the peak of the checkpointed RNN gradient
  of ``benchmarks/bench_scan.py``; without it the gradient takes 3 to 7%
  longer: 2 ms of 42 at T=100, k=10, 27 of 425 at T=1000, k=31; computing
  the product as ``(W.T @ h.T).T`` instead won back under 2%).  OpenBLAS's AVX2
  (Haswell) kernels multiply a few rows by a column-major matrix markedly
  faster (``h @ W``, h 32 x 256, W 256 x 256: 77 us instead of 105; 8 to 32
  rows by 256 to 1024: 25 to 50% less; 128 or more rows: about the same),
  never slower from 2 rows up; a single row (13% slower at 1024 x 1024) is
  left alone.  Its AVX-512 (SkylakeX) kernels prefer C order slightly (51 us
  against 55): the gain depends on the BLAS.  The values are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..flow.cond import Cond
from ..flow.loops import Loop
from ..flow.source import cond_fresh_results, loop_fresh_results
from ..graph import Node
from ..ops.linalg import MatMul
from .ir import Program, Value, has_emit, lower
from .remat import plan_program
from .schedule import Plan

if TYPE_CHECKING:
    from .emitter import FunctionWriter


class CompiledBody:
    """The module-level functions of one body: ``step`` (the body), ``pre`` (its hoisted
    values, or None), ``workspace`` (its buffers' maker, or None)."""

    def __init__(self, step: str, pre: str | None, n_hoisted: int, invariant: tuple[int, ...],
                 workspace: str | None, owned: frozenset[int], fresh_carries: frozenset[int],
                 fortran: tuple[int, ...]) -> None:
        self.step = step
        self.pre = pre
        self.n_hoisted = n_hoisted
        self.invariant = invariant
        self.workspace = workspace
        self.owned = owned
        self.fresh_carries = fresh_carries
        self.fortran = fortran  # arguments (inputs, then hoisted values) to pass column-major


class BodyFunction:
    """A compiled body as one function's code calls it (its locals named in that function).

    ``setup(args)`` is the code to run once before the first ``call(args)``
    (``args``: the sources of the body's inputs; only the invariant ones are
    read by ``setup``, the others may be None).  ``call`` is an expression
    whose value is the tuple of the outputs.  ``owned``: positions of inputs
    the function may overwrite (or return): pass arrays nothing else reads.
    ``fresh_carries``: positions of carry inputs whose new value the function
    returns in a buffer of its own, shared with no other carry (``owned`` is
    among them).
    """

    def __init__(self, compiled: CompiledBody, writer: FunctionWriter) -> None:
        self.compiled = compiled
        self.name = compiled.step
        self.owned = compiled.owned
        self.fresh_carries = compiled.fresh_carries
        prefix = writer.ctx.out or "body"
        self.hoisted = [writer.idents.make(f"{prefix}_h{k}") for k in range(compiled.n_hoisted)]
        self.workspace = writer.idents.make(f"{prefix}_ws") if compiled.workspace else None
        self.fortran = {k: writer.idents.make(f"{prefix}_f{k}") for k in compiled.fortran}
        #: the caller's locals ``setup`` binds (free them after the last call)
        self.locals = self.hoisted + list(self.fortran.values()) + (
            [self.workspace] if self.workspace else [])

    def setup(self, args: Sequence[str | None]) -> list[str]:
        c = self.compiled
        lines = []
        if self.workspace:
            lines.append(f"{self.workspace} = {c.workspace}()")
        if c.pre:
            given = ", ".join(str(args[i]) for i in c.invariant)
            lines.append(f"{''.join(h + ', ' for h in self.hoisted)}= {c.pre}({given})")
        everything = list(args) + self.hoisted
        for k, name in self.fortran.items():
            lines.append(f"{name} = np.asfortranarray({everything[k]})")
        return lines

    def call(self, args: Sequence[str]) -> str:
        given = [self.fortran.get(k, a) for k, a in enumerate(list(args) + self.hoisted)]
        return f"{self.name}({', '.join(given + ([self.workspace] if self.workspace else []))})"


#: a loop of at least this many steps gets its invariant matrices in Fortran order
RELAYOUT_STEPS = 8


def compile_body(parent: FunctionWriter, body: Any, outputs: Sequence[Node],
                 invariant: Sequence[int] = (), carries: Sequence[tuple[int, int]] = (),
                 steps: int | None = None, repeated: bool = False) -> BodyFunction:
    """``body``'s ``outputs`` as a function of all its inputs, compiled once per module
    (``steps``: how many calls the setup is shared by, when known; ``repeated``: the body
    runs many times per call of ``parent``'s function)."""
    module = parent.module
    relayout = steps is not None and steps >= RELAYOUT_STEPS and not parent.repeated
    key = (body, tuple(outputs), tuple(invariant), tuple(carries), relayout, repeated)
    found = module.bodies.get(key)
    if found is None:
        found = module.bodies[key] = _compile(parent, body, list(outputs), tuple(invariant),
                                              tuple(carries), relayout, repeated)
    return BodyFunction(found, parent)


class BodyPlan:
    """A body lowered and planned to compute some outputs: ``prog`` and ``plan`` (the body's
    inputs, then its ``hoisted`` values, as parameters), ``pre_prog`` and ``pre_plan``
    computing the hoisted values from the invariant inputs (None if there are none), the
    carry inputs whose new value is a fresh buffer of the body's own (``fresh_carries``,
    the ones the plan may write into: ``plan.owned``) and the outputs that are fresh
    buffers shared with no other output (``fresh_outputs``)."""

    def __init__(self, body: Any, outputs: list[Node], invariant: tuple[int, ...],
                 carries: tuple[tuple[int, int], ...], planner: Planner) -> None:
        optimize = planner.optimize
        inputs = list(body.inputs)
        prog = lower(outputs, inputs, fuse=optimize)
        self.hoisted = invariant_frontier(prog, {inputs[i] for i in invariant}) if optimize else []
        self.pre_prog = self.pre_plan = None
        if self.hoisted:
            pre_inputs = [inputs[i] for i in invariant]
            self.pre_prog = lower(self.hoisted, pre_inputs, fuse=optimize)
            self.pre_plan = plan_program(self.pre_prog, optimize, planner=planner)
            prog = lower(outputs, inputs + self.hoisted, fuse=optimize)
        plan = planner.plan(prog)
        fresh = ownable(plan, prog, carries) if optimize and carries else []
        if fresh:
            plan = planner.plan(prog, frozenset(inputs[i] for i in fresh))
        self.prog, self.plan = prog, plan
        self.fresh_carries = frozenset(fresh)
        self.fresh_outputs = distinct_fresh(plan, prog)


class Planner:
    """Plans the programs of one compiled function, its bodies' included, with the same
    options; each body is analysed once (``BodyPlan``) for planning the function around
    it and for compiling it, so what the planner assumes of a loop (which parts of its
    results are arrays of its own) is what its code does."""

    def __init__(self, optimize: bool, reuse: bool) -> None:
        self.optimize, self.reuse = optimize, reuse
        self.bodies: dict[tuple, BodyPlan] = {}

    def plan(self, prog: Program, owned: frozenset = frozenset()) -> Plan:
        return plan_program(prog, self.optimize, self.reuse, owned, self)

    def body(self, body: Any, outputs: Sequence[Node], invariant: Sequence[int] = (),
             carries: Sequence[tuple[int, int]] = ()) -> BodyPlan:
        key = (body, tuple(outputs), tuple(invariant), tuple(carries))
        found = self.bodies.get(key)
        if found is None:
            found = self.bodies[key] = BodyPlan(body, list(outputs), tuple(invariant),
                                                tuple(carries), self)
        return found

    def fresh_parts(self, v: Value, used: frozenset[int]) -> frozenset[int]:
        """The parts (of those ``used``) of a tuple value ``v`` that its code makes in new
        arrays of its own, shared with nothing (see ``flow.source``)."""
        if isinstance(v.op, Loop) and v.op is v.node.op:
            return loop_fresh_results(v.op, used, self.body)
        if isinstance(v.op, Cond) and v.op is v.node.op:
            return cond_fresh_results(v.op, used, self.body)
        if getattr(v.op, "fresh_results", False):  # e.g. a numba region: rows of a new array
            return used
        return frozenset()


def _compile(parent: FunctionWriter, body: Any, outputs: list[Node], invariant: tuple[int, ...],
             carries: tuple[tuple[int, int], ...], relayout: bool, repeated: bool) -> CompiledBody:
    module = parent.module
    optimize = parent.plan.optimize
    planner = parent.plan.planner or Planner(optimize, parent.plan.reuse)
    found = planner.body(body, outputs, invariant, carries)
    name = f"_body{module.bodies_made}"
    module.bodies_made += 1
    inputs = list(body.inputs)
    hoisted = found.hoisted
    pre = None
    if hoisted:
        pre = f"{name}_pre"
        _define(parent, pre, found.pre_prog, found.pre_plan, [inputs[i] for i in invariant],
                hoisted)
    workspace = f"{name}_ws" if found.plan.workspace else None
    writer = _define(parent, name, found.prog, found.plan, inputs + hoisted, outputs, workspace,
                     repeated)
    # the carries the body writes into, returns as its own or lets a loop of its own take
    written = {d.node for d in found.plan.donor.values() if d.kind == "param"} | writer.taken
    owned = frozenset(i for i in found.fresh_carries if inputs[i] in written)
    fixed = [inputs[i] for i in invariant] + hoisted
    fortran = fortran_operands(found.prog, inputs + hoisted, set(fixed)) \
        if optimize and relayout else ()
    return CompiledBody(name, pre, len(hoisted), invariant, workspace, owned,
                        found.fresh_carries, fortran)


def _define(parent: FunctionWriter, name: str, prog: Program, plan: Plan, inputs: list[Node],
            outputs: list[Node], workspace: str | None = None,
            repeated: bool = False) -> FunctionWriter:
    """Write ``prog`` as the module-level function ``name``; returns its writer."""
    from .emitter import FunctionWriter

    reserved = {name}
    while True:
        writer = FunctionWriter(prog, plan, parent.check, reserved, parent.module, parent,
                                repeated)
        writer.write(inputs, outputs, workspace or f"{name}_ws")
        clash = writer.clashes()
        if not clash:
            break
        reserved |= clash
    parent.module.code(name, writer.text(name))
    return writer


def invariant_frontier(prog: Program, invariant: set[Node]) -> list[Node]:
    """The computed values that depend only on ``invariant`` inputs (and constants) and that
    the rest of ``prog`` (or its result) reads: computed once, they need not be recomputed
    at each call.  Ops run through their ``f`` (users' ops, maybe impure) stay put."""
    inv: set[Value] = set()
    for v in prog.values:  # topological
        if (v.kind == "const" or (v.kind == "param" and v.node in invariant)
                or (v.kind == "op" and has_emit(v.op) and all(r.value in inv for r in v.args))):
            inv.add(v)
    frontier: dict[Value, None] = {}
    for v in prog.values:
        if v not in inv:
            for r in v.args:
                if r.value in inv and r.value.kind == "op":
                    frontier[r.value] = None
    for r in prog.outputs:
        if r.value in inv and r.value.kind == "op":
            frontier[r.value] = None
    return [v.node for v in frontier]


def fortran_operands(prog: Program, params: list[Node], fixed: set[Node]) -> tuple[int, ...]:
    """Positions in ``params`` of the ``fixed`` parameters that are the right operand of a
    product of matrices with more than one row on the left (see the module docstring)."""
    found = set()
    for v in prog.values:
        if not (isinstance(v.op, MatMul) and v.op is v.node.op and v.dtype.kind == "f"):
            continue
        left, right = v.args
        if (right.value.kind == "param" and right.value.node in fixed and len(right.shape) == 2
                and len(left.shape) == 2 and left.shape[0] > 1
                and right.value.shape == right.shape):
            found.add(right.value.node)
    return tuple(k for k, n in enumerate(params) if n in found)


def distinct_fresh(plan: Plan, prog: Program) -> frozenset[int]:
    """Positions of the outputs that are fresh buffers of the program's own (of the output's
    shape), each shared with no other output."""
    outs = [r.value for r in prog.outputs]
    return frozenset(k for k, v in enumerate(outs)
                     if v.kind == "op" and v in plan.fresh and v.shape == prog.outputs[k].shape
                     and sum(1 for w in outs if v in plan.roots[w]) == 1)


def ownable(plan: Plan, prog: Program, carries: Sequence[tuple[int, int]]) -> list[int]:
    """Input positions of the carries whose next value the body makes in a fresh buffer that
    no other carry shares: the loop can hand that buffer back, for writing in place."""
    outs = [r.value for r in prog.outputs]
    carry_outs = [outs[o] for _, o in carries]
    found = []
    for i, o in carries:
        v = outs[o]
        if v.kind != "op" or v not in plan.fresh or not v.shape or v.shape != prog.outputs[o].shape:
            continue
        if sum(1 for w in carry_outs if v in plan.roots[w]) == 1:
            found.append(i)
    return found
