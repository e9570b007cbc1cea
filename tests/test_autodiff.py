"""build_grad: the seed examples, gates, shared subexpressions, depth, higher order."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad


def test_blog_seed_worked_example():
    """f = (wx - y)^2 at w=1, x=2, y=3; gradients over [f, l2, y, l1, x, w]."""
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    l1 = w * x
    l2 = l1 - y
    f = l2 ** 2
    grads = sg.grad(f, [f, l2, y, l1, x, w])
    values = sg.evaluate([f, l1, l2] + grads, {"w": 1, "x": 2, "y": 3})
    assert [float(v) for v in values[:3]] == [1.0, 2.0, -1.0]
    assert [float(v) for v in values[3:]] == [1, -2, 2, -2, -2, -4]


def test_gates_add_distributes_mul_swaps_max_routes():
    x, y, z = sg.variable("x"), sg.variable("y"), sg.variable("z")
    feed = {"x": 3.0, "y": -4.0, "z": 2.0}
    assert [float(v) for v in sg.evaluate(sg.grad(2 * (x + y), [x, y]), feed)] == [2, 2]
    assert [float(v) for v in sg.evaluate(sg.grad(2 * (x * y), [x, y]), feed)] == [-8, 6]
    assert [float(v) for v in sg.evaluate(sg.grad(2 * sg.maximum(x, z), [x, z]), feed)] == [2, 0]
    assert [float(v) for v in sg.evaluate(sg.grad(sg.maximum(z, x), [x, z]), feed)] == [1, 0]
    # ties split the gradient evenly, as JAX does
    assert [float(v) for v in sg.evaluate(sg.grad(sg.maximum(x, y), [x, y]), {"x": 1, "y": 1})] \
        == [0.5, 0.5]


def test_inputs_are_treated_as_distinct():
    x = sg.variable("x")
    (g,) = sg.grad(x * x, [x])
    assert float(sg.evaluate(g, {x: 3.0})) == 6.0


def test_gradients_with_respect_to_intermediates():
    x = sg.variable("x", (3,))
    h = sg.tanh(x)
    y = sg.sum(h * h)
    gh, gx = sg.grad(y, [h, x])
    v = np.array([0.1, -0.5, 2.0])
    gh_v, gx_v = sg.evaluate([gh, gx], {x: v})
    np.testing.assert_allclose(gh_v, 2 * np.tanh(v))
    np.testing.assert_allclose(gx_v, 2 * np.tanh(v) * (1 - np.tanh(v) ** 2))


def test_wrt_structure_is_mirrored():
    a, b, c = sg.variable("a"), sg.variable("b"), sg.variable("c")
    y = a * b + c
    single = sg.grad(y, a)
    assert isinstance(single, sg.Node)
    as_tuple = sg.grad(y, (a, b))
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    nested = sg.grad(y, {"first": a, "rest": [b, c]})
    vals = sg.evaluate(nested, {"a": 2.0, "b": 5.0, "c": 1.0})
    assert float(vals["first"]) == 5.0 and [float(v) for v in vals["rest"]] == [2.0, 1.0]


def test_unreachable_inputs_get_zeros_of_their_shape():
    x = sg.variable("x", (2, 3))
    u = sg.variable("u", (4,))
    gx, gu = sg.grad(sg.sum(x), [x, u])
    vx, vu = sg.evaluate([gx, gu], {x: np.ones((2, 3))})
    assert vu.shape == (4,) and not vu.any()
    np.testing.assert_array_equal(vx, np.ones((2, 3)))


def test_broadcast_gradients_are_summed_back():
    b = sg.variable("b", (3,))
    x = sg.variable("x", (4, 3))
    (gb,) = sg.grad(sg.sum((x + b) ** 2), [b])
    xv, bv = np.arange(12.0).reshape(4, 3), np.array([1.0, -1.0, 0.5])
    np.testing.assert_allclose(sg.evaluate(gb, {x: xv, b: bv}), (2 * (xv + bv)).sum(axis=0))


def test_grad_y_gives_vector_jacobian_products():
    x = sg.variable("x", (3,))
    y = sg.sin(x)
    w = np.array([1.0, 2.0, 3.0])
    (g,) = sg.grad(y, [x], grad_y=w)
    v = np.array([0.3, 0.2, 0.1])
    np.testing.assert_allclose(sg.evaluate(g, {x: v}), w * np.cos(v))


def test_non_scalar_without_grad_y_is_a_clear_error():
    x = sg.variable("x", (3,))
    with pytest.raises(sg.ShapeError, match=r"shape \(3,\).*grad_y"):
        sg.grad(x * 2, x)


def test_higher_orders_of_a_polynomial():
    x = sg.variable("x")
    d = x ** 5
    values = []
    for k in range(1, 6):
        d = sg.grad(d, x)
        assert d.order == k
        values.append(float(sg.evaluate(d, {x: 1.5})))
    closed = [5 * 1.5 ** 4, 20 * 1.5 ** 3, 60 * 1.5 ** 2, 120 * 1.5, 120.0]
    np.testing.assert_allclose(values, closed)


def test_grad_of_grad_of_mixed_function_matches_finite_differences():
    x = sg.variable("x", (3,))
    y = sg.sum(sg.sin(x) * sg.exp(x[::-1]))
    (g,) = sg.grad(y, [x])
    (h,) = sg.grad(sg.sum(g * np.array([1.0, -2.0, 0.5])), [x])
    v = np.array([0.2, -0.4, 0.9])
    numeric = numeric_grad(
        lambda t: float(np.sum(sg.evaluate(g, {x: t}) * np.array([1.0, -2.0, 0.5]))), v)
    np.testing.assert_allclose(sg.evaluate(h, {x: v}), numeric, rtol=1e-6, atol=1e-8)


def test_shared_subexpressions_stay_linear():
    """A 60-level chain in which each level uses the previous one twice.

    Naive symbolic differentiation would blow up as 2^60; build_grad's gradient
    table keeps the gradient graph linear in the number of levels.
    """
    x = sg.variable("x")
    h = x
    levels = 60
    for _ in range(levels):
        h = sg.sin(h) * h
    before = len(x.graph)
    (g,) = sg.grad(h, [x])
    added = len(x.graph) - before
    assert added <= 8 * levels

    # reference: forward-mode dual numbers in plain Python
    val, der = 0.9, 1.0
    for _ in range(levels):
        val, der = math.sin(val) * val, math.cos(val) * der * val + math.sin(val) * der
    hv, gv = sg.evaluate([h, g], {x: 0.9})
    assert float(hv) == pytest.approx(val, rel=1e-12)
    assert float(gv) == pytest.approx(der, rel=1e-9)


def test_chain_deeper_than_three_times_the_recursion_limit():
    depth = 3 * sys.getrecursionlimit() + 100
    x = sg.variable("x")
    h = x
    for _ in range(depth):
        h = h * 1.0001 + 0.001
    (g,) = sg.grad(h, [x])
    (gg,) = sg.grad(g, [x])
    hv, gv, ggv = sg.evaluate([h, g, gg], {x: 0.5})
    assert float(gv) == pytest.approx(1.0001 ** depth, rel=1e-9)
    assert float(ggv) == 0.0
    assert np.isfinite(hv)


def test_stop_gradient_blocks_only_its_path():
    x = sg.variable("x")
    y = sg.stop_gradient(x * x) * x
    (g,) = sg.grad(y, [x])
    assert float(sg.evaluate(g, {x: 3.0})) == 9.0
    assert float(sg.evaluate(y, {x: 3.0})) == 27.0


class Cube(sg.Op):
    name = "cube"

    def f(self, x):
        return x ** 3

    def bprop(self, inputs, output, grad):
        (x,) = inputs
        return [grad * 3 * x * x]


class NoGrad(sg.Op):
    name = "no_grad_op"

    def f(self, x):
        return np.floor(x)


class ScaleByInt(sg.Op):
    """x * k with integer k: the integer input gets no gradient (None)."""

    name = "scale_by_int"

    def infer(self, x, k):
        return x.shape, x.dtype

    def f(self, x, k):
        return x * k

    def bprop(self, inputs, output, grad):
        return [grad * sg.cast(inputs[1], inputs[0].dtype), None]


def test_user_op_with_bprop_is_differentiable_twice():
    x = sg.variable("x")
    y = Cube()(x)
    (g,) = sg.grad(y, [x])
    (h,) = sg.grad(g, [x])
    assert [float(v) for v in sg.evaluate([y, g, h], {x: 2.0})] == [8.0, 12.0, 12.0]


def test_user_op_without_bprop_fails_at_build_time_naming_the_op():
    x = sg.variable("x")
    y = NoGrad()(x) * x
    with pytest.raises(sg.UndefinedGradientError, match="no_grad_op"):
        sg.grad(y, [x])
    # a gradient that does not pass through the op is fine
    (g,) = sg.grad(sg.stop_gradient(NoGrad()(x)) * x, [x])
    assert float(sg.evaluate(g, {x: 2.5})) == 2.0


def test_none_in_bprop_means_no_gradient_to_that_input():
    x = sg.variable("x", (2,))
    k = sg.variable("k", (), "int64")
    y = sg.sum(ScaleByInt()(x, k))
    gx, = sg.grad(y, [x])
    np.testing.assert_array_equal(sg.evaluate(gx, {x: np.ones(2), k: 3}), [3.0, 3.0])
    with pytest.raises(sg.DTypeError, match="int64"):
        sg.grad(y, [k])


def test_the_graph_records_what_each_gradient_node_is():
    """Graph.derivatives: gradient node -> (y, x) for a scalar y seeded with one."""
    w, x = sg.variable("w"), sg.variable("x")
    l1 = sg.sin(w * x)
    f = l1 ** 2
    dw, dx = sg.grad(f, [w, x])
    known = f.graph.derivatives
    assert known[dw] == (f, w) and known[dx] == (f, x)
    dl1 = next(n for n, (y, at) in known.items() if at is l1)
    assert float(sg.evaluate(dl1, {"w": 0.3, "x": 2.0})) == pytest.approx(2 * np.sin(0.6))
    before = dict(known)
    sg.grad(f, [w], grad_y=sg.constant(3.0))  # scaled: a multiple of df/dw, recorded as none
    assert known == before
