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
loop over the body's jvp body.  Both are loops again, so they nest: the rules
are in ``flow.sweeps``, the builders ``sg.scan``/``sg.while_loop`` in
``flow.builders``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import backend
from ..errors import DTypeError, ShapeError, SymgraphError, UndefinedGradientError
from ..graph import Node
from ..ops.base import BOOL, NO_SYMPY, SIZE, Op, ParamKind
from ..ops.patterns import DENSE
from ..ops.tuples import RESULTS, item, pack
from .body import Body, body_runner
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
    def f(self, *arrays: Any, wanted: frozenset[int] | None = None) -> np.ndarray:
        """Run the loop.  ``wanted``: the parts some node reads (the evaluator says); the
        others are not stacked or recorded (None in the tuple), so the value of a loop that
        was differentiated once costs no more than before when only it is asked for."""
        body, nc, ny = self.body, self.n_carry, self.n_ys
        carries, xs, consts, cconsts, n = self.split(arrays)
        base = nc + ny
        records = [(base + k, r) for k, r in enumerate(self.records)
                   if wanted is None or base + k in wanted]
        ys_used = [i for i in range(ny) if wanted is None or nc + i in wanted]
        steps = [r[1] for _, r in records if r[0] == "step"]
        run = body_runner(body, list(body.outputs[:nc]) + [body.outputs[nc + i] for i in ys_used]
                          + steps)
        test = body_runner(self.cond, self.cond.outputs) if self.cond is not None else None
        wants_traj = any(r[0] == "traj" for _, r in records)
        # checkpoints alone keep every k-th carry only (memory O(length / k), not O(length))
        every = 1 if wants_traj else (self.checkpoint if any(
            r[0] == "checkpoints" for _, r in records) else 0)
        L = self.length
        T = int(backend.concrete(n)) if n is not None else L
        if T is not None and L is not None and not 0 <= T <= L:
            raise SymgraphError(f"{self.name}: trip count {T} is outside 0..{L}")
        entering: list[list] = []
        ys: list[list] = []
        recorded: list[list] = []
        ny_run = len(ys_used)
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
            ys.append(outs[nc:nc + ny_run])
            recorded.append(outs[nc + ny_run:])
            p += 1
        if self.reverse:
            ys.reverse()
            recorded.reverse()
        avals = self.result_avals()
        results: list[Any] = list(carries) + [None] * (len(avals) - nc)
        for pos, i in enumerate(ys_used):
            results[nc + i] = _stack([s[pos] for s in ys], avals[nc + i])
        step_k = 0
        for k, rec in records:
            kind = rec[0]
            if kind == "step":
                results[k] = _stack([s[step_k] for s in recorded], avals[k])
                step_k += 1
            elif kind == "traj":
                j = rec[1]
                path = [e[j] for e in entering]
                path = [carries[j]] + path[::-1] if self.reverse else path + [carries[j]]
                results[k] = _stack(path, avals[k])
            elif kind == "checkpoints":
                j = rec[1]
                results[k] = _stack([e[j] for e in entering[::self.checkpoint // every]], avals[k])
            else:
                results[k] = np.asarray(p, np.int64)
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
            from .sweeps import checkpointed_sweep

            return checkpointed_sweep(self, inputs, out, gs, needs)
        from .sweeps import reverse_sweep

        return reverse_sweep(self, inputs, out, gs, needs)

    def jvp(self, inputs: Sequence[Node], out: Node, ts: Sequence[Node | None]) -> list | None:
        from .sweeps import forward_sweep

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


__all__: list[str] = []
