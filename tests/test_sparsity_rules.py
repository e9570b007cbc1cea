"""Every op's sparsity rule against finite differences, for every case of the op table.

``sg.sparsity(y, x)`` may be a superset of the Jacobian's non-zeros but never
miss one: for each case and each floating-point input, every entry of the
finite-difference Jacobian (at the case's point) that is clearly non-zero
must be in the pattern.  The same for ``sg.hessian_sparsity`` of the scalar
``<y, R>``, against finite differences of the symbolic gradient.  Exactness
on whole problems (banded, block, arrow) is tested in ``test_sparse_derivatives``.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from op_table import CASES

#: |finite-difference derivative| above this must be in the pattern
CLEARLY_NONZERO = 1e-6


def fd_jacobian(fn, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of ``fn`` (array -> array) at ``a``: shape (out.size, a.size)."""
    a = np.array(a, dtype=np.float64, order="C")
    cols = []
    for j in range(a.size):
        step = np.zeros(a.size)
        step[j] = eps
        hi = np.asarray(fn(a + step.reshape(a.shape)), dtype=np.float64).ravel()
        lo = np.asarray(fn(a - step.reshape(a.shape)), dtype=np.float64).ravel()
        cols.append((hi - lo) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _build(case):
    fn, arrays = CASES[case]
    arrays = [np.asarray(a) for a in arrays]
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    return xs, fn(*xs), arrays


def _float_inputs(xs):
    return [k for k, x in enumerate(xs) if x.dtype == np.float64]


def assert_superset(pattern, dense, what):
    missing = (np.abs(dense) > CLEARLY_NONZERO) & ~pattern.toarray()
    assert not missing.any(), (f"{what}: the pattern misses {int(missing.sum())} non-zero(s), "
                               f"first at {np.argwhere(missing)[0].tolist()}")


def as_function_of(node, xs, arrays, k):
    """``node``'s value as a function of input ``k`` alone (the others at the case's arrays)."""
    def f(v):
        feed = dict(zip(xs, arrays))
        feed[xs[k]] = v
        return sg.evaluate(node, feed)

    return f


def _differentiable_case(case):
    xs, y, arrays = _build(case)
    if y.dtype.kind != "f":
        pytest.skip("integer output: no derivative")
    return xs, y, arrays


@pytest.mark.parametrize("case", sorted(CASES))
def test_jacobian_pattern_covers_finite_differences(case):
    with sg.Graph():
        xs, y, arrays = _differentiable_case(case)
        for k in _float_inputs(xs):
            f = as_function_of(y, xs, arrays, k)
            pattern = sg.sparsity(y, xs[k])
            assert pattern.shape == (y.size, xs[k].size)
            assert pattern.dtype == bool
            assert_superset(pattern, fd_jacobian(f, arrays[k]), f"{case}: input {k}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_hessian_pattern_covers_finite_differences(case):
    with sg.Graph():
        xs, y, arrays = _differentiable_case(case)
        loss = sg.sum(y * np.random.default_rng(3).standard_normal(y.shape))
        for k in _float_inputs(xs):
            f = as_function_of(sg.grad(loss, xs[k]), xs, arrays, k)
            pattern = sg.hessian_sparsity(loss, xs[k])
            assert pattern.shape == (xs[k].size, xs[k].size)
            assert (pattern != pattern.T).nnz == 0, f"{case}: not symmetric"
            assert_superset(pattern, fd_jacobian(f, arrays[k], 1e-5), f"{case}: input {k}")
