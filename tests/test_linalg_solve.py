"""sg.linalg's solve family: solve, inv, det, adjugate, slogdet, pinv, matrix_power.

Values against numpy (batches, broadcast batch axes, numpy 2's vector rule
for solve, float32 kept, integers to float64, empty matrices), derivatives of
order 1 and 2 in both modes against finite differences, the determinant's
derivatives at singular matrices (the adjugate, an independent cofactor
reference), compiled code, save/load, dask, sympy, numpy dispatch and the
refusals (shapes, singular matrices at run time, parameters).
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import check_save_load, numeric_grad
from solve_cases import conditioned, lower_symmetric, of_rank
from symgraph.errors import DTypeError, EvaluationError, ShapeError, SymgraphError
from symgraph.ops.solve import Adjugate, AdjugateTangent, Det, Inv, Pinv, Slogdet, Solve

rng = np.random.default_rng(41)
L = sg.linalg


def cofactor_adjugate(a: np.ndarray) -> np.ndarray:
    """The adjugate from its definition, determinants of minors (any matrix, singular too)."""
    *batch, n, _ = a.shape
    out = np.empty(a.shape)
    for idx in np.ndindex(*batch):
        m = a[idx]
        for i in range(n):
            for j in range(n):
                minor = np.delete(np.delete(m, j, axis=0), i, axis=1)
                out[idx + (i, j)] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

SOLVE_SHAPES = [
    ((3, 3), (3,)),            # one vector
    ((3, 3), (3, 2)),          # a matrix of right-hand sides
    ((2, 3, 3), (3,)),         # a 1-D b against a batch of matrices: (2, 3)
    ((2, 3, 3), (3, 3)),       # numpy 2: a 2-D b is one matrix, not a stack of vectors
    ((2, 1, 3, 3), (4, 3, 2)),  # batch axes broadcast
    ((3, 3), (2, 3, 1)),        # b alone has a batch
    ((1, 1), (1,)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sa, sb", SOLVE_SHAPES)
def test_solve_is_numpys(sa, sb, dtype):
    a, b = conditioned(*sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    x = L.solve(sg.variable("a", sa, dtype), sg.variable("b", sb, dtype))
    want = np.linalg.solve(a, b)
    got = sg.evaluate(x, {"a": a, "b": b})
    assert x.shape == got.shape == want.shape and x.dtype == got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)
    fn = sg.function([x.inputs[0], x.inputs[1]], x)
    np.testing.assert_array_equal(fn(a, b), want)


def test_solve_numpy2_vector_rule_survives_broadcasting_in_compiled_code():
    a = conditioned(2, 3, 3)
    b = rng.standard_normal(3)
    va, vb = sg.variable("a", (2, 3, 3)), sg.variable("b", (3,))
    outs = [L.solve(va, vb), L.solve(va, sg.broadcast_to(vb, (3, 3))),
            L.solve(va, vb * 2.0), *sg.grad(sg.sum(L.solve(va, vb) ** 2), [va, vb])]
    got = sg.function([va, vb], outs)(a, b)
    want = sg.evaluate(outs, {va: a, vb: b})
    np.testing.assert_array_equal(got[0], np.linalg.solve(a, b))
    np.testing.assert_array_equal(got[1], np.linalg.solve(a, np.broadcast_to(b, (3, 3))))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


def test_mixed_and_integer_dtypes_follow_numpy():
    a32 = conditioned(3, 3).astype("float32")
    b64 = rng.standard_normal(3)
    x = L.solve(sg.constant(a32), sg.constant(b64))
    assert x.dtype == np.linalg.solve(a32, b64).dtype == np.float64
    ai = np.array([[2, 1], [1, 3]])
    bi = np.array([1, 2])
    for node, want in [(L.solve(ai, bi), np.linalg.solve(ai, bi)), (L.inv(ai), np.linalg.inv(ai)),
                       (L.det(ai), np.linalg.det(ai)), (L.slogdet(ai).logabsdet,
                                                        np.linalg.slogdet(ai).logabsdet),
                       (L.pinv(ai), np.linalg.pinv(ai)),
                       (L.adjugate(ai), [[3.0, -1.0], [-1.0, 2.0]])]:
        got = sg.evaluate(node)
        assert node.dtype == got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2), (1, 1)])
def test_inv_det_slogdet_are_numpys(shape, dtype):
    a = conditioned(*shape).astype(dtype)
    x = sg.variable("a", shape, dtype)
    sign, logdet = L.slogdet(x)
    nodes = [L.inv(x), L.det(x), sign, logdet]
    wants = [np.linalg.inv(a), np.linalg.det(a), *np.linalg.slogdet(a)]
    for node, got, want in zip(nodes, sg.evaluate(nodes, {x: a}), wants):
        assert node.shape == got.shape == np.shape(want) and node.dtype == got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    assert isinstance(L.slogdet(x), L.SlogdetResult) and L.slogdet(x).sign is sign


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (2, 4, 4), (3, 1, 5, 5)])
def test_adjugate_is_the_cofactor_transpose(shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    got = sg.evaluate(L.adjugate(sg.constant(a)))
    assert got.dtype == dtype
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(got, cofactor_adjugate(a.astype(float)), rtol=tol, atol=tol)
    # a @ adj(a) == det(a) I
    det_i = np.linalg.det(a)[..., None, None] * np.eye(shape[-1])
    np.testing.assert_allclose(a.astype(float) @ got, det_i, atol=10 * tol)


@pytest.mark.parametrize("n, rank", [(3, 2), (4, 3), (4, 2), (3, 0), (2, 1)])
def test_adjugate_at_singular_matrices(n, rank):
    a = of_rank(rank, 2, n, n)
    got = sg.evaluate(L.adjugate(sg.constant(a)))
    np.testing.assert_allclose(got, cofactor_adjugate(a), atol=1e-13)
    if rank < n - 1:
        np.testing.assert_allclose(got, 0, atol=1e-14)
    else:
        assert np.abs(got).max() > 0.1


def test_adjugate_of_1x1_is_one_and_of_0x0_is_empty():
    np.testing.assert_array_equal(sg.evaluate(L.adjugate(np.array([[[0.0]], [[-7.0]]]))),
                                  [[[1.0]], [[1.0]]])
    e = np.zeros((2, 0, 0))
    x = sg.variable("e", e.shape)
    nodes = [L.adjugate(x), L.det(x), L.inv(x), *L.slogdet(x), L.pinv(x),
             L.solve(x, np.zeros((0, 2)))]
    wants = [e, np.ones(2), e, np.ones(2), np.zeros(2), e, np.zeros((2, 0, 2))]
    for node, got, want in zip(nodes, sg.evaluate(nodes, {x: e}), wants):
        assert got.shape == node.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 2), (2, 2, 3, 3)])
def test_pinv_is_numpys(shape, dtype):
    a = conditioned(*shape).astype(dtype)
    x = sg.variable("a", shape, dtype)
    for node, want in [(L.pinv(x), np.linalg.pinv(a)),
                       (L.pinv(x, rtol=None), np.linalg.pinv(a, rtol=None)),
                       (L.pinv(x, 0.3), np.linalg.pinv(a, 0.3)),
                       (L.pinv(x, rtol=0.3), np.linalg.pinv(a, rtol=0.3))]:
        got = sg.evaluate(node, {x: a})
        assert node.shape == got.shape == want.shape and got.dtype == node.dtype == dtype
        np.testing.assert_array_equal(got, want)


def test_pinv_rcond_per_matrix_and_hermitian():
    a = conditioned(2, 3, 3)
    cut = np.array([1e-15, 0.6])  # the second drops singular values below 0.6 * max(s)
    x = sg.variable("a", a.shape)
    np.testing.assert_array_equal(sg.evaluate(L.pinv(x, cut), {x: a}), np.linalg.pinv(a, cut))
    h = lower_symmetric(2, 3, 3)
    got = sg.evaluate(L.pinv(x, hermitian=True), {x: h})
    np.testing.assert_array_equal(got, np.linalg.pinv(h, hermitian=True))
    # only the lower triangle is read: its gradient is zero above the diagonal
    g = sg.evaluate(sg.grad(sg.sum(L.pinv(x, hermitian=True) * rng.standard_normal(a.shape)), x),
                    {x: h})
    assert np.all(np.triu(g, 1) == 0) and np.abs(np.tril(g)).max() > 0.01


# ---------------------------------------------------------------------------
# matrix_power
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 13, -1, -2, -3, -6])
def test_matrix_power_is_numpys(n):
    a = conditioned(2, 3, 3) * 0.9
    got = sg.evaluate(L.matrix_power(sg.constant(a), n))
    want = np.linalg.matrix_power(a, n)
    assert got.dtype == want.dtype
    if n >= 0:
        np.testing.assert_array_equal(got, want)  # the same products in the same order
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float32"])
@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_matrix_power_keeps_the_dtype(dtype, n):
    a = (np.arange(8).reshape(2, 2, 2) % 3).astype(dtype)
    node = L.matrix_power(a, n)
    want = np.linalg.matrix_power(a, n)
    assert node.dtype == want.dtype and node.shape == want.shape
    np.testing.assert_array_equal(sg.evaluate(node), want)


def test_matrix_power_negative_of_integers_is_float():
    a = np.array([[2, 1], [1, 1]])
    node = L.matrix_power(a, -2)
    assert node.dtype == np.linalg.matrix_power(a, -2).dtype == np.float64
    np.testing.assert_allclose(sg.evaluate(node), np.linalg.matrix_power(a, -2), rtol=1e-14)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power_gradients(n):
    a = conditioned(2, 3, 3) * 0.9
    _check_derivatives(lambda x: L.matrix_power(x, n), [a])


def test_matrix_power_refusals():
    with pytest.raises(TypeError, match="exponent must be an integer"):
        L.matrix_power(np.eye(2), 2.0)
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        L.matrix_power(np.ones(3), 2)
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        L.matrix_power(np.ones((2, 3)), 2)
    np.testing.assert_array_equal(sg.evaluate(L.matrix_power(np.eye(2) * 2, np.int64(3))),
                                  np.eye(2) * 8)


# ---------------------------------------------------------------------------
# derivatives against finite differences, both modes, orders 1 and 2
# ---------------------------------------------------------------------------

def _check_derivatives(fn, arrays, rtol=1e-6, atol=1e-7):
    """Gradient (reverse), jvp (forward) and Hessian-vector products forward-over-reverse
    and reverse-over-reverse of ``<fn(*xs), R>`` against central differences."""
    xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
    y = fn(*xs)
    r = rng.standard_normal(y.shape)
    f = sg.sum(y * r)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    grads = sg.grad(f, xs)
    jv = sg.jvp(f, xs, [sg.constant(v) for v in vs])
    gv = sg.add_n([sg.sum(g * v) for g, v in zip(grads, vs)])
    h_rev = sg.grad(gv, xs)
    h_fwd = sg.jvp(grads, xs, [sg.constant(v) for v in vs])
    feed = dict(zip(xs, arrays))
    got_g, got_jv, got_hr, got_hf = sg.evaluate([grads, jv, h_rev, h_fwd], feed)

    def at(i, node):
        return lambda p: float(sg.evaluate(node, {**feed, xs[i]: p}))

    eps = 1e-6
    step = {x: a + eps * v for x, a, v in zip(xs, arrays, vs)}
    back = {x: a - eps * v for x, a, v in zip(xs, arrays, vs)}
    np.testing.assert_allclose(got_jv, (sg.evaluate(f, step) - sg.evaluate(f, back)) / (2 * eps),
                               rtol=rtol, atol=atol)
    for i, a in enumerate(arrays):
        np.testing.assert_allclose(got_g[i], numeric_grad(at(i, f), a), rtol=rtol, atol=atol)
        hv = numeric_grad(at(i, gv), a)
        np.testing.assert_allclose(got_hr[i], hv, rtol=100 * rtol, atol=100 * atol)
        np.testing.assert_allclose(got_hf[i], hv, rtol=100 * rtol, atol=100 * atol)


DERIVATIVE_CASES = {
    "solve_vector_batched": (L.solve, [conditioned(2, 3, 3), rng.standard_normal(3)]),
    "solve_broadcast": (L.solve, [conditioned(2, 1, 2, 2), rng.standard_normal((3, 2, 2))]),
    "solve_rhs_batch_only": (L.solve, [conditioned(3, 3), rng.standard_normal((2, 3, 1))]),
    "inv": (L.inv, [conditioned(2, 3, 3)]),
    "det": (L.det, [conditioned(2, 3, 3)]),
    "logabsdet": (lambda a: L.slogdet(a).logabsdet, [conditioned(2, 3, 3)]),
    "adjugate": (L.adjugate, [conditioned(2, 3, 3)]),
    "pinv_tall": (L.pinv, [conditioned(2, 4, 3)]),
    "pinv_wide": (L.pinv, [conditioned(3, 5)]),
    "pinv_square": (L.pinv, [conditioned(3, 3)]),
    "pinv_hermitian": (lambda a: L.pinv(a, hermitian=True), [lower_symmetric(2, 3, 3)]),
    "inv_times_solve": (lambda a, b: L.inv(a) @ L.solve(L.matrix_transpose(a), b),
                        [conditioned(3, 3), rng.standard_normal((3, 2))]),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVE_CASES))
def test_derivatives_match_finite_differences(name):
    fn, arrays = DERIVATIVE_CASES[name]
    _check_derivatives(fn, arrays)


def test_closed_forms():
    """d logdet = inv(a).mT, d det = det inv(a).mT where invertible; solve(a, a) = I."""
    a = conditioned(2, 3, 3)
    x = sg.variable("a", a.shape)
    g_log, g_det, ident = sg.evaluate(
        [sg.grad(sg.sum(L.slogdet(x).logabsdet), x), sg.grad(sg.sum(L.det(x)), x), L.solve(x, x)],
        {x: a})
    inv_t = np.swapaxes(np.linalg.inv(a), -1, -2)
    np.testing.assert_allclose(g_log, inv_t, rtol=1e-12)
    np.testing.assert_allclose(g_det, np.linalg.det(a)[:, None, None] * inv_t, rtol=1e-12)
    np.testing.assert_allclose(ident, np.broadcast_to(np.eye(3), a.shape), atol=1e-14)


def test_slogdet_sign_has_no_gradient():
    a = conditioned(2, 3, 3)
    x = sg.variable("a", a.shape)
    sign = L.slogdet(x).sign
    g = sg.evaluate(sg.grad(sg.sum(sign * sign) + sg.sum(x), x), {x: a})
    np.testing.assert_array_equal(g, np.ones(a.shape))
    assert sg.jvp(sign, x, sg.constant(np.ones(a.shape))) is not None


# ---------------------------------------------------------------------------
# the determinant at singular matrices
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (2, 3, 3), (2, 2, 4, 4)])
def test_det_gradient_at_rank_n_minus_1_is_the_adjugate(shape):
    n = shape[-1]
    a = of_rank(n - 1, *shape)
    x = sg.variable("a", shape)
    d = L.det(x)
    g, jv = sg.evaluate([sg.grad(sg.sum(d), x), sg.jvp(d, x, sg.constant(np.ones(shape)))], {x: a})
    adj_t = np.swapaxes(cofactor_adjugate(a), -1, -2)
    assert np.abs(adj_t).max() > 0.1  # rank n - 1: the adjugate is not zero
    np.testing.assert_allclose(g, adj_t, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g, numeric_grad(lambda p: float(np.sum(np.linalg.det(p))), a),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(jv, np.sum(adj_t, axis=(-2, -1)), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (2, 4, 4)])
def test_det_gradient_at_rank_n_minus_2_is_zero(shape):
    a = of_rank(shape[-1] - 2, *shape)
    x = sg.variable("a", shape)
    g = sg.evaluate(sg.grad(sg.sum(L.det(x)), x), {x: a})
    np.testing.assert_allclose(g, 0, atol=1e-14)


@pytest.mark.parametrize("shape, rank", [((3, 3), 2), ((2, 4, 4), 3), ((4, 4), 2), ((3, 3), 1)])
def test_det_second_derivative_at_singular_matrices(shape, rank):
    """The Hessian of det is the adjugate's derivative, exact at singular matrices too."""
    a, v = of_rank(rank, *shape), rng.standard_normal(shape)
    x = sg.variable("a", shape)
    g = sg.grad(sg.sum(L.det(x)), x)
    hf, hr = sg.evaluate([sg.hvp(sg.sum(L.det(x)), x, v),
                          sg.hvp(sg.sum(L.det(x)), x, v, mode="rev")], {x: a})
    want = numeric_grad(lambda p: float(np.sum(sg.evaluate(g, {x: p}) * v)), a)
    np.testing.assert_allclose(hf, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hr, want, rtol=1e-6, atol=1e-7)


