"""``sg.scan``: values against numpy loops, derivatives against finite differences and
against the same model unrolled with plain ops, checkpointing, graph size, errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flow_cases as fc
import symgraph as sg
from symgraph.testing import check_grads
from symgraph.errors import DTypeError, GraphMismatchError, ShapeError, SymgraphError
from symgraph.ops.tuples import item

rng = np.random.default_rng(1600)
EXACT = dict(rtol=1e-10, atol=1e-12)


def variables(arrays):
    return [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]


def np_rnn(W, U, h0, xs):
    W2 = W @ W * 0.5
    h, ys = h0, []
    for x in xs:
        h = np.tanh(h @ W + x @ U + h @ W2)
        ys.append(np.sin(h) * h)
    return h, np.array(ys)


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

def test_rnn_values_match_a_numpy_loop():
    arrays = fc.rnn_arrays()
    W, U, h0, xs = vs = variables(arrays)
    captured = W @ W * 0.5

    def step(h, x):
        h = sg.tanh(h @ W + x @ U + h @ captured)
        return h, sg.sin(h) * h
    hT, ys = sg.scan(step, h0, xs)
    got_h, got_ys = sg.evaluate([hT, ys], dict(zip(vs, arrays)))
    want_h, want_ys = np_rnn(*arrays)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-13)
    np.testing.assert_allclose(got_ys, want_ys, rtol=1e-13)
    assert ys.shape == (6, 3)


@pytest.mark.parametrize("kind", ["node", "tuple", "list", "dict"])
def test_carry_structures(kind):
    a = rng.standard_normal((5, 2))
    xs = sg.variable("xs", (5, 2))
    pack = {"node": lambda s, p: s, "tuple": lambda s, p: (s, p), "list": lambda s, p: [s, p],
            "dict": lambda s, p: {"sum": s, "prod": p}}[kind]

    def unpack(c):
        if kind == "node":
            return c, None
        return (c["sum"], c["prod"]) if kind == "dict" else (c[0], c[1])

    def step(c, x):
        s, p = unpack(c)
        return pack(s + x, None if p is None else p * x), s * 2.0
    init = pack(sg.zeros((2,)), sg.ones((2,)))
    final, ys = sg.scan(step, init, xs)
    assert type(final) is type(init)
    s, p = unpack(final)
    got = sg.evaluate([s, ys] + ([p] if p is not None else []), {xs: a})
    np.testing.assert_allclose(got[0], a.sum(0), rtol=1e-14)
    np.testing.assert_allclose(got[1], 2 * np.concatenate([np.zeros((1, 2)), np.cumsum(a, 0)[:-1]]))
    if p is not None:
        np.testing.assert_allclose(got[2], a.prod(0), rtol=1e-14)


@pytest.mark.parametrize("kind", ["tuple", "dict"])
def test_xs_structures_and_ys_structures(kind):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 2, 3))
    xa, xb = sg.variable("a", a.shape), sg.variable("b", b.shape)
    xs = (xa, xb) if kind == "tuple" else {"a": xa, "b": xb}

    def step(c, x):
        u, v = (x[0], x[1]) if kind == "tuple" else (x["a"], x["b"])
        c = c + u + sg.sum(v, axis=0)
        return c, {"c": c, "pair": (u * 2.0, v)}
    final, ys = sg.scan(step, sg.zeros((3,)), xs)
    got = sg.evaluate([final, ys["c"], ys["pair"][0], ys["pair"][1]], {xa: a, xb: b})
    steps = a + b.sum(1)
    np.testing.assert_allclose(got[0], steps.sum(0), rtol=1e-13)
    np.testing.assert_allclose(got[1], np.cumsum(steps, 0), rtol=1e-13)
    np.testing.assert_array_equal(got[2], 2 * a)
    np.testing.assert_array_equal(got[3], b)


def test_no_xs_with_length_and_ys_none():
    x = sg.variable("x", (2,))
    seen = []

    def step(c, none):
        seen.append(none)
        return c * x + 1.0, None
    final, ys = sg.scan(step, sg.ones((2,)), length=4)
    assert ys is None and seen == [None]  # traced once, with no slice
    a = np.array([0.5, -2.0])
    want = np.ones(2)
    for _ in range(4):
        want = want * a + 1
    np.testing.assert_allclose(sg.evaluate(final, {x: a}), want, rtol=1e-14)


def test_reverse_runs_from_the_last_step_and_keeps_ys_in_step_order():
    a = rng.standard_normal((5, 2))
    xs = sg.variable("xs", a.shape)
    final, ys = sg.scan(lambda c, x: (c * 0.5 + x, c), sg.zeros((2,)), xs, reverse=True)
    c, want_ys = np.zeros(2), np.zeros((5, 2))
    for t in range(4, -1, -1):
        want_ys[t] = c
        c = c * 0.5 + a[t]
    got_c, got_ys = sg.evaluate([final, ys], {xs: a})
    np.testing.assert_allclose(got_c, c, rtol=1e-14)
    np.testing.assert_allclose(got_ys, want_ys, rtol=1e-14)


def test_integer_counters_in_the_carry():
    a = rng.standard_normal((7, 2))
    xs = sg.variable("xs", a.shape)

    def step(carry, x):
        h, k, n_pos = carry
        positive = sg.cast(sg.sum(x) > 0, "int32")
        return (h + x * sg.cast(k, "float64"), k + 1, n_pos + positive), k * 10
    (h, k, n_pos), ys = sg.scan(step, (sg.zeros((2,)), np.int64(0), np.int32(0)), xs)
    assert (k.dtype, n_pos.dtype, ys.dtype) == (np.int64, np.int32, np.int64)
    got = sg.evaluate([h, k, n_pos, ys], {xs: a})
    np.testing.assert_allclose(got[0], (a * np.arange(7)[:, None]).sum(0), rtol=1e-13)
    assert got[1] == 7 and got[2] == (a.sum(1) > 0).sum()
    np.testing.assert_array_equal(got[3], np.arange(7) * 10)
    # the integer parts have no gradient, and do not disturb the float ones
    gx = sg.evaluate(sg.grad(sg.sum(h) + sg.cast(k, "float64"), xs), {xs: a})
    np.testing.assert_allclose(gx, np.repeat(np.arange(7.0)[:, None], 2, 1))


def test_float32_stays_float32():
    arrays = [a.astype(np.float32) for a in fc.rnn_arrays()]
    vs = variables(arrays)
    loss = fc.rnn(sg.scan, *vs)
    assert loss.dtype == np.float32
    grads = sg.grad(loss, vs)
    hv = sg.hvp(loss, vs[0], np.ones((3, 3), np.float32))
    jv = sg.jvp(loss, vs[3], np.ones((6, 2), np.float32))
    got = sg.evaluate([loss, *grads, hv, jv], dict(zip(vs, arrays)))
    assert all(g.dtype == np.float32 for g in got), [g.dtype for g in got]
    want = sg.evaluate(sg.grad(fc.rnn(sg.scan, *(v64 := variables(fc.rnn_arrays()))), v64),
                       {v: a.astype(np.float64) for v, a in zip(v64, arrays)})
    for g, w in zip(got[1:5], want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("T", [0, 1])
def test_lengths_zero_and_one(T):
    arrays = fc.rnn_arrays(T=T)
    W, U, h0, xs = vs = variables(arrays)

    def step(h, x):
        h = sg.tanh(h @ W + x @ U)
        return h, h * 2.0
    hT, ys = sg.scan(step, h0, xs)
    assert ys.shape == (T, 3)
    loss = sg.sum(hT * hT) + sg.sum(ys)
    grads = sg.grad(loss, vs)
    got = sg.evaluate([hT, ys, *grads], dict(zip(vs, arrays)))
    Wv, Uv, h0v, xv = arrays
    h = h0v if T == 0 else np.tanh(h0v @ Wv + xv[0] @ Uv)
    np.testing.assert_allclose(got[0], h, rtol=1e-14)
    assert got[1].shape == (T, 3)
    if T == 0:  # nothing ran: the loss is sum(h0^2)
        np.testing.assert_array_equal(got[2], 0)
        np.testing.assert_array_equal(got[3], 0)
        np.testing.assert_allclose(got[4], 2 * h0v)
        assert got[5].shape == (0, 2)
    else:
        check_grads(lambda *v: fc.rnn(sg.scan, *v), arrays, order=2)


def test_length_zero_with_checkpoints_and_no_xs():
    x = sg.variable("x", (2,))
    final, _ = sg.scan(lambda c, _: (c * x, None), x, length=0, checkpoint=3)
    g = sg.grad(sg.sum(final), x)
    np.testing.assert_array_equal(sg.evaluate(g, {x: np.array([2.0, 3.0])}), [1.0, 1.0])


def test_captured_nodes_computed_from_variables_get_gradients():
    v = sg.variable("v", (2,))
    xs = sg.variable("xs", (4, 2))
    b = sg.exp(v)  # an outer node, computed, used in the body

    def step(c, x):
        return c * sg.sin(x) + b, c * b
    hT, ys = sg.scan(step, sg.ones((2,)), xs)
    loss = sg.sum(hT * ys[2])
    feed = {v: rng.standard_normal(2), xs: rng.standard_normal((4, 2))}
    u_hT, u_ys = fc.unrolled_scan(step, sg.ones((2,)), xs)
    u_loss = sg.sum(u_hT * u_ys[2])
    got = sg.evaluate(sg.grad(loss, [b, v, xs]), feed)
    want = sg.evaluate(sg.grad(u_loss, [b, v, xs]), feed)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **EXACT)


def test_a_body_that_only_passes_values_through():
    a = rng.standard_normal((3, 2))
    xs = sg.variable("xs", a.shape)
    c0 = sg.variable("c0", (2,))
    final, ys = sg.scan(lambda c, x: (c, x), c0, xs)
    got = sg.evaluate([final, ys, *sg.grad(sg.sum(final) + sg.sum(ys * ys), [c0, xs])],
                      {xs: a, c0: np.ones(2)})
    np.testing.assert_array_equal(got[0], np.ones(2))
    np.testing.assert_array_equal(got[1], a)
    np.testing.assert_array_equal(got[2], np.ones(2))
    np.testing.assert_allclose(got[3], 2 * a)


def test_constant_carries_out_and_ys_that_ignore_the_step():
    xs = sg.variable("xs", (3, 2))
    final, ys = sg.scan(lambda c, x: (np.zeros(2), 1.5), sg.ones((2,)), xs)
    got = sg.evaluate([final, ys], {xs: np.zeros((3, 2))})
    np.testing.assert_array_equal(got[0], np.zeros(2))
    np.testing.assert_array_equal(got[1], [1.5] * 3)


# ---------------------------------------------------------------------------
# nesting
# ---------------------------------------------------------------------------

def nested(scan, W, xs):
    """An outer scan over rows whose body scans the row's elements (reading W, the outer
    carry and the outer slice)."""
    def outer(h, row):
        def inner(g, e):
            g = sg.tanh(g @ W + e * h)
            return g, sg.sum(g)
        g, s = scan(inner, h, row)
        return g * 0.5 + h, s
    hT, ys = scan(outer, sg.ones((2,)) * 0.3, xs)
    return sg.sum(hT * hT) + sg.sum(ys * ys)


def np_nested(W, xs):
    h, ys = np.ones(2) * 0.3, []
    for row in xs:
        g, s = h, []
        for e in row:
            g = np.tanh(g @ W + e * h)
            s.append(g.sum())
        h = g * 0.5 + h
        ys.append(s)
    return np.sum(h * h) + np.sum(np.square(ys))


def test_scan_in_scan():
    arrays = [rng.standard_normal((2, 2)) * 0.5, rng.standard_normal((3, 4))]
    W, xs = vs = variables(arrays)
    feed = dict(zip(vs, arrays))
    loss = nested(sg.scan, W, xs)
    np.testing.assert_allclose(sg.evaluate(loss, feed), np_nested(*arrays), rtol=1e-13)
    u = nested(fc.unrolled_scan, W, xs)
    for mode in ("grad", "hvp_fwd", "hvp_rev"):
        if mode == "grad":
            a, b = sg.grad(loss, vs), sg.grad(u, vs)
        else:
            d = [np.ones((2, 2)), np.ones((3, 4))]
            a, b = sg.hvp(loss, vs, d, mode=mode[4:]), sg.hvp(u, vs, d)
        for g, w in zip(sg.evaluate(a, feed), sg.evaluate(b, feed)):
            np.testing.assert_allclose(g, w, **EXACT)
    check_grads(lambda *v: nested(sg.scan, *v), arrays, order=1)


def test_cond_in_scan():
    a = rng.standard_normal((6, 2))
    xs, w = sg.variable("xs", a.shape), sg.variable("w", (2,))

    def step(c, x):
        c = sg.cond(sg.sum(x) > 0, lambda c: c * sg.sin(x) + w, lambda c: sg.exp(c) * w, c)
        return c, c * c
    def loss_of(scan):
        hT, ys = scan(step, sg.ones((2,)) * 0.1, xs)
        return sg.sum(hT) + sg.sum(ys)
    wv = np.array([0.3, -0.2])
    c, tot = np.ones(2) * 0.1, 0.0
    for x in a:
        c = c * np.sin(x) + wv if x.sum() > 0 else np.exp(c) * wv
        tot += np.sum(c * c)
    feed = {xs: a, w: wv}
    loss, u = loss_of(sg.scan), loss_of(fc.unrolled_scan)
    np.testing.assert_allclose(sg.evaluate(loss, feed), c.sum() + tot, rtol=1e-13)
    for g, h in zip(sg.evaluate(sg.grad(loss, [w, xs]) + [sg.hvp(loss, w, np.ones(2))], feed),
                    sg.evaluate(sg.grad(u, [w, xs]) + [sg.hvp(u, w, np.ones(2))], feed)):
        np.testing.assert_allclose(g, h, **EXACT)


def test_scan_in_cond():
    W = sg.variable("W", (2, 2))
    xs = sg.variable("xs", (4, 2))
    p = sg.variable("p", ())

    def run(scan):
        def yes(h):
            hT, ys = scan(lambda c, x: (sg.tanh(c @ W + x), c), h, xs)
            return hT + sg.sum(ys, axis=0)
        return sg.cond(p > 0, yes, lambda h: h * W[0], sg.ones((2,)))
    feed = {W: rng.standard_normal((2, 2)), xs: rng.standard_normal((4, 2))}
    out, u = sg.sum(run(sg.scan) ** 2), sg.sum(run(fc.unrolled_scan) ** 2)
    for pv in (1.0, -1.0):
        feed[p] = np.array(pv)
        a = sg.evaluate([out, *sg.grad(out, [W, xs]), sg.hvp(out, W, np.ones((2, 2)))], feed)
        b = sg.evaluate([u, *sg.grad(u, [W, xs]), sg.hvp(u, W, np.ones((2, 2)))], feed)
        for g, w in zip(a, b):
            np.testing.assert_allclose(g, w, **EXACT)


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------

MODELS = {
    "rnn": (fc.rnn, fc.rnn_arrays),
    "two_carries": (fc.two_carries, fc.two_carries_arrays),
}


@pytest.mark.parametrize("model", MODELS)
def test_derivatives_match_finite_differences(model):
    build, arrays = MODELS[model]
    check_grads(lambda *v: build(sg.scan, *v), arrays(), order=2)


def derivative_nodes(loss, vs, d):
    """Gradient, jvp, both HVPs (direction ``d``) and a grad of a grad of ``loss`` in ``vs``."""
    grads = sg.grad(loss, vs)
    jv = sg.jvp(loss, vs, [sg.constant(x) for x in d])
    hf = sg.hvp(loss, vs, d)
    hr = sg.hvp(loss, vs, d, mode="rev")
    gg = sg.grad(sg.sum(grads[0] * grads[0]), vs)
    return [*grads, jv, *hf, *hr, *gg]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reverse", [False, True])
def test_derivatives_match_the_unrolled_model(model, reverse):
    build, make = MODELS[model]
    arrays = make()
    vs = variables(arrays)
    feed = dict(zip(vs, arrays))
    d = [rng.standard_normal(a.shape) for a in arrays]
    scan = functools.partial(sg.scan, reverse=reverse)
    unrolled = functools.partial(fc.unrolled_scan, reverse=reverse)
    a = sg.evaluate(derivative_nodes(build(scan, *vs), vs, d), feed)
    b = sg.evaluate(derivative_nodes(build(unrolled, *vs), vs, d), feed)
    for k, (g, w) in enumerate(zip(a, b)):
        np.testing.assert_allclose(g, w, **EXACT, err_msg=f"derivative {k}")


@pytest.mark.parametrize("k", [1, 2, 3, 7, 10])
def test_checkpointed_equals_stored(k):
    """T = 7: k = 1, 2, 3 (not dividing 7), 7 and 10 (> T), first and second order."""
    arrays = fc.rnn_arrays(T=7)
    vs = variables(arrays)
    feed = dict(zip(vs, arrays))
    d = [rng.standard_normal(a.shape) for a in arrays]
    stored = fc.rnn(sg.scan, *vs)
    ckpt = fc.rnn(functools.partial(sg.scan, checkpoint=k), *vs)
    outs = []
    for loss in (stored, ckpt):
        grads = sg.grad(loss, vs)
        outs.append(sg.evaluate([loss, *grads, *sg.hvp(loss, vs, d), *sg.hvp(loss, vs, d, "rev"),
                                 *sg.grad(sg.sum(grads[0] * grads[0]) + sg.sum(grads[3] * grads[3]), vs)], feed))
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, **EXACT)


def test_checkpointed_nested_and_tuple_carries():
    arrays = fc.two_carries_arrays(T=7)
    vs = variables(arrays)
    feed = dict(zip(vs, arrays))
    a = sg.evaluate(sg.grad(fc.two_carries(sg.scan, *vs), vs), feed)
    b = sg.evaluate(sg.grad(fc.two_carries(functools.partial(sg.scan, checkpoint=3), *vs), vs),
                    feed)
    for g, w in zip(a, b):
        np.testing.assert_allclose(g, w, **EXACT)


def test_checkpointed_reverse_scan():
    arrays = fc.rnn_arrays(T=7)
    vs = variables(arrays)
    feed = dict(zip(vs, arrays))
    a = sg.evaluate(sg.grad(fc.rnn(functools.partial(sg.scan, reverse=True), *vs), vs), feed)
    b = sg.evaluate(sg.grad(fc.rnn(functools.partial(sg.scan, reverse=True, checkpoint=3), *vs),
                            vs), feed)
    for g, w in zip(a, b):
        np.testing.assert_allclose(g, w, **EXACT)


@pytest.mark.parametrize("checkpoint", [None, 3])
def test_graph_size_does_not_grow_with_the_length(checkpoint):
    """loss + gradient (and both HVPs) for T = 1000 take as many nodes as for T = 10."""
    sizes = {}
    for T in (10, 1000):
        with sg.Graph() as g:
            vs = variables(fc.rnn_arrays(T=T))
            loss = fc.rnn(functools.partial(sg.scan, checkpoint=checkpoint), *vs)
            sg.grad(loss, vs)
            first = len(g)
            d = [np.ones(v.shape) for v in vs]
            sg.hvp(loss, vs, d)
            sg.hvp(loss, vs, d, mode="rev")
            sizes[T] = (first, len(g))
    assert sizes[1000][0] <= 1.5 * sizes[10][0], sizes
    assert sizes[1000][1] <= 1.5 * sizes[10][1], sizes


def test_what_the_forward_loop_records_for_the_reverse_sweep():
    """Stored: the carry once (its trajectory, also the body's output) and the per-step
    values the gradient reads; checkpointed: every k-th carry only."""
    W, h0, xs = variables([np.eye(3), np.ones(3), np.ones((9, 3))])
    hT, _ = sg.scan(lambda h, x: (sg.tanh(h @ W + x), None), h0, xs)
    sg.grad(sg.sum(hT), [W, h0, xs])
    records = hT.inputs[0].op.records
    assert records[0] == ("traj", 0)
    assert all(r[0] == "step" for r in records[1:])
    hT, _ = sg.scan(lambda h, x: (sg.tanh(h @ W + x), None), h0, xs, checkpoint=4)
    grads = sg.grad(sg.sum(hT), [W, h0, xs])
    assert hT.inputs[0].op.records == [("checkpoints", 0)]
    ckpts = item(hT.inputs[0], 1)
    assert ckpts.shape == (3, 3)  # entering steps 0, 4, 8
    got = sg.evaluate([ckpts, *grads], {W: np.eye(3) * 0.5, h0: np.ones(3), xs: np.ones((9, 3))})
    h, want = np.ones(3), []
    for t in range(9):
        if t % 4 == 0:
            want.append(h)
        h = np.tanh(h * 0.5 + 1)
    np.testing.assert_allclose(got[0], want, rtol=1e-14)


def test_gradient_of_a_long_scan_runs():
    arrays = fc.rnn_arrays(T=300)
    vs = variables(arrays)
    loss = fc.rnn(functools.partial(sg.scan, checkpoint=17), *vs)
    got = sg.evaluate(sg.grad(loss, vs), dict(zip(vs, arrays)))
    want = sg.evaluate(sg.grad(fc.rnn(sg.scan, *vs), vs), dict(zip(vs, arrays)))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **EXACT)


# ---------------------------------------------------------------------------
# random bodies: gradient == unrolled gradient
# ---------------------------------------------------------------------------

UNARY = [sg.tanh, sg.sin, lambda v: v * v, lambda v: sg.exp(-v * v), sg.sigmoid]


@st.composite
def bodies(draw):
    """A list of steps, each reading the current value, the carry, the slice or W."""
    n = draw(st.integers(1, 4))
    return [(draw(st.sampled_from(["unary", "mul_x", "add_c", "matmul", "mul_c"])),
             draw(st.integers(0, len(UNARY) - 1))) for _ in range(n)]


def random_body(program, W):
    def step(c, x):
        v = c
        for kind, u in program:
            if kind == "unary":
                v = UNARY[u](v)
            elif kind == "mul_x":
                v = v * x
            elif kind == "add_c":
                v = v + c
            elif kind == "matmul":
                v = v @ W
            else:
                v = v * c
        return sg.tanh(v) + x * 0.1, sg.sum(v)
    return step


@settings(max_examples=50, deadline=None)
@given(bodies(), st.integers(1, 4), st.integers(1, 3), st.sampled_from([None, 1, 2, 3]),
       st.booleans(), st.integers(0, 2**16))
def test_random_bodies_gradient_equals_unrolled(program, T, H, checkpoint, reverse, seed):
    """Gradient and HVP of random bodies (checkpointed or not, either direction) equal the
    unrolled model's."""
    r = np.random.default_rng(seed)
    arrays = [r.standard_normal((H, H)) * 0.5, r.standard_normal(H), r.standard_normal((T, H))]
    with sg.Graph():
        W, h0, xs = vs = variables(arrays)
        feed = dict(zip(vs, arrays))
        outs = []
        for scan in (functools.partial(sg.scan, checkpoint=checkpoint, reverse=reverse),
                     functools.partial(fc.unrolled_scan, reverse=reverse)):
            hT, ys = scan(random_body(program, W), h0, xs)
            loss = sg.sum(hT * hT) + sg.sum(ys * ys)
            outs.append(sg.evaluate(sg.grad(loss, vs) + [sg.hvp(loss, W, np.ones((H, H)))], feed))
    for g, w in zip(*outs):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_a_carry_that_changes_shape_is_refused():
    xs = sg.variable("xs", (3, 2))
    with pytest.raises(ShapeError, match=r"carry 0 comes out of the body with shape \(1,\)"):
        sg.scan(lambda c, x: (c[:1], x), sg.zeros((2,)), xs)


def test_a_carry_that_changes_dtype_is_refused():
    xs = sg.variable("xs", (3, 2))
    with pytest.raises(DTypeError, match="dtype float32.*cast it"):
        sg.scan(lambda c, x: (sg.cast(c, "float32"), x), sg.zeros((2,)), xs)


def test_a_carry_of_another_structure_is_refused():
    xs = sg.variable("xs", (3, 2))
    with pytest.raises(SymgraphError, match="another structure"):
        sg.scan(lambda c, x: ((c[0], c[1], c[0]), x), (sg.zeros((2,)), sg.zeros((2,))), xs)
    with pytest.raises(SymgraphError, match="another structure"):
        sg.scan(lambda c, x: ({"b": c["a"]}, x), {"a": sg.zeros((2,))}, xs)


def test_xs_of_different_lengths_are_refused():
    with pytest.raises(ShapeError, match=r"different lengths \[3, 4\]"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), (sg.zeros((3,)), sg.zeros((4, 2))))
    with pytest.raises(ShapeError, match="length=5 but xs has length 3"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), sg.zeros((3,)), length=5)
    with pytest.raises(ShapeError, match="leading axis"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), sg.zeros(()))
    with pytest.raises(SymgraphError, match="give xs or length"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()))


