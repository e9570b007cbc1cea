"""Issue 11, numerics: no NaN from the power rule at 0, no silent casts of feeds or shapes,
and the small ones (add_n([]), lists of nodes as array_likes, warnings naming the node).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import symgraph as sg


def raises(kind, *fragments):
    """pytest.raises matching every fragment (literally, in order) in the message."""
    return pytest.raises(kind, match=".*".join(re.escape(f) for f in fragments))


def run(outputs, feed: dict, how: str):
    """Evaluate ``outputs`` with ``sg.evaluate`` or through ``sg.function`` (inputs by node)."""
    if how == "evaluate":
        return sg.evaluate(outputs, feed)
    f = sg.function(list(feed), outputs)
    return f(*feed.values())


HOW = ["evaluate", "function"]


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [w for w in caught if issubclass(w.category, RuntimeWarning)]


# ---------------------------------------------------------------------------
# item 4: the power rule at 0
# ---------------------------------------------------------------------------

def _dx_power(b: float, x: float, k: int) -> float:
    """k-th derivative of x**b in x: b(b-1)...(b-k+1) x**(b-k), with 0 * anything = 0."""
    coef = math.prod(b - j for j in range(k))
    if coef == 0:
        return 0.0
    return coef * x ** (b - k)


def _derivatives(y, x, mode: str) -> list:
    """First, second and third derivatives of scalar y in scalar x, built in ``mode``."""
    one = sg.full((), 1.0, graph=x.graph)
    if mode == "grad":
        d1 = sg.grad(y, x)
        d2 = sg.grad(d1, x)
        return [d1, d2, sg.grad(d2, x)]
    if mode == "jvp":
        d1 = sg.jvp(y, x, one)
        d2 = sg.jvp(d1, x, one)
        return [d1, d2, sg.jvp(d2, x, one)]
    # hvp: forward-over-reverse second derivative, then one more of each kind
    d1 = sg.grad(y, x)
    d2 = sg.hvp(y, x, one)
    return [d1, d2, sg.grad(d2, x) + sg.hvp(d1, x, one) - sg.jvp(d2, x, one)]


EXPONENTS = [0.0, 1.0, 2.0, 3.0, 0.5]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("mode", ["grad", "jvp", "hvp"])
@pytest.mark.parametrize("exponent_kind", ["constant", "variable"])
def test_power_rule_finite_at_zero_orders_1_to_3(how, mode, exponent_kind):
    x = sg.variable("x")
    b = sg.variable("b") if exponent_kind == "variable" else None
    for bv in EXPONENTS:
        y = x ** (b if b is not None else bv)
        ds = _derivatives(y, x, mode)
        for xv in [0.0, 2.0]:
            if xv == 0.0 and bv == 0.5:
                continue  # the true derivative is infinite there
            feed = {x: xv} if b is None else {x: xv, b: bv}
            got, caught = _caught(lambda: run(ds, feed, how))
            want = [_dx_power(bv, xv, k) for k in (1, 2, 3)]
            np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-12, atol=0,
                                       err_msg=f"x**{bv} at x={xv}, {mode}, {how}")
            assert caught == [], [str(w.message) for w in caught]  # not even an inner 0 * inf


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_power_exponent_derivative_at_zero_and_two(how, mode):
    x, b = sg.variable("x"), sg.variable("b")
    y = x ** b
    one = sg.full((), 1.0)
    if mode == "grad":
        db = sg.grad(y, b)
        dbb = sg.grad(db, b)
        dxb = sg.grad(sg.grad(y, x), b)
    else:
        db = sg.jvp(y, b, one)
        dbb = sg.jvp(db, b, one)
        dxb = sg.jvp(sg.jvp(y, x, one), b, one)
    for bv in [1.0, 2.0, 3.0, 0.5]:
        got = run([db, dbb], {x: 0.0, b: bv}, how)
        assert [float(v) for v in got] == [0.0, 0.0], (bv, got)
    for bv in [0.0, 1.0, 2.0, 3.0, 0.5]:
        got = run([db, dbb, dxb], {x: 2.0, b: bv}, how)
        log2 = math.log(2.0)
        want = [2.0 ** bv * log2, 2.0 ** bv * log2 ** 2, 2.0 ** (bv - 1) * (1 + bv * log2)]
        np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-12)


@pytest.mark.parametrize("how", HOW)
def test_power_polynomial_with_arange_exponents_at_zero(how):
    x = sg.variable("x")
    c = np.array([1.0, 2.0, 3.0, 4.0])
    y = sg.sum(c * x ** np.arange(4))
    d1 = sg.grad(y, x)
    d2 = sg.grad(d1, x)
    d3 = sg.jvp(d2, x, sg.full((), 1.0))
    got = run([d1, d2, d3], {x: 0.0}, how)
    assert [float(v) for v in got] == [2.0, 6.0, 24.0]


# ---------------------------------------------------------------------------
# item 5: feeds and shapes never change a value silently
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", HOW)
def test_integer_feed_out_of_range_is_an_error(how):
    v = sg.variable("v", (2,), "int8")
    with raises(sg.DTypeError, "'v'", "-200", "int8", "-128 to 127"):
        run(v + 1, {v: np.array([300, -200])}, how)
    w = sg.variable("w", (), "int64")
    with raises(sg.DTypeError, "'w'", "18446744073709551615", "int64"):
        run(w + 1, {w: np.uint64(2**64 - 1)}, how)
    with raises(sg.DTypeError, "'w'", "18446744073709551615", "int64"):
        run(w + 1, {w: 2**64 - 1}, how)  # a Python int
    u = sg.variable("u", (), "uint8")
    with raises(sg.DTypeError, "'u'", "-1", "uint8"):
        run(u + 1, {u: -1}, how)
    # values that fit still pass, exactly
    assert run(v * 1, {v: np.array([127, -128])}, how).tolist() == [127, -128]
    assert run(u * 1, {u: 255}, how) == 255
    assert run(w * 1, {w: True}, how) == 1


@pytest.mark.parametrize("how", HOW)
def test_float_and_inexact_feeds_are_errors(how):
    f = sg.variable("f", (2,), "float64")
    with raises(sg.DTypeError, "'f'", "9007199254740993", "float64 holds exactly"):
        run(f * 1, {f: np.array([2**53 + 1, 0])}, how)
    assert run(f * 1, {f: np.array([1, 2])}, how).tolist() == [1.0, 2.0]
    s = sg.variable("s", (), "float32")
    with raises(sg.DTypeError, "'s'", "16777217", "float32"):
        run(s * 1, {s: 2**24 + 1}, how)
    with raises(sg.DTypeError, "'s'", "beyond the range of float32"):
        run(s * 1, {s: 1e300}, how)
    assert run(s * 1, {s: 0.1}, how) == np.float32(0.1)  # float64 data into float32: as before
    w = sg.variable("w", (), "int64")
    for value in (2.5, 2.0, np.float32(3.0)):  # strict: even integral floats are refused
        with raises(sg.DTypeError, "'w'", "float", "int64", "cast it explicitly"):
            run(w + 1, {w: value}, how)


def test_float_shapes_are_errors_everywhere():
    with raises(sg.SymgraphError, "variable 'f'", "sizes must be integers", "float 2.7"):
        sg.variable("f", (2.7, 3.2))
    for bad in [True, (2, True), (2.0,), ("3",), np.float64(2.0)]:
        with pytest.raises(sg.SymgraphError, match="sizes must be integers"):
            sg.variable("g", bad)
    assert sg.variable("h", (np.int64(2), np.int32(3))).shape == (2, 3)
    assert sg.variable("k", np.array([2, 3])).shape == (2, 3)
    assert sg.variable("m", 4).shape == (4,)
    x = sg.variable("x", (6,))
    builders = {
        "reshape": lambda: sg.reshape(x, (2.0, 3)),
        "reshape ": lambda: x.reshape(3.0, 2),
        "broadcast_to": lambda: sg.broadcast_to(x, (2.5, 6)),
        "sum_to": lambda: sg.sum_to(sg.broadcast_to(x, (2, 6)), (6.0,)),
        "full": lambda: sg.full((2.5,), 1.0),
        "one_hot": lambda: sg.one_hot(sg.constant([1, 0]), 2.5),
    }
    for what, build in builders.items():
        with raises(sg.SymgraphError, what.strip(), "sizes must be integers"):
            build()
    assert sg.reshape(x, (np.int64(2), -1)).shape == (2, 3)
    assert sg.sum_to(sg.broadcast_to(x, (2, 6)), (np.int64(6),)).shape == (6,)


# ---------------------------------------------------------------------------
# item 18: the small ones
# ---------------------------------------------------------------------------

def test_add_n_of_nothing_is_a_symgraph_error():
    with raises(sg.SymgraphError, "add_n needs at least one term"):
        sg.add_n([])
    with raises(sg.SymgraphError, "add_n takes a list of nodes"):
        sg.add_n(sg.variable("x"))


@pytest.mark.parametrize("how", HOW)
def test_lists_of_nodes_are_stacked_like_array_likes(how):
    x = sg.variable("x", (3,))
    xv = np.array([0.0, 1.0, 5.0])
    assert run(sg.mean([x, x + 2]), {x: xv}, how) == np.mean([xv, xv + 2])
    np.testing.assert_array_equal(run(sg.mean([x, x + 2], axis=0), {x: xv}, how), xv + 1)
    np.testing.assert_array_equal(run(sg.maximum([x, np.ones(3)], 2.0), {x: xv}, how),
                                  np.maximum([xv, np.ones(3)], 2.0))
    s = sg.variable("s", (), "float32")
    nested = sg.sum([[s, 1.0], [2, s]])  # nested, mixed with Python numbers: weakly typed
    assert nested.dtype == np.float32
    assert run(nested, {s: np.float32(1.5)}, how) == 6.0
    np.testing.assert_array_equal(run(sg.grad(sg.sum(sg.square([x, x * 3])), x), {x: xv}, how),
                                  20 * xv)
    with raises(sg.SymgraphError, "use sg.stack"):
        sg.constant([x, x])


@pytest.mark.parametrize("how", HOW)
def test_numpy_warnings_name_the_node_and_point_at_the_caller(how):
    x = sg.variable("x")
    y = sg.log(x) * 2
    if how == "evaluate":
        value, caught = _caught(lambda: sg.evaluate(y, {x: -1.0}))
    else:
        f = sg.function([x], y)
        value, caught = _caught(lambda: f(-1.0))
    assert np.isnan(value)
    assert len(caught) == 1, [str(w.message) for w in caught]
    w = caught[0]
    log_node = y.inputs[0]
    assert f"node #{log_node.id} log" in str(w.message)
    assert "invalid value encountered in log" in str(w.message)
    assert w.filename == __file__  # the user's line, not a line inside symgraph


def test_numpy_error_modes_of_the_user_are_kept():
    x = sg.variable("x")
    y = sg.log(x)
    with np.errstate(invalid="ignore"):
        _, caught = _caught(lambda: sg.evaluate(y, {x: -1.0}))
    assert caught == []
    with np.errstate(invalid="raise"), raises(sg.EvaluationError, "log", "FloatingPointError"):
        sg.evaluate(y, {x: -1.0})
    _, caught = _caught(lambda: np.log(-1.0))  # numpy's own state is restored afterwards
    assert len(caught) == 1 and "symgraph" not in str(caught[0].message)


def test_lazy_integer_feeds_that_may_not_fit_are_refused_without_computing():
    da = pytest.importorskip("dask.array")
    v = sg.variable("v", (4,), "int32")
    with raises(sg.DTypeError, "'v'", "int64", "may not fit int32", "cast it yourself"):
        sg.evaluate(v + 1, {v: da.arange(4, chunks=2)})
    widened = sg.evaluate(v * 2, {v: da.arange(4, chunks=2).astype("int16")})
    assert np.asarray(widened.compute()).tolist() == [0, 2, 4, 6]


class _FloatShape(sg.Op):
    name = "float_shape"

    def infer(self, x):
        return (2.7,), x.dtype

    def f(self, x):
        return np.zeros(2)


class _NumpyIntShape(sg.Op):
    name = "numpy_int_shape"

    def infer(self, x):
        return [np.int64(2)], x.dtype

    def f(self, x):
        return np.zeros(2)


def test_user_infer_shapes_are_integers_not_truncated():
    x = sg.variable("x")
    with pytest.raises(sg.SymgraphError, match="float_shape.*sizes must be integers"):
        _FloatShape()(x)
    node = _NumpyIntShape()(x)
    assert node.shape == (2,) and type(node.shape[0]) is int
