"""Transforms and runners through loops and branches: ``sg.vectorize`` (and so
``sg.jacobian``/``sg.hessian``), sparsity patterns, dask arrays, ``check_finite``.

Every batched result is compared with the per-example results stacked; every
derivative with central finite differences; every dask result with numpy.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg
from symgraph.diagnostics import NonFiniteError
from symgraph.errors import EvaluationError

B, T, D = 4, 5, 3
rng = np.random.default_rng(0)


def per_example(outputs, feed: dict, batched: dict[str, str]) -> list[np.ndarray]:
    """``outputs`` evaluated example by example (``batched`` maps a variable to the name of
    its batched feed), stacked along a new leading axis."""
    size = len(next(iter(feed[b] for b in batched.values())))
    rows = []
    for k in range(size):
        f = {n: v for n, v in feed.items() if n not in batched.values()}
        f.update({n: feed[b][k] for n, b in batched.items()})
        rows.append(sg.evaluate(outputs, f))
    return [np.stack([r[i] for r in rows]) for i in range(len(outputs))]


def fd(f, x0: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of array-valued ``f`` at ``x0``: shape f.shape + x0.shape."""
    x0 = np.asarray(x0, float)
    cols = []
    for i in range(x0.size):
        e = np.zeros(x0.size)
        e[i] = eps
        e = e.reshape(x0.shape)
        cols.append((np.asarray(f(x0 + e)) - np.asarray(f(x0 - e))) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x0)) + x0.shape)


# ---------------------------------------------------------------------------
# a small RNN scan
# ---------------------------------------------------------------------------

def rnn(**kw):
    h0 = sg.variable("h0", (D,))
    W = sg.variable("W", (D, D))
    xs = sg.variable("xs", (T, D))

    def step(h, x):
        h = sg.tanh(W @ h + x)
        return h, sg.sum(h * h)

    hT, ys = sg.scan(step, h0, xs, **kw)
    return {"h0": h0, "W": W, "xs": xs}, hT, ys


VALUES = {"h0": rng.normal(size=D), "W": rng.normal(size=(D, D)) * 0.5,
          "xs": rng.normal(size=(T, D))}
BATCHES = {"h0": rng.normal(size=(B, D)), "W": rng.normal(size=(B, D, D)) * 0.5,
           "xs": rng.normal(size=(B, T, D))}


@pytest.mark.parametrize("which", [("h0",), ("xs",), ("W",), ("h0", "xs", "W")],
                         ids=["carry", "xs", "const", "all"])
@pytest.mark.parametrize("kw", [{}, {"reverse": True}, {"checkpoint": 2}],
                         ids=["plain", "reverse", "checkpoint"])
def test_vectorize_scan_equals_per_example(which, kw):
    with sg.Graph():
        nodes, hT, ys = rnn(**kw)
        bvars = {k: sg.variable(k + "_b", (B,) + nodes[k].shape) for k in which}
        out = sg.vectorize([hT, ys], {nodes[k]: bvars[k] for k in which})
        feed = {**VALUES, **{k + "_b": BATCHES[k] for k in which}}
        got = sg.evaluate(out, feed)
        want = per_example([hT, ys], feed, {k: k + "_b" for k in which})
    assert got[0].shape == (B, D) and got[1].shape == (B, T)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-12)


def test_vectorize_scan_graph_does_not_grow_with_the_batch():
    sizes = []
    for size in (2, 50):
        with sg.Graph() as g:
            nodes, hT, ys = rnn()
            xb = sg.variable("xb", (size, T, D))
            sg.vectorize(sg.grad(sg.sum(hT) + sg.sum(ys), nodes["W"]), {nodes["xs"]: xb})
        sizes.append(len(g))
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize("checkpoint", [None, 2])
def test_per_example_gradients_through_a_scan(checkpoint):
    """The gradient is built first (the loop records its trajectory), then vectorized."""
    with sg.Graph():
        nodes, hT, ys = rnn(checkpoint=checkpoint)
        gW = sg.grad(sg.sum(ys * ys) + sg.sum(hT), nodes["W"])
        xb = sg.variable("xs_b", (B, T, D))
        got = sg.evaluate(sg.vectorize(gW, {nodes["xs"]: xb}), {**VALUES, "xs_b": BATCHES["xs"]})
        (want,) = per_example([gW], {**VALUES, "xs_b": BATCHES["xs"]}, {"xs": "xs_b"})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradient_of_a_vectorized_scan_and_a_nested_scan():
    with sg.Graph():
        W = sg.variable("W", (D, D))
        h0 = sg.variable("h0", (D,))
        xs = sg.variable("xs", (T, D))

        def outer(h, x):
            def inner(g, _):
                return sg.tanh(W @ g + x), None
            g, _ = sg.scan(inner, h, length=2)
            return g, sg.sum(g)

        hT, ys = sg.scan(outer, h0, xs)
        xb = sg.variable("xs_b", (B, T, D))
        vb = sg.vectorize(ys, {xs: xb})
        feed = {**VALUES, "xs_b": BATCHES["xs"]}
        (want,) = per_example([ys], feed, {"xs": "xs_b"})
        np.testing.assert_allclose(sg.evaluate(vb, feed), want, rtol=1e-12)
        loss = sg.sum(sg.sin(vb))
        g = sg.evaluate(sg.grad(loss, W), feed)
        num = fd(lambda w: sg.evaluate(loss, {**feed, "W": w}), VALUES["W"])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------
