"""Every op against central finite differences: gradient, second order, and forward mode.

Each case builds ``y = fn(*xs)`` and differentiates the scalar ``<y, R>``
for a fixed random R, so every element of ``y`` is exercised.  Second order
is checked as a Hessian-vector product (grad of <grad, V>) against finite
differences of the symbolic gradient.  Forward mode is checked as a
directional derivative.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad

rng = np.random.default_rng(0)


def normal(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


LABELS = np.array([0, 2, 1, 2])

CASES = {
    # elementwise binary, with broadcasting
    "add": (lambda a, b: a + b, [normal(3, 4), normal(4)]),
    "add_broadcast_both": (lambda a, b: sg.add(a, b), [normal(2, 1, 3), normal(4, 3)]),
    "add_scalar_node": (lambda a, b: a + b, [normal(), normal(3)]),
    "sub": (lambda a, b: a - b, [normal(3, 4), normal(3, 1)]),
    "rsub_python": (lambda a: 2.0 - a, [normal(3)]),
    "mul": (lambda a, b: a * b, [normal(2, 3), normal(3)]),
    "div": (lambda a, b: a / b, [normal(2, 3), away_from_zero(2, 3)]),
    "rdiv_python": (lambda a: 1.0 / a, [away_from_zero(4)]),
    "pow_nodes": (lambda a, b: a ** b, [positive(3), normal(3)]),
    "pow_int": (lambda a: a ** 3, [normal(2, 2)]),
    "pow_negative": (lambda a: a ** -1.5, [positive(3)]),
    "pow_fractional": (lambda a: sg.power(a, 0.5), [positive(3)]),
    "rpow": (lambda a: 2.0 ** a, [normal(3)]),
    "maximum": (lambda a, b: sg.maximum(a, b), [normal(3, 4), normal(4)]),
    "minimum": (lambda a, b: sg.minimum(a, b), [normal(3, 4), normal(3, 1)]),
    # elementwise unary
    "neg": (lambda a: -a, [normal(2, 3)]),
    "exp": (sg.exp, [normal(2, 3)]),
    "log": (sg.log, [positive(2, 3)]),
    "sin": (sg.sin, [normal(2, 3)]),
    "cos": (sg.cos, [normal(2, 3)]),
    "tan": (sg.tan, [rng.uniform(-1.2, 1.2, (2, 3))]),
    "tanh": (sg.tanh, [normal(2, 3)]),
    "sigmoid": (sg.sigmoid, [normal(2, 3) * 3]),
    "relu": (sg.relu, [away_from_zero(2, 3)]),
    "abs": (sg.abs, [away_from_zero(2, 3)]),
    "sqrt": (sg.sqrt, [positive(2, 3)]),
    "square": (sg.square, [normal(2, 3)]),
    "where": (lambda a, b: sg.where(a > 0, a * b, sg.sin(b)), [away_from_zero(3, 4), normal(4)]),
    # reductions
    "sum_all": (lambda a: sg.sum(a), [normal(2, 3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), [normal(2, 3, 4)]),
    "sum_axes_keepdims": (lambda a: sg.sum(a, axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
    "mean_all": (lambda a: a.mean(), [normal(2, 3, 4)]),
    "mean_axis_neg": (lambda a: sg.mean(a, axis=-1), [normal(2, 3, 4)]),
    "max_all": (lambda a: a.max(), [normal(2, 3, 4)]),
    "max_axis": (lambda a: sg.max(a, axis=1, keepdims=True), [normal(2, 3, 4)]),
    "min_axes": (lambda a: sg.min(a, axis=(0, 2)), [normal(2, 3, 4)]),
    "logsumexp_all": (lambda a: sg.logsumexp(a), [normal(3, 4)]),
    "logsumexp_axis": (lambda a: sg.logsumexp(a, axis=1, keepdims=True), [normal(3, 4)]),
    # linear algebra
    "matmul_mm": (lambda a, b: a @ b, [normal(3, 4), normal(4, 2)]),
    "matmul_vm": (lambda a, b: a @ b, [normal(4), normal(4, 2)]),
    "matmul_mv": (lambda a, b: sg.matmul(a, b), [normal(3, 4), normal(4)]),
    "matmul_vv": (lambda a, b: a @ b, [normal(4), normal(4)]),
    "matmul_batched": (lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 5)]),
    "matmul_batch_broadcast": (lambda a, b: a @ b, [normal(2, 1, 3, 4), normal(5, 4, 2)]),
    "matmul_vector_batch": (lambda a, b: a @ b, [normal(4), normal(2, 4, 3)]),
    "rmatmul_array": (lambda a: np.arange(6.0).reshape(2, 3) @ a, [normal(3, 2)]),
    "dot_vv": (lambda a, b: sg.dot(a, b), [normal(3), normal(3)]),
    "dot_mv": (lambda a, b: sg.dot(a, b), [normal(2, 3), normal(3)]),
    # shapes
    "transpose": (lambda a: sg.transpose(a, (1, 0, 2)), [normal(2, 3, 4)]),
    "T": (lambda a: a.T, [normal(2, 3)]),
    "reshape": (lambda a: a.reshape(3, 4), [normal(2, 6)]),
    "reshape_minus1": (lambda a: sg.reshape(a, (-1,)), [normal(2, 3)]),
    "broadcast_to": (lambda a: sg.broadcast_to(a, (2, 3, 4)), [normal(3, 1)]),
    "concatenate0": (lambda a, b: sg.concatenate([a, b], axis=0), [normal(2, 3), normal(1, 3)]),
    "concatenate1": (lambda a, b: sg.concatenate([a, b, a], axis=1), [normal(2, 3), normal(2, 2)]),
    "stack": (lambda a, b: sg.stack([a, b], axis=1), [normal(2, 3), normal(2, 3)]),
    "getitem_int": (lambda a: a[1], [normal(3, 4)]),
    "getitem_slice": (lambda a: a[:, 1:3], [normal(3, 4)]),
    "getitem_step_negative": (lambda a: a[::-2, -1], [normal(5, 4)]),
    "getitem_none_ellipsis": (lambda a: a[None, ..., 0], [normal(2, 3, 4)]),
    "getitem_int_array_repeats": (lambda a: a[np.array([0, 2, 2, 1])], [normal(3, 4)]),
    "getitem_int_arrays_2d": (lambda a: a[np.array([[0, 1], [1, 0]]), 1:], [normal(2, 3)]),
    "getitem_bool_mask": (lambda a: a[np.array([True, False, True])], [normal(3, 2)]),
    # neural-network ops
    "softmax": (lambda a: sg.softmax(a), [normal(4, 3)]),
    "softmax_axis0": (lambda a: sg.softmax(a, axis=0), [normal(4, 3)]),
    "log_softmax": (lambda a: sg.log_softmax(a, axis=-1), [normal(4, 3)]),
    "cross_entropy_mean": (lambda a: sg.cross_entropy(a, LABELS), [normal(4, 3)]),
    "cross_entropy_sum": (lambda a: sg.cross_entropy(a, LABELS, reduction="sum"), [normal(4, 3)]),
    "cross_entropy_none": (lambda a: sg.cross_entropy(a, LABELS, reduction="none"), [normal(4, 3)]),
    # compositions through shared subexpressions
    "shared": (lambda a: sg.tanh(a) * sg.tanh(a) + a * a, [normal(3)]),
    "add_n": (lambda a, b: sg.add_n([a, b, a * b]), [normal(3), normal(3)]),
}


def _build(fn, arrays):
    xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
    return xs, fn(*xs)


def _loss_fn(loss, xs, arrays, i):
    def f(v):
        vals = list(arrays)
        vals[i] = v
        return float(sg.evaluate(loss, dict(zip(xs, vals))))
    return f


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_order_matches_finite_differences(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    loss = sg.sum(y * rng.standard_normal(y.shape))
    grads = sg.grad(loss, xs)
    analytic = sg.evaluate(grads, dict(zip(xs, arrays)))
    for i, a in enumerate(arrays):
        assert analytic[i].shape == a.shape
        np.testing.assert_allclose(analytic[i], numeric_grad(_loss_fn(loss, xs, arrays, i), a),
                                   rtol=1e-5, atol=1e-6, err_msg=f"{case}: input {i}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_order_matches_finite_differences(case):
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    loss = sg.sum(y * rng.standard_normal(y.shape))
    grads = sg.grad(loss, xs)
    directional = sg.add_n([sg.sum(g * rng.standard_normal(g.shape)) for g in grads])
    second = sg.grad(directional, xs)
    analytic = sg.evaluate(second, dict(zip(xs, arrays)))
    for i, a in enumerate(arrays):
        np.testing.assert_allclose(analytic[i], numeric_grad(_loss_fn(directional, xs, arrays, i), a),
                                   rtol=1e-4, atol=1e-5, err_msg=f"{case}: input {i}")


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
