"""Property-based tests: random well-shaped graphs over the whole op set.

Each example is a random program (see ``graphgen``): a DAG with broadcasting,
random axes and indices, and shared subexpressions, over values kept away
from every kink and singularity.  On it we check

* forward values against an independent numpy computation, shapes and dtypes;
* first derivatives (reverse mode) against 4-point central differences, and
  second derivatives (reverse over reverse) against differences of the
  symbolic gradient; third derivatives in a separate test;
* ``<w, J u> == <J^T w, u>`` (forward against reverse mode), and the symmetry
  of the Hessian (forward-over-reverse against reverse-over-reverse);
* float32 graphs stay float32 and agree with float64;
* ``check_grads`` element by element on small graphs;
* save/load round trips; ``sg.evaluate == sg.function`` and ``sg.simplify``
  preserving values (these two run once those features are merged).

The CI profile is derandomized; see ``_hypothesis.py`` for the profiles and
the figures printed at the end of the session.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import graphgen as gg
import symgraph as sg
from _hypothesis import STATS, examples
from symgraph import serialize
from symgraph.testing import check_grads

H = 1e-6  # finite-difference step along a direction of max-norm 1 (far below gg.MARGIN)


class Case:
    """A program built in a fresh graph: variables, loss ``sum_k <R_k, out_k>`` and a feed."""

    def __init__(self, prog: gg.Program, dtype: str = "float64") -> None:
        self.prog = prog
        self.graph = sg.Graph("property")
        rng = np.random.default_rng(prog.seed ^ 0x5EED)
        with self.graph:
            self.nodes = gg.build(prog, dtype)
            self.xs = [n for n, i in zip(self.nodes, prog.instrs) if i.kind == "variable"]
            self.outs = [self.nodes[i] for i in prog.outputs]
            terms = [sg.sum(o * rng.standard_normal(o.shape).astype(dtype)) for o in self.outs]
            self.loss = sg.add_n(terms)
        self.feed = {x: prog.values[k].astype(dtype) for k, (x, i) in
                     enumerate(zip(self.nodes, prog.instrs)) if i.kind == "variable"}
        self.rng = rng
        STATS.nodes += len(self.graph)
        STATS.forward_ops.update(n.op.name for n in self.nodes)

    def direction(self) -> list[np.ndarray]:
        """One random array per variable, of max-norm 1 overall."""
        vs = [self.rng.standard_normal(x.shape) for x in self.xs]
        scale = max(float(np.max(np.abs(v), initial=0.0)) for v in vs) or 1.0
        return [v / scale for v in vs]

    def stopped(self) -> dict:
        """The program's stop_gradient nodes fed at their base values, so finite differences
        treat them as constants exactly as autodiff does.  (Only the program's own: one made
        by a derivative rule must not be frozen, or a wrong rule could hide behind it.)"""
        stops = [n for n, i in zip(self.nodes, self.prog.instrs) if i.kind == "stop_gradient"]
        return dict(zip(stops, sg.evaluate(stops, self.feed))) if stops else {}

    def along(self, direction: list[np.ndarray], outputs: list, fixed: dict) -> list[np.ndarray]:
        """4-point central differences of ``outputs`` along ``direction`` (O(H**4) truncation)."""
        vals = {}
        for k in (-2, -1, 1, 2):
            feed = {x: self.feed[x] + k * H * d for x, d in zip(self.xs, direction)}
            vals[k] = sg.evaluate(outputs, {**feed, **fixed})
        return [(8 * (vals[1][j] - vals[-1][j]) - (vals[2][j] - vals[-2][j])) / (12 * H)
                for j in range(len(outputs))]

    def note_derivative_ops(self, first_new: int) -> None:
        STATS.derivative_ops.update(n.op.name for n in self.graph.nodes[first_new:])


def _dot(a_list, b_list) -> tuple[float, float]:
    """``sum <a, b>`` and the sum of absolute products (the scale of its rounding error)."""
    prods = [np.asarray(a, np.float64) * np.asarray(b, np.float64) for a, b in zip(a_list, b_list)]
    return float(sum(np.sum(p) for p in prods)), float(sum(np.sum(np.abs(p)) for p in prods))


def _close(analytic: float, numeric: float, scale: float, rtol: float, what: str, prog) -> None:
    err = abs(analytic - numeric)
    key = what.split(":")[0]
    STATS.worst[key] = max(STATS.worst.get(key, 0.0), err / (rtol * (1.0 + scale)))
    assert err <= rtol * (1.0 + scale), (
        f"{what}: analytic {analytic!r} vs {numeric!r} (|diff| {err:.3g} > "
        f"{rtol:g} * (1 + {scale:.3g}))\n{prog!r}")


def _contract(nodes, arrays) -> sg.Node:
    return sg.add_n([sg.sum(n * sg.constant(a.astype(n.dtype))) for n, a in zip(nodes, arrays)])


# ---------------------------------------------------------------------------
# forward values, first and second derivatives, adjointness, Hessian symmetry
# ---------------------------------------------------------------------------


@examples(3)
@given(gg.programs())
def test_random_graphs_values_and_derivatives(prog):
    STATS.examples["values_and_derivatives"] += 1
    case = Case(prog)

    # forward values against numpy, with shapes and dtype kinds
    values = sg.evaluate(case.nodes, case.feed)
    for node, got, want in zip(case.nodes, values, prog.values):
        assert got.shape == want.shape == node.shape, prog
        assert got.dtype.kind == want.dtype.kind or (want.dtype.kind, got.dtype.kind) == ("i", "i")
        scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale, err_msg=repr(prog))
    STATS.checks["forward values == numpy"] += 1

    first_new = len(case.graph)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
        v1, v, u = case.direction(), case.direction(), case.direction()
        gv1 = _contract(grads, v1)                       # <g, v1>
        hv1 = sg.grad(gv1, case.xs)                      # H v1, reverse over reverse
        ju = sg.jvp(case.loss, case.xs, [sg.constant(a) for a in u])   # <R, J u>, forward
        hv = sg.jvp(grads, case.xs, [sg.constant(a) for a in v])       # H v, forward over reverse
    case.note_derivative_ops(first_new)
    got = sg.evaluate([*grads, *hv1, ju, *hv], case.feed)
    n = len(case.xs)
    g_val, hv1_val, ju_val, hv_val = got[:n], got[n:2 * n], got[2 * n], got[2 * n + 1:]
    for g, x in zip(g_val, case.xs):
        assert g.shape == x.shape and g.dtype == x.dtype

    fixed = case.stopped()
    d_loss, d_gv1 = case.along(v, [case.loss, gv1], fixed)

    a1, s1 = _dot(g_val, v)
    _close(a1, float(d_loss), s1, 1e-7, "first order: <grad, v> vs finite differences", prog)
    STATS.checks["order 1: reverse vs finite differences"] += 1

    a2, s2 = _dot(hv1_val, v)
    _close(a2, float(d_gv1), s2, 1e-7, "second order: <H v1, v> vs finite differences of "
           "<grad, v1>", prog)
    STATS.checks["order 2: reverse-over-reverse vs finite differences"] += 1

    a3, s3 = _dot(g_val, u)
    _close(float(ju_val), a3, s3, 1e-12, "adjoint: <w, J u> (forward) vs <J^T w, u> (reverse)",
           prog)
    STATS.checks["order 1: <w, J u> == <J^T w, u>"] += 1

    a4, s4 = _dot(hv_val, v1)
    _close(a4, a2, s2 + s4, 1e-12, "Hessian symmetry: <v1, H v> (forward over reverse) vs "
           "<H v1, v> (reverse over reverse)", prog)
    STATS.checks["order 2: forward-over-reverse == reverse-over-reverse"] += 1


@examples(0.6)
@given(gg.programs(max_steps=5))
def test_random_graphs_third_order(prog):
    STATS.examples["third_order"] += 1
    case = Case(prog)
    first_new = len(case.graph)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
        v1, v2, v = case.direction(), case.direction(), case.direction()
        hv1 = sg.grad(_contract(grads, v1), case.xs)
        t = _contract(hv1, v2)                           # <H v1, v2>
        third = sg.grad(t, case.xs)                      # D3[v1, v2, .]
    case.note_derivative_ops(first_new)
    third_val = sg.evaluate(third, case.feed)
    (d_t,) = case.along(v, [t], case.stopped())
    a, s = _dot(third_val, v)
    _close(a, float(d_t), s, 1e-6, "third order: D3[v1, v2, v] vs finite differences of "
           "<H v1, v2>", prog)
    STATS.checks["order 3: reverse^3 vs finite differences"] += 1


# ---------------------------------------------------------------------------
# float32 stays float32 and agrees with float64
# ---------------------------------------------------------------------------


@examples(0.8)
@given(gg.programs())
def test_random_graphs_float32_stays_float32(prog):
    STATS.examples["float32"] += 1
    c64, c32 = Case(prog, "float64"), Case(prog, "float32")
    for n64, n32 in zip(c64.nodes, c32.nodes):
        assert n32.shape == n64.shape
        if n64.dtype == np.float64:
            assert n32.dtype == np.float32, f"{n32!r} was promoted\n{prog!r}"
    with c64.graph:
        g64 = sg.grad(c64.loss, c64.xs)
    with c32.graph:
        g32 = sg.grad(c32.loss, c32.xs)
    assert c32.loss.dtype == np.float32 and all(g.dtype == np.float32 for g in g32)
    vals64 = sg.evaluate([*c64.nodes, *g64], c64.feed)
    vals32 = sg.evaluate([*c32.nodes, *g32], c32.feed)
    for k, (a, b) in enumerate(zip(vals32, vals64)):
        scale = 1.0 + float(np.max(np.abs(b), initial=0.0))
        what = "value" if k < len(c64.nodes) else "gradient"
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-3 * scale,
                                   err_msg=f"float32 {what} {k} drifts from float64\n{prog!r}")
    STATS.checks["float32 == float64 (values and gradients)"] += 1


# ---------------------------------------------------------------------------
# check_grads element by element
# ---------------------------------------------------------------------------


@examples(0.3)
@given(gg.programs(max_steps=4))
def test_check_grads_on_random_graphs(prog):
    STATS.examples["check_grads"] += 1
    if "stop_gradient" in prog.kinds:
        prog = _without_stop_gradient(prog)
    arrays = [prog.values[k] for k, i in enumerate(prog.instrs) if i.kind == "variable"]

    def fn(*xs):
        nodes = gg.build(prog, "float64", variables=list(xs))
        return [nodes[i] for i in prog.outputs]

    report = check_grads(fn, arrays, order=2, eps=1e-6)
    STATS.checks["check_grads order 2 (rev, fwd, both compositions)"] += 1
    assert report.compared > 0


def _without_stop_gradient(prog: gg.Program) -> gg.Program:
    """The same program with stop_gradient(x) replaced by x * 1.0 (same values, and now finite
    differences and autodiff agree about it)."""
    out = gg.Program(prog.seed)
    out.instrs = [gg.Instr("multiply", (i.args[0], ("py", 1.0)), {})
                  if i.kind == "stop_gradient" else i for i in prog.instrs]
    out.values, out.outputs = prog.values, prog.outputs
    return out


# ---------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------


@examples(0.8)
@given(gg.programs())
def test_save_load_round_trip(prog):
    STATS.examples["save_load"] += 1
    case = Case(prog)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
        hv = sg.grad(_contract(grads, case.direction()), case.xs)
    outs = [case.loss, *grads, *hv, *case.outs]

    # the whole graph: same nodes, roles, orders, names; bitwise-equal values
    loaded = serialize.loads(serialize.dumps(case.graph))
    assert isinstance(loaded, sg.Graph) and len(loaded) == len(case.graph)
    for a, b in zip(case.graph.nodes, loaded.nodes):
        assert (a.op.name, a.shape, a.dtype, a.role, a.order, a.name, [i.id for i in a.inputs]) == \
            (b.op.name, b.shape, b.dtype, b.role, b.order, b.name, [i.id for i in b.inputs])
    feed2 = {v.name: case.feed[x] for x, v in zip(case.xs, [loaded.nodes[x.id] for x in case.xs])}
    want = sg.evaluate(outs, case.feed)
    got = sg.evaluate([loaded.nodes[o.id] for o in outs], feed2)
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and np.array_equal(a, b), prog

    # a list of nodes: comes back as a list in a new graph; its gradients still work
    saved = serialize.loads(serialize.dumps([case.loss, *case.xs]))
    loss2, xs2 = saved[0], saved[1:]
    assert [x.name for x in xs2] == [x.name for x in case.xs]
    with loss2.graph:
        grads2 = sg.grad(loss2, xs2)
    got = sg.evaluate([loss2, *grads2], dict(zip(xs2, [case.feed[x] for x in case.xs])))
    want = sg.evaluate([case.loss, *grads], case.feed)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-13, err_msg=repr(prog))
    STATS.checks["save/load round trip (values, gradients of the loaded graph)"] += 1


# ---------------------------------------------------------------------------
# features merged from other work: compiled functions and simplification
# ---------------------------------------------------------------------------


@pytest.mark.skipif(getattr(sg, "function", None) is None,
                    reason="sg.function (numpy code generation) is not merged into this branch yet")
@examples(0.8)
@given(gg.programs())
def test_evaluate_equals_function(prog):
    STATS.examples["evaluate_vs_function"] += 1
    case = Case(prog)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
    outs = [case.loss, *grads, *case.outs]
    fn = sg.function(case.xs, outs)
    got = fn(*[case.feed[x] for x in case.xs])
    want = sg.evaluate(outs, case.feed)
    assert len(got) == len(want)
    for a, b in zip(want, got):
        b = np.asarray(b)
        assert b.shape == a.shape and b.dtype == a.dtype, prog
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=repr(prog))
    STATS.checks["sg.evaluate == sg.function"] += 1


@pytest.mark.skipif(getattr(sg, "simplify", None) is None,
                    reason="sg.simplify (graph rewriting) is not merged into this branch yet")
@examples(0.8)
@given(gg.programs())
def test_simplify_preserves_values(prog):
    STATS.examples["simplify"] += 1
    case = Case(prog)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
    outs = [case.loss, *grads, *case.outs]
    simplified = sg.simplify(outs)
    assert len(simplified) == len(outs)
    want = sg.evaluate(outs, case.feed)
    got = sg.evaluate(list(simplified), case.feed)
    for a, b, node in zip(want, got, simplified):
        assert node.shape == b.shape == a.shape, prog
        scale = 1.0 + float(np.max(np.abs(a), initial=0.0))
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12 * scale, err_msg=repr(prog))
    # derivatives of the simplified loss agree too
    with case.graph:
        grads_s = sg.grad(simplified[0], case.xs)
    for a, b in zip(sg.evaluate(grads, case.feed), sg.evaluate(grads_s, case.feed)):
        scale = 1.0 + float(np.max(np.abs(a), initial=0.0))
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12 * scale, err_msg=repr(prog))
    STATS.checks["sg.simplify preserves values and gradients"] += 1