def test_det_gradient_of_1x1_is_one():
    a = np.array([[[0.0]], [[2.5]], [[-1.0]]])
    x = sg.variable("a", a.shape)
    f = sg.sum(L.det(x))
    g, h = sg.evaluate([sg.grad(f, x), sg.hvp(f, x, np.ones(a.shape))], {x: a})
    np.testing.assert_array_equal(g, np.ones(a.shape))
    np.testing.assert_array_equal(h, np.zeros(a.shape))


def test_adjugate_tangent_matches_the_textbook_form_and_differences():
    from solve_cases import np_adjugate_tangent

    a, e = conditioned(2, 4, 4), rng.standard_normal((2, 4, 4))
    got = sg.evaluate(AdjugateTangent()(sg.constant(a), sg.constant(e)))
    np.testing.assert_allclose(got, np_adjugate_tangent(a, e), rtol=1e-11, atol=1e-12)
    s = of_rank(2, 4, 4)  # at a singular matrix: against differences of the cofactor adjugate
    e = rng.standard_normal((4, 4))
    got = sg.evaluate(AdjugateTangent()(sg.constant(s), sg.constant(e)))
    eps = 1e-6
    fd = (cofactor_adjugate(s + eps * e) - cofactor_adjugate(s - eps * e)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-8)


