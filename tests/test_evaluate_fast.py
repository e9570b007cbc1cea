"""The evaluator's fast loop gives what the general loop gives, names nodes as it does.

Numpy runs without ``check_finite`` take ``run_fast`` (ufuncs called
directly, unchecked; float ``+ - * /`` as operators; 0-d constants as numpy
scalars; results written over dead inputs).  Each test compares it with the
general loop (``_run_steps``, which ``Schedule.run`` takes whenever an
after-hook is given) on the same schedule, value by value: same type (numpy
scalar or array), dtype, shape and bits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops.sources import Full
from symgraph.runtime import normalize_feed

EV = sys.modules["symgraph.evaluate"]  # ``sg.evaluate`` is the function


def _keep(node, out, args):
    """An after-hook that changes nothing: ``Schedule.run`` then takes the general loop."""
    return out


def both_paths(outputs, feed):
    """The raw output values of the fast and of the general loop, and the schedule."""
    ev = sg.Evaluator(outputs)
    by_node = normalize_feed(ev.graph, feed)
    sched = ev.schedule(frozenset(by_node))
    fed = [by_node[n] for _, n in sched.fed]
    with np.errstate(all="ignore"):  # operators are allowed then, as in a run
        sched.fast(EV.scalar_arithmetic_ok())  # planned now (a first run would not plan)
        fast = sched.run(fed, "numpy", None, EV.scalar_arithmetic_ok())
        slow = sched.run(fed, "numpy", _keep, False)
    return fast, slow, sched


def twice(fn):
    """``fn()`` run twice: ``sg.evaluate``'s first run of a schedule takes the general loop,
    the second the fast one.  Both results, the fast one first."""
    first = fn()
    return fn(), first


def assert_same(fast, slow):
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert type(a) is type(b), (type(a), type(b))
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        # bit for bit, signed zeros and NaNs included
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def chain(x, levels=50):
    h = x
    for _ in range(levels):
        h = sg.sin(h) * 0.5 + h
    return h


def kinds(sched, operators=True):
    return {step[0] for step in sched.fast(operators).steps}


@pytest.mark.parametrize("shape,dtype", [((), "float64"), ((), "float32"), ((7,), "float64"),
                                         ((3, 4), "float32")])
def test_a_chain_and_its_gradient_match_the_general_loop(shape, dtype):
    x = sg.variable("x", shape, dtype)
    h = chain(x)
    y = h if shape == () else sg.sum(h)
    outs = [h, sg.grad(y, x), h / (x + 2.0) - 1.0]
    value = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape).astype(dtype)
    fast, slow, sched = both_paths(outs, {x: value})
    assert_same(fast, slow)
    # the fast loop did run: ufunc steps, operators, constants
    assert {EV.BINARY, EV.UNARY}.issubset(kinds(sched))
    assert any(step[1] is EV.operator.mul for step in sched.fast(True).steps)
    # sg.evaluate's outputs are arrays (0-d for scalars), as the checked run gives them
    got, first = twice(lambda: sg.evaluate(outs, {x: value}))
    want = sg.evaluate(outs, {x: value}, check_finite=True)
    for a, b in zip(got + first, want + want):
        assert type(a) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape == a.shape
        np.testing.assert_array_equal(a, b)


def test_the_scalar_chain_takes_scalar_arithmetic_with_constants_as_numpy_scalars():
    x = sg.variable("x")
    h = chain(x, 20)
    sched = sg.Evaluator([h, sg.grad(h, x)]).schedule(frozenset([x]))
    plan = sched.fast(True)
    constants = [step for step in plan.steps if step[0] == EV.CONSTANT]
    assert constants and all(isinstance(step[1], np.generic) for step in constants)
    general = [step for step in plan.steps if step[0] == EV.GENERAL]
    assert general == []  # every node of the chain and its gradient is a fast step
    # results go to the slots of dead inputs: no more slots than values ever alive at once
    assert plan.size <= sched.peak_live < sched.size


def test_mixed_dtypes_comparisons_and_integers_match_the_general_loop():
    i = sg.variable("i", (), "int32")
    j = sg.variable("j", (4,), "int64")
    f = sg.variable("f", (4,), "float32")
    b = sg.variable("b", (), "bool")
    outs = [i * j, (i * j) * j - j, f * i, f / j, sg.maximum(j, 3), f > i, sg.where(f > 0, f, i),
            sg.logical_and(b, f > 0), i + i, sg.cast(i, "float32") * f, sg.exp(f) + b]
    feed = {i: 3, j: np.array([1, -2, 2 ** 40, 5]), f: np.array([0.5, -1.0, 0.0, 3.0], "float32"),
            b: True}
    fast, slow, _ = both_paths(outs, feed)
    assert_same(fast, slow)


def test_integer_overflow_wraps_silently_as_numpy_ufuncs_do():
    x = sg.variable("x", (), "int64")
    y = (x * x) * (x + x)  # the last product is of two numpy scalars: no scalar arithmetic
    a = np.asarray(2 ** 22)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, first = twice(lambda: sg.evaluate(y, {x: a}))
        want = np.multiply(np.multiply(a, a), np.add(a, a))
    assert got == first == want and want != 2 ** 67  # it wrapped


def test_non_finite_and_signed_zero_results_match_bit_for_bit():
    x = sg.variable("x")
    z = sg.variable("z")
    outs = [sg.exp(x) * sg.exp(x), z / z, z * x, (z - z) / x, sg.log(z) + x, -z * x]
    fast, slow, _ = both_paths(outs, {x: 400.0, z: -0.0})
    assert_same(fast, slow)
    assert np.isinf(fast[0]) and np.isnan(fast[1]) and np.signbit(fast[2])


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn()
    return value, caught


@pytest.mark.parametrize("case", ["overflow", "divide", "log"])
def test_numpy_warnings_name_the_node_on_the_fast_path(case):
    x = sg.variable("x")
    e = sg.exp(x)
    if case == "overflow":  # two numpy scalars multiplied by scalar arithmetic
        y, feed, bad, what = e * e, 400.0, None, "overflow encountered in multiply"
    elif case == "divide":
        y, feed, bad, what = (e - 1.0) / (e - 1.0), 0.0, None, "invalid value encountered in divide"
    else:
        y, feed, bad, what = sg.log(e - 2.0) * 2.0, 0.0, None, "invalid value encountered in log"
    bad = y if case != "log" else y.inputs[0]
    for value, caught in twice(lambda: _caught(lambda: sg.evaluate(y, {x: feed}))):
        assert not np.isfinite(value)
        assert len(caught) == 1, [str(w.message) for w in caught]
        message = str(caught[0].message)
        assert what in message and f"node #{bad.id} {bad.op.name}" in message
        assert caught[0].filename == __file__


def test_error_modes_that_name_numpy_functions_keep_the_ufunc_names():
    x = sg.variable("x")
    y = sg.exp(x) * sg.exp(x)
    for _ in range(2):  # the general loop, then the fast one
        with np.errstate(over="raise"), pytest.raises(
                sg.EvaluationError, match=rf"node #{y.id} multiply.*FloatingPointError: overflow "
                                          "encountered in multiply$") as info:
            sg.evaluate(y, {x: 400.0})
        assert isinstance(info.value.__cause__, FloatingPointError)


def test_an_error_raised_by_the_users_handler_names_the_node():
    x = sg.variable("x")
    y = (sg.exp(x) * sg.exp(x)) + 1.0

    def handler(err, flag):
        raise ArithmeticError(f"mine: {err}")

    for _ in range(2):  # the general loop, then the fast one
        with np.errstate(all="call", call=handler), pytest.raises(
                sg.EvaluationError, match=rf"node #{y.inputs[0].id} multiply.*mine: overflow") as info:
            sg.evaluate(y, {x: 400.0})
        assert isinstance(info.value.__cause__, ArithmeticError)


class Recording(np.ndarray):
    """An ndarray subclass with its own ``*``: the fast loop must not call it where ``f``
    would have called the ufunc."""

    products = 0

    def __mul__(self, other):
        Recording.products += 1
        return np.ndarray.__mul__(self, other)

    __rmul__ = __mul__


class AsRecording(sg.Op):
    name = "as_recording"

    def f(self, x):
        return np.asarray(x).view(Recording)


def test_a_result_of_a_subclass_hands_over_to_the_general_loop():
    x = sg.variable("x", (3,))
    r = AsRecording()(x)
    outs = [r * 2.0 + x, x * x]
    Recording.products = 0
    fast, slow, _ = both_paths(outs, {x: np.arange(3.0)})
    assert Recording.products == 0
    assert_same(fast, slow)
    assert type(fast[0]) is Recording  # what np.multiply makes of it, as before


class Spy(sg.Op):
    """Identity that records the type of the value it is given."""

    name = "spy"
    seen: list = []

    def f(self, x):
        Spy.seen.append(type(x))
        return np.asarray(x) * 1


def test_a_constant_an_op_of_its_own_reads_stays_a_0d_array():
    x = sg.variable("x")
    c = sg.constant(0.25)
    y = Spy()(c) + c * x
    Spy.seen = []
    for got in twice(lambda: sg.evaluate([y, c], {x: 2.0})):
        assert got[0] == 0.75 and type(got[1]) is np.ndarray and got[1].ndim == 0
    assert Spy.seen == [np.ndarray, np.ndarray]
    outs = [x * 0.5, sg.full((), 3.0)]  # a constant as an output
    for got in twice(lambda: sg.evaluate(outs, {x: 2.0})):
        assert [type(v) for v in got] == [np.ndarray, np.ndarray] and got[1] == 3.0


def test_loop_bodies_run_fast_and_match_the_checked_run():
    x = sg.variable("x", (3,))
    xs = sg.variable("xs", (5, 3))

    def step(c, xi):
        h = sg.sin(c) * 0.5 + c * xi
        return h, h * h

    final, ys = sg.scan(step, x, xs)
    outs = [final, ys, sg.grad(sg.sum(ys) + sg.sum(final), x)]
    feed = {x: np.array([0.1, 0.2, 0.3]), xs: np.linspace(0, 1, 15).reshape(5, 3)}
    got, first = twice(lambda: sg.evaluate(outs, feed))
    want = sg.evaluate(outs, feed, check_finite=True)
    for a, b in zip(got + first, want + want):
        assert type(a) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_a_warning_in_a_loop_body_names_the_body_node():
    a = sg.variable("a")
    out = sg.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, sg.log(c[1] - 2.0)), (0, a))
    for (value,), caught in twice(lambda: _caught(lambda: sg.evaluate([out[1]], {a: 1.0}))):
        assert np.isnan(value)
        messages = [str(w.message) for w in caught]
        assert messages and all("invalid value encountered in log: symgraph body node" in m
                                and "(in the body of while_loop node" in m for m in messages)


def test_evaluate_takes_the_fast_loop_only_where_it_applies(monkeypatch):
    calls = []
    run_fast = EV.run_fast

    def counting(steps, values):
        calls.append(steps)
        return run_fast(steps, values)

    monkeypatch.setattr(EV, "run_fast", counting)
    x = sg.variable("x")
    y = chain(x, 5)
    once = sg.Evaluator(y)
    want = once.run({x: 0.5})  # a first run plans nothing: the general loop
    assert calls == []
    assert once.run({x: 0.5}) == want and len(calls) == 1  # the second runs fast
    calls.clear()
    ev = sg.Evaluator(y)
    sched = ev.schedule(frozenset([x]))
    assert ev.run({x: 0.5}, check_finite=True) == want  # the general loop, checking each value
    assert calls == []
    assert ev.run({x: 0.5}) == want and calls == [sched.fast(True).steps]
    with np.errstate(over="raise"):  # numpy writes function names out: no scalar arithmetic
        assert ev.run({x: 0.5}) == want and calls[-1] == sched.fast(False).steps
    assert not any(step[1] is EV.operator.mul for step in sched.fast(False).steps)


def test_bench_evaluate_quick():
    """The benchmark runs (it checks the fast loop against a copy of the old one, bit for bit)."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_evaluate.py"), "--quick"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "| sg.Evaluator |" in done.stdout and "| n=10      |" in done.stdout


def test_a_fill_that_overflows_its_dtype_still_warns_at_each_run_naming_its_node():
    x = sg.variable("x", (), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # building looks at the value too
        fill = Full(1e300, (), np.dtype("float32"))()  # sg.full would convert it first
        y = x * fill
    for _ in range(2):
        value, caught = _caught(lambda: sg.evaluate(y, {x: 2.0}))
        assert np.isinf(value)
        assert [f"node #{fill.id} full" in str(w.message) for w in caught] == [True]


def test_a_constant_a_body_returns_is_what_its_op_makes():
    """Bodies' outputs go back to their loop unfinalized: a 0-d constant among them stays
    the 0-d array ``f`` makes, though a fast step reads it too."""
    x = sg.variable("x")
    c = sg.full((), 2.0)
    run = EV.body_runner([x * c, c], [x])
    for _ in range(2):  # the general loop, then the fast one
        product, constant = run([np.asarray(1.5)])
        assert type(constant) is np.ndarray and constant.ndim == 0 and constant == 2.0
        assert product == 3.0
