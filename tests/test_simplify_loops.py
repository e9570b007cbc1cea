"""sg.simplify on graphs with loops and branches: bodies are simplified too, records follow,
values and derivatives are unchanged, and no rule misfires on a tuple node or its items."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symgraph as sg
from symgraph.flow.body import Body
from symgraph.ops.tuples import RESULTS
from symgraph.rewrite import fold_value
from symgraph.serialize import dumps, loads
from symgraph.traversal import ancestors

from loop_cases import CASES, V, derived


def _loops(nodes) -> list[sg.Node]:
    return [n for n in ancestors(list(nodes)) if n.op.multiple_results]


def _all_loops(nodes) -> list[sg.Node]:
    """The loop and branch nodes of ``nodes``' graph and of the bodies they run, nested."""
    found: list[sg.Node] = []
    todo = [list(nodes)]
    while todo:
        for n in _loops(todo.pop()):
            found.append(n)
            todo.extend(list(b.outputs) for b in n.op.params().values()
                        if isinstance(b, Body) and b.outputs)
    return found


@pytest.mark.parametrize("name", sorted(CASES))
def test_simplify_keeps_values_and_derivatives(name):
    case = CASES[name]()
    outs = derived(case)
    want = sg.evaluate(outs, case.feed)
    simple = sg.simplify(outs)
    got = sg.evaluate(simple, case.feed)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12, err_msg=k)
    # simplifying twice changes nothing more
    twice = sg.simplify(simple)
    assert all(twice[k] is simple[k] for k in simple)
    # the simplified graph saves like any other, and differentiates (its loops record anew)
    again = loads(dumps(simple))
    feed = {k: v for k, v in case.feed.items() if again["loss"].graph.variables(k)}
    for k in want:
        np.testing.assert_allclose(sg.evaluate(again[k], feed), want[k], rtol=1e-12,
                                   atol=1e-12, err_msg=k)
    g = sg.grad(simple["loss"], case.w)
    np.testing.assert_allclose(sg.evaluate(g, case.feed), want["grad"], rtol=1e-12, atol=1e-12)


def _body_sizes(node) -> list[int]:
    return [len(n.op.body.nodes()) for n in _loops([node]) if hasattr(n.op, "body")]


def test_a_redundancy_inside_a_body_is_removed():
    with sg.Graph(fold=False):  # as written (the body graph folds as its parent does)
        w = sg.variable("w", (3, 3))
        xs = sg.variable("xs", (4, 3))

        def step(h, x):
            h = (sg.tanh(h @ w + x * 1.0) + 0.0) * 1.0
            return h, sg.sum(h - h)

        h, ys = sg.scan(step, sg.zeros(3), xs)
        loss = sg.sum(h) + sg.sum(ys)
    stats: dict[str, int] = {}
    simple = sg.simplify(loss, stats=stats)
    assert stats.get("multiply_one", 0) >= 2 and stats.get("add_zero", 0) >= 1
    assert stats.get("subtract_self", 0) == 1
    before, after = _body_sizes(loss), _body_sizes(simple)
    assert after[0] < before[0] - 3, (before, after)
    (scan,) = _loops([simple])
    body = scan.op.body
    assert not any(n.op.name == "multiply" for n in body.nodes())
    assert body.inputs == _loops([loss])[0].op.body.inputs  # the same variables
    feed = {"w": np.eye(3) * 0.3, "xs": np.arange(12.0).reshape(4, 3) / 10}
    assert sg.evaluate(simple, feed) == pytest.approx(sg.evaluate(loss, feed), rel=1e-14)


