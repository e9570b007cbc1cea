"""The seed MLP's loss and gradient compiled together: one log-softmax and one label check
shared by both, weight decay summed into its gradient by gemm, constant factors folded."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg
from symgraph.models import seed_mlp, seed_mlp_numpy

rng = np.random.default_rng(18)
N, D, H, C = 16, 12, 9, 5


@pytest.fixture
def one_thread(monkeypatch):
    """BLAS on one thread: where compiled code may call scipy's gemm (see fusion)."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture
def threads(monkeypatch):
    """BLAS with threads: compiled code keeps to numpy's BLAS."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def _data(dtype="float64"):
    return (rng.standard_normal((N, D)).astype(dtype), rng.integers(0, C, N),
            (rng.standard_normal((D, H)) * 0.5).astype(dtype),
            (rng.standard_normal((H, C)) * 0.5).astype(dtype))


def _body(f) -> str:
    return f.source[f.source.index("def compiled"):]


def _run_source(f, *args, **wrapped):
    """Run ``f``'s standalone source with the named helpers wrapped (``name=wrapper(fn)``)."""
    space: dict = {}
    exec(f.source, space)
    for name, wrap in wrapped.items():
        space[name] = wrap(space[name])
    return space["compiled"](*args)


def _counting(calls: list):
    def wrap(fn):
        def counted(*a, **k):
            calls.append(fn.__name__)
            return fn(*a, **k)
        return counted
    return wrap


@pytest.mark.parametrize("blas", ["one_thread", "threads"])
@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_loss_and_gradient_equal_handwritten_numpy(blas, order, request):
    request.getfixturevalue(blas)
    m = seed_mlp(N, D, H, C, weight_decay=0.3)
    outs = [m.loss, *sg.grad(m.loss, [m.W1, m.W2])]
    f = sg.function([m.X, m.y, m.W1, m.W2], [outs[k] for k in order])
    data = _data()
    got = f(*data)
    want = seed_mlp_numpy(*data, 0.3)
    for k, g in zip(order, got):
        np.testing.assert_allclose(g, want[k], rtol=1e-12, atol=1e-15)
    body = _body(f)
    # one log-softmax for both (the gradient's softmax is its exp); no second softmax
    assert body.count("checked_log_softmax(") == 1 and not re.search(r"\bsoftmax\(", body)
    assert "cross_entropy(" not in body and body.count("softmax_xent_grad_from_log(") == 1


