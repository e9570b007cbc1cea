"""Contractions against numpy: einsum over numpy's whole subscript language, and tensordot,
outer, inner, kron and dot with their N-D rules; derivatives against finite differences
(order 2, both modes); the stored contraction order; errors that name what is wrong."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import symgraph as sg
from symgraph.errors import ShapeError, SymgraphError
from symgraph.ops.contract import Einsum, normalize
from symgraph.testing import check_grads

rng = np.random.default_rng(3)

#: (subscripts, operand shapes): what numpy's parser takes, in every form
EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iii->i", [(2, 2, 2)]),
    ("iij->j", [(3, 3, 2)]),
    ("iij", [(3, 3, 2)]),
    ("ijj,jk->ik", [(2, 3, 3), (3, 4)]),
    ("ij,kk->ij", [(2, 3), (2, 2)]),
    ("i,i->", [(4,), (4,)]),
    ("i,i", [(4,), (4,)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ijk->ijk", [(2, 3, 4)]),
    ("ij,k->ik", [(2, 3), (4,)]),
    ("ij,kl->", [(2, 3), (4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,ik,il->jkl", [(3, 2), (3, 2), (3, 4)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(3, 4), (4, 5)]),
    ("ij...,jk...", [(3, 4, 2), (4, 5, 1)]),
    ("...,...", [(2, 1), (5,)]),
    ("i...i", [(3, 2, 3)]),
    ("...i->i...", [(3, 2, 4)]),
    ("i...->...", [(3, 2, 2)]),
    ("...", [(2, 3)]),
    ("i->...", [(2,)]),
    ("...i->i", [(3,)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("ii,i->i", [(1, 1), (3,)]),
    ("i,i->i", [(1,), (1,)]),
    (",->", [(), ()]),
    ("", [()]),
    ("->", [()]),
    (",", [(), ()]),
    ("i,", [(3,), ()]),
    (",i->i", [(), (3,)]),
    ("aB", [(2, 3)]),
    ("Ba,aC", [(2, 3), (3, 4)]),
    ("i j ->j", [(2, 3)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),
    ("ij->i", [(0, 3)]),
]


def _arrays(shapes, dtype="float64"):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _eval(fn, arrays):
    with sg.Graph():
        xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
        return sg.evaluate(fn(*xs), dict(zip(xs, arrays)))


@pytest.mark.parametrize("subscripts, shapes", EINSUMS, ids=[s or "empty" for s, _ in EINSUMS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_einsum_matches_numpy(subscripts, shapes, dtype):
    arrays = _arrays(shapes, dtype)
    got = _eval(lambda *xs: sg.einsum(subscripts, *xs), arrays)
    want = np.einsum(subscripts, *arrays)
    assert got.shape == want.shape and got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)


@pytest.mark.parametrize("subscripts, shapes", [c for c in EINSUMS if 0 not in sum(c[1], ())],
                         ids=[s or "empty" for s, sh in EINSUMS if 0 not in sum(sh, ())])
def test_einsum_derivatives_match_finite_differences(subscripts, shapes):
    check_grads(lambda *xs: sg.einsum(subscripts, *xs), _arrays(shapes), order=2)


def test_einsum_float32_derivatives_stay_float32():
    arrays = _arrays([(3, 3), (3, 2)], "float32")
    with sg.Graph():
        a, b = (sg.variable(n, x.shape, "float32") for n, x in zip("ab", arrays))
        y = sg.einsum("ii,ij->j", a, b)
        grads = sg.grad(sg.sum(y * y), [a, b])
        assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
        hess = sg.grad(sg.sum(grads[0] * grads[0]), [a, b])
        assert all(h.dtype == np.float32 for h in hess)
    check_grads(lambda a, b: sg.einsum("ii,ij->j", a, b), arrays, order=2)


def test_einsum_integer_operands_like_numpy():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    got = _eval(lambda: sg.einsum("ij,jk", a, b), [])
    want = np.einsum("ij,jk", a, b)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("args", [
    ([0, 1], [1, 2], [0, 2]),
    ([0, 1], [1, 2]),
    ([30, 2], [2, 27]),  # implicit output sorted like numpy's C parser: 27 (b) after 30 (e)?
    ([Ellipsis, 0, 1], [1, 2]),
    ([0, 26], [26, 1]),  # 0 is A, 26 is a: A sorts first
])
def test_einsum_sublist_form_matches_numpy(args):
    arrays = _arrays([(2, 3), (3, 4)])
    interleaved = [arrays[0], args[0], arrays[1], args[1], *args[2:]]
    want = np.einsum(*interleaved)
    got = _eval(lambda a, b: sg.einsum(a, args[0], b, args[1], *args[2:]), arrays)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want)


def test_einsum_normal_form():
    """Ellipses become letters, size-1 broadcast dimensions are dropped, the output is explicit."""
    assert normalize("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]) == (
        "aij,bjk->abik", [(2, 3, 4), (5, 4, 2)])
    assert normalize("ii", [(3, 3)]) == ("ii->", [(3, 3)])
    assert normalize("Ba,aC", [(2, 3), (3, 4)]) == ("Ba,aC->BC", [(2, 3), (3, 4)])
    with sg.Graph():
        a, b = sg.variable("a", (2, 3)), sg.variable("b", (3, 4))
        y = sg.einsum("ij,jk->ik", a, b)
        assert sg.einsum("ij,jk", a, b) is y  # one node: the same canonical op
        assert isinstance(y.op, Einsum) and y.op.subscripts == "ij,jk->ik"
        assert sg.einsum("ij", a) is a and sg.einsum("ji", a).op.name == "transpose"


# ---------------------------------------------------------------------------
# the contraction order: searched once, when the node is built
# ---------------------------------------------------------------------------

def _no_search(monkeypatch):
    """Make numpy's path searches fail: evaluation must use the stored path."""
    try:
        einsumfunc = importlib.import_module("numpy._core.einsumfunc")
    except ImportError:
        pytest.skip("numpy has no numpy._core.einsumfunc to watch")
    for name in ("_greedy_path", "_optimal_path"):
        if not hasattr(einsumfunc, name):
            pytest.skip(f"numpy has no {name} to watch")

        def boom(*args, **kwargs):
            raise AssertionError("einsum searched for a path at evaluation")
        monkeypatch.setattr(einsumfunc, name, boom)