@pytest.mark.parametrize("bad", [lambda c, x: c, lambda c, x: (c,), lambda c, x: [c, x, x],
                                 lambda c, x: (c, x, x)])
def test_fn_must_return_a_pair(bad):
    with pytest.raises(SymgraphError, match=r"fn must return a pair \(carry, y\)"):
        sg.scan(bad, sg.zeros((2,)), sg.zeros((3, 2)))


def test_a_two_item_list_is_a_pair_as_in_jax():
    final, ys = sg.scan(lambda c, x: [c + x, c], sg.zeros((2,)), sg.ones((3, 2)))
    np.testing.assert_array_equal(sg.evaluate(ys), [[0, 0], [1, 1], [2, 2]])


def test_fn_returning_something_not_a_node():
    with pytest.raises(SymgraphError, match="str 'oops' is not a node"):
        sg.scan(lambda c, x: (c, "oops"), sg.zeros((2,)), sg.zeros((3, 2)))
    with pytest.raises(SymgraphError, match="is not a node"):
        sg.scan(lambda c, x: (object(), x), sg.zeros((2,)), sg.zeros((3, 2)))


def test_variables_made_inside_a_body_are_refused():
    def step(c, x):
        return c + sg.variable("inner", (2,)), x
    with pytest.raises(SymgraphError, match="made variable.*'inner'.*outside"):
        sg.scan(step, sg.zeros((2,)), sg.zeros((3, 2)))


