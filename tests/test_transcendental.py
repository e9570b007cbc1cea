"""Transcendental and special functions: values and dtypes as numpy/scipy give them, second
derivatives against closed forms in both modes, precision where the naive formulas lose it,
sympy round trips, compiled code calling scipy.special, dask, and the command line."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.special as ss
import sympy as sp

import symgraph as sg
from symgraph.cli import main
from symgraph.ops.transcendental import Polygamma

ROOT = Path(__file__).resolve().parents[1]
SQPI = math.sqrt(math.pi)
LN2, LN10 = math.log(2), math.log(10)

REAL = [-1.3, 0.4, 2.1]
UNIT = [-0.7, 0.2, 0.85]
ABOVE_ONE = [1.2, 2.5, 7.0]
POSITIVE = [0.3, 1.7, 6.0]

#: name -> (reference ufunc, points, first derivative, second derivative)
FUNCS = {
    "expm1": (np.expm1, REAL, np.exp, np.exp),
    "log2": (np.log2, POSITIVE, lambda x: 1 / (x * LN2), lambda x: -1 / (x**2 * LN2)),
    "log10": (np.log10, POSITIVE, lambda x: 1 / (x * LN10), lambda x: -1 / (x**2 * LN10)),
    "exp2": (np.exp2, REAL, lambda x: 2**x * LN2, lambda x: 2**x * LN2**2),
    "reciprocal": (np.reciprocal, [-1.3, 0.4, 2.1], lambda x: -1 / x**2, lambda x: 2 / x**3),
    "sinh": (np.sinh, REAL, np.cosh, np.sinh),
    "cosh": (np.cosh, REAL, np.sinh, np.cosh),
    "arcsin": (np.arcsin, UNIT, lambda x: 1 / np.sqrt(1 - x**2), lambda x: x / (1 - x**2) ** 1.5),
    "arccos": (np.arccos, UNIT, lambda x: -1 / np.sqrt(1 - x**2),
               lambda x: -x / (1 - x**2) ** 1.5),
    "arctan": (np.arctan, REAL, lambda x: 1 / (1 + x**2), lambda x: -2 * x / (1 + x**2) ** 2),
    "arcsinh": (np.arcsinh, REAL, lambda x: 1 / np.sqrt(1 + x**2),
                lambda x: -x / (1 + x**2) ** 1.5),
    "arccosh": (np.arccosh, ABOVE_ONE, lambda x: 1 / np.sqrt(x**2 - 1),
                lambda x: -x / (x**2 - 1) ** 1.5),
    "arctanh": (np.arctanh, UNIT, lambda x: 1 / (1 - x**2), lambda x: 2 * x / (1 - x**2) ** 2),
    "erf": (ss.erf, REAL, lambda x: 2 / SQPI * np.exp(-x**2),
            lambda x: -4 * x / SQPI * np.exp(-x**2)),
    "erfc": (ss.erfc, REAL, lambda x: -2 / SQPI * np.exp(-x**2),
             lambda x: 4 * x / SQPI * np.exp(-x**2)),
    "gammaln": (ss.gammaln, POSITIVE + [-0.5, -2.5], ss.digamma, lambda x: ss.polygamma(1, x)),
    "digamma": (ss.digamma, POSITIVE + [-0.5], lambda x: ss.polygamma(1, x),
                lambda x: ss.polygamma(2, x)),
}
SCIPY = {"erf", "erfc", "gammaln", "digamma"}


def _ref(name):
    return FUNCS[name][0]


# ---------------------------------------------------------------------------
# values and dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_values_and_dtype_match_numpy_and_scipy(name, dtype):
    ref, points = FUNCS[name][:2]
    a = np.asarray(points, dtype=dtype)
    with sg.Graph():
        x = sg.variable("x", a.shape, dtype)
        y = getattr(sg, name)(x)
        assert y.dtype == np.dtype(dtype)
        got, compiled = sg.evaluate(y, {x: a}), sg.function([x], [y])(a)[0]
    want = ref(a)
    assert want.dtype == got.dtype == compiled.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(compiled, want)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "bool"])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_integer_and_bool_inputs_promote_like_numpy(name, dtype):
    a = np.array([0, 1, 1] if dtype == "bool" else [1, 2, 3], dtype=dtype)
    with np.errstate(all="ignore"):
        want = _ref(name)(a)
        with sg.Graph():
            k = sg.variable("k", a.shape, dtype)
            y = getattr(sg, name)(k)
            assert y.dtype == want.dtype, (name, dtype)
            got = sg.evaluate(y, {k: a})
            compiled = sg.function([k], [y])(a)[0]
    assert got.dtype == compiled.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(compiled, want)


def test_reciprocal_of_integers_truncates_like_numpy():
    a = np.array([1, 2, -1, 7])
    got = sg.evaluate(sg.reciprocal(sg.constant(a)))
    assert got.dtype == np.int64 and got.tolist() == [1, 0, -1, 0] == np.reciprocal(a).tolist()


def test_special_values():
    assert sg.evaluate(sg.log2(8.0)) == 3.0 and sg.evaluate(sg.log10(1000.0)) == 3.0
    assert sg.evaluate(sg.exp2(3.0)) == 8.0
    assert math.isclose(sg.evaluate(sg.arctan(1.0)), math.pi / 4, rel_tol=1e-15)
    assert sg.evaluate(sg.erfc(10.0)) == ss.erfc(10.0) > 2e-45  # 1 - erf(10) would be 0
    assert sg.evaluate(sg.gammaln(200.0)) == ss.gammaln(200.0)  # gamma(200) overflows
    assert math.isclose(sg.evaluate(sg.digamma(1.0)), -np.euler_gamma, rel_tol=1e-15)
    with np.errstate(all="ignore"):
        assert np.isnan(sg.evaluate(sg.arcsin(1.5))) and np.isnan(sg.evaluate(sg.arccosh(0.5)))
        assert sg.evaluate(sg.arctanh(1.0)) == np.inf


def test_gammaln_is_log_abs_gamma_where_gamma_is_negative():
    x = np.array([-0.5, -2.5])  # gamma < 0 at -0.5, > 0 at -2.5
    got = sg.evaluate(sg.gammaln(sg.constant(x)))
    np.testing.assert_allclose(got, np.log(np.abs(ss.gamma(x))), rtol=1e-14)


def test_complex_inputs_follow_the_ufuncs():
    z = np.array([0.5 + 0.25j])
    np.testing.assert_array_equal(sg.evaluate(sg.erf(sg.constant(z))), ss.erf(z))
    np.testing.assert_array_equal(sg.evaluate(sg.arcsin(sg.constant(z))), np.arcsin(z))
    with pytest.raises(sg.DTypeError, match="gammaln"):
        sg.gammaln(sg.variable("z", (), "complex128"))


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------

def _first_and_second(name, x):
    """f' and f'' of elementwise f at x, by reverse-over-reverse and forward-over-forward."""
    f = getattr(sg, name)
    v = sg.variable("v", np.shape(x))
    y = f(v)
    d1 = sg.grad(sg.sum(y), v)
    d2 = sg.grad(sg.sum(d1), v)
    ones = np.ones(np.shape(x))
    f1 = sg.jvp(y, v, ones)
    f2 = sg.jvp(f1, v, ones)
    return sg.evaluate([d1, d2, f1, f2], {v: np.asarray(x)})


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_first_and_second_derivatives_match_closed_forms(name):
    _, points, d1, d2 = FUNCS[name]
    x = np.asarray(points)
    with sg.Graph():
        r1, r2, f1, f2 = _first_and_second(name, x)
    for got in (r1, f1):
        np.testing.assert_allclose(got, d1(x), rtol=1e-13, err_msg=f"{name}'")
    for got in (r2, f2):
        np.testing.assert_allclose(got, d2(x), rtol=1e-12, err_msg=f"{name}''")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_derivatives_are_the_next_orders(n):
    x = np.array([0.3, 1.7, 6.0])
    with sg.Graph():
        v = sg.variable("v", x.shape)
        y = sg.polygamma(n, v)
        d1 = sg.grad(sg.sum(y), v)
        d2 = sg.grad(sg.sum(d1), v)
        f2 = sg.jvp(sg.jvp(y, v, np.ones(3)), v, np.ones(3))
        got = sg.evaluate([y, d1, d2, f2], {v: x})
    for k, g in enumerate(got[:3] + [got[3]]):
        np.testing.assert_allclose(g, ss.polygamma(n + min(k, 2), x), rtol=1e-13)


