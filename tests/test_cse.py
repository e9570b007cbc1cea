"""Hash-consing (CSE): identical nodes are shared, different nodes never are.

Gradient graphs must reuse forward values (the back-propagation chapter's
"store instead of recompute"), and sharing must be sound: two nodes are
merged only if they compute the same bits.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.traversal import ancestors
from symgraph.ops.base import Op, make
from test_ops_fd import CASES, _build


def count_ops(nodes, op_name):
    return sum(1 for n in nodes if n.op.name == op_name)


def structural_duplicates(nodes):
    """Pairs of distinct non-source nodes with the same op, description and inputs."""
    seen, dups = {}, []
    for n in nodes:
        if not n.inputs:
            continue
        key = (type(n.op), n.op.describe(), tuple(i.id for i in n.inputs), n.shape, str(n.dtype))
        if key in seen:
            dups.append((seen[key], n))
        seen[key] = n
    return dups


# ---------------------------------------------------------------------------
# sharing
# ---------------------------------------------------------------------------

def test_identical_expressions_are_one_node():
    x, y = sg.variable("x", (3,)), sg.variable("y", (3,))
    assert x * y is x * y
    assert sg.sin(x) is sg.sin(x)
    assert sg.sum(x, axis=0) is sg.sum(x, axis=0)
    assert x[1:] is x[1:]
    assert x[np.array([0, 2])] is x[np.array([0, 2])]
    assert sg.constant([1.0, 2.0]) is sg.constant(np.array([1.0, 2.0]))
    assert sg.full((2,), 0.0) is sg.full((2,), 0, "float64")  # 0 converted to float64 is 0.0


def test_exp_bprop_uses_the_forward_output(fresh_graph):
    x = sg.variable("x", (4,))
    y = sg.exp(x)
    g = sg.grad(sg.sum(y), x)
    assert count_ops(fresh_graph.nodes, "exp") == 1
    assert y in set(ancestors([g]))  # set: Node == builds nodes
    value = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(sg.evaluate(g, {x: value}), np.exp(value))


def test_tanh_first_and_second_order_share_the_forward_tanh(fresh_graph):
    a = sg.variable("a", (3,))
    y = sg.sum(sg.tanh(a) * sg.tanh(a))
    g = sg.grad(y, a)
    h = sg.grad(sg.sum(g), a)
    assert count_ops(fresh_graph.nodes, "tanh") == 1
    value = np.array([-0.5, 0.1, 2.0])
    t = np.tanh(value)
    gv, hv = sg.evaluate([g, h], {a: value})
    np.testing.assert_allclose(gv, 2 * t * (1 - t**2))
    np.testing.assert_allclose(hv, 2 * (1 - t**2) ** 2 - 4 * t**2 * (1 - t**2))


def test_grad_of_x_times_x_reuses_nodes_at_second_order(fresh_graph):
    x = sg.variable("x")
    y = x * x
    g1 = sg.grad(y, x)
    n_after_first = len(fresh_graph)
    g2 = sg.grad(g1, x)
    # Both bprop contributions of x*x are seed*x, which is x itself (the one-seed folds
    # away): one add_n of x and x.
    assert g1.op.name == "add_n" and g1.inputs == (x, x)
    # The second derivative adds only a handful of nodes and duplicates none.
    assert len(fresh_graph) - n_after_first <= 6
    assert structural_duplicates(fresh_graph.nodes) == []
    assert sg.evaluate([g1, g2], {x: 3.0}) == [6.0, 2.0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_graphs_contain_no_duplicates(case):
    """First- and second-order graphs of every op: no two nodes compute the same thing."""
    fn, arrays = CASES[case]
    xs, y = _build(fn, arrays)
    g = sg.get_default_graph()
    loss = sg.sum(y * np.arange(y.size, dtype=float).reshape(y.shape))
    grads = sg.grad(loss, xs)
    sg.grad(sg.add_n([sg.sum(gi * gi) for gi in grads]), xs)  # adds second-order nodes
    assert structural_duplicates(g.nodes) == []


# ---------------------------------------------------------------------------
# soundness: nodes that differ are never merged
# ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:divide by zero")
def test_signed_zeros_are_different_nodes():
    pos, neg = sg.full((), 0.0), sg.full((), -0.0)
    assert pos is not neg
    assert sg.evaluate([1 / pos, 1 / neg]) == [np.inf, -np.inf]
    cpos, cneg = sg.constant(0.0), sg.constant(-0.0)
    assert cpos is not cneg
    assert sg.evaluate([1 / cpos, 1 / cneg]) == [np.inf, -np.inf]


def test_nan_constants_are_shared_only_with_identical_bits():
    a, b = sg.constant(np.nan), sg.constant(float("nan"))
    assert a is b  # same bits: computing with either gives the same result
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    c = sg.constant(other_nan)
    assert c is not a
    assert np.isnan(sg.evaluate(a)) and np.isnan(sg.evaluate(c))
    assert sg.full((), np.nan) is sg.full((), float("nan"))


def test_constants_of_other_dtype_or_shape_are_different_nodes():
    nodes = [sg.constant(1.0), sg.constant(np.float32(1.0)), sg.constant(1), sg.constant(True),
             sg.constant([1.0]), sg.constant([[1.0]])]
    assert len({id(n) for n in nodes}) == len(nodes)
    assert [str(n.dtype) for n in nodes] == ["float64", "float32", "int64", "bool", "float64", "float64"]


def test_small_constants_are_shared_by_value_and_large_ones_by_identity():
    assert sg.constant(np.arange(64.0)) is sg.constant(np.arange(64.0))
    big1, big2 = sg.constant(np.arange(65.0)), sg.constant(np.arange(65.0))
    assert big1 is not big2
    np.testing.assert_array_equal(sg.evaluate(big1 + big2), 2 * np.arange(65.0))


def test_ops_with_different_parameters_are_different_nodes():
    x = sg.variable("x", (2, 3))
    assert sg.sum(x, axis=0) is not sg.sum(x, axis=1)
    assert sg.sum(x, axis=0) is not sg.sum(x, axis=0, keepdims=True)
    assert sg.mean(x, axis=0) is not sg.sum(x, axis=0)
    assert x[np.array([0, 1])] is not x[np.array([[0, 1]])]
    assert x[0:2] is not x[0:1]
    assert sg.reshape(x, (3, 2)) is not sg.reshape(x, (6,))
    assert sg.cast(x, "float32") is not sg.cast(x, "float16")


class Scale(Op):
    """A user op whose parameter decides the result's value and dtype (NEP 50)."""

    name = "scale"

    def __init__(self, factor):
        self.factor = factor

    def infer(self, x):
        with np.errstate(all="ignore"):
            return x.shape, (np.zeros((), x.dtype) * self.factor).dtype

    def f(self, x):
        with np.errstate(all="ignore"):
            return np.asarray(x * self.factor, dtype=self.infer(x)[1])