def test_path_is_searched_at_build_and_stored(monkeypatch):
    arrays = _arrays([(2, 30), (30, 40), (40, 3)])
    with sg.Graph():
        xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
        y = sg.einsum("ij,jk,kl->il", *xs)
        g = sg.grad(sg.sum(y), xs)
        f = sg.function(xs, [y, *g])
        want_path = np.einsum_path("ij,jk,kl->il", *arrays, optimize="greedy")[0][1:]
        assert y.op.path == tuple(want_path) == ((1, 2), (0, 1))
        assert "optimize=['einsum_path', (1, 2), (0, 1)]" in f.source
        calls = []
        real = np.einsum

        def spy(*args, **kwargs):
            calls.append(kwargs.get("optimize"))
            return real(*args, **kwargs)
        _no_search(monkeypatch)
        monkeypatch.setattr(np, "einsum", spy)
        got = sg.evaluate(y, dict(zip(xs, arrays)))
        assert calls == [["einsum_path", (1, 2), (0, 1)]]
        monkeypatch.setattr(np, "einsum", real)
        np.testing.assert_allclose(got, np.einsum("ij,jk,kl->il", *arrays))
        for u, v in zip(f(*arrays), sg.evaluate([y, *g], dict(zip(xs, arrays)))):
            np.testing.assert_allclose(u, v)


@pytest.mark.parametrize("optimize, path", [
    (False, ((0, 1, 2),)), (True, ((1, 2), (0, 1))), ("optimal", ((0, 1), (0, 1))),
    (["einsum_path", (0, 1), (0, 1)], ((0, 1), (0, 1))),
])
def test_optimize_choices(optimize, path):
    arrays = _arrays([(2, 30), (30, 40), (40, 3)])
    with sg.Graph():
        xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
        y = sg.einsum("ij,jk,kl->il", *xs, optimize=optimize)
        assert y.op.path == path
        if isinstance(optimize, str):
            assert path == tuple(np.einsum_path("ij,jk,kl->il", *arrays, optimize=optimize)[0][1:])
        np.testing.assert_allclose(sg.evaluate(y, dict(zip(xs, arrays))),
                                   np.einsum("ij,jk,kl->il", *arrays))