def test_third_derivative_of_det_where_invertible():
    a, v, w = conditioned(3, 3), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    x = sg.variable("a", a.shape)
    hv = sg.hvp(sg.linalg.det(x), x, v)
    third = sg.grad(sg.sum(hv * w), x)
    want = numeric_grad(lambda p: float(np.sum(sg.evaluate(hv, {x: p}) * w)), a)
    np.testing.assert_allclose(sg.evaluate(third, {x: a}), want, rtol=1e-6, atol=1e-7)
    # the documented limit: beyond second order the rule solves with a, so an exactly
    # singular matrix is an EvaluationError naming the solve (orders 1 and 2 are exact there)
    with pytest.raises(EvaluationError, match=r"node #\d+ solve.*Singular"):
        sg.evaluate(third, {x: np.diag([1.0, 2.0, 0.0])})
    assert np.all(np.isfinite(sg.evaluate(hv, {x: np.diag([1.0, 2.0, 0.0])})))


# ---------------------------------------------------------------------------
# compiled code, save/load, dask, sympy, numpy dispatch
# ---------------------------------------------------------------------------

def _family(x, b):
    sign, logdet = L.slogdet(x)
    return [L.solve(x, b), L.inv(x), L.det(x), L.adjugate(x), sign, logdet, L.pinv(x),
            L.matrix_power(x, 3)]


