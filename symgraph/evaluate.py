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

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from . import backend, diagnostics, fpwarn
from .autodiff import ancestors
from .errors import (BackendError, DTypeError, EvaluationError, GraphMismatchError,
                     MissingInputError, ShapeError, SymgraphError, UnknownInputError)
from .graph import Graph, Node
from .structure import flatten


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
        self.fast = [(st.node.op.f, st.inputs, st.slot, st.frees, st.node) for st in self.steps]

    def _peak_live(self) -> int:
        """How many values are alive at once at worst (for memory tests)."""
        live = len(self.fed)
        peak = live
        for st in self.steps:
            live += 1
            peak = max(peak, live)
            live -= len(st.frees)
        return peak


class Evaluator:
    """Reusable engine that evaluates ``outputs`` for different feeds.

    >>> ev = Evaluator([loss, *grads]);  ev.run({"x": x_value})  # doctest: +SKIP
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
        if fam != backend.NUMPY:
            with backend.running(fam):
                for st in sched.steps:
                    value = _run_node(st.node, [values[i] for i in st.inputs], fam)
                    values[st.slot] = backend.promote(value, fam)
                    for s in st.frees:
                        values[s] = None
        elif check_finite:
            for st in sched.steps:
                args = [values[i] for i in st.inputs]
                values[st.slot] = _run_node(st.node, args)
                diagnostics.check_finite(st.node, values[st.slot], args)
                for s in st.frees:
                    values[s] = None
        else:
            _run_fast(sched.fast, values)
        return values


def _run_fast(steps: list[tuple], values: list) -> None:
    """The numpy evaluation loop with per-node overhead cut to the bone (the common case).

    Results that are not an ndarray/numpy scalar of the inferred shape and
    dtype take ``_conform``, which fixes or reports them.
    """
    ndarray, generic = np.ndarray, np.generic
    for f, ins, slot, frees, node in steps:
        args = [values[i] for i in ins]
        try:
            out = f(*args)
        except Exception:
            out = _run_node(node, args)  # raises the evaluator's error naming the node
        if not ((type(out) is ndarray or isinstance(out, generic)) and out.shape == node.shape
                and out.dtype == node.dtype):
            out = _conform(node, out)
        values[slot] = out
        for s in frees:
            values[s] = None


def _run_node(node: Node, args: list, fam: str = backend.NUMPY) -> Any:
    op = node.op
    try:
        out = op.f(*args)
    except backend.ComputeRefused as e:
        inputs = ", ".join(backend.describe(a) for a in args)
        raise BackendError(f"op {op.name!r} (node #{node.id} {op.describe()}) has no lazy {fam} "
                           f"version: {e}. Its inputs: ({inputs}). Write its f with numpy "
                           f"functions {fam} implements, or evaluate on numpy arrays") from None
    except SymgraphError:
        raise
    except Exception as e:  # an op's array code failed: say which node, and on what
        inputs = ", ".join(backend.describe(a) for a in args)
        if fam != backend.NUMPY:
            raise BackendError(f"op {op.name!r} (node #{node.id} {op.describe()}) failed on "
                               f"{fam} arrays, inputs ({inputs}): {type(e).__name__}: {e}") from e
        raise EvaluationError(f"evaluating node #{node.id} {op.describe()} on inputs of shapes "
                              f"({inputs}) failed: {type(e).__name__}: {e}") from e
    return _conform(node, out)


def _conform(node: Node, out: Any) -> Any:
    """An op's result as an array of the node's shape and dtype, or a clear error."""
    op = node.op
    if not isinstance(out, (np.ndarray, np.generic)):
        out = backend.as_array(out)
    if tuple(out.shape) != node.shape:
        raise ShapeError(f"op {op.name!r} (node #{node.id}) produced shape {out.shape} but its "
                         f"inferred shape is {node.shape}; define infer() on the op")
    if out.dtype != node.dtype:
        if not np.can_cast(out.dtype, node.dtype, "same_kind"):
            raise DTypeError(f"op {op.name!r} (node #{node.id}) produced dtype {out.dtype} but "
                             f"its inferred dtype is {node.dtype}")
        out = backend.astype(out, node.dtype)
    return out


class NameScope:
    """The variables some outputs depend on, by name: where feed names are looked up.

    A graph keeps every variable ever made in it (e.g. the default graph after
    a notebook cell ran twice), so a name means the variable the requested
    outputs use; found lazily, only when the graph has several of that name.
    """

    def __init__(self, outputs: Sequence[Node]) -> None:
        self._outputs = list(outputs)
        self._by_name: dict[str, list[Node]] | None = None

    def variables(self, name: str) -> list[Node]:
        if self._by_name is None:
            by_name: dict[str, list[Node]] = {}
            for n in ancestors(self._outputs):
                if n.op.is_variable:
                    by_name.setdefault(n.name, []).append(n)
            self._by_name = by_name
        return self._by_name.get(name, [])


def normalize_feed(graph: Graph, feed: Mapping, scope: NameScope | None = None
                   ) -> dict[Node, np.ndarray]:
    """Feed keyed by node, with every value checked against its node's shape and dtype.

    Names are looked up in ``scope`` (the outputs' variables) when the graph
    has several variables of a name; a name no output uses is then ignored.
    """
    if not isinstance(feed, Mapping):
        raise SymgraphError(f"feed must be a dict from nodes or variable names to values, got "
                            f"{type(feed).__name__}")
    out: dict[Node, np.ndarray] = {}
    for key, value in feed.items():
        node = _feed_node(graph, key, scope)
        if node is None:
            continue  # several variables have that name and no output uses any of them
        out[node] = _feed_value(node, value)
    return out


def _feed_node(graph: Graph, key: Any, scope: NameScope | None = None) -> Node | None:
    """The node a feed key means; None for a name shared only by variables ``scope`` lacks."""
    if isinstance(key, Node):
        if key.graph is not graph:
            raise GraphMismatchError(f"feed key {key!r} belongs to another graph than the outputs")
        return key
    if isinstance(key, str):
        found = graph.variables(key)
        if not found:
            valid = ", ".join(repr(n) for n in graph.variable_names()) or "(none)"
            raise UnknownInputError(f"feed names unknown variable {key!r}; the graph's variables "
                                    f"are: {valid}")
        if len(found) > 1 and scope is not None:
            found = scope.variables(key)
            if not found:
                return None
        if len(found) > 1:
            where = "the outputs depend on" if scope is not None else "in the graph"
            raise SymgraphError(f"feed name {key!r} is ambiguous: {len(found)} variables {where} "
                                "have that name; feed them by node instead")
        return found[0]
    raise SymgraphError(f"feed keys must be Nodes or variable names, got {type(key).__name__} {key!r:.40}")


def _feed_value(node: Node, value: Any) -> Any:
    """The fed value checked against the node; arrays numpy dispatches to (dask) are kept.

    Only shape and dtype are read, so a lazy array is not computed.
    """
    label = f"variable {node.name!r}" if node.name else f"node #{node.id}"
    if isinstance(value, Node):
        raise SymgraphError(f"the value fed for {label} is a symbolic Node; feed a number or array")
    if backend.is_foreign(value):
        arr = value
        if any(not isinstance(s, (int, np.integer)) or s != s for s in arr.shape):
            raise ShapeError(f"the value fed for {label} is a {backend.type_name(arr)} of unknown "
                             f"shape {arr.shape}; determine it first (dask: compute_chunk_sizes())")
    elif type(value) is int and node.dtype.kind in "iufc":  # a Python int of any size
        _check_python_int(value, node.dtype, label)
        arr = np.asarray(value, dtype=node.dtype)
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # ragged lists and similar
            raise DTypeError(f"the value fed for {label} is not an array: {e}") from None
    if np.dtype(arr.dtype).kind not in "biufc":
        raise DTypeError(f"the value fed for {label} has non-numeric dtype {arr.dtype} "
                         f"(expected {node.dtype})")
    if arr.dtype != node.dtype:
        _check_feed_cast(arr, node.dtype, label)
        try:
            with np.errstate(over="raise"):  # float64 data beyond float32's range: not inf
                arr = arr.astype(node.dtype)
        except FloatingPointError:
            raise DTypeError(f"the value fed for {label} holds values beyond the range of "
                             f"{node.dtype} (up to {np.finfo(node.dtype).max:.4g}): converting "
                             "would make them infinite") from None
    if tuple(arr.shape) != node.shape:
        raise ShapeError(f"the value fed for {label} has shape {arr.shape}, expected shape "
                         f"{node.shape}")
    return arr


def _feed_castable(src: np.dtype, dst: np.dtype) -> bool:
    """Feeds may narrow floats (float64 data into float32) but never change kind downward."""
    rank = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    return rank[src.kind] <= rank[dst.kind]


def _check_feed_cast(arr: Any, dst: np.dtype, label: str) -> None:
    """Refuse a feed whose conversion to ``dst`` would change a value.

    Allowed: bool to any number; integers to integers whose range holds every
    value fed (checked with min/max); integers to floats that represent every
    value fed exactly (magnitudes up to 2**(mantissa bits + 1)); floats to
    wider or narrower floats and to complex (float64 data into a float32
    variable is the usual case).  Refused: floats to integers (even integral
    ones: cast them yourself), complex to real, numbers to bool.  Lazy arrays
    are not computed to check, so they get numpy's ``safe`` rule for those casts.
    """
    src = np.dtype(arr.dtype)
    if not _feed_castable(src, dst):
        raise DTypeError(f"the value fed for {label} has dtype {src}, which cannot be used as "
                         f"{dst} without changing values; cast it explicitly if that is meant")
    if src.kind not in "iu" or (dst.kind in "iu" and np.can_cast(src, dst, "safe")):
        return  # bool to anything, floats to floats/complex, widening integers
    if dst.kind in "iu":
        info = np.iinfo(dst)
        lo, hi, what = info.min, info.max, f"the range of {dst} ({info.min} to {info.max})"
    else:  # integers into floats: every integer up to 2**(mantissa bits + 1) is exact
        bits = np.finfo(dst).nmant + 1
        lo, hi, what = -2 ** bits, 2 ** bits, f"the integers {dst} holds exactly (|v| <= 2**{bits})"
        if np.iinfo(src).min >= lo and np.iinfo(src).max <= hi:
            return  # e.g. int32 into float64: no need to look at the values
    if backend.is_foreign(arr):
        if np.can_cast(src, dst, "safe"):
            return
        raise DTypeError(f"the value fed for {label} is a {backend.type_name(arr)} of dtype {src}, "
                         f"whose values may not fit {dst}; cast it yourself (checking them would "
                         "compute it)")
    if arr.size == 0:
        return
    vmin, vmax = int(arr.min()), int(arr.max())
    if vmin < lo or vmax > hi:
        bad = vmin if vmin < lo else vmax
        raise DTypeError(f"the value fed for {label} holds {bad} (dtype {src}), outside {what}: "
                         f"converting would change it; feed values that fit, or change the "
                         "variable's dtype")


def _exact_float(value: int, dst: np.dtype) -> int | None:
    """``value`` converted to the float ``dst`` and back (None if it overflows)."""
    with np.errstate(over="ignore"):
        try:
            f = np.asarray(value, dtype=dst).real.item()
        except OverflowError:
            return None
    return int(f) if np.isfinite(f) else None


def _check_python_int(value: int, dst: np.dtype, label: str) -> None:
    """A Python int fed as a scalar must fit ``dst`` exactly (it may exceed int64)."""
    if dst.kind in "iu":
        info = np.iinfo(dst)
        ok, what = info.min <= value <= info.max, f"the range of {dst} ({info.min} to {info.max})"
    else:
        ok, what = value == _exact_float(value, dst), f"what {dst} holds exactly"
    if not ok:
        shown = str(value) if value.bit_length() <= 128 else f"an integer of {value.bit_length()} bits"
        raise DTypeError(f"the value fed for {label} is {shown}, outside {what}: converting "
                         "would change it")


def evaluate(outputs: Any, feed: Mapping | None = None, *, check_finite: bool = False) -> Any:
    """Evaluate a node (or a list/tuple/dict of nodes) for the given feed.

    ``feed`` maps variables (as Nodes or by name) to values; any other node
    may be fed too, which cuts its ancestors out of the computation.  Only the
    ancestors of the outputs run.  ``check_finite=True`` raises
    ``NonFiniteError`` at the first node that produces NaN or Inf.
    """
    leaves, _ = flatten(outputs, lambda t: isinstance(t, Node))
    graph = leaves[0].graph if leaves and isinstance(leaves[0], Node) else None
    if graph is None:
        return Evaluator(outputs).run(feed, check_finite=check_finite)
    cache = graph.cache("evaluator")
    key = (tuple(n.id if isinstance(n, Node) else None for n in leaves), _structure_key(outputs))
    ev = cache.get(key)
    if ev is None:
        if len(cache) > 256:
            cache.clear()
        ev = cache[key] = Evaluator(outputs)
    return ev.run(feed, check_finite=check_finite)


def _structure_key(outputs: Any) -> Any:
    if isinstance(outputs, Node):
        return "node"
    if isinstance(outputs, dict):
        return ("dict", tuple((k, _structure_key(v)) for k, v in outputs.items()))
    if isinstance(outputs, (list, tuple)):
        return (type(outputs).__name__, tuple(_structure_key(v) for v in outputs))
    return "leaf"
