"""sg.function on graphs with loops and branches: Python for/while loops and if/else over
bodies compiled once, against the evaluator, their derivatives, the standalone source,
what a function that needs no gradient records, and dtypes."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symgraph as sg

rng = np.random.default_rng(16)


def _flat(tree):
    leaves, _ = sg.structure.flatten(tree, lambda t: isinstance(t, np.ndarray))
    return leaves


def _same(got, want, rtol=1e-10, atol=1e-12):
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _standalone(f, *args):
    """Run ``f.source`` in a fresh namespace (it imports numpy itself)."""
    namespace: dict = {}
    exec(f.source, namespace)
    return namespace["compiled"](*args)


def check(inputs, outputs, values, rtol=1e-10, atol=1e-12):
    """function == evaluate, and the source alone gives the same; returns the function."""
    f = sg.function(inputs, outputs)
    got = f(*values)
    want = sg.evaluate(outputs, dict(zip(inputs, values)))
    _same(got, want, rtol, atol)
    assert f.standalone, f.source
    _same(_standalone(f, *values), _flat(got), 0, 0)
    assert f(*values) is not None  # a second call (reused workspace) gives the same
    _same(f(*values), got, 0, 0)
    return f


def _tuple_of(f, op_name="scan"):
    """The parts stored in the tuples of ``op_name`` loops in ``f.source`` (None = not kept)."""
    found = re.findall(rf"^    ({op_name}\d+) = \((.*), \)$", f.source, re.M)
    return [(name, parts.split(", ")) for name, parts in found]


# ---------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------

def rnn(T=6, B=3, H=4, I=2, checkpoint=None, dtype="float64"):
    W = sg.variable("W", (H, H), dtype)
    U = sg.variable("U", (I, H), dtype)
    w = sg.variable("w", (H,), dtype)
    h0 = sg.variable("h0", (B, H), dtype)
    xs = sg.variable("xs", (T, B, I), dtype)
    tg = sg.variable("tg", (T, B), dtype)

    def step(h, x):
        h = sg.tanh(h @ W + x @ U)
        return h, h @ w

    _, ys = sg.scan(step, h0, xs, checkpoint=checkpoint)
    loss = sg.mean(sg.square(ys - tg))
    inputs = [W, U, w, h0, xs, tg]
    values = [(rng.standard_normal(v.shape) * 0.5).astype(dtype) for v in inputs]
    return inputs, values, loss


def test_rnn_loss_and_gradient():
    with sg.Graph():
        inputs, values, loss = rnn()
        grads = sg.grad(loss, inputs[:4])
        f = check(inputs, [loss, *grads], values)
    # each body is a function of the source, called from a real loop
    assert len(re.findall(r"^def _body\d+\(", f.source, re.M)) == 2
    assert re.search(r"for scan\d+_t in range\(6\):", f.source)
    assert re.search(r"for scan\d+_t in range\(6 - 1, -1, -1\):", f.source)
    assert not re.search(r"_f\d+ = np.asfortranarray", f.source)  # a short loop: no relayout


def test_long_loops_get_invariant_matrices_in_fortran_order():
    with sg.Graph():
        inputs, values, loss = rnn(T=12, H=5)
        grads = sg.grad(loss, inputs[:4])
        f = check(inputs, [loss, *grads], values)
    # h @ W at every step: W once in the layout BLAS multiplies a few rows by fastest
    assert re.search(r"scan\d+_f\d+ = np.asfortranarray\(W\)", f.source)


def test_forward_only_function_records_nothing():
    with sg.Graph():
        inputs, values, loss = rnn(T=7)
        sg.grad(loss, inputs[:3])  # the loop now has records, for the gradient
        f = check(inputs, loss, values)
        g = check(inputs, sg.grad(loss, inputs[0]), values)
    (name, parts), = _tuple_of(f)
    assert parts[2:] == ["None"] * (len(parts) - 2) and len(parts) > 2  # carry, ys only
    assert "(8, 3, 4)" not in f.source  # no trajectory allocated
    assert "(8, 3, 4)" in g.source


def test_unused_ys_are_not_stacked():
    with sg.Graph():
        x0 = sg.variable("x0", (3,))

        def step(c, _):
            return c * 0.5 + 1.0, (sg.sum(c), sg.exp(c))

        final, (s, e) = sg.scan(step, x0, length=5)
        f = check([x0], [final, e], [rng.standard_normal(3)])
    (name, parts), = _tuple_of(f)
    assert parts[1] == "None"
    assert "np.sum" not in f.source


def test_carry_tuples_and_dicts():
    with sg.Graph():
        a, b = sg.variable("a", (3,)), sg.variable("b", (2, 3))
        xs = sg.variable("xs", (5, 3))
        k = sg.variable("k", ())

        def step(carry, x):
            s, d = carry
            new = {"m": d["m"] * 0.9 + sg.sin(s) * x[None, :], "n": d["n"] + k}
            return (s + x * k, new), sg.sum(new["m"]) * s

        (s, d), ys = sg.scan(step, (a, {"m": b, "n": k * 0}), xs)
        loss = sg.sum(ys) + sg.sum(d["m"] ** 2) + d["n"] + sg.sum(s)
        ins = [a, b, xs, k]
        vals = [rng.standard_normal(v.shape) for v in ins]
        check(ins, [s, d, ys, loss, sg.grad(loss, ins)], vals)


def test_scan_without_xs_and_reverse():
    with sg.Graph():
        c0, p = sg.variable("c0", (4,)), sg.variable("p", (4,))
        xs = sg.variable("xs", (6, 4))
        final, ys = sg.scan(lambda c, _: (sg.sin(c) * p + 0.1, c * 2), c0, length=5)
        rfinal, rys = sg.scan(lambda c, x: (c * 0.5 + x * p, sg.cumsum(c, 0)), c0, xs,
                              reverse=True)
        loss = sg.sum(ys * ys) + sg.sum(final) + sg.sum(rys[1:] * rys[:-1]) + sg.sum(rfinal)
        ins = [c0, p, xs]
        vals = [rng.standard_normal(v.shape) for v in ins]
        check(ins, [final, ys, rfinal, rys, loss, sg.grad(loss, ins)], vals)
        # second order: a hessian-vector product through both loops
        v = [sg.constant(rng.standard_normal(i.shape)) for i in ins]
        check(ins, sg.hvp(loss, ins, v), vals)
        check(ins, sg.hvp(loss, ins, v, mode="rev"), vals)


def test_zero_length_scan():
    with sg.Graph():
        c0 = sg.variable("c0", (2,))
        xs = sg.variable("xs", (0, 2))
        final, ys = sg.scan(lambda c, x: (c + x, c * x), c0, xs)
        loss = sg.sum(final * final) + sg.sum(ys)
        check([c0, xs], [final, ys, loss, sg.grad(loss, [c0, xs])],
              [rng.standard_normal(2), np.zeros((0, 2))])


@pytest.mark.parametrize("T,k", [(10, 3), (9, 3), (7, 1), (5, 7)])
def test_checkpointed_gradient_equals_stored(T, k):
    with sg.Graph():
        inputs, values, loss = rnn(T=T, checkpoint=k)
        stored_inputs, _, stored_loss = rnn(T=T)
        grads = sg.grad(loss, inputs[:4])
        f = check(inputs, [loss, *grads], values)
        want = sg.evaluate(sg.grad(stored_loss, stored_inputs[:4]), dict(zip(stored_inputs, values)))
    _same(f(*values)[1:], want)


def test_nested_scan():
    with sg.Graph():
        A = sg.variable("A", (3, 3))
        c0 = sg.variable("c0", (3,))
        xs = sg.variable("xs", (4, 2, 3))

        def outer(c, xrow):
            def inner(d, x):
                d = sg.tanh(A @ d + x)
                return d, sg.sum(d * c)
            d, zs = sg.scan(inner, c, xrow)
            return d * 0.5, sg.sum(zs)

        final, ys = sg.scan(outer, c0, xs)
        loss = sg.sum(ys) + sg.sum(final ** 2)
        ins = [A, c0, xs]
        vals = [rng.standard_normal(v.shape) * 0.5 for v in ins]
        f = check(ins, [final, ys, loss, sg.grad(loss, ins)], vals)
        v = [sg.constant(rng.standard_normal(i.shape)) for i in ins]
        check(ins, sg.hvp(loss, ins, v), vals)
    assert len(re.findall(r"^def _body\d+\(", f.source, re.M)) >= 4


# ---------------------------------------------------------------------------
# while_loop
# ---------------------------------------------------------------------------

def _newton_sqrt(max_steps):
    a = sg.variable("a", ())
    x0 = sg.variable("x0", ())
    x, n = sg.while_loop(lambda c: sg.abs(c[0] * c[0] - a) > 1e-10 * a,
                         lambda c: (0.5 * (c[0] + a / c[0]), c[1] + 1),
                         (x0, np.int64(0)), max_steps=max_steps)
    return a, x0, x, n


@pytest.mark.parametrize("a_value,x0_value", [(2.0, 1.0), (50.0, 1.0), (9.0, 3.0), (1e6, 1.0)])
def test_while_loop_trip_counts_and_gradients(a_value, x0_value):
    with sg.Graph():
        a, x0, x, n = _newton_sqrt(max_steps=40)
        y = x * x * x + a
        grads = sg.grad(y, [a, x0])
        f = check([a, x0], [x, n, y, grads, sg.jvp(x, [a, x0], [1.0, 0.5])],
                  [np.float64(a_value), np.float64(x0_value)])
    x_v, n_v, *_ = f(a_value, x0_value)
    assert abs(x_v - np.sqrt(a_value)) < 1e-6 * np.sqrt(a_value)
    assert (n_v == 0) == (x0_value ** 2 == a_value)


def test_while_loop_max_steps_cap_and_zero_steps():
    with sg.Graph():
        c0 = sg.variable("c0", (2,))
        s = sg.variable("s", ())
        capped = sg.while_loop(lambda c: sg.sum(c) < 100.0, lambda c: c * s + 1.0, c0,
                               max_steps=3)
        free = sg.while_loop(lambda c: sg.sum(c) < 100.0, lambda c: c * s + 1.0, c0)
        none = sg.while_loop(lambda c: sg.sum(c) < 100.0, lambda c: c * s + 1.0, c0,
                             max_steps=0)
        loss = sg.sum(capped * capped) + sg.sum(none)
        ins = [c0, s]
        for c_value in ([0.5, 0.25], [60.0, 50.0]):  # three steps (capped), zero steps
            vals = [np.array(c_value), np.float64(1.5)]
            check(ins, [capped, free, none, loss, sg.grad(loss, ins)], vals)
        f = sg.function(ins, capped)
    np.testing.assert_allclose(f([0.5, 0.25], 1.5),
                               ((np.array([0.5, 0.25]) * 1.5 + 1) * 1.5 + 1) * 1.5 + 1)


# ---------------------------------------------------------------------------
# cond
# ---------------------------------------------------------------------------

def test_cond_runs_one_branch():
    with sg.Graph():
        x = sg.variable("x", (3,))
        p = sg.variable("p", ())
        # the untaken branch overflows (x negative) or takes the log of negatives (x positive)
        y = sg.cond(p > 0, lambda v: sg.exp(v * -1000.0), lambda v: sg.log(-v), x)
        loss = sg.sum(y)
        ins = [x, p]
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for p_value, x_value in ((1.0, [0.1, 0.2, 0.5]), (-1.0, [-1.0, -2.0, -3.0])):
                vals = [np.array(x_value), np.float64(p_value)]
                f = check(ins, [y, loss, sg.grad(loss, x), sg.jvp(y, x, np.ones(3))], vals)
                g = f(*vals)[2]
                assert np.all(np.isfinite(g))
        assert re.search(r"^    if ", f.source, re.M) and "else:" in f.source


def test_scan_inside_cond_and_cond_inside_scan():
    with sg.Graph():
        c0 = sg.variable("c0", (3,))
        xs = sg.variable("xs", (5, 3))
        p = sg.variable("p", ())

        def step(c, x):
            c = sg.cond(sg.sum(x) > 0, lambda a, b: sg.sin(a) + b, lambda a, b: a * b, c, x)
            return c, sg.sum(c * c)

        def looped(a):
            return sg.scan(step, a, xs)

        final, ys = sg.cond(p > 0, looped, lambda a: (a * 2.0, xs[:, 0] * a[0]), c0)
        loss = sg.sum(ys) + sg.sum(final ** 2)
        ins = [c0, xs, p]
        for p_value in (1.0, -1.0):
            vals = [rng.standard_normal(3), rng.standard_normal((5, 3)), np.float64(p_value)]
            check(ins, [final, ys, loss, sg.grad(loss, [c0, xs])], vals)
            v = [sg.constant(rng.standard_normal(3)), sg.constant(rng.standard_normal((5, 3)))]
            check(ins, sg.hvp(loss, [c0, xs], v), vals)


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

def test_float32_stays_float32():
    with sg.Graph():
        inputs, values, loss = rnn(dtype="float32", checkpoint=2)
        grads = sg.grad(loss, inputs[:4])
        f = check(inputs, [loss, *grads], values, rtol=1e-5, atol=1e-6)
    for r in _flat(f(*values)):
        assert r.dtype == np.float32
    assert "float64" not in f.source


# ---------------------------------------------------------------------------
# buffers: what the loop hands over, what the function may write in place
# ---------------------------------------------------------------------------

def test_carries_passed_through_or_shared_are_never_written_in_place():
    with sg.Graph():
        x = sg.variable("x", (3, 3))
        a = sg.exp(x)  # a buffer of the function's own, read again after the loop

        def step(c, _):
            keep, acc, s = c
            new = acc + keep  # elementwise: in place into acc's buffer when allowed
            return (keep, new, new), sg.sum(new)

        (keep, acc, s), ys = sg.scan(step, (a, a * 2.0, a), length=4)
        after = a * 3.0 + keep  # may reuse a's buffer only once nothing reads keep
        out = [keep, acc, s, ys, after, acc + s, sg.sin(keep) * 2.0]
        check([x], out, [rng.standard_normal((3, 3))])
        zero = sg.scan(step, (a, a * 2.0, a), length=0)[0][0]
        check([x], [zero, a * 3.0 + zero, sg.exp(zero)], [rng.standard_normal((3, 3))])


def test_accumulating_carries_are_updated_in_place(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # gemm only on one thread (see fusion)
    with sg.Graph():
        inputs, values, loss = rnn(T=5)
        f = check(inputs, sg.grad(loss, inputs[:2]), values)
    grad_body = [b for b in re.split(r"\n(?=def )", f.source) if "acc0" in b.split("\n")[0]]
    (body,) = grad_body
    assert "gemm_accumulate(acc0" in body  # acc0 += h.T @ g: gemm into acc0's own buffer
    assert re.search(r"scan\d+_c\d+ = np.broadcast_to\(.*\)\.copy\(\)", f.source)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matmul_accumulate_fusion(layout, dtype, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    with sg.Graph():
        a, b, c = (sg.variable(n, s, dtype) for n, s in (("a", (5, 3)), ("b", (3, 4)),
                                                          ("c", (5, 4))))
        out = [sg.exp(c) + a @ b,  # exp(c) is dead after: the product is added into it
               sg.tanh(c) + (a * 2.0) @ b, sg.sin(c) + a[:, :2] @ b[1:].T.T,
               sg.cos(c) + (a * 3.0) @ b, sg.cos(c)]  # cos(c) lives on: a sum of its own
        vals = [rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((5, 4))]
        if layout == "F":
            vals = [np.asfortranarray(v) for v in vals]
        elif layout == "strided":
            vals = [np.repeat(v, 2, axis=1)[:, ::2] for v in vals]
        vals = [v.astype(dtype) for v in vals]
        f = sg.function([a, b, c], out)
        got = f(*vals)
        _same(got, sg.evaluate(out, dict(zip([a, b, c], vals))),
              rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    assert f.source.count("gemm_accumulate(") == 4  # the definition and three calls
    assert re.search(r"^    (matmul_acc\d+) = .* @ .*\n    \1 \+= cos\d+$", f.source, re.M)
    assert got[0].dtype == dtype


def test_matmul_accumulate_keeps_to_numpys_blas_when_blas_has_threads(monkeypatch):
    """numpy's and scipy's OpenBLAS pools would fight for the cores step after step: with
    BLAS threads the in-place accumulation is numpy's ``+=`` of a product, not scipy's gemm."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with sg.Graph():
        inputs, values, loss = rnn(T=5)
        f = check(inputs, sg.grad(loss, inputs[:2]), values)
    assert "gemm_accumulate" not in f.source and "scipy_blas" not in f.source
    assert re.search(r"acc0 \+= .* @ ", f.source)


