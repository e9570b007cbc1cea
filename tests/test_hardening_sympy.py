"""Issue 11, sympy bridge: strings never run, symbols are the user's, deep input fails cleanly."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.ops.base import Op, make


def _outcome(fn):
    """``fn()``'s exception (or None); the marker file is checked before anything else."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the caller inspects it
        return e
    return None


def _hostile(marker) -> str:
    """Python that creates ``marker`` when evaluated, and is otherwise a valid expression in x."""
    return f"(__import__('pathlib').Path({str(marker)!r}).touch() or 0) + x"


# --- item 1: from_sympy never executes strings -------------------------------------------------

def test_from_sympy_never_executes_a_string_expression(tmp_path):
    marker = tmp_path / "executed"
    x = sg.variable("x")
    error = _outcome(lambda: sg.from_sympy(_hostile(marker), {"x": x}))
    assert not marker.exists(), "from_sympy ran code from a string"
    assert isinstance(error, sg.SymgraphError) and "never parsed" in str(error)


def test_from_sympy_never_executes_strings_in_mapping_or_arrays_or_translations(tmp_path):
    marker = tmp_path / "executed"
    x = sg.variable("x")
    hostile = _hostile(marker)
    attempts = {
        "mapping value": lambda: sg.from_sympy(sp.Symbol("x") + 1, {"x": hostile}),
        "number as a string": lambda: sg.from_sympy(hostile.replace("+ x", "+ 1")),
        "object array": lambda: sg.from_sympy(np.array([hostile, "x"], dtype=object), {"x": x}),
    }

    class Custom(Op):
        name = "custom_to_sympy_string"

        def infer(self, a):
            return a.shape, a.dtype

        def f(self, a):
            return a

    from symgraph.sympy_bridge import register_to_sympy
    register_to_sympy(Custom)(lambda node, a: np.array(hostile, dtype=object))
    attempts["translation"] = lambda: sg.to_sympy(make(Custom(), x))
    for what, attempt in attempts.items():
        error = _outcome(attempt)
        assert not marker.exists(), f"{what}: a string was executed"
        assert isinstance(error, sg.SymgraphError), (what, error)


def test_from_sympy_refuses_benign_strings_but_takes_sympy_and_numbers():
    x = sg.variable("x")
    with pytest.raises(sg.SymgraphError, match="str.*never parsed.*parse_expression"):
        sg.from_sympy("x**2 + sin(x)", {"x": x})
    X = sp.Symbol("x")
    f = sg.from_sympy(X**2 + sp.sin(X), {"x": x})
    assert float(sg.evaluate(f, {x: 0.5})) == pytest.approx(0.25 + np.sin(0.5), rel=1e-15)
    assert float(sg.evaluate(sg.from_sympy(2.5))) == 2.5
    assert float(sg.evaluate(sg.from_sympy(np.float32(1.5)))) == 1.5
    assert int(sg.evaluate(sg.from_sympy(3))) == 3


# --- item 3: to_sympy gives the symbols a user writes ------------------------------------------

def test_to_sympy_derivatives_with_the_users_own_symbols():
    w, x = sg.variable("w"), sg.variable("x")
    f = sg.sin(w * x) + w**3
    (g,) = sg.grad(f, [w])
    W, X = sp.symbols("w x")
    expr = sp.sin(W * X) + W**3
    assert sp.diff(sg.to_sympy(f), W) != 0
    assert sp.simplify(sg.to_sympy(f) - expr) == 0
    assert sp.simplify(sg.to_sympy(g) - sp.diff(expr, W)) == 0
    assert sg.to_sympy(sg.variable("n", dtype="int64")) == sp.Symbol("n")
    replacements, _ = sg.to_sympy(sg.exp(w) * sg.exp(w), cse=True)
    assert replacements[0][0] == sp.Symbol(replacements[0][0].name)  # plain cse symbols too


def test_to_sympy_array_elements_are_the_users_indexed_symbols():
    X = sg.variable("X", (2, 3))
    f = sg.sum(sg.sin(X) * X)
    (g,) = sg.grad(f, [X])
    base = sp.IndexedBase("X")
    element = base[0, 1]
    reference = sp.diff(sg.to_sympy(f), element)
    assert reference == sp.sin(element) + element * sp.cos(element)
    assert sp.simplify(sg.to_sympy(g)[0, 1] - reference) == 0