def test_bad_lengths_and_checkpoints():
    with pytest.raises(SymgraphError, match="length must be an integer"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), length=2.0)
    with pytest.raises(SymgraphError, match="non-negative"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), length=-1)
    with pytest.raises(SymgraphError, match="checkpoint must be a positive"):
        sg.scan(lambda c, x: (c, None), sg.zeros(()), length=3, checkpoint=0)


def test_an_error_in_a_step_names_the_step():
    xs = sg.variable("xs", (4, 2))

    def step(c, x):
        return c + sg.log(x), c
    final, _ = sg.scan(step, sg.zeros((2,)), xs)
    a = np.ones((4, 2))
    a[2, 1] = -1.0
    with pytest.raises(SymgraphError, match=r"scan node #\d+, step 2 of 4: body node #\d+ log"):
        sg.evaluate(final, {xs: a}, check_finite=True)


def test_checkpointing_keeps_memory_near_sqrt_length():
    """The gradient's peak memory with ``checkpoint=k`` is O(T/k + k) carries: here a few
    sqrt(T), where storing every step needs several T."""
    import tracemalloc

    T, H, k = 400, 5000, 20
    h0, w = sg.variable("h0", (H,)), sg.variable("w", (H,))
    feed = {h0: np.ones(H), w: np.full(H, 0.9)}
    peaks = {}
    for ck in (None, k):
        hT, _ = sg.scan(lambda h, x: (sg.sin(h) * w, None), h0, length=T, checkpoint=ck)
        grads = sg.grad(sg.sum(hT), [h0, w])
        sg.evaluate(grads, feed)
        tracemalloc.start()
        try:
            sg.evaluate(grads, feed)
            peaks[ck] = tracemalloc.get_traced_memory()[1] / (H * 8)  # in carries
        finally:
            tracemalloc.stop()
    assert peaks[None] > T
    assert peaks[k] < 8 * np.sqrt(T), peaks


