"""Long programs compile in chunk functions, in memory linear in the graph (codegen.chunks).

The memory bound is tracemalloc's peak during ``sg.function`` per graph node;
before chunking it was over 4 KB a node at 10^5 nodes (one giant ``def``).
"""

from __future__ import annotations

import linecache
import math
import re
import tracemalloc
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen import chunks

#: bytes compilation may add per graph node (measured: 860 at 10^5 nodes, 780 at 10^6)
BYTES_PER_NODE = 1600


def _chain(levels: int, shape=()):
    x = sg.variable("x", shape)
    h = x
    for _ in range(levels):
        h = sg.sin(h) * h
    y = sg.sum(h)
    (gx,) = sg.grad(y, [x])
    return x, y, gx


def _chunk_count(source: str) -> int:
    return len(re.findall(r"^def _chunk\d+\(", source, flags=re.M))


def test_a_long_gradient_compiles_in_chunks_in_bounded_memory():
    with sg.Graph() as g:
        x, y, gx = _chain(14_300)  # 7 nodes a level: about 10^5 nodes
        nodes = len(g)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            f = sg.function([x], [y, gx])
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert nodes > 99_000
        assert peak < BYTES_PER_NODE * nodes, f"{peak / nodes:.0f} bytes a node"
        assert _chunk_count(f.source) > 10
        assert "\n\n\ndef compiled(x):\n" in f.source and f.source.startswith(
            "import numpy as np\n\n\ndef _chunk0(_s):\n")
        # pi/2 is a fixed point of sin(h)*h with derivative 1: value pi/2, gradient 1
        value, grad = f(np.float64(math.pi / 2))
        assert value == math.pi / 2 and grad == pytest.approx(1.0, rel=1e-9)
        x0 = np.float64(2.0)  # h falls towards pi/2 (from above it attracts): no closed form
        got, expected = f(x0), sg.evaluate([y, gx], {x: x0})
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
        assert math.pi / 2 < got[0] < 2.0 and 0 < got[1] < 1


@pytest.fixture
def short_chunks(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_LINES", 7)


@pytest.mark.parametrize("width", [(), (4,)])
def test_chunked_source_computes_what_one_function_does(width, monkeypatch):
    with sg.Graph():
        x, y, gx = _chain(40, width)
        w = sg.variable("w", width)
        z = sg.sum(sg.tanh(gx * w) * sg.exp(-w)) + y  # fed values read in late chunks too
        outs = [y, gx, z, sg.grad(z, [w])[0]]
        whole = sg.function([x, w], outs, reuse_buffers=False)
        monkeypatch.setattr(chunks, "CHUNK_LINES", 7)
        parts = sg.function([x, w], outs)
        assert _chunk_count(whole.source) == 0 and _chunk_count(parts.source) > 5
        rng = np.random.default_rng(0)
        for _ in range(2):  # twice: the kept workspace is reused
            xv = np.asarray(rng.uniform(1.0, 1.5, width))
            wv = np.asarray(rng.normal(size=width))
            expected = sg.evaluate(outs, {x: xv, w: wv})
            for got in (whole(xv, wv), parts(xv, wv)):
                for a, b in zip(got, expected):
                    np.testing.assert_allclose(a, b, rtol=1e-12)
        namespace: dict = {}
        exec(parts.source, namespace)  # the text alone runs: a standalone program
        for a, b in zip(namespace["compiled"](xv, wv), parts(xv, wv)):
            np.testing.assert_allclose(a, b, rtol=0)


def test_small_sources_are_one_function_as_before(monkeypatch):
    with sg.Graph():
        x, y, gx = _chain(30, (3,))
        f = sg.function([x], [y, gx])
        monkeypatch.setattr(chunks, "CHUNK_LINES", 10 ** 9)
        with sg.Graph():
            x2, y2, gx2 = _chain(30, (3,))
            g = sg.function([x2], [y2, gx2])
    assert f.source == g.source and "_chunk" not in f.source


def test_a_failing_node_in_a_late_chunk_is_named(short_chunks):
    with sg.Graph():
        x, y, gx = _chain(20)
        i = sg.variable("i", (2,), "int64")
        p = sg.power(i, sg.constant(np.array([-1, 2]))) + 1  # fails at run time
        f = sg.function([x, i], [gx, p])
        assert _chunk_count(f.source) > 5
        with pytest.raises(sg.EvaluationError, match=r"node #\d+ power .*negative integer") as info:
            f(np.float64(1.0), np.array([2, 3]))
    line = int(re.search(r"line (\d+) of", str(info.value)).group(1))
    text = f.source.split("\n")[line - 1]
    assert "np.power(" in text or "**" in text
    head = f.source[:f.source.index(text)]
    assert head.rindex("def _chunk") > head.index("def _chunk0(")  # not in the first chunk
    assert linecache.getline(f._filename, line) == text + "\n"  # tracebacks show the line


def test_lines_map_to_their_nodes_in_chunks(short_chunks):
    with sg.Graph():
        x, y, gx = _chain(20, (3,))
        f = sg.function([x], [y, gx])
    lines = f.source.split("\n")
    mapped = dict(f._line_nodes.items())
    assert len(mapped) > 60 and min(f._line_nodes) in f._line_nodes
    for line, node in mapped.items():
        name = {"sin": "sin", "cos": "cos", "multiply": "multiply", "add_n": "+="}.get(node.op.name)
        if name is not None and node.op.name != "multiply":
            assert name in lines[line - 1], (line, lines[line - 1], node)


def test_numpy_warnings_in_a_chunk_name_the_node(short_chunks):
    with sg.Graph():
        x, y, gx = _chain(20, (3,))
        z = sg.log(gx * 0.0 - 1.0) + y  # NaN in a late chunk
        f = sg.function([x], [y, gx, z])
        assert _chunk_count(f.source) > 5
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f(np.full(3, 1.2))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any(re.search(r"symgraph node #\d+ log", m) for m in messages), messages


def test_check_finite_and_loops_compile_in_chunks(short_chunks):
    with sg.Graph():
        w = sg.variable("w", (3,))
        xs = sg.variable("xs", (6, 3))

        def step(h, x_t):
            h = sg.tanh(h * w + x_t)
            return h, sg.sum(h * h)

        _, ys = sg.scan(step, sg.zeros((3,)), xs)
        loss = sg.sum(ys)
        for _ in range(5):
            loss = sg.sin(loss) * loss
        outs = [loss, *sg.grad(loss, [w, xs])]
        rng = np.random.default_rng(1)
        feed = {w: rng.normal(size=3) * 0.5, xs: rng.normal(size=(6, 3))}
        expected = sg.evaluate(outs, feed)
        for check in (False, True):
            f = sg.function([w, xs], outs, check_finite=check)
            assert _chunk_count(f.source) > 2
            for a, b in zip(f(feed[w], feed[xs]), expected):
                np.testing.assert_allclose(a, b, rtol=1e-12)
