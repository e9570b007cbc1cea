"""``sg.cond``: only the taken branch runs (for values and every derivative), derivatives
against finite differences and the taken branch written directly, captures, errors."""

from __future__ import annotations

import numpy as np
import pytest

import flow_cases as fc
import symgraph as sg
from symgraph.diagnostics import NonFiniteError
from symgraph.errors import DTypeError, ShapeError, SymgraphError
from symgraph.ops.base import NO_SYMPY
from symgraph.structure import flatten
from symgraph.testing import check_grads

EXACT = dict(rtol=1e-10, atol=1e-12)
rng = np.random.default_rng(1616)


class Boom(sg.Op):
    """Raises whenever it runs; its derivatives are Booms again, so they raise too."""

    name = "boom_in_test_cond"
    to_sympy = NO_SYMPY

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        raise RuntimeError("the untaken branch ran")

    def bprop(self, inputs, out, g, needs):
        return [Boom()(g * inputs[0])]

    def jvp(self, inputs, out, ts):
        return Boom()(ts[0] * inputs[0])


def derivatives(y, x, d):
    loss = sg.sum(y * y)
    return [y, sg.grad(loss, x), sg.jvp(loss, x, [sg.constant(v) for v in d]), sg.hvp(loss, x, d),
            sg.hvp(loss, x, d, mode="rev")]


@pytest.mark.parametrize("taken", [True, False])
def test_values_and_derivatives_are_the_taken_branchs(taken):
    c, x = sg.variable("c", (2,)), sg.variable("x", (2,))
    y = fc.branchy(c, x)
    direct = sg.sin(x) * c if taken else sg.exp(x) + c
    xv = np.array([0.7, 0.4]) * (1 if taken else -1)
    feed = {c: rng.standard_normal(2), x: xv}
    d = [np.array([1.0, -2.0]), np.array([0.5, 3.0])]
    got = sg.evaluate(derivatives(y, [c, x], d), feed)
    want = sg.evaluate(derivatives(direct, [c, x], d), feed)
    for g, w in zip(flatten(got, lambda t: isinstance(t, np.ndarray))[0],
                    flatten(want, lambda t: isinstance(t, np.ndarray))[0]):
        np.testing.assert_allclose(g, w, **EXACT)
    check_grads(fc.branchy, [feed[c], xv], order=2)


def test_the_untaken_branch_never_runs_even_in_derivatives():
    x = sg.variable("x", (2,))
    y = sg.cond(sg.sum(x) > 0, lambda v: sg.sin(v) * v, lambda v: Boom()(v), x)
    loss = sg.sum(y)
    outs = [y, sg.grad(loss, x), sg.jvp(loss, x, sg.ones((2,))), sg.hvp(loss, x, np.ones(2)),
            sg.hvp(loss, x, np.ones(2), mode="rev")]
    xv = np.array([0.5, 1.0])
    got = sg.evaluate(outs, {x: xv})
    np.testing.assert_allclose(got[0], np.sin(xv) * xv)
    np.testing.assert_allclose(got[1], np.cos(xv) * xv + np.sin(xv))
    for k in range(len(outs)):  # and each of them does run the other branch when it is taken
        with pytest.raises(Exception, match="the untaken branch ran"):
            sg.evaluate(outs[k], {x: -xv})


def test_an_overflowing_branch_does_not_poison_values_or_derivatives():
    x = sg.variable("x", ())
    y = sg.cond(x < 10, lambda v: v * 2.0, lambda v: sg.exp(v * 1000.0), x)
    loss = y * y
    outs = [y, sg.grad(loss, x), sg.jvp(loss, x, sg.ones(())), sg.hvp(loss, x, 1.0),
            sg.hvp(loss, x, 1.0, mode="rev"), sg.grad(sg.grad(loss, x) ** 2, x)]
    got = sg.evaluate(outs, {x: np.array(3.0)}, check_finite=True)
    np.testing.assert_array_equal(got, [6.0, 24.0, 24.0, 8.0, 8.0, 2 * 24.0 * 8.0])
    with pytest.raises(NonFiniteError, match="exp"):  # the overflowing branch, taken
        sg.evaluate(outs, {x: np.array(10.0)}, check_finite=True)
    # where computes both sides, so check_finite sees the overflow even where it is masked
    w = sg.where(x < 10, x * 2.0, sg.exp(x * 1000.0))
    with pytest.raises(NonFiniteError):
        sg.evaluate(sg.grad(w * w, x), {x: np.array(3.0)}, check_finite=True)


