"""What is known about a node before it runs, and folding with it while building.

Derivative rules are written plainly (the power rule is ``g * b * a ** (b - 1)``)
and builders fold what is already known (``Op.fold``), so a gradient graph
reads as a person would write it: ``2 * l2``, not ``1 * (2 * l2 ** (2 - 1))``.
Folds give the same values bit for bit; rewrites that assume finite values
(``x * 0 -> 0``) stay with ``simplify``, which also uses these helpers.
"""

from __future__ import annotations

import weakref
from typing import Any, Sequence

import numpy as np

from ..graph import Node
from .base import Op
from .shape import BroadcastTo, Reshape
from .sources import Constant, Full, constant, full

#: Folded results up to this many elements become Constant nodes (the size up
#: to which constants are shared by value); uniform results become fills.
FOLD_MAX_SIZE = 64
#: Constant folding never computes on inputs with more elements than this in total.
FOLD_MAX_INPUT_SIZE = 4096

#: Ops whose nodes may have a value known at build time (``uniform_value``): what a fold
#: checks for first, by type, before looking closer.
KNOWN_OPS = frozenset({Constant, Full, BroadcastTo, Reshape})

_UNIFORM_CONSTANTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def uniform_value(node: Node) -> np.ndarray | None:
    """The one value every element of ``node`` holds, as a 0-d array of its dtype, if known.

    Known: fills, constants whose elements all have the same bits, and
    broadcasts or reshapes of those.  None for every other node, including
    subclasses of the sources (autodiff's linearization point is zeros that a
    derivative is taken with respect to: not a value to fold).
    """
    while type(node.op) in (BroadcastTo, Reshape):
        node = node.inputs[0]
    if type(node.op) is Full:
        return np.asarray(node.op.value, dtype=node.dtype)
    if type(node.op) is Constant:
        # keyed by the op (identity equality); Node's == builds comparison nodes
        found = _UNIFORM_CONSTANTS.get(node.op, False)
        if found is False:
            value = node.op.value
            found = _UNIFORM_CONSTANTS[node.op] = value.reshape(-1)[0].copy() if uniform(value) else None
        return None if found is None else np.asarray(found)
    return None


def is_value(node: Node, value: Any) -> bool:
    """Whether every element of ``node`` is known to equal ``value`` (``-0.0 == 0``)."""
    u = uniform_value(node)
    return u is not None and bool(u == value)


def zero_sign(node: Node) -> bool:
    """Whether ``node`` is known to be all -0.0 (a float zero with its sign bit set)."""
    u = uniform_value(node)
    return u is not None and u.dtype.kind == "f" and bool(u == 0) and bool(np.signbit(u))


def is_source(node: Node) -> bool:
    """Whether ``node`` holds a known array (a constant or a fill; see ``uniform_value``)."""
    return type(node.op) in (Constant, Full)


def source_value(node: Node) -> np.ndarray:
    """The array a source node (``is_source``) holds."""
    if type(node.op) is Full:
        return np.full(node.shape, node.op.value, dtype=node.dtype)
    return node.op.value


def uniform(arr: np.ndarray) -> bool:
    """Whether every element of ``arr`` has the same bits (so NaNs and -0.0 count)."""
    if arr.size == 0:
        return False
    flat = np.ascontiguousarray(arr).reshape(-1)
    rows = np.frombuffer(flat.tobytes(), dtype=np.uint8).reshape(flat.size, flat.itemsize)
    return bool((rows == rows[0]).all())