def test_loops_with_a_memory_budget_and_integer_carries():
    with sg.Graph():
        inputs, values, loss = rnn(T=6, checkpoint=2)
        grads = sg.grad(loss, inputs[:3])
        f = sg.function(inputs, grads, memory_budget=0)
        _same(f(*values), sg.evaluate(grads, dict(zip(inputs, values))))
        n0 = sg.variable("n0", (), "int64")
        x0 = sg.variable("x0", (2,))
        x, n = sg.while_loop(lambda c: c[1] < 5, lambda c: (sg.sqrt(c[0] + 1.0), c[1] + 2),
                             (x0, n0), max_steps=10)
        ins = [x0, n0]
        check(ins, [x, n, sg.grad(sg.sum(x), x0)], [np.array([1.0, 2.0]), np.int64(0)])
        check(ins, [x, n, sg.grad(sg.sum(x), x0)], [np.array([1.0, 2.0]), np.int64(7)])


def test_a_loop_node_itself_as_an_output():
    with sg.Graph():
        c0 = sg.variable("c0", (3,))
        final, ys = sg.scan(lambda c, _: (c * 2.0, c), c0, length=3)
        f = sg.function([c0], [final.inputs[0], ys])
        got = f(np.ones(3))
        want = sg.evaluate([final.inputs[0], ys], {c0: np.ones(3)})
    assert got[0].dtype == object and got[0].shape == ()
    _same(list(got[0][()]) + [got[1]], list(want[0][()]) + [want[1]], 0, 0)


