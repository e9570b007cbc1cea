"""Sparsity rules: which input elements each output element of an op depends on.

A rule is declared on the op::

    def sparsity(self, node) -> list

with one entry per input of ``node``:

* a boolean ``scipy.sparse`` matrix of shape ``(node.size, input.size)`` (C
  order on both sides), true where ``d node[i] / d input[j]`` may be non-zero;
* ``None``: no derivative flows to that input (integer indices, comparisons);
* ``DENSE``: every output element may depend on every element of the input.

``sg.sparsity`` multiplies these local patterns along the graph (without
evaluating anything); ``sg.hessian_sparsity`` also uses them for the
curvature each op adds.  A rule may be a superset of the truth (never a
subset): a superset costs colours, a subset would give wrong derivatives.

Elementwise, structural and non-differentiable ops get their rules from
their flags (``elementwise``: the broadcast map; ``structural``: the op run
on arrays of element numbers, so each output names the input element it
copies).  The helpers below cover the other common shapes of dependence.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: every output element may depend on every element of this input
DENSE = "dense"


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    import scipy.sparse as sp

    data = np.ones(len(rows), dtype=bool)
    m = sp.csr_matrix((data, (np.asarray(rows, np.int64), np.asarray(cols, np.int64))), shape=shape)
    m.sum_duplicates()
    return m


def differentiable_input(x: Any) -> bool:
    """Only floating-point inputs carry derivatives."""
    return np.dtype(x.dtype).kind in "fc"


def broadcast_map(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Any:
    """Output element i depends on the input element numpy broadcasting reads for it."""
    size_out = int(np.prod(out_shape, dtype=np.int64))
    size_in = int(np.prod(in_shape, dtype=np.int64))
    cols = np.broadcast_to(np.arange(size_in, dtype=np.int64).reshape(in_shape), out_shape).ravel()
    return _csr(np.arange(size_out, dtype=np.int64), cols, (size_out, size_in))


def along_axes(in_shape: tuple[int, ...], axes: Sequence[int]) -> Any:
    """A reduction's map: each output element depends on every input element that differs
    from it only along ``axes`` (the output has the other axes, in order)."""
    axes = set(int(a) for a in axes)
    kept = tuple(1 if a in axes else s for a, s in enumerate(in_shape))
    size_out = int(np.prod(kept, dtype=np.int64))
    size_in = int(np.prod(in_shape, dtype=np.int64))
    rows = np.broadcast_to(np.arange(size_out, dtype=np.int64).reshape(kept), in_shape).ravel()
    return _csr(rows, np.arange(size_in, dtype=np.int64), (size_out, size_in))


def index_map(positions: np.ndarray, size_in: int) -> Any:
    """Output element i copies input element ``positions.flat[i]`` (a negative position:
    a fresh zero, depending on nothing)."""
    pos = np.asarray(positions, dtype=np.int64).ravel()
    rows = np.flatnonzero(pos >= 0)
    return _csr(rows, pos[rows], (pos.size, size_in))


def per_matrix(node: Any, k: int, core_in: int, core_out: int, core: Any = None) -> Any:
    """The rule of ops on stacks of matrices (numpy.linalg's convention): each output matrix
    (the last ``core_out`` axes of ``node``) depends on input ``k``'s matrix (its last
    ``core_in`` axes) at the stack position broadcasting reads for it, never on the other
    members of the stack.

    ``core``: which elements of one input matrix each element of one output matrix
    depends on, a boolean sparse ``(out_core_size, in_core_size)`` matrix; None: all of them.
    ``None`` for an input that carries no derivative.
    """
    import scipy.sparse as sp

    x = node.inputs[k]
    if not differentiable_input(x):
        return None
    out_stack, in_stack = node.shape[:node.ndim - core_out], x.shape[:x.ndim - core_in]
    size_core_out = int(np.prod(node.shape[node.ndim - core_out:], dtype=np.int64))
    size_core_in = int(np.prod(x.shape[x.ndim - core_in:], dtype=np.int64))
    if core is None:
        if int(np.prod(in_stack, dtype=np.int64)) == 1:
            return DENSE  # one matrix (or one broadcast to all): every output reads all of it
        core = sp.csr_matrix(np.ones((size_core_out, size_core_in), dtype=bool))
    if core.shape != (size_core_out, size_core_in):
        raise ValueError(f"per_matrix: core pattern of shape {core.shape}, expected "
                         f"{(size_core_out, size_core_in)}")
    stack = broadcast_map(in_stack, out_stack)
    return sp.kron(stack, core, format="csr").astype(bool)


#: the longest chain of structural ops ``nonzero_mask`` looks through
MASK_DEPTH = 8


def nonzero_mask(x: Any) -> np.ndarray | None:
    """Where a node's value can be non-zero, when that is known as the graph is built: a
    constant's stored value, an identity's diagonal, or one of those moved by a few
    structural ops (a transposed constant: the ops run on the mask); None for any other
    node (every element may be non-zero).  Rules use it to be exact about products with
    a constant."""
    from .sources import Constant, Eye

    chain = []
    while True:
        op = x.op
        if isinstance(op, Constant):
            mask = np.asarray(op.value != 0)
            break
        if isinstance(op, Eye):
            mask = np.eye(op.n, op.m, op.k, dtype=bool)
            break
        if not (op.structural and len(x.inputs) == 1 and len(chain) < MASK_DEPTH):
            return None
        chain.append(op)
        x = x.inputs[0]
    for op in reversed(chain):
        mask = np.asarray(op.f(mask))
    return mask


def no_derivative(self: Any, node: Any) -> list:
    """The rule of non-differentiable ops: nothing flows to any input."""
    return [None] * len(node.inputs)


def dense(self: Any, node: Any) -> list:
    """Every output element depends on every element of each floating-point input."""
    return [DENSE if differentiable_input(x) else None for x in node.inputs]


def elementwise(self: Any, node: Any) -> list:
    """The rule of elementwise ops: output element i reads the broadcast element of each input."""
    return [broadcast_map(x.shape, node.shape) if differentiable_input(x) else None
            for x in node.inputs]


def structural(self: Any, node: Any) -> list:
    """The rule of structural ops: run the op on element numbers (each input numbered after
    the previous ones), so every output names the element it copies."""
    offsets = np.cumsum([0] + [x.size for x in node.inputs])
    numbered = [np.arange(o, o + x.size, dtype=np.int64).reshape(x.shape)
                for o, x in zip(offsets, node.inputs)]
    out = np.asarray(self.f(*numbered)).ravel()
    rules: list = []
    for k, x in enumerate(node.inputs):
        if not differentiable_input(x):
            rules.append(None)
            continue
        mine = (out >= offsets[k]) & (out < offsets[k + 1])
        rows = np.flatnonzero(mine)
        rules.append(_csr(rows, out[rows] - offsets[k], (out.size, x.size)))
    return rules


__all__: list[str] = []
