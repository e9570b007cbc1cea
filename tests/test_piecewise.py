"""Piecewise functions (symgraph/ops/piecewise.py): numpy's values, JAX's derivatives.

Values are compared with numpy bit for bit (halves to even, the sign of a
modulus, NaN handling, ``a_min > a_max``); derivatives at the kinks follow the
conventions each op's docstring states, checked in both modes.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import symgraph as sg
from symgraph.errors import DTypeError, SymgraphError
from symgraph.ops.piecewise import Clip


def _both_modes(y, wrt, feed):
    """Reverse-mode gradients of ``sum(y)`` and forward-mode derivatives along each input
    alone (so the two are comparable input by input)."""
    rev = sg.evaluate(sg.grad(sg.sum(y), wrt), feed)
    fwd = [sg.evaluate(sg.jvp(y, x, sg.ones_like(x)), feed) for x in wrt]
    return rev, fwd


# ---------------------------------------------------------------------------
# clip
# ---------------------------------------------------------------------------

X = np.linspace(-2, 2, 9)


@pytest.mark.parametrize("a_min, a_max", [(-0.5, 0.75), (None, 0.75), (-0.5, None), (1.0, -1.0),
                                          (np.linspace(-1, 0, 9), 1.25), (-1.0, np.array(0.5))])
def test_clip_matches_numpy(a_min, a_max):
    x = sg.variable("x", X.shape)
    y = sg.clip(x, a_min, a_max)
    want = np.clip(X, a_min, a_max)
    np.testing.assert_array_equal(sg.evaluate(y, {x: X}), want)
    np.testing.assert_array_equal(sg.function([x], y)(X), want)


def test_clip_node_bounds_broadcast_and_their_gradients_are_summed():
    x, lo, hi = sg.variable("x", (2, 3)), sg.variable("lo", (3,)), sg.variable("hi", (2, 1))
    xv = np.array([[-2.0, 0.1, 3.0], [0.4, -0.2, 0.9]])
    lov, hiv = np.array([-1.0, 0.0, 0.5]), np.array([[1.0], [0.6]])
    y = sg.clip(x, lo, hi)
    assert y.shape == (2, 3)
    feed = {x: xv, lo: lov, hi: hiv}
    np.testing.assert_array_equal(sg.evaluate(y, feed), np.clip(xv, lov, hiv))
    gx, glo, ghi = sg.evaluate(sg.grad(sg.sum(y), [x, lo, hi]), feed)
    np.testing.assert_array_equal(gx, [[0, 1, 0], [1, 0, 0]])  # inside
    np.testing.assert_array_equal(glo, [1, 1, 0])  # x below a_min at [0, 0] and [1, 1]
    np.testing.assert_array_equal(ghi, [[1], [1]])  # above a_max at [0, 2] and [1, 2]


@pytest.mark.parametrize("point, want", [
    ((0.5, 0.0, 1.0), (1.0, 0.0, 0.0)),    # inside
    ((-1.0, 0.0, 1.0), (0.0, 1.0, 0.0)),   # below
    ((2.0, 0.0, 1.0), (0.0, 0.0, 1.0)),    # above
    ((0.0, 0.0, 1.0), (0.5, 0.5, 0.0)),    # at a_min: maximum's even split
    ((1.0, 0.0, 1.0), (0.5, 0.0, 0.5)),    # at a_max: minimum's even split
    ((1.0, 1.0, 1.0), (0.25, 0.25, 0.5)),  # all equal: both splits, as in JAX
    ((0.5, 1.0, 0.0), (0.0, 0.0, 1.0)),    # a_min > a_max: the result is a_max
])
def test_clip_derivatives_are_jax_s_at_the_bounds(point, want):
    """JAX's clip is minimum(a_max, maximum(a_min, x)), each splitting ties evenly;
    these are the gradients jax.grad gives at these points."""
    x, lo, hi = (sg.variable(n, ()) for n in ("x", "lo", "hi"))
    feed = dict(zip([x, lo, hi], map(np.array, point)))
    rev, fwd = _both_modes(sg.clip(x, lo, hi), [x, lo, hi], feed)
    np.testing.assert_array_equal(rev, want)
    np.testing.assert_array_equal(fwd, want)


def test_clip_with_one_bound_splits_a_tie_evenly():
    x, b = sg.variable("x", ()), sg.variable("b", ())
    for y in [sg.clip(x, b, None), sg.clip(x, None, b)]:
        rev, fwd = _both_modes(y, [x, b], {x: np.array(0.5), b: np.array(0.5)})
        np.testing.assert_array_equal(rev, [0.5, 0.5])
        np.testing.assert_array_equal(fwd, [0.5, 0.5])


def test_clip_dtypes_follow_numpy():
    x32 = sg.variable("x", (3,), "float32")
    y = sg.clip(x32, -0.5, 0.5)  # Python numbers are weak: float32 stays float32
    assert y.dtype == np.float32 and sg.grad(sg.sum(y), x32).dtype == np.float32
    i = sg.constant(np.array([-3, 0, 3]))
    assert sg.clip(i, -1, 1).dtype == np.clip(np.array([-3, 0, 3]), -1, 1).dtype
    np.testing.assert_array_equal(sg.evaluate(sg.clip(i, -1, 1)), [-1, 0, 1])
    assert sg.clip(i, sg.constant(np.array([0.5])), None).dtype == np.float64


def test_clip_without_bounds_is_the_input():
    x = sg.variable("x", (3,))
    assert sg.clip(x, None, None) is x


def test_clip_refuses_complex_and_wrong_arity():
    z = sg.variable("z", (2,), "complex128")
    with pytest.raises(DTypeError, match="complex"):
        sg.clip(z, 0.0, 1.0)
    x = sg.variable("x", (2,))
    with pytest.raises(SymgraphError, match="clip: takes x and 2 bound"):
        Clip(True, True)(x, x)
    with pytest.raises(SymgraphError, match="clip"):
        Clip(False, False)(x)


def test_clip_sympy_translation():
    x, lo, hi = (sg.variable(n, ()) for n in ("x", "lo", "hi"))
    sx, slo, shi = sympy.symbols("x lo hi")
    assert sg.to_sympy(sg.clip(x, lo, hi)) == sympy.Min(shi, sympy.Max(slo, sx))
    assert sg.to_sympy(sg.clip(x, None, hi)) == sympy.Min(shi, sx)
    assert sg.to_sympy(sg.clip(x, lo, None)) == sympy.Max(slo, sx)


# ---------------------------------------------------------------------------
# floor, ceil, round
# ---------------------------------------------------------------------------

STEPS = np.array([-2.5, -1.5, -0.5, -0.25, 0.0, 0.25, 0.5, 1.5, 2.5, 3.7, -3.7, 1e15 + 0.5])


@pytest.mark.parametrize("decimals", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_is_numpy_s_half_to_even(decimals, dtype):
    values = np.concatenate([STEPS, [2.675, 0.125, 0.375, 14.5, 25.0, 35.0, -45.0]]).astype(dtype)
    x = sg.variable("x", values.shape, dtype)
    y = sg.round(x, decimals)
    assert y.dtype == dtype
    np.testing.assert_array_equal(sg.evaluate(y, {x: values}), np.round(values, decimals))
    np.testing.assert_array_equal(sg.function([x], y)(values), np.round(values, decimals))


def test_round_halves_go_to_the_even_neighbour():
    got = sg.evaluate(sg.round(sg.constant(np.array([0.5, 1.5, 2.5, -0.5, -2.5]))))
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, -0.0, -2.0])
    assert np.signbit(got[3])


@pytest.mark.parametrize("fn, ref", [(sg.floor, np.floor), (sg.ceil, np.ceil), (sg.round, np.round)])
def test_steps_match_numpy_and_keep_integer_dtypes(fn, ref):
    x = sg.variable("x", STEPS.shape)
    np.testing.assert_array_equal(sg.evaluate(fn(x), {x: STEPS}), ref(STEPS))
    ints = np.array([-3, 0, 7])
    got = sg.evaluate(fn(sg.constant(ints)))
    assert got.dtype == ref(ints).dtype
    np.testing.assert_array_equal(got, ref(ints))
    assert fn(sg.variable("y", (2,), "float32")).dtype == np.float32


@pytest.mark.parametrize("fn", [sg.floor, sg.ceil, sg.round, lambda x: sg.round(x, 2)])
def test_steps_have_zero_derivative_in_both_modes(fn):
    """JAX's defjvp_zero: the derivative is 0, also at the steps; no error."""
    x = sg.variable("x", (3,))
    feed = {x: np.array([0.5, 1.0, 2.3])}
    rev, fwd = _both_modes(fn(x) * x, [x], feed)
    np.testing.assert_array_equal(rev[0], sg.evaluate(fn(x), feed))  # d/dx (step(x) * x) = step(x)
    np.testing.assert_array_equal(fwd[0], rev[0])
    np.testing.assert_array_equal(sg.evaluate(sg.grad(sg.sum(fn(x)), x), feed), np.zeros(3))


