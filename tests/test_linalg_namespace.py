"""The ``sg.linalg`` namespace itself: numpy.linalg's signatures for the functions that are
compositions (svd's flags, the array-API products and norms), numpy dispatch and hints."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad

rng = np.random.default_rng(21)


def _value(out, feed):
    return sg.evaluate(out, feed)


def test_every_public_name_is_documented_and_numpy_dispatches_to_it():
    for name in sg.linalg.__all__:
        obj = getattr(sg.linalg, name)
        assert obj.__doc__ and len(obj.__doc__) > 20, name
        if callable(obj) and not isinstance(obj, type) and hasattr(np.linalg, name):
            # np.linalg.<name>(node) builds sg.linalg.<name> (graph.register_linalg)
            assert sg.graph._linalg.get(name) is obj, name


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
def test_hermitian_svd_is_numpys(shape):
    a = rng.standard_normal(shape)  # numpy reads its lower triangle
    x = sg.variable("x", shape)
    u, s, vh = _value(list(sg.linalg.svd(x, hermitian=True)), {x: a})
    nu, ns, nvh = np.linalg.svd(a, hermitian=True)
    np.testing.assert_allclose(s, ns, rtol=1e-12)
    np.testing.assert_allclose(np.abs(u), np.abs(nu), atol=1e-12)  # columns up to sign
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, (nu * ns[..., None, :]) @ nvh, atol=1e-12)
    np.testing.assert_allclose(_value(sg.linalg.svd(x, compute_uv=False, hermitian=True), {x: a}),
                               np.linalg.svd(a, compute_uv=False, hermitian=True), rtol=1e-12)


def test_hermitian_svd_is_differentiable():
    a = rng.standard_normal((3, 3))
    sg.testing.check_grads(lambda t: sg.sum(sg.linalg.svd(t, hermitian=True).S ** 3), [a])


def test_svd_flags_are_checked():
    x = sg.variable("x", (3, 2))
    with pytest.raises(sg.SymgraphError, match="full_matrices must be True or False"):
        sg.linalg.svd(x, full_matrices="no")
    with pytest.raises(sg.SymgraphError, match="full_matrices=False"):
        np.linalg.svd(x)  # numpy's default pads U with a basis that has no derivative
    u, s, vh = sg.linalg.svd(x, full_matrices=np.False_)
    assert (u.shape, s.shape, vh.shape) == ((3, 2), (2,), (2, 2))
    with pytest.raises(sg.ShapeError, match="square"):
        sg.linalg.svd(x, hermitian=True)


def test_trace_and_diagonal_take_the_last_two_axes():
    a = rng.standard_normal((2, 3, 4))
    x = sg.variable("x", a.shape)
    np.testing.assert_allclose(_value(sg.linalg.trace(x, offset=1), {x: a}),
                               np.linalg.trace(a, offset=1))
    got = _value(sg.linalg.trace(x, dtype=np.float32), {x: a})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.linalg.trace(a, dtype=np.float32), rtol=1e-6)
    np.testing.assert_array_equal(_value(sg.linalg.diagonal(x, offset=-1), {x: a}),
                                  np.linalg.diagonal(a, offset=-1))


def test_products_match_numpy():
    a, b, c = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    x, y, z = (sg.variable(n, v.shape) for n, v in zip("xyz", (a, b, c)))
    feed = {x: a, y: b, z: c}
    np.testing.assert_allclose(_value(sg.linalg.multi_dot([x, y, z]), feed),
                               np.linalg.multi_dot([a, b, c]), rtol=1e-12)
    np.testing.assert_allclose(_value(sg.linalg.outer(z, z), feed), np.linalg.outer(c, c))
    np.testing.assert_allclose(_value(sg.linalg.vecdot(y, z), feed), np.linalg.vecdot(b, c))
    np.testing.assert_array_equal(_value(sg.linalg.matrix_transpose(x), feed), a.T)
    np.testing.assert_array_equal(_value(x.mT, feed), a.T)
    v = rng.standard_normal((2, 3))
    w = sg.variable("w", v.shape)
    np.testing.assert_allclose(_value(sg.linalg.cross(w, w[::-1]), {w: v}),
                               np.linalg.cross(v, v[::-1]))
    with pytest.raises(sg.SymgraphError, match="1-D"):
        sg.linalg.outer(x, z)
    with pytest.raises(sg.SymgraphError, match="length 3 along axis 5"):
        sg.linalg.cross(w, w, axis=5)
    with pytest.raises(ValueError, match="2 dimensions"):
        z.mT


def test_multi_dot_gradient():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, y = sg.variable("x", a.shape), sg.variable("y", b.shape)
    f = sg.sum(sg.sin(sg.linalg.multi_dot([x, x.T, x, y])))
    g = _value(sg.grad(f, x), {x: a, y: b})
    np.testing.assert_allclose(g, numeric_grad(lambda p: float(_value(f, {x: p, y: b})), a),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, hint", [("lstsq", "pinv"), ("eig", "eigh"), ("eigvals", "eigvalsh"),
                                        ("matrix_rank", "svdvals"), ("cond", "svdvals")])
def test_numpy_linalg_functions_without_a_counterpart_say_what_to_use(name, hint):
    x = sg.variable("x", (3, 3))
    args = (x, x) if name == "lstsq" else (x,)
    with pytest.raises(TypeError, match=hint):
        getattr(np.linalg, name)(*args)


def test_a_fed_triangle_is_not_trusted_by_compiled_code():
    """Compiled code multiplies by a computed triangle with trmm (reading one triangle);
    a fed value of that node need not be triangular."""
    x, b = sg.variable("x", (3, 3)), sg.variable("b", (3, 2))
    t = sg.tril(x)
    full, ones = np.arange(1.0, 10.0).reshape(3, 3), np.ones((3, 2))
    for out in (t @ b, t.T @ b, b.T @ t):
        want = sg.evaluate(out, {t: full, b: ones})
        np.testing.assert_allclose(sg.function([t, b], out)(full, ones), want)
    L = sg.linalg.cholesky(x)
    np.testing.assert_allclose(sg.function([L, b], L @ b)(full, ones), full @ ones)


def test_decompositions_of_an_empty_stack():
    """A stack of no matrices (a vectorized batch of length 0) factorizes to empty parts."""
    x = sg.variable("x", (0, 3, 2))
    parts = [sg.linalg.qr(x)[1], sg.linalg.svd(x, full_matrices=False)[1],
             sg.linalg.eigh(x[..., :2, :])[0]]
    empty = np.zeros((0, 3, 2))
    for got in (sg.evaluate(parts, {x: empty}), sg.function([x], parts)(empty)):
        assert [g.shape for g in got] == [(0, 2, 2), (0, 2), (0, 2)]


@pytest.mark.parametrize("ord", [2, 1, np.inf, -np.inf, 3, 0.5])
@pytest.mark.parametrize("axis", [(0, 1), (1, 2), (-1, 0), (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm_over_several_axes_is_one_vector(ord, axis, keepdims):
    """numpy's vector_norm over a tuple of axes flattens them (not a matrix norm)."""
    a = rng.standard_normal((2, 3, 4))
    x = sg.variable("x", a.shape)
    out = sg.linalg.vector_norm(x, axis=axis, ord=ord, keepdims=keepdims)
    expected = np.linalg.vector_norm(a, axis=axis, ord=ord, keepdims=keepdims)
    np.testing.assert_allclose(_value(out, {x: a}), expected, rtol=1e-12)
    if np.isfinite(ord):  # smooth away from ties: check the gradient too
        g = sg.grad(sg.sum(out), x)
        numeric = numeric_grad(lambda v: float(np.sum(np.linalg.vector_norm(
            v, axis=axis, ord=ord))), a)
        np.testing.assert_allclose(_value(g, {x: a}), numeric, rtol=1e-6, atol=1e-8)
