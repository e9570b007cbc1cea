"""Sparsity patterns, colourings and sparse Jacobians/Hessians on whole problems.

Patterns must equal the non-zeros of the dense derivative at random points on
banded, block and arrow-shaped problems (exact, not just supersets);
colourings must be valid (checked directly and by recovering random matrices
of the pattern); sparse derivatives must equal the dense ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
from symgraph.transforms import (color_columns, recover_hessian, recover_jacobian,
                                 star_coloring)
from symgraph.transforms.coloring import valid_column_coloring, valid_star_coloring

rng = np.random.default_rng(11)
N = 9


def banded(x):
    return x[2:] * x[1:-1] - sg.sin(x[:-2])


def block(x):
    blocks = sg.reshape(x, (3, N // 3))
    return sg.ravel(sg.tanh(blocks) * sg.sum(blocks ** 2, axis=1, keepdims=True))


def arrow(x):
    return sg.concatenate([x[:-1] * x[-1], sg.stack([sg.sum(x ** 2)])])


def rosenbrock(x):
    return sg.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def block_energy(x):
    return sg.sum(sg.sum(sg.reshape(x, (3, N // 3)), axis=1) ** 4)


def arrow_energy(x):
    return sg.sum(x[:-1] ** 2 * x[-1]) + sg.sum(sg.exp(x[:-1]))


JACOBIAN_PROBLEMS = {"banded": banded, "block": block, "arrow": arrow}
HESSIAN_PROBLEMS = {"banded": rosenbrock, "block": block_energy, "arrow": arrow_energy}


def dense_nonzeros(node, x, points=3):
    """The union of the dense derivative's non-zeros at a few random points."""
    found = None
    for _ in range(points):
        value = sg.evaluate(node, {x: rng.uniform(0.5, 1.5, x.shape)})
        nz = np.abs(value.reshape(-1, x.size)) > 0
        found = nz if found is None else found | nz
    return found


@pytest.mark.parametrize("name", sorted(JACOBIAN_PROBLEMS))
def test_jacobian_pattern_is_exact(name):
    x = sg.variable("x", (N,))
    y = JACOBIAN_PROBLEMS[name](x)
    pattern = sg.sparsity(y, x)
    assert isinstance(pattern, sp.csr_matrix) and pattern.dtype == bool
    np.testing.assert_array_equal(pattern.toarray(), dense_nonzeros(sg.jacobian(y, x), x))


@pytest.mark.parametrize("name", sorted(HESSIAN_PROBLEMS))
def test_hessian_pattern_is_exact(name):
    x = sg.variable("x", (N,))
    y = HESSIAN_PROBLEMS[name](x)
    pattern = sg.hessian_sparsity(y, x)
    np.testing.assert_array_equal(pattern.toarray(), dense_nonzeros(sg.hessian(y, x), x))


def test_matmul_with_a_constant_band_gives_the_band():
    band = np.diag(np.ones(N)) + np.diag(np.ones(N - 1), 1) + np.diag(np.ones(N - 3), -3)
    x = sg.variable("x", (N,))
    np.testing.assert_array_equal(sg.sparsity(sg.tanh(band @ x), x).toarray(), band != 0)
    want = (band + band.T) != 0
    np.testing.assert_array_equal(sg.hessian_sparsity(x @ (band @ x), x).toarray(), want)


def test_pattern_of_an_independent_output_is_empty():
    x, z = sg.variable("x", (3,)), sg.variable("z", (2,))
    assert sg.sparsity(sg.sin(z), x).nnz == 0
    assert sg.hessian_sparsity(sg.sum(x * 2.0), x).nnz == 0  # linear: no curvature
    assert sg.sparsity(sg.stop_gradient(x) * 2, x).nnz == 0


def test_pattern_errors():
    x = sg.variable("x", (3,))
    with pytest.raises(sg.ShapeError, match="scalar"):
        sg.hessian_sparsity(x * 2, x)
    with pytest.raises(sg.DTypeError):
        sg.sparsity(x, sg.variable("i", (3,), "int64"))
    with pytest.raises(sg.SymgraphError, match="Node"):
        sg.sparsity(x, np.ones(3))


def random_pattern(m, n, density, symmetric=False):
    p = sp.random(m, n, density=density, random_state=int(rng.integers(1 << 30)), format="csr")
    p = (p != 0)
    if symmetric:
        p = (p + p.T + sp.identity(n, dtype=bool)).astype(bool)
    return sp.csr_matrix(p)


@pytest.mark.parametrize("seed", range(8))
def test_column_colouring_is_valid_and_recovers_any_matrix(seed):
    p = random_pattern(30, 25, 0.08)
    colors = color_columns(p)
    assert valid_column_coloring(p, colors)
    rows, cols = p.nonzero()
    assert not any(colors[c1] == colors[c2] and c1 != c2
                   for r in range(p.shape[0]) for c1 in cols[rows == r] for c2 in cols[rows == r])
    j = sp.csr_matrix((rng.standard_normal(p.nnz), (rows, cols)), shape=p.shape)
    seeds = np.eye(colors.max() + 1)[colors]  # (n, n_colors)
    np.testing.assert_allclose(recover_jacobian(p, colors, j @ seeds).toarray(), j.toarray())


