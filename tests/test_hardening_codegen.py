"""Hardening of compiled code (issue 11): identifiers, freeing results, linecache.

* Generated identifiers are ASCII and collision-free whatever the op and
  variable names (Python folds identifiers with NFKC, so ``"ｖ"`` *is* ``v``).
* Results are freed by reference counting (no cycle through the rebuilder).
* ``sg.function``'s source leaves ``linecache`` with the function.
"""

from __future__ import annotations

import ast
import gc
import linecache
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgen as gg
import symgraph as sg
from _hypothesis import examples
from symgraph.evaluate import Evaluator
from symgraph.models import init_params, seed_mlp
from symgraph.structure import flatten


class Named(sg.Op):
    """``x + shift`` under any name: a user op (no ``emit``), called through ``f``."""

    def __init__(self, name: str, shift: float = 10.0) -> None:
        self.name = name
        self.shift = shift

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return x + self.shift

    def bprop(self, inputs, output, grad):
        return [grad]


def _locals_of(source: str) -> set[str]:
    """Every identifier the generated module binds or reads."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)} | {
        a.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.arguments)
        for a in n.args}


def _ascii_idents(source: str) -> bool:
    return all(name.isascii() for name in _locals_of(source))


# -- item 2: identifiers ------------------------------------------------------------------------


def test_fullwidth_op_name_does_not_overwrite_a_parameter():
    x = sg.variable("x", ())
    t = Named("\uff56")(x)  # fullwidth v: the parser reads it as "v"
    v = sg.variable(f"v{t.id}", ())  # the name the op's temporary would fold to
    y = t + v
    f = sg.function([x, v], y)
    assert float(sg.evaluate(y, {x: 1.0, v: 2.0})) == 13.0
    assert float(f(1.0, 2.0)) == 13.0
    assert _ascii_idents(f.source)


def test_fullwidth_op_name_with_arrays():
    x = sg.variable("x", (3,))
    t = Named("\uff56")(x)
    v = sg.variable(f"v{t.id}", (3,))
    y = sg.exp(t) * v + t
    f = sg.function([x, v], y)
    a, b = np.arange(3.0) / 10, np.ones(3)
    np.testing.assert_array_equal(f(a, b), sg.evaluate(y, {x: a, v: b}))


@pytest.mark.parametrize("op_name", ["a\u00b2", "", "if", "1", "_", "__", "np", "_c0", "_op1",
                                     "None", "float", "x\ny", "\u2028", "\x00", "compiled",
                                     "\U0001d4b3", "\u0661\u0662"])
def test_any_op_name_compiles(op_name):
    x = sg.variable("x", (2,))
    t = Named(op_name)(x)
    y = sg.square(t) + Named(op_name, 1.0)(t)
    f = sg.function([x], [y, sg.grad(sg.sum(y), x)])
    a = np.array([0.5, -1.0])
    for got, want in zip(f(a), sg.evaluate([y, sg.grad(sg.sum(y), x)], {x: a})):
        np.testing.assert_array_equal(got, want)
    assert _ascii_idents(f.source)


@pytest.mark.parametrize("var_name", ["a\u00b2", "\uff56", "if", "None", "np", "float", "sum",
                                      "x\n", "in0", "compiled", "_c0", "_ws", "\u2028", "a b",
                                      "EvaluationError", "match", "__builtins__"])
def test_any_variable_name_compiles_and_source_is_standalone(var_name):
    x = sg.variable(var_name, (2, 3))
    other = sg.variable("in0", (2, 3))
    logits = sg.exp(x) * other + 2.0
    loss = sg.cross_entropy(logits, sg.constant(np.array([0, 2])))
    f = sg.function([x, other], [loss, sg.grad(loss, [x, other])])
    a, b = np.linspace(-1, 1, 6).reshape(2, 3), np.ones((2, 3))
    want = sg.evaluate([loss, sg.grad(loss, [x, other])], {x: a, other: b})
    assert f.standalone and _ascii_idents(f.source)
    space: dict = {}
    exec(f.source, space)
    for fn in (f, space["compiled"]):
        got = fn(a, b)
        np.testing.assert_array_equal(got[0], want[0])
        for g, w in zip(got[1] if fn is f else got[1:], want[1]):
            np.testing.assert_array_equal(g, w)


def test_local_never_shadows_a_global_an_emit_defines():
    x = sg.variable("EvaluationError", (2, 3))  # cross_entropy's emit defines that global
    f = sg.function([x], sg.cross_entropy(x, sg.constant(np.array([0, 2]))))
    assert "def compiled(EvaluationError_" in f.source
    exec(f.source, {})


class BadEmit(sg.Op):
    """An op whose own ``emit`` writes invalid Python."""

    name = "bad_emit"

    def f(self, x):
        return x

    def emit(self, out, ins, ctx):
        return f"{out} = ({ins[0]}"


def test_invalid_emitted_code_is_a_symgraph_error():
    x = sg.variable("x", ())
    with pytest.raises(sg.SymgraphError, match="bad_emit.*not valid Python"):
        sg.function([x], BadEmit()(x) + 1.0)


_AWKWARD = ["v", "\uff56", "v1", "v2", "v3", "v4", "v5", "v6", "np", "in0", "in1", "if", "None",
            "float", "_c0", "_w0", "_ws", "compiled", "a\u00b2", "\u00b2", "x\n", "", "1", "_"]
_names = st.one_of(st.sampled_from(_AWKWARD), st.text(max_size=4))


@examples(0.3)
@given(prog=gg.programs(max_steps=5), data=st.data())
def test_function_equals_evaluate_whatever_the_names(prog, data):
    """Random graphs whose variables and user ops have names drawn from unicode text."""
    var_ks = [k for k, ins in enumerate(prog.instrs) if ins.kind == "variable"]
    with sg.Graph():
        xs = []
        for k in var_ks:
            name = data.draw(_names.filter(bool), label="variable name")
            xs.append(sg.variable(name, prog.values[k].shape, "float64"))
        wrapped = [Named(data.draw(_names, label="op name"))(x) for x in xs]
        nodes = gg.build(prog, "float64", variables=wrapped)
        outs = [Named(data.draw(_names, label="op name"), 0.5)(nodes[i]) for i in prog.outputs]
        loss = sg.add_n([sg.sum(o) for o in outs])
        results = [loss, *outs, *sg.grad(loss, xs)]
        f = sg.function(xs, results)
        feed = [prog.values[k] for k in var_ks]
        got = f(*feed)
        want = sg.evaluate(results, dict(zip(xs, feed)))
    assert _ascii_idents(f.source)
    for a, b in zip(want, got):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=f.source)


# -- item 13: results freed by reference counting -----------------------------------------------


@pytest.fixture
def mlp():
    rng = np.random.default_rng(0)
    n, d, h, c = 64, 200, 100, 10
    with sg.Graph():
        m = seed_mlp(n, d, h, c)
        grads = sg.grad(m.loss, [m.W1, m.W2])
    W1, W2 = init_params(rng, d, h, c)
    values = (rng.standard_normal((n, d)), rng.integers(0, c, n), W1, W2)
    return m, [m.loss, {"W1": grads[0], "W2": grads[1]}], values


def _growth_without_gc(call) -> tuple[int, int]:
    """Bytes still allocated after 100 calls with dropped results, and cycles then found."""
    call()  # warm up (schedules, workspace)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(100):
                call()
            growth = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        return growth, gc.collect()
    finally:
        if was_enabled:
            gc.enable()


def test_compiled_results_are_freed_by_refcounting(mlp):
    m, outputs, values = mlp
    f = sg.function([m.X, m.y, m.W1, m.W2], outputs)
    growth, cycles = _growth_without_gc(lambda: f(*values))
    assert growth < 5_000_000 and cycles < 50, (growth, cycles)
    gc.disable()
    try:
        result = f(*values)
        ref = weakref.ref(result[1]["W1"])
        del result
        assert ref() is None
    finally:
        gc.enable()


def test_evaluator_results_are_freed_by_refcounting(mlp):
    m, outputs, values = mlp
    ev = Evaluator(outputs)
    feed = dict(zip([m.X, m.y, m.W1, m.W2], values))
    growth, cycles = _growth_without_gc(lambda: ev.run(feed))
    assert growth < 5_000_000 and cycles < 50, (growth, cycles)
    gc.disable()
    try:
        result = sg.evaluate(outputs, feed)
        ref = weakref.ref(result[1]["W2"])
        del result
        assert ref() is None
    finally:
        gc.enable()


def test_structure_round_trip_is_iterative():
    """No recursion: nesting deeper than the recursion limit flattens and rebuilds."""
    deep: object = 7
    for k in range(5000):
        deep = [deep, {"k": k}] if k % 2 else (deep,)
    leaves, rebuild = flatten(deep, lambda t: isinstance(t, int))
    assert len(leaves) == 2501
    built, depth = rebuild(leaves), 0
    while not isinstance(built, int):
        built = built[0]
        depth += 1
    assert (built, depth) == (7, 5000)


# -- item 14: linecache ---------------------------------------------------------------------------


def test_source_leaves_linecache_with_the_function():
    g = sg.Graph()
    with g:
        x = sg.variable("x", (3,))
        y = sg.log(x)
        f = sg.function([x], y)
    key = f._filename
    assert key in linecache.cache
    first = min(f._line_nodes)  # tracebacks read the generated lines while f lives
    assert linecache.getline(key, first).strip() == f.source.splitlines()[first - 1].strip()
    ref = weakref.ref(f)
    del f, g, x, y
    gc.collect()
    assert ref() is None
    assert key not in linecache.cache
