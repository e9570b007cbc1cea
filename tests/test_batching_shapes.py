"""Batching and sparsity rules of the shape ops (reshape ... scatter_add) and the parts of
matrices (diagonal, diag_embed, triu, tril), beyond the op table's cases: exact sparsity
patterns, every kind of index, batch lengths 0, 1 and 50, 0-d inputs, negative axes, and
graphs that do not grow with the batch."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops.matrix_parts import DiagEmbed
from symgraph.ops.shape import ScatterAdd, batch_position, normalize_index

rng = np.random.default_rng(5)


def stacked(fn, value: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``vectorize(fn(x))`` over ``size`` examples near ``value``, the per-example stack,
    and the number of nodes the vectorized graph added."""
    batch = value + rng.standard_normal((size,) + value.shape)
    with sg.Graph() as g:
        x = sg.variable("x", value.shape)
        y = fn(x)
        xs = sg.variable("xs", (size,) + value.shape)
        before = len(g)
        vec = sg.vectorize(y, {x: xs})
        added = len(g) - before
        got = sg.evaluate(vec, {xs: batch})
        want = np.stack([sg.evaluate(y, {x: b}) for b in batch]) if size else \
            np.zeros((0,) + y.shape)
    return got, want, added


def assert_vectorizes(fn, value, size=3):
    got, want, _ = stacked(fn, np.asarray(value, dtype=float), size)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def exact_pattern(fn, value: np.ndarray) -> np.ndarray:
    """The non-zeros of the Jacobian of a LINEAR ``fn``, exactly: its value on each unit
    vector (no finite differences needed, no cancellation for the ops here)."""
    with sg.Graph():
        x = sg.variable("x", value.shape)
        y = fn(x)
        cols = [sg.evaluate(y, {x: np.eye(value.size)[j].reshape(value.shape)}).ravel()
                for j in range(value.size)]
    return np.stack(cols, axis=1) != 0 if cols else np.zeros((y.size, 0), bool)


def pattern(fn, value: np.ndarray) -> np.ndarray:
    with sg.Graph():
        x = sg.variable("x", value.shape)
        return sg.sparsity(fn(x), x).toarray()


# ---------------------------------------------------------------------------
# indexing: every kind of index, batched
# ---------------------------------------------------------------------------

INDICES = [
    (1,), (-1, slice(None, None, -2)), (slice(1, None), None, Ellipsis), (None, Ellipsis, 0),
    (Ellipsis,), (Ellipsis, None), (np.array([2, 0, 2]),), (slice(None), np.array([[1], [-1]])),
    (np.array([0, 1]), slice(None), np.array([3, 0])),   # separated: axes go first
    (1, slice(None), np.array([0, 3, 3])),               # an int counts as an array index
    (np.array([0, 2]), None, np.array([1, 1])),          # a None separates them too
    (np.array([0, 2]), Ellipsis, np.array([1, 3])),      # an Ellipsis of one axis does
    (Ellipsis, np.array([[3, 0], [1, 1]])), (np.array(1), slice(None, None, -1)),
    (np.array([True, False, True]), slice(1, 3)), (slice(None), np.array([[True, False, True]] * 2).T),
    (np.array([[0, 2]]), 2, np.array([[1], [0]])),
]
SHAPE = (3, 3, 4)


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_and_scatter_add_vectorize_for_every_kind_of_index(index):
    a = rng.standard_normal(SHAPE)
    assert_vectorizes(lambda x: x[index], a)
    norm = normalize_index(index, SHAPE)
    g = rng.standard_normal(np.zeros(SHAPE)[norm].shape)
    assert_vectorizes(lambda v: ScatterAdd(norm, SHAPE)(v), g)


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_and_scatter_add_patterns_are_exact(index):
    a = rng.standard_normal(SHAPE)
    assert np.array_equal(pattern(lambda x: x[index], a), exact_pattern(lambda x: x[index], a))
    norm = normalize_index(index, SHAPE)
    g = rng.standard_normal(np.zeros(SHAPE)[norm].shape)
    op = ScatterAdd(norm, SHAPE)
    assert np.array_equal(pattern(op, g), exact_pattern(op, g))


def test_batch_position_follows_numpy():
    full = (slice(None),)
    assert batch_position(full + (1, slice(None)), (3, 4)) == 0
    assert batch_position(full + (np.array([0, 1]), slice(None), np.array([1, 0])), (2, 3, 4)) == 1
    assert batch_position(full + (np.array([[0, 1]]), slice(None), 2), (2, 3, 4)) == 2
    assert batch_position(full + (np.array([0, 1]), None, np.array([1, 0])), (2, 3, 4)) == 1
    assert batch_position(full + (slice(None), np.array([0, 1]), np.array([1, 0])), (2, 3, 4)) == 0


def test_scatter_add_with_repeats_sums_into_one_output():
    op = ScatterAdd((np.array([0, 2, 2, 0]),), (3,))
    want = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0]], bool)
    assert np.array_equal(pattern(op, np.ones(4)), want)
    assert_vectorizes(op, np.arange(4.0))


# ---------------------------------------------------------------------------
# exact patterns of the other rules, by hand
# ---------------------------------------------------------------------------