def fold_value(op: Op, args: list[np.ndarray], shape: tuple[int, ...], dtype: np.dtype
               ) -> np.ndarray | None:
    """``op`` computed now on known ``args``, as run time would return it, or None.

    The one constant folder (builders, ``simplify`` and ``sg.function``'s
    lowering use it).  None when the op is not a deterministic function of
    its inputs (a variable, or no ``cse_key``), for a loop or branch (a tuple
    of results, dtype object) and an item of one, when its ``f`` raises (e.g.
    an out-of-range label) or when the result does not fit ``shape`` and
    ``dtype`` as ``runtime.conform`` requires: all of that is left to run
    time, which reports it as it would have without folding.  Floating-point
    warnings are silenced here (run time computes the same values;
    ``check_finite`` reports non-finite ones there).
    """
    if op.is_variable or op.multiple_results or np.dtype(dtype) == object:
        return None  # a loop's or branch's tuple of results is no array to fold
    if any(getattr(a, "dtype", None) == object for a in args) or op.cse_key() is None:
        return None  # an item of such a tuple
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(op.f(*args))
    except Exception:  # noqa: BLE001 - any failure is run time's to report
        return None
    if out.shape != tuple(shape) or not np.can_cast(out.dtype, dtype, "same_kind"):
        return None
    return out.astype(dtype, copy=False)


def known_result(op: Op, inputs: Sequence[Node], shape: tuple[int, ...], dtype: np.dtype, *,
                 finite_only: bool = False) -> tuple[np.ndarray, bool] | None:
    """``op(*inputs)`` computed now when the inputs' values are known: ``(value, True)``
    with one 0-d element when every element is the same, ``(array, False)`` otherwise,
    or None.

    Elementwise ops of uniform inputs are computed on one element, whatever the
    size; other ops only on sources, up to ``FOLD_MAX_SIZE`` result elements.
    ``finite_only`` leaves a non-finite result of finite inputs to run time,
    where ``check_finite`` and numpy's warnings report it at its node.
    """
    if op.elementwise:
        values = [uniform_value(i) for i in inputs]
        if all(v is not None for v in values):
            args = [np.full((1,), v, dtype=i.dtype) for v, i in zip(values, inputs)]
            value = fold_value(op, args, (1,), dtype)
            if value is None or finite_only and not _finite_as_inputs(value, args):
                return None
            return value.reshape(()), True
    if not all(is_source(i) for i in inputs):
        return None
    if int(np.prod(shape)) > FOLD_MAX_SIZE or sum(i.size for i in inputs) > FOLD_MAX_INPUT_SIZE:
        return None
    args = [source_value(i) for i in inputs]
    value = fold_value(op, args, shape, dtype)
    if value is None or finite_only and not _finite_as_inputs(value, args):
        return None
    return (value.reshape(-1)[0].reshape(()), True) if uniform(value) else (value, False)


def fold_sources(op: Op, inputs: Sequence[Node]) -> Node | None:
    """``op(*inputs)`` built as its value when every input is a source, or None:
    one ``full`` node when uniform, whatever its size, else a small constant."""
    if not inputs or not all(is_source(i) for i in inputs):
        return None
    shape, dtype = op.infer(*inputs)
    known = known_result(op, inputs, shape, np.dtype(dtype), finite_only=True)
    if known is None:
        return None
    value, same = known
    graph = inputs[0].graph
    return full(shape, value[()], dtype, graph=graph) if same else constant(value, graph=graph)


def _finite_as_inputs(value: np.ndarray, args: list[np.ndarray]) -> bool:
    """Whether ``value`` has no non-finite element unless an input had one."""
    if value.dtype.kind not in "fc" or np.isfinite(value).all():
        return True
    return any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in args)


def beside(a: Node, b: Node, value: Any) -> Node | None:
    """The operand of a binary op that stands beside a uniform ``value`` (``b`` in
    ``value * b``, ``a`` in ``a * value``), or None."""
    if is_value(b, value):
        return a
    if is_value(a, value):
        return b
    return None


__all__ = ["KNOWN_OPS", "FOLD_MAX_SIZE", "FOLD_MAX_INPUT_SIZE", "uniform_value", "is_value", "zero_sign", "is_source",
           "source_value", "uniform", "fold_value", "known_result", "fold_sources", "beside"]
