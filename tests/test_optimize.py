"""The scipy bridge: fun/jac/hessp on a flat vector, Newton-CG / trust-krylov, LinearOperator."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse.linalg

import symgraph as sg


def softmax_regression(n=200, d=6, c=3, lam=1e-2, seed=0, dtype="float64"):
    """Multinomial logistic regression on a generated, not separable data set."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    true_W = rng.standard_normal((d, c))
    logits = X @ true_W + 0.5 * rng.standard_normal((n, c))
    y = logits.argmax(axis=1)
    Xn, yn = sg.variable("X", (n, d), dtype), sg.variable("y", (n,), "int64")
    W, b = sg.variable("W", (d, c), dtype), sg.variable("b", (c,), dtype)
    loss = sg.cross_entropy(Xn @ W + b, yn) + lam / 2 * sg.sum(W * W)
    return loss, (W, b), {"X": X, "y": y}


@pytest.mark.parametrize("hvp_mode", ["fwd", "rev"])
@pytest.mark.parametrize("method", ["Newton-CG", "trust-krylov"])
def test_second_order_minimizers_converge(method, hvp_mode):
    loss, params, data = softmax_regression()
    obj = sg.optimize.objective(loss, list(params), data, hvp_mode=hvp_mode)
    assert obj.size == 6 * 3 + 3
    np.testing.assert_array_equal(obj.x0, np.zeros(obj.size))
    opts = {"xtol": 1e-10} if method == "Newton-CG" else {"gtol": 1e-8}
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp, method=method,
                                  options=opts)
    assert res.success, res.message
    assert np.linalg.norm(obj.jac(res.x)) < 1e-7
    assert obj.nhev > 0
    assert res.nit < 30  # second order: a handful of Newton steps
    W_opt, b_opt = obj.unflatten(res.x)
    assert W_opt.shape == (6, 3) and b_opt.shape == (3,)
    # Independent check of optimality: the gradient of the same loss in numpy.
    X, y = data["X"], data["y"]
    z = X @ W_opt + b_opt
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    r = (p - np.eye(3)[y]) / len(y)
    np.testing.assert_allclose(X.T @ r + 1e-2 * W_opt, 0, atol=1e-7)
    np.testing.assert_allclose(r.sum(0), 0, atol=1e-7)


def test_newton_cg_beats_gradient_descent_in_iterations():
    loss, params, data = softmax_regression(seed=1)
    obj = sg.optimize.objective(loss, list(params), data)
    newton = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                     method="Newton-CG", options={"xtol": 1e-10})
    x = obj.x0.copy()
    for _ in range(newton.nit):
        x -= 1.0 * obj.jac(x)
    assert obj.fun(newton.x) < obj.fun(x) - 1e-3


def test_fun_jac_hessp_match_direct_evaluation():
    loss, (W, b), data = softmax_regression(n=30, d=3, c=2)
    rng = np.random.default_rng(5)
    W0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    obj = sg.optimize.objective(loss, {"W": W, "b": b}, {**data, W: W0, b: b0})
    np.testing.assert_array_equal(obj.x0, np.concatenate([W0.ravel(), b0]))
    assert obj.unflatten(obj.x0)["W"].shape == (3, 2)
    x = rng.standard_normal(obj.size)
    p = rng.standard_normal(obj.size)
    Wx, bx = x[:6].reshape(3, 2), x[6:]
    feed = {**data, W: Wx, b: bx}
    value, gW, gb = sg.evaluate([loss, *sg.grad(loss, [W, b])], feed)
    assert obj.fun(x) == pytest.approx(float(value), rel=1e-14)
    np.testing.assert_allclose(obj.jac(x), np.concatenate([gW.ravel(), gb]), rtol=1e-14)
    assert obj.nfev == 1  # fun and jac at the same x share one evaluation
    H = _dense_hessian(loss, W, b, feed)
    np.testing.assert_allclose(obj.hessp(x, p), H @ p, rtol=1e-12, atol=1e-14)


def _dense_hessian(loss, W, b, feed):
    blocks = sg.evaluate(sg.hessian(loss, [W, b]), feed)
    return np.block([[blocks[0][0].reshape(6, 6), blocks[0][1].reshape(6, 2)],
                     [blocks[1][0].reshape(2, 6), blocks[1][1]]])


