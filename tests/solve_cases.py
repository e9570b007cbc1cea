"""Test inputs and numpy references for the solve family (symgraph/ops/solve.py), shared by
``op_table`` (cases, how graphgen draws the ops) and ``test_linalg_solve``.

The references are independent of the kernels they check: the adjugate is
``det * inv`` (on invertible matrices only), its derivative the textbook
``(tr(adj e) adj - adj e adj) / det``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.solve import AdjugateTangent

rng = np.random.default_rng(14)

#: graphgen applies an op of this family only to matrices at most this ill-conditioned
MAX_COND = 10.0


def orthogonal(n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diagonal(r))


def with_singular_values(s: np.ndarray, m: int, n: int) -> np.ndarray:
    """A random ``m x n`` matrix with singular values ``s`` (``len(s) == min(m, n)``)."""
    k = len(s)
    return (orthogonal(m)[:, :k] * s) @ orthogonal(n)[:, :k].T


def conditioned(*shape: int) -> np.ndarray:
    """Matrices with singular values in [0.6, 2] (condition number at most ~3.3), random sign
    of the determinant: well away from singular, so solves and inverses are smooth."""
    *batch, m, n = shape
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        out[idx] = with_singular_values(rng.uniform(0.6, 2.0, min(m, n)), m, n)
    return out


def of_rank(rank: int, *shape: int) -> np.ndarray:
    """Square matrices of exactly ``rank`` (the other singular values exactly 0 before rounding)."""
    *batch, n, _ = shape
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        s = np.zeros(n)
        s[:rank] = rng.uniform(0.6, 2.0, rank)
        out[idx] = with_singular_values(s, n, n)
    return out


def lower_symmetric(*shape: int) -> np.ndarray:
    """Square matrices whose symmetric part read from the lower triangle is well conditioned,
    with unrelated numbers above the diagonal (which ``hermitian=True`` must ignore)."""
    *batch, n, _ = shape
    out = rng.standard_normal(shape)
    for idx in np.ndindex(*batch):
        q = orthogonal(n)
        sym = (q * (rng.uniform(0.6, 2.0, n) * rng.choice([-1.0, 1.0], n))) @ q.T
        out[idx] = np.tril(sym) + np.triu(out[idx], 1)
    return out


# ---------------------------------------------------------------------------
# numpy references
# ---------------------------------------------------------------------------

def np_adjugate(a: np.ndarray) -> np.ndarray:
    """``det(a) * inv(a)`` (invertible ``a`` only)."""
    return np.linalg.det(a)[..., None, None] * np.linalg.inv(a)


def np_adjugate_tangent(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The derivative of ``det(a) inv(a)`` along ``e`` (invertible ``a`` only)."""
    adj = np_adjugate(a)
    tr = np.einsum("...ij,...ji->...", adj, e)[..., None, None]
    return (tr * adj - adj @ e @ adj) / np.linalg.det(a)[..., None, None]


def np_slogdet(a: np.ndarray, part: str) -> np.ndarray:
    return getattr(np.linalg.slogdet(a), part)


def np_pinv(a: np.ndarray, hermitian: bool) -> np.ndarray:
    return np.linalg.pinv(a, hermitian=hermitian)


# ---------------------------------------------------------------------------
# how graphgen draws them
# ---------------------------------------------------------------------------

def _well_conditioned(a: np.ndarray, square: bool = True) -> bool:
    if a.ndim < 2 or a.size == 0 or (square and a.shape[-1] != a.shape[-2]):
        return False
    s = np.linalg.svd(a, compute_uv=False)
    return bool(np.all(s[..., -1] >= 0.2) and np.all(s[..., 0] <= MAX_COND * s[..., -1]))


def square_params(draw, a: np.ndarray) -> dict | None:
    """No parameters; None unless ``a`` is a stack of well-conditioned square matrices."""
    return {} if _well_conditioned(a) else None


def square_operand(draw, a: np.ndarray) -> list | None:
    """A second operand of ``a``'s shape (``AdjugateTangent``'s direction)."""
    return [a.shape] if _well_conditioned(a) else None


def solve_operand(draw, a: np.ndarray) -> list | None:
    """``b`` for ``solve(a, b)``: a vector ``(N,)`` or a stack ``(..., N, K)`` whose batch
    broadcasts with ``a``'s (fewer axes, or ones)."""
    if not _well_conditioned(a):
        return None
    n = a.shape[-1]
    if draw(st.booleans()):
        return [(n,)]
    batch = a.shape[:-2][draw(st.integers(0, a.ndim - 2)):]
    batch = tuple(1 if draw(st.booleans()) else d for d in batch)
    return [batch + (n, draw(st.integers(1, 2)))]


def slogdet_params(draw, a: np.ndarray) -> dict | None:
    return {"part": draw(st.sampled_from(["sign", "logabsdet"]))} if _well_conditioned(a) else None


def slogdet_build(a: sg.Node, part: str) -> sg.Node:
    return getattr(sg.linalg.slogdet(a), part)


def pinv_params(draw, a: np.ndarray) -> dict | None:
    """``hermitian`` only for square matrices whose lower-triangle symmetric part is
    well conditioned; otherwise full-rank, well-conditioned matrices of any shape."""
    if not _well_conditioned(a, square=False):
        return None
    if a.shape[-1] == a.shape[-2] and draw(st.booleans()):
        sym = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)
        if _well_conditioned(sym):
            return {"hermitian": True}
    return {"hermitian": False}


def pinv_build(a: sg.Node, hermitian: bool) -> sg.Node:
    return sg.linalg.pinv(a, hermitian=hermitian)


def adjugate_tangent(a: sg.Node, e: sg.Node) -> sg.Node:
    return AdjugateTangent()(a, e)