def test_round_decimals_must_be_an_integer():
    x = sg.variable("x", (2,))
    with pytest.raises(SymgraphError, match="round: decimals"):
        sg.round(x, 1.5)
    assert sg.round(x, np.int64(1)).op.decimals == 1


def test_round_refuses_booleans():
    with pytest.raises(DTypeError, match="round"):
        sg.round(sg.constant(np.array([True, False])))


@pytest.mark.parametrize("decimals", [0, 1, -1])
def test_round_sympy_translation_is_half_to_even(decimals):
    """sympy has no half-even rounding of a symbol: the translation is a Piecewise of floor."""
    x = sg.variable("x", ())
    expr = sg.to_sympy(sg.round(x, decimals))
    sx = sympy.Symbol("x")
    for v in [0.5, 1.5, 2.5, -2.5, 0.25, 0.75, 15.0, 25.0, -35.0, 3.7, -1.26]:
        want = np.round(v, decimals)
        got = expr.subs(sx, sympy.Rational(v)) if v == int(v * 4) / 4 else expr.subs(sx, sympy.Float(v))
        assert float(got) == pytest.approx(want, abs=1e-12), (v, decimals)


def test_floor_ceil_sympy_translations():
    x = sg.variable("x", ())
    sx = sympy.Symbol("x")
    assert sg.to_sympy(sg.floor(x)) == sympy.floor(sx)
    assert sg.to_sympy(sg.ceil(x)) == sympy.ceiling(sx)


