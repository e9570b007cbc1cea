"""sg.linalg.cholesky, solve_triangular and cho_solve: numpy/scipy semantics, errors, derivatives.

The op table checks derivatives against finite differences (orders 1 and 2,
both modes), compile, save/load, dask and sympy for the cases in its
``triangular`` section; these tests pin the semantics those rely on.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import symgraph as sg
from symgraph import kernels
from triangular_cases import cholesky_grad_inputs, lower_read, spd, triangular

rng = np.random.default_rng(7)


def run(fn, *arrays):
    """``fn`` on constant inputs, evaluated and compiled (which must agree)."""
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    out = fn(*xs)
    feed = dict(zip(xs, arrays))
    value = sg.evaluate(out, feed)
    np.testing.assert_allclose(sg.function(xs, out)(*arrays), value, rtol=1e-12, atol=1e-12)
    return value


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 3), (2, 1, 5, 5)])
def test_cholesky_is_numpys_and_reads_the_lower_triangle(shape):
    a = lower_read(*shape)
    np.testing.assert_allclose(run(sg.linalg.cholesky, a), np.linalg.cholesky(a), rtol=1e-12)
    u = np.swapaxes(a, -1, -2)  # noise below the diagonal, which upper=True never reads
    np.testing.assert_allclose(run(lambda x: sg.linalg.cholesky(x, upper=True), u),
                               np.linalg.cholesky(u, upper=True), rtol=1e-12)


def test_cholesky_gradient_is_zero_on_the_unread_triangle():
    a = lower_read(4, 4)
    x = sg.variable("x", a.shape)
    g = sg.evaluate(sg.grad(sg.sum(sg.sin(sg.linalg.cholesky(x))), x), {x: a})
    assert np.all(np.triu(g, 1) == 0) and np.any(np.tril(g) != 0)


def test_dtypes_follow_numpy():
    a32 = spd(3, 3).astype(np.float32)
    x = sg.variable("x", a32.shape, np.float32)
    L = sg.linalg.cholesky(x)
    assert L.dtype == np.float32 and sg.evaluate(L, {x: a32}).dtype == np.float32
    b = sg.variable("b", (3,), np.float64)
    assert sg.linalg.solve_triangular(L, b).dtype == np.float64  # float32 with float64
    i = sg.variable("i", (3, 3), np.int64)
    assert sg.linalg.cholesky(i).dtype == np.float64
    with pytest.raises(sg.DTypeError, match="complex"):
        sg.linalg.cholesky(sg.variable("c", (2, 2), np.complex128))


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_is_scipys(trans, lower, unit):
    a, b = triangular(4, 4, lower=lower), rng.standard_normal((4, 3))
    want = scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
    got = run(lambda a, b: sg.linalg.solve_triangular(a, b, trans=trans, lower=lower,
                                                      unit_diagonal=unit), a, b)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("a_shape,b_shape,out_shape", [
    ((3, 3), (3,), (3,)),                # one vector
    ((2, 3, 3), (3,), (2, 3)),           # one vector against a batch
    ((3, 3), (5, 3, 2), (5, 3, 2)),      # a batch of right-hand sides
    ((4, 1, 3, 3), (2, 3, 1), (4, 2, 3, 1)),  # batch axes broadcast
])
def test_solve_triangular_batches_as_scipy(a_shape, b_shape, out_shape):
    a, b = triangular(*a_shape), rng.standard_normal(b_shape)
    got = run(lambda a, b: sg.linalg.solve_triangular(a, b, lower=True), a, b)
    assert got.shape == out_shape
    np.testing.assert_allclose(got, scipy.linalg.solve_triangular(a, b, lower=True), rtol=1e-12)


def test_cho_solve_is_scipys():
    a, b = spd(2, 4, 4), rng.standard_normal((2, 4, 3))
    for lower in (True, False):
        got = run(lambda a, b: sg.linalg.cho_solve((sg.linalg.cholesky(a, upper=not lower), lower), b),
                  a, b)
        want = [scipy.linalg.cho_solve(scipy.linalg.cho_factor(a[i], lower=lower), b[i])
                for i in range(2)]
        np.testing.assert_allclose(got, want, rtol=1e-10)
    with pytest.raises(sg.SymgraphError, match="pair"):
        sg.linalg.cho_solve(sg.constant(a[0]), b[0])


def test_shape_errors_name_the_shapes():
    with pytest.raises(sg.ShapeError, match=r"square.*\(3, 4\)"):
        sg.linalg.cholesky(sg.variable("r", (3, 4)))
    with pytest.raises(sg.ShapeError, match=r"\(3,\)"):
        sg.linalg.cholesky(sg.variable("v", (3,)))
    a = sg.variable("a", (3, 3))
    with pytest.raises(sg.ShapeError, match=r"\(3, 3\).*\(4,\)"):
        sg.linalg.solve_triangular(a, sg.variable("b", (4,)))
    with pytest.raises(sg.ShapeError, match="rows"):
        sg.linalg.solve_triangular(a, sg.variable("b2", (2, 3)))
    with pytest.raises(sg.ShapeError, match="batch"):
        sg.linalg.solve_triangular(sg.variable("ab", (2, 3, 3)), sg.variable("bb", (4, 3, 1)))
    with pytest.raises(sg.SymgraphError, match="trans"):
        sg.linalg.solve_triangular(a, sg.variable("b3", (3,)), trans="X")


def test_not_positive_definite_is_an_evaluation_error_naming_the_node():
    x = sg.variable("x", (3, 3))
    L = sg.linalg.cholesky(x)
    bad = -np.eye(3)
    with pytest.raises(sg.EvaluationError, match=rf"#{L.id} cholesky.*positive.definite"):
        sg.evaluate(L, {x: bad})
    with pytest.raises(sg.EvaluationError, match="cholesky"):
        sg.function([x], L)(bad)


def test_singular_triangular_solve_is_an_evaluation_error():
    a, b = sg.variable("a", (3, 3)), sg.variable("b", (3,))
    x = sg.linalg.solve_triangular(a, b, lower=True)
    singular = np.tril(np.ones((3, 3)))
    singular[1, 1] = 0
    with pytest.raises(sg.EvaluationError, match="singular"):
        sg.evaluate(x, {a: singular, b: np.ones(3)})
    with pytest.raises(sg.EvaluationError, match="solve_triangular"):
        sg.function([a, b], x)(singular, np.ones(3))


def test_numpy_dispatch_builds_cholesky():
    x = sg.variable("x", (3, 3))
    assert np.linalg.cholesky(x).op.name == "cholesky"


def test_log_marginal_likelihood_second_order():
    """The main use: a Gaussian likelihood through cholesky + solve_triangular, HVPs included."""
    k, y = spd(5, 5), rng.standard_normal(5)

    def nll(a, y):
        L = sg.linalg.cholesky(a)
        alpha = sg.linalg.solve_triangular(L, y, lower=True)
        return 0.5 * sg.sum(alpha * alpha) + sg.sum(sg.log(sg.linalg.diagonal(L)))

    sg.testing.check_grads(nll, [k, y], order=2)
    a = sg.variable("a", (5, 5))
    g = sg.evaluate(sg.grad(nll(a, sg.constant(y)), a), {a: k})
    kinv, al = np.linalg.inv(k), np.linalg.solve(k, y)
    closed = 0.5 * (kinv - np.outer(al, al))  # the gradient for a symmetric a ...
    np.testing.assert_allclose(g, 2 * np.tril(closed) - np.diag(np.diag(closed)), atol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 129, 300])
def test_blocked_cholesky_gradient_matches_the_closed_form(n):
    L, g = cholesky_grad_inputs(n, n)
    p = np.tril(L.T @ g)
    p[np.diag_indices(n)] *= 0.5
    s = np.linalg.solve(L.T, np.linalg.solve(L.T, p).T).T  # L^-T P L^-1
    want = np.tril(s) + np.tril(s.T, -1)
    np.testing.assert_allclose(kernels.cholesky_grad(L, g), want, rtol=1e-9,
                               atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (129, 129), (300, 300), (3, 4, 4), (2, 70, 70)])
def test_blocked_cholesky_tangent_matches_the_closed_form(shape):
    L, da = cholesky_grad_inputs(*shape)
    s = np.tril(da) + np.swapaxes(np.tril(da, -1), -1, -2)
    z = np.linalg.solve(L, np.swapaxes(np.linalg.solve(L, s), -1, -2))  # L^-1 S L^-T
    n = shape[-1]
    phi = np.tril(z)
    phi[..., np.arange(n), np.arange(n)] *= 0.5
    want = L @ phi
    np.testing.assert_allclose(kernels.cholesky_tangent(L, da), want, rtol=1e-9,
                               atol=1e-12 * np.abs(want).max())


def test_sympy_agrees_on_small_matrices():
    pytest.importorskip("sympy")
    a, b = spd(2, 2), rng.standard_normal(2)
    x, y = sg.variable("x", (2, 2)), sg.variable("y", (2,))
    out = sg.linalg.solve_triangular(sg.linalg.cholesky(x), y, lower=True)
    back = sg.from_sympy(sg.to_sympy(out), {"x": x, "y": y})
    np.testing.assert_allclose(sg.evaluate(back, {x: a, y: b}), sg.evaluate(out, {x: a, y: b}))


def test_dask_stays_lazy():
    da = pytest.importorskip("dask.array")
    a, b = spd(4, 3, 3), rng.standard_normal((4, 3, 2))
    x, y = sg.variable("x", a.shape), sg.variable("y", b.shape)
    out = sg.linalg.cho_solve((sg.linalg.cholesky(x), True), y)
    got = sg.evaluate(out, {x: da.from_array(a, chunks=(2, 3, 3)), y: da.from_array(b, chunks=2)})
    assert isinstance(got, da.Array)
    np.testing.assert_allclose(got.compute(), np.linalg.solve(a, b), rtol=1e-10)


def test_readme_linear_algebra_snippet_prints_what_it_shows(capsys):
    """README's sg.linalg example: a GP likelihood's value, gradient and HVP."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Linear algebra", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    shown = re.search(r"^# (\[.*\])$", code, re.M).group(1)
    assert capsys.readouterr().out.strip() == shown
