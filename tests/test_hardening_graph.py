"""Issue 11, graph items: truthy graphs, thread/task safety of building, a scoped dask
guard, Graph.find, networkx-usable nodes, feed names resolved among the outputs' variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import pathlib
import re
import sys
import threading

import numpy as np
import pytest

import symgraph as sg
from symgraph.errors import UnknownInputError

ROOT = pathlib.Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def frequent_thread_switches():
    """Make the interpreter switch threads very often, so races show up reliably."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(*targets) -> None:
    errors: list[BaseException] = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # reported in the main thread
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# -- item 6: a graph is always truthy ------------------------------------------

def test_empty_graph_passed_as_graph_is_used(fresh_graph):
    g = sg.Graph()
    assert bool(g) and len(g) == 0
    v = sg.variable("v", graph=g)
    c = sg.constant(2.0, graph=g)
    f = sg.full((2,), 1.0, graph=g)
    assert v.graph is g and c.graph is g and f.graph is g
    assert len(fresh_graph) == 0


# -- item 7: roles under threads, concurrent node creation -----------------------

def test_grad_in_one_thread_does_not_mark_another_threads_nodes(fresh_graph):
    x = sg.variable("x")
    z = sg.variable("z")
    made: list[sg.Node] = []
    stop = threading.Event()

    def differentiate():
        h = x
        for _ in range(30):
            h = sg.sin(h) * h
        f = h
        for _ in range(3):  # orders 1..3
            (f,) = sg.grad(f, [x])
        stop.set()

    def build_forward():
        k = 0
        while not stop.is_set() or k < 2000:
            made.append(z + float(k + 1))  # a fresh constant and a fresh add each time
            k += 1

    with frequent_thread_switches():
        run_threads(differentiate, build_forward)
    wrong = [n for n in made if n.role != "forward" or n.order != 0]
    assert not wrong, f"{len(wrong)} of {len(made)} forward nodes got {wrong[0]!r}"
    consts = [n.inputs[1] for n in made]
    assert all(c.role == "constant" and c.order == 0 for c in consts)


def test_concurrent_node_creation_gives_unique_ids_and_one_consed_node(fresh_graph):
    g = fresh_graph
    x = sg.variable("x", (3,))
    n_threads, n_exprs = 8, 300
    results: list[list[sg.Node]] = [[] for _ in range(n_threads)]
    start = threading.Barrier(n_threads)

    def build(k):
        def run():
            start.wait()
            for i in range(n_exprs):
                h = sg.exp(x) * (i + 0.5)  # the same new expressions in every thread
                results[k].append(h)
                sg.variable(f"t{k}_{i}", graph=g)  # never consed: one node per call
        return run

    with frequent_thread_switches():
        run_threads(*(build(k) for k in range(n_threads)))
    assert [n.id for n in g.nodes] == list(range(len(g)))
    for k in range(1, n_threads):
        assert all(a is b for a, b in zip(results[0], results[k]))
    assert len(g.variables()) == 1 + n_threads * n_exprs
    assert len({h.inputs[1] for h in results[0]}) == n_exprs  # one constant per value
    assert len(g) == 2 + 2 * n_exprs + n_threads * n_exprs  # x, exp(x), constants, products


# -- item 8: the ``with Graph()`` stack is per context ---------------------------

def test_asyncio_tasks_each_build_into_their_own_graph(fresh_graph):
    async def task(name):
        with sg.Graph(name) as g:
            await asyncio.sleep(0)
            v = sg.variable("v")
            await asyncio.sleep(0)
            c = sg.constant(1.0)
        await asyncio.sleep(0)
        return g, v, c

    async def main():
        return await asyncio.gather(task("a"), task("b"))

    for g, v, c in asyncio.run(main()):
        assert v.graph is g and c.graph is g
    assert sg.get_default_graph() is fresh_graph
    assert sg.variable("after").graph is fresh_graph


def test_generator_leaving_its_with_after_the_caller_entered_another_graph(fresh_graph):
    def gen():
        with sg.Graph("inner") as inner:
            yield inner
        yield None

    it = gen()
    inner = next(it)
    with sg.Graph("outer") as outer:
        next(it)  # the generator's with ends while "outer" is innermost
        assert sg.variable("x").graph is outer
    assert sg.get_default_graph() is fresh_graph  # "inner" does not stay the default
    assert sg.variable("y").graph is fresh_graph
    assert len(inner) == 0


def test_generator_run_in_its_own_context_keeps_its_graph(fresh_graph):
    """A generator shares its caller's context (as for decimal.localcontext); driven in
    a context of its own, its ``with Graph()`` does not capture the caller's nodes."""
    def gen():
        with sg.Graph("inner"):
            yield sg.variable("a")
            yield sg.variable("b")

    it = gen()
    ctx = contextvars.copy_context()
    a = ctx.run(next, it)
    x = sg.variable("x")
    b = ctx.run(next, it)
    assert x.graph is fresh_graph
    assert a.graph is b.graph and a.graph is not fresh_graph