# jacobians and hessians through loops
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"checkpoint": 2}, {"reverse": True}],
                         ids=["plain", "checkpoint", "reverse"])
@pytest.mark.parametrize("wrt", ["h0", "W", "xs"])
def test_jacobian_and_hessian_through_a_scan(kw, wrt):
    with sg.Graph():
        nodes, hT, ys = rnn(**kw)
        x = nodes[wrt]
        loss = sg.sum(hT * hT) + sg.sum(sg.sin(ys))
        Jr, Jf, H = sg.evaluate([sg.jacobian(ys, x, mode="rev"), sg.jacobian(ys, x, mode="fwd"),
                                 sg.hessian(loss, x)], VALUES)
        at = lambda v: {**VALUES, wrt: v}  # noqa: E731
        num_j = fd(lambda v: sg.evaluate(ys, at(v)), VALUES[wrt])
        g = sg.grad(loss, x)
        num_h = fd(lambda v: sg.evaluate(g, at(v)), VALUES[wrt])
    np.testing.assert_allclose(Jr, num_j, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, num_h, rtol=1e-6, atol=1e-8)


def test_jacobian_and_hessian_through_while_loop_and_cond():
    with sg.Graph():
        x = sg.variable("x", (3,))
        y = sg.while_loop(lambda s: sg.sum(s * s) < 100.0, lambda s: s * 1.5 + 0.1 * sg.sin(s), x,
                          max_steps=50)
        z = sg.cond(sg.sum(y) > 0, lambda u: sg.exp(u / 10), lambda u: u * u, y)
        loss = sg.sum(sg.sin(z))
        x0 = np.array([1.0, 2.0, 0.5])
        J, Jf, H = sg.evaluate([sg.jacobian(z, x, mode="rev"), sg.jacobian(z, x, mode="fwd"),
                                sg.hessian(loss, x)], {"x": x0})
        g = sg.grad(loss, x)
        np.testing.assert_allclose(J, fd(lambda v: sg.evaluate(z, {"x": v}), x0), rtol=1e-6)
        np.testing.assert_allclose(Jf, J, rtol=1e-12)
        np.testing.assert_allclose(H, fd(lambda v: sg.evaluate(g, {"x": v}), x0), rtol=1e-5,
                                   atol=1e-8)


# ---------------------------------------------------------------------------
# while loops: the trip count may differ per example
# ---------------------------------------------------------------------------

def grow(x, a, max_steps=30):
    """(s, n): s multiplied by a until it reaches 10, n counting the steps."""
    return sg.while_loop(lambda c: c[0] < 10.0, lambda c: (c[0] * a + 0.1 * sg.sin(c[0]), c[1] + 1.0),
                         (x, sg.constant(0.0)), max_steps=max_steps)


XB = np.array([1.0, 3.0, 0.2, 11.0])  # 4, 2, 6 and 0 steps


def test_vectorize_while_loop_with_different_trip_counts():
    with sg.Graph():
        x, a = sg.variable("x", ()), sg.variable("a", ())
        s, n = grow(x, a)
        xb = sg.variable("xb", (B,))
        got = sg.evaluate(sg.vectorize([s, n], {x: xb}), {"xb": XB, "a": 2.0})
        want = per_example([s, n], {"xb": XB, "a": 2.0}, {"x": "xb"})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
    np.testing.assert_array_equal(got[1], want[1])
    assert len(set(want[1])) == B  # really different trip counts