def test_a_dying_initial_carry_is_handed_over_not_copied():
    with sg.Graph():
        x = sg.variable("x", (4, 4))
        acc0 = sg.exp(x)  # the function's own buffer, read by nothing after the loop

        def step(acc, _):
            return acc * 0.5 + x, None

        final, _ = sg.scan(step, acc0, length=3)
        other = sg.sin(x) * 2.0
        kept, _ = sg.scan(step, other, length=3)
        f = check([x], [final, kept, other], [rng.standard_normal((4, 4))])
    assert "acc += " in f.source or re.search(r"^    carry \*= ", f.source, re.M)  # in place
    assert re.search(r"scan\d+_c0 = exp\d+$", f.source, re.M)  # handed over: no copy
    assert re.search(r"scan\d+_c0 = multiply\d+\.copy\(\)$|scan\d+_c0 = sin\d+\.copy\(\)$",
                     f.source, re.M)  # read again after its loop: a copy


def _inputs_kept(f, values):
    """Two calls of ``f`` agree and leave every input array as it was."""
    before = [np.array(v, copy=True) for v in values]
    first = f(*values)
    second = f(*values)
    for v, b in zip(values, before):
        np.testing.assert_array_equal(v, b, strict=True)
    _same(second, first, 0, 0)


def _function_def(source, param):
    """The text of the one generated function whose parameters include ``param``."""
    (found,) = [d for d in re.split(r"\n(?=def )", source)
                if re.match(rf"def \w+\((.*, )?{param}[,)]", d)]
    return found