@pytest.mark.parametrize("subscripts, shapes", [c for c in EINSUMS if len(c[1]) > 1])
def test_compiled_matches_evaluate(subscripts, shapes):
    arrays = _arrays(shapes)
    with sg.Graph():
        xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)]
        y = sg.einsum(subscripts, *xs)
        outs = [y, *sg.grad(sg.sum(y * y), xs)]
        f = sg.function(xs, outs)
        for u, v in zip(f(*arrays), sg.evaluate(outs, dict(zip(xs, arrays)))):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_to_sympy_of_a_trace():
    sympy = pytest.importorskip("sympy")
    with sg.Graph():
        a = sg.variable("a", (2, 2))
        expr = sg.to_sympy(sg.einsum("ii", a))
    base = sympy.IndexedBase("a")
    assert sympy.simplify(expr - (base[0, 0] + base[1, 1])) == 0


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("subscripts, shapes, error, words", [
    ("ij,jk->ik", [(2, 3), (4, 5)], ShapeError, "subscript 'j' has sizes 3 and 4"),
    ("ij,jk", [(2, 3)], SymgraphError, "name 2 operands, got 1"),
    ("i", [(2,), (2,)], SymgraphError, "name 1 operands, got 2"),
    ("ij", [(3,)], ShapeError, "subscripts 'ij' name 2"),
    ("ij...", [(3,)], ShapeError, "name 2"),
    ("ii", [(2, 3)], ShapeError, "repeats subscript 'i' over dimensions of sizes 2 and 3"),
    ("i1", [(2, 3)], SymgraphError, "'1'"),
    ("i.j", [(2, 3)], SymgraphError, "'.' that is not part of one ellipsis"),
    ("....", [(2,)], SymgraphError, "ellipsis"),
    ("i->->", [(2,)], SymgraphError, "more than one '->'"),
    ("i-j", [(2,)], SymgraphError, "'-'"),
    ("ij->jj", [(2, 3)], SymgraphError, "output subscript 'j' is repeated"),
    ("ij->k", [(2, 3)], SymgraphError, "output subscript 'k' appears in no operand"),
    ("...i->i", [(2, 3)], SymgraphError, "the output has no '...'"),
    ("...i,...i", [(3, 2), (4, 2)], ShapeError, "cannot be broadcast"),
])
def test_einsum_errors_name_the_problem(subscripts, shapes, error, words):
    with sg.Graph():
        xs = [sg.variable(f"x{i}", s) for i, s in enumerate(shapes)]
        with pytest.raises(error, match=words.replace("(", r"\(").replace(".", r"\.")):
            sg.einsum(subscripts, *xs)
        with pytest.raises(ValueError):
            np.einsum(subscripts, *[np.ones(s) for s in shapes])  # numpy refuses them too


def test_einsum_op_checks_what_a_file_could_hold():
    with sg.Graph():
        a, b = sg.variable("a", (2, 3)), sg.variable("b", (3, 4))
        with pytest.raises(SymgraphError, match="contraction path"):
            Einsum("ij,jk->ik", ((0, 5),))(a, b)
        with pytest.raises(SymgraphError, match="leaves 2 operands"):
            Einsum("ij,jk->ik", ((0,),))(a, b)
        with pytest.raises(SymgraphError, match="subscripts"):
            Einsum("ij,jk->i...", ((0, 1),))(a, b)
        with pytest.raises(ShapeError, match="subscript 'j' has size 3 in operand 0 and size 4"):
            Einsum("ij,jk->ik", ((0, 1),))(a, sg.variable("c", (4, 4)))  # no broadcasting here
        with pytest.raises(SymgraphError, match="optimize must be"):
            sg.einsum("ij,jk", a, b, optimize="fastest")
        with pytest.raises(SymgraphError, match="sublist"):
            sg.einsum(a, [0, 60])
        with pytest.raises(SymgraphError, match="expected subscripts"):
            sg.einsum(a)


# ---------------------------------------------------------------------------
# tensordot, outer, inner, kron, dot
# ---------------------------------------------------------------------------

TENSORDOTS = [
    ((2, 3, 4), (3, 4, 2), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0), ((), (2, 3), 0),
    ((3,), (3,), 1), ((2, 3), (2, 3), 2), ((2, 3, 4), (4, 2, 2), ([0, 2], [2, 0])),
    ((2, 3), (3, 2), (0, 1)), ((2, 3), (3, 2), (-2, -1)), ((2, 3), (3, 2), [[0, 1], [1, 0]]),
    ((2, 3, 4), (4, 3), ((1, 2), (1, 0))),
]


