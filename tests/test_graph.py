"""Graph and Node: construction, operators, shape/dtype inference, networkx view."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import symgraph as sg


def test_context_manager_and_default_graph():
    g1 = sg.Graph()
    with g1:
        x = sg.variable("x")
        y = x * 2
    assert x.graph is g1 and y.graph is g1
    assert len(g1) == 3  # x, the constant 2, the product
    assert g1.nodes == [x, y.inputs[1], y]
    # outside the with-block a node made from existing nodes joins their graph
    z = sg.exp(y)
    assert z.graph is g1


def test_nested_graphs_restore_outer(fresh_graph):
    with sg.Graph() as inner:
        a = sg.variable("a")
    b = sg.variable("b")
    assert a.graph is inner
    assert b.graph is fresh_graph


def test_mixing_graphs_is_an_error():
    with sg.Graph():
        a = sg.variable("a")
    with sg.Graph():
        b = sg.variable("b")
    with pytest.raises(sg.GraphMismatchError, match="two graphs"):
        a + b
    with pytest.raises(sg.SymgraphError):
        sg.grad(a * 2, b)


def test_nodes_are_topologically_ordered(fresh_graph):
    x = sg.variable("x", (3,))
    y = sg.sum(sg.exp(x) * x)
    sg.grad(y, x)
    seen = set()
    for n in fresh_graph.nodes:
        assert all(i in seen for i in n.inputs)
        seen.add(n)


def test_to_networkx_attributes_roles_and_orders(fresh_graph):
    x = sg.variable("x")
    y = sg.sin(x) * x
    (dy,) = sg.grad(y, [x])
    (d2y,) = sg.grad(dy, [x])
    dg = fresh_graph.to_networkx()
    assert isinstance(dg, nx.DiGraph)
    assert dg.number_of_nodes() == len(fresh_graph)
    assert nx.is_directed_acyclic_graph(dg)
    attrs = dg.nodes[x]
    assert attrs["role"] == "input" and attrs["name"] == "x" and attrs["shape"] == ()
    assert attrs["dtype"] == "float64" and attrs["op"] == "variable" and attrs["order"] == 0
    assert dg.nodes[y]["role"] == "forward" and dg.nodes[y]["order"] == 0
    assert dy.role == "gradient" and dy.order == 1
    assert d2y.role == "gradient" and d2y.order == 2
    roles = {d["role"] for _, d in dg.nodes(data=True)}
    assert roles == {"input", "constant", "forward", "gradient"}
    assert dg.has_edge(x, y.inputs[0])


def test_operators_on_both_sides_and_with_numpy_arrays():
    x = sg.variable("x", (3,))
    arr = np.array([1.0, 2.0, 3.0])
    for expr, expected in [
        (x + 1, lambda v: v + 1), (1 + x, lambda v: 1 + v), (x - 1, lambda v: v - 1),
        (1 - x, lambda v: 1 - v), (2 * x, lambda v: 2 * v), (x / 2, lambda v: v / 2),
        (2 / x, lambda v: 2 / v), (x ** 2, lambda v: v ** 2), (2 ** x, lambda v: 2 ** v),
        (-x, lambda v: -v), (arr * x, lambda v: arr * v), (arr + x, lambda v: arr + v),
        (arr - x, lambda v: arr - v), (arr / x, lambda v: arr / v), (arr @ x, lambda v: arr @ v),
        (x @ arr, lambda v: v @ arr), (abs(x), np.abs),
    ]:
        assert isinstance(expr, sg.Node)
        v = np.array([0.5, -1.5, 2.0])
        np.testing.assert_allclose(sg.evaluate(expr, {x: v}), expected(v))


def test_getitem_forms():
    x = sg.variable("x", (3, 4, 5))
    v = np.arange(60.0).reshape(3, 4, 5)
    idx = np.array([2, 0, 2])
    for index in [1, -1, (1, 2), slice(1, None), (slice(None), 1), (None, Ellipsis, 0),
                  (Ellipsis, slice(None, None, -1)), idx, (idx, slice(None), 1),
                  (np.array([[0, 1]]), np.array([[3], [2]])), np.array([True, False, True])]:
        node = x[index]
        np.testing.assert_array_equal(sg.evaluate(node, {x: v}), v[index])
        assert node.shape == v[index].shape


def test_methods_T_sum_mean_max_reshape():
    x = sg.variable("x", (2, 3))
    v = np.arange(6.0).reshape(2, 3)
    checks = {
        x.T: v.T, x.sum(): v.sum(), x.sum(axis=0): v.sum(axis=0),
        x.mean(axis=1, keepdims=True): v.mean(axis=1, keepdims=True), x.max(): v.max(),
        x.max(axis=-1): v.max(axis=-1), x.min(axis=0): v.min(axis=0),
        x.reshape(3, 2): v.reshape(3, 2), x.reshape((6,)): v.reshape(6),
    }
    for node, expected in checks.items():
        assert node.shape == np.shape(expected)
        np.testing.assert_allclose(sg.evaluate(node, {x: v}), expected)


def test_shape_inference_broadcasting():
    a = sg.variable("a", (2, 1, 3))
    b = sg.variable("b", (4, 3))
    assert (a + b).shape == (2, 4, 3)
    assert sg.matmul(sg.variable("m", (5, 2, 3)), sg.variable("n", (3, 7))).shape == (5, 2, 7)
    assert sg.concatenate([b, b], axis=1).shape == (4, 6)
    assert sg.stack([b, b, b], axis=0).shape == (3, 4, 3)
    with pytest.raises(sg.ShapeError, match=r"\(2, 1, 3\).*\(5, 2\)"):
        a + sg.variable("c", (5, 2))


def test_float32_stays_float32():
    x = sg.variable("x", (3,), "float32")
    y = sg.sum(sg.exp(x * 2.0) / 3 + sg.sigmoid(x) ** 2 - sg.log_softmax(x))
    assert y.dtype == np.float32
    (g,) = sg.grad(y, [x])
    assert g.dtype == np.float32
    (h,) = sg.grad(sg.sum(g), [x])
    assert h.dtype == np.float32
    vals = sg.evaluate([y, g, h], {x: np.array([0.1, 0.2, 0.3], np.float32)})
    assert all(v.dtype == np.float32 for v in vals)


def test_dtype_promotion_follows_numpy():
    i = sg.variable("i", (2,), "int64")
    f32 = sg.variable("f", (2,), "float32")
    assert (i * 2).dtype == np.int64
    assert (i / 2).dtype == np.float64
    assert sg.exp(i).dtype == np.float64
    assert (f32 + i).dtype == np.result_type(np.float32, np.int64)
    assert sg.mean(i).dtype == np.float64


def test_hash_consing_shares_identical_nodes(fresh_graph):
    x = sg.variable("x")
    a = sg.exp(x) + 1
    b = sg.exp(x) + 1
    assert a is b
    assert sg.variable("x") is not x  # variables are never shared


def test_node_truth_value_is_an_error():
    x = sg.variable("x")
    with pytest.raises(sg.SymgraphError, match="truth value"):
        if x > 0:
            pass


def test_iteration_over_first_axis():
    x = sg.variable("x", (3, 2))
    rows = list(x)
    assert len(rows) == 3 and rows[0].shape == (2,)
    assert len(x) == 3


def test_comparisons_build_elementwise_nodes():
    x = sg.variable("x", (3,))
    v = np.array([0.0, 1.0, 2.0])
    for node, expected in [(x == 1, v == 1), (x != 1, v != 1), (x < 1, v < 1),
                           (x <= 1, v <= 1), (x > 1, v > 1), (x >= 1, v >= 1)]:
        assert isinstance(node, sg.Node) and node.dtype == np.bool_
        np.testing.assert_array_equal(sg.evaluate(node, {x: v}), expected)
    assert {x: 1}[x] == 1  # still usable as a dict key
