"""The symmetric eigendecomposition: values as numpy's, derivatives to third order.

``sg.linalg.eigh`` and ``eigvalsh`` against ``np.linalg`` (stacks, float32,
integers, either triangle, empty matrices), their refusals, closed-form
derivatives (the trace, the squared Frobenius norm, the reconstruction
``v diag(w) v^T``), the unread triangle (gradient zero, as finite differences
on a non-symmetric input say), gauge-invariant functions in both modes at
orders 1 to 3 against finite differences (also next to a near tie), and the
other doors: compiled code, save/load, dask.  Eigenvectors are looked at only
through functions a sign flip cannot change (see ``eigen_cases``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import symgraph as sg
from conftest import (OpaqueArray, check_dask_matches_numpy, check_float32_gradients,
                      check_orders_one_and_two, check_save_load, check_third_order)
from eigen_cases import lopsided, matrix_function, projector, separated, with_eigenvalues
from symgraph.errors import BackendError, DTypeError, ShapeError, SymgraphError
from symgraph.ops.eigen import Eigh, EighResult

rng = np.random.default_rng(5)

SHAPES = [(3, 3), (2, 4, 4), (2, 1, 3, 3), (1, 1)]


def _sym(a: np.ndarray, lower: bool) -> np.ndarray:
    """The symmetric matrices the ``lower`` (or upper) triangle of ``a`` stands for."""
    t = np.tril(a) if lower else np.triu(a)
    return t + np.swapaxes(t, -1, -2) - t * np.eye(a.shape[-1])


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_values_are_numpys(shape, dtype, uplo):
    a = rng.standard_normal(shape).astype(dtype)
    x = sg.variable("x", shape, dtype)
    w, v = sg.linalg.eigh(x, UPLO=uplo)
    got_w, got_v = sg.evaluate([w, v], {x: a})
    nw, nv = np.linalg.eigh(a, UPLO=uplo)
    for node, got, want in [(w, got_w, nw), (v, got_v, nv)]:
        assert node.shape == got.shape == want.shape and node.dtype == got.dtype == want.dtype == dtype
        np.testing.assert_array_equal(got, want)
    assert w.inputs[0] is v.inputs[0]  # one factorization, one LAPACK call
    # eigvalsh is LAPACK's values-only driver, as np.linalg.eigvalsh: equal up to rounding
    got_values = sg.evaluate(sg.linalg.eigvalsh(x, UPLO=uplo), {x: a})
    np.testing.assert_array_equal(got_values, np.linalg.eigvalsh(a, UPLO=uplo))
    np.testing.assert_allclose(got_values, nw, rtol=0, atol=20 * np.finfo(dtype).eps * (1 + abs(nw).max()))


def test_result_is_a_named_tuple():
    x = sg.variable("x", (3, 3))
    res = sg.linalg.eigh(x)
    assert isinstance(res, EighResult) and res._fields == ("eigenvalues", "eigenvectors")
    assert res.eigenvalues is res[0] and res.eigenvectors is res[1]
    assert sg.linalg.EighResult is EighResult
    assert np.linalg.eigh(x).eigenvalues is res.eigenvalues  # numpy's function builds sg.linalg's


@pytest.mark.parametrize("uplo", ["L", "U", "l", "u"])
def test_only_one_triangle_is_read(uplo):
    lower = uplo.upper() == "L"
    a = lopsided(2, 4, 4, lower=lower)
    x = sg.variable("x", a.shape)
    w, v = sg.linalg.eigh(x, UPLO=uplo)
    got = sg.evaluate([w, v], {x: a})
    want = sg.evaluate([w, v], {x: _sym(a, lower)})
    for g, h in zip(got, want):
        np.testing.assert_array_equal(g, h)
    np.testing.assert_allclose((got[1] * got[0][..., None, :]) @ np.swapaxes(got[1], -1, -2),
                               _sym(a, lower), atol=1e-12)


def test_eigenvalues_ascend():
    a = rng.standard_normal((5, 4, 4))
    w = sg.evaluate(sg.linalg.eigvalsh(a))
    assert np.all(np.diff(w, axis=-1) >= 0)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integers_give_float64(dtype):
    a = (np.arange(9).reshape(3, 3) % 4).astype(dtype)
    w, v = sg.linalg.eigh(sg.constant(a), UPLO="U")
    assert w.dtype == v.dtype == np.float64
    got_w, got_v = sg.evaluate([w, v])
    np.testing.assert_array_equal(got_w, np.linalg.eigh(a, UPLO="U")[0])
    np.testing.assert_array_equal(got_v, np.linalg.eigh(a, UPLO="U")[1])


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0)])
def test_empty_matrices(shape):
    a = np.zeros(shape)
    x = sg.variable("x", shape)
    w, v = sg.linalg.eigh(x)
    got = sg.evaluate([w, v, *sg.grad(sg.sum(w) + sg.sum(v * v), [x])], {x: a})
    for g, want in zip(got, [*np.linalg.eigh(a), a]):
        assert g.shape == want.shape


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

def test_refusals():
    with pytest.raises(ShapeError, match=r"eigh: .*square.*got shape \(3, 4\)"):
        sg.linalg.eigh(sg.variable("x", (3, 4)))
    with pytest.raises(ShapeError, match=r"eigvalsh: .*square.*got shape \(2, 2, 3\)"):
        sg.linalg.eigvalsh(sg.variable("y", (2, 2, 3)))
    with pytest.raises(ShapeError, match=r"eigh: .*got shape \(4,\)"):
        sg.linalg.eigh(sg.variable("v", (4,)))
    with pytest.raises(ShapeError, match=r"eigh: .*got shape \(2, 3\)"):
        Eigh("w", True)(sg.variable("z", (2, 3)))  # infer checks too (sg.load, rewrites)
    for bad in ["X", "lower", None, 1]:
        with pytest.raises(SymgraphError, match="UPLO must be 'L' or 'U'"):
            sg.linalg.eigh(sg.variable("s", (2, 2)), UPLO=bad)
        with pytest.raises(SymgraphError, match="eigvalsh: UPLO"):
            sg.linalg.eigvalsh(sg.variable("s", (2, 2)), UPLO=bad)
    with pytest.raises(DTypeError, match="complex"):
        sg.linalg.eigh(sg.variable("c", (2, 2), "complex128"))
    with pytest.raises(DTypeError, match="float16"):
        sg.linalg.eigvalsh(sg.variable("h", (2, 2), "float16"))
    with pytest.raises(SymgraphError, match="part"):
        Eigh("u", True)(sg.variable("x", (2, 2)))
    with pytest.raises(SymgraphError, match="lower"):
        Eigh("w", "L")(sg.variable("x", (2, 2)))


def test_describe_names_the_part_and_triangle():
    w, v = sg.linalg.eigh(sg.variable("x", (2, 2)), UPLO="U")
    assert [n.op.describe() for n in (w, v)] == ["eigh_U.w", "eigh_U.v"]
    assert sg.linalg.eigvalsh(w.inputs[1], UPLO="U").op.describe() == "eigh(part='w', lower=False)"


def test_no_sympy_translation():
    pytest.importorskip("sympy")
    with pytest.raises(SymgraphError, match="eigh"):
        sg.to_sympy(sg.linalg.eigvalsh(sg.variable("x", (2, 2))))


# ---------------------------------------------------------------------------
# derivatives in closed form
# ---------------------------------------------------------------------------

def _triangle_weights(n: int, lower: bool) -> np.ndarray:
    """How often each element of the read triangle appears in the symmetric matrix."""
    ones = np.ones((n, n))
    return np.tril(ones) + np.tril(ones, -1) if lower else np.triu(ones) + np.triu(ones, 1)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("tied", [False, True])
def test_trace_and_frobenius_norm(lower, tied):
    """sum(w) is the trace and sum(w**2) the squared Frobenius norm of the symmetric matrix:
    their gradients are the identity and 2 a (strict triangle counted twice, the other zero),
    also where eigenvalues tie (the first derivative of w divides by nothing)."""
    a = with_eigenvalues(np.array([1.0, 1.0, 3.0, -2.0])) if tied else lopsided(4, 4, lower=lower)
    a = np.where(_triangle_weights(4, lower) > 0, a, rng.standard_normal((4, 4)))
    x = sg.variable("x", a.shape)
    w = sg.linalg.eigvalsh(x, UPLO="L" if lower else "U")
    g1, g2 = sg.evaluate([sg.grad(sg.sum(w), x), sg.grad(sg.sum(w * w), x)], {x: a})
    np.testing.assert_allclose(g1, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(g2, 2 * a * _triangle_weights(4, lower), atol=1e-12)


@pytest.mark.parametrize("lower", [True, False])
def test_frobenius_norm_hessian(lower):
    a, t = lopsided(2, 3, 3, lower=lower), rng.standard_normal((2, 3, 3))
    x = sg.variable("x", a.shape)
    f = sg.sum(sg.linalg.eigvalsh(x, UPLO="L" if lower else "U") ** 2)
    hf, hr = sg.evaluate([sg.hvp(f, x, t), sg.hvp(f, x, t, mode="rev")], {x: a})
    want = 2 * _sym(t, lower) * (_triangle_weights(3, lower) > 0) * (2 - np.eye(3))
    np.testing.assert_allclose(hf, want, atol=1e-10)
    np.testing.assert_allclose(hr, want, atol=1e-10)


@pytest.mark.parametrize("lower", [True, False])
def test_reconstruction_is_the_symmetric_matrix(lower):
    """v diag(w) v^T is the symmetric matrix the triangle stands for (linear in a): the rules
    of the two parts must add up exactly, in both modes and at second order."""
    a, r, t = lopsided(2, 3, 3, lower=lower), rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 3))
    x = sg.variable("x", a.shape)
    y = matrix_function(x, lambda w: w, lower)
    g = sg.grad(sg.sum(y * r), x)
    second = sg.grad(sg.sum(g * t), x)
    got = sg.evaluate([y, g, sg.jvp(y, x, sg.constant(t)), second], {x: a})
    mask = _triangle_weights(3, lower) > 0
    np.testing.assert_allclose(got[0], _sym(a, lower), atol=1e-12)
    np.testing.assert_allclose(got[1], (r + np.swapaxes(r, -1, -2) * (1 - np.eye(3))) * mask,
                               atol=1e-10)
    np.testing.assert_allclose(got[2], _sym(t, lower), atol=1e-10)
    np.testing.assert_allclose(got[3], 0, atol=1e-9)


def test_matrix_exponential_is_scipys():
    a = separated(3, 3)
    np.testing.assert_allclose(sg.evaluate(matrix_function(sg.constant(a))), scipy.linalg.expm(a),
                               rtol=1e-12)


# ---------------------------------------------------------------------------
# gauge-invariant functions against finite differences
# ---------------------------------------------------------------------------

def _weighted_values(x, uplo):
    w = sg.linalg.eigvalsh(x, UPLO=uplo)
    return sg.sum(w ** 3 * np.linspace(1.0, 2.0, w.shape[-1]))


def _v_weighted(x, uplo):
    v = sg.linalg.eigh(x, UPLO=uplo).eigenvectors
    return sg.sum(v * v * np.linspace(-1.0, 1.0, v.shape[-1]))


def _expm(x, uplo):
    return sg.sum(matrix_function(x, sg.exp, uplo == "L") * np.arange(x.shape[-1]))


def _projector(x, uplo):
    return sg.sum(sg.sin(projector(x, 2, uplo == "L")))


def _top_two(x, uplo):
    """The sum of the two largest eigenvalues (smooth where they are apart from the rest)."""
    return sg.sum(sg.linalg.eigvalsh(x, UPLO=uplo)[..., -2:])


FUNCTIONS = {"weighted_values": _weighted_values, "v_weighted": _v_weighted, "expm": _expm,
             "projector": _projector, "top_two": _top_two}


def _check_derivatives(f, x, a, rtol, second=True):
    """Orders 1 and 2, both modes, over every element of ``a`` (on a lopsided input, the
    unread triangle too)."""
    return check_orders_one_and_two(f, x, a, rng.standard_normal(a.shape), rtol, second)


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivatives_match_finite_differences(name, shape, uplo):
    a = lopsided(*shape, lower=uplo == "L")
    x = sg.variable("x", shape)
    grad, hv = _check_derivatives(FUNCTIONS[name](x, uplo), x, a, 1e-6)
    unread = np.triu(np.ones(shape[-2:]), 1) if uplo == "L" else np.tril(np.ones(shape[-2:]), -1)
    assert np.all(grad[..., unread > 0] == 0) and np.all(hv[..., unread > 0] == 0)


@pytest.mark.parametrize("gap", [1e-3, 1e-6])
@pytest.mark.parametrize("name", ["expm", "projector", "top_two"])
def test_next_to_a_tie(name, gap):
    """Two eigenvalues ``gap`` apart: v is nearly undefined there, but functions that do not
    care which basis of their (near) eigenspace it picks stay smooth, and so do their
    rules: the large terms 1/(w_j - w_i) cancel.  What is left is rounding, about
    eps/gap at first order and eps/gap**2 at second, so the second order is checked at 1e-3."""
    a = with_eigenvalues(np.array([-1.0, -1.0 + gap, 0.7, 2.0]))
    if name == "top_two":
        a = -a  # the tie at the top: the sum of the two largest eigenvalues is smooth there
    x = sg.variable("x", a.shape)
    _check_derivatives(FUNCTIONS[name](x, "L"), x, a, 1e-5, second=gap > 1e-4)


@pytest.mark.parametrize("name", ["v_weighted", "expm"])
def test_third_order_matches_finite_differences(name):
    x = sg.variable("x", (3, 3))
    check_third_order(FUNCTIONS[name](x, "L"), x, lopsided(3, 3), rng.standard_normal((3, 3)),
                      rng.standard_normal((3, 3)))


def test_float32_gradients_stay_float32():
    check_float32_gradients(lambda x: _v_weighted(x, "L") + _weighted_values(x, "L"),
                            lopsided(2, 3, 3))


# ---------------------------------------------------------------------------
# compiled code, save/load, dask
# ---------------------------------------------------------------------------

def _program(x):
    w, v = sg.linalg.eigh(x, UPLO="U")
    outs = [w, v, sg.grad(_v_weighted(x, "U") + _expm(x, "U"), x)]
    return outs


def test_compiled_code_calls_numpy():
    a = lopsided(2, 3, 3, lower=False)
    x = sg.variable("x", a.shape)
    outs = _program(x)
    fn = sg.function([x], outs)
    assert fn.source.count('np.linalg.eigh(a, UPLO="U")') == 1  # one LAPACK call for w and v
    for got, want in zip(fn(a), sg.evaluate(outs, {x: a})):
        np.testing.assert_array_equal(got, want)


def test_save_load_keeps_the_triangle(tmp_path):
    a = lopsided(3, 3, lower=False)
    x = sg.variable("x", a.shape)
    check_save_load(_program(x), {x: a}, tmp_path / "eigh.json")


@pytest.mark.parametrize("shape, chunks", [((3, 3), -1), ((4, 3, 3), (3, 2, 2)), ((2, 2, 4, 4), (1, 2, 3, 3))])
def test_dask_arrays_give_numpys_values(shape, chunks):
    a = lopsided(*shape, lower=False)
    x = sg.variable("x", shape)
    check_dask_matches_numpy(_program(x), x, a, chunks, atol=1e-13)


def test_a_foreign_array_without_eigh_is_refused():
    with pytest.raises(BackendError, match="eigh"):
        Eigh("v", True).f(OpaqueArray(np.eye(2)))
