"""The SVD's test inputs and gauge-invariant views, shared by ``op_table`` and ``test_svd``.

u and vh are defined up to a sign per singular pair (LAPACK picks one), so
tests look at them only through functions those signs cannot change.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.linalg import Svd, svd_factors

rng = np.random.default_rng(13)

#: singular values of ``separated`` matrices (before a per-matrix scale of 0.8 to 1.2)
SPREAD = np.array([3.0, 2.0, 1.2, 0.6, 0.3])


def orthonormal(m: int, k: int) -> np.ndarray:
    """``k`` random orthonormal columns of length ``m``."""
    return np.linalg.qr(rng.standard_normal((m, m)))[0][:, :k]


def separated(*shape: int) -> np.ndarray:
    """Matrices ``q1 diag(s) q2^T`` with random orthonormal factors and singular values
    ``SPREAD`` (scaled a little per matrix): well apart and away from 0, so the SVD is
    smooth there and finite differences cross no tie."""
    *batch, m, n = shape
    k = min(m, n)
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        s = SPREAD[:k] * rng.uniform(0.8, 1.2)
        out[idx] = (orthonormal(m, k) * s) @ orthonormal(n, k).T
    return out


def mT(x: sg.Node) -> sg.Node:
    """The transpose of each matrix of a stack."""
    return sg.transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def u_projection(a: sg.Node) -> sg.Node:
    """``u @ u^T``: the projection onto the span of a's columns."""
    u = svd_factors(a)[0]
    return u @ mT(u)


def reconstruct(a: sg.Node) -> sg.Node:
    """``u @ diag(s) @ vh``, which is ``a`` again."""
    u, s, vh = svd_factors(a)
    return (u * s[..., None, :]) @ vh


def params(draw, value: np.ndarray) -> dict | None:
    """A part of the SVD, for matrices whose singular values are apart (by 10%) and above 0.1."""
    if value.ndim < 2:
        return None
    s = np.linalg.svd(value, compute_uv=False)
    if s.size and not (np.all(s[..., -1] > 0.1) and np.all(s[..., 1:] < 0.9 * s[..., :-1])):
        return None
    return {"part": draw(st.sampled_from(["u", "s", "vh"]))}


def invariant(x: sg.Node, part: str) -> sg.Node:
    """The SVD part, squared for u and vh: what the sign LAPACK picks for each pair (and
    which float32 and float64 may pick differently) cannot change."""
    if part == "s":
        return Svd("s")(x)  # the values-only driver; u and vh only where a rule needs them
    u, _, vh = svd_factors(x)  # one factorization, every part a slice of it
    return (u if part == "u" else vh) ** 2


def np_invariant(x: np.ndarray, part: str) -> np.ndarray:
    """numpy's ``invariant``."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return {"u": u ** 2, "s": s, "vh": vh ** 2}[part]