def test_derivatives_keep_float32():
    with sg.Graph():
        v = sg.variable("v", (3,), "float32")
        ys = [getattr(sg, name)(v) for name in FUNCS] + [sg.polygamma(2, v)]
        for y in ys:
            d1 = sg.grad(sg.sum(y), v)
            d2 = sg.grad(sg.sum(d1), v)
            assert d1.dtype == d2.dtype == np.float32, y.op.name


# ---------------------------------------------------------------------------
# precision where the naive formula loses digits
# ---------------------------------------------------------------------------

def _exact(expr) -> float:
    return float(sp.N(expr, 50))


def test_expm1_of_tiny_x_is_exact_and_so_are_its_derivatives():
    x = 1e-12
    exact = _exact(sp.exp(sp.Rational(x)) - 1)  # 1e-12 + 5e-25 + ...
    assert abs((1e-12 + 5e-25) - exact) / exact < 1e-15
    assert abs((math.exp(x) - 1) - exact) / exact > 1e-6  # why expm1 exists
    with sg.Graph():
        v = sg.variable("v")
        y = sg.expm1(v)
        d1 = sg.grad(y, v)
        d2 = sg.grad(d1, v)
        f1 = sg.jvp(y, v, 1.0)
        value, *derivs = sg.evaluate([y, d1, d2, f1], {v: x})
        compiled = sg.function([v], [y])(x)[0]
    for got in (value, compiled):
        assert abs(got - exact) / exact < 1e-15
    exp_x = _exact(sp.exp(sp.Rational(x)))
    for got in derivs:
        assert abs(got - exp_x) / exp_x < 1e-15