@pytest.mark.parametrize("sa, sb, axes", TENSORDOTS)
def test_tensordot_matches_numpy(sa, sb, axes):
    arrays = _arrays([sa, sb])
    got = _eval(lambda a, b: sg.tensordot(a, b, axes), arrays)
    want = np.tensordot(*arrays, axes)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    check_grads(lambda a, b: sg.tensordot(a, b, axes), arrays, order=2)


SHAPE_PAIRS = [((), ()), ((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
               ((2, 3), (3, 4)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4)), ((2, 3), (4, 3, 2)),
               ((2, 2, 3), (4, 3, 2)), ((1, 3), (2, 3, 1))]


def _pairs_for(numpy_fn):
    """The shape pairs ``numpy_fn`` accepts."""
    out = []
    for sa, sb in SHAPE_PAIRS + [((2, 3), (2, 3)), ((4, 3), (2, 3)), ((2, 1, 3), (2, 3))]:
        try:
            numpy_fn(np.ones(sa), np.ones(sb))
        except ValueError:
            continue
        out.append((sa, sb))
    return out


@pytest.mark.parametrize("name", ["dot", "inner", "outer", "kron"])
def test_products_match_numpy(name):
    numpy_fn, sg_fn = getattr(np, name), getattr(sg, name)
    pairs = _pairs_for(numpy_fn)
    assert len(pairs) >= 8
    for sa, sb in pairs:
        arrays = _arrays([sa, sb])
        got = _eval(sg_fn, arrays)
        want = numpy_fn(*arrays)
        assert got.shape == np.shape(want), (name, sa, sb)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name} {sa} {sb}")
        check_grads(sg_fn, arrays, order=2)


@pytest.mark.parametrize("name", ["dot", "inner", "outer", "kron", "tensordot"])
def test_products_keep_float32_and_take_arrays(name):
    a = rng.standard_normal((2, 3)).astype("float32")
    b = rng.standard_normal((3, 3)).astype("float32")
    with sg.Graph():
        x = sg.variable("x", a.shape, "float32")
        y = getattr(sg, name)(x, b) if name != "tensordot" else sg.tensordot(x, b, 1)
        assert y.dtype == np.float32
        want = getattr(np, name)(a, b) if name != "tensordot" else np.tensordot(a, b, 1)
        np.testing.assert_allclose(sg.evaluate(y, {x: a}), want, rtol=1e-5)


def test_dot_of_matrices_is_a_matmul_and_nd_an_einsum():
    with sg.Graph():
        a, b = sg.variable("a", (2, 3)), sg.variable("b", (3, 4))
        assert sg.dot(a, b).op.name == "matmul"
        assert sg.dot(sg.variable("c", (2, 2, 3)), sg.variable("d", (5, 3, 4))).shape == (2, 2, 5, 4)


@pytest.mark.parametrize("call, error, words", [
    (lambda a, b: sg.dot(a, sg.variable("v", (4,))), ShapeError, "not aligned: 3 (dim 1) != 4 (dim 0)"),
    (lambda a, b: sg.dot(a, sg.variable("w", (2, 4, 2))), ShapeError, "not aligned"),
    (lambda a, b: sg.inner(a, sg.variable("v", (2,))), ShapeError, "not aligned"),
    (lambda a, b: sg.tensordot(a, b, ([0], [0])), ShapeError, "shape-mismatch for sum"),
    (lambda a, b: sg.tensordot(a, b, 3), ShapeError, "axes=3"),
    (lambda a, b: sg.tensordot(a, b, -1), ShapeError, "axes=-1"),
    (lambda a, b: sg.tensordot(a, b, ([0, 0], [1, 1])), SymgraphError, "duplicate axes"),
    (lambda a, b: sg.tensordot(a, b, ([0, 1], [1])), ShapeError, "2 axes of a but 1 of b"),
    (lambda a, b: sg.tensordot(a, b, ([5], [1])), ShapeError, "out of bounds"),
    (lambda a, b: sg.tensordot(a, b, [[0, 1]]), SymgraphError, "a pair"),
    (lambda a, b: sg.tensordot(a, b, 1.0), SymgraphError, "a pair"),
])
def test_product_errors(call, error, words):
    with sg.Graph():
        a, b = sg.variable("a", (2, 3)), sg.variable("b", (3, 2))
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
            call(a, b)