def test_vectorize_while_loop_capped_by_max_steps_and_batched_condition_constant():
    with sg.Graph():
        x, lim = sg.variable("x", ()), sg.variable("lim", ())
        s = sg.while_loop(lambda c: c < lim, lambda c: c * 2.0, x, max_steps=3)
        lb = sg.variable("lb", (B,))
        feed = {"x": 1.0, "lb": np.array([0.5, 3.0, 5.0, 1e6])}  # 0, 2, 3 steps, and capped at 3
        got = sg.evaluate(sg.vectorize(s, {lim: lb}), feed)
        (want,) = per_example([s], feed, {"lim": "lb"})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, [1.0, 4.0, 8.0, 8.0])


def test_vectorize_while_loop_whose_condition_is_shared():
    """Only a carry the condition does not read is batched: one trip count for all."""
    with sg.Graph():
        x, n0 = sg.variable("x", ()), sg.variable("n0", ())
        s, n = sg.while_loop(lambda c: c[1] < 3.0, lambda c: (c[0] * 2.0, c[1] + 1.0), (x, n0))
        xb = sg.variable("xb", (B,))
        got = sg.evaluate(sg.vectorize([s, n], {x: xb}), {"xb": XB, "n0": 0.0})
    np.testing.assert_array_equal(got[0], XB * 8)
    np.testing.assert_array_equal(got[1], [3.0] * B)


def test_per_example_gradients_of_a_while_loop_with_different_trip_counts():
    with sg.Graph():
        x, a = sg.variable("x", ()), sg.variable("a", ())
        s, _ = grow(x, a)
        g = sg.grad(s * s, [x, a])
        xb = sg.variable("xb", (B,))
        got = sg.evaluate(sg.vectorize(g, {x: xb}), {"xb": XB, "a": 2.0})
        want = per_example(g, {"xb": XB, "a": 2.0}, {"x": "xb"})
        for k in range(B):
            num = fd(lambda v: sg.evaluate(s * s, {"x": v, "a": 2.0}), XB[k])
            np.testing.assert_allclose(got[0][k], num, rtol=1e-6)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13)


def test_gradient_of_a_vectorized_while_loop_and_vectorizing_twice():
    with sg.Graph():
        x, a = sg.variable("x", ()), sg.variable("a", ())
        s, _ = grow(x, a)
        xb = sg.variable("xb", (B,))
        vb = sg.vectorize(s, {x: xb})
        loss = sg.sum(vb * vb)
        ga, gx = sg.evaluate(sg.grad(loss, [a, xb]), {"xb": XB, "a": 2.0})
        np.testing.assert_allclose(ga, fd(lambda v: sg.evaluate(loss, {"xb": XB, "a": v}), 2.0),
                                   rtol=1e-6)
        np.testing.assert_allclose(gx, fd(lambda v: sg.evaluate(loss, {"xb": v, "a": 2.0}), XB),
                                   rtol=1e-6, atol=1e-6)
        xbb = sg.variable("xbb", (3, B))
        grid = np.array([XB, [2.0, 4.0, 6.0, 8.0], [0.5, 0.25, 9.0, 9.9]])
        got = sg.evaluate(sg.vectorize(vb, {xb: xbb}), {"xbb": grid, "a": 2.0})
        want = [[sg.evaluate(s, {"x": v, "a": 2.0}) for v in row] for row in grid]
    np.testing.assert_allclose(got, want, rtol=1e-14)


# ---------------------------------------------------------------------------
# cond: shared or per-example predicate
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("which", [("x",), ("p",), ("p", "x")],
                         ids=["operand", "predicate", "both"])
def test_vectorize_cond_values_and_gradients(which):
    with sg.Graph():
        p, x, a = sg.variable("p", ()), sg.variable("x", ()), sg.variable("a", ())
        r = sg.cond(p > 0, lambda u: sg.exp(u) * a, lambda u: sg.log(u * u + 1.0) + a, x)
        g = sg.grad(r, [x, a])
        nodes = {"p": p, "x": x}
        bvars = {k: sg.variable(k + "_b", (B,)) for k in which}
        feed = {"p": 1.0, "x": 0.3, "a": 2.0, "p_b": np.array([1.0, -1.0, 1.0, -1.0]),
                "x_b": np.array([0.1, -0.5, 0.7, 2.0])}
        feed = {k: v for k, v in feed.items() if not (k in which or k.endswith("_b")
                                                     and k[:-2] not in which)}
        got = sg.evaluate(sg.vectorize([r] + g, {nodes[k]: bvars[k] for k in which}), feed)
        want = per_example([r] + g, feed, {k: k + "_b" for k in which})
    for a_, b_ in zip(got, want):
        np.testing.assert_allclose(a_, b_, rtol=1e-14)