@pytest.mark.parametrize("name, x, exact", [
    ("arccosh", 1 + 2.0**-30, lambda x: 1 / sp.sqrt(x**2 - 1)),
    ("arcsin", 1 - 2.0**-30, lambda x: 1 / sp.sqrt(1 - x**2)),
    ("arccos", -1 + 2.0**-30, lambda x: -1 / sp.sqrt(1 - x**2)),
    ("arctanh", 1 - 2.0**-40, lambda x: 1 / (1 - x**2)),
    ("erfc", 10.0, lambda x: -2 / sp.sqrt(sp.pi) * sp.exp(-x**2)),
])
def test_derivatives_near_the_edges_keep_full_precision(name, x, exact):
    """(x-1)(x+1) and (1-x)(1+x) are exact where x**2 - 1 and 1 - x**2 cancel."""
    want = _exact(exact(sp.Rational(x)))
    with sg.Graph():
        v = sg.variable("v")
        got = sg.evaluate(sg.grad(getattr(sg, name)(v), v), {v: x})
    assert abs(got - want) / abs(want) < 1e-14


# ---------------------------------------------------------------------------
# polygamma
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_matches_scipy_and_keeps_float32(n):
    x = np.array([0.2, 1.0, 3.5, 40.0])
    np.testing.assert_allclose(sg.evaluate(sg.polygamma(n, sg.constant(x))), ss.polygamma(n, x),
                               rtol=1e-14)
    x32 = x.astype(np.float32)
    got = sg.evaluate(sg.polygamma(n, sg.constant(x32)))
    assert got.dtype == np.float32  # scipy's own polygamma would give float64
    np.testing.assert_allclose(got, ss.polygamma(n, x32.astype(np.float64)), rtol=1e-6)


def test_polygamma_orders_and_dtypes():
    x = sg.variable("x")
    assert type(sg.polygamma(0, x).op) is type(sg.digamma(x).op)  # order 0 is digamma
    assert sg.polygamma(1, x) is sg.polygamma(1.0, x) is sg.polygamma(np.int8(1), x)
    assert sg.polygamma(1, 1.0).dtype == np.float64
    assert math.isclose(sg.evaluate(sg.polygamma(1, 1.0)), math.pi**2 / 6, rel_tol=1e-15)
    k = sg.constant(np.array([1, 2]))
    got = sg.polygamma(2, k)
    assert got.dtype == np.float64  # integers cast first, as digamma promotes them
    np.testing.assert_allclose(sg.evaluate(got), ss.polygamma(2, [1.0, 2.0]), rtol=1e-14)
    assert sg.polygamma(1, sg.variable("f16", (), "float16")).dtype == np.float64


@pytest.mark.parametrize("n, match", [
    (-1, "non-negative integer, got -1"), (1.5, "got 1.5"), (True, "got True"),
    ("1", "got '1'"), (None, "got None"), (float("nan"), "got nan"), ([1], "got \\[1\\]"),
    (171, "1..170"),
])
def test_polygamma_refuses_bad_orders(n, match):
    with pytest.raises(sg.SymgraphError, match=f"polygamma: .*{match}"):
        sg.polygamma(n, sg.variable("x"))


