"""Non-finite diagnostics: name the first node whose value is NaN or Inf."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import SymgraphError
from .graph import Node
from .ops.elementwise import Divide, Where


class NonFiniteError(SymgraphError, FloatingPointError):
    """A node produced NaN or Inf while evaluating with ``check_finite=True``.

    ``sg.evaluate``, ``Evaluator.run`` and ``sg.function`` check every value
    they compute when asked to, and stop at the first non-finite one: the
    message names that node (forward or gradient, with its op), summarises its
    inputs, and hints at the usual cause, such as the ``where`` gradient trap.
    A non-finite fed value is reported the same way.

    Attributes
    ----------
    node : Node
        The node whose value is not finite.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> y = sg.sqrt(x) + 1
    >>> with np.errstate(invalid="ignore"):
    ...     sg.evaluate(y, {x: -1.0}, check_finite=True)
    Traceback (most recent call last):
    ...
    symgraph.diagnostics.NonFiniteError: node #... sqrt (forward node) produced non-finite values: ...
    >>> try:
    ...     sg.evaluate(y, {x: np.inf}, check_finite=True)
    ... except sg.NonFiniteError as e:
    ...     print(e.node.name)
    x
    """

    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.node = node


def summarize(value) -> str:
    """A one-line summary of an array: shape, dtype, range and non-finite counts."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return f"shape={arr.shape} dtype={arr.dtype}"
    finite = np.isfinite(arr)
    parts = [f"shape={arr.shape}", f"dtype={arr.dtype}"]
    if finite.any():
        vals = arr[finite]
        parts.append(f"min={vals.min():.4g} max={vals.max():.4g}")
    nan, inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
    if nan or inf:
        parts.append(f"nan={nan} inf={inf}")
    return " ".join(parts)


def check_finite(node: Node, value, inputs: Sequence) -> None:
    """Raise NonFiniteError if ``value`` (the result of ``node``) has NaN or Inf."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fc" or np.isfinite(arr).all():
        return
    if node.op.is_variable:
        raise NonFiniteError(f"the value fed for variable {node.name!r} (node #{node.id}) has "
                             f"non-finite values: {summarize(arr)}", node)
    kind = "forward" if node.role in ("forward", "input", "constant") and node.order == 0 else \
        f"gradient (order {node.order})"
    here = "body node" if node.graph.parent is not None else "node"  # a loop names itself
    lines = [f"{here} #{node.id} {node.op.describe()} ({kind} node) produced non-finite values: "
             f"{summarize(arr)}"]
    if not inputs and node.inputs:
        lines[0] += " (its value was fed)"
    for k, (inp_node, inp) in enumerate(zip(node.inputs, inputs)):
        label = inp_node.name or f"#{inp_node.id} {inp_node.op.name}"
        lines.append(f"  input {k} ({label}): {summarize(inp)}")
    hint = _hint(node, arr, inputs)
    if hint:
        lines.append(hint)
    raise NonFiniteError("\n".join(lines), node)


_DOUBLE_WHERE = ("Make the masked-out input safe too (the double-where idiom): "
                 "sg.where(x > 0, sg.sqrt(sg.where(x > 0, x, 1)), 0)")


def _hint(node: Node, arr: np.ndarray, inputs: Sequence) -> str | None:
    """Say what usually causes a NaN that the final result may not even show."""
    if node.role != "gradient":
        masked_by = next((n for n in node.graph.nodes[node.id + 1:]
                          if isinstance(n.op, Where) and node in n.inputs[1:]), None)
        if masked_by is None:
            return None
        return (f"  hint: this value feeds a branch of sg.where (node #{masked_by.id}), which "
                "hides it in the forward value, but gradients still pass through this node. "
                + _DOUBLE_WHERE)
    if not np.isnan(arr).any() or not inputs:
        return None
    arrays = [np.asarray(i) for i in inputs]
    zero_div = isinstance(node.op, Divide) and len(arrays) == 2 and np.any(arrays[1] == 0)
    has_inf = any(a.dtype.kind in "fc" and np.isinf(a).any() for a in arrays)
    if not (zero_div or has_inf):
        return None
    cause = "0/0" if zero_div else "0 * inf"
    return (f"  hint: this is {cause} in a derivative rule, typically where an unsafe function "
            "(sqrt, log, division, pow) is evaluated in the branch that sg.where masks out; the "
            "mask zeroes the incoming gradient but 0 times an infinite local derivative is NaN. "
            + _DOUBLE_WHERE)