def test_function_equals_evaluate_and_calls_numpy():
    a, b = conditioned(2, 3, 3), rng.standard_normal(3)
    x, vb = sg.variable("a", a.shape), sg.variable("b", (3,))
    outs = _family(x, vb)
    loss = sg.add_n([sg.sum(o * rng.standard_normal(o.shape)) for o in outs])
    outs += sg.grad(loss, [x, vb]) + [sg.hvp(loss, x, rng.standard_normal(a.shape))]
    fn = sg.function([x, vb], outs)
    for call in ["np.linalg.solve(", "np.linalg.inv(", "np.linalg.det(", "np.linalg.slogdet(",
                 "np.linalg.pinv(", "adjugate_matrices(", "adjugate_tangent_matrices("]:
        assert call in fn.source, call
    for got, want in zip(fn(a, b), sg.evaluate(outs, {x: a, vb: b})):
        # compiled code may fuse steps (BLAS paths, in-place buffers): equal up to rounding
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_save_load_round_trip(tmp_path):
    a, b = conditioned(2, 3, 3), rng.standard_normal(3)
    x, vb = sg.variable("a", a.shape), sg.variable("b", (3,))
    outs = _family(x, vb) + [L.pinv(x, np.array([1e-12, 0.5]), hermitian=True)]
    outs.append(sg.grad(sg.sum(L.det(x)) + sg.sum(outs[-1]), x))
    check_save_load(outs, {x: a, vb: b}, tmp_path / "solve.json")


