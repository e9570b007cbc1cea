"""Batching and sparsity rules of the linear-algebra ops, beyond what the op table shows.

``test_vectorize`` and ``test_sparsity_rules`` check every case of the op
table (vectorize == per-example stack; patterns cover finite differences).
Here: every operand-rank combination of ``matmul`` batched on either or both
sides, and that a shared operand makes the batch one GEMM (one matmul node of
at most 2-D operands); solves with a shared matrix factor it once; the graph
does not grow with B; and the patterns are exact (equal, not just covering)
on small examples: banded constants stay banded, stacks stay block diagonal,
triangular and Cholesky structure.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops.contract import Einsum
from symgraph.ops.linalg import MatMul
from symgraph.ops.solve import Solve
from symgraph.ops.triangular import SolveTriangular
from symgraph.traversal import ancestors

rng = np.random.default_rng(7)


def vectorized(build, shapes, batched, size=3):
    """``build(*xs)`` vectorized with inputs ``batched`` given ``size`` examples: the batched
    graph's value, the per-example stack from numpy-free evaluation, and the batched node."""
    xs = [sg.variable(f"x{i}", s) for i, s in enumerate(shapes)]
    y = build(*xs)
    values = [rng.standard_normal(((size,) if k in batched else ()) + s)
              for k, s in enumerate(shapes)]
    holders = {k: sg.variable(f"h{k}", values[k].shape) for k in batched}
    v = sg.vectorize(y, {xs[k]: holders[k] for k in batched})
    feed = {(holders[k] if k in batched else x): values[k] for k, x in enumerate(xs)}
    got = sg.evaluate(v, feed)
    want = np.stack([sg.evaluate(y, {x: values[k][i] if k in batched else values[k]
                                     for k, x in enumerate(xs)}) for i in range(size)]) \
        if size else np.zeros((0,) + y.shape)
    return got, want, values, v


def ops_of(v, cls):
    return [n for n in ancestors([v]) if isinstance(n.op, cls)]


# ---------------------------------------------------------------------------
# matmul: every rank combination, one GEMM where an operand is shared
# ---------------------------------------------------------------------------

A_SHAPES = [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4)]
B_SHAPES = [(4,), (4, 5), (2, 4, 5), (5, 4, 2)]


def _valid(a, b):
    try:
        np.matmul(np.zeros(a), np.zeros(b))
    except ValueError:
        return False
    return True


COMBOS = [(a, b) for a, b in itertools.product(A_SHAPES, B_SHAPES) if _valid(a, b)]
SIDES = {"a": [0], "b": [1], "both": [0, 1]}


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("side", sorted(SIDES))
@pytest.mark.parametrize("shapes", COMBOS, ids=str)
def test_matmul_batched_on_each_side_equals_numpy(shapes, side, size):
    got, want, values, v = vectorized(sg.matmul, list(shapes), SIDES[side], size)
    a, b = values
    ref = np.stack([np.matmul(a[i] if side != "b" else a, b[i] if side != "a" else b)
                    for i in range(size)])
    assert got.shape == ref.shape == want.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    products = ops_of(v, MatMul)
    assert len(products) == 1
    shared = shapes[1] if side == "a" else shapes[0]
    other = shapes[0] if side == "a" else shapes[1]
    if side != "both" and not (len(shared) > 2 and len(other) > 2):
        # the batch folds into the rows or columns of one GEMM (GEMV)
        assert all(x.ndim <= 2 for x in products[0].inputs), [x.shape for x in products[0].inputs]


def test_matmul_matrix_times_batched_vectors_is_one_gemm_with_the_transpose():
    a = sg.variable("a", (3, 4))
    x = sg.variable("x", (4,))
    hx = sg.variable("hx", (6, 4))
    v = sg.vectorize(a @ x, {x: hx})
    (p,) = ops_of(v, MatMul)
    assert p.inputs[0] is hx and p.inputs[1].shape == (4, 3) and v is p
    A, X = rng.standard_normal((3, 4)), rng.standard_normal((6, 4))
    np.testing.assert_allclose(sg.evaluate(v, {a: A, hx: X}), X @ A.T)


def test_matmul_over_identity_seeds_is_the_matrix_itself():
    a = sg.variable("a", (3, 4))
    x = sg.variable("x", (4,))
    v = sg.vectorize(a @ x, {x: sg.eye(4)})  # a Jacobian's seeds: d(a @ x)/dx
    assert not ops_of(v, MatMul)
    A = rng.standard_normal((3, 4))
    np.testing.assert_allclose(sg.evaluate(v, {a: A}), A.T)
    w = sg.variable("w", (4, 2))
    v2 = sg.vectorize(x @ w, {x: sg.eye(4)})
    assert v2 is w