def test_polygamma_refuses_a_computed_order_and_bad_ops():
    x = sg.variable("x")
    with pytest.raises(sg.SymgraphError, match="constant integer, not a node"):
        sg.polygamma(x, x)
    with pytest.raises(sg.SymgraphError, match="order n must be in 1..170"):
        Polygamma(0)(x)
    with pytest.raises(sg.SymgraphError, match="parameter 'n' must be int"):
        Polygamma(1.0)(x)
    with pytest.raises(sg.DTypeError, match="float32 or float64, got int64"):
        Polygamma(1)(sg.variable("k", (), "int64"))
    with pytest.raises(sg.DTypeError, match="float32 or float64, got complex128"):
        sg.polygamma(1, sg.variable("z", (), "complex128"))


# ---------------------------------------------------------------------------
# sympy
# ---------------------------------------------------------------------------

XS = sp.Symbol("x")
SYMPY_FORMS = {
    "expm1": sp.exp(XS) - 1, "log2": sp.log(XS, 2), "log10": sp.log(XS, 10), "exp2": 2**XS,
    "reciprocal": 1 / XS, "sinh": sp.sinh(XS), "cosh": sp.cosh(XS), "arcsin": sp.asin(XS),
    "arccos": sp.acos(XS), "arctan": sp.atan(XS), "arcsinh": sp.asinh(XS),
    "arccosh": sp.acosh(XS), "arctanh": sp.atanh(XS), "erf": sp.erf(XS), "erfc": sp.erfc(XS),
    "gammaln": sp.loggamma(XS), "digamma": sp.digamma(XS),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_to_sympy_gives_the_sympy_function(name):
    with sg.Graph():
        assert sg.to_sympy(getattr(sg, name)(sg.variable("x"))) == SYMPY_FORMS[name]


@pytest.mark.parametrize("name", sorted(FUNCS) + ["polygamma1", "polygamma2"])
def test_to_sympy_then_from_sympy_gives_the_same_values(name):
    points = np.asarray(FUNCS[name][1] if name in FUNCS else POSITIVE)
    build = (getattr(sg, name) if name in FUNCS
             else lambda v: sg.polygamma(int(name[-1]), v))
    with sg.Graph():
        x = sg.variable("x")
        y = build(x)
        back = sg.from_sympy(sg.to_sympy(y), {"x": x})
        for p in points:
            want, got = sg.evaluate([y, back], {x: p})
            np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=f"{name} at {p}")
            expr_value = complex(sg.to_sympy(y).subs(XS, p).evalf(30))
            if name != "gammaln" or p > 0:  # sympy's loggamma is complex where gamma < 0
                np.testing.assert_allclose(expr_value.real, want, rtol=1e-13)


def test_from_sympy_maps_sympy_functions_to_these_ops():
    x = sg.variable("x")
    for fn, op in [(sp.sinh, "sinh"), (sp.cosh, "cosh"), (sp.asin, "arcsin"), (sp.acos, "arccos"),
                   (sp.atan, "arctan"), (sp.asinh, "arcsinh"), (sp.acosh, "arccosh"),
                   (sp.atanh, "arctanh"), (sp.erf, "erf"), (sp.erfc, "erfc"),
                   (sp.loggamma, "gammaln"), (sp.digamma, "digamma"), (sp.trigamma, "polygamma")]:
        assert sg.from_sympy(fn(XS), {"x": x}).op.name == op
    node = sg.from_sympy(sp.polygamma(3, XS), {"x": x})
    assert type(node.op) is Polygamma and node.op.params() == {"n": 3}
    with pytest.raises(sg.SymgraphError, match="polygamma: the order n must be a constant"):
        sg.from_sympy(sp.polygamma(sp.Symbol("k"), XS), {"x": x, "k": sg.variable("k")})


def test_sympy_derivatives_agree_with_symgraph():
    with sg.Graph():
        x = sg.variable("x")
        y = sg.gammaln(x) * sg.erf(x) + sg.arctan(x) * sg.expm1(x)
        d2 = sg.grad(sg.grad(y, x), x)
        want = sp.diff(sg.to_sympy(y), XS, 2)
        for p in [0.4, 1.3, 2.7]:
            assert math.isclose(sg.evaluate(d2, {x: p}), float(want.subs(XS, p).evalf(30)),
                                rel_tol=1e-12)


