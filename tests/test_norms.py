"""norm: numpy.linalg.norm's values, shapes, dtypes and errors; derivatives; the gradient at 0.

The matrix 2-, -2- and nuclear norms need ``symgraph.ops.linalg.svdvals``
(another branch): their wiring is checked here with a numpy-backed stand-in,
and their values and gradients with the real one once it is present.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.ops.linalg as linalg
from symgraph.errors import ShapeError, SymgraphError
from symgraph.ops.base import Op
from symgraph.testing import check_grads

rng = np.random.default_rng(11)

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2, 2.0]
MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]
SVD_ORDS = [2, -2, "nuc"]

needs_svdvals = pytest.mark.skipif(not hasattr(linalg, "svdvals"),
                                   reason="svdvals comes from another branch (symgraph/ops/linalg.py)")


def sample(shape, dtype="float64"):
    v = rng.uniform(0.3, 1.5, shape) * rng.choice([-1, 1], shape)
    if dtype == "complex128":
        return v + 1j * rng.uniform(-1, 1, shape)
    if np.dtype(dtype).kind in "iub":
        return np.round(v * 2).astype(dtype)
    return v.astype(dtype)


def run(v, *args, **kwargs):
    x = sg.variable("x", v.shape, v.dtype)
    node = sg.norm(x, *args, **kwargs)
    return sg.evaluate(node, {x: v}), node


def assert_like_numpy(v, *args, **kwargs):
    want = np.asarray(np.linalg.norm(v, *args, **kwargs))
    got, node = run(v, *args, **kwargs)
    assert got.shape == want.shape == node.shape, (args, kwargs)
    assert got.dtype == want.dtype == node.dtype, (args, kwargs)
    np.testing.assert_allclose(got, want, rtol=2e-6 if want.dtype == np.float32 else 1e-12,
                               err_msg=str((args, kwargs)))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool", "complex128"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_vector_norms_match_numpy(shape, dtype):
    v = sample(shape, dtype)
    v.flat[1] = 0  # ord 0 counts, negative ords see the zero
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 ** negative, as numpy
        for ord, keepdims in itertools.product(VECTOR_ORDS, [False, True]):
            for axis in [0, -1] + ([(1,)] if len(shape) > 1 else []):
                assert_like_numpy(v, ord, axis, keepdims)
            if len(shape) == 1:
                assert_like_numpy(v, ord, None, keepdims)
        assert_like_numpy(v)  # the 2-norm of the flattened array, any rank
        assert_like_numpy(v, keepdims=True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "complex128"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_matrix_norms_match_numpy(shape, dtype):
    v = sample(shape, dtype)
    axes = [None] if len(shape) == 2 else []
    axes += [(0, 1), (1, 0), (-1, 0), (0, -1)]
    for ord, axis, keepdims in itertools.product(MATRIX_ORDS, axes, [False, True]):
        assert_like_numpy(v, ord, axis, keepdims)


def test_list_operands_are_stacked():
    x = sg.variable("x", (3,))
    v = sample((3,))
    got = sg.evaluate(sg.norm([x, 2 * x], axis=1), {x: v})
    np.testing.assert_allclose(got, np.linalg.norm([v, 2 * v], axis=1))


def test_errors_follow_numpy():
    x, cube = sg.variable("x", (3, 4)), sg.variable("c", (2, 3, 4))
    with pytest.raises(SymgraphError, match="invalid norm order 'fro' for vectors"):
        sg.norm(x, "fro", axis=1)
    with pytest.raises(SymgraphError, match="for matrices"):
        sg.norm(x, 3)
    with pytest.raises(SymgraphError, match="for matrices"):
        sg.norm(x, "bogus", axis=(0, 1))
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        sg.norm(cube, 1)
    with pytest.raises(ShapeError, match="3 axes"):
        sg.norm(cube, axis=(0, 1, 2))
    with pytest.raises(SymgraphError, match="repeated axis"):
        sg.norm(x, axis=(1, -1))
    with pytest.raises(SymgraphError, match="axis must be"):
        sg.norm(x, axis=[0, 1])
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.norm(x, axis=2)


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 3, 0.5, -1.5])
def test_vector_norm_gradients(ord):
    v = sample((3, 4))  # no zeros, no ties of |x| at the max/min
    check_grads(lambda a: sg.norm(a, ord, axis=-1), [v], order=2)
    check_grads(lambda a: sg.norm(a, ord, axis=0, keepdims=True), [v], order=2)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_gradients(ord):
    v = sample((2, 3, 4))
    check_grads(lambda a: sg.norm(a, ord, axis=(2, 1)), [v], order=2)


def test_count_of_nonzeros_has_zero_gradient():
    x = sg.variable("x", (4,))
    v = np.array([1.0, 0.0, -2.0, 3.0])
    n0 = sg.norm(x, 0)
    value, g = sg.evaluate([n0, sg.grad(n0, x)], {x: v})
    assert value == 3.0
    np.testing.assert_array_equal(g, 0.0)


def test_gradient_at_zero_is_nan_like_jax_and_the_safe_idioms_are_finite():
    """jax.grad(jnp.linalg.norm)(zeros) is NaN (jax issue #21723, "working as intended")."""
    x = sg.variable("x", (3,))
    zero = np.zeros(3)
    sq = sg.sum(x ** 2)
    safe = sg.where(sq > 0, sq, 1)
    double_where = sg.where(sq > 0, sg.sqrt(safe), 0)
    smooth = sg.sqrt(sq + 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = sg.evaluate([sg.grad(sg.norm(x), x), sg.grad(sg.norm(x, 3), x),
                             sg.grad(sg.norm(sg.reshape(x, (1, 3)), "fro"), x)], {x: zero})
        safe_grads = sg.evaluate([sg.grad(double_where, x), sg.grad(smooth, x)], {x: zero})
    for g in plain:
        assert np.isnan(g).all()
    for g in safe_grads:
        np.testing.assert_array_equal(g, 0.0)
    # ord 1 and inf stay finite at 0 (abs's derivative there is taken as 0)
    for ord in (1, np.inf):
        np.testing.assert_array_equal(sg.evaluate(sg.grad(sg.norm(x, ord), x), {x: zero}), 0.0)


# ---------------------------------------------------------------------------
# ord 2, -2, 'nuc': singular values
# ---------------------------------------------------------------------------

class StandInSvdvals(Op):
    """Singular values by numpy (no derivative): checks how norm wires svdvals in."""

    name = "stand_in_svdvals"

    def infer(self, x):
        return x.shape[:-2] + (min(x.shape[-2:]),), x.dtype

    def f(self, x):
        return np.linalg.svd(x, compute_uv=False)


@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3)])
def test_singular_value_norms_wiring(shape, monkeypatch):
    monkeypatch.setattr(linalg, "svdvals", lambda x: StandInSvdvals()(x), raising=False)
    v = sample(shape)
    axes = [None] if len(shape) == 2 else []
    axes += [(0, 1), (1, 0), (-2, -1), (0, 2)][:3 if len(shape) == 2 else 4]
    for ord, axis, keepdims in itertools.product(SVD_ORDS, axes, [False, True]):
        assert_like_numpy(v, ord, axis, keepdims)