def test_log_of_a_negative_in_the_untaken_branch():
    x = sg.variable("x", (3,))
    y = sg.cond(sg.min(x) > 0, lambda v: sg.log(v), lambda v: v * 0.0, x)
    xv = np.array([-1.0, 2.0, 0.0])
    got = sg.evaluate([y, sg.grad(sg.sum(y), x), sg.hvp(sg.sum(y), x, np.ones(3))], {x: xv},
                      check_finite=True)
    for g in got:
        np.testing.assert_array_equal(g, np.zeros(3))


def test_branches_with_different_captures():
    a, b = sg.variable("a", (2,)), sg.variable("b", (2,))
    p = sg.variable("p", (), "bool")
    y = sg.cond(p, lambda: a * a, lambda: sg.sin(b))  # no operands: captures only
    outs = [y, *sg.grad(sg.sum(y), [a, b]), *sg.hvp(sg.sum(y), [a, b], [np.ones(2)] * 2),
            *sg.hvp(sg.sum(y), [a, b], [np.ones(2)] * 2, mode="rev"),
            sg.jvp(y, [a, b], [sg.ones((2,))] * 2)]
    av, bv = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    t = sg.evaluate(outs, {a: av, b: bv, p: True})
    f = sg.evaluate(outs, {a: av, b: bv, p: False})
    zero = np.zeros(2)
    for g, w in zip(t, [av * av, 2 * av, zero, 2 * np.ones(2), zero, 2 * np.ones(2), zero,
                        2 * av]):
        np.testing.assert_allclose(g, w, rtol=1e-14)
    for g, w in zip(f, [np.sin(bv), zero, np.cos(bv), zero, -np.sin(bv), zero, -np.sin(bv),
                        np.cos(bv)]):
        np.testing.assert_allclose(g, w, rtol=1e-14)


def test_structured_operands_and_results():
    a, b = sg.variable("a", (2,)), sg.variable("b", (3,))
    p = sg.variable("p", ())
    out = sg.cond(p > 0, lambda ops, k: {"s": sg.sum(ops["a"]) * k, "pair": (ops["b"], ops["a"])},
                  lambda ops, k: {"s": sg.sum(ops["b"]), "pair": (ops["b"] * k, ops["a"] * 0.0)},
                  {"a": a, "b": b}, 2.0)
    assert set(out) == {"s", "pair"} and isinstance(out["pair"], tuple)
    av, bv = np.array([1.0, 2.0]), np.array([1.0, -1.0, 3.0])
    t = sg.evaluate([out["s"], *out["pair"]], {a: av, b: bv, p: 1.0})
    f = sg.evaluate([out["s"], *out["pair"]], {a: av, b: bv, p: -1.0})
    np.testing.assert_array_equal(t[0], 6.0)
    np.testing.assert_array_equal(t[1], bv)
    np.testing.assert_array_equal(t[2], av)
    np.testing.assert_array_equal(f[0], 3.0)
    np.testing.assert_array_equal(f[1], 2 * bv)
    np.testing.assert_array_equal(f[2], np.zeros(2))


def test_results_that_are_operands_captures_constants_or_integers():
    a = sg.variable("a", (2,))
    p = sg.variable("p", ())
    y, k, z = sg.cond(p > 0, lambda v: (v, np.int64(1), a), lambda v: (a, np.int64(2), np.zeros(2)),
                      a * 3.0)
    assert k.dtype == np.int64
    loss = sg.sum(y * y) + sg.sum(z) + sg.cast(k, "float64")
    outs = [y, k, z, sg.grad(loss, a), sg.jvp(loss, a, sg.ones((2,))), sg.hvp(loss, a, np.ones(2))]
    t = sg.evaluate(outs, {a: np.ones(2), p: 1.0})
    f = sg.evaluate(outs, {a: np.ones(2), p: -1.0})
    for g, w in zip(t, [3 * np.ones(2), 1, np.ones(2), 19 * np.ones(2), 38.0, 18 * np.ones(2)]):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(f, [np.ones(2), 2, np.zeros(2), 2 * np.ones(2), 4.0, 2 * np.ones(2)]):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("pred", [True, False, np.bool_(True), 0.0, np.array(2)])
