"""The evaluator: runs the requested nodes, and nothing else.

It is separate from the graph: evaluation reads nodes and never mutates them.
A schedule is made once per set of outputs (only their ancestors, in
topological order, each node run once its inputs are ready) together with the
point after which each value is dead, so intermediates are freed as soon as
no later node needs them.

Values keep the array type they were fed as (see ``symgraph.backend``):
numpy in, numpy out; dask arrays in, lazy dask arrays out, computed later on
whatever dask scheduler or cluster is active.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import backend, diagnostics, fpwarn
from .flow.body import register_runner
from .errors import BackendError, GraphMismatchError, MissingInputError, SymgraphError
from .graph import Graph, Node
from .ops.tuples import Item
from .runtime import NameScope, conform, normalize_feed, op_failure
from .structure import flatten
from .traversal import ancestors


@dataclass(frozen=True)
class _Step:
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
            _Step(slot_of[n], n, tuple(slot_of[i] for i in n.inputs), tuple(frees_at.get(k, ())))
            for k, n in enumerate(computed)
        ]
        self.peak_live = self._peak_live()
        # the steps as the flat tuples the loop unpacks (no attribute lookups per node)
        wanted = _parts_read(computed, set(outputs))
        self.flat = [(_runner_of(st.node, wanted), st.inputs, st.slot, st.frees, st.node)
                     for st in self.steps]

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
            values = self._compute(sched, values_by_node, fam, check_finite)
        finally:
            fpwarn.leave(token)
        return self._unflatten(backend.finalize([values[s] for s in sched.output_slots], fam))

    def _compute(self, sched: Schedule, values_by_node: dict, fam: str, check_finite: bool) -> list:
        values: list[Any] = [None] * sched.size
        for slot, node in sched.fed:
            values[slot] = values_by_node[node]
            if check_finite:
                diagnostics.check_finite(node, values[slot], ())
        after = (_check_finite if check_finite else None) if fam == backend.NUMPY else _Promote(fam)
        token = _RUN.set((fam, after))  # loop and branch bodies run the same way
        try:
            if fam == backend.NUMPY:
                _run_steps(sched.flat, values, fam, after)
            else:
                with backend.running(fam):
                    _run_steps(sched.flat, values, fam, after)
        finally:
            _RUN.reset(token)
        return values


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

#: (array family, after-hook) of the evaluation running in this thread/task
_RUN: contextvars.ContextVar[tuple[str, Any]] = contextvars.ContextVar(
    "symgraph_run", default=(backend.NUMPY, None))


def body_runner(outputs: Sequence[Node], inputs: Sequence[Node]) -> Callable[[list], list]:
    """How a loop or branch op runs its body: the evaluator's loop over the body's schedule,
    with the checks (``check_finite``) and array family of the evaluation it is part of."""
    sched = Schedule(list(outputs), frozenset(inputs))
    if sched.missing:  # a body built by hand or read from a file: say so, rather than run on None
        names = ", ".join(f"{v.name!r} (#{v.id})" for v in sched.missing[:5])
        raise SymgraphError(f"a body reads variable(s) {names} of its graph that are not among "
                            "its inputs")
    slot_of = {n: s for s, n in sched.fed}
    in_slots = [slot_of.get(n) for n in inputs]
    out_slots = sched.output_slots
    flat, size = sched.flat, sched.size

    def run(args: list) -> list:
        values: list[Any] = [None] * size
        for s, v in zip(in_slots, args):
            if s is not None:
                values[s] = v
        fam, after = _RUN.get()
        _run_steps(flat, values, fam, after)
        return [values[s] for s in out_slots]

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
