"""Inputs for the triangular solves and Cholesky, shared by ``op_table`` and ``test_linalg_triangular``."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from hypothesis import strategies as st

import symgraph as sg
from symgraph.ops.triangular import CholeskyGrad, CholeskyTangent

rng = np.random.default_rng(14)


def spd(*shape: int) -> np.ndarray:
    """Symmetric positive-definite matrices ``(..., n, n)``, eigenvalues between about 1 and 4n."""
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


def lower_read(*shape: int) -> np.ndarray:
    """``spd`` plus noise in the strict upper triangle, which cholesky never reads."""
    return spd(*shape) + np.triu(rng.standard_normal(shape), 1)


def triangular(*shape: int, lower: bool = True) -> np.ndarray:
    """Well-conditioned triangular matrices (diagonal 1.5 to 3 in size, either sign) with
    noise in the other triangle, which the solves never read."""
    n = shape[-1]
    diag = rng.uniform(1.5, 3.0, shape[:-1]) * rng.choice([-1.0, 1.0], shape[:-1])
    noise = rng.standard_normal(shape) * 0.5
    return noise + np.eye(n) * (diag[..., None] - np.diagonal(noise, 0, -2, -1)[..., None])


def cholesky_grad_inputs(*shape: int) -> list[np.ndarray]:
    """A Cholesky factor and a gradient for ``CholeskyGrad`` (both read lower)."""
    return [np.linalg.cholesky(spd(*shape)), rng.standard_normal(shape)]


def _gram(x):
    return x @ np.swapaxes(x, -1, -2) / x.shape[-1]


def np_solve_triangular(x, b, shift, trans, lower, unit_diagonal):
    """scipy's solve against ``x x^T / n + shift * I`` (what ``build_solve`` solves)."""
    a = _gram(x) + shift * np.eye(x.shape[-2])
    return scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower,
                                         unit_diagonal=unit_diagonal)


def build_solve(x, b, shift, trans, lower, unit_diagonal):
    a = sg.matmul(x, sg.linalg.matrix_transpose(x)) / x.shape[-1]
    return sg.linalg.solve_triangular(a + shift * sg.eye(x.shape[-2], dtype=x.dtype), b,
                                      trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def solve_params(draw, x, b):
    """Any matrices ``x``: their Gram matrices shifted to be diagonally dominant."""
    if x.ndim < 2 or x.shape[-2] > 6:
        return None
    shift = float(np.ceil(np.abs(_gram(x)).sum(axis=-1).max())) + 1.0
    return {"shift": shift, "trans": draw(st.sampled_from([0, 1])), "lower": draw(st.booleans()),
            "unit_diagonal": draw(st.booleans())}


def solve_operands(draw, x):
    if x.ndim < 2:
        return None
    m = x.shape[-2]
    return [draw(st.sampled_from([(m,), (m, 2), (2,) * (x.ndim - 2) + (m, 1)]))]


def np_cholesky_of_gram(x):
    """numpy's Cholesky factor of ``x x^T / n + I`` (what ``build_cholesky`` factors)."""
    n = x.shape[-1]
    return np.linalg.cholesky(x @ np.swapaxes(x, -1, -2) / n + np.eye(x.shape[-2]))


def build_cholesky(x):
    n = x.shape[-1]
    gram = sg.matmul(x, sg.linalg.matrix_transpose(x)) / n
    return sg.linalg.cholesky(gram + sg.eye(x.shape[-2], dtype=x.dtype))


def cholesky_params(draw, x):
    return {} if x.ndim >= 2 else None


def cholesky_grad(L, g):
    return CholeskyGrad()(L, g)


def cholesky_tangent(L, da):
    return CholeskyTangent()(L, da)
