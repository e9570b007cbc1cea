"""eigh's test inputs and gauge-invariant views, shared by ``op_table`` and ``test_linalg_eigen``.

Each eigenvector's sign is LAPACK's choice, so tests look at the eigenvectors
only through functions a flip cannot change (``v * v``, matrix functions
``v diag(f(w)) v^T``, projectors onto spans of eigenvectors).  numpy reads one
triangle, so inputs are often lopsided: symmetric in the triangle read, noise
in the other, whose gradient must be zero.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.eigen import Eigh

rng = np.random.default_rng(14)

#: eigenvalues of ``separated`` matrices (before a per-matrix scale of 0.8 to 1.2)
SPREAD = np.array([-2.0, -0.9, 0.4, 1.5, 2.8])


def orthonormal(n: int) -> np.ndarray:
    """A random orthogonal ``n x n`` matrix."""
    return np.linalg.qr(rng.standard_normal((n, n)))[0]


def with_eigenvalues(w: np.ndarray) -> np.ndarray:
    """A symmetric matrix ``q diag(w) q^T`` with a random orthogonal q."""
    q = orthonormal(len(w))
    return (q * w) @ q.T


def separated(*shape: int) -> np.ndarray:
    """Symmetric matrices with eigenvalues ``SPREAD`` (scaled a little per matrix): at least
    0.88 apart, so eigh is smooth there and finite differences cross no tie."""
    *batch, n, n2 = shape
    assert n == n2
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        out[idx] = with_eigenvalues(SPREAD[:n] * rng.uniform(0.8, 1.2))
    return out


def lopsided(*shape: int, lower: bool = True) -> np.ndarray:
    """``separated`` matrices with noise in the triangle eigh does not read (upper for
    ``lower``): numpy sees the same symmetric matrices."""
    a = separated(*shape)
    noise = rng.standard_normal(shape)
    k = shape[-1]
    unread = np.triu(np.ones((k, k), bool), 1) if lower else np.tril(np.ones((k, k), bool), -1)
    return np.where(unread, noise, a)


def uplo(lower: bool) -> str:
    return "L" if lower else "U"


def invariant(x: sg.Node, part: str, lower: bool = True) -> sg.Node:
    """The eigh part, squared for v: what the sign LAPACK picks for each eigenvector (and
    which float32 and float64 may pick differently) cannot change."""
    y = Eigh(part, lower)(x)  # the other part only where a derivative rule needs it
    return y if part == "w" else y * y


def np_invariant(x: np.ndarray, part: str, lower: bool = True) -> np.ndarray:
    """numpy's ``invariant``."""
    if part == "w":
        return np.linalg.eigvalsh(x, UPLO=uplo(lower))
    return np.linalg.eigh(x, UPLO=uplo(lower))[1] ** 2


def matrix_function(x: sg.Node, f=sg.exp, lower: bool = True) -> sg.Node:
    """``v diag(f(w)) v^T``: ``f`` of the symmetric matrix (``exp``: its exponential)."""
    w, v = sg.linalg.eigh(x, UPLO=uplo(lower))
    return (v * f(w)[..., None, :]) @ sg.linalg.matrix_transpose(v)


def projector(x: sg.Node, k: int, lower: bool = True) -> sg.Node:
    """The projector onto the span of the eigenvectors of the ``k`` smallest eigenvalues."""
    v = sg.linalg.eigh(x, UPLO=uplo(lower)).eigenvectors[..., :k]
    return v @ sg.linalg.matrix_transpose(v)


def square(x: sg.Node | np.ndarray):
    """The leading square block of each matrix (graphgen draws matrices of any shape)."""
    k = min(x.shape[-2:])
    return x[..., :k, :k]


def params(draw, value: np.ndarray) -> dict | None:
    """A part of eigh and a triangle, for matrices whose leading square block (the
    symmetric matrix its triangle stands for) has eigenvalues apart by 10% of their scale."""
    if value.ndim < 2:
        return None
    lower = draw(st.booleans())
    w = np.linalg.eigvalsh(square(value), UPLO=uplo(lower))
    scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
    if w.size and not np.all(np.diff(w, axis=-1) >= 0.1 * scale):
        return None
    return {"part": draw(st.sampled_from(["w", "v"])), "lower": lower}


def drawn(x: sg.Node, part: str, lower: bool) -> sg.Node:
    """What graphgen builds: ``invariant`` of the leading square blocks."""
    return invariant(square(x), part, lower)


def np_drawn(x: np.ndarray, part: str, lower: bool) -> np.ndarray:
    """numpy's ``drawn``."""
    return np_invariant(square(x), part, lower)
