"""The scipy bridge's sparse Hessian (Objective.hess, trust-constr) and sg.optimize.newton."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import symgraph as sg

pytest.importorskip("networkx")


def rosenbrock(n, start):
    x = sg.variable("x", (n,))
    loss = sg.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return loss, x, {x: np.asarray(start, float)}


def banded_quadratic(n=30, seed=0):
    """1/2 x'Ax - b'x with A tridiagonal and positive definite: minimiser A^-1 b."""
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(n)
    x = sg.variable("x", (n,))
    bn = sg.variable("b", (n,))
    loss = sg.sum(x ** 2) + 0.5 * sg.sum((x[1:] - x[:-1]) ** 2) - sg.sum(bn * x)
    A = sp.diags([-np.ones(n - 1), 4 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).toarray()
    A[0, 0] = A[-1, -1] = 3.0                     # 2 I + the path's Laplacian
    return loss, x, {"b": b}, np.linalg.solve(A, b)


def coupled(dtype_b="float64"):
    """Two parameters of different shapes coupled through one term; strictly convex.

    loss = sum(exp(a) - c a) + sum((b[1:] - b[:-1])^2) + sum((b - d)^2) + sum(a[0] * b[:4]) / 4

    (``* 0.25``, not ``/ 4``: ``divide`` does not yet declare itself linear in its numerator, so
    ``/ 4`` would make the pattern of the whole block a[0], b[:4] dense -- correct, but loose.)
    """
    rng = np.random.default_rng(3)
    a = sg.variable("a", (3, 4))
    b = sg.variable("b", (5,), dtype_b)
    c = rng.uniform(0.5, 2.0, (3, 4))
    d = rng.standard_normal(5)
    bb = sg.cast(b, "float64") if dtype_b != "float64" else b
    loss = (sg.sum(sg.exp(a) - c * a) + sg.sum((bb[1:] - bb[:-1]) ** 2) + sg.sum((bb - d) ** 2)
            + sg.sum(a[0] * bb[:4]) * 0.25)

    def numpy_grad(av, bv):
        ga = np.exp(av) - c
        ga[0] += bv[:4] / 4
        db = np.diff(bv)
        gb = 2 * (bv - d)
        gb[1:] += 2 * db
        gb[:-1] -= 2 * db
        gb[:4] += av[0] / 4
        return ga, gb

    return loss, [a, b], numpy_grad


def dense_by_hvps(obj, x):
    return np.stack([obj.hessp(x, e) for e in np.eye(obj.size)], axis=1)


# -- the sparse Hessian equals the dense one ----------------------------------------------

def test_one_parameter_of_any_shape_matches_sg_hessian(fresh_graph):
    u = sg.variable("u", (4, 5))
    U = sg.pad(u, 1)
    loss = (sg.sum((U[1:, 1:-1] - U[:-1, 1:-1]) ** 2) + sg.sum((U[1:-1, 1:] - U[1:-1, :-1]) ** 2)
            + sg.sum(sg.exp(u) * sg.sin(u)))
    u0 = np.random.default_rng(0).standard_normal((4, 5))
    obj = sg.optimize.objective(loss, u, {u: u0})
    H = obj.hess(obj.x0)
    assert sp.issparse(H) and H.format == "csr" and H.dtype == np.float64 and H.shape == (20, 20)
    dense = sg.evaluate(sg.hessian(loss, u), {u: u0}).reshape(20, 20)
    np.testing.assert_allclose(H.toarray(), dense, rtol=1e-12, atol=1e-12)
    S = obj.sparse_hessian()
    assert S.pattern.nnz == 5 * 20 - 2 * (4 + 5)       # five-point stencil on a 4x5 grid
    assert S.n_colors < 20 and obj.sparse_hessian() is S  # built once
    assert obj.nhess == 1


def test_several_parameters_match_the_dense_hessian_including_the_coupling_blocks(fresh_graph):
    loss, params, _ = coupled()
    obj = sg.optimize.objective(loss, params)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(obj.size)
    H = obj.hess(x)
    np.testing.assert_allclose(H.toarray(), dense_by_hvps(obj, x), rtol=1e-12, atol=1e-12)
    # Against sg.hessian's block matrix too.
    a, b = params
    av, bv = obj.unflatten(x)
    blocks = sg.evaluate([blk for row in sg.hessian(loss, params) for blk in row], {a: av, b: bv})
    sizes = [12, 5]
    dense = np.block([[blocks[2 * i + j].reshape(sizes[i], sizes[j]) for j in range(2)]
                      for i in range(2)])
    np.testing.assert_allclose(H.toarray(), dense, rtol=1e-12, atol=1e-12)
    pattern = obj.sparse_hessian().pattern.toarray()
    assert pattern[0, 12] and pattern[12, 0]            # a[0, 0] meets b[0]
    assert not pattern[4, 12] and not pattern[0, 1]     # a[1, 0] and b[0] do not; a is diagonal
    assert (pattern == pattern.T).all()


def test_float32_parameter_mixed_with_float64_gives_a_float64_hessian(fresh_graph):
    loss, params, _ = coupled(dtype_b="float32")
    obj = sg.optimize.objective(loss, params)
    x = np.random.default_rng(2).standard_normal(obj.size)
    H = obj.hess(x)
    assert H.dtype == np.float64
    np.testing.assert_allclose(H.toarray(), dense_by_hvps(obj, x), rtol=1e-5, atol=1e-5)


def test_data_the_hessian_does_not_need_is_not_an_input(fresh_graph):
    loss, x, feed, _ = banded_quadratic(8)      # b enters linearly: not in the Hessian
    obj = sg.optimize.objective(loss, x, feed)
    H = obj.hess(np.zeros(8)).toarray()
    assert np.allclose(H, H.T) and np.all(np.linalg.eigvalsh(H) > 0)
    assert obj.sparse_hessian().n_colors == 3


# -- scipy's trust-constr and newton find known minimisers ---------------------------------

def test_trust_constr_uses_the_sparse_hessian(fresh_graph):
    loss, x, feed, expected = banded_quadratic()
    obj = sg.optimize.objective(loss, x, feed)
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hess=obj.hess,
                                  method="trust-constr", options={"gtol": 1e-10})
    assert res.success, res.message
    np.testing.assert_allclose(res.x, expected, atol=1e-8)
    assert obj.nhess > 0


def test_trust_constr_on_several_parameters(fresh_graph):
    loss, params, numpy_grad = coupled()
    obj = sg.optimize.objective(loss, params)
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hess=obj.hess,
                                  method="trust-constr", options={"gtol": 1e-10, "xtol": 1e-14})
    assert res.success, res.message
    ga, gb = numpy_grad(*obj.unflatten(res.x))    # the optimality condition, in numpy
    np.testing.assert_allclose(ga, 0, atol=1e-8)
    np.testing.assert_allclose(gb, 0, atol=1e-8)


def test_newton_solves_a_quadratic_in_one_step(fresh_graph):
    loss, x, feed, expected = banded_quadratic(50)
    res = sg.optimize.newton(loss, x, feed, tol=1e-10)
    assert res.success and res.status == 0 and res.nit == 1
    np.testing.assert_allclose(res.x, expected, atol=1e-12)
    np.testing.assert_allclose(res.params, expected, atol=1e-12)
    assert res.steps == [1.0] and res.shifts == [0.0]
    assert len(res.history) == len(res.losses) == 2 and res.history[-1] <= 1e-10


def test_newton_on_several_parameters_converges_quadratically(fresh_graph):
    loss, params, numpy_grad = coupled()
    res = sg.optimize.newton(loss, params, tol=1e-12)
    assert res.success
    a_opt, b_opt = res.params
    assert a_opt.shape == (3, 4) and b_opt.shape == (5,)
    ga, gb = numpy_grad(a_opt, b_opt)
    np.testing.assert_allclose(ga, 0, atol=1e-11)
    np.testing.assert_allclose(gb, 0, atol=1e-11)
    h = res.history
    assert all(t == 1 for t in res.steps)
    assert h[-2] < 1e-4 and h[-1] < 10 * h[-2] ** 1.8   # quadratic: the exponent doubles


def test_newton_shifts_indefinite_hessians_and_reaches_the_rosenbrock_minimum(fresh_graph):
    loss, x, feed = rosenbrock(2, [-1.2, 1.0])      # the classical start: H indefinite early on
    calls = []
    res = sg.optimize.newton(loss, x, feed, tol=1e-10, callback=calls.append)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1, 1], atol=1e-10)
    assert np.all(np.diff(res.losses) <= 0)             # a descent method
    assert len(calls) == res.nit == len(res.steps) == len(res.shifts)
    assert res.nhess == res.nit + 1 and res.nfev >= res.nit + 1  # + 1: the curvature check

    # The chain at a larger n, from scipy's tutorial start: Hessians shifted at first, and the
    # minimiser all ones.
    loss, x, feed = rosenbrock(500, np.resize([1.3, 0.7, 0.8, 1.9, 1.2], 500))
    res = sg.optimize.newton(loss, x, feed, tol=1e-9, max_iter=60)
    assert res.success and max(res.shifts) > 0 and res.shifts[-1] == 0
    np.testing.assert_allclose(res.x, 1, atol=1e-9)


def test_newton_backtracks_over_overflow_without_warnings(fresh_graph, recwarn):
    x = sg.variable("x", (3,))
    # Newton's step on sqrt(1 + x^2) maps x to -x^3: from -10 to 1000, where exp overflows.
    loss = sg.sum(sg.sqrt(1 + x ** 2) + 1e-10 * sg.exp(x))
    res = sg.optimize.newton(loss, x, {x: np.full(3, -10.0)}, tol=1e-12, max_iter=100)
    assert res.success and res.steps[0] < 0.1        # t = 1, 1/2, ... were rejected
    np.testing.assert_allclose(res.x, 0, atol=1e-9)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_newton_reuses_an_objective_and_reports_max_iter(fresh_graph):
    loss, x, feed = rosenbrock(20, np.zeros(20))
    obj = sg.optimize.objective(loss, x, feed)
    res = sg.optimize.newton(obj, max_iter=3)
    assert not res.success and res.status == 1 and res.nit == 3 and "max_iter" in res.message
    assert res.nhess == 3 and obj.nhess == 3
    res = sg.optimize.newton(obj, max_iter=0)
    assert res.nit == 0 and np.array_equal(res.x, obj.x0) and res.history == [res.history[0]]


# -- clear errors ----------------------------------------------------------------------------

def test_errors_name_the_problem(fresh_graph):
    loss, x, feed = rosenbrock(4, np.zeros(4))
    with pytest.raises(sg.SymgraphError, match="max_iter"):
        sg.optimize.newton(loss, x, feed, max_iter=-1)
    with pytest.raises(sg.SymgraphError, match="tol"):
        sg.optimize.newton(loss, x, feed, tol="small")
    with pytest.raises(sg.SymgraphError, match="params is missing"):
        sg.optimize.newton(loss)
    obj = sg.optimize.objective(loss, x, feed)
    with pytest.raises(sg.SymgraphError, match="pass no params"):
        sg.optimize.newton(obj, x)
    with pytest.raises(sg.ShapeError, match=r"\(4,\)"):
        obj.hess(np.zeros(5))
    with pytest.raises(sg.ShapeError):
        sg.optimize.newton(x * x, x)                    # not a scalar loss
    with pytest.raises(sg.SymgraphError, match="not finite"), pytest.warns(RuntimeWarning):
        sg.optimize.newton(sg.sum(sg.log(x)), x, {x: -np.ones(4)})


def test_missing_data_and_complex_parameters_are_refused(fresh_graph):
    loss, x, feed, _ = banded_quadratic(6)
    x2 = sg.variable("w", (3,))
    obj = sg.optimize.objective(loss * sg.sum(x2 * sg.variable("scale", (3,))), [x, x2], feed)
    with pytest.raises(sg.MissingInputError, match="scale"):
        obj.hess(np.zeros(obj.size))
    z = sg.variable("z", (3,), "complex128")
    obj = sg.optimize.objective(sg.sum(sg.abs(z) ** 2), z)
    with pytest.raises(sg.DTypeError, match="real floating"):
        obj.hess(np.zeros(3))


def test_readme_sparse_snippet_prints_what_it_shows(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Sparse Jacobians and Hessians", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    with sg.Graph():
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    shown = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert capsys.readouterr().out.splitlines() == shown


def test_newton_says_when_it_stops_at_a_maximum_or_a_kink(fresh_graph):
    x = sg.variable("x", (4,))
    at_max = sg.optimize.newton(sg.sum(x ** 4 - x ** 2), x)          # zeros: a strict maximum
    assert not at_max.success and at_max.status == 4 and "maximum" in at_max.message
    flat = sg.optimize.newton(sg.sum(x ** 4), x, {x: np.ones(4)}, max_iter=100)
    assert flat.success                                # a singular, semi-definite minimum is fine
    kink = sg.optimize.newton(sg.sum((x - 1) ** 2) + sg.sum(sg.abs(x) ** 1.5), x)
    assert not kink.success and kink.status == 3 and "not finite" in kink.message


def test_hess_honours_fed_computed_nodes_like_hessp(fresh_graph):
    w, v = sg.variable("w", (3,)), sg.variable("v", (2,))
    s = sg.exp(w)
    loss = sg.sum(s * w ** 2) + sg.sum(v ** 2)
    obj = sg.optimize.objective(loss, [w, v], feed={s: np.ones(3)})
    x = np.ones(5)
    dense = np.stack([obj.hessp(x, e) for e in np.eye(5)])
    np.testing.assert_allclose(obj.hess(x).toarray(), dense, atol=1e-12)


def test_objective_refuses_parameters_computed_from_parameters(fresh_graph):
    w = sg.variable("w", (3,))
    p = sg.exp(w)
    with pytest.raises(sg.SymgraphError, match="independent"):
        sg.optimize.objective(sg.sum(p * w), [p, w])


def test_hess_names_an_unfed_input_and_where_to_feed_it(fresh_graph):
    w, v, c = sg.variable("w", (3,)), sg.variable("v", (2,)), sg.variable("c", (3,))
    obj = sg.optimize.objective(sg.sum(c * w ** 3) + sg.sum(v ** 2), [w, v])
    with pytest.raises(sg.MissingInputError, match="objective's feed"):
        obj.hess(np.ones(5))