def test_integer_reciprocal_has_no_sympy_translation():
    with pytest.raises(sg.SymgraphError, match="reciprocal of int64 truncates"):
        sg.to_sympy(sg.reciprocal(sg.variable("k", (), "int64")))


# ---------------------------------------------------------------------------
# compiled code, dask
# ---------------------------------------------------------------------------

def test_compiled_source_calls_scipy_special_and_runs_standalone():
    a = np.array([0.3, 1.1, 2.5])
    with sg.Graph():
        scipy = sg.variable("scipy", (3,))  # a variable named like the module: renamed
        y = sg.erf(scipy) + sg.gammaln(scipy) * sg.polygamma(2, scipy) - sg.digamma(scipy)
        fn = sg.function([scipy], [y])
        want = sg.evaluate(y, {scipy: a})
    src = fn.source
    assert fn.standalone and "import scipy.special" in src
    for call in ("scipy.special.erf(", "scipy.special.gammaln(", "scipy.special.psi(",
                 "-2.0 * scipy.special.zeta(3, "):
        assert call in src, src
    np.testing.assert_allclose(fn(a)[0], want, rtol=1e-15)
    namespace: dict = {}
    exec(compile(src, "<standalone>", "exec"), namespace)
    name = re.search(r"^def ([A-Za-z]\w*)\(", src, re.M).group(1)
    np.testing.assert_allclose(namespace[name](a)[0], want, rtol=1e-15)


def test_symgraph_imports_scipy_special_only_when_used():
    code = ("import sys, symgraph as sg; assert 'scipy.special' not in sys.modules; "
            "x = sg.variable('x'); y = sg.erf(x); assert 'scipy.special' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_dask_arrays_stay_lazy():
    da = pytest.importorskip("dask.array")
    a = np.array([0.3, 1.1, 2.5, 4.0])
    with sg.Graph():
        x = sg.variable("x", (4,))
        y = sg.erf(x) * sg.polygamma(1, x) + sg.gammaln(x) + sg.expm1(x) * sg.arcsinh(x)
        outs = [y, *sg.grad(sg.sum(y), [x])]
        want = sg.evaluate(outs, {x: a})
        lazy = sg.evaluate(outs, {x: da.from_array(a, chunks=2)})
    for w, g in zip(want, lazy):
        assert isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(scheduler="synchronous"), w, rtol=1e-14)


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------

def _cli_values(argv, capsys) -> dict[str, float]:
    assert main(argv) == 0
    out = capsys.readouterr().out
    return {k.strip(): float(v) for k, v in (line.split(" = ") for line in out.splitlines()[3:])}


def test_cli_arctan_gradient_is_the_closed_form(capsys):
    got = _cli_values(["grad", "arctan(w*x)", "--at", "w=1", "x=2"], capsys)
    assert got == pytest.approx({"f": math.atan(2), "df/dw": 2 / 5, "df/dx": 1 / 5}, rel=1e-9)


def test_cli_as_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "symgraph", "grad", "arctan(w*x)", "--at", "w=1",
                           "x=2"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "df/dw = 0.4\ndf/dx = 0.2\n" in proc.stdout


@pytest.mark.parametrize("expr, at, want", [
    ("gammaln(x)", 3.0, [math.log(2), ss.digamma(3.0), ss.polygamma(1, 3.0)]),
    ("polygamma(1, x)", 2.0, [ss.polygamma(k, 2.0) for k in (1, 2, 3)]),
    ("erfc(x) + expm1(x)", 0.5, [ss.erfc(0.5) + math.expm1(0.5),
                                 -2 / SQPI * math.exp(-0.25) + math.exp(0.5),
                                 2 / SQPI * math.exp(-0.25) + math.exp(0.5)]),
    ("arccosh(x) * log2(x)", 2.0, [math.acosh(2),
                                   1 / math.sqrt(3) + math.acosh(2) / (2 * LN2),
                                   -2 / 3**1.5 + 2 / (math.sqrt(3) * 2 * LN2)
                                   - math.acosh(2) / (4 * LN2)]),
])
def test_cli_second_order(expr, at, want, capsys):
    got = _cli_values(["grad", expr, "--at", f"x={at}", "--order", "2"], capsys)
    assert list(got.values()) == pytest.approx([float(w) for w in want], rel=1e-9)


def test_cli_polygamma_needs_a_whole_order(capsys):
    assert main(["grad", "polygamma(1.5, x)", "--at", "x=2"]) == 2
    assert "non-negative integer, got 1.5" in capsys.readouterr().err
