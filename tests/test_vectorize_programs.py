"""``sg.vectorize`` and ``sg.sparsity`` on random programs (``graphgen``), not one op at a time.

* The program's outputs and the gradient of its loss, vectorized over a batch of three
  values of one input, equal the per-example stack (``test_vectorize``'s check): the
  batching rules compose, whatever ops meet.
* ``sg.sparsity`` of each output with respect to each input covers the non-zeros of the
  finite-difference Jacobian (``test_sparsity_rules``' check): the local patterns multiply
  along the graph into a superset of the truth.

Programs whose batched part holds an op without a batching rule yet (a family still being
written) are skipped by ``assume``; the sparsity check needs no such care (an op without a
rule counts as dense).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import graphgen as gg
import symgraph as sg
from test_properties import Case
from test_sparsity_rules import assert_superset, fd_jacobian
from test_vectorize import assert_vectorizes
from symgraph.traversal import pruned_subgraph

SETTINGS = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


#: programs that move elements around a lot (indexing of every kind, joins, diagonals),
#: with a few smooth ops so the gradient depends on the batched input
SHAPES = frozenset({"transpose", "T", "reshape", "broadcast_to", "sum_to", "getitem", "take",
                    "scatter_add", "concatenate", "stack", "diagonal", "diag_embed", "triu",
                    "tril", "multiply", "sin", "square"})
KINDS = {"all ops": None, "shape ops": SHAPES}


def unbatchable(outputs: list[sg.Node], x: sg.Node) -> list[str]:
    """The ops between ``x`` and ``outputs`` that declare no batching rule."""
    return sorted({n.op.name for n in pruned_subgraph(outputs, [x])
                   if n is not x and type(n.op).batch is None})


@pytest.mark.parametrize("kinds", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_random_programs_vectorize_over_one_input(kinds, data):
    prog = data.draw(gg.programs(max_steps=8, kinds=KINDS[kinds]), "program")
    pick = data.draw(st.integers(0, 2), "input")
    case = Case(prog)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
    k = pick % len(case.xs)
    outputs = [*case.outs, *grads]
    assume(not unbatchable(outputs, case.xs[k]))
    arrays = [case.feed[x] for x in case.xs]
    with case.graph:
        assert_vectorizes(outputs, case.xs, arrays, [k], f"input {k} batched\n{prog!r}")


@pytest.mark.parametrize("kinds", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_random_program_patterns_cover_finite_differences(kinds, data):
    prog = data.draw(gg.programs(max_steps=8, kinds=KINDS[kinds]), "program")
    case = Case(prog)
    fixed = case.stopped()  # finite differences must not see through stop_gradient either
    for k, x in enumerate(case.xs):
        for j, out in enumerate(case.outs):
            def f(v, x=x, out=out):
                return sg.evaluate(out, {**case.feed, x: v, **fixed})

            pattern = sg.sparsity(out, x)
            assert pattern.shape == (out.size, x.size)
            assert_superset(pattern, fd_jacobian(f, case.feed[x]),
                            f"output {j} w.r.t. input {k}\n{prog!r}")