def test_constant_predicates(pred):
    a = sg.variable("a", ())
    y = sg.cond(pred, lambda v: v * 2.0, lambda v: v * 3.0, a)
    got = sg.evaluate([y, sg.grad(y, a)], {a: np.array(1.5)})
    k = 2.0 if bool(pred) else 3.0
    np.testing.assert_array_equal(got, [1.5 * k, k])


def test_nested_conds():
    a, b = sg.variable("a", ()), sg.variable("b", ())

    def f(a, b):
        return sg.cond(a > 0, lambda v: sg.cond(b > 0, lambda u: u * a, lambda u: u * b, v),
                       lambda v: v + b, a * b)

    def direct(av, bv):
        if av > 0:
            return a * a * b if bv > 0 else a * b * b
        return a * b + b
    for av, bv in [(1.0, 2.0), (1.0, -2.0), (-1.0, 2.0)]:
        feed = {a: np.array(av), b: np.array(bv)}
        y, w = f(a, b), direct(av, bv)
        got = sg.evaluate([y, *sg.grad(y, [a, b]), *sg.hvp(y, [a, b], [1.0, -1.0]),
                           *sg.hvp(y, [a, b], [1.0, -1.0], mode="rev")], feed)
        want = sg.evaluate([w, *sg.grad(w, [a, b]), *sg.hvp(w, [a, b], [1.0, -1.0]),
                            *sg.hvp(w, [a, b], [1.0, -1.0], mode="rev")], feed)
        np.testing.assert_allclose(got, want, **EXACT)
        check_grads(f, [np.array(av), np.array(bv)], order=2)


def test_a_predicate_computed_from_a_loop_carry():
    a = sg.variable("a", (3,))

    def step(c, x):
        c = sg.cond(c > x, lambda c: c - x, lambda c: c * x, c)
        return c, c
    h, ys = sg.scan(step, sg.ones(()), a)
    av = np.array([0.5, 2.0, 3.0])  # 1 > 0.5: 0.5; 0.5 < 2: 1.0; 1 < 3: 3.0
    got = sg.evaluate([h, ys, sg.grad(h, a), sg.hvp(h, a, np.ones(3))], {a: av})
    np.testing.assert_array_equal(got[0], 3.0)
    np.testing.assert_array_equal(got[1], [0.5, 1.0, 3.0])
    np.testing.assert_allclose(got[2], [-6.0, 1.5, 1.0])  # h = (1 - a0) a1 a2
    np.testing.assert_allclose(got[3], [-5.0, -2.5, -1.5])


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_mismatched_branches_are_refused():
    a = sg.variable("a", (2,))
    p = sg.sum(a) > 0
    with pytest.raises(ShapeError, match=r"result 0 has shape \(2,\) in the true branch and "
                                         r"\(1,\) in the false"):
        sg.cond(p, lambda v: v, lambda v: v[:1], a)
    with pytest.raises(DTypeError, match="result 0 has dtype float64 in the true branch and "
                                         "float32"):
        sg.cond(p, lambda v: v, lambda v: sg.cast(v, "float32"), a)
    for t, f in [(lambda v: (v, v), lambda v: v), (lambda v: (v,), lambda v: [v]),
                 (lambda v: {"a": v}, lambda v: {"b": v}), (lambda v: (v, v), lambda v: (v,))]:
        with pytest.raises(SymgraphError, match="different structures"):
            sg.cond(p, t, f, a)


def test_a_non_scalar_predicate_is_refused():
    a = sg.variable("a", (2,))
    with pytest.raises(ShapeError, match=r"predicate must be a scalar, got shape \(2,\)"):
        sg.cond(a > 0, lambda v: v, lambda v: v, a)


def test_branches_returning_something_not_a_node():
    a = sg.variable("a", (2,))
    with pytest.raises(SymgraphError, match="true branch: the function returned str"):
        sg.cond(sg.sum(a) > 0, lambda v: "x", lambda v: v, a)
    with pytest.raises(SymgraphError, match="false branch: the function returned NoneType"):
        sg.cond(sg.sum(a) > 0, lambda v: v, lambda v: None, a)


def test_variables_made_inside_a_branch_are_refused():
    a = sg.variable("a", (2,))
    with pytest.raises(SymgraphError, match="true branch: the function made variable.*'q'"):
        sg.cond(sg.sum(a) > 0, lambda v: v + sg.variable("q", (2,)), lambda v: v, a)
