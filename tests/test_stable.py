"""Stable functions (symgraph/ops/stable.py): exact values and derivatives far out.

The closed forms here are computed the stable way in numpy, in the dtype
under test: ``sigmoid(x) = exp(-logaddexp(0, -x))``, ``softplus' = sigmoid``,
``softplus'' = sigmoid(x) * sigmoid(-x)``.  Every check runs in float32 and
float64, in reverse and forward mode, at +-1000, +-30, 0 and 1e-8, and asks
for agreement to a few ulps (an underflowed ``exp(-1000)`` is exactly 0 on
both sides), with no overflow or invalid operation anywhere.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import sympy

import symgraph as sg
from symgraph.errors import DTypeError

DTYPES = ["float32", "float64"]
POINTS = [-1000.0, -30.0, 0.0, 1e-8, 30.0, 1000.0]
MODES = ["rev", "fwd"]


def _sig(x):
    return np.exp(-np.logaddexp(0, -x))


def _ulps(dtype) -> float:
    return 8 * float(np.finfo(dtype).eps)


def _close(got, want, dtype):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=_ulps(dtype), atol=0)


def _derivatives(fn, x, mode):
    """``f``, ``f'`` and ``f''`` of an elementwise ``fn`` at the variable ``x``."""
    y = fn(x)
    if mode == "rev":
        d1 = sg.grad(sg.sum(y), x)
        d2 = sg.grad(sg.sum(d1), x)
    else:
        ones = sg.ones_like(x)
        d1 = sg.jvp(y, x, ones)
        d2 = sg.jvp(d1, x, ones)
    return y, d1, d2


# ---------------------------------------------------------------------------
# softplus and log_sigmoid
# ---------------------------------------------------------------------------

def _softplus_closed(x):
    return np.logaddexp(0, x), _sig(x), _sig(x) * _sig(-x)


def _log_sigmoid_closed(x):
    return -np.logaddexp(0, -x), _sig(-x), -_sig(x) * _sig(-x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, closed", [(sg.softplus, _softplus_closed),
                                        (sg.log_sigmoid, _log_sigmoid_closed)])