def test_to_sympy_assumptions_are_opt_in():
    w = sg.variable("w")
    n = sg.variable("n", dtype="int64")
    M = sg.variable("M", (2,))
    assert sg.to_sympy([w, n], assumptions=True) == [sp.Symbol("w", real=True),
                                                     sp.Symbol("n", integer=True)]
    assert sg.to_sympy(M, assumptions=True)[1] == sp.IndexedBase("M", real=True)[1]
    positive = sp.Symbol("w", positive=True)
    assert sg.to_sympy(sg.sqrt(w * w), assumptions={"positive": True}) == positive
    assert sg.to_sympy(sg.sqrt(w * w)) == sp.sqrt(sp.Symbol("w") ** 2)
    with pytest.raises(sg.SymgraphError, match="not a sympy assumption"):
        sg.to_sympy(w, assumptions={"postive": True})
    with pytest.raises(sg.SymgraphError, match="inconsistent"):
        sg.to_sympy(w, assumptions={"positive": True, "negative": True})
    with pytest.raises(sg.SymgraphError, match="True, False or a dict"):
        sg.to_sympy(w, assumptions="real")


@pytest.mark.parametrize("assumptions", [False, True, {"positive": True}])
def test_from_sympy_reads_back_symbols_with_or_without_assumptions(assumptions):
    w, X = sg.variable("w"), sg.variable("X", (2, 2))
    f = sg.sum(sg.exp(X * w)) + w**2
    expr = sg.to_sympy(f, assumptions=assumptions)
    feed = {w: 0.7, X: np.array([[0.1, -0.2], [0.3, 0.4]])}
    expected = float(sg.evaluate(f, feed))
    by_name = sg.from_sympy(expr, {"w": w, "X": X})
    by_symbol = sg.from_sympy(expr, {sp.Symbol("w", real=True): w, sp.IndexedBase("X"): X})
    assert float(sg.evaluate(by_name, feed)) == pytest.approx(expected, rel=1e-14)
    assert float(sg.evaluate(by_symbol, feed)) == pytest.approx(expected, rel=1e-14)


def test_from_sympy_reads_matrix_symbol_elements():
    M = sg.variable("M", (2, 2))
    A = sp.MatrixSymbol("M", 2, 2)
    det = sg.from_sympy(A.as_explicit().det(), {"M": M})
    value = np.array([[1.5, -2.0], [0.5, 3.0]])
    assert float(sg.evaluate(det, {M: value})) == pytest.approx(np.linalg.det(value), rel=1e-14)


# --- item 17: deep expressions --------------------------------------------------------------------

def test_to_sympy_of_a_very_deep_graph_is_a_symgraph_error():
    limit = sys.getrecursionlimit()
    x = sg.variable("x")
    f = x
    for _ in range(2000):
        f = sg.sin(f)
    with pytest.raises(sg.SymgraphError, match=rf"ops deep.*recursion limit.*= {limit}\)"):
        sg.to_sympy(f)
    assert sys.getrecursionlimit() == limit
    shallow = sg.to_sympy(sg.sin(sg.sin(x)))  # sympy still works afterwards
    assert shallow == sp.sin(sp.sin(sp.Symbol("x")))


def test_from_sympy_of_a_very_deep_expression_works():
    limit = sys.getrecursionlimit()
    expr = sp.Symbol("x")
    for _ in range(2000):
        expr = sp.sin(expr, evaluate=False)
    x = sg.variable("x")
    f = sg.from_sympy(expr, {"x": x})
    expected = 0.3
    for _ in range(2000):
        expected = np.sin(expected)
    assert float(sg.evaluate(f, {x: 0.3})) == pytest.approx(expected, rel=1e-12)
    assert sys.getrecursionlimit() == limit


def test_from_sympy_of_a_very_deep_number_is_a_symgraph_error():
    limit = sys.getrecursionlimit()
    expr = sp.Integer(1)
    for _ in range(2000):
        expr = sp.sin(expr, evaluate=False)
    with pytest.raises(sg.SymgraphError, match=rf"2001 levels deep.*recursion limit.*= {limit}\)"):
        sg.from_sympy(expr)
    assert sys.getrecursionlimit() == limit