@pytest.mark.parametrize("T,k", [(11, 2), (11, 3), (11, 4), (13, 5), (6, 4), (8, 8)])
def test_checkpointed_scans_equal_the_evaluator_and_keep_their_inputs(T, k):
    with sg.Graph():
        inputs, values, loss = rnn(T=T, H=5, checkpoint=k)
        outputs = [loss, *sg.grad(loss, inputs)]
        f = check(inputs, outputs, values)
        _inputs_kept(f, values)


def test_a_checkpointed_segment_continues_the_accumulators_without_a_copy():
    with sg.Graph():
        inputs, values, loss = rnn(T=12, checkpoint=3)
        f = check(inputs, [loss, *sg.grad(loss, inputs[:4])], values)
        _inputs_kept(f, values)
    segment = _function_def(f.source, "checkpoint0")  # forward k steps, then their sweep
    assert ".copy()" not in segment
    for name in ("ct0", "acc0", "acc1", "acc2"):  # the reverse sweep starts from them
        assert re.search(rf"^    scan\d+_c\d+ = {name}$", segment, re.M), segment
    # the loop over segments copies its initial (zero) accumulators once, not each segment
    assert len(re.findall(r"= np.broadcast_to\(.*\)\.copy\(\)$", f.source, re.M)) == 4