# ---------------------------------------------------------------------------
# mod
# ---------------------------------------------------------------------------

A = np.array([5.5, -5.5, 5.5, -5.5, 3.0, -3.0, 0.0, 7.25])
B = np.array([2.0, 2.0, -2.0, -2.0, 1.5, 1.5, 2.0, 0.5])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mod_has_the_sign_of_the_divisor(dtype):
    a, b = sg.variable("a", A.shape, dtype), sg.variable("b", B.shape, dtype)
    y = sg.mod(a, b)
    assert y.dtype == dtype
    feed = {a: A.astype(dtype), b: B.astype(dtype)}
    np.testing.assert_array_equal(sg.evaluate(y, feed), np.mod(A, B).astype(dtype))
    np.testing.assert_array_equal(sg.function([a, b], y)(*feed.values()), np.mod(A, B).astype(dtype))
    np.testing.assert_array_equal(sg.evaluate(sg.mod(sg.constant(np.array([-7, 7])), 3)), [2, 1])


def test_mod_partials_are_one_and_minus_floor_of_the_quotient():
    """JAX's: d/da = 1, d/db = -floor(a / b) (the floor held constant)."""
    a, b = sg.variable("a", A.shape), sg.variable("b", B.shape)
    rev, fwd = _both_modes(sg.mod(a, b), [a, b], {a: A, b: B})
    np.testing.assert_array_equal(rev[0], np.ones_like(A))
    np.testing.assert_array_equal(rev[1], -np.floor(A / B))
    np.testing.assert_array_equal(fwd[1], rev[1])
    hess = sg.grad(sg.sum(sg.grad(sg.sum(sg.mod(a, b)), b)), [a, b])
    assert all(np.all(h == 0) for h in sg.evaluate(hess, {a: A, b: B}))


