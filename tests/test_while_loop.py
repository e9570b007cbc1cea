"""``sg.while_loop``: values against numpy loops for data-dependent trip counts, derivatives
in both modes (and second order) against finite differences and the unrolled loop, the
``max_steps`` cap, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import flow_cases as fc
import symgraph as sg
from symgraph.errors import DTypeError, ShapeError, SymgraphError, UndefinedGradientError
from symgraph.testing import check_grads

EXACT = dict(rtol=1e-10, atol=1e-12)
TOL = 1e-3


def np_heron(a, tol=TOL, max_steps=None):
    x, k = a.copy(), 0
    while np.max(np.abs(x * x - a) / a) > tol and (max_steps is None or k < max_steps):
        x, k = (x + a / x) * 0.5, k + 1
    return x, k


#: inputs taking 0, 1 and several steps
TRIPS = {"0": np.array([1.0005, 1.0, 0.9999]), "1": np.array([1.01, 1.0, 1.0]),
         "many": np.array([100.0, 0.01, 5.0])}


@pytest.mark.parametrize("trips", TRIPS)
def test_values_match_a_numpy_loop(trips):
    av = TRIPS[trips]
    a = sg.variable("a", (3,))
    x, k = sg.while_loop(*fc.heron(a))
    got_x, got_k = sg.evaluate([x, k], {a: av})
    want_x, want_k = np_heron(av)
    assert got_k == want_k == {"0": 0, "1": 1}.get(trips, want_k) and got_k.dtype == np.int64
    if trips == "many":
        assert want_k > 5
    np.testing.assert_allclose(got_x, want_x, rtol=1e-14)


def derivatives(loss, a, d):
    return [loss, sg.grad(loss, a), sg.jvp(loss, a, sg.constant(d)), sg.hvp(loss, a, d),
            sg.hvp(loss, a, d, mode="rev"), sg.grad(sg.sum(sg.grad(loss, a) ** 2), a)]


@pytest.mark.parametrize("trips", TRIPS)
@pytest.mark.parametrize("max_steps", [50, 3])
def test_derivatives_match_the_unrolled_loop(trips, max_steps):
    """Reverse, forward and second order, for the trip count the inputs take (the trip
    count itself is piecewise constant: no derivative)."""
    av = TRIPS[trips]
    a = sg.variable("a", (3,))
    cond_fn, body_fn, init = fc.heron(a)
    x, k = sg.while_loop(cond_fn, body_fn, init, max_steps=max_steps)
    steps = int(sg.evaluate(k, {a: av}))
    assert steps == min(np_heron(av)[1], max_steps)
    xu, _ = fc.unrolled_while(cond_fn, body_fn, init, steps)
    d = np.array([0.3, -1.0, 2.0])
    got = sg.evaluate(derivatives(sg.sum(x ** 3), a, d), {a: av})
    want = sg.evaluate(derivatives(sg.sum(xu ** 3), a, d), {a: av})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **EXACT)


@pytest.mark.parametrize("trips", TRIPS)
def test_derivatives_match_finite_differences(trips):
    def f(a):
        x, _ = sg.while_loop(*fc.heron(a), max_steps=20)
        return x * x * x
    check_grads(f, [TRIPS[trips]], order=2)


def test_max_steps_caps_the_loop():
    a = sg.variable("a", ())
    x, k = sg.while_loop(lambda c: c[0] < 1e9, lambda c: (c[0] * a, c[1] + 1),
                         (sg.ones(()), np.int64(0)), max_steps=4)
    got = sg.evaluate([x, k, sg.grad(x, a), sg.jvp(x, a, sg.ones(()))], {a: np.array(2.0)})
    assert got[0] == 16.0 and got[1] == 4
    assert got[2] == got[3] == 4 * 2.0 ** 3


def test_forward_mode_needs_no_max_steps_but_reverse_mode_does():
    a = sg.variable("a", (3,))
    x, k = sg.while_loop(*fc.heron(a))
    av = TRIPS["many"]
    jv = sg.evaluate(sg.jvp(sg.sum(x), a, sg.ones((3,))), {a: av})
    want = sg.evaluate(sg.grad(sg.sum(fc.unrolled_while(*fc.heron(a), np_heron(av)[1])[0]), a),
                       {a: av})
    np.testing.assert_allclose(jv, want.sum(), **EXACT)
    with pytest.raises(UndefinedGradientError, match="needs max_steps.*forward mode"):
        sg.grad(sg.sum(x), a)
    with pytest.raises(UndefinedGradientError, match="needs max_steps"):
        sg.hvp(sg.sum(x), a, np.ones(3), mode="rev")


def test_condition_constants_get_no_gradient():
    """The captured limit decides the trip count only: its gradient is zero."""
    a, lim = sg.variable("a", ()), sg.variable("lim", ())
    x = sg.while_loop(lambda c: c < lim * 2.0, lambda c: c * a, sg.ones(()), max_steps=100)
    got = sg.evaluate([x, *sg.grad(x, [a, lim]), sg.jvp(x, lim, sg.ones(()))],
                      {a: np.array(1.5), lim: np.array(10.0)})
    k = int(np.ceil(np.log(20.0) / np.log(1.5)))
    np.testing.assert_allclose(got[:3], [1.5 ** k, k * 1.5 ** (k - 1), 0.0], rtol=1e-13)
    assert got[3] == 0.0


def test_structured_carries():
    a = sg.variable("a", (2,))
    out = sg.while_loop(lambda c: c["n"] < 5,
                        lambda c: {"n": c["n"] + 1, "v": [sg.sin(c["v"][0]) + a, c["v"][1] * a]},
                        {"n": np.int64(0), "v": [a, sg.ones((2,))]}, max_steps=10)
    assert set(out) == {"n", "v"} and isinstance(out["v"], list)
    av = np.array([0.3, 0.5])
    v, w = av.copy(), np.ones(2)
    for _ in range(5):
        v, w = np.sin(v) + av, w * av
    got = sg.evaluate([out["n"], *out["v"]], {a: av})
    assert got[0] == 5
    np.testing.assert_allclose(got[1], v, rtol=1e-14)
    np.testing.assert_allclose(got[2], w, rtol=1e-14)
    check_grads(lambda a: sg.while_loop(
        lambda c: c[0] < 5, lambda c: (c[0] + 1, sg.sin(c[1]) * a), (np.int64(0), a),
        max_steps=8)[1], [av], order=2)


def test_while_loop_in_scan_and_scan_in_while_loop():
    xs = sg.variable("xs", (4,))
    w = sg.variable("w", ())

    def step(c, x):  # doubles (plus c) until past x: the trip count varies per step
        y = sg.while_loop(lambda v: v < x, lambda v: v * 2.0 + c * w, sg.ones(()) * 0.1,
                          max_steps=40)
        return c + y * 0.01, y
    hT, ys = sg.scan(step, sg.zeros(()), xs)
    xv, wv = np.array([1.0, 5.0, 0.05, 3.0]), 0.5
    c, want = 0.0, []
    for x in xv:
        v = 0.1
        while v < x:
            v = v * 2 + c * wv
        want.append(v)
        c += v * 0.01
    got = sg.evaluate([hT, ys], {xs: xv, w: wv})
    np.testing.assert_allclose(got[0], c, rtol=1e-14)
    np.testing.assert_allclose(got[1], want, rtol=1e-14)
    check_grads(lambda w: sg.scan(step_with(w), sg.zeros(()), sg.constant(xv))[0], [np.array(wv)])

    def body(c):
        h, n = c
        h2, _ = sg.scan(lambda g, x: (sg.tanh(g * w + x), None), h, xs)
        return h2, n + 1
    (h, n) = sg.while_loop(lambda c: c[1] < 3, body, (sg.ones(()), np.int64(0)), max_steps=5)
    h3 = sg.ones(())
    for _ in range(3):
        h3, _ = fc.unrolled_scan(lambda g, x: (sg.tanh(g * w + x), None), h3, xs)
    feed = {xs: xv * 0.1, w: np.array(wv)}
    got = sg.evaluate([h, sg.grad(h, w), sg.hvp(h, w, 1.0), sg.jvp(h, xs, sg.ones((4,)))], feed)
    want = sg.evaluate([h3, sg.grad(h3, w), sg.hvp(h3, w, 1.0), sg.jvp(h3, xs, sg.ones((4,)))],
                       feed)
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, **EXACT)


def step_with(w):
    def step(c, x):
        y = sg.while_loop(lambda v: v < x, lambda v: v * 2.0 + c * w, sg.ones(()) * 0.1,
                          max_steps=40)
        return c + y * 0.01, y
    return step


def test_cond_in_while_loop():
    a = sg.variable("a", ())

    def body(c):
        x, n = c
        x = sg.cond(x > 1.0, lambda v: v * 0.5, lambda v: v * a + 1.0, x)
        return x, n + 1
    x, _ = sg.while_loop(lambda c: c[1] < 6, body, (a * 1.0, np.int64(0)), max_steps=6)
    av = 1.3
    v = av
    for _ in range(6):
        v = v * 0.5 if v > 1 else v * av + 1
    np.testing.assert_allclose(sg.evaluate(x, {a: av}), v, rtol=1e-14)
    check_grads(lambda a: sg.while_loop(
        lambda c: c[1] < 6, lambda c: (sg.cond(c[0] > 1.0, lambda v: v * 0.5,
                                                 lambda v: v * a + 1.0, c[0]), c[1] + 1),
        (a * 1.0, np.int64(0)), max_steps=6)[0], [np.array(av)], order=2)


def test_an_error_in_a_step_names_the_step():
    a = sg.variable("a", ())
    x = sg.while_loop(lambda c: c < 10.0, lambda c: c + sg.log(c - a), sg.ones(()) * 3.0,
                      max_steps=50)
    with pytest.raises(SymgraphError, match=r"while_loop node #\d+, step 0 \(max_steps=50\)"):
        sg.evaluate(x, {a: np.array(5.0)}, check_finite=True)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_a_carry_that_changes_shape_or_dtype_is_refused():
    with pytest.raises(ShapeError, match=r"carry 0 .* shape \(1,\)"):
        sg.while_loop(lambda c: sg.sum(c) < 1, lambda c: c[:1], sg.zeros((2,)))
    with pytest.raises(DTypeError, match="carry 1 .* dtype float64.*int64"):
        sg.while_loop(lambda c: c[1] < 1, lambda c: (c[0], c[1] + 0.5), (sg.zeros(()), np.int64(0)))
    with pytest.raises(SymgraphError, match="another structure"):
        sg.while_loop(lambda c: c[1] < 1, lambda c: [c[0], c[1]], (sg.zeros(()), sg.zeros(())))


def test_a_non_scalar_condition_is_refused():
    with pytest.raises(ShapeError, match=r"cond_fn must return a scalar, got shape \(2,\)"):
        sg.while_loop(lambda c: c < 1, lambda c: c + 1, sg.zeros((2,)))


def test_variables_made_inside_are_refused():
    with pytest.raises(SymgraphError, match="made variable.*'limit'"):
        sg.while_loop(lambda c: c < sg.variable("limit", ()), lambda c: c + 1, sg.zeros(()))
    with pytest.raises(SymgraphError, match="made variable.*'step'"):
        sg.while_loop(lambda c: c < 1, lambda c: c + sg.variable("step", ()), sg.zeros(()))


def test_bad_max_steps():
    with pytest.raises(SymgraphError, match="max_steps must be an integer"):
        sg.while_loop(lambda c: c < 1, lambda c: c + 1, sg.zeros(()), max_steps=2.5)
    with pytest.raises(SymgraphError, match="non-negative"):
        sg.while_loop(lambda c: c < 1, lambda c: c + 1, sg.zeros(()), max_steps=-3)


def test_a_body_returning_something_not_a_node():
    with pytest.raises(SymgraphError, match="is not a node"):
        sg.while_loop(lambda c: c < 1, lambda c: "more", sg.zeros(()))
