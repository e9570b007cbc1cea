"""sympy bridge: symgraph derivatives agree with sympy.diff; round trips keep the expression."""

from __future__ import annotations

import pytest
import sympy

import symgraph as sg

w, x, y = sympy.symbols("w x y", real=True)

EXPRESSIONS = [
    (w * x - y) ** 2,
    sympy.sin(w * x) * sympy.exp(y),
    sympy.log(1 + w ** 2) / (x ** 2 + 1),
    sympy.tanh(w) * sympy.sqrt(x ** 2 + 1) - y ** 3,
    sympy.cos(w) ** 2 + sympy.Rational(1, 3) * x * y,
    (w ** 2 + 1) ** sympy.Rational(-3, 2) * sympy.Abs(x - 4),
]
POINT = {"w": 0.7, "x": -1.3, "y": 0.4}


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_grad_and_second_order_match_sympy_diff(expr):
    nodes = {name: sg.variable(name) for name in POINT}
    f = sg.from_sympy(expr, nodes)
    subs = {sympy.Symbol(k, real=True): v for k, v in POINT.items()}
    assert float(sg.evaluate(f, POINT)) == pytest.approx(float(expr.evalf(subs=subs)), rel=1e-12)
    names = list(POINT)
    grads = sg.grad(f, [nodes[n] for n in names])
    for name, g in zip(names, grads):
        sym = sympy.Symbol(name, real=True)
        assert float(sg.evaluate(g, POINT)) == pytest.approx(
            float(sympy.diff(expr, sym).evalf(subs=subs)), rel=1e-10, abs=1e-12)
        for other in names:
            (h,) = sg.grad(g, [nodes[other]])
            exact = sympy.diff(expr, sym, sympy.Symbol(other, real=True)).evalf(subs=subs)
            assert float(sg.evaluate(h, POINT)) == pytest.approx(float(exact), rel=1e-9, abs=1e-11)


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_round_trip_is_the_same_expression(expr):
    nodes = {name: sg.variable(name) for name in POINT}
    back = sg.to_sympy(sg.from_sympy(expr, nodes), assumptions=True)
    assert sympy.simplify(back - expr) == 0


def test_to_sympy_of_a_gradient_equals_sympy_diff():
    a, b = sg.variable("w"), sg.variable("x")
    f = sg.sin(a * b) + a ** 3
    (g,) = sg.grad(f, [a])
    got = sg.to_sympy(g, assumptions=True)
    assert sympy.simplify(got - (x * sympy.cos(w * x) + 3 * w ** 2)) == 0


def test_cse_returns_replacements_for_shared_work():
    a = sg.variable("w")
    h = sg.exp(sg.sin(a))
    replacements, reduced = sg.to_sympy(h * h + h, cse=True, assumptions=True)
    assert replacements
    expanded = reduced.subs(list(reversed(replacements)))
    assert sympy.simplify(expanded - (sympy.exp(2 * sympy.sin(w)) + sympy.exp(sympy.sin(w)))) == 0


def test_unsupported_inputs_are_clear_errors():
    with pytest.raises(sg.SymgraphError, match="no node given for symbol"):
        sg.from_sympy(w + x, {"w": sg.variable("w")})
    with pytest.raises(sg.SymgraphError, match="gamma.*no symgraph translation"):
        sg.from_sympy(sympy.gamma(w), {"w": sg.variable("w")})
