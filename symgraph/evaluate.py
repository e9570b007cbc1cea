"""The evaluator: runs the requested nodes, and nothing else.

It is separate from the graph: evaluation reads nodes and never mutates them.
A schedule is made once per set of outputs (only their ancestors, in
topological order, each node run once its inputs are ready) together with the
point after which each value is dead, so intermediates are freed as soon as
no later node needs them.

Two loops run a schedule.  ``_run_steps`` runs every node's ``op.f`` and
checks its result (shape, dtype; ``check_finite``; lazy families).  Numpy runs
without checks take ``run_fast`` from a schedule's second run on: ufunc nodes
call their ufunc directly, unchecked where their static shape and dtype prove
the result right, float ``+ - * /`` take numpy's scalar arithmetic on 0-d
values, so the loop costs ~0.1 us a node instead of ~0.85 (``FastPlan`` says
why each shortcut gives the same values, warnings and errors).

Values keep the array type they were fed as (see ``symgraph.backend``):
numpy in, numpy out; dask arrays in, lazy dask arrays out, computed later on
whatever dask scheduler or cluster is active.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import operator
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from . import backend, diagnostics, fpwarn
from .flow.body import register_runner
from .errors import (BackendError, DTypeError, GraphMismatchError, MissingInputError, ShapeError,
                     SymgraphError)
from .graph import Graph, Node
from .ops.base import broadcast_shapes, ufunc_dtype
from .ops.elementwise import AddN, Binary, Unary
from .ops.sources import Constant, Full
from .ops.tuples import Item
from .runtime import NameScope, conform, normalize_feed, op_failure
from .structure import flatten
from .traversal import ancestors


class _Step(NamedTuple):  # a tuple: one is made per node of every schedule
    slot: int
    node: Node
    inputs: tuple[int, ...]
    frees: tuple[int, ...]


class Schedule:
    """The ordered steps that compute ``outputs`` given values for ``leaves``."""

    def __init__(self, outputs: Sequence[Node], fed: frozenset[Node]) -> None:
        order = ancestors(outputs, stop=fed)
        slot_of = {n: k for k, n in enumerate(order)}
        self.size = len(order)
        self.outputs = list(outputs)
        self.output_slots = [slot_of[o] for o in outputs]
        self.fed = [(slot_of[n], n) for n in order if n in fed]
        self.missing = [n for n in order if n.op.is_variable and n not in fed]
        keep = set(self.output_slots) | {s for s, _ in self.fed}
        last_use: dict[int, int] = {}
        computed = [n for n in order if n not in fed]
        for k, n in enumerate(computed):
            for i in n.inputs:
                last_use[slot_of[i]] = k
        frees_at: dict[int, list[int]] = {}
        for s, k in last_use.items():
            if s not in keep:
                frees_at.setdefault(k, []).append(s)
        self.steps = [
            _Step(slot_of[n], n, tuple([slot_of[i] for i in n.inputs]), tuple(frees_at.get(k, ())))
            for k, n in enumerate(computed)
        ]
        self.peak_live = self._peak_live()
        # the steps as the flat tuples the loop unpacks (no attribute lookups per node)
        wanted = _parts_read(computed, set(outputs))
        self.flat = [(_runner_of(st.node, wanted), st.inputs, st.slot, st.frees, st.node)
                     for st in self.steps]
        self._fast: dict[bool, FastPlan] = {}
        self._ran = False  # whether ``run`` ran once: plan for ``run_fast`` from the second on

    def fast(self, operators: bool) -> FastPlan:
        """The plan of ``run_fast`` (made on first use; see ``FastPlan``)."""
        plan = self._fast.get(operators)
        if plan is None:
            plan = self._fast[operators] = FastPlan(self, operators)
        return plan

    def run(self, fed: list, fam: str, after: Callable[[Node, Any, list], Any] | None,
            operators: bool) -> list:
        """The outputs' values from the values of ``self.fed``'s nodes (in its order).

        ``run_fast`` runs numpy evaluations without an after-hook whose fed values
        are exact (``exact_fit``), ``_run_steps`` the rest (and what ``run_fast``
        hands over).  The first run takes ``_run_steps`` too: planning costs about
        what two or three runs of ``_run_steps`` cost, which a schedule run once
        (``sg.evaluate`` on a new graph) would never win back.
        """
        plan = None
        if after is None and fam == backend.NUMPY and all(
                exact_fit(v, n) for v, (_, n) in zip(fed, self.fed)):
            plan = self.fast(operators) if self._ran else self._fast.get(operators)
        self._ran = True
        if plan is not None:
            values: list[Any] = [None] * plan.size
            for r, v in zip(plan.fed, fed):
                values[r] = v
            done = run_fast(plan.steps, values)
            if done < len(plan.steps):
                _run_steps(plan.rest(done), values, fam, None)
            return [values[r] for r in plan.outputs]
        values = [None] * self.size
        for (s, _), v in zip(self.fed, fed):
            values[s] = v
        _run_steps(self.flat, values, fam, after)
        return [values[s] for s in self.output_slots]

    def _peak_live(self) -> int:
        """How many values are alive at once at worst (for memory tests)."""
        live = len(self.fed)
        peak = live
        for st in self.steps:
            live += 1
            peak = max(peak, live)
            live -= len(st.frees)
        return peak


def _parts_read(computed: list[Node], outputs: set[Node]) -> dict[Node, frozenset[int]]:
    """For each node with several results that only ``Item`` nodes read, the parts they read."""
    parts: dict[Node, set[int]] = {}
    for n in computed:
        if n.op.multiple_results and n not in outputs:
            parts.setdefault(n, set())
        if type(n.op) is Item and n.inputs[0] in parts:
            parts[n.inputs[0]].add(n.op.index)
    return {n: frozenset(p) for n, p in parts.items()}


def _runner_of(node: Node, wanted: dict[Node, frozenset[int]]) -> Callable:
    """``node.op.f``, told which parts to make if it has several and takes ``wanted``."""
    f = node.op.f
    parts = wanted.get(node)
    if parts is None or not _takes_wanted(f):
        return f
    return functools.partial(f, wanted=parts)


def _takes_wanted(f: Callable) -> bool:
    try:
        return "wanted" in inspect.signature(f).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return False


class Evaluator:
    """Reusable engine that evaluates ``outputs`` for different feeds.

    ``sg.evaluate`` keeps one per graph and outputs; make your own to hold on
    to it.  For each set of fed nodes it works out once which nodes to run,
    in which order, and when each value can be freed; ``run`` then only
    computes.  Values are numpy arrays, or dask arrays when dask arrays are fed.

    Parameters
    ----------
    outputs : Node or list, tuple or dict of Node
        What ``run`` computes; all in one graph.

    See Also
    --------
    evaluate, function

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> loss = sg.sum(x ** 2)
    >>> ev = sg.Evaluator([loss, sg.grad(loss, x)])
    >>> ev.run({x: [1.0, 2.0]})
    [array(5.), array([2., 4.])]
    >>> ev.run({"x": [0.0, 3.0]})
    [array(9.), array([0., 6.])]
    """

    def __init__(self, outputs: Any) -> None:
        self._outputs, self._unflatten = flatten(outputs, lambda t: isinstance(t, Node))
        for o in self._outputs:
            if not isinstance(o, Node):
                raise SymgraphError(f"evaluate: outputs must be Nodes, got {type(o).__name__}")
        graphs = {id(o.graph): o.graph for o in self._outputs}
        if len(graphs) > 1:
            raise GraphMismatchError("evaluate: outputs belong to different graphs")
        self.graph: Graph | None = self._outputs[0].graph if self._outputs else None
        self._schedules: dict[frozenset, Schedule] = {}
        self._scope = NameScope(self._outputs)

    def schedule(self, fed: frozenset[Node]) -> Schedule:
        sched = self._schedules.get(fed)
        if sched is None:
            sched = self._schedules[fed] = Schedule(self._outputs, fed)
        return sched

    def run(self, feed: Mapping | None = None, *, check_finite: bool = False) -> Any:
        """Values of the outputs, in the structure given.

        Outputs are numpy arrays (0-d for scalars) for numpy feeds, and arrays
        of the fed family otherwise (lazy dask arrays when any feed is a dask
        array; mixing dask data with numpy parameters is fine).

        With ``check_finite``, the first node (in evaluation order) that
        produces NaN or Inf raises ``NonFiniteError`` naming it; NaN feeds are
        allowed and only flagged then.  It needs numpy feeds.

        Parameters
        ----------
        feed : dict, optional
            Values by node or by variable name, as for ``sg.evaluate``.
        check_finite : bool, default False
            Raise ``NonFiniteError`` at the first non-finite value.

        Returns
        -------
        array or list, tuple or dict of arrays
            In the structure of ``outputs``.
        """
        if not self._outputs:
            return self._unflatten([])
        values_by_node = normalize_feed(self.graph, feed or {}, self._scope)
        sched = self.schedule(frozenset(values_by_node))
        if sched.missing:
            names = ", ".join(repr(v.name) for v in sched.missing)
            raise MissingInputError(f"missing value for variable {names}: feed it by node or by "
                                    "name, e.g. evaluate(y, {" + f"{sched.missing[0].name!r}: ..." + "})")
        fam = backend.family(*values_by_node.values())
        if check_finite and fam != backend.NUMPY:
            raise BackendError(f"check_finite needs numpy feeds, got {fam} arrays; evaluate on "
                               "numpy arrays (or a computed sample) to find non-finite values")
        token = fpwarn.enter()  # numpy warnings name the node (costs nothing per node)
        try:
            outs = self._compute(sched, values_by_node, fam, check_finite)
        finally:
            fpwarn.leave(token)
        return self._unflatten(backend.finalize(outs, fam))

    def _compute(self, sched: Schedule, values_by_node: dict, fam: str, check_finite: bool) -> list:
        fed = [values_by_node[node] for _, node in sched.fed]
        if check_finite:
            for (_, node), value in zip(sched.fed, fed):
                diagnostics.check_finite(node, value, ())
        after = (_check_finite if check_finite else None) if fam == backend.NUMPY else _Promote(fam)
        operators = after is None and scalar_arithmetic_ok()
        token = _RUN.set((fam, after, operators))  # loop and branch bodies run the same way
        try:
            if fam == backend.NUMPY:
                return sched.run(fed, fam, after, operators)
            with backend.running(fam):
                return sched.run(fed, fam, after, operators)
        finally:
            _RUN.reset(token)


_NAMELESS_MODES = frozenset(("ignore", "call"))


def scalar_arithmetic_ok() -> bool:
    """Whether numpy's error modes report a floating-point error of scalar arithmetic as
    they do the ufunc's (only "ignore" and "call" do not write the function's name)."""
    return _NAMELESS_MODES.issuperset(np.geterr().values())


def _check_finite(node: Node, out: Any, args: list) -> Any:
    """After-hook of ``check_finite=True``: the first non-finite value raises, naming its node."""
    diagnostics.check_finite(node, out, args)
    return out


class _Promote:
    """After-hook of a non-numpy run: big numpy broadcasts join the fed family (``backend.promote``)."""

    __slots__ = ("fam",)

    def __init__(self, fam: str) -> None:
        self.fam = fam

    def __call__(self, node: Node, out: Any, args: list) -> Any:
        return backend.promote(out, self.fam)


def _run_steps(steps: list[tuple], values: list, fam: str,
               after: Callable[[Node, Any, list], Any] | None) -> None:
    """The one evaluation loop, per-node overhead cut to the bone.

    ``after(node, value, args)``, when given, sees each computed value and
    returns the one to keep (``check_finite`` and non-numpy promotion hook in
    here).  Results that are not an ndarray/numpy scalar of the inferred
    shape and dtype take ``conform``, which fixes or reports them.  A failing
    op is reported from the exception it raised (never run again).
    ``symgraph.fpwarn`` reads the local ``node`` of this frame to name the
    node a numpy warning comes from.
    """
    ndarray, generic = np.ndarray, np.generic
    for f, ins, slot, frees, node in steps:
        args = [values[i] for i in ins]
        try:
            out = f(*args)
        except Exception as e:
            err = op_failure(node, args, e, fam)
            if err is e:
                raise
            raise err
        if not ((type(out) is ndarray or isinstance(out, generic)) and out.shape == node.shape
                and out.dtype == node.dtype):
            out = conform(node, out)
        if after is not None:
            out = after(node, out, args)
        values[slot] = out
        for s in frees:
            values[s] = None


fpwarn.watch(_run_steps.__code__, "loop")


# ---------------------------------------------------------------------------
# the fast loop: numpy runs without an after-hook
# ---------------------------------------------------------------------------

#: kinds of fast step (``run_fast`` tests them in this order)
BINARY, UNARY, GENERAL, CONSTANT = 0, 1, 2, 3

#: ufuncs whose Python operator is the same computation on float arrays and numpy float
#: scalars (numpy's scalar arithmetic: ~40 ns where a ufunc call on two scalars takes ~350)
_OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
              np.true_divide: operator.truediv}
_OPERATOR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: numpy >= 2 picks a ufunc's loop from dtypes alone (NEP 50); numpy 1 also looks at the
#: values of 0-d operands when dtypes differ
_DTYPES_DECIDE = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def ufunc_of(node: Node) -> np.ufunc | None:
    """The numpy ufunc that ``node.op.f`` applies, unchanged, to its inputs' values, or None.

    Derived from the op (``Unary``/``Binary`` that keep their ``f``, ``AddN`` of two
    terms), so calling the ufunc directly is exactly calling ``f`` minus a Python frame.
    """
    op = node.op
    f = type(op).f
    if f is AddN.f:
        return np.add if len(node.inputs) == 2 else None
    if f is not Unary.f and f is not Binary.f:
        return None
    u = op.ufunc
    if isinstance(u, np.ufunc) and u.nin == len(node.inputs) and u.nout == 1:
        return u
    return None


def _ufunc_role(cls: type) -> int:
    """1 if ops of class ``cls`` may run a ufunc (their ``f`` is ``Unary``'s, ``Binary``'s or
    ``AddN``'s, see ``ufunc_of``), else 0: asked once per class while planning."""
    f = cls.f
    return int(f is Unary.f or f is Binary.f or f is AddN.f)


class _Typing:
    """Whether a ufunc makes a node's static shape and dtype from its inputs' (then
    ``run_fast`` needs no check of the result: the check would pass); memoised by
    ufunc and dtypes, as planning visits every node."""

    def __init__(self) -> None:
        self.dtypes: dict[tuple, np.dtype | None] = {}

    def __call__(self, node: Node, u: np.ufunc) -> bool:
        ins = node.inputs
        a = ins[0]
        if len(ins) == 1:
            key: tuple = (u, a.dtype)
            if a.shape != node.shape:
                return False
        else:
            b = ins[1]
            key = (u, a.dtype, b.dtype)
            if not _DTYPES_DECIDE and a.dtype != b.dtype:
                return False
            shape = a.shape
            if shape != b.shape:
                try:
                    shape = broadcast_shapes([a.shape, b.shape], node.op.name)
                except ShapeError:
                    return False
            if shape != node.shape:
                return False
        dtypes = self.dtypes
        if key not in dtypes:
            try:
                dtypes[key] = ufunc_dtype(*key)
            except DTypeError:
                dtypes[key] = None
        return dtypes[key] == node.dtype


def _zero_d_source(node: Node) -> Any:
    """The value of a 0-d numeric ``Constant`` or ``Full`` node as a numpy scalar, or None.

    Numpy scalars are immutable, so one can be shared by every run.  A fill value
    that does not convert cleanly (it overflows the dtype) is left to ``f``, which
    warns or fails at each run, naming the node.
    """
    op, dtype = node.op, node.dtype
    if node.shape != () or dtype.kind not in "biufc":
        return None
    if type(op) is Constant and type(op.value) is np.ndarray and op.value.dtype == dtype:
        return op.value[()]
    if type(op) is Full:
        try:
            with np.errstate(all="raise"):
                return np.full((), op.value, dtype=dtype)[()]
        except Exception:
            return None
    return None


#: numpy's own scalar types: a value of one of these, or a plain ``np.ndarray``, is *exact*
#: (no subclass that could change what an operator or a ufunc does)
EXACT_SCALARS = frozenset(np.sctypeDict.values())


class FastPlan:
    """A schedule as ``run_fast`` runs it: kinds of step, and slots reused as registers.

    ``run_fast`` keeps every value *exact* (a plain ndarray or one of numpy's
    scalar types) with the node's shape and dtype, or hands over to
    ``_run_steps``.  So a ufunc node (``ufunc_of``) that produces its static
    shape and dtype from such inputs (``_Typing``) is a ``UNARY``/``BINARY``
    step: ``f`` is the ufunc (or, with ``operators``, the Python operator for
    float32/float64 ``+ - * /`` of alike dtypes) called on the slots ``a``
    (and ``b``), its result unchecked (the check would pass).  A 0-d ``Full``
    or ``Constant`` that only such steps read is a ``CONSTANT``: ``f`` is its
    value as a numpy scalar (immutable, so shared by all runs), and arithmetic
    on it takes numpy's scalar path; a ufunc treats a numpy scalar and a 0-d
    array alike, and outputs become 0-d arrays in ``backend.finalize``.  Any
    other node is a ``GENERAL`` step: ``f`` (the ufunc itself for other ufunc
    nodes) on the slots ``a``, checked.

    A step's result goes to the slot of an input that dies there, so most
    values are freed by being overwritten (at the step ``Schedule`` frees them:
    the same values are alive at any time); ``frees`` lists only the others.
    ``steps`` holds ``(kind, f, a, b, slot, frees, node, k)`` (``k`` the index);
    ``fed`` and ``outputs`` are the slots of ``Schedule.fed``'s nodes and of
    the outputs, ``size`` the number of slots.

    ``operators`` must be False unless numpy's error modes are only "ignore" or
    "call" (``scalar_arithmetic_ok``): scalar arithmetic reports a floating-point
    error under another name ("scalar multiply") where numpy writes the name out.
    """

    def __init__(self, sched: Schedule, operators: bool) -> None:
        reg = [0] * sched.size  # Schedule's slot -> this plan's slot
        for r, (s, _) in enumerate(sched.fed):
            reg[s] = r
        size, pool = len(sched.fed), []
        typed, ufuncs = _Typing(), _OPERATORS if operators else {}
        roles: dict[type, int] = {}  # op class -> _ufunc_role
        steps: list[tuple] = []
        general: list[int] = []
        append = steps.append
        for k, (runner, ins, slot, frees, node) in enumerate(sched.flat):
            if frees:
                dead = [reg[s] for s in frees]
                out, frees = dead[0], tuple(dead[1:])
                pool.extend(frees)
            elif pool:
                out = pool.pop()
            else:
                out, size = size, size + 1
            reg[slot] = out
            cls = type(node.op)
            role = roles.get(cls)
            if role is None:
                role = roles[cls] = _ufunc_role(cls)
            u = ufunc_of(node) if role else None
            if u is not None and typed(node, u):
                f: Any = u
                if u in ufuncs and node.dtype in _OPERATOR_DTYPES:
                    a, b = node.inputs
                    if a.dtype == b.dtype == node.dtype:
                        f = ufuncs[u]
                if len(ins) == 1:
                    append((UNARY, f, reg[ins[0]], None, out, frees, node, k))
                else:
                    append((BINARY, f, reg[ins[0]], reg[ins[1]], out, frees, node, k))
            else:
                general.append(k)
                append((GENERAL, u if u is not None else runner, tuple([reg[i] for i in ins]), None,
                        out, frees, node, k))
        self.size = size
        self.fed = [reg[s] for s, _ in sched.fed]
        self.outputs = [reg[s] for s in sched.output_slots]
        self._runners = [st[0] for st in sched.flat]
        # a body's outputs go back to its loop as they are: those stay as ``f`` makes them
        read_slowly = {i for k in general for i in steps[k][6].inputs}
        read_slowly.update(sched.outputs)
        for k in general:
            _, _, _, _, out, frees, node, _ = steps[k]
            if node not in read_slowly:
                value = _zero_d_source(node)
                if value is not None:
                    steps[k] = (CONSTANT, value, (), None, out, frees, node, k)
        self.steps = steps

    def rest(self, k: int) -> list[tuple]:
        """The steps from the ``k``-th on as ``_run_steps`` takes them (``Schedule.flat``'s
        form, in this plan's slots): where ``run_fast`` hands over."""
        out = []
        for kind, _, a, b, slot, frees, node, i in self.steps[k:]:
            ins = a if kind == GENERAL else () if kind == CONSTANT else (a,) if kind == UNARY else (a, b)
            out.append((self._runners[i], ins, slot, frees, node))
        return out


def run_fast(steps: list[tuple], values: list) -> int:
    """``_run_steps`` for numpy runs without an after-hook, on ``FastPlan.steps``.

    The values it starts from must be exact (see ``FastPlan``) and of their
    nodes' shapes and dtypes.  Ufunc steps call the ufunc (or operator) on one
    or two slots and keep the result unchecked; constants are stored; other
    steps run and are checked as in ``_run_steps``, and a result that is not
    exact even then (an ndarray subclass, a foreign array) ends the fast run:
    the index of the next step is returned for ``_run_steps`` to go on from
    (``len(steps)`` when all ran).  Failures and numpy warnings name the node as
    there (``fpwarn`` reads this frame's ``node``).
    """
    ndarray, exact = np.ndarray, EXACT_SCALARS
    for kind, f, a, b, slot, frees, node, k in steps:
        try:  # one handler for every kind (a try costs nothing until it catches)
            if kind == BINARY:
                out = f(values[a], values[b])
            elif kind == UNARY:
                out = f(values[a])
            elif kind == GENERAL:
                out = f(*[values[i] for i in a])
            else:
                out = f
        except Exception as e:
            args = ([values[a], values[b]] if kind == BINARY else [values[a]] if kind == UNARY
                    else [values[i] for i in a])
            err = op_failure(node, args, e)
            if err is e:
                raise
            raise err
        if kind == GENERAL:
            if not ((type(out) is ndarray or type(out) in exact) and out.shape == node.shape
                    and out.dtype == node.dtype):
                out = conform(node, out)
                if not (type(out) is ndarray or type(out) in exact):
                    values[slot] = out
                    for s in frees:
                        values[s] = None
                    return k + 1
        values[slot] = out
        if frees:  # most steps have none: their dead input's slot took the result
            for s in frees:
                values[s] = None
    return len(steps)


def exact_fit(value: Any, node: Node) -> bool:
    """Whether ``value`` may start ``run_fast`` as ``node``'s value: exact, of its shape and dtype."""
    return ((type(value) is np.ndarray or type(value) in EXACT_SCALARS)
            and value.shape == node.shape and value.dtype == node.dtype)


fpwarn.watch(run_fast.__code__, "loop")

#: (array family, after-hook, operators allowed) of the evaluation running in this thread/task
_RUN: contextvars.ContextVar[tuple[str, Any, bool]] = contextvars.ContextVar(
    "symgraph_run", default=(backend.NUMPY, None, False))


def body_runner(outputs: Sequence[Node], inputs: Sequence[Node]) -> Callable[[list], list]:
    """How a loop or branch op runs its body: the evaluator's loop over the body's schedule,
    with the checks (``check_finite``) and array family of the evaluation it is part of."""
    sched = Schedule(list(outputs), frozenset(inputs))
    if sched.missing:  # a body built by hand or read from a file: say so, rather than run on None
        names = ", ".join(f"{v.name!r} (#{v.id})" for v in sched.missing[:5])
        raise SymgraphError(f"a body reads variable(s) {names} of its graph that are not among "
                            "its inputs")
    position = {n: k for k, n in enumerate(inputs)}
    fed_positions = [position[n] for _, n in sched.fed]

    def run(args: list) -> list:
        return sched.run([args[k] for k in fed_positions], *_RUN.get())

    return run


register_runner(body_runner)


def evaluate(outputs: Any, feed: Mapping | None = None, *, check_finite: bool = False) -> Any:
    """Evaluate a node (or a list/tuple/dict of nodes) for the given feed.

    ``feed`` maps variables (as Nodes or by name) to values; any other node
    may be fed too, which cuts its ancestors out of the computation.  Only the
    ancestors of the outputs run, each once, and every value is freed after
    its last use.  ``check_finite=True`` raises ``NonFiniteError`` at the first
    node that produces NaN or Inf.

    Values are converted to the variable's dtype and checked against its
    shape.  Numpy feeds give numpy arrays (0-d for scalars); dask arrays give
    lazy dask arrays, computed by ``dask.compute``.

    Parameters
    ----------
    outputs : Node or list, tuple or dict of Node
        What to compute.
    feed : dict, optional
        Values (arrays, numbers, nested lists) keyed by node or variable name.
    check_finite : bool, default False
        Check every computed value (numpy feeds only).

    Returns
    -------
    array or list, tuple or dict of arrays
        In the structure of ``outputs``.

    Raises
    ------
    MissingInputError
        A variable the outputs need was not fed.
    UnknownInputError
        A feed name that is no variable of the graph.
    ShapeError, DTypeError
        A fed value of the wrong shape or of a non-numeric dtype.
    EvaluationError
        An op failed (the message names the node).
    NonFiniteError
        With ``check_finite``, the first NaN or Inf.

    See Also
    --------
    Evaluator, function

    Examples
    --------
    >>> w, x = sg.variable("w"), sg.variable("x", (3,))
    >>> y = sg.sum(w * x)
    >>> sg.evaluate(y, {w: 2.0, "x": [1.0, 2.0, 3.0]})
    array(12.)
    >>> sg.evaluate({"y": y, "dw": sg.grad(y, w)}, {w: 2.0, x: np.ones(3)})
    {'y': array(6.), 'dw': array(3.)}
    >>> u = w * x
    >>> sg.evaluate(sg.sum(u), {u: [1.0, 1.0, 1.0]})    # feeding u skips w and x
    array(3.)
    """
    leaves, structure = flatten(outputs, lambda t: isinstance(t, Node))
    graph = leaves[0].graph if leaves and isinstance(leaves[0], Node) else None
    if graph is None:
        return Evaluator(outputs).run(feed, check_finite=check_finite)
    cache = graph.cache("evaluator")
    key = (tuple(n.id if isinstance(n, Node) else None for n in leaves), structure.key)
    ev = cache.get(key)
    if ev is None:
        if len(cache) > 256:
            cache.clear()
        ev = cache[key] = Evaluator(outputs)
    return ev.run(feed, check_finite=check_finite)