def test_a_body_node_used_outside_its_body_is_refused_when_combined():
    leaked = []
    xs = sg.variable("xs", (3,))

    def step(c, x):
        leaked.append(c)
        return c + x, None
    hT, _ = sg.scan(step, sg.zeros(()), xs)
    with pytest.raises(GraphMismatchError, match="scan body"):
        hT + leaked[0]


def test_the_loss_alone_costs_the_same_after_its_gradient_was_built():
    """Building a gradient registers records on the forward loop; evaluating only the loss
    afterwards must not make them (the evaluator tells the loop which parts are read)."""
    import tracemalloc

    T, H = 300, 2000
    w, xs = sg.variable("w", (H,)), sg.variable("xs", (T, H))
    _, ys = sg.scan(lambda h, x: (sg.tanh(h * w + x), sg.sum(h)), sg.zeros((H,)), xs)
    loss = sg.sum(ys ** 2)
    feed = {w: np.full(H, 0.5), xs: np.full((T, H), 0.01)}

    def peak(out):
        tracemalloc.start()
        try:
            value = sg.evaluate(out, feed)
            return value, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    before, bytes_before = peak(loss)
    sg.grad(loss, w)
    after, bytes_after = peak(loss)
    assert after == before
    assert bytes_after < 2 * bytes_before + 10 * H * 8, (bytes_before, bytes_after)
    assert bytes_after < T * H * 8 / 4  # nowhere near one trajectory