def test_threads_have_their_own_with_graph_stack(fresh_graph):
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other():
        with sg.Graph("other") as g:
            seen["g"] = g
            inside.set()
            done.wait(5)
            seen["v"] = sg.variable("v")

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    assert sg.variable("mine").graph is fresh_graph
    done.set()
    t.join()
    assert seen["v"].graph is seen["g"]


# -- item 9: the dask guard only refuses computes of the building context --------

def test_dask_guard_does_not_refuse_other_threads():
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    from symgraph import backend, dask_backend

    before = dask.config.get("scheduler", None)
    result = {}

    def other():
        try:
            result["value"] = da.ones((4,), chunks=2).sum().compute()
        except Exception as e:  # reported below
            result["error"] = e

    with dask_backend.no_compute():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with pytest.raises(backend.ComputeRefused):
            da.ones((4,), chunks=2).sum().compute()
    assert "error" not in result, result.get("error")
    assert result["value"] == 4.0
    assert dask.config.get("scheduler", None) is before


def test_lazy_evaluation_still_refuses_compute_inside_ops():
    pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    from symgraph.ops.base import Op, make

    class Eager(Op):
        name = "eager_test_op"

        def infer(self, x):
            return x.shape, x.dtype

        def f(self, x):
            return np.asarray(x) * 2  # forces a compute of a dask input

    x = sg.variable("x", (4,))
    y = make(Eager(), x)
    with pytest.raises(sg.SymgraphError, match="no lazy dask version"):
        sg.evaluate(y, {x: da.ones((4,), chunks=2)})
    assert np.allclose(da.ones((4,), chunks=2).compute(), 1.0)


# -- item 10: Graph.find, and simplify's "older mirror" branch --------------------

def test_find_returns_the_consed_node(fresh_graph):
    x, y = sg.variable("x"), sg.variable("y")
    m = x * y
    assert fresh_graph.find(m.op, (x, y)) is m
    assert fresh_graph.find(m.op, [x, y]) is m
    assert fresh_graph.find(m.op, (y, x)) is None


def test_simplify_uses_an_older_mirror_already_in_the_graph(fresh_graph):
    x, y = sg.variable("x"), sg.variable("y")
    older = y * x
    newer = x * y
    stats: dict[str, int] = {}
    assert sg.simplify(newer, stats=stats) is older
    assert stats.get("commutative_match") == 1
    assert sg.simplify(older) is older


# -- item 11: networkx algorithms on to_networkx() --------------------------------

def test_networkx_algorithms_work_on_node_keys(fresh_graph):
    nx = pytest.importorskip("networkx")
    x, y = sg.variable("x"), sg.variable("y")
    f = sg.sin(x * y) + y
    (df,) = sg.grad(f, [x])
    G = fresh_graph.to_networkx()
    assert nx.has_path(G, x, df)
    assert nx.has_path(G, x, x)
    path = nx.shortest_path(G, x, f)
    assert path[0] is x and path[-1] is f
    order = list(nx.topological_sort(G))
    assert set(order) == set(G.nodes) and order.index(x) < order.index(f)
    assert x in nx.ancestors(G, f) and f in nx.descendants(G, x)
    assert not nx.has_path(G, f, x)


def test_node_equality_truth_is_identity_between_nodes_only(fresh_graph):
    x, y = sg.variable("x"), sg.variable("y")
    assert x in [y, x] and [y, x].index(x) == 1
    assert bool(x == x) and not bool(x == y)
    assert bool(x != y) and not bool(x != x)
    assert isinstance(x == y, sg.Node)  # still an elementwise comparison node
    n = len(fresh_graph)
    for _ in range(5):
        bool(x == y)
    assert len(fresh_graph) == n  # hash-consed: one node per compared pair
    for expr in (lambda: x == 0, lambda: x != 1.5, lambda: x > y, lambda: x <= y):
        with pytest.raises(sg.SymgraphError, match="truth value"):
            bool(expr())


# -- item 12: names among the outputs' variables ----------------------------------

def _readme_library_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## As a library", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_snippet_runs_twice_in_one_session(fresh_graph):
    code = _readme_library_snippet()
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1] and "array(-4.)" in outputs[0] and "8.0" in outputs[0]


def test_feed_names_resolve_among_the_outputs_variables(fresh_graph):
    w1 = sg.variable("w")
    f1 = 3 * w1
    w2 = sg.variable("w")
    f2 = w2 * w2
    assert sg.evaluate(f1, {"w": 2.0}) == 6.0
    assert sg.evaluate(f2, {"w": 2.0}) == 4.0
    assert sg.Evaluator([f2]).run({"w": 3.0})[0] == 9.0
    fn = sg.function(["w"], f2)
    assert fn.inputs == [w2] and fn(5.0) == 25.0
    other = sg.variable("other")
    assert sg.evaluate(other + 1, {"other": 1.0, "w": 7.0}) == 2.0  # w unused: ignored
    with pytest.raises(sg.SymgraphError, match="ambiguous"):
        sg.evaluate(f1 + f2, {"w": 1.0})  # both w's are used
    with pytest.raises(UnknownInputError):
        sg.evaluate(f1, {"nope": 1.0})
    with pytest.raises(sg.SymgraphError, match="ambiguous"):
        sg.function(["w"], other + 1)
