"""Non-finite diagnostics (check_finite) and the where-gradient trap."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy warns on 0/0 itself


def test_the_first_forward_node_producing_nan_is_named_with_its_inputs():
    x = sg.variable("x", (3,))
    bad = sg.log(x - 1)                 # nan for x < 1: the culprit
    y = sg.sum(sg.exp(bad) * 2)         # nan downstream too, but later
    feed = {"x": np.array([0.5, 2.0, 3.0])}
    assert np.isnan(sg.evaluate(y, feed))  # without check_finite: no error
    with pytest.raises(sg.NonFiniteError) as info:
        sg.evaluate(y, feed, check_finite=True)
    e = info.value
    assert isinstance(e, sg.SymgraphError) and isinstance(e, FloatingPointError)
    assert e.node is bad
    msg = str(e)
    assert msg.startswith(f"node #{bad.id} log (forward node) produced non-finite values")
    assert "nan=1 inf=0" in msg
    assert "input 0 (#" in msg and "subtract): shape=(3,) dtype=float64 min=-0.5 max=2" in msg


def test_infinities_are_reported_too():
    x = sg.variable("x")
    with pytest.raises(sg.NonFiniteError, match=r"exp \(forward node\).*nan=0 inf=1"):
        sg.evaluate(sg.exp(x) * 0 + 1, {"x": 1000.0}, check_finite=True)


def test_gradient_nodes_are_told_apart_with_their_order():
    x = sg.variable("x", (2,))
    y = sg.sum(x ** 1.5)  # finite value and gradient at 0, infinite second derivative
    (g,) = sg.grad(y, [x])
    (h,) = sg.grad(sg.sum(g), [x])
    feed = {"x": np.array([0.0, 1.0])}
    assert np.isfinite(sg.evaluate(g, feed, check_finite=True)).all()
    with pytest.raises(sg.NonFiniteError, match=r"\(gradient \(order 2\) node\)") as info:
        sg.evaluate(h, feed, check_finite=True)
    assert info.value.node.role == "gradient" and info.value.node.order == 2


def test_evaluator_run_takes_check_finite_too():
    x = sg.variable("x")
    ev = sg.Evaluator(sg.sqrt(x))
    assert np.isnan(ev.run({"x": -1.0}))
    with pytest.raises(sg.NonFiniteError, match="sqrt"):
        ev.run({"x": -1.0}, check_finite=True)


def test_integer_and_boolean_values_are_not_checked():
    i = sg.variable("i", (2,), "int64")
    assert sg.evaluate(i > 0, {"i": [1, -1]}, check_finite=True).tolist() == [True, False]


# ---------------------------------------------------------------------------
# the where(x > 0, sqrt(x), 0) trap
# ---------------------------------------------------------------------------

X = np.array([-1.0, 0.0, 0.25, 4.0])


def test_naive_where_leaks_nan_into_the_gradient_and_check_finite_explains_it():
    x = sg.variable("x", (4,))
    y = sg.sum(sg.where(x > 0, sg.sqrt(x), 0))
    (g,) = sg.grad(y, [x])
    values = sg.evaluate(g, {"x": X})
    assert np.isnan(values[:2]).all()  # the masked-out branch still differentiates sqrt at x <= 0
    assert np.isfinite(sg.evaluate(y, {"x": X}, check_finite=False))

    # at x = 0 the forward pass is finite, the gradient rule computes 0 / (2 * sqrt(0))
    with pytest.raises(sg.NonFiniteError) as info:
        sg.evaluate(g, {"x": np.abs(X)}, check_finite=True)
    msg = str(info.value)
    assert "divide (gradient (order 1) node)" in msg
    assert "hint: this is 0/0 in a derivative rule" in msg
    assert "sg.where(x > 0, sg.sqrt(sg.where(x > 0, x, 1)), 0)" in msg

    # at x < 0 sqrt itself is NaN in the masked-out branch: named, with the same advice
    with pytest.raises(sg.NonFiniteError) as info:
        sg.evaluate(g, {"x": X}, check_finite=True)
    msg = str(info.value)
    assert "sqrt (forward node)" in msg and "feeds a branch of sg.where" in msg
    assert "double-where idiom" in msg


def test_naive_where_with_log_is_flagged_the_same_way():
    x = sg.variable("x", (4,))
    (g,) = sg.grad(sg.sum(sg.where(x > 0, sg.log(x), 0)), [x])
    with pytest.raises(sg.NonFiniteError, match="double-where idiom"):
        sg.evaluate(g, {"x": X}, check_finite=True)


def test_double_where_idiom_gives_finite_exact_gradients_to_second_order():
    x = sg.variable("x", (4,))
    pos = x > 0
    y = sg.sum(sg.where(pos, sg.sqrt(sg.where(pos, x, 1)), 0))
    (g,) = sg.grad(y, [x])
    (h,) = sg.grad(sg.sum(g), [x])
    gv, hv = sg.evaluate([g, h], {"x": X}, check_finite=True)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(gv, np.where(X > 0, 0.5 / np.sqrt(np.abs(X)), 0))
        np.testing.assert_allclose(hv, np.where(X > 0, -0.25 * np.abs(X) ** -1.5, 0))


def test_zero_cotangents_are_not_masked_away_in_second_derivatives():
    """Why the rules do not return 0 wherever the incoming gradient is 0.

    d/dx (w * sqrt(x)) = w / (2 sqrt(x)) is 0 at w = 0, but its derivative with
    respect to w is 1 / (2 sqrt(x)) there.  A rule that zeroed its output where
    the cotangent is exactly 0 would report 0 for this mixed second derivative.
    """
    w, x = sg.variable("w"), sg.variable("x")
    (gx,) = sg.grad(w * sg.sqrt(x), [x])
    (gxw,) = sg.grad(gx, [w])
    assert sg.evaluate(gx, {"w": 0.0, "x": 4.0}) == 0.0
    assert sg.evaluate(gxw, {"w": 0.0, "x": 4.0}) == pytest.approx(0.25)


def test_where_keeps_the_dtype_of_its_value_operands():
    """Python scalars in where() follow the value operands, not the boolean condition."""
    x = sg.variable("x", (2,), "float32")
    assert sg.where(x > 0, x, 0).dtype == np.float32
    assert sg.where(x > 0, 0.5, x).dtype == np.float32
    (g,) = sg.grad(sg.sum(sg.relu(x)), [x])
    assert all(n.dtype != np.float64 for n in g.graph.nodes if n.role == "gradient")
