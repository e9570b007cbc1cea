"""The bad-input catalogue: every misuse gets a SymgraphError subclass with a message that helps.

Each test asserts the error type and the parts of the message a user needs
(the names, shapes or ops involved), one misuse at a time.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg


@pytest.fixture
def x():
    return sg.variable("x", (3,))


@pytest.fixture
def other_graph_node():
    with sg.Graph("other"):
        return sg.variable("z")


def raises(kind, *fragments):
    """pytest.raises matching every fragment (literally, in order) in the message."""
    return pytest.raises(kind, match=".*".join(re.escape(f) for f in fragments))


# ---------------------------------------------------------------------------
# differentiation
# ---------------------------------------------------------------------------


def test_gradient_of_a_non_scalar_needs_grad_y(x):
    with raises(sg.ShapeError, "y has shape (3,)", "need a scalar y, or pass grad_y"):
        sg.grad(sg.exp(x), x)


def test_grad_y_of_the_wrong_shape(x):
    with raises(sg.ShapeError, "grad_y has shape (4,) but y has shape (3,)"):
        sg.grad(sg.exp(x), x, grad_y=np.ones(4))


def test_wrt_node_from_another_graph(x, other_graph_node):
    with raises(sg.GraphMismatchError, "grad: cannot combine nodes of two graphs", "'z'"):
        sg.grad(sg.sum(x), other_graph_node)


@pytest.mark.parametrize("wrt, shown", [(3.0, "got float 3.0"), ("x", "got str 'x'"),
                                        (np.ones(3), "got ndarray")])
def test_wrt_that_is_not_a_node(x, wrt, shown):
    with raises(sg.SymgraphError, "wrt must be a Node or a list of Nodes", shown):
        sg.grad(sg.sum(x), wrt)
    with raises(sg.SymgraphError, "wrt must be a Node or a list of Nodes"):
        sg.grad(sg.sum(x), [x, wrt])


def test_empty_wrt(x):
    with raises(sg.SymgraphError, "grad: wrt is empty"):
        sg.grad(sg.sum(x), [])


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_and_boolean_variables_as_wrt(x, dtype):
    v = sg.variable("v", (), dtype)
    with raises(sg.DTypeError, f"variable 'v' of dtype {dtype}",
                "only floating-point nodes have derivatives"):
        sg.grad(sg.sum(x) * v, v)


def test_gradient_of_an_integer_output(x):
    i = sg.variable("i", (), "int64")
    with raises(sg.DTypeError, "cannot differentiate node", "(multiply) of dtype int64"):
        sg.grad(i * 2, x)


def test_y_that_is_not_a_node(x):
    with raises(sg.SymgraphError, "grad: y must be a Node, got float"):
        sg.grad(3.0, x)


def test_jvp_tangents_of_the_wrong_shape_or_number(x):
    with raises(sg.ShapeError, "tangent of shape (4,) for variable 'x' of shape (3,)"):
        sg.jvp(sg.exp(x), x, np.ones(4))
    with raises(sg.SymgraphError, "1 wrt nodes but 2 tangents"):
        sg.jvp(sg.exp(x), [x], [np.ones(3), np.ones(3)])


# ---------------------------------------------------------------------------
# feeds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value, shown", [
    (np.array(["a", "b", "c"]), "non-numeric dtype <U1"),
    ("abc", "non-numeric dtype <U3"),
    ([1.0, None, 2.0], "non-numeric dtype object"),
    ([[1.0], [1.0, 2.0]], "is not an array"),
])
def test_feeds_of_the_wrong_dtype_kind(x, value, shown):
    with raises(sg.DTypeError, "the value fed for variable 'x'", shown):
        sg.evaluate(sg.sum(x), {"x": value})


def test_float_fed_to_an_integer_variable():
    i = sg.variable("i", (), "int64")
    with raises(sg.DTypeError, "variable 'i' has dtype float64, which cannot be used as int64"):
        sg.evaluate(i + 1, {"i": 1.5})


def test_nan_feeds_are_allowed_and_flagged_only_with_check_finite(x):
    value = np.array([np.nan, 1.0, np.inf])
    assert np.isnan(sg.evaluate(sg.sum(x), {"x": value}))
    with raises(sg.NonFiniteError, "the value fed for variable 'x'", "nan=1 inf=1"):
        sg.evaluate(sg.sum(x), {"x": value}, check_finite=True)


def test_unknown_feed_names_list_the_valid_ones(x):
    sg.variable("w")
    with raises(sg.UnknownInputError, "unknown variable 'y'", "variables are: 'w', 'x'"):
        sg.evaluate(sg.sum(x), {"x": np.ones(3), "y": 1.0})


def test_missing_feeds_name_the_variable(x):
    i = sg.variable("i", (), "int64")
    with raises(sg.MissingInputError, "missing value for variable 'i'"):
        sg.evaluate(sg.sum(x) * i, {"x": np.ones(3)})


def test_wrong_feed_shapes_name_the_variable_and_both_shapes(x):
    with raises(sg.ShapeError, "variable 'x' has shape (4,), expected shape (3,)"):
        sg.evaluate(sg.sum(x), {"x": np.ones(4)})


def test_feed_from_another_graph(x, other_graph_node):
    with raises(sg.GraphMismatchError, "feed key", "belongs to another graph"):
        sg.evaluate(sg.sum(x), {x: np.ones(3), other_graph_node: 1.0})


@pytest.mark.parametrize("feed, shown", [([1, 2], "feed must be a dict"),
                                         ({3: 1.0}, "feed keys must be Nodes or variable names")])
def test_feeds_that_are_not_mappings_of_names(x, feed, shown):
    with raises(sg.SymgraphError, shown):
        sg.evaluate(x, feed)


def test_a_symbolic_node_as_a_fed_value(x):
    with raises(sg.SymgraphError, "is a symbolic Node; feed a number or array"):
        sg.evaluate(sg.sum(x), {"x": x})


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape, shown", [
    ((2, 2), "cannot reshape array of shape (3,) (size 3) into shape (2, 2)"),
    ((-1, 2), "cannot reshape array of shape (3,) into shape (-1, 2)"),
    ((-1, -1), "invalid target shape (-1, -1)"),
])
def test_reshape_to_incompatible_sizes(x, shape, shown):
    with raises(sg.ShapeError, shown):
        sg.reshape(x, shape)


@pytest.mark.parametrize("build, kind, shown", [
    (lambda m: sg.sum(m, axis=2), sg.ShapeError, "sum: axis 2 is out of bounds for an array of 2"),
    (lambda m: sg.mean(m, axis=-3), sg.ShapeError, "mean: axis -3 is out of bounds"),
    (lambda m: sg.max(m, axis=(0, 0)), sg.SymgraphError, "max: repeated axis in (0, 0)"),
    (lambda m: sg.sum(m, axis=0.5), sg.SymgraphError, "axis must be None, an int or a tuple"),
    (lambda m: sg.sum(m, axis=(0, "1")), sg.SymgraphError, "axis must be an int or a tuple"),
    (lambda m: sg.softmax(m, axis=3), sg.ShapeError, "softmax: axis 3 is out of bounds"),
    (lambda m: sg.concatenate([m, m], axis=2), sg.ShapeError, "concatenate: axis 2 is out of"),
    (lambda m: sg.stack([m, m], axis=4), sg.ShapeError, "stack: axis 4 is out of bounds"),
    (lambda m: sg.transpose(m, (0, 2)), sg.ShapeError, "transpose: axis 2 is out of bounds"),
    (lambda m: sg.transpose(m, (0,)), sg.ShapeError, "are not a permutation of the 2 axes"),
])
def test_bad_axes(build, kind, shown):
    with raises(kind, shown):
        build(sg.variable("m", (2, 3)))


@pytest.mark.parametrize("index, shown", [
    (3, "index 3 is invalid for shape (3,)"),
    (-4, "index -4 is invalid for shape (3,)"),
    (np.array([0, 5]), "index [0, 5] is invalid for shape (3,)"),
    ((0, 0), "too many indices"),
])
def test_out_of_range_indices(x, index, shown):
    with raises(sg.ShapeError, shown):
        x[index]


@pytest.mark.parametrize("index, shown", [(1.5, "invalid index 1.5"),
                                          (slice(0.5, 2), "slice bounds must be ints")])
def test_indices_of_the_wrong_type(x, index, shown):
    with raises(sg.SymgraphError, shown):
        x[index]


def test_indexing_with_a_node(x):
    with raises(sg.SymgraphError, "indexing with a symbolic Node is not supported"):
        x[x]


def test_mixing_graphs(x, other_graph_node):
    with raises(sg.GraphMismatchError, "cannot combine nodes of two graphs", "'x'", "'z'"):
        x + other_graph_node
    with raises(sg.GraphMismatchError, "outputs belong to different graphs"):
        sg.evaluate([x, other_graph_node], {})


def test_shapes_that_do_not_broadcast_or_align(x):
    with raises(sg.ShapeError, "add: shapes (3,) and (4,) cannot be broadcast together"):
        x + sg.variable("y", (4,))
    with raises(sg.ShapeError, "matmul: shapes (3,) and (4, 2) are not aligned (3 != 4)"):
        x @ sg.variable("m", (4, 2))


def test_bad_variables_and_constants():
    with raises(sg.DTypeError, "variable 's'", "is not numeric"):
        sg.variable("s", (), "str")
    with raises(sg.SymgraphError, "negative dimension in shape (-1,)"):
        sg.variable("s", (-1,))
    with raises(sg.SymgraphError, "variable name must be a non-empty string"):
        sg.variable("", ())
    with raises(sg.DTypeError, "constant: dtype <U3 is not numeric"):
        sg.constant("abc")


def test_truth_value_of_a_node(x):
    with raises(sg.SymgraphError, "truth value of a symbolic Node is undefined", "sg.where"):
        if x > 0:
            pass


def test_cross_entropy_labels():
    logits = sg.variable("logits", (2, 3))
    with raises(sg.ShapeError, "labels of shape (3,) do not match logits of shape (2, 3)"):
        sg.cross_entropy(logits, np.array([0, 1, 2]))
    with raises(sg.DTypeError, "labels must be integers, got dtype float64"):
        sg.cross_entropy(logits, np.array([0.0, 1.0]))
    with raises(sg.EvaluationError, "label 5 is out of range for 3 classes"):
        sg.evaluate(sg.cross_entropy(logits, np.array([0, 5])), {"logits": np.zeros((2, 3))})


def test_evaluating_something_that_is_not_a_node(x):
    with raises(sg.SymgraphError, "outputs must be Nodes, got int"):
        sg.evaluate([x, 3], {"x": np.ones(3)})


# ---------------------------------------------------------------------------
# user-defined ops with broken rules: caught when the gradient is built
# ---------------------------------------------------------------------------


class _Base(sg.Op):
    def f(self, a, b):
        return a * b


class TooFewGradients(_Base):
    name = "too_few"

    def bprop(self, inputs, out, g):
        return [g * inputs[1]]


class TooManyGradients(_Base):
    name = "too_many"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [g * b, g * a, g]


class NotAList(sg.Op):
    name = "not_a_list"

    def f(self, a):
        return 2 * a

    def bprop(self, inputs, out, g):
        return 2 * g  # forgot the list


class WrongShape(_Base):
    name = "wrong_shape"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [g * b, g * a]  # no sum_to: b was broadcast


class NotANode(_Base):
    name = "not_a_node"

    def bprop(self, inputs, out, g):
        return [np.ones(3), None]


class NoBprop(_Base):
    name = "no_bprop"


class BadJvp(_Base):
    name = "bad_jvp"

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [g * b, sg.sum_to(g * a, b.shape)]

    def jvp(self, inputs, out, tangents):
        return sg.sum(tangents[0])


class WrongOutputShape(_Base):
    name = "wrong_output_shape"

    def f(self, a, b):
        return (a * b)[:1]


class Crashes(_Base):
    name = "crashes"

    def f(self, a, b):
        raise RuntimeError("boom")


def _apply(op, a, b):
    return sg.graph.apply(op, [a, b])


@pytest.mark.parametrize("op, kind, shown", [
    (TooFewGradients(), sg.SymgraphError,
     ("bprop of op 'too_few'", "returned 1 entry for its 2 inputs", "one entry")),
    (TooManyGradients(), sg.SymgraphError, ("bprop of op 'too_many'", "returned 3 entries")),
    (WrongShape(), sg.ShapeError,
     ("bprop of op 'wrong_shape' returned shape (2, 3) for input 1, whose shape is (3,)",)),
    (NotANode(), sg.SymgraphError, ("bprop of op 'not_a_node' returned ndarray for input 0",)),
    (NoBprop(), sg.UndefinedGradientError, ("op 'no_bprop'", "defines no bprop")),
])
def test_user_ops_with_broken_bprop_fail_at_build_time_naming_the_op(op, kind, shown):
    a, b = sg.variable("a", (2, 3)), sg.variable("b", (3,))
    y = sg.sum(_apply(op, a, b))
    with raises(kind, *shown):
        sg.grad(y, [a, b])  # building, not evaluating


def test_bprop_returning_a_bare_node_instead_of_a_list():
    a = sg.variable("a", (1,))  # len(node) == 1 == number of inputs: must not slip through
    y = sg.sum(sg.graph.apply(NotAList(), [a]))
    with raises(sg.SymgraphError, "bprop of op 'not_a_list'", "returned Node for its 1 input",
                "must return a list"):
        sg.grad(y, a)
    with raises(sg.SymgraphError, "bprop of op 'not_a_list'", "returned Node"):
        sg.jvp(y, a, np.ones(1))  # forward mode transposes bprop, and checks it the same way


def test_user_op_without_bprop_in_forward_mode():
    a, b = sg.variable("a", (2, 3)), sg.variable("b", (3,))
    with raises(sg.UndefinedGradientError, "op 'no_bprop'", "defines neither jvp nor bprop"):
        sg.jvp(_apply(NoBprop(), a, b), a, np.ones((2, 3)))


def test_user_op_with_a_jvp_of_the_wrong_shape():
    a, b = sg.variable("a", (2, 3)), sg.variable("b", (3,))
    with raises(sg.ShapeError, "jvp of op 'bad_jvp' returned shape ()", "has shape (2, 3)"):
        sg.jvp(_apply(BadJvp(), a, b), a, np.ones((2, 3)))


def test_user_op_whose_forward_disagrees_with_its_inferred_shape_or_crashes():
    a, b = sg.variable("a", (2, 3)), sg.variable("b", (3,))
    feed = {"a": np.ones((2, 3)), "b": np.ones(3)}
    with raises(sg.ShapeError, "op 'wrong_output_shape'", "produced shape (1, 3) but its "
                "inferred shape is (2, 3); define infer()"):
        sg.evaluate(_apply(WrongOutputShape(), a, b), feed)
    with raises(sg.EvaluationError, "crashes", "RuntimeError: boom"):
        sg.evaluate(_apply(Crashes(), a, b), feed)