def test_loops_inside_a_loop_body_make_no_fortran_copies():
    with sg.Graph():
        inputs, values, loss = rnn(T=20, H=5, checkpoint=8)  # segments of 8 steps
        f = check(inputs, [loss, *sg.grad(loss, inputs[:4])], values)
    # the forward pass (20 steps) gets W in Fortran order once; each segment's recomputation
    # would copy it again, on top of the checkpoints and accumulators the sweep holds
    assert re.findall(r"= np.asfortranarray\((\w+)\)", f.source) == ["W"]
    assert "asfortranarray" not in _function_def(f.source, "checkpoint0")


def test_nested_loops_hand_their_carries_down_and_keep_the_inputs():
    with sg.Graph():
        A = sg.variable("A", (3, 3))
        c0 = sg.variable("c0", (3,))
        xs = sg.variable("xs", (4, 2, 3))

        def outer(c, xrow):
            def inner(d, x):
                return d * 0.5 + sg.tanh(A @ d + x), sg.sum(x)  # d * 0.5 into d's buffer
            d, zs = sg.scan(inner, c, xrow)  # starts from the outer carry: nothing else reads it
            return d, sg.sum(zs)

        final, ys = sg.scan(outer, c0, xs)
        loss = sg.sum(ys) + sg.sum(final ** 2)
        ins = [A, c0, xs]
        vals = [rng.standard_normal(v.shape) * 0.5 for v in ins]
        f = check(ins, [final, ys, loss], vals)
        _inputs_kept(f, vals)
        g = check(ins, [loss, *sg.grad(loss, ins)], vals)
        _inputs_kept(g, vals)
        v = [sg.constant(rng.standard_normal(i.shape)) for i in ins]
        _inputs_kept(check(ins, sg.hvp(loss, ins, v), vals), vals)
    # the outer body hands its carry to the inner loop, which writes into it: the outer
    # loop copies the initial value once
    assert re.search(r"^    scan\d+_c0 = carry$", f.source, re.M), f.source
    assert re.search(r"^    scan\d+_c0 = c0\.copy\(\)$", f.source, re.M)
    assert f.source.count(".copy()") == 1