@pytest.mark.parametrize("seed", range(8))
def test_star_colouring_is_valid_and_recovers_any_symmetric_matrix(seed):
    p = random_pattern(40, 40, 0.06, symmetric=True)
    colors = star_coloring(p)
    assert valid_star_coloring(p, colors)
    adjacent = p.toarray() & ~np.eye(40, dtype=bool)
    assert not np.any(adjacent & (colors[:, None] == colors[None, :])), "not a distance-1 colouring"
    rows, cols = sp.triu(p).nonzero()
    h = sp.coo_matrix((rng.standard_normal(len(rows)), (rows, cols)), shape=p.shape)
    h = (h + sp.triu(h, 1).T).tocsr()
    seeds = np.eye(colors.max() + 1)[colors]
    np.testing.assert_allclose(recover_hessian(p, colors, h @ seeds).toarray(), h.toarray())


def test_star_colouring_beats_column_colouring_on_an_arrow():
    n = 50
    p = sp.lil_matrix((n, n), dtype=bool)
    p.setdiag(True)
    p[-1, :] = True
    p[:, -1] = True
    p = p.tocsr()
    assert color_columns(p).max() + 1 == n      # every column meets the full last row
    assert star_coloring(p).max() + 1 == 2      # hub one colour, the rest another


@pytest.mark.parametrize("name", sorted(JACOBIAN_PROBLEMS))
@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_sparse_jacobian_equals_dense(name, mode):
    x = sg.variable("x", (N,))
    y = JACOBIAN_PROBLEMS[name](x)
    jac = sg.sparse_jacobian(y, x, mode=mode)
    assert jac.compressed.shape[1] == jac.n_colors
    a = rng.uniform(0.5, 1.5, N)
    want = sg.evaluate(sg.jacobian(y, x), {x: a})
    got = jac.evaluate({x: a})
    assert isinstance(got, sp.csr_matrix) and got.shape == (y.size, N)
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jac.function([x])(a).toarray(), want, rtol=1e-12, atol=1e-14)


def test_sparse_jacobian_auto_takes_the_fewer_colours():
    x = sg.variable("x", (N,))
    y = sg.concatenate([sg.sin(x), sg.stack([sg.sum(x ** 2)])])  # a diagonal and a full row
    fwd, rev, auto = (sg.sparse_jacobian(y, x, mode=m) for m in ("fwd", "rev", "auto"))
    assert fwd.n_colors == N and rev.n_colors == 2
    assert auto.n_colors == 2 and auto.axis == "rows"
    a = rng.standard_normal(N)
    np.testing.assert_allclose(auto.evaluate({x: a}).toarray(),
                               sg.evaluate(sg.jacobian(y, x), {x: a}), atol=1e-14)


