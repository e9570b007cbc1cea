"""The singular value decomposition: values as numpy's, derivatives to third order.

``svdvals`` and ``svd_factors`` against ``np.linalg.svd`` (tall, wide, square,
stacks, float32, integers, empty matrices), their refusals, closed-form
derivatives (``sum(s**2)`` is the squared Frobenius norm, the nuclear norm's
gradient is ``u @ vh``, ``u diag(s) vh`` is the identity), Hessian-vector
products in both modes against finite differences, and the other doors:
compiled code, dask, sympy.  u and vh are looked at only through functions
a sign flip of a singular pair cannot change (see ``svd_cases``).
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import OpaqueArray, check_dask_matches_numpy, check_orders_one_and_two, check_third_order
from svd_cases import mT, reconstruct, separated
from symgraph.errors import BackendError, DTypeError, ShapeError, SymgraphError
from symgraph.ops.linalg import Svd, svd_factors

rng = np.random.default_rng(3)

SHAPES = [(4, 3), (3, 5), (3, 3), (2, 4, 3), (2, 1, 2, 4), (1, 1), (5, 1)]


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_values_are_numpys(shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    x = sg.variable("x", shape, dtype)
    u, s, vh = svd_factors(x)
    got = sg.evaluate([u, s, vh], {x: a})
    nu, ns, nvh = np.linalg.svd(a, full_matrices=False)
    for node, g, w in zip([u, s, vh], got, [nu, ns, nvh]):
        assert node.shape == g.shape == w.shape and node.dtype == g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(g, w)
    assert u.inputs[0] is s.inputs[0] is vh.inputs[0]  # one factorization, one LAPACK call
    # svdvals is LAPACK's values-only driver, as np.linalg.svdvals: equal up to rounding
    np.testing.assert_allclose(sg.evaluate(sg.svdvals(x), {x: a}), ns, rtol=10 * np.finfo(dtype).eps)


def test_svdvals_is_numpys_svdvals():
    svdvals = getattr(np.linalg, "svdvals", None)
    if svdvals is None:
        pytest.skip("np.linalg.svdvals needs numpy 2")
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(sg.evaluate(sg.svdvals(a)), svdvals(a), rtol=1e-14)


def test_singular_values_descend_and_rebuild_the_matrix():
    a = rng.standard_normal((3, 5, 4))
    x = sg.variable("x", a.shape)
    s, back = sg.evaluate([sg.svdvals(x), reconstruct(x)], {x: a})
    assert np.all(np.diff(s, axis=-1) <= 0) and np.all(s >= 0)
    np.testing.assert_allclose(back, a, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integers_give_float64(dtype):
    a = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    s = sg.svdvals(sg.constant(a))
    assert s.dtype == np.float64
    np.testing.assert_array_equal(sg.evaluate(s), np.linalg.svd(a, compute_uv=False))


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3)])
def test_empty_matrices(shape):
    a = np.zeros(shape)
    x = sg.variable("x", shape)
    u, s, vh = svd_factors(x)
    loss = sg.sum(s) + sg.sum(u * u) + sg.sum(vh * vh)
    got = sg.evaluate([u, s, vh, *sg.grad(loss, [x])], {x: a})
    for g, w in zip(got, [*np.linalg.svd(a, full_matrices=False), a]):
        assert g.shape == w.shape


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

def test_refusals():
    with pytest.raises(ShapeError, match=r"svdvals: .*matri.*got shape \(3,\)"):
        sg.svdvals(sg.variable("v", (3,)))
    with pytest.raises(ShapeError, match=r"svd: .*got shape \(\)"):
        svd_factors(sg.variable("c", ()))
    with pytest.raises(ShapeError, match=r"svd: .*got shape \(4,\)"):
        Svd("s")(sg.variable("w", (4,)))  # infer checks too (sg.load, rewrites)
    with pytest.raises(DTypeError, match="complex"):
        sg.svdvals(sg.variable("z", (2, 2), "complex128"))
    with pytest.raises(DTypeError, match="float16"):
        sg.svdvals(sg.variable("h", (2, 2), "float16"))
    with pytest.raises(SymgraphError, match="part"):
        Svd("v")(sg.variable("x", (2, 2)))


def test_describe_names_the_part():
    u, s, vh = svd_factors(sg.variable("x", (3, 2)))
    assert [n.op.describe() for n in (u, s, vh)] == ["svd.u", "svd.s", "svd.vh"]
    assert sg.svdvals(u.inputs[1]).op.describe() == "svd(part='s')"


def test_no_sympy_translation():
    pytest.importorskip("sympy")
    with pytest.raises(SymgraphError, match="svd"):
        sg.to_sympy(sg.svdvals(sg.variable("x", (2, 2))))


# ---------------------------------------------------------------------------
# derivatives in closed form
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_frobenius_norm_squared(shape):
    """sum(s**2) = ||a||_F**2: gradient 2a, Hessian 2I, in both modes."""
    a, v = separated(*shape), rng.standard_normal(shape)
    x = sg.variable("x", shape)
    f = sg.sum(sg.svdvals(x) ** 2)
    g, hf, hr = sg.evaluate([sg.grad(f, x), sg.hvp(f, x, v), sg.hvp(f, x, v, mode="rev")], {x: a})
    np.testing.assert_allclose(g, 2 * a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hf, 2 * v, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(hr, 2 * v, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_nuclear_norm_gradient_is_u_vh(shape):
    a = separated(*shape)
    x = sg.variable("x", shape)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(sg.evaluate(sg.grad(sg.sum(sg.svdvals(x)), x), {x: a}), u @ vh,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_reconstruction_is_the_identity(shape):
    """u diag(s) vh = a, so its derivatives are the identity and zero: the rules of the three
    parts must add up exactly, in both modes and at second order."""
    a, r, t = separated(*shape), rng.standard_normal(shape), rng.standard_normal(shape)
    x = sg.variable("x", shape)
    y = reconstruct(x)
    g = sg.grad(sg.sum(y * r), x)
    second = sg.grad(sg.sum(g * t), x)
    got = sg.evaluate([g, sg.jvp(y, x, sg.constant(t)), second], {x: a})
    np.testing.assert_allclose(got[0], r, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[1], t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[2], 0, atol=1e-9)


def test_projection_gradient_is_tangent_to_the_column_space():
    """u u^T depends only on span(a), so moving a within its span (a -> a m) changes nothing."""
    a = separated(5, 3)
    x = sg.variable("x", a.shape)
    u = svd_factors(x)[0]
    m = rng.standard_normal((3, 3))
    tangent = sg.evaluate(sg.jvp(u @ mT(u), x, sg.constant(a @ m)), {x: a})
    np.testing.assert_allclose(tangent, 0, atol=1e-12)


def test_tied_singular_values_leave_the_first_derivative_of_s_finite():
    """At a tie s is not differentiable, but its rule u diag(g) vh divides by nothing: the
    gradient of the nuclear norm at the identity is a subgradient, u @ vh = I."""
    x = sg.variable("x", (3, 3))
    g = sg.evaluate(sg.grad(sg.sum(sg.svdvals(x)), x), {x: np.eye(3)})
    np.testing.assert_allclose(g, np.eye(3), atol=1e-15)


def test_float32_gradients_stay_float32():
    a = separated(2, 4, 3)
    x = sg.variable("x", a.shape, "float32")
    u, s, vh = svd_factors(x)
    f = sg.sum(s ** 2 * np.arange(1.0, 4.0, dtype="float32")) + sg.sum(u * u * 0.5)
    g, h = sg.evaluate([sg.grad(f, x), sg.hvp(f, x, np.ones(a.shape, "float32"))],
                       {x: a.astype("float32")})
    x64 = sg.variable("x64", a.shape)
    u, s, vh = svd_factors(x64)
    f64 = sg.sum(s ** 2 * np.arange(1.0, 4.0)) + sg.sum(u * u * 0.5)
    g64, h64 = sg.evaluate([sg.grad(f64, x64), sg.hvp(f64, x64, np.ones(a.shape))], {x64: a})
    assert g.dtype == h.dtype == np.float32
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(h, h64, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------
# Hessian-vector products against finite differences
# ---------------------------------------------------------------------------

def _weighted_squares(x):
    s = sg.svdvals(x)
    return sg.sum(s ** 2 * np.linspace(1.0, 2.0, s.shape[-1]))


def _nuclear(x):
    return sg.sum(sg.svdvals(x))


def _u_weighted(x):
    u = svd_factors(x)[0]
    return sg.sum(u * u * np.linspace(-1.0, 1.0, u.shape[-1]))


def _vh_weighted(x):
    vh = svd_factors(x)[2]
    return sg.sum(vh * vh * np.linspace(-1.0, 1.0, vh.shape[-1]))


FUNCTIONS = {"weighted_squares": _weighted_squares, "nuclear": _nuclear,
             "u_weighted": _u_weighted, "vh_weighted": _vh_weighted}


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (2, 2, 4)])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivatives_match_finite_differences(name, shape):
    """Order 1 (reverse and forward) and order 2 (forward-over-reverse and
    reverse-over-reverse Hessian-vector products)."""
    x = sg.variable("x", shape)
    check_orders_one_and_two(FUNCTIONS[name](x), x, separated(*shape), rng.standard_normal(shape))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
@pytest.mark.parametrize("name", ["nuclear", "u_weighted"])
def test_third_order_matches_finite_differences(name, shape):
    x = sg.variable("x", shape)
    check_third_order(FUNCTIONS[name](x), x, separated(*shape), rng.standard_normal(shape),
                      rng.standard_normal(shape))


# ---------------------------------------------------------------------------
# compiled code and dask
# ---------------------------------------------------------------------------

def test_compiled_code_calls_numpy():
    a = separated(2, 4, 3)
    x = sg.variable("x", a.shape)
    u, s, vh = svd_factors(x)
    outs = [u, s, vh, sg.grad(_nuclear(x) + _u_weighted(x), x)]
    fn = sg.function([x], outs)
    body = fn.source[fn.source.index("def compiled"):]
    assert body.count("svd_all(") == 1  # u, s and vh (and their rules) from one LAPACK call
    for got, want in zip(fn(a), sg.evaluate(outs, {x: a})):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape, chunks", [((5, 3), -1), ((3, 5), (2, 2)), ((4, 2, 4, 3), (3, 1, 2, 2))])
def test_dask_arrays_give_numpys_values(shape, chunks):
    a = rng.standard_normal(shape)
    x = sg.variable("x", shape)
    u, s, vh = svd_factors(x)
    outs = [u, s, vh, sg.grad(_weighted_squares(x) + _u_weighted(x) + _vh_weighted(x), x)]
    check_dask_matches_numpy(outs, x, a, chunks, atol=1e-14)


def test_a_foreign_array_without_svd_is_refused():
    with pytest.raises(BackendError, match="svd"):
        Svd("s").f(OpaqueArray(np.ones((2, 2))))
