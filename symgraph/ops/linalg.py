"""Matrix products with numpy semantics: vectors, matrices and broadcast batches."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import Node, apply
from .base import Op, as_nodes, broadcast_shapes, ufunc_dtype
from .shape import reshape, sum_to, swap_last


class MatMul(Op):
    """``a @ b``: 1-D operands are promoted to a row (a) or column (b) and dropped again."""

    name = "matmul"
    emit_inplace = True  # writes into a reused buffer (never into its own inputs)
    multilinear = True
    cli = ("matmul", "dot")

    def infer(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and "
                             f"{b.shape} (use * for scalars)")
        a2, b2 = _as_matrix_a(a.shape), _as_matrix_b(b.shape)
        if a2[-1] != b2[-2]:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                             f"({a2[-1]} != {b2[-2]})")
        batch = broadcast_shapes([a2[:-2], b2[:-2]], "matmul batch dimensions")
        shape = batch + (a2[-2], b2[-1])
        return _drop_promoted(shape, a.ndim, b.ndim), ufunc_dtype(np.matmul, a.dtype, b.dtype)

    def f(self, a, b):
        return np.matmul(a, b)

    def emit(self, out, ins, ctx):
        if ctx.into:
            return ctx.bind(f"np.matmul({ins[0]}, {ins[1]}, out={ctx.into})")
        return f"{out} = {ins[0]} @ {ins[1]}"

    def bprop(self, inputs, out, g, needs):
        a, b = inputs
        if a.ndim == 1 and b.ndim == 1:
            return [g * b if needs[0] else None, g * a if needs[1] else None]
        a2 = reshape(a, _as_matrix_a(a.shape))
        b2 = reshape(b, _as_matrix_b(b.shape))
        out2 = broadcast_shapes([a2.shape[:-2], b2.shape[:-2]], "matmul") + (a2.shape[-2], b2.shape[-1])
        g2 = reshape(g, out2)
        return [reshape(sum_to(matmul(g2, swap_last(b2)), a2.shape), a.shape) if needs[0] else None,
                reshape(sum_to(matmul(swap_last(a2), g2), b2.shape), b.shape) if needs[1] else None]

    def to_sympy(self, bridge, node, a, b):
        if a.ndim + b.ndim > 2:
            return np.matmul(a, b)
        return np.asarray(bridge.sympy.Add(*(a * b)), dtype=object)


def _as_matrix_a(shape):
    return (1,) + tuple(shape) if len(shape) == 1 else tuple(shape)


def _as_matrix_b(shape):
    return tuple(shape) + (1,) if len(shape) == 1 else tuple(shape)


def _drop_promoted(shape, a_ndim, b_ndim):
    shape = list(shape)
    if b_ndim == 1:
        shape.pop(-1)
    if a_ndim == 1:
        shape.pop(-1 if b_ndim == 1 else -2)
    return tuple(shape)


def matmul(a, b) -> Node:
    """``a @ b`` with numpy's rules for vectors and broadcast batches of matrices."""
    a, b = as_nodes(a, b)
    return apply(MatMul(), [a, b])


__all__ = ["matmul"]
