"""Compiled loops inside loop bodies: the buffers one loop hands to another.

A body's carry parameter may be written in place by a loop inside that body
only if the loop around hands it over (a copy it owns); the caller's arrays,
read-only broadcasts and recorded trajectories must never be written.  Each
case compares ``sg.function`` with ``sg.evaluate`` on two calls and checks
that the inputs are unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg


def check(inputs, outputs, arrays):
    f = sg.function(inputs, outputs)
    before = [a.copy() for a in arrays]
    want = sg.evaluate(outputs, dict(zip(inputs, arrays)))
    first = f(*arrays)
    kept = [np.array(v, copy=True) for v in first]
    second = f(*arrays)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg="a compiled function changed its input")
    for got in (kept, second):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    for k, w in zip(kept, first):
        np.testing.assert_array_equal(k, w, err_msg="a second call overwrote the first's result")


def test_jvp_through_a_scan_inside_a_scan_leaves_the_inputs_alone():
    with sg.Graph():
        w, h0, u = sg.variable("w", (2,)), sg.variable("h0", (2,)), sg.variable("u", (2,))
        xs = sg.variable("xs", (3, 4, 2))

        def outer(h, xrow):
            g, _ = sg.scan(lambda g, x: (sg.tanh(g * w + x), None), h, xrow)
            return g + h * 0.5, None
        h, _ = sg.scan(outer, h0, xs)
        jv = sg.jvp(sg.sum(h), [w], [u])
        r = np.random.default_rng(0)
        check([w, xs, h0, u], [jv], [r.standard_normal(s) for s in [(2,), (3, 4, 2), (2,), (2,)]])


def test_hessian_and_jacobian_through_nested_scans():
    with sg.Graph():
        w, v, h0 = [sg.variable(n, (2,)) for n in "wvh"]
        xs = sg.variable("xs", (3, 4, 2))

        def outer(h, xrow):
            def inner(g, x):
                g2 = sg.tanh(g * w + x * h)
                return g2, g2 * v
            g, ys = sg.scan(inner, h, xrow)
            return g, sg.sum(ys)
        h, ys = sg.scan(outer, h0, xs)
        loss = sg.sum(h * h) + sg.sum(ys)
        H = sg.hessian(loss, w)
        J = sg.jacobian(sg.grad(loss, w), w, mode="rev")
        r = np.random.default_rng(1)
        check([w, v, xs, h0], [H, J], [r.standard_normal(s) * 0.5 for s in
                                       [(2,), (2,), (3, 4, 2), (2,)]])


@pytest.mark.parametrize("k", [1, 2, 4])
def test_third_order_through_a_checkpointed_scan(k):
    with sg.Graph():
        w, u = sg.variable("w", (2,)), sg.variable("u", (2,))
        h, _ = sg.scan(lambda h, _: (sg.sin(h * w), None), sg.ones((2,)), None, length=4,
                       checkpoint=k)
        (hv,) = sg.hvp(sg.sum(h), [w], [u], mode="fwd")
        (t3,) = sg.grad(sg.sum(hv * u), [w])
        check([w, u], [t3], [np.full(2, 0.5), np.ones(2)])


def test_while_loop_inside_a_scan_under_hessian():
    with sg.Graph():
        w, xs = sg.variable("w", (2,)), sg.variable("xs", (3, 2))

        def step(h, x):
            g = sg.while_loop(lambda c: sg.sum(c * c) < 4.0, lambda c: c * 1.5 + w * 0.1,
                              h + x * 0.1, max_steps=20)
            return sg.tanh(g), sg.sum(g)
        h, ys = sg.scan(step, sg.full((2,), 0.3), xs)
        loss = sg.sum(ys) + sg.sum(h * w)
        check([w, xs], [sg.hessian(loss, w)], [np.array([0.2, -0.1]),
                                                np.random.default_rng(2).normal(size=(3, 2))])