@needs_svdvals
@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3)])
def test_singular_value_norms_match_numpy(shape):
    v = sample(shape)
    axes = [None] if len(shape) == 2 else [(1, 2), (2, 0)]
    for ord, axis, keepdims in itertools.product(SVD_ORDS, axes, [False, True]):
        assert_like_numpy(v, ord, axis, keepdims)


@needs_svdvals
@pytest.mark.parametrize("ord", SVD_ORDS)
def test_singular_value_norm_gradients(ord):
    v = sample((2, 3, 4))  # distinct singular values almost surely
    check_grads(lambda a: sg.norm(a, ord, axis=(1, 2)), [v], order=2)
    x = sg.variable("x", (3, 4))
    g = sg.evaluate(sg.grad(sg.norm(x, "nuc"), x), {x: v[0]})
    u, _, vt = np.linalg.svd(v[0], full_matrices=False)
    np.testing.assert_allclose(g, u @ vt, rtol=1e-10, atol=1e-12)  # d||X||_* = U V^T


def test_dask_arrays():
    da = pytest.importorskip("dask.array")
    v = sample((3, 4))
    x = sg.variable("x", (3, 4))
    outs = [sg.norm(x), sg.norm(x, 1, axis=0), sg.norm(x, -np.inf), sg.norm(x, 3, axis=1),
            sg.norm(x, 0, axis=1, keepdims=True)]
    outs.append(sg.grad(sg.sum(outs[0] + outs[2]), x))
    lazy = sg.evaluate(outs, {x: da.from_array(v, chunks=2)})
    for got, want in zip(lazy, sg.evaluate(outs, {x: v})):
        np.testing.assert_allclose(got.compute(scheduler="synchronous"), want, rtol=1e-12)
