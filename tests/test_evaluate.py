"""The evaluator: only ancestors run, values are freed, feeds are checked."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.evaluate import Schedule


class Counting(sg.Op):
    """Identity that counts how often it runs."""

    name = "counting"
    calls = 0

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def f(self, x):
        Counting.calls += 1
        return x

    def bprop(self, inputs, output, grad):
        return [grad]


def test_only_ancestors_of_the_outputs_run():
    Counting.calls = 0
    x = sg.variable("x")
    wanted = Counting("a")(x) * 2
    Counting("b")(x) * 3  # not requested
    assert float(sg.evaluate(wanted, {x: 1.5})) == 3.0
    assert Counting.calls == 1


def test_feeds_by_node_and_by_name():
    x, y = sg.variable("x", (2,)), sg.variable("y")
    out = x * y
    a = sg.evaluate(out, {x: [1.0, 2.0], "y": 3})
    b = sg.evaluate(out, {"x": np.array([1.0, 2.0]), y: 3.0})
    np.testing.assert_array_equal(a, [3.0, 6.0])
    np.testing.assert_array_equal(a, b)


def test_intermediate_nodes_can_be_fed():
    x = sg.variable("x")
    h = sg.exp(x)
    y = h + 1
    assert float(sg.evaluate(y, {h: 10.0})) == 11.0  # x need not be fed


def test_output_structure_is_mirrored():
    x = sg.variable("x")
    out = sg.evaluate({"a": x * 2, "b": [x, x + 1]}, {x: 1.0})
    assert float(out["a"]) == 2.0 and [float(v) for v in out["b"]] == [1.0, 2.0]
    assert isinstance(sg.evaluate((x, x), {x: 1.0}), tuple)


def test_deeply_nested_outputs_need_no_recursion():
    x = sg.variable("x")
    outputs: object = x * 2
    for _ in range(5000):  # deeper than Python's recursion limit
        outputs = [outputs]
    got = sg.evaluate(outputs, {x: 1.5})
    for _ in range(5000):
        (got,) = got
    assert got == 3.0
    fn = sg.function([x], outputs)
    got = fn(2.0)
    for _ in range(5000):
        (got,) = got
    assert got == 4.0


def test_evaluation_does_not_mutate_the_graph(fresh_graph):
    x = sg.variable("x", (3,))
    y = sg.sum(sg.exp(x))
    (g,) = sg.grad(y, [x])
    n = len(fresh_graph)
    ev = sg.Evaluator([y, g])
    for _ in range(3):
        ev.run({x: np.ones(3)})
    assert len(fresh_graph) == n


def test_intermediate_values_are_freed():
    x = sg.variable("x", (10,))
    h = x
    for _ in range(1000):
        h = sg.sin(h) + 1.0
    sched = Schedule([h], frozenset([x]))
    # a chain needs its fed input plus a couple of live values at any time
    assert sched.peak_live <= 4
    assert np.isfinite(sg.evaluate(h, {x: np.zeros(10)})).all()


def test_missing_input_names_the_variable():
    x, y = sg.variable("x"), sg.variable("weights")
    with pytest.raises(sg.MissingInputError, match="'weights'"):
        sg.evaluate(x * y, {x: 1.0})


def test_wrong_shape_names_the_variable_and_both_shapes():
    x = sg.variable("x", (2, 3))
    with pytest.raises(sg.ShapeError, match=r"'x'.*\(3, 2\).*\(2, 3\)"):
        sg.evaluate(x * 2, {x: np.zeros((3, 2))})


def test_unknown_feed_names_are_listed_with_the_valid_ones():
    sg.variable("alpha")
    beta = sg.variable("beta")
    with pytest.raises(sg.UnknownInputError, match=r"'gamma'.*'alpha', 'beta'"):
        sg.evaluate(beta, {"gamma": 1.0, "beta": 2.0})


def test_non_numeric_values_are_rejected():
    x = sg.variable("x")
    for bad in ["hello", {"a": 1}, object()]:
        with pytest.raises(sg.DTypeError, match="'x'"):
            sg.evaluate(x, {x: bad})
    with pytest.raises(sg.SymgraphError, match="symbolic Node"):
        sg.evaluate(x, {x: sg.variable("z")})


def test_float_into_integer_variable_is_rejected_but_narrowing_floats_is_fine():
    i = sg.variable("i", (), "int32")
    with pytest.raises(sg.DTypeError, match="float64"):
        sg.evaluate(i, {i: 1.5})
    f = sg.variable("f", (), "float32")
    assert sg.evaluate(f * 2, {f: 1.5}).dtype == np.float32


def test_numeric_failures_name_the_node():
    labels = sg.variable("labels", (2,), "int64")
    logits = sg.variable("logits", (2, 3))
    loss = sg.cross_entropy(logits, labels)
    with pytest.raises(sg.SymgraphError, match="label 7 is out of range for 3 classes"):
        sg.evaluate(loss, {logits: np.zeros((2, 3)), labels: np.array([0, 7])})


class Failing(sg.Op):
    """An op whose array code raises, counting its runs."""

    name = "failing"
    calls = 0

    def f(self, x):
        Failing.calls += 1
        raise ZeroDivisionError("boom")


@pytest.mark.parametrize("check_finite", [False, True])
def test_a_failing_op_runs_once_and_is_named(check_finite):
    x = sg.variable("x", (2,))
    y = Failing()(x)
    Failing.calls = 0
    with pytest.raises(sg.EvaluationError, match=r"node #\d+ failing .*ZeroDivisionError: boom") as info:
        sg.evaluate(y, {x: np.ones(2)}, check_finite=check_finite)
    assert Failing.calls == 1  # the message is built from the exception caught, not a second run
    assert isinstance(info.value.__cause__, ZeroDivisionError)


class WrongShape(sg.Op):
    name = "wrong_shape"

    def f(self, x):
        return np.concatenate([x, x])


def test_user_op_with_wrong_inferred_shape_is_caught():
    x = sg.variable("x", (2,))
    with pytest.raises(sg.ShapeError, match="wrong_shape.*infer"):
        sg.evaluate(WrongShape()(x), {x: np.ones(2)})


def test_check_finite_names_the_first_bad_node():
    x = sg.variable("x", (3,))
    y = sg.sum(sg.sqrt(x))
    (g,) = sg.grad(y, [x])
    value = sg.evaluate(g, {x: np.array([1.0, 0.0, 4.0])})  # allowed without the flag
    assert np.isinf(value[1])
    with pytest.raises(sg.NonFiniteError, match=r"div.*gradient \(order 1\).*inf=1"):
        sg.evaluate(g, {x: np.array([1.0, 0.0, 4.0])}, check_finite=True)
