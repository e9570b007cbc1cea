"""``sg.jacobian`` and ``sg.hessian`` as one batched sweep: values, modes, blocks, graph size."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad
from test_sparsity_rules import fd_jacobian

rng = np.random.default_rng(7)


def _model(x, a, b):
    return sg.sum(sg.tanh(a @ x)) + x @ (b @ x)


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_matches_finite_differences(mode):
    x = sg.variable("x", (3, 2))
    w = rng.standard_normal((4, 3))
    y = sg.tanh(w @ x) * sg.exp(x[0])
    jac = sg.jacobian(y, x, mode=mode)
    assert jac.shape == (4, 2, 3, 2)
    a = rng.standard_normal((3, 2))
    got = sg.evaluate(jac, {x: a}).reshape(8, 6)
    want = fd_jacobian(lambda v: sg.evaluate(y, {x: v}), a)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_jacobian_of_several_inputs_mirrors_their_structure():
    x, z = sg.variable("x", (3,)), sg.variable("z", ())
    y = sg.sin(x) * z
    jac = sg.jacobian(y, {"x": x, "z": z}, mode="rev")
    a, c = rng.standard_normal(3), 0.7
    got = sg.evaluate(jac, {x: a, z: c})
    np.testing.assert_allclose(got["x"], np.diag(np.cos(a) * c), atol=1e-14)
    np.testing.assert_allclose(got["z"], np.sin(a), atol=1e-14)
    fwd = sg.evaluate(sg.jacobian(y, [x, z], mode="fwd"), {x: a, z: c})
    np.testing.assert_allclose(fwd[0], got["x"], atol=1e-14)
    np.testing.assert_allclose(fwd[1], got["z"], atol=1e-14)


def test_hessian_matches_the_closed_form():
    n = 6
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    x = sg.variable("x", (n,))
    h = sg.hessian(_model(x, a, b), x)
    v = rng.standard_normal(n)
    t = np.tanh(a @ v)
    want = (a.T * (-2 * t * (1 - t * t))) @ a + b + b.T
    np.testing.assert_allclose(sg.evaluate(h, {x: v}), want, rtol=1e-12, atol=1e-12)
    f = sg.function([x], h)
    np.testing.assert_allclose(f(v), want, rtol=1e-12, atol=1e-12)


def test_hessian_blocks_of_several_inputs():
    x, z = sg.variable("x", (2, 2)), sg.variable("z", (3,))
    y = sg.sum(sg.exp(x)) * sg.sum(z ** 3) + sg.sum(x[0]) * z[1]
    h = sg.hessian(y, [x, z])
    av, zv = rng.standard_normal((2, 2)), rng.standard_normal(3)
    got = sg.evaluate(h, {x: av, z: zv})
    assert [[b.shape for b in row] for row in got] == [[(2, 2, 2, 2), (2, 2, 3)],
                                                      [(3, 2, 2), (3, 3)]]
    g = sg.grad(y, [x, z])
    for i, wrt_i in enumerate([x, z]):
        for j, (wrt_j, val) in enumerate([(x, av), (z, zv)]):
            def grad_i(v, j=j):
                feed = {x: av, z: zv}
                feed[[x, z][j]] = v
                return sg.evaluate(g[i], feed)

            want = fd_jacobian(grad_i, val).reshape(got[i][j].shape)
            np.testing.assert_allclose(got[i][j], want, rtol=1e-6, atol=1e-7)


def test_hessian_graph_does_not_grow_with_n():
    sizes = {}
    for n in (100, 400):
        with sg.Graph() as g:
            x = sg.variable("x", (n,))
            sg.hessian(_model(x, np.ones((n, n)), np.ones((n, n))), x)
            sizes[n] = len(g)
    assert sizes[400] < 2 * sizes[100], sizes


def test_jacobian_graph_does_not_grow_with_n():
    sizes = {}
    for n in (50, 500):
        with sg.Graph() as g:
            x = sg.variable("x", (n,))
            sg.jacobian(sg.cumsum(sg.sin(x)) * x[::-1], x, mode="rev")
            sg.jacobian(sg.cumsum(sg.sin(x)) * x[::-1], x, mode="fwd")
            sizes[n] = len(g)
    assert sizes[500] == sizes[50], sizes


def test_hessian_third_order_through_the_batched_sweep():
    """The Hessian is an ordinary node: its gradient is the third derivative."""
    x = sg.variable("x", (3,))
    y = sg.sum(x ** 4)
    third = sg.grad(sg.sum(sg.hessian(y, x)), x)
    a = rng.standard_normal(3)
    np.testing.assert_allclose(sg.evaluate(third, {x: a}), 24 * a, rtol=1e-12)


def test_jacobian_of_empty_and_scalar_shapes():
    x = sg.variable("x", (0,))
    assert sg.evaluate(sg.jacobian(sg.sin(x), x), {x: np.zeros(0)}).shape == (0, 0)
    s = sg.variable("s", ())
    assert float(sg.evaluate(sg.hessian(s ** 3, s), {s: 2.0})) == pytest.approx(12.0)
    y = sg.variable("y", (2,))
    out = sg.evaluate(sg.jacobian(sg.sum(y * y), y), {y: np.array([1.0, 2.0])})
    np.testing.assert_allclose(out, [2.0, 4.0])


def test_hessian_vector_product_agrees_with_the_batched_hessian():
    n = 5
    a = rng.standard_normal((n, n))
    x = sg.variable("x", (n,))
    y = sg.sum(sg.log1p(sg.exp(a @ x)))
    v = rng.standard_normal(n)
    xv = rng.standard_normal(n)
    h, hv = sg.evaluate([sg.hessian(y, x), sg.hvp(y, x, v)], {x: xv})
    np.testing.assert_allclose(h @ v, hv, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h, numeric_grad_matrix(y, x, xv), rtol=1e-5, atol=1e-7)


def numeric_grad_matrix(y, x, at):
    g = sg.grad(y, x)
    return np.stack([numeric_grad(lambda v: float(sg.evaluate(g, {x: v})[k]), at)
                     for k in range(at.size)])


def test_readme_vectorize_snippet_prints_what_it_says():
    import contextlib
    import io
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Batching: `sg.vectorize`", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = "\n".join(line[2:] for line in code.splitlines() if line.startswith("# "))
    out = io.StringIO()
    with sg.Graph(), contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue().strip() == expected.strip()


def test_jacobian_dtype_does_not_depend_on_the_mode():
    x = sg.variable("x", (3,), "float32")
    y = sg.cast(sg.sin(x), "float64") * 2.0
    for mode in ("fwd", "rev"):
        assert sg.jacobian(y, x, mode=mode).dtype == np.float64