def test_matmul_with_empty_batch_and_empty_contraction():
    got, want, _, _ = vectorized(sg.matmul, [(3, 4), (4,)], [1], size=0)
    assert got.shape == (0, 3)
    got, want, _, _ = vectorized(sg.matmul, [(3, 0), (0, 2)], [0], size=2)
    np.testing.assert_array_equal(got, np.zeros((2, 3, 2)))


@pytest.mark.parametrize("build, shapes", [
    (lambda a, b: sg.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)]),
    (sg.linalg.solve, [(3, 3), (3,)]),
    (lambda a, b: sg.linalg.solve_triangular(a, b, lower=True), [(3, 3), (3, 2)]),
])
def test_empty_batches(build, shapes):
    for k in range(len(shapes)):
        with sg.Graph():
            got, want, _, v = vectorized(build, shapes, [k], size=0)
        assert got.shape == want.shape == v.shape


@pytest.mark.parametrize("build, shapes, batched", [
    (sg.matmul, [(3, 4), (4,)], [1]),
    (sg.matmul, [(2, 3, 4), (2, 4, 5)], [0, 1]),
    (lambda a, b: sg.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)], [1]),
    (sg.linalg.solve, [(3, 3), (3,)], [1]),
    (sg.linalg.solve, [(3, 3), (3, 2)], [0]),
    (sg.linalg.det, [(3, 3)], [0]),
    (sg.linalg.cholesky, [(3, 3)], [0]),
    (lambda a: sg.linalg.qr(a).R, [(4, 3)], [0]),
])
def test_vectorized_graph_does_not_grow_with_the_batch(build, shapes, batched):
    sizes = []
    for size in (2, 50):
        with sg.Graph() as g:
            xs = [sg.variable(f"x{i}", s) for i, s in enumerate(shapes)]
            y = build(*xs)
            before = len(g.nodes)
            sg.vectorize(y, {xs[k]: sg.variable(f"h{k}", (size,) + shapes[k]) for k in batched})
            sizes.append(len(g.nodes) - before)
    assert sizes[0] == sizes[1]


# ---------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------

EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]),
           ("i,i->", [(4,), (4,)]), (",->", [(), ()]), ("ijk->kji", [(2, 3, 4)]),
           ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ij,ij->ij", [(2, 3), (2, 3)])]


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("subs, shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_batched_on_any_operands_equals_numpy(subs, shapes, size):
    for r in range(1, len(shapes) + 1):
        for batched in itertools.combinations(range(len(shapes)), r):
            with sg.Graph():
                got, want, values, _ = vectorized(lambda *xs: sg.einsum(subs, *xs), shapes,
                                                  list(batched), size)
            ref = np.stack([np.einsum(subs, *[v[i] if k in batched else v
                                              for k, v in enumerate(values)]) for i in range(size)])
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_einsum_batched_matrix_product_is_one_einsum():
    _, _, _, v = vectorized(lambda a, b: sg.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)], [1])
    assert len(ops_of(v, Einsum)) == 1


# ---------------------------------------------------------------------------
# solves: a shared matrix is factored once, the batch becomes right-hand sides
# ---------------------------------------------------------------------------

SOLVES = [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)),
          ((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (4, 3, 1))]


@pytest.mark.parametrize("triangular", [False, True])
@pytest.mark.parametrize("side", sorted(SIDES))
@pytest.mark.parametrize("shapes", SOLVES, ids=str)
def test_solves_batched_on_each_side_equal_per_example(shapes, side, triangular):
    def build(a, b):
        a = a + 4 * np.eye(shapes[0][-1])
        if triangular:
            return sg.linalg.solve_triangular(a, b, lower=True, trans=1)
        return sg.linalg.solve(a, b)

    got, want, _, v = vectorized(build, list(shapes), SIDES[side])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    solves = ops_of(v, SolveTriangular if triangular else Solve)
    assert len(solves) == 1
    if side == "b" and not (len(shapes[0]) > 2 and len(shapes[1]) > 2):
        assert solves[0].inputs[0].shape == shapes[0]  # a itself: factored once per matrix


