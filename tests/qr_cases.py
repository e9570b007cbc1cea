"""QR's test inputs and sign-free views, shared by ``op_table`` and ``test_linalg_qr``.

LAPACK picks the sign of each diagonal element of R (a column of Q flips with
the row of R).  The signs stay put under small changes of the input, so finite
differences may look at Q and R themselves, but values from elsewhere (float32
against float64, other libraries) are compared through forms the signs cannot
change: ``Q * sign(diag R)`` and ``sign(diag R) * R`` (the QR with a positive
diagonal, which is unique), ``Q @ Q.mT``, ``R.mT @ R``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.qr import Qr

rng = np.random.default_rng(15)


def orthonormal(m: int, k: int) -> np.ndarray:
    """``k`` random orthonormal columns of length ``m``."""
    return np.linalg.qr(rng.standard_normal((m, m)))[0][:, :k]


def full_rank(*shape: int) -> np.ndarray:
    """Matrices whose first ``k = min(m, n)`` columns have singular values between 0.8 and 2.4
    (the rest random): R's diagonal stays well away from 0, so QR is smooth there and
    finite differences never flip a sign."""
    *batch, m, n = shape
    k = min(m, n)
    out = rng.standard_normal(shape)
    for idx in np.ndindex(*batch):
        s = rng.uniform(0.8, 2.4, k)
        out[idx][:, :k] = (orthonormal(m, k) * s) @ orthonormal(k, k).T
    return out


def sign_of_r(r: sg.Node) -> sg.Node:
    """The signs of R's diagonal, ``(..., k)`` (locally constant: no derivative)."""
    return sg.sign(sg.linalg.diagonal(r))


def positive(x: sg.Node, part: str) -> sg.Node:
    """The part of the QR of ``x`` with R's diagonal made positive (unique for full rank)."""
    q, r = Qr("q")(x), Qr("r")(x)
    s = sign_of_r(r)
    return q * s[..., None, :] if part == "q" else r * s[..., :, None]


def np_positive(x: np.ndarray, part: str) -> np.ndarray:
    """numpy's ``positive``."""
    q, r = np.linalg.qr(x)
    s = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return q * s[..., None, :] if part == "q" else r * s[..., :, None]


def reconstruct(x: sg.Node) -> sg.Node:
    """``Q @ R``, which is ``x`` again."""
    q, r = sg.linalg.qr(x)
    return q @ r


def projection(x: sg.Node) -> sg.Node:
    """``Q @ Q.mT``: the projection onto the span of the first k columns."""
    q = sg.linalg.qr(x).Q
    return q @ sg.linalg.matrix_transpose(q)


def gram(x: sg.Node) -> sg.Node:
    """``R.mT @ R``: for tall or square x it is ``x.mT @ x``."""
    r = sg.linalg.qr(x, mode="r")
    return sg.linalg.matrix_transpose(r) @ r


def params(draw, value: np.ndarray) -> dict | None:
    """A part of the QR, for matrices whose first k columns are well conditioned (smallest
    singular value above 0.1 and a tenth of the largest)."""
    if value.ndim < 2:
        return None
    k = min(value.shape[-2:])
    s = np.linalg.svd(value[..., :, :k], compute_uv=False)
    if s.size and not np.all(s[..., -1] >= 0.1 * np.maximum(1.0, s[..., 0])):
        return None
    return {"part": draw(st.sampled_from(["q", "r"]))}