def test_sum_to_pattern_is_exact():
    got = pattern(lambda x: sg.sum_to(x, (1, 3)), np.ones((2, 3)))
    assert np.array_equal(got, np.hstack([np.eye(3, dtype=bool)] * 2))
    got = pattern(lambda x: sg.sum_to(x, (2, 1)), np.ones((2, 2, 2)))  # a leading axis and a one
    assert np.array_equal(got, np.array([[1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1]], bool))


def test_triangle_patterns_are_exact():
    tri = np.triu(np.ones((2, 3), bool), 1).ravel()
    assert np.array_equal(pattern(lambda x: sg.triu(x, 1), np.ones((2, 3))), np.diag(tri))
    low = np.tril(np.ones((3, 2), bool), -1).ravel()
    got = pattern(lambda x: sg.tril(x, -1), np.ones((2, 3, 2)))
    assert np.array_equal(got, np.diag(np.tile(low, 2)))


@pytest.mark.parametrize("shape, offset, axis1, axis2", [
    ((4, 4), 0, 0, 1), ((3, 5), 2, 0, 1), ((5, 3), -1, 1, 0), ((2, 4, 3), -1, 2, 1),
    ((3, 2, 2), 1, 0, 2), ((3, 3), 5, 0, 1)])
def test_diag_embed_and_diagonal_patterns_are_exact(shape, offset, axis1, axis2):
    d = sg.diagonal(sg.variable("probe", shape), offset, axis1, axis2)
    op = DiagEmbed(shape, offset, axis1, axis2)
    g = np.ones(d.shape)
    assert np.array_equal(pattern(op, g), exact_pattern(op, g))
    a = np.ones(shape)
    fn = (lambda x: sg.diagonal(x, offset, axis1, axis2))
    assert np.array_equal(pattern(fn, a), exact_pattern(fn, a))
    assert_vectorizes(op, rng.standard_normal(g.shape))
    assert_vectorizes(fn, rng.standard_normal(shape))


@pytest.mark.parametrize("fn, shape", [
    (lambda x: sg.reshape(x, (3, 2)), (2, 3)), (lambda x: sg.transpose(x, (2, 0, 1)), (2, 3, 2)),
    (lambda x: sg.broadcast_to(x, (2, 3, 2)), (3, 1)),
    (lambda x: sg.concatenate([x, x[:, :1], -x], axis=-1), (2, 2)),
    (lambda x: sg.stack([x, 2 * x], axis=-1), (2, 3))])
def test_structural_patterns_are_exact(fn, shape):
    a = np.ones(shape)
    assert np.array_equal(pattern(fn, a), exact_pattern(fn, a))


# ---------------------------------------------------------------------------
# edge cases of batching: batch lengths, 0-d inputs, negative axes
# ---------------------------------------------------------------------------

EDGE = {
    "reshape_0d": (lambda x: sg.reshape(x, (1, 1)), ()),
    "broadcast_0d": (lambda x: sg.broadcast_to(x, (2, 3)), ()),
    "broadcast_inner_one": (lambda x: sg.broadcast_to(x, (2, 3)), (2, 1)),
    "sum_to_0d": (lambda x: sg.sum_to(x, ()), (2, 3)),
    "sum_to_one_one": (lambda x: sg.sum_to(x, (1, 1)), (1, 3)),
    "sum_to_leading_ones": (lambda x: sg.sum_to(x, (1, 3)), (1, 2, 3)),
    "getitem_0d": (lambda x: x[None, ...], ()),
    "concatenate_negative": (lambda x: sg.concatenate([x, sg.constant(np.ones((2, 1)))], axis=-1),
                             (2, 3)),
    "stack_constant": (lambda x: sg.stack([sg.constant(np.ones(3)), x], axis=-1), (3,)),
    "stack_0d": (lambda x: sg.stack([x, x * 2]), ()),
    "transpose_reversed": (lambda x: x.T, (2, 3, 4)),
    "diagonal_negative_axes": (lambda x: sg.diagonal(x, -1, -1, -3), (3, 2, 4)),
    "trace_like_diag": (lambda x: sg.diag(sg.diag(x, 1), -1), (3, 4)),
    "triu_vector": (lambda x: sg.triu(x, -1), (3,)),
    "tril_empty_plane": (lambda x: sg.tril(x), (2, 0, 3)),
}


@pytest.mark.parametrize("size", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases_vectorize(name, size):
    fn, shape = EDGE[name]
    assert_vectorizes(fn, rng.standard_normal(shape), size)


@pytest.mark.parametrize("name", sorted(EDGE))
def test_graph_does_not_grow_with_the_batch(name):
    fn, shape = EDGE[name]
    a = rng.standard_normal(shape)
    assert stacked(fn, a, 2)[2] == stacked(fn, a, 50)[2]


def test_gradient_of_indexing_vectorizes_with_the_index_kept():
    """The gradient graph (scatter_add of the index) batched over the cotangent seed."""
    index = (np.array([0, 2]), slice(None), np.array([1, 1]))
    with sg.Graph():
        x = sg.variable("x", SHAPE)
        w = sg.variable("w", (2, 3))
        g = sg.grad(sg.sum(sg.sin(x[index]) * w), x)
        ws = sg.variable("ws", (4, 2, 3))
        a, batch = rng.standard_normal(SHAPE), rng.standard_normal((4, 2, 3))
        got = sg.evaluate(sg.vectorize(g, {w: ws}), {x: a, ws: batch})
        for b in range(4):
            np.testing.assert_allclose(got[b], sg.evaluate(g, {x: a, w: batch[b]}), rtol=1e-13)