@pytest.mark.parametrize("shape, chunks", [((3, 3), -1), ((4, 2, 3, 3), (3, 1, 3, 3)),
                                           ((4, 3, 3), (1, 2, 2))])
def test_dask_arrays_give_numpys_values_lazily(shape, chunks):
    da = pytest.importorskip("dask.array")
    a, b = conditioned(*shape), rng.standard_normal(3)
    x, vb = sg.variable("a", shape), sg.variable("b", (3,))
    outs = _family(x, vb)
    outs += sg.grad(sg.sum(L.det(x)) + sg.sum(L.solve(x, vb) ** 2), [x, vb])
    lazy = sg.evaluate(outs, {x: da.from_array(a, chunks=chunks), vb: da.from_array(b)})
    assert all(isinstance(v, da.Array) for v in lazy)
    for got, want in zip(lazy, sg.evaluate(outs, {x: a, vb: b})):
        np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-13)


def test_sympy_agrees_exactly():
    sympy = pytest.importorskip("sympy")
    a = np.array([[2, -1, 0], [1, 3, 1], [0, 2, 4]])
    b = np.array([1, -2, 5])
    m = sympy.Matrix(a.tolist())
    x, vb = sg.variable("a", (3, 3)), sg.variable("b", (3,))
    base, rhs = sympy.IndexedBase("a"), sympy.IndexedBase("b")
    subs = {**{base[i, j]: int(a[i, j]) for i in range(3) for j in range(3)},
            **{rhs[i]: int(b[i]) for i in range(3)}}
    for node, want in [(L.inv(x), m.inv()), (L.det(x), m.det()), (L.adjugate(x), m.adjugate()),
                       (L.solve(x, vb), m.LUsolve(sympy.Matrix(b.tolist()))),
                       (L.inv(x[:2, :2]), m[:2, :2].inv())]:
        expr = sg.to_sympy(node)
        got = expr.xreplace(subs) if hasattr(expr, "xreplace") else expr
        got = sympy.simplify(sympy.Matrix(got) - sympy.Matrix(want)) if node.ndim else \
            sympy.simplify(got - want)
        assert got == sympy.zeros(*got.shape) if node.ndim else got == 0, node
    with pytest.raises(SymgraphError, match="pinv"):
        sg.to_sympy(L.pinv(x))


