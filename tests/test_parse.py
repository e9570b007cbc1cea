"""The safe expression parser: accepted language against numpy, rejections, never executing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.parse import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, parse_expression, variable_names

POINT = {"a": 0.7, "b": -1.3, "c": 2.1}

ACCEPTED = [  # text, the same computation in numpy
    ("a + b * c", lambda a, b, c: a + b * c),
    ("(a + b) * c", lambda a, b, c: (a + b) * c),
    ("-a**2", lambda a, b, c: -(a ** 2)),
    ("a / b / c", lambda a, b, c: a / b / c),
    ("a ** b ** 2", lambda a, b, c: a ** (b ** 2)),
    ("2 ** -1 * c", lambda a, b, c: 0.5 * c),
    ("+a - -b", lambda a, b, c: a + b),
    ("exp(a) + log(c) + sqrt(c)", lambda a, b, c: np.exp(a) + np.log(c) + np.sqrt(c)),
    ("sin(a) * cos(b) / tan(c)", lambda a, b, c: np.sin(a) * np.cos(b) / np.tan(c)),
    ("tanh(a) + sigmoid(b) + relu(b) + abs(b)",
     lambda a, b, c: np.tanh(a) + 1 / (1 + np.exp(-b)) + max(b, 0) + abs(b)),
    ("square(b) + maximum(a, b) - minimum(a, c) + power(c, a)",
     lambda a, b, c: b * b + max(a, b) - min(a, c) + c ** a),
    ("pi * a", lambda a, b, c: math.pi * a),
    ("1e-3 * a + 10 * b + 0.5", lambda a, b, c: 1e-3 * a + 10 * b + 0.5),
]


@pytest.mark.parametrize("text, ref", ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted_expressions_compute_what_numpy_computes(text, ref):
    node, variables = parse_expression(text)
    feed = {v: POINT[name] for name, v in variables.items()}
    got = sg.evaluate(node, feed)
    args = {k: np.float64(v) for k, v in POINT.items()}
    assert np.allclose(got, ref(**args), rtol=1e-12)


def test_seed_gradient_through_the_parser():
    f, v = parse_expression("(w*x - y)**2")
    assert list(v) == ["w", "x", "y"]
    grads = sg.evaluate(sg.grad(f, [v["w"], v["x"], v["y"]]), {"w": 1.0, "x": 2.0, "y": 3.0})
    assert [float(g) for g in grads] == [-4, -2, 2]


def test_vector_shapes_and_reductions():
    f, v = parse_expression("sum(x**2) + x @ A @ x + mean(x) + max(x)",
                            {"x": (3,), "A": (3, 3)})
    x = np.array([1.0, -2.0, 3.0])
    A = np.arange(9.0).reshape(3, 3)
    got = sg.evaluate(f, {"x": x, "A": A})
    assert np.isclose(got, x @ x + x @ A @ x + x.mean() + x.max())
    with pytest.raises(sg.ShapeError):
        parse_expression("x @ y", {"x": (2,), "y": (3,)})


def test_variable_names_in_order_of_appearance_without_functions_or_constants():
    assert variable_names("exp(zeta) * alpha + pi * zeta") == ["zeta", "alpha"]
    assert variable_names("2 + 3") == []


def test_literals_are_float64_so_integer_arithmetic_never_happens():
    f, _ = parse_expression("2 ** -1 + 7 / 2")
    assert f.dtype == np.float64
    assert sg.evaluate(f, {}) == 4.0


REJECTED = [
    ("__import__('os').system('echo hacked')", "only known functions"),
    ("__import__", "not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "only known functions"),
    ("().__class__", "attribute"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("lambda: 0", "lambda"),
    ("x.real", "attribute"),
    ("x[0]", "indexing"),
    ("[x for x in y]", "comprehension"),
    ("(x for x in y)", "generator"),
    ("{x: 1}", "dict"),
    ("'text'", "string"),
    ("b'bytes'", "string"),
    ("f'{x}'", "f-string"),
    ("x if y else z", "if/else"),
    ("x < y", "comparison"),
    ("x and y", "and/or"),
    ("not x", "operator not"),
    ("x % 2", "operator %"),
    ("x // 2", "operator //"),
    ("~x", "operator ~"),
    ("(x, y)", "tuple"),
    ("exp(x=1)", "keyword"),
    ("exp(*x)", r"\*arguments"),
    ("exp(x, y)", "takes 1 argument"),
    ("maximum(x)", "takes 2 arguments"),
    ("exp", "is a function"),
    ("foo(x)", "unknown function 'foo'"),
    ("(y := 2)", "assignment"),
    ("_x + 1", "not allowed"),
    ("x__y", "not allowed"),
    ("x ** 1001", "exponent 1001 is too large"),
    ("x ** -5000", "too large"),
    ("1e400 * x", "too large"),
    ("True", "True is not allowed"),
    ("None", "None is not allowed"),
    ("...", "Ellipsis is not allowed"),
    ("2j", "not allowed"),
    ("import os", "invalid syntax"),
    ("x = 1", "invalid"),
    ("x; y", "invalid"),
    ("x # comment", "comments"),
    ("x\n+ 1", "character"),
    ("x\x00", "character"),
    ("", "empty"),
    ("   ", "empty"),
    ("(" * 300 + "x" + ")" * 300, "nested|too many"),
    ("-" * (MAX_DEPTH + 5) + "x", "nested too deeply"),
    ("x+" * (MAX_LENGTH // 2) + "x", "too long"),
]


@pytest.mark.parametrize("text, why", REJECTED, ids=[repr(t)[:40] for t, _ in REJECTED])
def test_rejected_with_a_one_line_parse_error(text, why):
    with pytest.raises(sg.ParseError, match=why) as info:
        parse_expression(text)
    assert isinstance(info.value, sg.SymgraphError)
    assert "\n" not in str(info.value)


def test_builtin_names_are_plain_variables():
    f, v = parse_expression("exec * eval + open")
    assert list(v) == ["exec", "eval", "open"]
    assert sg.evaluate(f, {"exec": 2.0, "eval": 3.0, "open": 1.0}) == 7.0


def test_exponent_limit_is_inclusive():
    f, v = parse_expression(f"x ** {MAX_EXPONENT}")
    assert sg.evaluate(f, {"x": 1.0}) == 1.0


def test_non_string_is_a_parse_error():
    with pytest.raises(sg.ParseError, match="string"):
        parse_expression(42)


_TOKENS = st.sampled_from(
    ["x", "y", "exp", "sin", "log", "maximum", "(", ")", "+", "-", "*", "/", "**", "@", ",",
     "1", "2.5", "1e3", " ", ".", "[", "]", "'", "_", "__", "lambda", ":", "=", "pi", "sum"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_TOKENS, max_size=25).map("".join), st.text(max_size=60)))
def test_any_text_gives_a_node_or_a_parse_error(text):
    with sg.Graph():
        try:
            node, _ = parse_expression(text)
        except sg.ParseError as e:
            assert "\n" not in str(e)
        except sg.SymgraphError:
            pass  # well-formed but ill-shaped, e.g. a matmul of scalars
        else:
            assert isinstance(node, sg.Node)


# Random well-formed expressions in x and y, checked against numpy evaluating the same text.
_NUMPY = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "square": np.square,
          "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "maximum": np.maximum, "pi": np.pi}


def _binary(args):
    left, op, right = args
    return f"({left} {op} {right})"


valid_expressions = st.recursive(
    st.sampled_from(["x", "y", "x", "y", "1.5", "2", "pi", "0.25"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(_binary),
        st.tuples(st.sampled_from(["sin", "cos", "tanh", "sigmoid", "square"]), inner)
          .map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"maximum({t[0]}, {t[1]})"),
        st.tuples(inner, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]}) ** {t[1]}"),
        inner.map(lambda a: f"-{a}"),
    ),
    max_leaves=8,
)


def numpy_value(text: str, x: float, y: float) -> float:
    """The reference: Python evaluating the (grammar-generated, known-safe) text on numpy."""
    return eval(text, {"__builtins__": {}}, {**_NUMPY, "x": np.float64(x), "y": np.float64(y)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_expressions)
def test_random_expressions_match_numpy_values_and_finite_difference_gradients(text):
    with sg.Graph():
        node, v = parse_expression(text, {"x": (), "y": ()})
        xv, yv = 0.37, -0.61
        names = [n for n in ("x", "y") if n in v]
        grads = sg.grad(node, [v[n] for n in names]) if names else []
        got = sg.evaluate([node, *grads], {v[n]: {"x": xv, "y": yv}[n] for n in names})
    assert np.isclose(got[0], numpy_value(text, xv, yv), rtol=1e-10, atol=1e-12)
    eps = 1e-6
    for n, g in zip(names, got[1:]):
        dx, dy = (eps, 0) if n == "x" else (0, eps)
        fd = (numpy_value(text, xv + dx, yv + dy) - numpy_value(text, xv - dx, yv - dy)) / (2 * eps)
        assert np.isclose(g, fd, rtol=1e-4, atol=1e-5), (n, g, fd)



# ---------------------------------------------------------------------------
# messages that help: the column of the mistake, "did you mean", the constant e
# ---------------------------------------------------------------------------

POINTED = [  # text, the character the error's column points at, the message
    ("x^2", "^", r"did you mean \*\*, as in x\*\*2\?"),
    ("  (w*x - y)^2", "^", r"as in \(w\*x - y\)\*\*2"),
    ("a*b ^ 2 ^ c", "^", "did you mean"),          # the first ^ of two
    ("(a)  ^(b)", "^", "did you mean"),            # between parentheses
    ("é + x^2", "^", "did you mean"),              # columns count characters, not bytes
    ("x % 2", "%", "operator %"),
    ("(x)//2", "/", "operator //"),
    ("x +* y", "*", "invalid syntax"),
    ("x # note", "#", "comments"),
    ("  sin(x) + sine(x)", "s", "unknown function 'sine'"),
]


@pytest.mark.parametrize("text, char, why", POINTED, ids=[t for t, _, _ in POINTED])
def test_errors_carry_the_column_of_the_mistake(text, char, why):
    with pytest.raises(sg.ParseError, match=why) as info:
        parse_expression(text)
    col = info.value.column
    assert text[col - 1] == char and f"(at column {col})" in str(info.value)


def test_first_caret_is_reported_when_there_are_several():
    with pytest.raises(sg.ParseError) as info:
        parse_expression("a*b ^ 2 ^ c")
    assert info.value.column == 5


@pytest.mark.parametrize("text, guess", [
    ("sine(x)", "sin, sinh or sign"), ("Exp(x)", "exp"), ("ln(x)", "log"),
    ("atan(x)", "arctan"), ("asinh(x)", "arcsinh"), ("sqr(x)", "sqrt"),
    ("sigmod(x)", "sigmoid"), ("lgamma(x)", "gammaln"), ("LN(x)", "log")])
def test_unknown_functions_get_did_you_mean(text, guess):
    """The best guess first; a case slip or another language's name gets exactly one."""
    with pytest.raises(sg.ParseError, match=rf"\(did you mean {guess}[ ,?]"):
        parse_expression(text)
    with pytest.raises(sg.ParseError) as info:  # a guess says enough: no list of all names
        parse_expression(text)
    assert "known functions" not in str(info.value)
    if text.lower() != text or guess in ("log", "arctan", "arcsinh", "gammaln"):
        with pytest.raises(sg.ParseError, match=rf"\(did you mean {guess}\?\)"):
            parse_expression(text)


def test_no_did_you_mean_without_a_close_name():
    with pytest.raises(sg.ParseError, match="unknown function 'zzzqq'; known functions") as info:
        parse_expression("zzzqq(x)")
    assert "did you mean" not in str(info.value)


def test_e_is_eulers_number_and_a_variable_when_declared():
    f, v = parse_expression("e ** x + pi")
    assert list(v) == ["x"] and np.isclose(sg.evaluate(f, {"x": 2.0}), math.e ** 2 + math.pi)
    assert variable_names("e * x + pi") == ["x"]
    assert variable_names("e * x + pi", declared={"e", "pi"}) == ["e", "x", "pi"]
    with sg.Graph():
        f, v = parse_expression("e * x", {"e": (2,), "x": ()})  # shapes name e: a variable
        assert list(v) == ["e", "x"] and v["e"].shape == (2,)
        assert np.allclose(sg.evaluate(f, {"e": [1.0, 2.0], "x": 3.0}), [3.0, 6.0])
