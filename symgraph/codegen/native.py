"""``backend="numba"``: maximal elementwise regions of a lowered Program run as one kernel call.

A pass over the lowered Program (after ``lower``, before planning): values whose
op declares numba scalar code (``region_code``), with float64 results (or
booleans used only inside the region) and operands of any shape that broadcasts
to the value's, are grouped into regions; each region becomes
one value computed by a VM of ``codegen.native_vm`` (one call, one pass over
blocks of elements; one kernel per program, compiled for the scalar codes its
regions use, none loaded when there is no region), and the region's values read
elsewhere (outputs, later numpy code, the backward pass) are parts of its result
(``Item`` values, each a new array: the VM writes through their addresses).  They
overlap nothing, so the planner counts them as buffers of their own
(``Region.fresh_results``) and later numpy code may write into one in place
(``np.cbrt(item4, out=item4)``); float64 operands are read where they are, others
converted to float64 copies, counted with the register file as the region's
scratch (``Region.scratch_bytes``): ``peak_bytes`` is what a call allocates.
Everything else stays the numpy code of the numpy backend.

What stays numpy: results of other dtypes than float64 (float32, float16 and
integer work: float64 registers cannot round or wrap as numpy does; booleans only
inside a region), ops without scalar code, and regions too small to pay for
their call (``worth``: a kernel call costs ~1.5-1.8 us more than a numpy call,
which costs ~0.35 us in a compiled function, and the VM's loads and stores are
passes over memory: on 10 elements a region pays from ~6 ops, on 10^5 from ~60).

Broadcasting: an operand smaller than the region (a bias (16,) or (8, 1) over
(8, 16)) is read in place, element ``i`` of the region reading its element
``(i // inner) % period`` (``broadcast_load``: its non-broadcast axes are one
run); other patterns ((8, 1, 4) over (8, 5, 4)) are copied broadcast by the call
and counted as scratch.  A smaller value computed by members (a (16,) value
feeding an (8, 16) one) is in a region of its own shape (or numpy), read as an
operand: regions split only where shapes change.

Regions are made acyclic by stages: a value's stage is at least its arguments'
stages, plus one across an edge that cannot be inside a region (a non-member on
either side, or a change of shape); a region is a connected set of members of
one stage.  A path leaving a region and coming back would cross such an edge
and so end at a higher stage.

Registers: booleans are 0.0/1.0 doubles, and a boolean result must be exactly
that (``region_code``: ``add`` of booleans is ``or``).  Operands of other dtypes
(integers, float32, booleans) are converted to float64 when loaded, as numpy
converts them in a float64 loop, and only by ops whose numpy code is that loop
(``converting``).  Slots are reused by liveness (a chain's forward values live
until the backward pass reads them; temporaries die at once); a destination is
never one of its instruction's operands (LLVM vectorises only rows that do not
overlap).  The register file is ``slots x native_vm.block_size`` doubles per call.

Differences from the numpy backend: rounding of transcendental functions (numba
calls libm; numpy has its own SIMD versions: a few ulps), and kernels raise no
floating-point warnings (divide by zero, overflow, invalid: numpy's ``errstate``
does not apply inside them).  ``check_finite`` compiles node by node, so it never
uses the kernel; loops' bodies run numpy code.  ``f.source`` calls
``symgraph.codegen.native.run_region`` and is not standalone; a comment line
above each call lists the region's ops (``# native27: sin4, multiply5, ... (22
ops over (10,))``, as ``Region.describe``).
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
from typing import Any, Callable, Sequence

import numpy as np

from ..ops.elementwise import Binary, Elementwise, Unary
from ..ops.sources import Full
from ..ops.tuples import Item
from .fusion import FusedOp
from .ir import Program, Ref, Value
from . import native_vm
from .native_vm import (ARGS, LOAD, STORE, VM, WIDTH, arity, load_vm, operand_index,
                        result_index, scalar_codes)
from .schedule import infer_shapes, topological

#: what a region must save to be worth a call (``worth``), measured on one thread
#: (``benchmarks/bench_small.py --overhead``): a kernel call costs ~1.8 us more than a numpy
#: ufunc call on small arrays (its Python and numba's dispatch of 13 arguments), a numpy call
#: ~0.35 us; the VM loads each array operand and stores each result in a pass of ~0.1 ns per
#: element (as fast per element as a numpy ufunc for the arithmetic between)
KERNEL_CALL_US = 1.8
NUMPY_CALL_US = 0.35
PASS_NS = 0.1
#: smallest region on one element (where numpy's own calls are cheapest)
MIN_SCALAR_REGION = 8
#: a region's source comment and ``describe`` list its first ops, up to this many
SHOWN_OPS = 8
#: regroupings after dropping booleans read outside their region, before dropping them all
_BOOL_ROUNDS = 4
_F64 = np.dtype(np.float64)
_BOOL = np.dtype(np.bool_)


class RegionNode:
    """What a region's value stands on in place of a graph node (names, error messages)."""

    __slots__ = ("id", "op", "shape", "dtype", "name", "inputs", "role", "order")

    def __init__(self, node_id: int, op: Any, inputs: list) -> None:
        self.id, self.op, self.inputs = node_id, op, inputs
        self.shape: tuple[int, ...] = ()
        self.dtype = np.dtype(object)
        self.name, self.role, self.order = None, "forward", 0