def test_numpy_dispatch_builds_sg_linalg():
    x, vb = sg.variable("a", (2, 3, 3)), sg.variable("b", (3,))
    assert isinstance(np.linalg.solve(x, vb).op, Solve)
    assert isinstance(np.linalg.solve(x, x).op, Solve)
    assert isinstance(np.linalg.inv(x).op, Inv)
    assert isinstance(np.linalg.det(x).op, Det)
    sign, logdet = np.linalg.slogdet(x)
    assert isinstance(sign.op, Slogdet) and logdet.op.part == "logabsdet"
    assert isinstance(np.linalg.pinv(x, rtol=None).op, Pinv)
    assert np.linalg.matrix_power(x, 2).op.name == "matmul"
    assert isinstance(L.adjugate(x).op, Adjugate)


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["inv", "det", "adjugate", "slogdet", "matrix_power"])
def test_non_square_matrices_are_refused(name):
    fn = getattr(L, name)
    args = (2,) if name == "matrix_power" else ()
    with pytest.raises(ShapeError, match=r"square.*\(2, 3, 4\)"):
        fn(sg.variable("a", (2, 3, 4)), *args)
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        fn(sg.variable("v", (3,)), *args)


def test_solve_refusals():
    a = sg.variable("a", (2, 3, 3))
    with pytest.raises(ShapeError, match=r"square.*\(3, 2\)"):
        L.solve(sg.variable("r", (3, 2)), np.ones(3))
    with pytest.raises(ShapeError, match=r"b of shape \(4,\).*\(2, 3, 3\)"):
        L.solve(a, np.ones(4))
    with pytest.raises(ShapeError, match=r"b of shape \(2, 3\)"):  # numpy 2: a matrix of 2 rows
        L.solve(a, np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"\(2, 3, 3\) and b \(4, 3, 1\)"):
        L.solve(a, np.ones((4, 3, 1)))
    with pytest.raises(ShapeError, match=r"b of shape \(\)"):
        L.solve(a, 1.0)
    with pytest.raises(DTypeError, match="complex"):
        L.solve(sg.variable("z", (2, 2), "complex128"), np.ones(2))
    with pytest.raises(DTypeError, match="float16"):
        L.inv(sg.variable("h", (2, 2), "float16"))