@pytest.mark.parametrize("name", sorted(HESSIAN_PROBLEMS))
def test_sparse_hessian_equals_dense(name):
    x = sg.variable("x", (N,))
    y = HESSIAN_PROBLEMS[name](x)
    hes = sg.sparse_hessian(y, x)
    a = rng.uniform(0.5, 1.5, N)
    want = sg.evaluate(sg.hessian(y, x), {x: a})
    np.testing.assert_allclose(hes.evaluate({x: a}).toarray(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hes.function([x])(a).toarray(), want, rtol=1e-12, atol=1e-12)


def test_colours_of_a_banded_hessian_do_not_grow_with_n():
    colours = set()
    for n in (10, 1000, 20000):
        with sg.Graph():
            x = sg.variable("x", (n,))
            colours.add(sg.sparse_hessian(rosenbrock(x), x).n_colors)
    assert colours == {3}


def test_sparse_derivative_api():
    x = sg.variable("x", (N,))
    hes = sg.sparse_hessian(rosenbrock(x), x)
    assert hes.shape == (N, N) and hes.pattern.nnz == 3 * N - 2
    assert hes.colors.shape == (N,) and hes.n_colors == 3
    assert "3 colours" in repr(hes)
    png = hes.draw().png
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    empty = sg.sparse_hessian(sg.sum(x * 3.0), x)
    assert empty.n_colors == 0
    assert empty.evaluate({x: np.ones(N)}).nnz == 0
    with pytest.raises(sg.SymgraphError, match="one Node"):
        sg.sparse_jacobian(x * 2, [x, x])
    with pytest.raises(sg.SymgraphError, match="mode"):
        sg.sparse_jacobian(x * 2, x, mode="sideways")


# -- substitute and vectorize ------------------------------------------------

def test_substitute_rebuilds_only_what_depends_on_the_keys():
    x, w, z = sg.variable("x", (3,)), sg.variable("w", (3,)), sg.variable("z", (3,))
    y = sg.exp(x) * w
    other = sg.sin(w)
    new_y, new_other = sg.substitute([y, other], {x: sg.log(z)})
    assert new_other is other
    a, b = rng.uniform(1, 2, 3), rng.standard_normal(3)
    np.testing.assert_allclose(sg.evaluate(new_y, {z: a, w: b}), a * b)
    with pytest.raises(sg.ShapeError, match="cannot replace"):
        sg.substitute(y, {x: sg.variable("q", (4,))})
    with pytest.raises(sg.DTypeError):
        sg.substitute(y, {x: sg.variable("q", (3,), "float32")})


def test_vectorize_broadcasts_independent_outputs_and_checks_batches():
    x, w = sg.variable("x", (3,)), sg.variable("w", (3,))
    xs = sg.variable("xs", (4, 3))
    y, other = sg.vectorize([sg.sum(x * w), sg.sum(w)], {x: xs})
    assert y.shape == (4,) and other.shape == (4,)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    got = sg.evaluate([y, other], {xs: a, w: b})
    np.testing.assert_allclose(got[0], a @ b)
    np.testing.assert_allclose(got[1], np.full(4, b.sum()))
    with pytest.raises(sg.ShapeError, match=r"\(B,\)"):
        sg.vectorize(y, {x: sg.variable("bad", (4, 2))})
    with pytest.raises(sg.ShapeError, match="batch lengths"):
        sg.vectorize(x * w, {x: sg.variable("a", (2, 3)), w: sg.variable("b", (5, 3))})
    with pytest.raises(sg.SymgraphError, match="empty"):
        sg.vectorize(y, {})


def test_vectorize_runs_a_user_op_without_a_rule_per_example():
    class Twice(sg.Op):
        name = "twice_user"

        def f(self, a):
            return 2 * a

        def infer(self, a):
            return a.shape, a.dtype

    x = sg.variable("x", (2,))
    y = Twice()(x)
    xs = sg.variable("xs", (3, 2))
    a = rng.standard_normal((3, 2))
    np.testing.assert_allclose(sg.evaluate(sg.vectorize(y, {x: xs}), {xs: a}), 2 * a)


def test_vectorize_keeps_gradient_roles_and_orders():
    x = sg.variable("x", (3,))
    g = sg.grad(sg.sum(sg.sin(x) ** 2), x)
    gb = sg.vectorize(g, {x: sg.variable("xs", (5, 3))})
    assert gb.role == "gradient" and gb.order == 1


@pytest.mark.parametrize("order", ["smallest_last", "largest_first"])
def test_both_colouring_orders_give_valid_colourings_and_equal_derivatives(order):
    x = sg.variable("x", (N,))
    p = random_pattern(40, 40, 0.06, symmetric=True)
    assert valid_star_coloring(p, star_coloring(p, order))
    assert valid_column_coloring(p, color_columns(p, order))
    a = rng.uniform(0.5, 1.5, N)
    for name, problem in HESSIAN_PROBLEMS.items():
        want = sg.evaluate(sg.hessian(problem(x), x), {x: a})
        got = sg.sparse_hessian(problem(x), x, order=order).evaluate({x: a}).toarray()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)
    with pytest.raises(sg.SymgraphError, match="order"):
        sg.sparse_jacobian(banded(x), x, order="random")


def test_substitute_and_vectorize_take_names_and_arrays():
    x, w = sg.variable("x", (3,)), sg.variable("w", (3,))
    y = sg.sum(x * w)
    batch = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    np.testing.assert_allclose(sg.evaluate(sg.vectorize(y, {"x": batch}), {w: b}), batch @ b)
    np.testing.assert_allclose(sg.evaluate(sg.substitute(y, {"w": [1, 2, 3]}), {x: b}),
                               b @ [1.0, 2.0, 3.0])
    with pytest.raises(sg.SymgraphError, match="named 'q'"):
        sg.vectorize(y, {"q": batch})


def test_cross_entropy_hessian_is_block_diagonal_by_example():
    logits = sg.variable("z", (4, 3))
    labels = sg.constant(np.array([0, 2, 1, 2]))
    for reduction in ("mean", "sum"):
        loss = sg.cross_entropy(logits, labels, reduction=reduction)
        pattern = sg.hessian_sparsity(loss, logits)
        want = np.kron(np.eye(4, dtype=bool), np.ones((3, 3), dtype=bool))
        np.testing.assert_array_equal(pattern.toarray(), want)
        np.testing.assert_array_equal(pattern.toarray(),
                                      dense_nonzeros(sg.hessian(loss, logits), logits))


def test_hessian_sparsity_refuses_an_integer_y():
    x = sg.variable("x", (3,))
    with pytest.raises(sg.DTypeError):
        sg.hessian_sparsity(sg.argmax(x), x)