def test_softplus_and_log_sigmoid_are_exact_far_out_to_second_order(fn, closed, mode, dtype):
    values = np.array(POINTS, dtype)
    x = sg.variable("x", values.shape, dtype)
    nodes = _derivatives(fn, x, mode)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = sg.evaluate(nodes, {x: values})
        compiled = sg.function([x], list(nodes))(values)
        want = closed(values)
    for g, c, w in zip(got, compiled, want):
        _close(g, w, dtype)
        _close(c, w, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_known_values(dtype):
    x = sg.variable("x", (4,), dtype)
    got = sg.evaluate(sg.softplus(x), {x: np.array([-1000, 0, 1e-8, 1000], dtype)})
    assert got.dtype == dtype
    assert got[0] == 0 and got[3] == 1000
    assert got[1] == pytest.approx(math.log(2), rel=_ulps(dtype))
    assert got[2] == pytest.approx(math.log(2) + 0.5e-8, rel=_ulps(dtype))
    assert sg.evaluate(sg.log_sigmoid(-1000.0)) == -1000.0


def test_third_derivative_of_softplus_stays_exact():
    """sigmoid'' = s(x) s(-x) (s(-x) - s(x)): each factor is computed without cancellation."""
    values = np.array([-30.0, 0.5, 30.0, 1000.0])
    x = sg.variable("x", (4,))
    d3 = sg.grad(sg.sum(sg.grad(sg.sum(sg.grad(sg.sum(sg.softplus(x)), x)), x)), x)
    s, t = _sig(values), _sig(-values)
    np.testing.assert_allclose(sg.evaluate(d3, {x: values}), s * t * (t - s), rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------
# logaddexp and logaddexp2
# ---------------------------------------------------------------------------

PAIRS = [(1000.0, 0.0), (-1000.0, 0.0), (1000.0, 1000.0), (-1000.0, -1000.0), (1000.0, -1000.0),
         (30.0, 0.0), (0.0, -30.0), (0.0, 0.0), (1e-8, 0.0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_value_gradient_and_hessian_far_out(mode, dtype):
    a_val = np.array([p[0] for p in PAIRS], dtype)
    b_val = np.array([p[1] for p in PAIRS], dtype)
    a, b = sg.variable("a", a_val.shape, dtype), sg.variable("b", b_val.shape, dtype)
    y = sg.logaddexp(a, b)
    loss = sg.sum(y)
    grads = sg.grad(loss, [a, b])
    ones, zeros = np.ones_like(a_val), np.zeros_like(a_val)
    hv_a = sg.hvp(loss, [a, b], [ones, zeros], mode=mode)  # (d2/da2, d2/dbda)
    hv_b = sg.hvp(loss, [a, b], [zeros, ones], mode=mode)
    feed = {a: a_val, b: b_val}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = sg.evaluate([y, *grads, *hv_a, *hv_b], feed)
        pa, pb = _sig(a_val - b_val), _sig(b_val - a_val)
    curvature = pa * pb
    want = [np.logaddexp(a_val, b_val), pa, pb, curvature, -curvature, -curvature, curvature]
    for g, w in zip(got, want):
        _close(g, w, dtype)
    assert got[1][2] == got[2][2] == 0.5  # a == b == 1000: even shares, no inf - inf


@pytest.mark.parametrize("dtype", DTYPES)
def test_logaddexp_forward_mode_matches_reverse(dtype):
    a_val = np.array([p[0] for p in PAIRS], dtype)
    b_val = np.array([p[1] for p in PAIRS], dtype)
    a, b = sg.variable("a", a_val.shape, dtype), sg.variable("b", b_val.shape, dtype)
    y = sg.logaddexp(a, b)
    ta, tb = np.full_like(a_val, 0.25), np.full_like(a_val, -2.0)
    forward = sg.jvp(y, [a, b], [sg.constant(ta), sg.constant(tb)])
    ga, gb = sg.grad(sg.sum(y), [a, b])
    f, ra, rb = sg.evaluate([forward, ga, gb], {a: a_val, b: b_val})
    _close(f, ra * ta + rb * tb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logaddexp2_values_and_partials(dtype):
    a_val = np.array([1000.0, -1000.0, 3.0, 0.0, 60.0], dtype)
    b_val = np.array([0.0, 0.0, 3.0, -60.0, 0.0], dtype)
    a, b = sg.variable("a", a_val.shape, dtype), sg.variable("b", b_val.shape, dtype)
    y = sg.logaddexp2(a, b)
    ga, gb = sg.grad(sg.sum(y), [a, b])
    d2 = sg.grad(sg.sum(ga), a)
    got = sg.evaluate([y, ga, gb, d2], {a: a_val, b: b_val})
    ln2 = np.asarray(math.log(2), dtype)
    pa, pb = _sig((a_val - b_val) * ln2), _sig((b_val - a_val) * ln2)
    for g, w in zip(got, [np.logaddexp2(a_val, b_val), pa, pb, pa * pb * ln2]):
        _close(g, w, dtype)


def test_python_numbers_keep_float32():
    x = sg.variable("x", (3,), "float32")
    for y in [sg.logaddexp(x, 0.5), sg.logaddexp2(2.0, x), sg.xlogy(x, 2.0), sg.hypot(x, 1.0),
              sg.arctan2(1.0, x), sg.softplus(x), sg.log_sigmoid(x)]:
        assert y.dtype == np.float32
        assert sg.grad(sg.sum(y), x).dtype == np.float32


def test_integer_inputs_promote_as_numpy_does():
    i = sg.constant(np.array([1, 2, 3]))
    assert sg.softplus(i).dtype == np.logaddexp(0, np.array([1])).dtype
    assert sg.log_sigmoid(i).dtype == np.float64
    np.testing.assert_allclose(sg.evaluate(sg.xlogy(i, i)), scipy.special.xlogy([1, 2, 3], [1, 2, 3]))


# ---------------------------------------------------------------------------
# xlogy
# ---------------------------------------------------------------------------

def test_xlogy_values_are_scipy_s():
    x_val = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -1.5, 3.0])
    y_val = np.array([0.0, 2.0, -1.0, np.nan, 0.5, 4.0, 0.0])
    x, y = sg.variable("x", (7,)), sg.variable("y", (7,))
    with np.errstate(all="ignore"):
        got = sg.evaluate(sg.xlogy(x, y), {x: x_val, y: y_val})
        compiled = sg.function([x, y], sg.xlogy(x, y))(x_val, y_val)
        want = scipy.special.xlogy(x_val, y_val)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(compiled, want)
    assert got[0] == 0 and np.isnan(got[3])


@pytest.mark.parametrize("mode", MODES)
def test_xlogy_derivative_convention_at_x_zero(mode):
    """d/dx = log(y) (-inf at y == 0: no derivative there); d/dy = x / y, 0 wherever
    x == 0, also at y == 0 (JAX: NaN), because xlogy(0, y) is 0 for every y."""
    x_val, y_val = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.5])
    x, y = sg.variable("x", (3,)), sg.variable("y", (3,))
    out = sg.xlogy(x, y)
    if mode == "rev":
        dx, dy = sg.grad(sg.sum(out), [x, y])
    else:
        # (one input at a time: a zero tangent times log(0) = -inf would be NaN, as in JAX)
        dx, dy = sg.jvp(out, x, sg.ones_like(x)), sg.jvp(out, y, sg.ones_like(y))
    with np.errstate(divide="ignore"):
        gx, gy = sg.evaluate([dx, dy], {x: x_val, y: y_val})
    np.testing.assert_array_equal(gx, [-np.inf, math.log(2), math.log(0.5)])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 4.0])


