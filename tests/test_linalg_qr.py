"""The QR decomposition: values as numpy's, derivatives to third order.

``sg.linalg.qr`` against ``np.linalg.qr`` (tall, wide, square, stacks,
float32, integers, empty matrices, modes 'reduced', 'r' and 'complete'), its
refusals, closed-form derivatives (``Q R`` is the identity, ``R^T R = a^T a``,
``Q Q^T`` does not move when ``a`` moves within its column span), Q and R and
their sign-free forms in both modes at orders 1 to 3 against finite
differences, the rank-deficient case, and the other doors: compiled code,
save/load, dask.  See ``qr_cases`` for the signs LAPACK picks.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import (OpaqueArray, check_dask_matches_numpy, check_float32_gradients,
                      check_orders_one_and_two, check_save_load, check_third_order)
from qr_cases import full_rank, gram, np_positive, positive, projection, reconstruct
from symgraph.errors import BackendError, DTypeError, ShapeError, SymgraphError
from symgraph.ops.qr import QRResult, Qr

rng = np.random.default_rng(6)

SHAPES = [(4, 3), (3, 5), (3, 3), (2, 4, 3), (2, 1, 2, 4), (1, 1), (5, 1), (1, 4)]


def mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_values_are_numpys(shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    x = sg.variable("x", shape, dtype)
    q, r = sg.linalg.qr(x)
    got = sg.evaluate([q, r, sg.linalg.qr(x, mode="r")], {x: a})
    for node, g, w in zip([q, r, r], got, [*np.linalg.qr(a), np.linalg.qr(a, mode="r")]):
        assert node.shape == g.shape == w.shape and node.dtype == g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got[1], got[2])  # mode='r' is the same R (Q not formed)
    assert q.inputs[0] is r.inputs[0]  # one factorization, one LAPACK call


@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (2, 2, 4), (1, 1)])
def test_complete_mode_where_it_is_the_reduced_one(shape):
    a = rng.standard_normal(shape)
    x = sg.variable("x", shape)
    q, r = sg.linalg.qr(x, mode="complete")
    assert (q, r) == tuple(sg.linalg.qr(x))
    for g, w in zip(sg.evaluate([q, r], {x: a}), np.linalg.qr(a, mode="complete")):
        np.testing.assert_array_equal(g, w)


def test_result_is_a_named_tuple():
    x = sg.variable("x", (4, 3))
    res = sg.linalg.qr(x)
    assert isinstance(res, QRResult) and res._fields == ("Q", "R")
    assert res.Q is res[0] and res.R is res[1] and sg.linalg.QRResult is QRResult
    assert np.linalg.qr(x).R is res.R  # numpy's function builds sg.linalg's


def test_factors_are_orthonormal_and_triangular():
    a = rng.standard_normal((3, 6, 4))
    q, r = sg.evaluate(list(sg.linalg.qr(a)))
    np.testing.assert_allclose(mT(q) @ q, np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-14)
    assert np.all(np.tril(r, -1) == 0)
    np.testing.assert_allclose(q @ r, a, atol=1e-14)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_float32_agrees_with_float64_up_to_signs(shape):
    """numpy (and so symgraph) may pick other signs for float32; the QR with a positive
    diagonal is unique."""
    a = full_rank(*shape)
    for part in ("q", "r"):
        x32 = sg.variable("x32", shape, "float32")
        got = sg.evaluate(positive(x32, part), {x32: a.astype("float32")})
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, np_positive(a, part), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integers_give_float64(dtype):
    a = (np.arange(12).reshape(4, 3) % 5).astype(dtype)
    q, r = sg.linalg.qr(sg.constant(a))
    assert q.dtype == r.dtype == np.float64
    for g, w in zip(sg.evaluate([q, r]), np.linalg.qr(a)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3), (0, 0)])
def test_empty_matrices(shape):
    a = np.zeros(shape)
    x = sg.variable("x", shape)
    q, r = sg.linalg.qr(x)
    got = sg.evaluate([q, r, *sg.grad(sg.sum(q * q) + sg.sum(r), [x])], {x: a})
    for g, w in zip(got, [*np.linalg.qr(a), a]):
        assert g.shape == w.shape


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

def test_refusals():
    with pytest.raises(ShapeError, match=r"qr: .*matri.*got shape \(3,\)"):
        sg.linalg.qr(sg.variable("v", (3,)))
    with pytest.raises(ShapeError, match=r"qr: .*got shape \(\)"):
        Qr("r")(sg.variable("c", ()))  # infer checks too (sg.load, rewrites)
    x = sg.variable("x", (4, 2))
    with pytest.raises(SymgraphError, match=r"mode='complete' on 4x2 .*2 columns .*not a function"):
        sg.linalg.qr(x, mode="complete")
    with pytest.raises(SymgraphError, match="'raw' returns LAPACK's Householder reflectors"):
        sg.linalg.qr(x, mode="raw")
    for mode in ["full", "economic", "e", "f"]:
        with pytest.raises(SymgraphError, match="deprecated"):
            sg.linalg.qr(x, mode=mode)
    for mode in ["bogus", None, 1]:
        with pytest.raises(SymgraphError, match="unrecognized mode"):
            sg.linalg.qr(x, mode=mode)
    with pytest.raises(DTypeError, match="complex"):
        sg.linalg.qr(sg.variable("z", (2, 2), "complex128"))
    with pytest.raises(DTypeError, match="float16"):
        sg.linalg.qr(sg.variable("h", (2, 2), "float16"))
    with pytest.raises(SymgraphError, match="part"):
        Qr("u")(sg.variable("x", (2, 2)))


def test_describe_names_the_part():
    q, r = sg.linalg.qr(sg.variable("x", (3, 2)))
    assert [n.op.describe() for n in (q, r)] == ["qr.q", "qr.r"]
    assert sg.linalg.qr(q.inputs[1], mode="r").op.describe() == "qr(part='r')"


def test_no_sympy_translation():
    pytest.importorskip("sympy")
    with pytest.raises(SymgraphError, match="qr"):
        sg.to_sympy(sg.linalg.qr(sg.variable("x", (2, 2)), mode="r"))


# ---------------------------------------------------------------------------
# derivatives in closed form
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (2, 2, 4)])
def test_reconstruction_is_the_identity(shape):
    """Q R = a, so its derivatives are the identity and zero: the rules of the two parts
    must add up exactly, in both modes and at second order."""
    a, r, t = full_rank(*shape), rng.standard_normal(shape), rng.standard_normal(shape)
    x = sg.variable("x", shape)
    y = reconstruct(x)
    g = sg.grad(sg.sum(y * r), x)
    second = sg.grad(sg.sum(g * t), x)
    got = sg.evaluate([g, sg.jvp(y, x, sg.constant(t)), second], {x: a})
    np.testing.assert_allclose(got[0], r, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[1], t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[2], 0, atol=1e-9)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 2)])
def test_gram_matrix(shape):
    """R^T R = a^T a (tall or square a): its tangent is dA^T a + a^T dA."""
    a, t = full_rank(*shape), rng.standard_normal(shape)
    x = sg.variable("x", shape)
    y = gram(x)
    val, tan = sg.evaluate([y, sg.jvp(y, x, sg.constant(t))], {x: a})
    np.testing.assert_allclose(val, mT(a) @ a, atol=1e-12)
    np.testing.assert_allclose(tan, mT(t) @ a + mT(a) @ t, atol=1e-11)


def test_projection_does_not_move_within_the_column_span():
    """Q Q^T depends only on span(a), so moving a to a (I + m) changes nothing."""
    a = full_rank(5, 3)
    x = sg.variable("x", a.shape)
    tangent = sg.evaluate(sg.jvp(projection(x), x, sg.constant(a @ rng.standard_normal((3, 3)))),
                          {x: a})
    np.testing.assert_allclose(tangent, 0, atol=1e-12)


def test_wide_r_moves_with_the_last_columns_as_q_transposed():
    """For wide a = [x | y], R = [U | Q^T y]: a change of y alone leaves Q and U still."""
    a = full_rank(3, 5)
    t = np.zeros_like(a)
    t[:, 3:] = rng.standard_normal((3, 2))
    x = sg.variable("x", a.shape)
    q, r = sg.linalg.qr(x)
    dq, dr, qv = sg.evaluate([sg.jvp(q, x, sg.constant(t)), sg.jvp(r, x, sg.constant(t)), q], {x: a})
    np.testing.assert_allclose(dq, 0, atol=1e-14)
    np.testing.assert_allclose(dr[:, :3], 0, atol=1e-14)
    np.testing.assert_allclose(dr[:, 3:], qv.T @ t[:, 3:], atol=1e-14)


# ---------------------------------------------------------------------------
# Hessian-vector products against finite differences
# ---------------------------------------------------------------------------

def _q_weighted(x):
    q = sg.linalg.qr(x).Q
    return sg.sum(sg.sin(q) * np.linspace(-1.0, 1.0, q.shape[-1]))


def _r_weighted(x):
    r = sg.linalg.qr(x, mode="r")
    return sg.sum(r * r * r * np.linspace(1.0, 2.0, r.shape[-1]))


def _both(x):
    q, r = sg.linalg.qr(x)
    return sg.sum(sg.tanh(q @ r[..., :, :1] * 0.3)) + sg.sum(r * sg.linalg.matrix_transpose(q)[..., :, :1])


def _positive_q(x):
    return sg.sum(positive(x, "q") ** 3)


FUNCTIONS = {"q_weighted": _q_weighted, "r_weighted": _r_weighted, "both": _both,
             "positive_q": _positive_q}


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (2, 2, 4), (1, 3), (3, 1)])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivatives_match_finite_differences(name, shape):
    """Order 1 (reverse and forward) and order 2 (forward-over-reverse and
    reverse-over-reverse Hessian-vector products)."""
    x = sg.variable("x", shape)
    check_orders_one_and_two(FUNCTIONS[name](x), x, full_rank(*shape), rng.standard_normal(shape))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
@pytest.mark.parametrize("name", ["q_weighted", "both"])
def test_third_order_matches_finite_differences(name, shape):
    x = sg.variable("x", shape)
    check_third_order(FUNCTIONS[name](x), x, full_rank(*shape), rng.standard_normal(shape),
                      rng.standard_normal(shape))


def test_float32_gradients_stay_float32():
    check_float32_gradients(lambda x: _positive_q(x) + sg.sum(gram(x) * 0.5), full_rank(2, 4, 3))


def test_rank_deficient_input_stops_the_derivative():
    """A zero on R's diagonal: Q is not a function of a there, and the rule's triangular
    solve says so (values are still numpy's)."""
    a = np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    x = sg.variable("x", a.shape)
    q, r = sg.linalg.qr(x)
    for got, want in zip(sg.evaluate([q, r], {x: a}), np.linalg.qr(a)):
        np.testing.assert_array_equal(got, want)
    g = sg.grad(sg.sum(q), x)
    with pytest.raises(sg.EvaluationError, match="solve_triangular.*singular"):
        sg.evaluate(g, {x: a})
    with pytest.raises(sg.EvaluationError, match="compiled function .*solve_triangular.*singular"):
        sg.function([x], [g])(a)


# ---------------------------------------------------------------------------
# compiled code, save/load, dask
# ---------------------------------------------------------------------------

def _program(x):
    q, r = sg.linalg.qr(x)
    return [q, r, sg.grad(_both(x) + _q_weighted(x), x)]


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_compiled_code_calls_numpy(shape):
    a = full_rank(*shape)
    x = sg.variable("x", a.shape)
    outs = _program(x)
    fn = sg.function([x], outs)
    assert fn.source.count("np.linalg.qr(") == 1  # one LAPACK call for q and r
    assert "solve_triangular" in fn.source
    for got, want in zip(fn(a), sg.evaluate(outs, {x: a})):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_save_load_round_trip(tmp_path):
    a = full_rank(2, 3, 4)
    x = sg.variable("x", a.shape)
    check_save_load(_program(x), {x: a}, tmp_path / "qr.json")


@pytest.mark.parametrize("shape, chunks", [((5, 3), -1), ((3, 5), (2, 2)), ((4, 2, 4, 3), (3, 1, 2, 2))])
def test_dask_arrays_give_numpys_values(shape, chunks):
    a = full_rank(*shape)
    x = sg.variable("x", shape)
    check_dask_matches_numpy(_program(x), x, a, chunks, atol=1e-13)


def test_a_foreign_array_without_qr_is_refused():
    with pytest.raises(BackendError, match="qr"):
        Qr("q").f(OpaqueArray(np.eye(2)))
