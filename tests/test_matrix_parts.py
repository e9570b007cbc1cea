"""diagonal, diag, trace, triu, tril against numpy: shapes, offsets, axes, dtypes, errors,
derivatives to second order, compiled code, dask and sympy."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import evaluated_and_compiled
from symgraph.errors import ShapeError, SymgraphError
from symgraph.ops.matrix_parts import DiagEmbed, Diagonal, diagonal_length

rng = np.random.default_rng(11)

SHAPES_AXES = [((3, 4), 0, 1), ((4, 3), 1, 0), ((2, 3, 4), 0, 2), ((2, 3, 4), 2, 0),
               ((2, 3, 4), -1, -2), ((2, 1, 3, 2), 1, 3), ((2, 1, 3, 2), -4, 2), ((0, 3), 0, 1)]
OFFSETS = [-5, -2, -1, 0, 1, 3, 6]



# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis1, axis2", SHAPES_AXES)
@pytest.mark.parametrize("offset", OFFSETS)
def test_diagonal_and_trace_match_numpy(shape, axis1, axis2, offset):
    a = rng.standard_normal(shape)
    x = sg.variable("x", shape)
    d, t = evaluated_and_compiled([sg.diagonal(x, offset, axis1, axis2),
                                   sg.trace(x, offset, axis1, axis2)], {x: a})
    want = np.diagonal(a, offset, axis1, axis2)
    assert d.shape == want.shape
    np.testing.assert_array_equal(d, want)
    np.testing.assert_allclose(t, np.trace(a, offset, axis1, axis2), rtol=1e-14)


def test_diagonal_defaults_and_keywords():
    a = rng.standard_normal((3, 4))
    x = sg.variable("x", a.shape)
    np.testing.assert_array_equal(sg.evaluate(sg.diagonal(x), {x: a}), np.diagonal(a))
    np.testing.assert_array_equal(sg.evaluate(sg.diagonal(x, axis1=1, axis2=0, offset=-1), {x: a}),
                                  np.diagonal(a, axis1=1, axis2=0, offset=-1))


@pytest.mark.parametrize("n, k", [(3, 0), (3, 2), (3, -1), (1, -3), (0, 0), (0, 2)])
def test_diag_of_a_vector_matches_numpy(n, k):
    a = rng.standard_normal(n)
    v = sg.variable("v", (n,))
    (got,) = evaluated_and_compiled([sg.diag(v, k)], {v: a})
    np.testing.assert_array_equal(got, np.diag(a, k))


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 4])
def test_diag_of_a_matrix_matches_numpy(k):
    a = rng.standard_normal((3, 4))
    m = sg.variable("m", a.shape)
    (got,) = evaluated_and_compiled([sg.diag(m, k)], {m: a})
    np.testing.assert_array_equal(got, np.diag(a, k))


@pytest.mark.parametrize("fn", [sg.triu, sg.tril])
@pytest.mark.parametrize("shape", [(3,), (3, 4), (4, 3), (2, 3, 4), (2, 1, 2, 3), (0, 2)])
@pytest.mark.parametrize("k", [-4, -1, 0, 1, 2])
def test_triangles_match_numpy(fn, shape, k):
    a = rng.standard_normal(shape)
    x = sg.variable("x", shape)
    (got,) = evaluated_and_compiled([fn(x, k)], {x: a})
    want = getattr(np, fn.__name__)(a, k)
    assert got.shape == want.shape  # a vector is repeated into a square matrix, as numpy does
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fn", [sg.triu, sg.tril])
def test_triangles_give_exact_zeros_where_the_input_is_not_finite(fn):
    a = np.full((3, 3), np.inf)
    a[1, 0] = a[0, 1] = np.nan
    x = sg.variable("x", a.shape)
    got = sg.evaluate(fn(x), {x: a})
    np.testing.assert_array_equal(got, getattr(np, fn.__name__)(a))  # no nan from 0 * inf


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool"])
def test_dtypes_are_numpys(dtype):
    a = (rng.standard_normal((2, 3, 3)) * 3).astype(dtype)
    x = sg.variable("x", a.shape, dtype)
    cases = [(sg.diagonal(x, 1, 1, 2), np.diagonal(a, 1, 1, 2)), (sg.trace(x, 0, 2, 1),
             np.trace(a, 0, 2, 1)), (sg.triu(x, -1), np.triu(a, -1)), (sg.tril(x), np.tril(a)),
             (sg.diag(sg.diagonal(x[0])), np.diag(np.diag(a[0])))]
    got = evaluated_and_compiled([c for c, _ in cases], {x: a})
    for node, value, (_, want) in zip([c for c, _ in cases], got, cases):
        assert node.dtype == want.dtype, node
        np.testing.assert_array_equal(value, want)


def test_diagonal_length_counts_like_numpy():
    for rows in range(4):
        for cols in range(4):
            for offset in range(-5, 6):
                assert diagonal_length(rows, cols, offset) == np.diagonal(
                    np.zeros((rows, cols)), offset).shape[0]


# ---------------------------------------------------------------------------
# views and compiled code
# ---------------------------------------------------------------------------

def test_compiled_code_never_writes_into_a_diagonal_view():
    a = rng.standard_normal((3, 3))
    keep = a.copy()
    x = sg.variable("x", a.shape)
    d = sg.diagonal(x)
    y = sg.exp(d) * 2.0 + d
    f = sg.function([x], [y, sg.grad(sg.sum(y * y), x)])
    got = f(a)
    np.testing.assert_array_equal(a, keep)  # the fed array is untouched
    np.testing.assert_allclose(got[0], np.exp(np.diag(keep)) * 2 + np.diag(keep))
    z = sg.diagonal(sg.exp(x), 1) + 1.0  # a diagonal of an internal value
    np.testing.assert_allclose(sg.function([x], z)(a), np.diagonal(np.exp(a), 1) + 1.0)
    assert Diagonal(0, 0, 1).emits_view()


def test_diagonal_of_a_diagonal():
    a = rng.standard_normal((3, 4, 4))
    x = sg.variable("x", a.shape)
    y = sg.diagonal(sg.diagonal(x, 0, 1, 2)[None], 0, 1, 2)  # (1, 3, 4) -> (1, 3)
    np.testing.assert_array_equal(sg.function([x], y)(a), np.diagonal(np.diagonal(a, 0, 1, 2)[None],
                                                                      0, 1, 2))


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn, shape", [
    (lambda a: sg.diagonal(a * a, 1, 2, 0), (2, 3, 4)),
    (lambda a: sg.diagonal(sg.sin(a), -2, -1, -3), (3, 2, 4)),
    (lambda a: sg.diag(sg.tanh(a), -2), (3,)),
    (lambda a: sg.diag(a * a, 1), (3, 4)),
    (lambda a: sg.trace(a @ a), (3, 3)),
    (lambda a: sg.trace(sg.exp(a), 1, 0, 2), (3, 2, 4)),
    (lambda a: sg.triu(a * a, 1), (2, 3, 4)),
    (lambda a: sg.tril(sg.sin(a), -1), (4,)),
])
def test_derivatives_match_finite_differences_to_second_order(fn, shape):
    sg.testing.check_grads(fn, rng.standard_normal(shape), order=2)


@pytest.mark.parametrize("shape, offset, axis1, axis2", [
    ((3, 4), 1, 0, 1), ((2, 4, 3), -1, 2, 1), ((2, 3, 2, 2), 0, 3, 0), ((2, 2), 5, 1, 0)])
def test_diagonal_and_diag_embed_are_adjoint(shape, offset, axis1, axis2):
    a = rng.standard_normal(shape)
    d = np.diagonal(a, offset, axis1, axis2)
    g = rng.standard_normal(d.shape)
    embed = DiagEmbed(shape, offset, axis1, axis2)
    gv = sg.constant(g)
    full = sg.evaluate(embed(gv))
    np.testing.assert_array_equal(np.diagonal(full, offset, axis1, axis2), g)
    assert np.count_nonzero(full) == np.count_nonzero(g)  # zeros everywhere else
    np.testing.assert_allclose(np.vdot(d, g), np.vdot(a, full), rtol=1e-12)
    np.testing.assert_array_equal(sg.function([], embed(gv))(), full)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_errors_name_the_problem():
    x3, x2, x1 = sg.variable("x3", (2, 3, 4)), sg.variable("x2", (2, 3)), sg.variable("x1", (3,))
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        sg.diagonal(x1)
    with pytest.raises(SymgraphError, match="cannot be the same"):
        sg.diagonal(x3, 0, 1, -2)
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.diagonal(x3, 0, 0, 3)
    with pytest.raises(SymgraphError, match="offset must be an integer"):
        sg.diagonal(x2, 1.0)
    with pytest.raises(SymgraphError, match="axis1 must be an integer"):
        sg.trace(x2, 0, None)
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        sg.diag(x3)
    with pytest.raises(SymgraphError, match="k must be an integer"):
        sg.diag(x1, True)
    with pytest.raises(ShapeError, match="scalar"):
        sg.triu(sg.variable("s", ()))
    with pytest.raises(SymgraphError, match="k must be an integer"):
        sg.tril(x2, 0.5)
    with pytest.raises(ShapeError, match="input has shape"):
        DiagEmbed((3, 3), 1, 0, 1)(x1)
    with pytest.raises(ShapeError, match="not two distinct axes"):
        Diagonal(0, 0, 5)(x2)


# ---------------------------------------------------------------------------
# other array families and sympy
# ---------------------------------------------------------------------------

def test_dask_arrays_stay_lazy():
    da = pytest.importorskip("dask.array")
    a = rng.standard_normal((2, 3, 4))
    x = sg.variable("x", a.shape)
    y = sg.trace(sg.triu(x), 1, 2, 1) + sg.sum(sg.diagonal(sg.tril(x, -1), 0, 0, 2))
    outs = [y, sg.grad(sg.sum(y * y), x)]
    want = sg.evaluate(outs, {x: a})
    lazy = sg.evaluate(outs, {x: da.from_array(a, chunks=(1, 2, 2))})
    for w, g in zip(want, lazy):
        assert hasattr(g, "compute")
        np.testing.assert_allclose(g.compute(scheduler="synchronous"), w, rtol=1e-12)


def test_sympy_translations():
    sympy = pytest.importorskip("sympy")
    m = sg.variable("m", (2, 3))
    expr = sg.to_sympy(sg.trace(m, 1) + sg.sum(sg.triu(m, 2)))
    base = sympy.IndexedBase("m")
    assert sympy.simplify(expr - (base[0, 1] + base[1, 2] + base[0, 2])) == 0
    d = sg.to_sympy(sg.diag(sg.diagonal(m), -1))
    assert d.shape == (3, 3) and d[1, 0] == base[0, 0] and d[2, 1] == base[1, 1] and d[0, 0] == 0