def test_xlogy_mixed_second_derivative_at_x_zero_is_one_over_y():
    x, y = sg.variable("x", (2,)), sg.variable("y", (2,))
    dxy = sg.grad(sg.sum(sg.grad(sg.sum(sg.xlogy(x, y)), y)), x)
    np.testing.assert_allclose(sg.evaluate(dxy, {x: np.zeros(2), y: np.array([2.0, 0.25])}), [0.5, 4.0])


# ---------------------------------------------------------------------------
# hypot and arctan2
# ---------------------------------------------------------------------------

SCALES = {"float32": [1e-30, 1e-20, 1.0, 1e20, 1e30], "float64": [1e-300, 1e-160, 1.0, 1e160, 1e300]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_hypot_and_arctan2_partials_stay_exact_where_the_squares_overflow(mode, dtype):
    """b / (a**2 + b**2) written as such overflows or vanishes at these scales."""
    scale = np.array(SCALES[dtype], dtype)
    a_val, b_val = (3 * scale).astype(dtype), (-4 * scale).astype(dtype)
    a, b = sg.variable("a", a_val.shape, dtype), sg.variable("b", b_val.shape, dtype)
    for fn, want in [(sg.hypot, [5 * scale, 0.6 * np.ones_like(scale), -0.8 * np.ones_like(scale)]),
                     (sg.arctan2, [np.arctan2(a_val, b_val), -0.16 / scale, -0.12 / scale])]:
        y = fn(a, b)
        if mode == "rev":
            da, db = sg.grad(sg.sum(y), [a, b])
        else:
            one, zero = np.ones_like(a_val), np.zeros_like(a_val)
            da = sg.jvp(y, [a, b], [sg.constant(one), sg.constant(zero)])
            db = sg.jvp(y, [a, b], [sg.constant(zero), sg.constant(one)])
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            got = sg.evaluate([y, da, db], {a: a_val, b: b_val})
        for g, w in zip(got, want):
            assert g.dtype == dtype
            np.testing.assert_allclose(g, np.asarray(w, dtype), rtol=_ulps(dtype) * 4, atol=0)


def test_hypot_at_the_origin_follows_jax():
    """No derivative exists there; JAX gives 1/2 to each input (a subgradient), so do we."""
    a, b = sg.variable("a", (2,)), sg.variable("b", (2,))
    y = sg.hypot(a, b)
    ga, gb = sg.grad(sg.sum(y), [a, b])
    tangent = sg.jvp(y, [a, b], [sg.constant(np.array([1.0, 2.0])), sg.constant(np.array([4.0, 0.0]))])
    second = sg.grad(sg.sum(ga), [a, b])
    feed = {a: np.array([0.0, -0.0]), b: np.array([0.0, 0.0])}
    values = sg.evaluate([y, ga, gb, tangent, *second], feed)
    np.testing.assert_array_equal(values[0], [0, 0])
    np.testing.assert_array_equal(values[1], [0.5, 0.5])
    np.testing.assert_array_equal(values[2], [0.5, 0.5])
    np.testing.assert_array_equal(values[3], [2.5, 1.0])
    assert all(np.all(np.isfinite(v)) for v in values[4:])


def test_arctan2_is_numpy_s_in_every_quadrant_and_nan_at_the_origin():
    a_val = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 2.0])
    b_val = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 0.0, 0.0])
    a, b = sg.variable("a", (7,)), sg.variable("b", (7,))
    y = sg.arctan2(a, b)
    with np.errstate(invalid="ignore"):
        value, da, db = sg.evaluate([y, *sg.grad(sg.sum(y), [a, b])], {a: a_val, b: b_val})
    np.testing.assert_array_equal(value, np.arctan2(a_val, b_val))
    r2 = a_val ** 2 + b_val ** 2
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(da, b_val / r2, rtol=1e-15)
        np.testing.assert_allclose(db, -a_val / r2, rtol=1e-15)
    assert np.isnan(da[5]) and np.isnan(db[5])  # as JAX: the angle jumps at the origin


@pytest.mark.parametrize("fn", [sg.logaddexp, sg.logaddexp2, sg.hypot, sg.arctan2])
def test_complex_inputs_are_refused(fn):
    z = sg.variable("z", (2,), "complex128")
    with pytest.raises(DTypeError, match="complex"):
        fn(z, z)