@pytest.mark.parametrize("build, shapes", [
    (lambda a, e: sg.linalg.adjugate(a) + 0 * e, [(2, 3, 3), (2, 3, 3)]),
    (lambda L, d: sg.linalg.cholesky(L @ L.mT + 3 * np.eye(3)) + d, [(2, 3, 3), (3, 3)]),
    (lambda a: sg.linalg.pinv(a, np.array([1e-12, 1e-3])), [(2, 4, 3)]),
    (lambda a: sg.linalg.svd(a, full_matrices=False).U ** 2, [(2, 4, 3)]),
    (lambda a: sg.linalg.eigh(a, UPLO="U").eigenvalues, [(2, 3, 3)]),
    (lambda a: sg.linalg.slogdet(a + 3 * np.eye(3)).logabsdet, [(3, 3)]),
])
@pytest.mark.parametrize("size", [1, 4])
def test_stacked_linalg_ops_batch_on_any_input(build, shapes, size):
    for k in range(len(shapes)):
        with sg.Graph():
            got, want, _, _ = vectorized(build, shapes, [k], size)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------
# exact sparsity
# ---------------------------------------------------------------------------

def fd_pattern(y, x, feed, eps=1e-6, tol=1e-7):
    """Where the central-difference Jacobian of ``y`` in ``x`` at a generic point is non-zero."""
    x0 = feed[x]
    cols = []
    for j in range(x0.size):
        step = np.zeros(x0.size)
        step[j] = eps
        hi = sg.evaluate(y, {**feed, x: x0 + step.reshape(x0.shape)})
        lo = sg.evaluate(y, {**feed, x: x0 - step.reshape(x0.shape)})
        cols.append(np.ravel((hi - lo) / (2 * eps)))
    return np.abs(np.stack(cols, axis=1)) > tol


def assert_exact(y, xs, values):
    feed = dict(zip(xs, values))
    for x in xs:
        got = sg.sparsity(y, x).toarray()
        np.testing.assert_array_equal(got, fd_pattern(y, x, feed), err_msg=f"input {x.name}")


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3))], ids=str)
def test_matmul_pattern_is_rows_times_columns(shapes):
    xs = [sg.variable(f"x{i}", s) for i, s in enumerate(shapes)]
    assert_exact(xs[0] @ xs[1], xs, [rng.standard_normal(s) for s in shapes])


def banded(n):
    return 2 * np.eye(n) + np.diag(np.ones(n - 1), 1) - np.diag(np.ones(n - 2), -2)


def test_matmul_with_a_banded_constant_keeps_the_band():
    n = 7
    band = banded(n)
    x = sg.variable("x", (n,))
    np.testing.assert_array_equal(sg.sparsity(band @ x, x).toarray(), band != 0)
    np.testing.assert_array_equal(sg.sparsity(x @ band, x).toarray(), band.T != 0)
    m = sg.variable("m", (n, 2))  # columns of a matrix operand: the band per column
    np.testing.assert_array_equal(sg.sparsity(band @ m, m).toarray(),
                                  np.kron(band != 0, np.eye(2, dtype=bool)))
    np.testing.assert_array_equal(sg.sparsity(band.T @ x, x).toarray(), band.T != 0)
    shift = sg.eye(n, k=1)  # made when the graph runs, yet its pattern is known
    np.testing.assert_array_equal(sg.sparsity(shift @ x, x).toarray(), np.eye(n, k=1, dtype=bool))


@pytest.mark.parametrize("form", ["x @ B @ x", "x @ (B @ x)", "sum(x * (B @ x))", "einsum"])
def test_quadratic_form_with_a_banded_constant_has_exactly_the_band_as_hessian(form):
    n = 7
    band = banded(n)
    x = sg.variable("x", (n,))
    y = {"x @ B @ x": lambda: x @ band @ x, "x @ (B @ x)": lambda: x @ (band @ x),
         "sum(x * (B @ x))": lambda: sg.sum(x * (band @ x)),
         "einsum": lambda: sg.einsum("i,ij,j->", x, band, x)}[form]()
    want = (band != 0) | (band.T != 0)
    np.testing.assert_array_equal(sg.hessian_sparsity(y, x).toarray(), want)
    np.testing.assert_array_equal(sg.sparsity(sg.grad(y, x), x).toarray(), want)


@pytest.mark.parametrize("subs, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("iij->j", [(3, 3, 2)]),
    ("i,i->", [(4,), (4,)]), ("ij,k->ik", [(2, 3), (4,)]), ("ijk->kji", [(2, 3, 4)]),
    ("ij,ik,il->jkl", [(2, 2), (2, 3), (2, 2)]), ("ij,ij->ij", [(2, 3), (2, 3)])])
def test_einsum_pattern_is_exact(subs, shapes):
    xs = [sg.variable(f"x{i}", s) for i, s in enumerate(shapes)]
    assert_exact(sg.einsum(subs, *xs), xs, [rng.standard_normal(s) for s in shapes])