def test_vectorize_cond_with_shared_predicate_runs_one_branch():
    """An unbatched predicate keeps one cond: the untaken branch never runs, even batched."""
    with sg.Graph():
        p, x = sg.variable("p", ()), sg.variable("x", ())
        r = sg.cond(p > 0, lambda u: u * 2.0, lambda u: sg.log(u), x)  # log(-1): never run
        xb = sg.variable("xb", (B,))
        out = sg.vectorize(r, {x: xb})
        got = sg.evaluate(out, {"p": 1.0, "xb": -np.ones(B)}, check_finite=True)
    np.testing.assert_array_equal(got, -2 * np.ones(B))


# ---------------------------------------------------------------------------
# sparsity through loops: a superset of the true pattern, and sparse derivatives
# ---------------------------------------------------------------------------

def test_sparsity_through_loops_is_a_superset():
    with sg.Graph():
        x, a = sg.variable("x", (6,)), sg.variable("a", ())

        def step(c, xi):
            return c * 0.9 + sg.sin(xi) * a, c * xi

        cT, ys = sg.scan(step, sg.constant(0.0), x[:3])
        w = sg.while_loop(lambda s: sg.sum(s) < 10.0, lambda s: s * 1.5, x[3:5] ** 2 + 1.0,
                          max_steps=20)
        y = sg.concatenate([ys, w, sg.cond(a > 0, lambda u: u * u, lambda u: -u, x[5:])])
        loss = sg.sum(y * y) + cT
        v = {"x": np.linspace(0.1, 1.0, 6), "a": 1.3}
        P = sg.sparsity(y, x).toarray()
        Hp = sg.hessian_sparsity(loss, x).toarray()
        J, H = sg.evaluate([sg.jacobian(y, x), sg.hessian(loss, x)], v)
        assert not np.any((J != 0) & ~P) and not np.any((H != 0) & ~Hp)
        # the blocks the loops do not connect stay apart
        assert not P[:3, 3:].any() and not P[3:5, :3].any() and not P[5, :5].any()
        sj, sh = sg.sparse_jacobian(y, x), sg.sparse_hessian(loss, x)
        np.testing.assert_allclose(sj.evaluate(v).toarray(), J, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sh.evaluate(v).toarray(), H, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# dask arrays: each step is dask operations; results equal numpy's
# ---------------------------------------------------------------------------

def test_dask_through_scan_while_loop_and_cond():
    da = pytest.importorskip("dask.array")
    with sg.Graph():
        nodes, hT, ys = rnn()
        loss = sg.sum(hT) + sg.sum(ys)
        s = sg.while_loop(lambda c: sg.sum(c * c) < 50.0, lambda c: c * 1.5, hT, max_steps=40)
        r = sg.cond(sg.sum(s) > 0, lambda u: u * 2.0, lambda u: sg.exp(u), s)
        outs = [hT, ys, r, loss] + sg.grad(sg.sum(r) + loss, [nodes["W"], nodes["xs"]])
        want = sg.evaluate(outs, VALUES)
        got = sg.evaluate(outs, {k: da.from_array(v, chunks=2) for k, v in VALUES.items()})
    assert all(isinstance(g, da.Array) for g in got)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.compute(), w, rtol=1e-12, atol=1e-14)


def test_dask_through_a_vectorized_while_loop():
    da = pytest.importorskip("dask.array")
    with sg.Graph():
        x, a = sg.variable("x", ()), sg.variable("a", ())
        s, n = grow(x, a)
        xb = sg.variable("xb", (B,))
        out = sg.vectorize([s, n], {x: xb})
        want = sg.evaluate(out, {"xb": XB, "a": 2.0})
        got = sg.evaluate(out, {"xb": da.from_array(XB, chunks=2), "a": 2.0})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.compute(), w, rtol=1e-14)


# ---------------------------------------------------------------------------
# check_finite and failing ops inside bodies say where
# ---------------------------------------------------------------------------