def scale(x, factor):
    return make(Scale(factor), x)


def test_python_and_numpy_scalar_parameters_are_not_confused():
    x32 = sg.variable("x32", (2,), "float32")
    by_python, by_f64, by_f32 = scale(x32, 0.5), scale(x32, np.float64(0.5)), scale(x32, np.float32(0.5))
    assert len({by_python, by_f64, by_f32}) == 3
    assert (by_python.dtype, by_f64.dtype, by_f32.dtype) == (np.float32, np.float64, np.float32)
    assert scale(x32, 0.5) is by_python

    i = sg.variable("i", (2,), "int64")
    as_int, as_float, as_bool = scale(i, 1), scale(i, 1.0), scale(i, True)
    assert len({as_int, as_float, as_bool}) == 3
    assert as_float.dtype == np.float64
    values = sg.evaluate([as_int, as_float, as_bool], {i: np.array([1, 2])})
    assert [v.dtype for v in values] == [np.int64, np.float64, np.int64]


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_signed_zero_and_nan_parameters():
    x = sg.variable("x", (2,))
    assert scale(x, 0.0) is not scale(x, -0.0)
    pos, neg = sg.evaluate([1 / scale(x, 0.0), 1 / scale(x, -0.0)], {x: [1.0, 2.0]})
    assert (pos == np.inf).all() and (neg == -np.inf).all()
    assert scale(x, float("nan")) is scale(x, float("nan"))


class Tagged(Op):
    """Identity op carrying an arbitrary parameter."""

    def __init__(self, tag):
        self.tag = tag

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return x


def test_unhashable_parameters_disable_sharing():
    x = sg.variable("x", (2,))
    assert Tagged({1.0}).cse_key() is None  # a set cannot be hashed, so never shared
    assert make(Tagged({1.0}), x) is not make(Tagged({1.0}), x)
    assert make(Tagged([1.0, (2, 3)]), x) is make(Tagged([1.0, (2, 3)]), x)
    assert make(Tagged([1.0]), x) is not make(Tagged((1.0,)), x)


class Scale2(Scale):
    name = "scale2"


def test_subclasses_with_equal_parameters_are_different_nodes():
    x = sg.variable("x", (2,))
    assert make(Scale(2.0), x) is not make(Scale2(2.0), x)


scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.booleans(),
    st.sampled_from([0.0, -0.0, 1.0, 1, True, np.float64(1.0), np.float32(1.0), np.int64(1),
                     np.float64(-0.0), np.float32(0.5), 0.5, np.nan]),
)


@settings(max_examples=300, deadline=None)
@given(scalars, scalars)
def test_shared_nodes_compute_identical_bits(a, b):
    """Whenever two parameters give one node, they give the same values and dtype."""
    with sg.Graph():
        x = sg.variable("x", (3,), "float32")
        na, nb = scale(x, a), scale(x, b)
        feed = {x: np.array([1.5, -2.0, 0.0], dtype=np.float32)}
        va, vb = np.asarray(Scale(a).f(feed[x])), np.asarray(Scale(b).f(feed[x]))
        if na is nb:
            assert va.dtype == vb.dtype and va.tobytes() == vb.tobytes()
        assert (na is nb) == (type(a) is type(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
