"""Higher-order derivatives: Hessians, HVPs, Jacobians, nested derivatives and graph growth.

Every value is checked against an independent computation: finite differences
of a symbolic gradient, closed forms, or numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_jacobian
from symgraph.graph import apply

rng = np.random.default_rng(4)
A = rng.standard_normal((4, 5))


def smooth(x):
    """A non-quadratic scalar function of a vector or matrix with a dense Hessian."""
    flat = sg.reshape(x, (-1,))
    m = sg.constant(rng.standard_normal((3, flat.shape[0])))
    return sg.sum(sg.tanh(m @ flat) ** 2) + sg.sum(sg.exp(0.3 * flat) * sg.sin(flat)) + (flat @ flat) ** 2 / 10


def grad_fn(y, x):
    g = sg.grad(y, x)
    return lambda v: sg.evaluate(g, {x: v})


# ---------------------------------------------------------------------------
# Hessians
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
def test_hessian_is_symmetric_and_matches_finite_differences_of_the_gradient(shape):
    x = sg.variable("x", shape)
    y = smooth(x)
    H = sg.hessian(y, x)
    assert H.shape == shape + shape
    x0 = rng.standard_normal(shape)
    h = sg.evaluate(H, {x: x0})
    n = int(np.prod(shape))
    hm = h.reshape(n, n)
    np.testing.assert_allclose(hm, hm.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, numeric_jacobian(grad_fn(y, x), x0), rtol=1e-6, atol=1e-7)


def test_hessian_of_a_list_is_the_block_matrix():
    a, b = sg.variable("a", (3,)), sg.variable("b", (2, 2))
    y = sg.sum(sg.sin(a) * sg.sum(b * b)) + sg.sum(sg.exp(b)) * a[0] + sg.sum(a ** 3)
    blocks = sg.hessian(y, [a, b])
    assert [[blk.shape for blk in row] for row in blocks] == [[(3, 3), (3, 2, 2)],
                                                              [(2, 2, 3), (2, 2, 2, 2)]]
    a0, b0 = rng.standard_normal(3), rng.standard_normal((2, 2))
    vals = sg.evaluate(blocks, {a: a0, b: b0})
    # Independent check: the same function of one concatenated vector.
    z = sg.variable("z", (7,))
    za, zb = z[:3], sg.reshape(z[3:], (2, 2))
    yz = sg.sum(sg.sin(za) * sg.sum(zb * zb)) + sg.sum(sg.exp(zb)) * za[0] + sg.sum(za ** 3)
    full = sg.evaluate(sg.hessian(yz, z), {z: np.concatenate([a0, b0.ravel()])})
    np.testing.assert_allclose(vals[0][0], full[:3, :3], rtol=1e-12)
    np.testing.assert_allclose(vals[0][1].reshape(3, 4), full[:3, 3:], rtol=1e-12)
    np.testing.assert_allclose(vals[1][0].reshape(4, 3), full[3:, :3], rtol=1e-12)
    np.testing.assert_allclose(vals[1][1].reshape(4, 4), full[3:, 3:], rtol=1e-12)


def test_hessian_of_a_quadratic_is_exact():
    x = sg.variable("x", (4,))
    Q = rng.standard_normal((4, 4))
    y = x @ (Q @ x) + sg.sum(3 * x)
    np.testing.assert_allclose(sg.evaluate(sg.hessian(y, x), {x: rng.standard_normal(4)}), Q + Q.T,
                               rtol=1e-14, atol=1e-14)


def test_hessian_of_a_node_not_depending_on_x_is_zero():
    x, u = sg.variable("x", (2,)), sg.variable("u")
    np.testing.assert_array_equal(sg.evaluate(sg.hessian(u * u, x), {u: 2.0}), np.zeros((2, 2)))


# ---------------------------------------------------------------------------
# Hessian-vector products
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_hvp_equals_hessian_times_v(mode):
    x = sg.variable("x", (2, 3))
    y = smooth(x)
    v0, x0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    hv, H = sg.evaluate([sg.hvp(y, x, sg.constant(v0), mode=mode), sg.hessian(y, x)], {x: x0})
    np.testing.assert_allclose(hv, np.tensordot(H, v0, axes=2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_hvp_with_lists_uses_the_full_block_hessian(mode):
    a, b = sg.variable("a", (3,)), sg.variable("b", (2,))
    y = sg.sum(sg.tanh(a) ** 2) * sg.sum(sg.exp(b)) + a[1] * b[0] ** 3
    va, vb = rng.standard_normal(3), rng.standard_normal(2)
    a0, b0 = rng.standard_normal(3), rng.standard_normal(2)
    hv = sg.evaluate(sg.hvp(y, [a, b], [va, vb], mode=mode), {a: a0, b: b0})  # arrays as v
    blocks = sg.evaluate(sg.hessian(y, [a, b]), {a: a0, b: b0})
    H = np.block(blocks)
    expect = H @ np.concatenate([va, vb])
    np.testing.assert_allclose(np.concatenate(hv), expect, rtol=1e-12, atol=1e-12)


def test_hvp_directions_mirror_x():
    """A plain list is one direction for a single x; structures follow x's."""
    x = sg.variable("x", (3,))
    y = sg.sum(x ** 3)
    feed = {x: [1.0, -1.0, 2.0]}
    expect = 6 * np.array([1.0, -1.0, 2.0]) * [1.0, 2.0, 3.0]
    np.testing.assert_allclose(sg.evaluate(sg.hvp(y, x, [1.0, 2.0, 3.0]), feed), expect)
    (got,) = sg.evaluate(sg.hvp(y, [x], [[1.0, 2.0, 3.0]]), feed)
    np.testing.assert_allclose(got, expect)
    got = sg.evaluate(sg.hvp(y, {"a": x}, {"a": np.array([1.0, 2.0, 3.0])}, mode="rev"), feed)
    np.testing.assert_allclose(got["a"], expect)
    with pytest.raises(sg.SymgraphError, match="mirror"):
        sg.hvp(y, {"a": x}, {"b": [1.0, 2.0, 3.0]})


