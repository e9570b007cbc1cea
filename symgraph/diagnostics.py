"""Non-finite diagnostics: name the first node whose value is NaN or Inf."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import SymgraphError
from .graph import Node


class NonFiniteError(SymgraphError, FloatingPointError):
    """A node produced NaN or Inf while evaluating with ``check_finite=True``."""

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
    kind = "forward" if node.role in ("forward", "input", "constant") and node.order == 0 else \
        f"gradient (order {node.order})"
    lines = [f"node #{node.id} {node.op.describe()} ({kind} node) produced non-finite values: "
             f"{summarize(arr)}"]
    for k, (inp_node, inp) in enumerate(zip(node.inputs, inputs)):
        label = inp_node.name or f"#{inp_node.id} {inp_node.op.name}"
        lines.append(f"  input {k} ({label}): {summarize(inp)}")
    raise NonFiniteError("\n".join(lines), node)
