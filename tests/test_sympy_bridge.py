"""The sympy bridge: sg.grad agrees with sympy.diff, and both directions round-trip.

sympy is the independent reference: derivatives built by symgraph are
converted to sympy and compared with ``sympy.diff`` symbolically (the
difference simplifies to 0) and numerically at random points.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.ops.base import Op, make
from symgraph.sympy_bridge import MAX_ELEMENTS, number

xs, ys = sp.symbols("x y", real=True)
rng = np.random.default_rng(3)

# Expressions with their domain (points are drawn from it).
EXPRESSIONS = {
    "polynomial": (xs**3 - 2 * xs * ys + ys**2 / 3, (-2, 2)),
    "trig_exp": (sp.sin(xs) * sp.exp(ys) + sp.cos(xs * ys) ** 2, (-1.5, 1.5)),
    "rational": (xs / (1 + ys**2) - sp.Rational(5, 7) / (xs**2 + 1), (-2, 2)),
    "log_sqrt": (sp.log(xs**2 + 1) * sp.sqrt(ys**2 + 2), (-2, 2)),
    "tanh_tan": (sp.tanh(xs - ys) + sp.tan(xs) / (2 + sp.sin(ys)), (-1.2, 1.2)),
    "power_of_symbols": (xs**ys + ys ** sp.Rational(3, 2), (0.5, 2)),
    "gaussian": (sp.exp(-(xs**2 + ys**2) / 2) / (2 * sp.pi), (-2, 2)),
    "abs_sign": (sp.Abs(xs - ys) * xs + sp.sign(ys) * ys**2, (-2, 2)),
    "max_min": (sp.Max(xs, ys) * xs - sp.Min(xs**2, ys), (-2, 2)),
    "hyperbolic": (sp.sinh(xs) * sp.cosh(ys), (-2, 2)),
    "piecewise": (sp.Piecewise((xs**2, xs > ys), (xs * ys, True)), (-2, 2)),
    "nested": (sp.log(1 + sp.exp(sp.sin(xs) * ys)) - sp.sqrt(1 + xs**2) ** 3, (-2, 2)),
}


def build(expr):
    x, y = sg.variable("x"), sg.variable("y")
    return x, y, sg.from_sympy(expr, {"x": x, "y": y})


def numeric(expr, point):
    return float(expr.subs({xs: point[0], ys: point[1]}).evalf(30))


def points(domain, n=4):
    pts = rng.uniform(*domain, size=(n, 2))
    return [p for p in pts if abs(p[0] - p[1]) > 1e-3 and abs(p[0] ** 2 - p[1]) > 1e-3]


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_grad_matches_sympy_diff_to_second_order(name):
    expr, domain = EXPRESSIONS[name]
    x, y, f = build(expr)
    first = sg.grad(f, [x, y])
    second = [sg.grad(g, [x, y]) for g in first]
    derivs = [sp.diff(expr, v) for v in (xs, ys)]
    hessian = [[sp.diff(d, v) for v in (xs, ys)] for d in derivs]
    for p in points(domain):
        feed = {x: p[0], y: p[1]}
        got1, got2 = sg.evaluate([first, second], feed)
        np.testing.assert_allclose(got1, [numeric(d, p) for d in derivs], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got2, [[numeric(h, p) for h in row] for row in hessian],
                                   rtol=1e-9, atol=1e-11)


SYMBOLIC = ["polynomial", "trig_exp", "rational", "log_sqrt", "hyperbolic", "nested"]


@pytest.mark.parametrize("name", SYMBOLIC)
def test_grad_converted_to_sympy_equals_sympy_diff(name):
    expr, _ = EXPRESSIONS[name]
    x, y, f = build(expr)
    gx, gy = sg.grad(f, [x, y])
    (gxx,) = [sg.grad(gx, x)]
    for node, reference in [(gx, sp.diff(expr, xs)), (gy, sp.diff(expr, ys)),
                            (gxx, sp.diff(expr, xs, 2))]:
        got = sg.to_sympy(node, assumptions=True)
        assert sp.simplify((got - reference).rewrite(sp.exp)) == 0, (got, reference)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_round_trip_from_sympy_then_to_sympy(name):
    expr, domain = EXPRESSIONS[name]
    _, _, f = build(expr)
    back = sg.to_sympy(f, assumptions=True)
    if name == "gaussian":  # 1/(2 pi) is stored as a float, so compare numerically
        for p in points(domain):
            assert numeric(back, p) == pytest.approx(numeric(expr, p), rel=1e-15)
    else:
        assert sp.simplify((back - expr).rewrite(sp.exp)) == 0, back


def test_round_trip_to_sympy_then_from_sympy_for_arrays():
    X, W = sg.variable("X", (2, 3)), sg.variable("W", (3, 2))
    b = sg.variable("b", (2,))
    y = sg.softmax(sg.tanh(X @ W + b), axis=1).sum(axis=0) * sg.logsumexp(X) + sg.max(X, axis=1)
    expr = sg.to_sympy(y)
    assert isinstance(expr, sp.NDimArray) and expr.shape == (2,)
    rebuilt = sg.from_sympy(expr, {"X": X, "W": W, "b": b})
    assert rebuilt.shape == (2,)
    feed = {X: rng.standard_normal((2, 3)), W: rng.standard_normal((3, 2)), b: rng.standard_normal(2)}
    np.testing.assert_allclose(sg.evaluate(rebuilt, feed), sg.evaluate(y, feed), rtol=1e-12)


def test_to_sympy_covers_array_ops():
    X = sg.variable("X", (2, 3))
    v = sg.variable("v", (3,))
    labels = np.array([2, 0])
    nodes = [
        sg.sum(X, axis=0), sg.mean(X), sg.min(X, axis=1, keepdims=True), X.T @ X, v @ v,
        sg.reshape(X, (3, 2)), sg.broadcast_to(v, (2, 3)), sg.sum_to(X, (1, 3)),
        sg.concatenate([X, X], axis=1), sg.stack([v, v]), X[1, ::-1], X[np.array([0, 0, 1])],
        sg.log_softmax(X), sg.cross_entropy(X, labels), sg.cross_entropy(X, labels, "none"),
        sg.where(X > 0, X, -X), sg.relu(X) + sg.sigmoid(v) + sg.square(sg.abs(X)),
        sg.stop_gradient(X) * 2, sg.cast(X > v, "float64"), sg.add_n([X, v, 1.5]),
        sg.maximum(X, v) - sg.minimum(X, 0.5), sg.sign(X) / (sg.cos(X) + 3),
    ]
    grad_nodes = sg.grad(sg.sum(sg.tanh(X) * v) + sg.cross_entropy(X, labels), [X, v])
    feed = {X: rng.standard_normal((2, 3)), v: rng.standard_normal(3)}
    subs = {sp.IndexedBase("X", real=True)[i, j]: feed[X][i, j] for i in range(2) for j in range(3)}
    subs.update({sp.IndexedBase("v", real=True)[j]: feed[v][j] for j in range(3)})
    for node, value in zip(nodes + grad_nodes, sg.evaluate(nodes + grad_nodes, feed)):
        expr = sg.to_sympy(node, assumptions=True)
        got = np.array(sp.Array(expr).subs(subs).tolist() if node.shape else expr.subs(subs),
                       dtype=float)
        np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-12, err_msg=repr(node))


def test_cse_returns_replacements_that_rebuild_the_plain_expression():
    x = sg.variable("x")
    t = sg.tanh(x)
    y = t * t + sg.exp(t) * t
    replacements, expr = sg.to_sympy(y, cse=True, assumptions=True)
    assert len(replacements) == 1 and replacements[0][1] == sp.tanh(xs)
    sym = replacements[0][0]
    assert expr == sym**2 + sp.exp(sym) * sym
    plain = sg.to_sympy(y, assumptions=True)
    rebuilt = expr
    for s, e in reversed(replacements):
        rebuilt = rebuilt.subs(s, e)
    assert rebuilt == plain


def test_cse_of_the_seed_gradient():
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    grads = sg.grad((w * x - y) ** 2, [w, x, y])
    replacements, exprs = sg.to_sympy(grads, cse=True, assumptions=True)
    w_, x_, y_ = sp.symbols("w x y", real=True)
    # the shared 2(wx - y) is computed once and reused by all three gradients
    assert len(replacements) == 1
    (sym, shared), = replacements
    assert sp.expand(shared - 2 * (w_ * x_ - y_)) == 0
    assert all(sym in e.free_symbols for e in exprs)
    full = [e.subs(sym, shared) for e in exprs]
    f = (w_ * x_ - y_) ** 2
    assert all(sp.simplify(a - sp.diff(f, v)) == 0 for a, v in zip(full, (w_, x_, y_)))
    values = [float(e.subs({w_: 1, x_: 2, y_: 3})) for e in full]
    assert values == [-4.0, -2.0, 2.0]


def test_cse_symbols_avoid_variable_names():
    t0 = sg.variable("_t0")
    u = sg.exp(t0)
    replacements, expr = sg.to_sympy(u * u, cse=True)
    assert replacements[0][0].name != "_t0"


def test_variables_become_named_symbols_with_assumptions():
    assert sg.to_sympy(sg.variable("alpha"), assumptions=True) == sp.Symbol("alpha", real=True)
    assert (sg.to_sympy(sg.variable("n", dtype="int64"), assumptions=True)
            == sp.Symbol("n", integer=True))
    arr = sg.to_sympy(sg.variable("M", (2, 2)), assumptions=True)
    assert arr[1, 0] == sp.IndexedBase("M", real=True)[1, 0]


def test_numbers_are_exact():
    assert number(0.5) == sp.Rational(1, 2)
    assert number(3.0) == 3 and isinstance(number(3.0), sp.Integer)
    assert number(0.1) == sp.Float(0.1, precision=53) and float(number(0.1)) == 0.1
    assert number(np.float32(0.1)) == sp.Float(float(np.float32(0.1)), precision=53)
    assert number(np.inf) == sp.oo and number(-np.inf) == -sp.oo and number(np.nan) is sp.nan
    assert number(True) is sp.true and number(np.int64(7)) == 7
    x = sg.variable("x")
    assert sg.to_sympy(x ** 0.5, assumptions=True) == sp.sqrt(xs)


def test_from_sympy_keeps_float32_and_broadcasts_array_nodes():
    x32 = sg.variable("x", (3,), "float32")
    f = sg.from_sympy(sp.Rational(1, 3) * xs**2 + sp.pi, {"x": x32})
    assert f.dtype == np.float32
    X, Y = sg.variable("X", (2, 3)), sg.variable("Y", (3,))
    g = sg.from_sympy(xs**2 + sp.sin(ys), {xs: X, "y": Y})
    assert g.shape == (2, 3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    np.testing.assert_allclose(sg.evaluate(g, {X: a, Y: b}), a**2 + np.sin(b), rtol=1e-15)
    matrix = sg.from_sympy(sp.Matrix([[xs, 1], [ys * xs, 2]]), {"x": sg.variable("x0"),
                                                                 "y": sg.variable("y0")})
    assert matrix.shape == (2, 2)
    np.testing.assert_array_equal(sg.evaluate(matrix, {"x0": 3.0, "y0": 2.0}), [[3, 1], [6, 2]])
    const = sg.from_sympy(sp.sqrt(2) * 3)
    assert float(sg.evaluate(const)) == pytest.approx(3 * np.sqrt(2), rel=1e-15)


def test_from_sympy_builds_subtraction_and_division():
    x, y, f = build(xs - 2 * ys / (xs + 1) - 1 / ys)
    names = {n.op.name for n in sg.traversal.ancestors([f])}
    assert {"subtract", "divide"} <= names and "power" not in names
    assert float(sg.evaluate(f, {x: 1.0, y: 2.0})) == 1.0 - 2.0 * 2.0 / 2.0 - 0.5


def test_indexed_symbols_read_array_elements():
    M = sg.variable("M", (2, 2))
    base = sp.IndexedBase("M")
    det = sg.from_sympy(base[0, 0] * base[1, 1] - base[0, 1] * base[1, 0], {"M": M})
    value = rng.standard_normal((2, 2))
    assert float(sg.evaluate(det, {M: value})) == pytest.approx(np.linalg.det(value), rel=1e-12)
    i = sp.Symbol("i", integer=True)
    with pytest.raises(sg.SymgraphError, match="symbolic indices"):
        sg.from_sympy(base[i, 0], {"M": M})


def test_errors_are_clear():
    x = sg.variable("x")
    with pytest.raises(sg.MissingInputError, match="'y'.*'x'"):
        sg.from_sympy(xs + ys, {"x": x})
    with pytest.raises(sg.SymgraphError, match="gamma"):
        sg.from_sympy(sp.gamma(xs), {"x": x})

    class Custom(Op):
        def infer(self, a):
            return a.shape, a.dtype

        def f(self, a):
            return a

    with pytest.raises(sg.SymgraphError, match="'custom'.*register_to_sympy"):
        sg.to_sympy(make(Custom(), x))
    with pytest.raises(sg.SymgraphError, match="elementwise"):
        sg.to_sympy(sg.variable("big", (MAX_ELEMENTS + 1,)))
    with pytest.raises(sg.SymgraphError, match="two variables are called 'x'"):
        sg.to_sympy(x + sg.variable("x"))
    with pytest.raises(sg.SymgraphError, match="constant integer labels"):
        sg.to_sympy(sg.cross_entropy(sg.variable("L", (2, 3)), sg.variable("lab", (2,), "int64")))
    with pytest.raises(sg.SymgraphError, match="no condition holds"):
        sg.from_sympy(sp.Piecewise((xs, xs > 0)), {"x": x})


def _frames() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_deep_graphs_are_walked_iteratively():
    """Both directions on a graph 400 nodes deep run with only ~120 frames of stack to spare.

    The sympy form is a flat sum (sympy itself recurses on deep trees); the
    symgraph side is a chain, so any recursion over it would overflow.
    """
    vs = [sg.variable(f"v{k}") for k in range(400)]
    y = vs[0]
    for v in vs[1:]:
        y = y + v * 2.0
    feed = {v: 0.001 * k for k, v in enumerate(vs)}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 120)
    try:
        expr = sg.to_sympy(y)
        back = sg.from_sympy(expr, {v.name: v for v in vs})
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(expr, sp.Add) and len(expr.args) == 400
    assert float(sg.evaluate(back, feed)) == pytest.approx(float(sg.evaluate(y, feed)), rel=1e-12)
    chain = vs[0]
    for _ in range(60):  # moderately deep sympy trees round-trip too
        chain = sg.sin(chain) + 0.5
    again = sg.from_sympy(sg.to_sympy(chain), {"v0": vs[0]})
    assert float(sg.evaluate(again, {vs[0]: 0.3})) == pytest.approx(
        float(sg.evaluate(chain, {vs[0]: 0.3})), rel=1e-12)
