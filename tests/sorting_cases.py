"""Test-table helpers for sort, argsort, take_along and put_along (symgraph/ops/sorting.py):
inputs without ties, numpy references and how graphgen draws their parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

rng = np.random.default_rng(3)


def distinct(*shape: int) -> np.ndarray:
    """Values at least 0.2 apart from each other (no ties: sort is smooth there)."""
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * 0.25 + rng.uniform(0.0, 0.05, n)
    return values.reshape(shape)


def _margin() -> float:
    import graphgen  # graphgen imports the test table: look its margin up when drawing

    return graphgen.MARGIN


def sort_params(draw, x: np.ndarray) -> dict | None:
    """An axis (None: flattened) along which the values are ``graphgen.MARGIN`` apart."""
    axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    lines = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1)
    gaps = np.diff(np.sort(lines, axis=-1), axis=-1)
    if gaps.size and np.min(gaps) < _margin():
        return None  # a tie or a near tie: a kink of sort within the finite-difference reach
    return {"axis": axis}


def np_argsort(x: np.ndarray, axis) -> np.ndarray:
    return np.argsort(x, axis=axis, kind="stable")


def _positions(draw, shape: tuple[int, ...], size: int) -> np.ndarray:
    """Random (maybe negative, maybe repeated) positions along an axis of ``size``."""
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).integers(-size, size, shape)


def take_along_params(draw, x: np.ndarray) -> dict | None:
    if x.ndim == 0:
        return None
    axis = draw(st.integers(0, x.ndim - 1))
    if x.shape[axis] == 0:
        return None
    shape = list(x.shape)
    shape[axis] = draw(st.integers(1, 3))
    return {"indices": _positions(draw, tuple(shape), x.shape[axis]), "axis": axis}


def np_put_along(g: np.ndarray, indices: np.ndarray, axis: int,
                 shape: tuple[int, ...]) -> np.ndarray:
    """Zeros of ``shape`` with each element of ``g`` added at its position, one at a time."""
    out = np.zeros(shape, g.dtype)
    for pos in np.ndindex(g.shape):
        to = list(pos)
        to[axis] = indices[pos]
        out[tuple(to)] += g[pos]
    return out


def put_along_params(draw, g: np.ndarray) -> dict | None:
    if g.ndim == 0:
        return None
    axis = draw(st.integers(0, g.ndim - 1))
    size = draw(st.integers(1, 3))
    shape = tuple(size if a == axis else s for a, s in enumerate(g.shape))
    return {"indices": _positions(draw, g.shape, size), "axis": axis, "shape": shape}