def test_einsum_pattern_reads_a_constant_operand_mask():
    n = 6
    band = banded(n)
    x = sg.variable("x", (n, 2))
    y = sg.einsum("ij,jk->ik", band, x)
    np.testing.assert_array_equal(sg.sparsity(y, x).toarray(),
                                  np.kron(band != 0, np.eye(2, dtype=bool)))
    tri = np.triu(np.ones((n, n)))  # a constant on a summed letter alone
    z = sg.variable("z", (n,))
    np.testing.assert_array_equal(sg.sparsity(sg.einsum("ij,j->i", tri, z), z).toarray(),
                                  tri != 0)


def test_stacked_ops_depend_on_their_own_matrix_only():
    a = sg.variable("a", (3, 2, 2))
    blocks = np.kron(np.eye(3, dtype=bool), np.ones((4, 4), dtype=bool))
    for y in (sg.linalg.inv(a), sg.linalg.adjugate(a), sg.linalg.pinv(a)):
        np.testing.assert_array_equal(sg.sparsity(y, a).toarray(), blocks)
    np.testing.assert_array_equal(sg.sparsity(sg.linalg.det(a), a).toarray(),
                                  np.kron(np.eye(3, dtype=bool), np.ones((1, 4), dtype=bool)))
    single = sg.variable("s", (2, 2))  # one matrix broadcast against a stack of right sides
    b = sg.variable("b", (3, 2, 1))
    np.testing.assert_array_equal(sg.sparsity(sg.linalg.solve(single, b), single).toarray(),
                                  np.ones((6, 4), dtype=bool))
    np.testing.assert_array_equal(sg.sparsity(sg.linalg.solve(single, b), b).toarray(),
                                  np.kron(np.eye(3, dtype=bool), np.ones((2, 2), dtype=bool)))


def test_solve_columns_are_independent():
    a = sg.variable("a", (3, 3))
    b = sg.variable("b", (3, 2))
    assert_exact(sg.linalg.solve(a, b), [a, b],
                 [rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal((3, 2))])


@pytest.mark.parametrize("lower, trans, unit", list(itertools.product([True, False], repeat=3)))
def test_triangular_solve_pattern_is_exact(lower, trans, unit):
    t = np.tril(rng.standard_normal((4, 4))) + 3 * np.eye(4)
    a = sg.variable("a", (4, 4))
    b = sg.variable("b", (4, 2))
    y = sg.linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
    assert_exact(y, [a, b], [t if lower else t.T, rng.standard_normal((4, 2))])


def _spd(n):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def test_cholesky_and_its_rules_patterns_are_exact():
    n = 4
    a = sg.variable("a", (n, n))
    assert_exact(sg.linalg.cholesky(a), [a], [_spd(n)])
    L = np.linalg.cholesky(_spd(n))
    lv, d = sg.variable("L", (n, n)), sg.variable("d", (n, n))
    from symgraph.ops.triangular import cholesky_tangent

    assert_exact(cholesky_tangent(lv, d), [lv, d], [L, rng.standard_normal((n, n))])


def test_cholesky_grad_pattern_is_the_transpose_in_g():
    from symgraph.graph import apply
    from symgraph.ops.triangular import CholeskyGrad

    n = 4
    L = np.linalg.cholesky(_spd(n))
    lv, g = sg.variable("L", (n, n)), sg.variable("g", (n, n))
    y = apply(CholeskyGrad(), [lv, g])
    feed = {lv: L, g: rng.standard_normal((n, n))}
    np.testing.assert_array_equal(sg.sparsity(y, g).toarray(), fd_pattern(y, g, feed))
    assert (sg.sparsity(y, lv).toarray() >= fd_pattern(y, lv, feed)).all()


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (1, 3), (3, 1)], ids=str)
def test_qr_pattern_is_exact(shape):
    a = sg.variable("a", shape)
    value = rng.standard_normal(shape)
    q, r = sg.linalg.qr(a)
    assert_exact(q, [a], [value])
    assert_exact(r, [a], [value])


def test_eigh_reads_one_triangle():
    a = sg.variable("a", (3, 3))
    for uplo, tri in (("L", np.tril), ("U", np.triu)):
        w = sg.linalg.eigvalsh(a, UPLO=uplo)
        want = np.broadcast_to(tri(np.ones((3, 3), dtype=bool)).ravel(), (3, 9))
        np.testing.assert_array_equal(sg.sparsity(w, a).toarray(), want)


def test_slogdet_sign_has_no_derivative():
    a = sg.variable("a", (3, 3))
    assert sg.sparsity(sg.linalg.slogdet(a).sign, a).nnz == 0