def test_loops_that_may_run_no_step_still_return_arrays_of_their_own():
    with sg.Graph():
        x0, A = sg.variable("x0", (3,)), sg.variable("A", (3, 3))
        (x,) = sg.while_loop(lambda c: sg.sum(c[0]) < 10.0, lambda c: (A @ c[0],), (x0,),
                             max_steps=20)
        n = sg.variable("n", (), "int64")
        ins = [x0, A]
        f = check(ins, [x * 3.0], [np.full(3, 5.0), np.eye(3) * 2.0])  # no step runs
        assert re.search(r"^    (item\d+) \*= ", f.source, re.M)  # x * 3 into x's buffer
        assert re.search(r"^    if while_loop\d+_t == 0:\n        (\w+) = \1\.copy\(\)$",
                         f.source, re.M)
        for x_value in (np.full(3, 5.0), np.ones(3)):
            _inputs_kept(f, [x_value, np.eye(3) * 2.0])
        zero = sg.scan(lambda c, _: (A @ c, None), x0, length=0)[0]
        g = check(ins, [zero * 3.0, sg.exp(zero)], [np.ones(3), np.eye(3)])
        _inputs_kept(g, [np.ones(3), np.eye(3)])
        # a reverse sweep over a recorded trip count (a dynamic loop) that may run no step
        (y, m) = sg.while_loop(lambda c: c[1] < 3, lambda c: (sg.tanh(A @ c[0]), c[1] + 1),
                               (x0, n), max_steps=5)
        loss = sg.sum(y * y)
        grads = [loss, *sg.grad(loss, [x0, A])]
        for n_value in (0, 5):
            vals = [rng.standard_normal(3), rng.standard_normal((3, 3)), np.int64(n_value)]
            _inputs_kept(check([x0, A, n], grads, vals), vals)


