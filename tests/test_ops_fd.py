"""Every op against central finite differences: gradient, second order, and forward mode.

Each case builds ``y = fn(*xs)`` and differentiates the scalar ``<y, R>``
for a fixed random R, so every element of ``y`` is exercised.  Second order
is checked as a Hessian-vector product (grad of <grad, V>) against finite
differences of the symbolic gradient.  Forward mode is checked as a
directional derivative.  The cases live in ``op_table`` (one entry per op).
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad
from op_table import CASES  # other suites import CASES from here too

rng = np.random.default_rng(0)


def _build(fn, arrays):
    xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
    return xs, fn(*xs)


def _loss_fn(loss, xs, arrays, i):
    def f(v):
        vals = list(arrays)
        vals[i] = v
        return float(sg.evaluate(loss, dict(zip(xs, vals))))
    return f


def _assert_gradient_matches_fd(loss, xs, arrays, case, rtol, atol):
    """The symbolic gradient of the scalar ``loss`` against central differences, input by input."""
    analytic = sg.evaluate(sg.grad(loss, xs), dict(zip(xs, arrays)))
    for i, a in enumerate(arrays):
        assert analytic[i].shape == a.shape
        np.testing.assert_allclose(analytic[i], numeric_grad(_loss_fn(loss, xs, arrays, i), a),
                                   rtol=rtol, atol=atol, err_msg=f"{case}: input {i}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_order_matches_finite_differences(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    loss = sg.sum(y * rng.standard_normal(y.shape))
    _assert_gradient_matches_fd(loss, xs, arrays, case, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_order_matches_finite_differences(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    loss = sg.sum(y * rng.standard_normal(y.shape))
    grads = sg.grad(loss, xs)
    directional = sg.add_n([sg.sum(g * rng.standard_normal(g.shape)) for g in grads])
    _assert_gradient_matches_fd(directional, xs, arrays, case, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_mode_matches_finite_differences(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    ty = sg.jvp(y, xs, [sg.constant(t) for t in tangents])
    analytic = sg.evaluate(ty, dict(zip(xs, arrays)))
    eps = 1e-6

    def at(step):
        return sg.evaluate(y, {x: a + step * t for x, a, t in zip(xs, arrays, tangents)})

    numeric = (at(eps) - at(-eps)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_reverse_are_adjoint(case):
    """<w, J u> == <J^T w, u> for random u and w."""
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    us = [rng.standard_normal(a.shape) for a in arrays]
    w = rng.standard_normal(y.shape)
    ju = sg.jvp(y, xs, [sg.constant(u) for u in us])
    jtw = sg.vjp(y, xs, sg.constant(w))
    ju_val, *jtw_vals = sg.evaluate([ju, *jtw], dict(zip(xs, arrays)))
    lhs = float(np.sum(w * ju_val))
    rhs = float(sum(np.sum(g * u) for g, u in zip(jtw_vals, us)))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_values_match_numpy_shape_and_dtype(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    value = sg.evaluate(y, dict(zip(xs, arrays)))
    assert value.shape == y.shape
    assert value.dtype == y.dtype