def test_hessian_operator_solves_and_finds_eigenvalues():
    loss, (W, b), data = softmax_regression(n=40, d=4, c=3)
    rng = np.random.default_rng(2)
    W0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    feed = {**data, W: W0, b: b0}
    dense = sg.evaluate(sg.hessian(loss, [W, b]), feed)
    H = np.block([[dense[0][0].reshape(12, 12), dense[0][1].reshape(12, 3)],
                  [dense[1][0].reshape(3, 12), dense[1][1]]])
    op = sg.optimize.hessian_operator(loss, [W, b], at=[W0, b0], feed=data)
    assert op.shape == (15, 15)
    rhs = rng.standard_normal(15)
    # The bias block makes H singular along sum(b) (softmax is shift invariant): regularise.
    shifted = scipy.sparse.linalg.LinearOperator((15, 15), matvec=lambda v: op @ v + 0.1 * v)
    sol, info = scipy.sparse.linalg.cg(shifted, rhs, rtol=1e-12, atol=0, maxiter=200)
    assert info == 0
    np.testing.assert_allclose(sol, np.linalg.solve(H + 0.1 * np.eye(15), rhs), rtol=1e-8, atol=1e-10)
    top = scipy.sparse.linalg.eigsh(op, k=2, which="LA", return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(top), np.linalg.eigvalsh(H)[-2:], rtol=1e-9)
    # every way of saying where: flat vector, mapping, the feed itself
    flat = np.concatenate([W0.ravel(), b0])
    for op2 in (sg.optimize.hessian_operator(loss, [W, b], at=flat, feed=data),
                sg.optimize.hessian_operator(loss, [W, b], at={W: W0, b: b0}, feed=data),
                sg.optimize.hessian_operator(loss, [W, b], feed=feed, hvp_mode="rev")):
        np.testing.assert_allclose(op2 @ rhs, H @ rhs, rtol=1e-12, atol=1e-14)


def test_float32_parameters_are_fed_as_float32():
    loss, params, data = softmax_regression(n=50, d=3, c=2, dtype="float32")
    obj = sg.optimize.objective(loss, list(params), data)
    x = np.full(obj.size, 0.1)
    assert obj.jac(x).dtype == np.float64
    assert obj.hessp(x, np.ones(obj.size)).dtype == np.float64
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                  method="trust-krylov", options={"gtol": 1e-4})
    assert np.linalg.norm(obj.jac(res.x)) < 1e-4


def test_objective_rejects_bad_input():
    loss, (W, b), data = softmax_regression(n=10, d=2, c=2)
    obj = sg.optimize.objective(loss, [W, b], data)
    with pytest.raises(sg.ShapeError, match=r"\(6,\)"):
        obj.fun(np.zeros(5))
    with pytest.raises(sg.ShapeError):
        obj.flatten([np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(sg.SymgraphError, match="twice"):
        sg.optimize.objective(loss, [W, W], data)
    with pytest.raises(sg.ShapeError, match="scalar"):
        sg.optimize.objective(W * 2, [W], data)
    with pytest.raises(sg.SymgraphError, match="hvp_mode"):
        sg.optimize.objective(loss, [W], data, hvp_mode="sideways")
    with pytest.raises(sg.MissingInputError, match="'X'"):
        sg.optimize.objective(loss, [W, b], {"y": data["y"]}).fun(np.zeros(6))


def test_hessp_reuses_the_part_independent_of_p_and_tracks_x():
    loss, (W, b), data = softmax_regression(n=30, d=3, c=2)
    obj = sg.optimize.objective(loss, [W, b], data)
    rng = np.random.default_rng(7)
    x1, x2, p = (rng.standard_normal(obj.size) for _ in range(3))
    dense = {}
    for x in (x1, x2):
        dense[x.tobytes()] = _dense_hessian(loss, W, b, {**data, W: x[:6].reshape(3, 2), b: x[6:]})
    for x in (x1, x1, x2, x1):  # products at a fixed x, then moving x back and forth
        np.testing.assert_allclose(obj.hessp(x, p), dense[x.tobytes()] @ p, rtol=1e-12, atol=1e-14)
    x3 = x1.copy()
    obj.hessp(x3, p)
    x3 += 1.0  # scipy may update x in place: the cache must notice
    H3 = _dense_hessian(loss, W, b, {**data, W: x3[:6].reshape(3, 2), b: x3[6:]})
    np.testing.assert_allclose(obj.hessp(x3, p), H3 @ p, rtol=1e-12, atol=1e-14)
    # the products themselves skip the forward pass: fewer nodes run than a full HVP
    fed = frozenset(obj._frontier) | frozenset(obj._directions) | frozenset(obj.params) \
        | frozenset(obj._static)
    full_fed = frozenset(obj._directions) | frozenset(obj.params) | frozenset(obj._static)
    assert len(obj._hvp.schedule(fed).steps) < len(obj._hvp.schedule(full_fed).steps)