# ---------------------------------------------------------------------------
# sympy and the command line
# ---------------------------------------------------------------------------

def test_sympy_translations():
    a, b = sg.variable("a", ()), sg.variable("b", ())
    sa, sb = sympy.symbols("a b")  # what the bridge names scalar variables
    assert sg.to_sympy(sg.softplus(a)) == sympy.log(1 + sympy.exp(sa))
    assert sg.to_sympy(sg.log_sigmoid(a)) == -sympy.log(1 + sympy.exp(-sa))
    assert sg.to_sympy(sg.logaddexp(a, b)) == sympy.log(sympy.exp(sa) + sympy.exp(sb))
    assert sg.to_sympy(sg.hypot(a, b)) == sympy.sqrt(sa ** 2 + sb ** 2)
    assert sg.to_sympy(sg.arctan2(a, b)) == sympy.atan2(sa, sb)
    xlogy = sg.to_sympy(sg.xlogy(a, b))
    assert xlogy.subs({sa: 0, sb: 0}) == 0 and xlogy.subs({sa: 2, sb: 3}) == 2 * sympy.log(3)
    lae2 = sg.to_sympy(sg.logaddexp2(a, b))
    assert float(lae2.subs({sa: 3, sb: 3})) == pytest.approx(4.0)


def test_command_line_calls_the_stable_functions(capsys):
    from symgraph.cli import main

    assert main(["grad", "softplus(w*x) + log_sigmoid(x) + logaddexp(w, x)", "--at", "w=1", "x=2"]) == 0
    out = capsys.readouterr().out
    s = 1 / (1 + math.exp(-2.0))
    dw = 2 * s + 1 / (1 + math.e)
    assert f"{dw:.6f}"[:7] in out


# ---------------------------------------------------------------------------
# the textbook logistic loss at saturated logits
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_logistic_loss_at_logits_of_plus_minus_1000(mode, dtype):
    """-mean(y log s(z) + (1 - y) log s(-z)) with z = X w: the loss, its gradient
    ``X^T (s(z) - y) / n`` and Hessian-vector product ``X^T diag(s(z) s(-z)) X v / n``
    are finite and exact where the composed ``log(sigmoid(z))`` gives -inf and NaN."""
    X = np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1000.0], [0.0, -1000.0],
                  [30.0, 0.0], [0.0, -30.0], [0.25, 0.5]], dtype)
    labels = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype)
    w_val, v_val = np.array([1.0, 1.0], dtype), np.array([0.5, -2.0], dtype)
    w = sg.variable("w", (2,), dtype)
    z = sg.matmul(sg.constant(X), w)
    y = sg.constant(labels)
    loss = -sg.mean(y * sg.log_sigmoid(z) + (1 - y) * sg.log_sigmoid(-z))
    grad = sg.grad(loss, w)
    hv = sg.hvp(loss, w, v_val, mode=mode)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = sg.evaluate([loss, grad, hv], {w: w_val})
        zs = X @ w_val
        n = len(labels)
        want_loss = np.mean(np.logaddexp(0, zs) - labels * zs)
        want_grad = X.T @ (_sig(zs) - labels) / n
        want_hv = X.T @ (_sig(zs) * _sig(-zs) * (X @ v_val)) / n
    for g, wnt in zip(got, [want_loss, want_grad, want_hv]):
        assert g.dtype == dtype and np.all(np.isfinite(g))
        np.testing.assert_allclose(g, wnt, rtol=100 * float(np.finfo(dtype).eps), atol=0)
    assert got[0] > 1000 / n  # the two misclassified saturated samples cost 1000 each


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_derivatives_keep_their_digits_where_sigmoid_rounds_to_one(dtype):
    """sigmoid' = sigmoid(x) sigmoid(-x): at x = 20 (float32) or 30 (float64) sigmoid is 1.0,
    and the textbook ``s * (1 - s)`` would give exactly 0."""
    at = 20.0 if dtype == "float32" else 30.0
    x = sg.variable("x", (), dtype)
    (d1,) = sg.grad(sg.sigmoid(x), [x])
    (d2,) = sg.grad(d1, [x])
    got = sg.evaluate([d1, d2], {x: np.asarray(at, dtype)})
    e = np.exp(-at)  # sigmoid' = e/(1+e)^2, sigmoid'' = -e(1-e)/(1+e)^3
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(got[0], e / (1 + e) ** 2, rtol=rtol)
    np.testing.assert_allclose(got[1], -e * (1 - e) / (1 + e) ** 3, rtol=rtol)
