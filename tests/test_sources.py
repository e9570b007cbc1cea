"""numpy's array-creation functions (symgraph/ops/sources.py): zeros, ones, full, full_like,
zeros_like, ones_like, eye, arange, linspace -- values and dtypes equal to numpy's, numpy's
dtype rules, linspace between nodes differentiable, numpy's errors as SymgraphErrors."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

rng = np.random.default_rng(11)


def _same(node, want):
    """``node`` (no inputs to feed) evaluates to exactly ``want``: values, shape and dtype."""
    assert node.shape == want.shape and node.dtype == want.dtype, (node, want.shape, want.dtype)
    got = sg.evaluate(node, {})
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# fills
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), 3, (2, 3), (0, 2), [2, 1, 2]])
@pytest.mark.parametrize("dtype", [None, "float32", "int64", "bool", "complex128", np.uint8])
def test_zeros_ones_full_equal_numpy(shape, dtype):
    kw = {} if dtype is None else {"dtype": dtype}
    _same(sg.zeros(shape, **kw), np.zeros(shape, **kw))
    _same(sg.ones(shape, **kw), np.ones(shape, **kw))
    _same(sg.full(shape, 3, **kw), np.full(shape, 3, **kw))


@pytest.mark.parametrize("value", [0, 1.5, -2, True, np.float32(2.5), np.int8(3), 1 + 2j, np.nan,
                                   -np.inf, [1.0, 2.0], [[1], [2]], np.arange(2, dtype=np.int32)])
def test_full_takes_its_dtype_from_the_fill_value_like_numpy(value):
    _same(sg.full((2, 2), value), np.full((2, 2), value))


@pytest.mark.parametrize("value, dtype", [(1.7, "int64"), (-1.7, "int32"), (3, "float32"), (0.1, "float32"),
                                          (2, "bool"), ([1.5, 2.5], "int64")])
def test_full_converts_the_value_to_dtype(value, dtype):
    _same(sg.full((3, 2), value, dtype), np.full((3, 2), value, dtype))


def test_full_keeps_its_positional_callers_and_shares_nodes():
    assert sg.full((2,), 0.0) is sg.full((2,), 0, "float64")
    assert sg.full((2,), 0).dtype == np.int64  # numpy: np.full((2,), 0) is int64
    assert sg.full((), 1.0, "float32").op.name == "full"
    g = sg.Graph()
    assert sg.full((2,), 1.0, graph=g).graph is g


def test_full_of_a_node_broadcasts_it_differentiably():
    x = sg.variable("x", (3,))
    y = sg.full((2, 3), x)
    assert y.op.name == "broadcast_to" and y.dtype == np.float64
    v = rng.standard_normal(3)
    np.testing.assert_array_equal(sg.evaluate(y, {x: v}), np.full((2, 3), v))
    assert sg.full((2, 3), x, "float32").dtype == np.float32
    sg.testing.check_grads(lambda x: sg.sin(sg.full((2, 3), x)), [v])
    with pytest.raises(sg.ShapeError, match=r"\(3,\).*\(2, 2\)"):
        sg.full((2, 2), x)


@pytest.mark.parametrize("build, error, match", [
    (lambda: sg.full((2, 2), [1, 2, 3]), sg.ShapeError, "fill"),
    (lambda: sg.full((2,), "a"), sg.DTypeError, "not numeric"),
    (lambda: sg.full((2,), 300, "int8"), sg.DTypeError, "int8"),
    (lambda: sg.full((2,), 1.0, "U3"), sg.DTypeError, "not numeric"),
    (lambda: sg.zeros((-1, 2)), sg.ShapeError, "negative"),
    (lambda: sg.ones(2.5), sg.SymgraphError, "integers"),
    (lambda: sg.zeros(2, "object"), sg.DTypeError, "not numeric"),
])
def test_fill_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_like_functions_of_a_node_use_its_shape_dtype_and_graph():
    g = sg.Graph()
    x = sg.variable("x", (2, 3), "float32", graph=g)
    for fn, value in ((sg.zeros_like, 0), (sg.ones_like, 1)):
        y = fn(x)
        assert y.graph is g and y.shape == (2, 3) and y.dtype == np.float32
        np.testing.assert_array_equal(sg.evaluate(y, {}), np.full((2, 3), value, np.float32))
        assert fn(x, "int64").dtype == np.int64
        assert fn(x, shape=(4,)).shape == (4,)
    y = sg.full_like(x, 2.5)
    assert y.graph is g and y.dtype == np.float32
    np.testing.assert_array_equal(sg.evaluate(y, {}), np.full((2, 3), 2.5, np.float32))


@pytest.mark.parametrize("a", [[1, 2], [[1.5], [2.5]], 3.0, np.arange(6, dtype=np.int16).reshape(2, 3), True])
def test_like_functions_of_array_likes_equal_numpy(a):
    _same(sg.zeros_like(a), np.zeros_like(a))
    _same(sg.ones_like(a), np.ones_like(a))
    _same(sg.full_like(a, 1.7), np.full_like(a, 1.7))
    _same(sg.zeros_like(a, dtype="float32"), np.zeros_like(a, dtype="float32"))
    _same(sg.ones_like(a, shape=(2, 2)), np.ones_like(a, shape=(2, 2)))
    _same(sg.full_like(a, [1, 2], dtype="float64", shape=(3, 2)),
          np.full_like(a, [1, 2], dtype="float64", shape=(3, 2)))


def test_like_functions_of_a_list_of_nodes():
    x = sg.variable("x", (3,))
    y = sg.zeros_like([x, x])
    assert y.shape == (2, 3) and y.graph is x.graph
    with pytest.raises(sg.DTypeError, match="not numeric"):
        sg.zeros_like(["a"])


def test_no_gradient_flows_through_like_functions():
    x = sg.variable("x", (2,))
    v = np.array([0.5, -1.0])
    g = sg.evaluate(sg.grad(sg.sum(x * sg.ones_like(x) + sg.full_like(x, 2.0)), x), {x: v})
    np.testing.assert_array_equal(g, np.ones(2))


# ---------------------------------------------------------------------------
# eye, arange
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, kw", [((3,), {}), ((2, 4), {}), ((4, 2, 1), {}), ((3, None, -1), {}),
                                      ((3,), {"k": 5}), ((0,), {}), ((3,), {"dtype": "float32"}),
                                      ((2, 3), {"k": -1, "dtype": int}), ((np.int64(2),), {})])
def test_eye_equals_numpy(args, kw):
    _same(sg.eye(*args, **kw), np.eye(*args, **kw))


@pytest.mark.parametrize("build, error, match", [
    (lambda: sg.eye(-1), sg.ShapeError, "negative"),
    (lambda: sg.eye(2, -3), sg.ShapeError, "negative"),
    (lambda: sg.eye(2.0), sg.SymgraphError, "integers"),
    (lambda: sg.eye(2, k=0.5), sg.SymgraphError, "k must be an integer"),
    (lambda: sg.eye(2, dtype="U1"), sg.DTypeError, "not numeric"),
])
def test_eye_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("args, kw", [
    ((5,), {}), ((0,), {}), ((-3,), {}), ((2, 7), {}), ((7, 2), {}), ((7, 2, -2), {}), ((1, 10, 3), {}),
    ((0.0, 1.0, 0.1), {}), ((1.0, 2.0, 0.3), {}), ((-1, 1, 0.25), {}), ((2.5,), {}), ((1, 2, 0.3), {}),
    ((10,), {"dtype": "float32"}), ((3,), {"dtype": "int8"}), ((0.5, 3), {"dtype": int}),
    ((np.float32(1), 3), {}), ((np.int32(4),), {}), ((3, None, None), {}), ((0, 5, None), {}),
    ((1e-3, 2e-3, 1e-4), {}), ((5, 1, 1), {}),
])
def test_arange_equals_numpy(args, kw):
    _same(sg.arange(*args, **kw), np.arange(*args, **kw))


@pytest.mark.parametrize("build, error, match", [
    (lambda: sg.arange(0, 1, 0), sg.SymgraphError, "step must not be zero"),
    (lambda: sg.arange(sg.constant(3.0)), sg.SymgraphError, "not nodes"),
    (lambda: sg.arange(0, sg.variable("n")), sg.SymgraphError, "not nodes"),
    (lambda: sg.arange("a"), sg.SymgraphError, "arange"),
    (lambda: sg.arange(3, dtype="U1"), sg.DTypeError, "not numeric"),
])
def test_arange_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


# ---------------------------------------------------------------------------
# linspace
# ---------------------------------------------------------------------------

LINSPACE = [
    ((0, 1), {}), ((0, 1, 5), {}), ((2.5, -1, 7), {}), ((0, 1, 1), {}), ((0, 1, 0), {}),
    ((0, 1, 4), {"endpoint": False}), ((0, 1, 1), {"endpoint": False}), ((1, 10, 4), {"dtype": int}),
    ((-2.5, 3, 4), {"dtype": "int64"}), ((0, 1, 5), {"dtype": "float32"}),
    ((np.float32(0), np.float32(1), 6), {}), ((1, 3, 3), {"retstep": True}),
    ((0, 1, 1), {"retstep": True}), (([0, 1], [2, 5], 3), {}), (([0, 1], [2, 5], 3), {"axis": 1}),
    (([[0.0], [1.0]], [2.0, 3.0, 4.0], 4), {"axis": -1, "retstep": True}),
    ((0, [[1.0, 2.0]], 3), {"axis": 1}), ((3, 3, 4), {}),
]


@pytest.mark.parametrize("args, kw", LINSPACE)
def test_linspace_of_numbers_equals_numpy(args, kw):
    got, want = sg.linspace(*args, **kw), np.linspace(*args, **kw)
    if kw.get("retstep"):
        (got, got_step), (want, want_step) = got, want
        np.testing.assert_array_equal(got_step, want_step)
    _same(got, want)


def _linspace_nodes_case(args, kw):
    """``args`` with start and stop as variables (when floating: integer ones stay numbers)."""
    nodes, feed = [], {}
    for k, v in enumerate(args[:2]):
        v = np.asarray(v)
        if v.dtype.kind == "f":
            node = sg.variable(f"v{k}", v.shape, v.dtype)
            feed[node] = v
            nodes.append(node)
        else:
            nodes.append(args[k])
    return nodes + list(args[2:]), feed


@pytest.mark.parametrize("args, kw", [c for c in LINSPACE
                                      if "dtype" not in c[1] or np.dtype(c[1]["dtype"]).kind == "f"])
@pytest.mark.parametrize("which", ["start", "stop", "both"])
def test_linspace_of_nodes_equals_numpy(args, kw, which):
    args = tuple(np.asarray(a, dtype=np.asarray(a).dtype if np.asarray(a).dtype.kind == "f" else float)
                 if i < 2 and (which == "both" or which == ("start", "stop")[i]) else a
                 for i, a in enumerate(args))
    sym_args, feed = _linspace_nodes_case(args, kw)
    got, want = sg.linspace(*sym_args, **kw), np.linspace(*args, **kw)
    if kw.get("retstep"):
        (got, got_step), (want, want_step) = got, want
        step = got_step if not isinstance(got_step, sg.Node) else sg.evaluate(got_step, feed)
        np.testing.assert_array_equal(step, want_step)
    assert got.shape == want.shape and got.dtype == want.dtype
    value = sg.evaluate(got, feed)
    assert value.dtype == want.dtype
    np.testing.assert_array_equal(value, want)
    if feed:
        xs = list(feed)
        outs = [got, *sg.grad(sg.sum(sg.sin(got)), xs)]
        for a, b in zip(sg.function(xs, outs)(*feed.values()), sg.evaluate(outs, feed)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("num, endpoint, axis", [(5, True, 0), (4, False, 0), (1, True, 0), (3, True, -1)])
def test_linspace_of_nodes_is_differentiable(num, endpoint, axis):
    sg.testing.check_grads(
        lambda a, b: sg.sin(sg.linspace(a, b, num, endpoint=endpoint, axis=axis)),
        [rng.standard_normal(2), rng.standard_normal((3, 2))])


def test_linspace_of_nodes_keeps_float32_and_is_a_graph():
    a = sg.variable("a", (), "float32")
    y = sg.linspace(a, 1.0, 5)
    assert y.dtype == np.float32
    assert sg.linspace(sg.variable("i", (), "int32"), 3, 4).dtype == np.float64
    v = np.float32(0.25)
    np.testing.assert_array_equal(sg.evaluate(y, {a: v}), np.linspace(v, 1.0, 5))
    assert sg.evaluate(sg.grad(sg.sum(y), a), {a: v}) == pytest.approx(2.5)  # weights 1, 3/4, ..., 0


@pytest.mark.parametrize("build, error, match", [
    (lambda: sg.linspace(0, 1, -1), sg.SymgraphError, "non-negative"),
    (lambda: sg.linspace(0, 1, 2.5), sg.SymgraphError, "integers"),
    (lambda: sg.linspace(sg.variable("a"), 1, 3, dtype=int), sg.DTypeError, "floating dtype"),
    (lambda: sg.linspace([0, 1], 1, 3, axis=2), sg.ShapeError, "out of bounds"),
    (lambda: sg.linspace(sg.variable("a", (2,)), 1, 3, axis=2), sg.ShapeError, "out of bounds"),
    (lambda: sg.linspace([0, 1], [1, 2, 3], 3), sg.SymgraphError, "broadcast"),
    (lambda: sg.linspace(0, 1, 3, dtype="U1"), sg.DTypeError, "not numeric"),
])
def test_linspace_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()