def test_labels_are_checked_once_per_call(one_thread):
    m = seed_mlp(N, D, H, C)
    f = sg.function([m.X, m.y, m.W1, m.W2], [m.loss, *sg.grad(m.loss, [m.W1, m.W2])])
    calls: list = []
    data = _data()
    got = _run_source(f, *data, labels_in_range=_counting(calls))
    assert calls == ["labels_in_range"]
    for g, w in zip(got, seed_mlp_numpy(*data)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad", [C, C + 7, -1])
def test_an_out_of_range_label_still_raises_naming_it(bad):
    m = seed_mlp(N, D, H, C)
    g1, g2 = sg.grad(m.loss, [m.W1, m.W2])
    X, y, W1, W2 = _data()
    y[3] = bad
    for outs in ([m.loss, g1, g2], [g2, g1, m.loss]):  # the gradient first, too
        f = sg.function([m.X, m.y, m.W1, m.W2], outs)
        with pytest.raises(sg.EvaluationError, match=f"label {bad} is out of range for {C} classes"):
            f(X, y, W1, W2)


def test_gradient_alone_keeps_its_own_softmax():
    """No loss computed: nothing to share, the gradient's fused softmax stays as it was."""
    m = seed_mlp(N, D, H, C)
    g1, g2 = sg.grad(m.loss, [m.W1, m.W2])
    f = sg.function([m.X, m.y, m.W1, m.W2], [g1, g2])
    assert "log_softmax" not in _body(f) and _body(f).count("softmax_xent_grad(") == 1
    data = _data()
    for g, w in zip(f(*data), seed_mlp_numpy(*data)[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_weight_decay_gradient_is_one_gemm_into_its_own_buffer(one_thread):
    m = seed_mlp(N, D, H, C, weight_decay=1e-4)
    f = sg.function([m.X, m.y, m.W1, m.W2], [m.loss, *sg.grad(m.loss, [m.W1, m.W2])])
    body = _body(f)
    # 2 lam W, then X.T @ dH (and H.T @ dz) added by gemm with beta = 1: no product temporary
    adds = re.findall(r"gemm_accumulate\((scale\d+), (\w+)\.T, \w+, scipy_blas\.dgemm\)", body)
    assert len(adds) == 2 and adds[0][1] == "X"  # gW1 += X.T @ dH, then gW2 += H.T @ dz
    for (acc, _), w in zip(adds, ("W1", "W2")):
        assert re.search(rf"^    {acc} = _c\d+ \* {w}$", body, re.M)
    assert "+=" not in body  # no sum left outside gemm
    assert f"({D}, {H})" not in f.source  # no workspace buffer of W1's shape
    data = _data()
    for g, w in zip(f(*data), seed_mlp_numpy(*data)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_constant_factors_are_folded_once(one_thread):
    m = seed_mlp(N, D, H, C, weight_decay=1e-4)
    V1, V2 = sg.variable("V1", (D, H)), sg.variable("V2", (H, C))
    grads = sg.grad(m.loss, [m.W1, m.W2])
    hv = sg.jvp(grads, [m.W1, m.W2], [V1, V2])
    for f in (sg.function([m.X, m.y, m.W1, m.W2], [m.loss, *grads]),
              sg.function([m.X, m.y, m.W1, m.W2, V1, V2], hv)):
        assert not re.search(r"_c\d+ \* _c\d+", f.source)
        consts = re.findall(r"^_c\d+ = (.*)$", f.source, re.M)
        assert len(consts) == len(set(consts)) and "np.float64(0.0002)" in consts
    data = _data()
    v = rng.standard_normal((D, H)), rng.standard_normal((H, C))
    want = sg.evaluate(hv, dict(zip([m.X, m.y, m.W1, m.W2, V1, V2], data + v)))
    for g, w in zip(f(*data, *v), want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_folded_factor_is_exact_in_the_dtype(dtype, one_thread):
    x = sg.variable("x", (3, 4), dtype)
    g = sg.grad(sg.sum(sg.square(x)) * 0.1, x)  # 0.1 * (2 * x), one pass by 0.1 * 2
    f = sg.function([x], g)
    assert not re.search(r"_c\d+ \* _c\d+", f.source)
    xv = rng.standard_normal((3, 4)).astype(dtype)
    got = f(xv)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, sg.evaluate(g, {x: xv}))


# ---------------------------------------------------------------------------
# add_n with matrix products: gemm into the sum's buffer

def _product_sum(case: str, dtype: str, order: list[int]):
    """Terms of an add_n: plain matrices and products (some of transposes), in ``order``;
    the value wanted as a dead term's buffer, a fresh output, or a workspace buffer."""
    a = sg.variable("a", (5, 3), dtype)
    b = sg.variable("b", (3, 4), dtype)
    c = sg.variable("c", (5, 4), dtype)
    e = sg.variable("e", (4, 3), dtype)
    g = sg.variable("g", (3, 5), dtype)
    terms = [sg.exp(c), a @ b, (a * 2.0) @ e.T, g.T @ e.T, c]
    terms = [terms[k] for k in order]
    s = sg.add_n(terms)
    outs = {"dead": [s], "output": [s, terms[0]], "workspace": [sg.sin(s)]}[case]
    return [a, b, c, e, g], outs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", ["dead", "output", "workspace"])
@pytest.mark.parametrize("seed", range(4))
def test_add_n_of_products_equals_numpy(dtype, case, seed, one_thread):
    r = np.random.default_rng(seed)
    order = list(r.permutation(5))[: r.integers(2, 6)]
    if not any(k in (1, 2, 3) for k in order):
        order.append(1)
    inputs, outs = _product_sum(case, dtype, order)
    vals = [r.standard_normal(v.shape).astype(dtype) for v in inputs]
    if seed % 2:  # operands of other layouts: Fortran order, strided views
        vals = [np.asfortranarray(vals[0]), vals[1][:, ::-1], vals[2], vals[3],
                np.repeat(vals[4], 2, axis=1)[:, ::2]]
    f = sg.function(inputs, outs)
    av, bv, cv, ev, gv = (np.asarray(v, np.float64) for v in vals)
    parts = [np.exp(cv), av @ bv, (av * 2) @ ev.T, gv.T @ ev.T, cv]
    want = sum(parts[k] for k in order)
    if case == "workspace":
        want = np.sin(want)
    got = f(*vals)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got[0], want, **tol)
    assert got[0].dtype == dtype
    pinned = {order[0]} if case == "output" else set()  # an output is a plain term
    products = sum(k in (1, 2, 3) and k not in pinned for k in order)
    dead_term = 0 in order and 0 not in pinned  # exp(c): its buffer takes the sum
    calls = f.source.count("gemm_accumulate(") - (1 if "def gemm_accumulate" in f.source else 0)
    assert calls == max(products - (0 if dead_term else 1), 0)
    np.testing.assert_allclose(sg.evaluate(outs, dict(zip(inputs, vals)))[0], got[0], **tol)


def test_add_n_of_products_keeps_numpys_blas_with_threads(threads):
    inputs, outs = _product_sum("dead", "float64", [0, 1, 2])
    f = sg.function(inputs, outs)
    assert "gemm_accumulate" not in f.source and "scipy_blas" not in f.source
    vals = [rng.standard_normal(v.shape) for v in inputs]
    np.testing.assert_allclose(f(*vals)[0], sg.evaluate(outs, dict(zip(inputs, vals)))[0],
                               rtol=1e-12)


@pytest.mark.parametrize("shape", [(256, 256), (3, 8192), (7, 4096 + 3), (40000,), (5, 6)])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_relu_kernel_equals_numpys_maximum(shape, dtype):
    from symgraph import kernels

    x = (rng.standard_normal(shape) * 10).astype(dtype)
    if dtype != "int64":
        x.reshape(-1)[::97] = np.nan
    want = np.maximum(x, 0)
    np.testing.assert_array_equal(kernels.relu(x), want)
    np.testing.assert_array_equal(kernels.relu(x.T), want.T)  # not C-contiguous
    into = np.empty_like(x)
    assert kernels.relu(x, out=into) is into
    np.testing.assert_array_equal(into, want)
    assert kernels.relu(x, out=x) is x  # in place
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5), (6, 40), (3, 1)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shared_log_softmax_matches_the_evaluator(reduction, shape, dtype):
    """Any shape (short rows take the transposed path), dtype, reduction and extreme logits:
    the loss and gradient compiled together equal the evaluator's."""
    z = sg.variable("z", shape, dtype)
    lab = sg.variable("lab", shape[:-1], "int64")
    w = sg.variable("w", shape[:-1] if reduction == "none" else (), dtype)
    loss = sg.sum(sg.cross_entropy(z, lab, reduction) * w)
    outs = [loss, sg.grad(loss, z)]
    f = sg.function([z, lab, w], outs)
    assert _body(f).count("checked_log_softmax(") == 1
    zv = (rng.standard_normal(shape) * 3).astype(dtype)
    zv.reshape(-1, shape[-1])[0, 0] = 1000.0  # a row a naive softmax overflows
    if shape[-1] > 1:
        zv.reshape(-1, shape[-1])[-1, :] = -np.inf  # a row of -inf but one entry
        zv.reshape(-1, shape[-1])[-1, 0] = 0.0
    labels = rng.integers(0, shape[-1], shape[:-1])
    if shape[-1] > 1:
        labels.reshape(-1)[-1] = 0
    wv = rng.standard_normal(w.shape).astype(dtype)
    got = f(zv, labels, wv)
    want = sg.evaluate(outs, {z: zv, lab: labels, w: wv})
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for g, v in zip(got, want):
        assert g.dtype == v.dtype and g.shape == v.shape and g.flags.c_contiguous
        np.testing.assert_allclose(g, v, **tol)


@pytest.mark.parametrize("shape", [(6, 1), (6, 5), (5, 40), (2, 3, 4)])
def test_softmax_kernels_match_the_textbook_and_leave_their_input(shape):
    from symgraph import kernels

    x = rng.standard_normal(shape) * 4
    x.reshape(-1, shape[-1])[0, 0] = 800.0
    before = x.copy()
    p = kernels.softmax(x, -1)
    lp = kernels.log_softmax(x, x.ndim - 1)
    lp2 = kernels.checked_log_softmax(x, rng.integers(0, shape[-1], shape[:-1]))
    np.testing.assert_array_equal(x, before)  # no kernel writes into its input
    shifted = x - x.max(axis=-1, keepdims=True)
    want = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(lp, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(lp2, lp)
    np.testing.assert_allclose(p, np.exp(want), rtol=1e-13, atol=1e-300)
    assert p.flags.c_contiguous and lp.flags.c_contiguous


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_a_negative_small_integer_label_is_caught_with_many_classes(dtype):
    """Read as unsigned, -1 in int8 is 255: below 300 classes, so the one-reduction check
    must not be used when the classes reach the dtype's sign bit."""
    classes = 300 if dtype == "int8" else 40000
    z = sg.variable("z", (2, classes))
    labels = sg.variable("l", (2,), dtype)
    loss = sg.cross_entropy(z, labels)
    bad = np.array([3, -1], dtype)
    with pytest.raises(sg.EvaluationError, match="label -1 is out of range"):
        sg.evaluate(loss, {z: np.zeros((2, classes)), labels: bad})
    f = sg.function([z, labels], [loss, sg.grad(loss, z)])
    with pytest.raises(sg.EvaluationError, match="label -1 is out of range"):
        f(np.zeros((2, classes)), bad)
    good = np.array([3, 100], dtype)
    np.testing.assert_allclose(f(np.zeros((2, classes)), good)[0], np.log(classes))


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "float32"])
def test_relu_keeps_its_dtype(dtype):
    """relu's inferred dtype is its input's: numpy's maximum(x, 0) would make bools int64."""
    x = sg.variable("x", (4,), dtype)
    v = np.array([0, 1, 1, 0], dtype) if dtype == "bool" else np.array([2, 0, 3, 1], dtype)
    y = sg.relu(x)
    for got in (sg.evaluate(y, {x: v}), sg.function([x], y)(v)):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, np.maximum(v, np.zeros((), dtype)))