def test_a_branch_returns_arrays_of_its_own_or_its_operands_as_they_are():
    with sg.Graph():
        x, p = sg.variable("x", (3,)), sg.variable("p", ())
        e = sg.exp(x)  # a buffer of the function's own, read again after the branch
        made, same = sg.cond(p > 0, lambda a: (a * 2.0, a), lambda a: (sg.sin(a) + 1.0, a), e)
        out = [made * 3.0, same * 3.0, e + 1.0]  # same * 3 must not go into e's buffer
        grad = sg.grad(sg.sum(made * same), x)
        for p_value in (1.0, -1.0):
            vals = [rng.standard_normal(3), np.float64(p_value)]
            f = check([x, p], out, vals)
            _inputs_kept(f, vals)
            _inputs_kept(check([x, p], [*out, grad], vals), vals)
    assert re.search(r"^    (item\d+) \*= ", f.source, re.M)  # made * 3 into made's buffer


def test_check_finite_names_the_step_and_the_body_node():
    with sg.Graph():
        c0, xs = sg.variable("c0", (3,)), sg.variable("xs", (4, 3))
        _, ys = sg.scan(lambda c, x: (c * x, sg.log(c)), c0, xs)
        loss = sg.sum(ys)
        f = sg.function([c0, xs], [loss, sg.grad(loss, c0)], check_finite=True)
        bad = np.ones((4, 3))
        bad[1, 1] = -1.0
        _same(f(np.ones(3), np.ones((4, 3))),
              sg.evaluate([loss, sg.grad(loss, c0)], {c0: np.ones(3), xs: np.ones((4, 3))}))
        with pytest.warns(RuntimeWarning), pytest.raises(sg.NonFiniteError,
                                                         match=r"scan node #\d+, step 2 of 4: body node #\d+ log"):
            f(np.ones(3), bad)