def test_mod_sympy_translation():
    a, b = sg.variable("a", ()), sg.variable("b", ())
    expr = sg.to_sympy(sg.mod(a, b))
    sa, sb = sympy.symbols("a b")
    assert expr == sympy.Mod(sa, sb)
    assert expr.subs({sa: -7, sb: 3}) == 2 and expr.subs({sa: 7, sb: -3}) == -2


# ---------------------------------------------------------------------------
# fmax, fmin
# ---------------------------------------------------------------------------

P = np.array([1.0, 2.0, 3.0, np.nan, 4.0, np.nan, -0.0])
Q = np.array([2.0, 1.0, 3.0, 5.0, np.nan, np.nan, 0.0])


@pytest.mark.parametrize("fn, ref", [(sg.fmax, np.fmax), (sg.fmin, np.fmin)])
def test_fmax_fmin_ignore_nans_as_numpy(fn, ref):
    a, b = sg.variable("a", P.shape), sg.variable("b", Q.shape)
    y = fn(a, b)
    np.testing.assert_array_equal(sg.evaluate(y, {a: P, b: Q}), ref(P, Q))
    np.testing.assert_array_equal(sg.function([a, b], y)(P, Q), ref(P, Q))
    assert fn(sg.variable("c", (2,), "float32"), 1.5).dtype == np.float32


@pytest.mark.parametrize("fn, wins_a", [(sg.fmax, [0, 1]), (sg.fmin, [1, 0])])
def test_fmax_fmin_gradient_goes_to_the_input_picked(fn, wins_a):
    """Ties split evenly (as sg.maximum; JAX gives all of a tie to b); a NaN input gets
    nothing, the other all; where both are NaN, all to the first."""
    a, b = sg.variable("a", P.shape), sg.variable("b", Q.shape)
    rev, fwd = _both_modes(fn(a, b), [a, b], {a: P, b: Q})
    want_a = np.array(wins_a + [0.5, 0.0, 1.0, 1.0, 0.5])
    np.testing.assert_array_equal(rev[0], want_a)
    np.testing.assert_array_equal(rev[1], [1 - w if i != 5 else 0.0 for i, w in enumerate(want_a)])
    np.testing.assert_array_equal(fwd[0], rev[0])
    np.testing.assert_array_equal(fwd[1], rev[1])


def test_fmax_fmin_refuse_complex_and_translate_to_sympy():
    z = sg.variable("z", (2,), "complex128")
    with pytest.raises(DTypeError, match="complex"):
        sg.fmax(z, z)
    a, b = sg.variable("a", ()), sg.variable("b", ())
    sa, sb = sympy.symbols("a b")
    assert sg.to_sympy(sg.fmax(a, b)) == sympy.Max(sa, sb)
    assert sg.to_sympy(sg.fmin(a, b)) == sympy.Min(sa, sb)


def test_command_line_calls_the_piecewise_functions(capsys):
    from symgraph.cli import main

    expr = "clip(x, 0, 3)*x + round(x)*x + mod(x, 0.7) + floor(x) + ceil(x) + fmax(x, 1) + fmin(x, 1)"
    assert main(["grad", expr, "--at", "x=2.3"]) == 0
    out = capsys.readouterr().out
    assert "df/dx = 8.6" in out  # 2x + round(x) + 1 + 1 (fmax picks x)