def test_hvp_modes_agree_and_are_linear_in_v():
    x = sg.variable("x", (5,))
    v1, v2 = sg.variable("v1", (5,)), sg.variable("v2", (5,))
    y = smooth(x)
    feed = {x: rng.standard_normal(5), v1: rng.standard_normal(5), v2: rng.standard_normal(5)}
    f1, r1, f12 = sg.evaluate([sg.hvp(y, x, v1), sg.hvp(y, x, v1, mode="rev"),
                               sg.hvp(y, x, 2 * v1 - v2)], feed)
    f2 = sg.evaluate(sg.hvp(y, x, v2), feed)
    np.testing.assert_allclose(f1, r1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f12, 2 * f1 - f2, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_v_built_from_the_graph_is_held_constant(mode):
    """v = grad(y, x) depends on x; H v must not pick up derivatives of v."""
    x = sg.variable("x", (4,))
    y = smooth(x)
    g = sg.grad(y, x)
    x0 = rng.standard_normal(4)
    hv, g0, H = sg.evaluate([sg.hvp(y, x, g, mode=mode), g, sg.hessian(y, x)], {x: x0})
    np.testing.assert_allclose(hv, H @ g0, rtol=1e-12, atol=1e-12)
    # Without stop_gradient, reverse-over-reverse would give grad <g, g> = 2 H g.
    naive = sg.evaluate(sg.grad(sg.sum(g * g), x), {x: x0})
    np.testing.assert_allclose(naive, 2 * H @ g0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_derivatives_of_an_hvp_treat_a_graph_built_v_as_a_constant(mode):
    """d/dx <w, H(x) v(x)> with v held fixed: finite differences of x -> H(x) v0."""
    x = sg.variable("x", (3,))
    y = smooth(x)
    v = sg.sin(x) + 1.0  # built from the graph
    hv = sg.hvp(y, x, v, mode=mode)
    w = rng.standard_normal(3)
    third = sg.grad(sg.sum(hv * w), x)
    x0 = rng.standard_normal(3)
    v0 = np.sin(x0) + 1.0
    # The stop_gradient node is where v enters: feeding it freezes v at v0.
    (held,) = [n for n in sg.get_default_graph().nodes if n.op.name == "stop_gradient"]
    def frozen(xv):
        return float(sg.evaluate(sg.sum(hv * w), {x: xv, held: v0}))
    numeric = np.array([(frozen(x0 + e) - frozen(x0 - e)) / 2e-6 for e in np.eye(3) * 1e-6])
    np.testing.assert_allclose(sg.evaluate(third, {x: x0}), numeric, rtol=1e-6, atol=1e-7)


def test_a_leaf_v_stays_differentiable():
    """hvp is linear in a variable v, so grad_v <w, H v> = H w (H symmetric)."""
    x, v = sg.variable("x", (3,)), sg.variable("v", (3,))
    y = smooth(x)
    w = rng.standard_normal(3)
    x0 = rng.standard_normal(3)
    gv, H = sg.evaluate([sg.grad(sg.sum(sg.hvp(y, x, v) * w), v), sg.hessian(y, x)],
                        {x: x0, v: np.zeros(3)})
    np.testing.assert_allclose(gv, H @ w, rtol=1e-12, atol=1e-12)


def test_hvp_rejects_bad_arguments():
    x = sg.variable("x", (3,))
    y = sg.sum(x * x)
    with pytest.raises(sg.ShapeError, match=r"\(2,\).*\(3,\)"):
        sg.hvp(y, x, np.ones(2))
    with pytest.raises(sg.SymgraphError, match="mode"):
        sg.hvp(y, x, np.ones(3), mode="both")
    with pytest.raises(sg.SymgraphError, match="mirror"):
        sg.hvp(y, [x], [np.ones(3), np.ones(3)])
    with pytest.raises(sg.ShapeError, match="scalar"):
        sg.hvp(x * x, x, np.ones(3))
    with pytest.raises(sg.ShapeError, match="scalar"):
        sg.hessian(x * x, x)
    with sg.Graph():
        other = sg.variable("o", (3,))
    with pytest.raises(sg.GraphMismatchError):
        sg.hvp(y, x, other)


# ---------------------------------------------------------------------------
# Jacobians
# ---------------------------------------------------------------------------


def vector_fn(x):
    return sg.tanh(sg.constant(A) @ x) * sg.sum(x ** 2)


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
@pytest.mark.parametrize("case", ["wide", "tall", "matrix"])
def test_jacobian_matches_finite_differences(mode, case):
    if case == "wide":     # R^5 -> R^4
        x = sg.variable("x", (5,))
        y = vector_fn(x)
    elif case == "tall":   # R^2 -> R^6
        x = sg.variable("x", (2,))
        y = sg.concatenate([sg.sin(x), x * sg.exp(x[::-1]), sg.stack([x[0] * x[1], x[0]])[:, None][:, 0]])
    else:                  # (3, 2) -> (2, 3)
        x = sg.variable("x", (3, 2))
        y = sg.softmax(x.T @ sg.cos(x), axis=0)[:, :3] * sg.sum(x)
    J = sg.jacobian(y, x, mode=mode)
    assert J.shape == y.shape + x.shape
    x0 = rng.standard_normal(x.shape)
    numeric = numeric_jacobian(lambda v: sg.evaluate(y, {x: v}), x0)
    np.testing.assert_allclose(sg.evaluate(J, {x: x0}), numeric, rtol=1e-6, atol=1e-8)


def test_jacobian_auto_picks_the_mode_with_fewer_sweeps():
    x = sg.variable("x", (2,))
    tall = sg.concatenate([sg.sin(x), sg.exp(x), x * x])  # 6 outputs, 2 inputs
    assert sg.jacobian(tall, x) is sg.jacobian(tall, x, mode="fwd")
    w = sg.variable("w", (6,))
    wide = sg.sin(w[:2]) * sg.sum(w)  # 2 outputs, 6 inputs
    assert sg.jacobian(wide, w) is sg.jacobian(wide, w, mode="rev")


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobian_with_respect_to_a_list_and_of_a_scalar(mode):
    a, b = sg.variable("a", (2,)), sg.variable("b", (3,))
    y = sg.concatenate([a * b[0], sg.sin(b) * a[1]])
    Ja, Jb = sg.jacobian(y, [a, b], mode=mode)
    a0, b0 = rng.standard_normal(2), rng.standard_normal(3)
    ja, jb = sg.evaluate([Ja, Jb], {a: a0, b: b0})
    np.testing.assert_allclose(ja, numeric_jacobian(lambda v: sg.evaluate(y, {a: v, b: b0}), a0),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(jb, numeric_jacobian(lambda v: sg.evaluate(y, {a: a0, b: v}), b0),
                               rtol=1e-7, atol=1e-9)
    s = sg.sum(sg.exp(b))
    np.testing.assert_allclose(sg.evaluate(sg.jacobian(s, b, mode=mode), {b: b0}), np.exp(b0))


def test_jacobian_of_a_vector_function_is_the_gradient_transposed_by_rows():
    x = sg.variable("x", (5,))
    y = vector_fn(x)
    x0 = rng.standard_normal(5)
    J = sg.evaluate(sg.jacobian(y, x), {x: x0})
    rows = sg.evaluate([sg.grad(y[i], x) for i in range(4)], {x: x0})
    np.testing.assert_allclose(J, np.stack(rows), rtol=1e-13, atol=1e-14)


def test_jacobian_errors():
    x = sg.variable("x", (3,))
    with pytest.raises(sg.SymgraphError, match="mode"):
        sg.jacobian(x * 2, x, mode="sideways")
    with pytest.raises(sg.DTypeError):
        sg.jacobian(sg.cast(x, "int64"), x)
    with pytest.raises(sg.DTypeError):
        sg.jacobian(x * 2, sg.variable("i", (2,), "int64"))


# ---------------------------------------------------------------------------
# nested derivatives to order >= 4
# ---------------------------------------------------------------------------

CLOSED_FORMS = {
    "sin": (sg.sin, lambda x, k: np.sin(x + k * np.pi / 2)),
    "exp": (sg.exp, lambda x, k: np.exp(x)),
    "sin*exp": (lambda x: sg.sin(x) * sg.exp(x),
                lambda x, k: 2 ** (k / 2) * np.exp(x) * np.sin(x + k * np.pi / 4)),
    "x^5*cos": (lambda x: x ** 5 * sg.cos(x),  # Leibniz rule
                lambda x, k: sum(math.comb(k, j) * _dpow5(x, j) * np.cos(x + (k - j) * np.pi / 2)
                                 for j in range(k + 1))),
    "log": (sg.log, lambda x, k: (-1) ** (k - 1) * math.factorial(k - 1) / x ** k),
    "tanh": (sg.tanh, None),
}


def _dpow5(x, j):
    return 0 if j > 5 else math.factorial(5) // math.factorial(5 - j) * x ** (5 - j)


def _tanh_derivative(x, k):
    """d^k/dx^k tanh from the polynomial recurrence p_{k+1}(t) = p_k'(t) (1 - t^2)."""
    p = np.polynomial.Polynomial([0, 1])
    for _ in range(k):
        p = p.deriv() * np.polynomial.Polynomial([1, 0, -1])
    return p(np.tanh(x))


def _nth(y, x, k, how):
    for _ in range(k):
        if how == "rev":
            y = sg.grad(sg.sum(y), x)  # elementwise f: grad of the sum is f' per element
        else:
            y = sg.jvp(y, x, sg.constant(np.ones(x.shape)))
    return y


@pytest.mark.parametrize("how", ["rev", "fwd"])
@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_fourth_and_fifth_derivatives_match_closed_forms(name, how):
    fn, closed = CLOSED_FORMS[name]
    x = sg.variable("x", (4,))
    x0 = np.array([0.3, 0.9, 1.7, 2.5])
    d4 = _nth(fn(x), x, 4, how)
    d5 = _nth(d4, x, 1, how)
    got4, got5 = sg.evaluate([d4, d5], {x: x0})
    expect = (lambda v, k: _tanh_derivative(v, k)) if closed is None else closed
    np.testing.assert_allclose(got4, expect(x0, 4), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got5, expect(x0, 5), rtol=1e-11, atol=1e-11)
    top = max(n.order for n in sg.get_default_graph().nodes)
    # derivatives may reuse earlier nodes: exp's derivative is exp itself, and sin's
    # fourth is sin (1 * exp(x) and -(-sin(x)) are folded as they are built)
    assert top == 5 if name not in ("exp", "sin") else top < 5


def test_mixed_forward_and_reverse_nesting():
    """d^4/dx^4 (sin x e^x) by alternating jvp and grad equals the closed form -4 e^x sin x."""
    x = sg.variable("x")
    d = sg.sin(x) * sg.exp(x)
    for k in range(4):
        d = sg.grad(d, x) if k % 2 else sg.jvp(d, x, sg.constant(1.0))
    assert float(sg.evaluate(d, {x: 0.7})) == pytest.approx(-4 * np.exp(0.7) * np.sin(0.7), rel=1e-12)


def test_mixed_partials_of_a_two_variable_function():
    """d^4 / dx^2 dy^2 of exp(x y) = exp(xy) (x^2 y^2 + 4 x y + 2)."""
    x, y = sg.variable("x"), sg.variable("y")
    f = sg.exp(x * y)
    d = sg.grad(sg.grad(sg.grad(sg.grad(f, x), x), y), y)
    xv, yv = 0.4, -1.3
    expect = np.exp(xv * yv) * (xv**2 * yv**2 + 4 * xv * yv + 2)
    assert float(sg.evaluate(d, {x: xv, y: yv})) == pytest.approx(expect, rel=1e-12)


# ---------------------------------------------------------------------------
# graph growth per order
# ---------------------------------------------------------------------------


def _growth(build_next, start, graph, orders):
    """Nodes added by each successive differentiation."""
    added, d = [], start
    for _ in range(orders):
        before = len(graph)
        d = build_next(d)
        added.append(len(graph) - before)
    return added


def _assert_bounded(added, bound):
    ratios = [b / a for a, b in zip(added, added[1:])]
    assert all(r <= bound for r in ratios), (added, ratios)


@pytest.mark.parametrize("how", ["rev", "fwd"])
def test_scalar_graph_grows_by_a_bounded_factor_per_order(how, fresh_graph):
    x = sg.variable("x")
    one = sg.constant(1.0)
    step = (lambda d: sg.grad(d, x)) if how == "rev" else (lambda d: sg.jvp(d, x, one))
    added = _growth(step, sg.sin(x) * sg.exp(x), fresh_graph, 7)
    _assert_bounded(added, 2.0)
    assert sum(added) < 400


@pytest.mark.parametrize("how", ["rev", "fwd"])
@pytest.mark.parametrize("act", [sg.relu, sg.tanh])
def test_mlp_graph_grows_by_a_bounded_factor_per_order(how, act, fresh_graph):
    X, labels = sg.variable("X", (8, 5)), sg.variable("y", (8,), "int64")
    W1, W2 = sg.variable("W1", (5, 4)), sg.variable("W2", (4, 3))
    V1, V2 = sg.variable("V1", (5, 4)), sg.variable("V2", (4, 3))
    loss = sg.cross_entropy(act(X @ W1) @ W2, labels) + 1e-3 * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
    if how == "rev":
        def step(d):
            return sg.grad(sg.sum(d[0] * V1) + sg.sum(d[1] * V2), [W1, W2])
    else:
        def step(d):
            return sg.jvp(d, [W1, W2], [V1, V2])
    first = sg.grad(loss, [W1, W2])
    added = _growth(step, first, fresh_graph, 5)  # orders 2..6
    _assert_bounded(added, 2.0)


# ---------------------------------------------------------------------------
# MLP Hessian-vector products against finite differences of the gradient
# ---------------------------------------------------------------------------


def softplus(z):
    return sg.log(1 + sg.exp(z))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("act", [sg.relu, sg.tanh, softplus], ids=["relu", "tanh", "softplus"])
def test_mlp_hvp_matches_finite_differences_of_the_gradient(mode, act):
    B, D, H, C = 12, 6, 5, 3
    X0 = rng.standard_normal((B, D))
    y0 = rng.integers(0, C, B)
    X, labels = sg.variable("X", (B, D)), sg.variable("y", (B,), "int64")
    W1, W2 = sg.variable("W1", (D, H)), sg.variable("W2", (H, C))
    loss = (sg.cross_entropy(act(X @ W1) @ W2, labels)
            + 1e-2 * (sg.sum(sg.square(W1)) + sg.sum(sg.square(W2))))
    V = [rng.standard_normal((D, H)), rng.standard_normal((H, C))]
    hv = sg.hvp(loss, [W1, W2], V, mode=mode)
    grads = sg.grad(loss, [W1, W2])
    P = [rng.standard_normal((D, H)), rng.standard_normal((H, C))]
    base = {X: X0, labels: y0}

    def g_at(t):
        return sg.evaluate(grads, {**base, W1: P[0] + t * V[0], W2: P[1] + t * V[1]})

    eps = 1e-5
    numeric = [(a - b) / (2 * eps) for a, b in zip(g_at(eps), g_at(-eps))]
    got = sg.evaluate(hv, {**base, W1: P[0], W2: P[1]})
    for g, n in zip(got, numeric):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-7)
    assert np.abs(got[0]).max() > 1e-3  # second order through the hidden layer is nontrivial


# ---------------------------------------------------------------------------
# forward mode of user ops
# ---------------------------------------------------------------------------


class Cube(sg.Op):
    """x^3 with bprop only: forward mode must transpose it."""

    name = "cube"

    def f(self, x):
        return x ** 3

    def bprop(self, inputs, out, g):
        return [g * 3 * sg.square(inputs[0])]


class Blend(sg.Op):
    """a * sin(b) with bprop only, two inputs, one of them broadcast."""

    name = "blend"

    def f(self, a, b):
        return a * np.sin(b)

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: sg.sum(g * sg.sin(b), axis=0), lambda: g * a * sg.cos(b)]


class Opaque(sg.Op):
    name = "opaque"

    def f(self, x):
        return x + 1


def test_forward_mode_of_an_op_without_jvp_transposes_its_bprop():
    a, b = sg.variable("a", (3,)), sg.variable("b", (2, 3))
    y = apply(Cube(), [apply(Blend(), [a, b])])
    a0, b0 = rng.standard_normal(3), rng.standard_normal((2, 3))
    ta, tb = rng.standard_normal(3), rng.standard_normal((2, 3))
    ty = sg.jvp(y, [a, b], [sg.constant(ta), sg.constant(tb)])

    def at(s):
        return sg.evaluate(y, {a: a0 + s * ta, b: b0 + s * tb})

    np.testing.assert_allclose(sg.evaluate(ty, {a: a0, b: b0}), (at(1e-6) - at(-1e-6)) / 2e-6,
                               rtol=1e-6, atol=1e-8)
    # the transposition's nodes are first-order derivative nodes, like the rest of the jvp
    assert ty.order == 1
    assert {n.order for n in sg.get_default_graph().nodes if n.role == "gradient"} == {1}
    # and its second order (hessian through the same ops) works too
    s = sg.sum(y)
    H = sg.evaluate(sg.hessian(s, a), {a: a0, b: b0})
    numeric = numeric_jacobian(lambda v: sg.evaluate(sg.grad(s, a), {a: v, b: b0}), a0)
    np.testing.assert_allclose(H, numeric, rtol=1e-6, atol=1e-7)


def test_forward_mode_through_an_op_without_rules_names_the_op():
    x = sg.variable("x", (2,))
    y = sg.sin(apply(Opaque(), [x]))
    with pytest.raises(sg.UndefinedGradientError, match="opaque"):
        sg.jvp(y, x, sg.constant(np.ones(2)))


def test_jvp_with_a_node_listed_twice_adds_the_tangents():
    x = sg.variable("x", (3,))
    y = sg.sin(x) * x
    t1, t2 = rng.standard_normal(3), rng.standard_normal(3)
    x0 = rng.standard_normal(3)
    both, summed = sg.evaluate([sg.jvp(y, [x, x], [sg.constant(t1), sg.constant(t2)]),
                                sg.jvp(y, x, sg.constant(t1 + t2))], {x: x0})
    np.testing.assert_allclose(both, summed, rtol=1e-14)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_float32_hvp_graph_stays_float32(mode):
    X, labels = sg.variable("X", (4, 3), "float32"), sg.variable("y", (4,), "int64")
    W1, W2 = sg.variable("W1", (3, 5), "float32"), sg.variable("W2", (5, 2), "float32")
    h = sg.relu(X @ W1)
    loss = (sg.cross_entropy(sg.maximum(h, sg.where(h > 1, h, 0)) @ W2, labels)
            + 1e-3 * sg.sum(sg.square(W2)) + sg.sum(sg.abs(sg.minimum(W1, 0.5))))
    hv = sg.hvp(loss, [W1, W2], [np.ones((3, 5)), np.ones((5, 2))], mode=mode)
    from symgraph.traversal import ancestors
    wide = [n for n in ancestors(hv) if n.dtype == np.float64]
    assert not wide, wide
    assert all(v.dtype == np.float32 for v in hv)


def test_where_types_python_scalars_after_the_branches(fresh_graph):
    x = sg.variable("x", (3,), "float32")
    mask = np.array([True, False, True])
    w = sg.where(mask, x, 0)  # numpy condition, node branch: joins x's graph, stays float32
    assert w.dtype == np.float32 and w.inputs[0].graph is fresh_graph
    assert w.dtype == np.where(mask, np.ones(3, np.float32), 0).dtype
    assert sg.where(x > 0, 1.0, x).dtype == np.float32
    np.testing.assert_array_equal(sg.evaluate(sg.where(x > 1, 2, 3), {x: [0, 2, 3]}), [3, 2, 2])
