"""Feeding values and running one node: what the evaluator and the compiler share.

Feeds are checked once here (shape, dtype, lossless conversion, names looked
up among the variables the outputs use), and one node is run with the
errors every runner reports the same way: which node failed, on what inputs,
and a result of the wrong shape or dtype caught at the node that made it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from . import backend, fpwarn
from .errors import (BackendError, DTypeError, EvaluationError, GraphMismatchError,
                     ShapeError, SymgraphError, UnknownInputError)
from .graph import Graph, Node
from .traversal import ancestors


def run_node(node: Node, args: list, fam: str = backend.NUMPY,
             shape: tuple[int, ...] | None = None) -> Any:
    """``node``'s value from its inputs' values ``args``, conformed to its shape and dtype.

    ``shape`` replaces the node's shape for an elementwise op that compiled code
    runs on inputs not broadcast yet (its result broadcasts to the node's shape).
    """
    try:
        out = node.op.f(*args)
    except Exception as e:
        err = op_failure(node, args, e, fam)
        if err is e:
            raise
        raise err
    return conform(node, out, shape)


fpwarn.watch(run_node.__code__, "loop")  # numpy warnings inside name ``node``


def op_failure(node: Node, args: Sequence, exc: Exception, fam: str = backend.NUMPY
               ) -> Exception:
    """The error to raise for ``exc``, raised by ``node``'s op on ``args``: says which node, on what.

    Built from the exception caught, so a runner never runs the op again to
    describe its failure.  symgraph's own errors come back as they are (re-raise
    those with a bare ``raise``); raise any other result inside the ``except``
    block that caught ``exc``.
    """
    op = node.op
    here = f"{'body ' if node.graph.parent is not None else ''}node #{node.id}"
    if isinstance(exc, SymgraphError) and getattr(exc, "in_body", False):
        # raised in the body of this loop or branch node, which said where (``flow.loops.at_step``)
        exc.in_body = False
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{op.name} {here}, {exc.args[0]}",) + exc.args[1:]
        return exc
    inputs = ", ".join(backend.describe(a) for a in args)
    if isinstance(exc, backend.ComputeRefused):
        err: Exception = BackendError(
            f"op {op.name!r} ({here} {op.describe()}) has no lazy {fam} version: {exc}. "
            f"Its inputs: ({inputs}). Write its f with numpy functions {fam} implements, or "
            "evaluate on numpy arrays")
        err.__suppress_context__ = True  # as ``raise ... from None``: the message says it all
        return err
    if isinstance(exc, SymgraphError):
        return exc
    if fam != backend.NUMPY:
        err = BackendError(f"op {op.name!r} ({here} {op.describe()}) failed on {fam} "
                           f"arrays, inputs ({inputs}): {type(exc).__name__}: {exc}")
    else:
        err = EvaluationError(f"evaluating {here} {op.describe()} on inputs of shapes "
                              f"({inputs}) failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc  # an op's array code failed: keep its traceback
    return err


def conform(node: Node, out: Any, shape: tuple[int, ...] | None = None) -> Any:
    """An op's result as an array of the node's shape (or ``shape``) and dtype, or a clear error."""
    op = node.op
    if not isinstance(out, (np.ndarray, np.generic)):
        out = backend.as_array(out)
    expected = node.shape if shape is None else shape
    if tuple(out.shape) != expected:
        raise ShapeError(f"op {op.name!r} (node #{node.id}) produced shape {out.shape} but its "
                         f"inferred shape is {expected}; define infer() on the op")
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
        node = feed_node(graph, key, scope)
        if node is None:
            continue  # several variables have that name and no output uses any of them
        out[node] = feed_value(node, value)
    return out


def feed_node(graph: Graph, key: Any, scope: NameScope | None = None) -> Node | None:
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


def feed_value(node: Node, value: Any) -> Any:
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


__all__ = ["NameScope", "normalize_feed", "feed_node", "feed_value", "run_node", "op_failure",
           "conform"]