def test_check_finite_names_the_loop_the_step_and_the_body_node():
    with sg.Graph():
        x, xs = sg.variable("x", ()), sg.variable("xs", (10,))
        cT, ys = sg.scan(lambda c, xi: (c + sg.exp(xi), xi), x, xs)
        v = np.ones(10)
        v[3] = 1000.0
        with pytest.warns(RuntimeWarning, match=r"body node #\d+ exp produced inf \(in the body "
                                                r"of scan node #\d+\)"):
            with pytest.raises(NonFiniteError) as info:
                sg.evaluate(cT, {"x": 0.0, "xs": v}, check_finite=True)
        loop = cT.inputs[0]
    msg = str(info.value)
    assert msg.startswith(f"scan node #{loop.id}, step 3 of 10: body node #{info.value.node.id} "
                          "exp (forward node) produced non-finite values"), msg
    assert info.value.node.graph is loop.op.body.graph and info.value.node.op.name == "exp"


def test_check_finite_in_gradient_bodies_branches_and_nested_loops():
    with sg.Graph():
        x = sg.variable("x", ())
        w = sg.while_loop(lambda s: s < 1e300, lambda s: s * s, x, max_steps=100)
        with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteError) as info:
            sg.evaluate(w, {"x": 3.0}, check_finite=True)
        assert re.match(r"while_loop node #\d+, step 9 \(max_steps=100\): body node #\d+ "
                        r"multiply", str(info.value)), str(info.value)

        p = sg.variable("p", ())
        r = sg.cond(p > 0, lambda u: sg.exp(u), lambda u: u, x)
        with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteError) as info:
            sg.evaluate(r, {"x": 1000.0, "p": 1.0}, check_finite=True)
        assert re.match(rf"cond node #{r.inputs[0].id}, true branch: body node #\d+ exp",
                        str(info.value)), str(info.value)

        xs = sg.variable("xs", (4,))

        def outer(c, xi):
            inner, _ = sg.scan(lambda h, _: (h * xi, None), c, length=3)
            return inner, None

        cT, _ = sg.scan(outer, x, xs)
        with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteError) as info:
            sg.evaluate(cT, {"x": 1.0, "xs": np.array([1.0, 1e200, 1.0, 1.0])},
                        check_finite=True)
        assert re.match(r"scan node #\d+, step 1 of 4: scan body node #\d+, step 1 of 3: body "
                        r"node #\d+ multiply", str(info.value)), str(info.value)

        # a NaN made by the gradient body of a loop is a gradient node of the reverse sweep
        ys = sg.variable("ys", (3,))
        cT2, _ = sg.scan(lambda c, y: (c + sg.sqrt(y), None), x, ys)
        g = sg.grad(cT2, ys)
        with pytest.warns(RuntimeWarning), pytest.raises(NonFiniteError) as info:
            sg.evaluate(g, {"x": 0.0, "ys": np.array([1.0, 0.0, 4.0])}, check_finite=True)
        assert re.match(r"scan node #\d+, step 1 of 3: body node #\d+ .*\(gradient \(order 1\) "
                        r"node\)", str(info.value)), str(info.value)
        assert info.value.node.role == "gradient"


def test_failing_op_in_a_body_names_the_loop_and_step():
    with sg.Graph():
        x, xs = sg.variable("x", ()), sg.variable("xs", (4,))
        cT, _ = sg.scan(lambda c, xi: (c + sg.linalg.inv(sg.reshape(xi, (1, 1)))[0, 0], None),
                        x, xs)
        with pytest.raises(EvaluationError, match=r"^scan node #\d+, step 2 of 4: evaluating "
                                                  r"body node #\d+ inv"):
            sg.evaluate(cT, {"x": 0.0, "xs": np.array([1.0, 2.0, 0.0, 1.0])})


def test_vectorize_cond_with_batched_predicate_runs_both_branches():
    """Examples take different branches: both run, ``where`` picks (documented): values are
    right even where the other branch is NaN for an example."""
    with sg.Graph():
        x = sg.variable("x", ())
        r = sg.cond(x > 0, lambda u: sg.sqrt(u), lambda u: -u, x)
        xb = sg.variable("xb", (B,))
        with pytest.warns(RuntimeWarning, match="sqrt"):  # sqrt(-1) was run
            got = sg.evaluate(sg.vectorize(r, {x: xb}), {"xb": np.array([4.0, -1.0, 9.0, -2.0])})
    np.testing.assert_array_equal(got, [2.0, 1.0, 3.0, 2.0])