def test_nested_bodies_are_simplified_and_records_follow():
    """The inner scan's body shrinks too; the outer loop's recorded residuals are nodes of
    its new body, computed by it."""
    w = sg.variable("w", (2, 2))
    xs = sg.variable("xs", (3, 2))

    def outer(h, x):
        inner, _ = sg.scan(lambda g, _: (sg.sin(g @ w * 1.0 + x), None), h, length=2)
        return inner * 1.0, None

    h, _ = sg.scan(outer, sg.ones(2), xs)
    loss = sg.sum(h ** 2)
    g = sg.grad(loss, w)
    feed = {"w": np.array([[0.3, -0.2], [0.1, 0.4]]), "xs": np.arange(6.0).reshape(3, 2) / 5}
    want = sg.evaluate([loss, g], feed)
    simple = sg.simplify([loss, g])
    for a, b in zip(sg.evaluate(simple, feed), want):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    loops = _all_loops(simple)
    inner = [n for n in loops if n.graph is not simple[0].graph]
    assert inner and all(not any(n.op.name == "multiply" and
                                 any(i.op.name == "full" for i in n.inputs)
                                 for n in loop.op.body.nodes()) for loop in inner)
    for loop in loops:
        for rec in getattr(loop.op, "records", []):
            if rec[0] == "step":
                assert rec[1].graph is loop.op.body.graph


def test_loops_and_items_of_constants_are_not_folded():
    c, ys = sg.scan(lambda c, x: (c * 2.0, c + x), np.ones(2), np.ones((3, 2)))
    k = sg.cond(np.array(True), lambda a: a + 1.0, lambda a: a - 1.0, np.ones(2))
    n = sg.while_loop(lambda v: v < 10.0, lambda v: v * 3.0, np.array(1.0), max_steps=9)
    outs = [c, ys, k, n]
    want = sg.evaluate(outs)
    simple = sg.simplify(outs)
    for a, b in zip(sg.evaluate(simple), want):
        np.testing.assert_array_equal(a, b)
    assert len(_loops(simple)) == 3
    for node in _loops(outs):
        args = [i.op.value for i in node.inputs]
        assert fold_value(node.op, args, (), RESULTS) is None
    item_node = c
    value = sg.evaluate(item_node.inputs[0])
    assert fold_value(item_node.op, [value], item_node.shape, item_node.dtype) is None


def test_simplified_loop_ops_are_not_shared():
    """Rebuilding a loop over simplified inputs makes a new op: a loop's records grow as
    gradients are built, and the original must not see the new loop's."""
    with sg.Graph(fold=False):  # x * 1.0 as written, for simplify to remove
        w = sg.variable("w", (2,))
        x = sg.variable("x", (2,))
        h, _ = sg.scan(lambda c, _: (sg.tanh(c * w), None), x * 1.0, length=3)
    (old,) = _loops([h])
    simple = sg.simplify(h)
    (new,) = _loops([simple])
    assert new is not old and new.op is not old.op and new.op.records is not old.op.records
    sg.grad(sg.sum(simple), w)
    assert new.op.records and not old.op.records


def test_a_body_unchanged_by_simplify_is_kept():
    w = sg.variable("w", (2,))
    h, _ = sg.scan(lambda c, _: (sg.tanh(c * w), None), sg.ones(2), length=3)
    (loop,) = _loops([h])
    assert sg.simplify(h) is h
    assert isinstance(loop.op.body, Body)


def test_to_sympy_refuses_a_loop_naming_it():
    pytest.importorskip("sympy")
    w = sg.variable("w", (2,))
    h, _ = sg.scan(lambda c, _: (c * w, None), sg.ones(2), length=3)
    with pytest.raises(sg.SymgraphError, match="op 'scan'.*has no sympy translation"):
        sg.to_sympy(sg.sum(h))
    k = sg.cond(sg.sum(w) > 0, lambda a: a + 1.0, lambda a: a, w)
    with pytest.raises(sg.SymgraphError, match="op 'cond'.*has no sympy translation"):
        sg.to_sympy(sg.sum(k))


def test_simplify_before_saving_shrinks_the_file():
    case = CASES["scan_tuple_dict_carry"]()
    outs = derived(case)
    simple = sg.simplify(outs)
    assert len(dumps(simple)) < len(dumps(outs))
    doc = json.loads(dumps(simple))
    assert doc["version"] == 2
    np.testing.assert_allclose(sg.evaluate(loads(dumps(simple))["grad2"], case.feed),
                               sg.evaluate(outs["grad2"], case.feed), rtol=1e-12, atol=1e-12)
    assert V.shape == (3, 3)