class Region(FusedOp):
    """A fused elementwise region: one VM call returning its exported values (a tuple)."""

    name = "native"
    multiple_results = True
    #: its results are rows of a new array (``run_region``): they overlap nothing, so the
    #: planner may let later code write into them (``codegen.bodies.Planner.fresh_parts``)
    fresh_results = True

    def __init__(self, vm: VM, code: np.ndarray, consts: np.ndarray, shape: tuple[int, ...],
                 n_arrays: int, ops: list[str], exports: int, copied: int,
                 expand: tuple[int, ...]) -> None:
        self.vm, self.code, self.consts, self.shape = vm, code, consts, shape
        self.n_arrays, self.exports = n_arrays, exports
        self.op_names = ops  # its members' ops, in order (``sin4``: op name and node id)
        self.ops = len(ops)
        self.copied = copied  # elements of the float64 copies a call makes of its operands
        self.expand = expand  # array operands the call copies broadcast to ``shape``

    def scratch_bytes(self, shapes) -> int:
        """What a call allocates and drops: float64 copies of its operands of other dtypes
        or broadcast in no one run of axes (``run_region``) and the VM's register file
        (``slots x native_vm.block_size`` doubles)."""
        nslots = int(self.code[0, 0])
        return 8 * (self.copied + nslots * native_vm.block_size(nslots, math.prod(self.shape)))

    def result_count(self, node: Any) -> int:
        return self.exports

    def result_avals(self, node: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
        return [(self.shape, _F64)] * self.exports

    def describe(self) -> str:
        return f"numba region of {self.ops} ops over {self.shape}: {self.summary()}"

    def summary(self) -> str:
        """Its ops in order, the first ``SHOWN_OPS`` of them (``sin4, multiply5, ... 20 more``)."""
        shown = ", ".join(self.op_names[:SHOWN_OPS])
        more = self.ops - SHOWN_OPS
        return shown + (f", ... {more} more" if more > 0 else "")

    def emit(self, out, ins, ctx):
        fn = ctx.define("_native", run_region,
                        "from symgraph.codegen.native import run_region as _native",
                        standalone=False)
        vm = ctx.define("_vm", self.vm.run,
                        "from symgraph.codegen.native_vm import load_kernel\n"
                        f"_vm = load_kernel({self.vm.digest!r}).run  # its cache file's hash",
                        standalone=False)
        arrays, scalars = ins[:self.n_arrays], ins[self.n_arrays:]
        nslots, nout, nscal = (int(k) for k in self.code[0, :3])
        body = self.code[1 + nscal:]
        more = ""
        if scalars or self.expand:
            slots = tuple(int(k) for k in self.code[1:1 + nscal, 0])
            more = (f", ({''.join(s + ', ' for s in scalars)}), {slots}"
                    + (f", {self.expand}" if self.expand else ""))
        return (f"# {out}: {self.summary()} ({self.ops} ops over {self.shape})\n"
                f"{out} = {fn}({vm}, {ctx.const(body)}, {ctx.const(self.consts)}, "
                f"{self.shape}, {math.prod(self.shape)}, {nslots}, {nout}, "
                f"({''.join(a + ', ' for a in arrays)}){more})")


#: stand-ins for a region's unused operand and result arguments, and its "no more" addresses
_NO_IN = np.empty(0)
_NO_IN.flags.writeable = False
_NO_OUT = np.empty(0)
_NO_MORE = np.empty(0, np.int64)
_NO_MORE.flags.writeable = False
_PAD_IN = tuple((_NO_IN,) * k for k in range(ARGS + 1))
_PAD_OUT = tuple((_NO_OUT,) * k for k in range(ARGS + 1))


def run_region(vm: Callable, body: np.ndarray, consts: np.ndarray, shape: tuple[int, ...],
               n: int, nslots: int, nout: int, arrays: Sequence[Any], scalars: Sequence[Any] = (),
               slots: Sequence[int] = (), expand: tuple[int, ...] = ()
               ) -> tuple[np.ndarray, ...] | list[np.ndarray]:
    """Run a region's instructions ``body`` on the VM ``vm`` over ``n`` elements (``shape``)
    with a register file of ``nslots`` slots, the constants ``consts`` and the one-element
    ``scalars`` in their ``slots``.  Each of its ``nout`` results is an array of its own and
    float64 C-contiguous operands are read where they are (the first ``native_vm.ARGS`` of
    each as arguments, the rest by address), so the planner's count of buffers is what a
    call allocates; other operands are converted to float64 copies
    (``Region.scratch_bytes``).  Operands smaller than ``shape`` are read broadcast (the
    table's loads say how: ``broadcast_load``), those listed in ``expand`` copied broadcast.
    What ``Region.table`` holds is passed as Python numbers: each call's Python costs ~1.7 us
    (numba's dispatch of 13 arguments ~0.8 us of it)."""
    if scalars:
        consts = consts.copy()
        for k, s in zip(slots, scalars):
            consts[k] = np.reshape(s, -1)[0]
        consts.flags.writeable = False
    outs = [np.empty(n) for _ in range(nout)]
    ins = []
    for k, a in enumerate(arrays):
        if expand and k in expand:
            a = np.array(np.broadcast_to(a, shape), dtype=_F64)
        elif type(a) is not np.ndarray or a.dtype != _F64 or not a.flags.c_contiguous:
            a = np.ascontiguousarray(a, dtype=_F64)
        ins.append(a if a.ndim == 1 else a.reshape(-1))
    more = _NO_MORE
    if nout > ARGS or len(ins) > ARGS:  # alive in ``outs`` and ``ins`` until the call ends
        more = np.array([a.__array_interface__["data"][0]
                         for a in outs[ARGS:] + ins[ARGS:]], np.int64)
        more.flags.writeable = False
    vm(body, consts, *ins[:ARGS], *_PAD_IN[max(ARGS - len(ins), 0)],
       *outs[:ARGS], *_PAD_OUT[max(ARGS - nout, 0)], more, n, nslots)
    if len(shape) == 1:
        return outs
    return [o.reshape(shape) for o in outs]


def region_code(op: Elementwise, dtype: np.dtype) -> str | None:
    """The scalar code computing ``op`` with a result of ``dtype`` in a region, or None.

    Registers are float64, so results must be float64 or booleans; a boolean must be
    exactly 0.0 or 1.0 (later code reads it as a number: ``cast(b, float) * 3``), so a
    boolean result takes the op's ``numba`` code only when that is ``1.0 if ... else 0.0``,
    else the op's ``numba_bool`` (``add`` of booleans is ``or``, not ``1.0 + 1.0``)."""
    if dtype == _F64:
        return op.numba_scalar()
    if dtype != _BOOL:
        return None
    code = op.numba_scalar()
    return code if code is not None and zero_one(code) else op.numba_bool


@functools.lru_cache(maxsize=None)
def zero_one(code: str) -> bool:
    """Whether ``code`` is ``1.0 if <test> else 0.0``: 0.0 or 1.0 whatever its operands."""
    body = ast.parse(code, mode="eval").body
    return (isinstance(body, ast.IfExp) and isinstance(body.body, ast.Constant)
            and isinstance(body.orelse, ast.Constant) and body.body.value == 1.0
            and body.orelse.value == 0.0)


def operand_ok(a: Value, shape: tuple[int, ...], bool_result: bool,
               converts: bool = True) -> bool:
    """Whether a region member may read ``a``: of the member's shape or one element, and
    float64, or loaded as float64 as numpy's float64 loops convert it (``converts``: the
    member's numpy code is one ufunc call, ``converting``; integers beyond 2^53 would
    compare inexactly: not for boolean results)."""
    dt = a.dtype
    if dt is not _F64 and (not converts or dt.kind not in "biuf" or dt.kind == "f"
                           and dt.itemsize > 8
                           # comparisons of integers need them exact in float64
                           or bool_result and dt.kind in "iu" and dt.itemsize > 4):
        return False
    if a.shape == shape or math.prod(a.shape) == 1:
        return True
    try:  # a smaller operand broadcast over the region: read through ``broadcast_load``
        return np.broadcast_shapes(a.shape, shape) == shape
    except ValueError:
        return False


def broadcast_load(small: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """``(inner, period)`` such that element ``i`` of a C-ordered ``shape`` reads element
    ``(i // inner) % period`` of an operand of shape ``small`` broadcast to it, when the
    operand's non-broadcast axes are one run of adjacent axes ((16,) or (8, 1) over
    (8, 16)); None otherwise ((8, 1, 4) over (8, 5, 4): the call copies it broadcast)."""
    small = (1,) * (len(shape) - len(small)) + tuple(small)
    kept = [k for k, (s, d) in enumerate(zip(small, shape)) if d != 1 and s == d]
    spread = [k for k, (s, d) in enumerate(zip(small, shape)) if d != 1 and s != d]
    if not kept or any(kept[0] < k < kept[-1] for k in spread):
        return None
    return math.prod(shape[kept[-1] + 1:]), math.prod(small[kept[0]:kept[-1] + 1])


def converting(op: Elementwise) -> bool:
    """Whether ``op``'s numpy code converts its operands to the result's dtype before any
    arithmetic (one ufunc call, a cast, a selection), as the kernel's loads do.  Other
    code may compute on integers first (``-abs(x)`` wraps at -2^31 in int32)."""
    cls = type(op)
    if op.name in ("cast", "where"):
        return True
    return isinstance(getattr(cls, "ufunc", None), np.ufunc) and (
        cls.f is Unary.f or cls.f is Binary.f)


def _scalar_code(v: Value, declared: set[str]) -> str | None:
    """``v``'s scalar code if it can be a region member (else None)."""
    op = v.op
    if v.kind != "op" or op is not v.node.op or not isinstance(op, Elementwise):
        return None
    dt = v.dtype
    if v.shape != v.node.shape:
        return None
    code = region_code(op, dt)
    if code is None or code not in declared:
        return None
    if len(v.args) != arity(code) and not (op.numba_fold and len(v.args) >= 2):
        return None
    converts = converting(op)
    for r in v.args:
        if not operand_ok(r.value, v.shape, dt == _BOOL, converts):
            return None
    return code


def fuse_regions(prog: Program) -> Program:
    """``prog`` with its elementwise regions replaced by calls of one kernel (the same
    object), the one ``native_vm.load_vm`` gives for the scalar codes they use."""
    infer_shapes(prog.values)
    outputs = {r.value for r in prog.outputs}
    consumers: dict[Value, list[Value]] = {}
    for v in prog.values:
        for r in v.args:
            consumers.setdefault(r.value, []).append(v)
    codes: dict[Value, str] = {}
    declared = set(scalar_codes())
    for v in prog.values:
        code = _scalar_code(v, declared)
        if code is not None:
            codes[v] = code
    # a boolean member must be read only inside its own (built) region: the kernel's outputs
    # are float64.  Dropping one regroups the rest; after a few rounds booleans all go.
    for attempt in range(_BOOL_ROUNDS + 1):
        if attempt == _BOOL_ROUNDS:
            codes = {v: c for v, c in codes.items() if v.dtype != _BOOL}
        root, regions = _group(prog.values, codes, consumers)
        built = {r for r, members in regions.items() if worth(members, consumers, outputs)}
        bad = [v for v in codes if v.dtype == _BOOL and (
            v in outputs or root[v] not in built
            or any(c not in codes or root[c] is not root[v] for c in consumers.get(v, ())))]
        if not bad:
            break
        for v in bad:
            del codes[v]
    kept_regions = [members for members in regions.values()
                    if worth(members, consumers, outputs)]
    if not kept_regions:
        return prog
    vm = load_vm({codes[m] for members in kept_regions for m in members})
    replaced: dict[Value, Value] = {}
    added: list[Value] = []
    for members in kept_regions:
        region_value, items = _build(members, codes, consumers, outputs, vm)
        added.append(region_value)
        for m, item in items.items():
            replaced[m] = item
            added.append(item)
        for m in members:
            replaced.setdefault(m, region_value)  # members not exported: read by nothing else
    for v in itertools.chain(prog.values, added):  # a region may read another's member
        for r in v.args:
            if r.value in replaced:
                r.value = replaced[r.value]
    for r in prog.outputs:
        if r.value in replaced:
            r.value = replaced[r.value]
    kept = [v for v in prog.values if v not in replaced] + added
    prog.values = topological(kept)
    for k, v in enumerate(prog.values):
        v.index = k
    return prog


def worth(members: list[Value], consumers: dict[Value, list[Value]], outputs: set[Value]
          ) -> bool:
    """Whether a region saves more numpy calls than its call and its passes over memory
    cost: ``ops x NUMPY_CALL_US >= KERNEL_CALL_US + passes x n x PASS_NS`` (passes: loads of
    array operands and stores of results; on 10 elements a region pays from 5 ops, on 10^4
    ones with one load and one store from 10).  ``MIN_SCALAR_REGION`` on one element."""
    n = math.prod(members[0].shape)
    if n == 1:
        return len(members) >= MIN_SCALAR_REGION
    inside = set(members)
    loads = {r.value for m in members for r in m.args
             if r.value not in inside and math.prod(r.value.shape) != 1}
    stores = sum(m in outputs or any(c not in inside for c in consumers.get(m, ()))
                 for m in members)
    return len(members) * NUMPY_CALL_US >= (KERNEL_CALL_US
                                            + (len(loads) + stores) * n * PASS_NS * 1e-3)


def _group(values: list[Value], codes: dict[Value, str], consumers: dict[Value, list[Value]]
           ) -> tuple[dict[Value, Value], dict[Value, list[Value]]]:
    """Regions: each member's representative, and each region's members in program order.

    A value's stage is at least its arguments' stages, plus one across an edge that
    cannot be inside a region (then a path leaving a region and coming back ends at a
    higher stage: no cycles); each is as large as its readers allow (so ``-x * 3`` joins
    the later region reading it); connected members of one stage form a region."""
    stage: dict[Value, int] = {}
    parent: dict[Value, Value] = {v: v for v in codes}

    def find(v: Value) -> Value:
        while parent[v] is not v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def step(a: Value, v: Value) -> int:  # 0 along an edge that may be inside a region
        return 0 if a in codes and v in codes and a.shape == v.shape else 1

    for v in values:
        stage[v] = max((stage[r.value] + step(r.value, v) for r in v.args), default=0)
    for v in reversed(values):  # as late as its readers allow: joins the region it feeds
        later = [stage[c] - step(v, c) for c in consumers.get(v, ())]
        if later and min(later) > stage[v]:
            stage[v] = min(later)
    for v in codes:
        for r in v.args:
            a = r.value
            if a in codes and a.shape == v.shape and stage[a] == stage[v]:
                ra, rv = find(a), find(v)
                if ra is not rv:
                    parent[ra] = rv
    root = {v: find(v) for v in codes}
    regions: dict[Value, list[Value]] = {}
    for v in values:  # members in program (topological) order
        if v in codes:
            regions.setdefault(root[v], []).append(v)
    return root, regions


def _build(members: list[Value], codes: dict[Value, str], consumers: dict[Value, list[Value]],
           outputs: set[Value], vm: VM) -> tuple[Value, dict[Value, Value]]:
    """The region's value (its VM program) and an ``Item`` value per exported member."""
    inside = set(members)
    shape = members[0].shape
    exported = [m for m in members if m in outputs
                or any(c not in inside for c in consumers.get(m, ()))]
    # last use of each value inside the region (position of the member reading it)
    last: dict[Value, int] = {}
    for k, m in enumerate(members):
        for r in m.args:
            last[r.value] = k
    const_slots: dict[Any, int] = {}
    consts: list[float] = []
    scalar_slot: dict[Value, int] = {}  # one-element operands (constants and scalars) -> slot
    scalar_args: list[Value] = []
    array_args: list[Value] = []
    array_row: dict[Value, int] = {}
    arrays = math.prod(shape) != 1  # otherwise every operand is one element
    for m in members:  # constants and scalars first: they own the lowest slots
        for r in m.args:
            a = r.value
            if a in inside or a in scalar_slot or arrays and math.prod(a.shape) != 1:
                continue
            if a.kind == "const":
                x = np.float64(a.op.value if isinstance(a.op, Full)
                               else np.reshape(a.op.value, -1)[0])
                key: Any = x.tobytes()  # by bits: -0.0 and NaN stay what they are
            else:
                key = a
                scalar_args.append(a)
                x = np.float64(0.0)
            if key not in const_slots:
                const_slots[key] = len(consts)
                consts.append(float(x))
            scalar_slot[a] = const_slots[key]
    nconst = len(consts)
    free: list[int] = []
    top = nconst
    slot: dict[Value, int] = {}
    code: list[list[int]] = []
    out_row = {m: k for k, m in enumerate(exported)}
    expand: set[int] = set()  # array operands copied broadcast by the call

    def alloc() -> int:
        nonlocal top
        if free:
            return free.pop()
        top += 1
        return top - 1

    def operand(a: Value) -> int:
        if a in slot:
            return slot[a]
        if a in scalar_slot:
            return scalar_slot[a]
        if a in inside:
            raise AssertionError("region member read before it is computed")
        if a not in array_row:  # an array: loaded into a register once per block
            array_row[a] = operand_index(len(array_args), len(exported))
            array_args.append(a)
        pattern = (0, 0)  # (inner, period): read broadcast (period 0: element by element)
        if a.shape != shape:
            found = broadcast_load(a.shape, shape)
            if found is None:
                expand.add(array_args.index(a))
            else:
                pattern = found
        s = slot[a] = alloc()
        code.append([LOAD, s, array_row[a], *pattern])
        return s

    for k, m in enumerate(members):
        ops = [operand(r.value) for r in m.args]
        opcode = vm.opcodes[codes[m]]
        done = [r.value for r in m.args if last.get(r.value) == k and r.value in slot]
        # the destination is allocated before the operands die: a row written while it is
        # read (``regs[d] = regs[d] * regs[b]``) fails LLVM's overlap check, which then runs
        # the scalar loop, not the SIMD one (4x slower per element, measured)
        d = alloc()
        if len(ops) <= 3 and not m.op.numba_fold or len(ops) == 2:
            code.append([opcode, d, *ops, *([0] * (3 - len(ops)))])
        else:  # a fold: ((a + b) + c) + ...
            code.append([opcode, d, ops[0], ops[1], 0])
            for s in ops[2:]:
                code.append([opcode, d, d, s, 0])
        for a in dict.fromkeys(done):
            free.append(slot.pop(a))
        slot[m] = d
        if m in out_row:
            code.append([STORE, result_index(out_row[m], len(exported)), d, 0, 0])
        if m not in last:  # read by no later member: its slot is free
            free.append(slot.pop(m))
    table = np.zeros((1 + len(scalar_args) + len(code), WIDTH), np.int64)
    table[0, :3] = (top, len(exported), len(scalar_args))
    for k, a in enumerate(scalar_args):
        table[1 + k, 0] = scalar_slot[a]
    if code:
        table[1 + len(scalar_args):] = np.array(code, np.int64)
    table.setflags(write=False)
    consts_arr = np.array(consts, np.float64)
    consts_arr.setflags(write=False)
    n = math.prod(shape)
    copied = sum(n if k in expand else math.prod(a.shape) if a.dtype != _F64 else 0
                 for k, a in enumerate(array_args))
    names = [f"{m.op.name}{m.node.id}" for m in members]
    op = Region(vm, table, consts_arr, shape, len(array_args), names, len(exported),
                copied, tuple(sorted(expand)))
    root = members[-1]
    args = [Ref(a, a.shape) for a in array_args] + [Ref(a, a.shape) for a in scalar_args]
    region = Value(RegionNode(root.node.id, op, [a.node for a in array_args + scalar_args]),
                   op, args, "op")  # type: ignore[arg-type]
    items = {m: Value(m.node, Item(k, shape, _F64), [Ref(region, ())], "op")
             for k, m in enumerate(exported)}
    return region, items
