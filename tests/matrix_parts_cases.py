"""Test-table helpers for diagonal, diag_embed, triu and tril (symgraph/ops/matrix_parts.py):
numpy references and how graphgen draws their parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def two_axes(draw, ndim: int) -> tuple[int, int]:
    """Two distinct axes of an array of ``ndim`` dimensions, each maybe negative."""
    axis1 = draw(st.integers(-ndim, ndim - 1))
    axis2 = draw(st.sampled_from([a for a in range(-ndim, ndim) if a % ndim != axis1 % ndim]))
    return axis1, axis2


def diagonal_params(draw, x: np.ndarray) -> dict | None:
    if x.ndim < 2:
        return None
    axis1, axis2 = two_axes(draw, x.ndim)
    rows, cols = x.shape[axis1], x.shape[axis2]
    if rows == 0 or cols == 0:
        return None
    # a diagonal inside the plane: graphgen's max/min cannot draw on empty arrays
    # (tests/test_matrix_parts.py covers empty diagonals)
    offset = draw(st.integers(max(-2, 1 - rows), min(2, cols - 1)))
    return {"offset": offset, "axis1": axis1, "axis2": axis2}


def np_diag_embed(g: np.ndarray, shape: tuple[int, ...], offset: int, axis1: int,
                  axis2: int) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` written on the diagonal, one element at a time."""
    out = np.zeros(shape, g.dtype)
    planes = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a writable view of ``out``
    for i in range(g.shape[-1]):
        row, col = (i, i + offset) if offset >= 0 else (i - offset, i)
        planes[..., row, col] = g[..., i]
    return out


def diag_embed_params(draw, g: np.ndarray) -> dict | None:
    """A shape and diagonal on which ``g``'s last axis fits exactly."""
    if g.ndim == 0 or g.shape[-1] == 0:
        return None
    n = g.shape[-1]
    offset = draw(st.integers(-2, 2))
    extra = [draw(st.integers(0, 1)), 0]
    if draw(st.booleans()):
        extra.reverse()  # the diagonal spans all rows, or all columns
    rows = n + max(-offset, 0) + extra[0]
    cols = n + max(offset, 0) + extra[1]
    ndim = g.ndim + 1
    axis1, axis2 = (a % ndim for a in two_axes(draw, ndim))
    others = iter(g.shape[:-1])
    shape = tuple(rows if a == axis1 else cols if a == axis2 else next(others) for a in range(ndim))
    return {"shape": shape, "offset": offset, "axis1": axis1, "axis2": axis2}


def triangle_params(draw, x: np.ndarray) -> dict | None:
    return None if x.ndim == 0 else {"k": draw(st.integers(-2, 2))}
