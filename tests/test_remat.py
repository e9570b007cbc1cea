"""Rematerialization (``sg.function(memory_budget=...)``): the budget is met as tracemalloc
measures it, the values are the default function's bit for bit, and the policy holds
(elementwise values first, matrix products only when nothing cheaper lowers the peak)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

import graphgen as gg
import loop_cases
import symgraph as sg
from _hypothesis import examples
from symgraph.codegen import remat
from symgraph.models import init_params, seed_mlp, seed_mlp_numpy
from peaks import gelu_net, measured_peak



def overhead(peak: int) -> int:
    """Bytes tracemalloc may see beyond the planner's count: the arrays' Python objects, the
    call's own bookkeeping, and small row temporaries inside a softmax's code (1%)."""
    return 16 * 1024 + peak // 100


def deep_mlp(layers=8, batch=1024, width=128, act="tanh"):
    """Loss and weight gradients of a deep MLP whose activations dominate memory (batch much
    larger than width: each activation is 8 weight gradients' worth of bytes)."""
    rng = np.random.default_rng(18)
    X = sg.variable("X", (batch, width))
    Ws = [sg.variable(f"W{i}", (width, width)) for i in range(layers)]
    h = X
    for W in Ws:
        h = getattr(sg, act)(h @ W)
    loss = sg.mean(h * h)
    values = [rng.standard_normal((batch, width))]
    values += [rng.standard_normal((width, width)) / np.sqrt(width) for _ in Ws]
    return [X, *Ws], [loss, *sg.grad(loss, Ws)], values


def assert_identical(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.array_equal(a, b)


@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("fraction", [0.5, 0.25])
def test_rematerialization_respects_its_budget(act, fraction):
    with sg.Graph():
        inputs, outputs, values = deep_mlp(act=act)
        default = sg.function(inputs, outputs, reuse_buffers=False)
        budget = int(fraction * default.peak_bytes)
        f = sg.function(inputs, outputs, memory_budget=budget, reuse_buffers=False)
    assert f.recomputed and f.peak_bytes <= budget
    assert_identical(f(*values), default(*values))
    peak_default, peak = measured_peak(default, values), measured_peak(f, values)
    # the planner's estimates are what tracemalloc sees, and the budget holds as measured
    assert default.peak_bytes <= peak_default <= default.peak_bytes + overhead(default.peak_bytes)
    assert f.peak_bytes <= peak <= budget + overhead(budget)
    assert peak < (fraction + 0.05) * peak_default


def test_budget_zero_checkpoints_a_deep_mlp():
    """Nothing elementwise is left to recompute (each tanh is written over its product):
    the lowest peak recomputes layers from kept ones, matrix products included."""
    with sg.Graph():
        inputs, outputs, values = deep_mlp()
        default = sg.function(inputs, outputs, reuse_buffers=False)
        f = sg.function(inputs, outputs, memory_budget=0, reuse_buffers=False)
        kept = sg.function(inputs, outputs, memory_budget=0)  # with the kept workspace
    assert any(n.op.name == "matmul" for n in f.recomputed)
    want = default(*values)
    assert_identical(f(*values), want)
    assert_identical(kept(*values), want)
    for a, b in zip(sg.evaluate(outputs, dict(zip(inputs, values))), want):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
    namespace: dict = {}
    exec(f.source, namespace)  # the source runs on its own, recomputations and all
    assert_identical(namespace["compiled"](*values), want)
    peak_default, peak = measured_peak(default, values), measured_peak(f, values)
    assert f.peak_bytes <= peak <= f.peak_bytes + overhead(f.peak_bytes)
    assert peak < 0.3 * peak_default
    assert measured_peak(kept, values) <= kept.peak_bytes + overhead(kept.peak_bytes) < 0.5 * peak_default


def test_a_budget_the_default_plan_fits_changes_nothing():
    with sg.Graph():
        inputs, outputs, _ = deep_mlp(layers=3)
        default = sg.function(inputs, outputs, reuse_buffers=False)
        for budget in (default.peak_bytes, 10 * default.peak_bytes):
            roomy = sg.function(inputs, outputs, memory_budget=budget, reuse_buffers=False)
            assert roomy.recomputed == [] and roomy.source == default.source


def test_an_unreachable_budget_compiles_to_the_lowest_peak_found():
    """No error and no warning: ``f.peak_bytes`` above the budget says it was not met."""
    with sg.Graph():
        inputs, outputs, values = deep_mlp(layers=4)
        lowest = sg.function(inputs, outputs, memory_budget=0, reuse_buffers=False)
        f = sg.function(inputs, outputs, memory_budget=1024, reuse_buffers=False)
    assert f.peak_bytes > 1024 and f.peak_bytes == lowest.peak_bytes
    assert_identical(f(*values), lowest(*values))


def seed_problem(seed=3):
    """The seed MLP as ``benchmarks/bench_mlp.py`` times it: loss and both gradients."""
    B, D, H, C = 256, 784, 256, 10
    model = seed_mlp(B, D, H, C)
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal((B, D)), rng.integers(0, C, B), *init_params(rng, D, H, C)]
    outputs = [model.loss, *sg.grad(model.loss, model.params)]
    return [model.X, model.y, *model.params], outputs, values, model.hidden


def test_seed_mlp_budget_zero_recomputes_its_hidden_layer():
    """The hidden layer relu(X @ W1), kept for W2's gradient through W1's (the peak: W1's
    gradient and its weight-decay term, two 784 x 256 buffers) is made again instead."""
    with sg.Graph():
        inputs, outputs, values, hidden = seed_problem()
        default = sg.function(inputs, outputs, reuse_buffers=False)
        f = sg.function(inputs, outputs, memory_budget=0, reuse_buffers=False)
    assert hidden in f.recomputed and hidden.inputs[0] in f.recomputed
    assert f.peak_bytes < default.peak_bytes
    want = default(*values)
    assert_identical(f(*values), want)
    for a, b in zip(want, seed_mlp_numpy(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    peak_default, peak = measured_peak(default, values), measured_peak(f, values)
    assert abs(peak - f.peak_bytes) <= overhead(f.peak_bytes)  # scratch counted at its bound
    assert peak < peak_default - 400_000  # at least most of the 512 KiB hidden layer


def test_seed_mlp_with_kept_buffers_and_budget_zero():
    """With kept buffers the workspace counts in full, and the recomputed hidden layer would
    take the slot its original leaves: no pick lowers that peak, so nothing is recomputed."""
    with sg.Graph():
        inputs, outputs, values, _ = seed_problem()
        default = sg.function(inputs, outputs)
        f = sg.function(inputs, outputs, memory_budget=0)
    assert f.peak_bytes <= default.peak_bytes
    assert_identical(f(*values), default(*values))
    peak = measured_peak(f, values)
    assert f.peak_bytes <= peak <= f.peak_bytes + overhead(f.peak_bytes)


def test_elementwise_values_are_recomputed_before_any_product():
    """GELU's elementwise terms can meet a budget of 60% alone: no matmul is recomputed for
    it; the lowest peak (budget 0) recomputes products too and goes well below."""
    with sg.Graph():
        inputs, outputs, values = gelu_net()
        default = sg.function(inputs, outputs, reuse_buffers=False)
        budget = int(0.6 * default.peak_bytes)
        cheap = sg.function(inputs, outputs, memory_budget=budget, reuse_buffers=False)
        lowest = sg.function(inputs, outputs, memory_budget=0, reuse_buffers=False)
    assert cheap.recomputed and all(n.op.elementwise for n in cheap.recomputed)
    assert cheap.peak_bytes <= budget
    assert any(not n.op.elementwise for n in lowest.recomputed)
    assert lowest.peak_bytes < 0.75 * cheap.peak_bytes
    want = default(*values)
    assert_identical(cheap(*values), want)
    assert_identical(lowest(*values), want)


def test_rounds_are_bounded_on_a_long_chain(monkeypatch):
    """A 2000-level chain's value and gradient (~17,000 nodes, every buffer a candidate):
    at most MAX_ROUNDS + 2 plans of the whole program, whatever the budget."""
    plans = []
    plan_program = remat.plan_program

    def counted(*args, **kwargs):
        plans.append(1)
        return plan_program(*args, **kwargs)

    monkeypatch.setattr(remat, "plan_program", counted)
    with sg.Graph():
        x = sg.variable("x", (10,))
        h = x
        for i in range(2000):
            h = sg.sin(h) * 0.9 + h * 0.1 if i % 2 else sg.tanh(h) + 0.1 * h
        loss = sg.sum(h * h)
        outs = [loss, sg.grad(loss, x)]
        default = sg.function([x], outs, reuse_buffers=False)
        plans.clear()
        f = sg.function([x], outs, memory_budget=default.peak_bytes // 4, reuse_buffers=False)
    assert len(plans) <= remat.MAX_ROUNDS + 2
    assert f.peak_bytes <= default.peak_bytes // 4
    v = np.linspace(-1.0, 1.0, 10)
    assert_identical(f(v), default(v))


@examples(0.5)
@given(gg.programs())
def test_random_graphs_with_budget_zero_equal_evaluate(prog):
    graph = sg.Graph("remat")
    with graph:
        nodes = gg.build(prog)
        xs = [n for n, i in zip(nodes, prog.instrs) if i.kind == "variable"]
        outs = [nodes[i] for i in prog.outputs]
        rng = np.random.default_rng(prog.seed)
        loss = sg.add_n([sg.sum(o * rng.standard_normal(o.shape)) for o in outs])
        outs = [loss, *sg.grad(loss, xs), *outs]
    feed = {x: prog.values[k] for k, (x, i) in enumerate(zip(nodes, prog.instrs))
            if i.kind == "variable"}
    args = [feed[x] for x in xs]
    f = sg.function(xs, outs, memory_budget=0)
    default = sg.function(xs, outs)
    assert f.peak_bytes <= default.peak_bytes
    got = f(*args)
    assert_identical(got, default(*args))
    for a, b in zip(sg.evaluate(outs, feed), got):
        b = np.asarray(b)
        assert b.shape == a.shape and b.dtype == a.dtype, prog
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=repr(prog))



@pytest.mark.parametrize("name", sorted(loop_cases.CASES))
def test_loops_and_branches_with_budgets(name):
    """Loops, branches and their derivative sweeps are never recomputed, but values around
    them may be: every budget gives the default function's values, bit for bit."""
    with sg.Graph():
        case = loop_cases.CASES[name]()
        outs = list(loop_cases.derived(case).values())
        names = sorted(case.feed)
        args = [case.feed[n] for n in names]
        default = sg.function(names, outs)
        want = default(*args)
        for reuse in (False, True):
            for budget in (default.peak_bytes // 2, 0):
                f = sg.function(names, outs, memory_budget=budget, reuse_buffers=reuse)
                assert not any(getattr(n.op, "multiple_results", False) for n in f.recomputed)
                assert_identical(f(*args), want)


def test_benchmark_runs(tmp_path):
    """``benchmarks/bench_remat.py --quick`` runs end to end (its table is not checked)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_remat.py"), "--quick"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "symgraph P/2" in done.stdout


def test_budget_with_check_finite():
    """Node-by-node code (no fusions, no in-place updates) under a budget: still checked,
    still the same values."""
    with sg.Graph():
        inputs, outputs, values = deep_mlp(layers=4, batch=256)
        default = sg.function(inputs, outputs, check_finite=True)
        f = sg.function(inputs, outputs, check_finite=True, memory_budget=0)
    assert f.recomputed and f.peak_bytes < default.peak_bytes
    assert_identical(f(*values), default(*values))
    bad = [v.copy() for v in values]
    bad[0][0, 0] = np.nan
    with pytest.raises(sg.NonFiniteError):
        f(*bad)