def test_pinv_refusals():
    x = sg.variable("a", (2, 3, 4))
    with pytest.raises(SymgraphError, match="rtol and rcond"):
        L.pinv(x, 0.1, rtol=0.1)
    with pytest.raises(ShapeError, match=r"rcond of shape \(3,\)"):
        L.pinv(x, np.ones(3))
    with pytest.raises(ShapeError, match=r"square.*\(2, 3, 4\)"):
        L.pinv(x, hermitian=True)
    with pytest.raises(SymgraphError, match="not a node"):
        L.pinv(x, sg.constant(0.1))
    with pytest.raises(SymgraphError, match="hermitian"):
        L.pinv(x, hermitian="yes")
    with pytest.raises(SymgraphError, match="part"):
        Slogdet("det")(sg.variable("s", (2, 2)))


SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("build", [lambda a, b: L.solve(a, b), lambda a, b: L.inv(a) + b,
                                   lambda a, b: L.matrix_power(a, -2) + b])
def test_singular_matrices_fail_clearly_at_run_time(build):
    a, b = sg.variable("a", (2, 2)), sg.variable("b", (2,))
    y = build(a, b)
    with pytest.raises(EvaluationError, match=r"node #\d+ (solve|inv).*Singular matrix"):
        sg.evaluate(y, {a: SINGULAR, b: np.ones(2)})
    fn = sg.function([a, b], y)
    with pytest.raises(EvaluationError,
                       match=r"compiled function .*node #\d+ (solve|inv).*Singular"):
        fn(SINGULAR, np.ones(2))
    # det, the adjugate and slogdet are defined there: no error
    d, adj, (sign, logdet) = sg.evaluate([L.det(a), L.adjugate(a), L.slogdet(a)], {a: SINGULAR})
    assert d == 0 and sign == 0 and logdet == -np.inf
    np.testing.assert_allclose(adj, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)


def test_named_results_come_back_named():
    """Evaluating (or compiling) a SlogdetResult gives numpy's named tuple shape of arrays."""
    a = conditioned(2, 3, 3)
    x = sg.variable("a", a.shape)
    for got in (sg.evaluate(L.slogdet(x), {x: a}), sg.function([x], L.slogdet(x))(a)):
        assert isinstance(got, L.SlogdetResult)
        np.testing.assert_array_equal(got.sign, np.linalg.slogdet(a).sign)
        np.testing.assert_array_equal(got.logabsdet, np.linalg.slogdet(a).logabsdet)
