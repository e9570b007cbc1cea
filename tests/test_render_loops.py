"""Pictures of loops and branches: bodies as clusters drawn once, carry edges, item labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symgraph as sg
from symgraph import render
from symgraph.render import FORWARD, GRADIENT_COLOURS, INPUT

needs_dot = pytest.mark.skipif(not render.dot_available(),
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")

DECL_RE = re.compile(r"^\s*((?:b\d+)?n\d+) \[(.*)\]$", re.M)
EDGE_RE = re.compile(r"^\s*(\S+) -> (\S+) \[(.*)\]$", re.M)
OPEN_RE = re.compile(r"^\s*subgraph (\w+) \{$")


def declared(dot: str) -> list[str]:
    """DOT ids of the graph nodes declared, in order, with repeats."""
    return [m.group(1) for m in DECL_RE.finditer(dot)]


def attrs_of(dot: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in DECL_RE.finditer(dot)}


def edges(dot: str) -> dict[tuple[str, str], str]:
    return {(m.group(1), m.group(2)): m.group(3) for m in EDGE_RE.finditer(dot)}


def clusters(dot: str) -> dict[str, str | None]:
    """Each cluster's enclosing cluster (None at the top)."""
    stack: list[str] = []
    parent: dict[str, str | None] = {}
    for line in dot.splitlines():
        m = OPEN_RE.match(line)
        if m:
            parent[m.group(1)] = stack[-1] if stack else None
            stack.append(m.group(1))
        elif line.strip() == "}" and stack:
            stack.pop()
    return parent


def members(dot: str, cluster: str) -> set[str]:
    """DOT ids declared directly or nested inside ``cluster``."""
    depth, inside, out = 0, False, set()
    for line in dot.splitlines():
        m = OPEN_RE.match(line)
        if m and m.group(1) == cluster:
            inside, depth = True, 1
            continue
        if not inside:
            continue
        if m:
            depth += 1
        elif line.strip() == "}":
            depth -= 1
            if depth == 0:
                return out
        d = DECL_RE.match(line)
        if d:
            out.add(d.group(1))
    return out


def body_keys(outputs, **kw) -> dict:
    """The DOT prefix of each body graph drawn (what ``to_dot`` uses)."""
    sel = render._select(outputs, kw.get("wrt"), True, kw.get("max_nodes", render.DEFAULT_MAX_NODES))
    return {g: v.key for g, v in sel.scene.bodies.items()}


def rnn(T=5, checkpoint=None):
    W = sg.variable("W", (4, 4))
    U = sg.variable("U", (3, 4))
    v = sg.variable("v", (4,))
    h0 = sg.variable("h0", (2, 4))
    xs = sg.variable("xs", (T, 2, 3))

    def step(h, x):
        h = sg.tanh(h @ W + x @ U)
        return h, h @ v

    hT, ys = sg.scan(step, h0, xs, checkpoint=checkpoint)
    return dict(W=W, U=U, v=v, h0=h0, xs=xs, hT=hT, ys=ys, loss=sg.mean(ys))


def loop_of(item):
    return item.inputs[0]


def rnn_feed(T=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.normal(size=(4, 4)) * 0.5, "U": rng.normal(size=(3, 4)),
            "v": rng.normal(size=4), "h0": rng.normal(size=(2, 4)),
            "xs": rng.normal(size=(T, 2, 3))}


# ---------------------------------------------------------------------------
# a scan forward
# ---------------------------------------------------------------------------


def test_scan_body_is_a_cluster_entered_by_the_carry_and_left_by_the_items():
    m = rnn()
    scan = loop_of(m["ys"])
    body = scan.op.body
    dot = sg.to_dot(m["loss"])
    (key,) = body_keys(m["loss"]).values()
    b = lambda n: f"{key}n{n.id}"  # noqa: E731
    assert [c for c in clusters(dot) if c.startswith("cluster_b")] == [f"cluster_{key}"]
    assert 'scan body</B> (length 5)' in dot and "run by scan #" in dot
    assert f"n{scan.id}" not in declared(dot)  # the loop node is its cluster, not a box
    carry, x = body.inputs[0], body.inputs[1]
    new_h, y = body.outputs
    inside = members(dot, f"cluster_{key}")
    assert {b(carry), b(x), b(new_h), b(y)} <= inside
    e = edges(dot)
    assert "init" in e[(f"n{m['h0'].id}", b(carry))]                 # initial carry -> carry
    assert "[t]" in e[(f"n{m['xs'].id}", b(x))]                       # xs -> its slice
    assert "dotted" in e[(f"n{m['W'].id}", b(body.graph.capture(m["W"])))]  # captured
    nxt = e[(b(new_h), b(carry))]                                     # carry round the loop
    assert "dashed" in nxt and "next step" in nxt and "constraint=false" in nxt
    assert "stacked" in e[(b(y), f"n{m['ys'].id}")]                   # ys out
    assert "() object" not in dot
    assert "<B>ys</B>" in dot and "scan #" in dot
    assert "dashed: to the next step" in dot and "dotted: captured" in dot


def test_final_carry_and_several_carries_are_named():
    a = sg.variable("a", (3,))
    b = sg.variable("b")
    (fa, fb), ys = sg.scan(lambda c, x: ((c[0] * x, c[1] + x), [c[1], c[0]]), (a, b),
                           sg.variable("xs", (6,)))
    dot = sg.to_dot([fa, fb, ys[0], ys[1]])
    for text in ("final carry0", "final carry1", "<B>ys 0</B>", "<B>ys 1</B>"):
        assert text in dot
    body = loop_of(fa).op.body
    (key,) = body_keys([fa, fb, ys[0], ys[1]]).values()
    e = edges(dot)
    assert "last step" in e[(f"{key}n{body.outputs[0].id}", f"n{fa.id}")]


def test_drawing_adds_no_nodes_to_the_graph_or_its_bodies(fresh_graph):
    m = rnn()
    body_graph = loop_of(m["ys"]).op.body.graph
    sizes = len(fresh_graph), len(body_graph)
    sg.to_dot(m["loss"])
    sg.to_dot(fresh_graph)
    assert (len(fresh_graph), len(body_graph)) == sizes


def test_wrt_view_through_a_loop_adds_no_nodes_to_the_graph_or_its_bodies(fresh_graph):
    """The G′ view replays sg.grad to find the gradient built for wrt; through a loop that
    would build gradient bodies in the shared body graph, so the view is plain G′ there."""
    m = rnn()
    gW, gU = sg.grad(m["loss"], [m["W"], m["U"]])
    body_graph = loop_of(m["ys"]).op.body.graph
    sizes = len(fresh_graph), len(body_graph)
    dot = sg.to_dot([m["loss"], gW, gU], wrt=[m["W"]])
    assert (len(fresh_graph), len(body_graph)) == sizes
    assert f"n{gW.id} [" in dot and "outside G′" in dot


# ---------------------------------------------------------------------------
# gradients: one body graph, drawn once, gradient nodes coloured by order
# ---------------------------------------------------------------------------


def test_forward_and_reverse_sweep_share_one_cluster_with_order_colours():
    m = rnn()
    gW = sg.grad(m["loss"], m["W"])
    scan, sweep = loop_of(m["ys"]), loop_of(gW)
    assert sweep.op.body.graph is scan.op.body.graph
    dot = sg.to_dot([m["loss"], gW])
    keys = body_keys([m["loss"], gW])
    assert list(keys) == [scan.op.body.graph]
    key = keys[scan.op.body.graph]
    ids = declared(dot)
    assert len(ids) == len(set(ids)), "every node is declared once"
    attrs = attrs_of(dot)
    body_nodes = [i for i in ids if i.startswith(key)]
    by_id = {f"{key}n{n.id}": n for n in scan.op.body.graph.nodes}
    orders = set()
    for i in body_nodes:
        n = by_id[i]
        want = {"input": INPUT.fill, "forward": FORWARD.fill}.get(n.role)
        if n.role == "gradient":
            want = GRADIENT_COLOURS[n.order - 1][0]
            orders.add(n.order)
        if want:
            assert f'fillcolor="{want}"' in attrs[i], (n, attrs[i])
    assert orders == {1}
    assert f"cluster_{key}order1" in dot  # the body's gradient nodes boxed by order
    # the label says which loop is which colour; their edges have those colours
    assert f"scan #{scan.id} · length 5" in dot
    assert f"scan #{sweep.id} · length 5, reverse · gradient, order 1" in dot
    red, blue = GRADIENT_COLOURS[0][1], FORWARD.border
    e = edges(dot)
    carry = f"{key}n{scan.op.body.inputs[0].id}"
    into_carry = {t: a for (t, h), a in e.items() if h == carry}
    assert blue in into_carry[f"n{m['h0'].id}"] and "init" in into_carry[f"n{m['h0'].id}"]
    slices = [a for t, a in into_carry.items() if "[t]" in a]
    assert slices and all(red in a for a in slices)  # the sweep reads the carry's trajectory
    acc_out = f"{key}n{sweep.op.body.outputs[1].id}"
    assert red in e[(acc_out, f"n{gW.id}")] and "last step" in e[(acc_out, f"n{gW.id}")]
    for text in ("trajectory of carry", "final acc0", "<B>ys</B>"):
        assert text in dot


def test_a_stored_residual_is_labelled():
    """``sin(h @ v)``'s derivative reads the product, which the sweep cannot redo from the
    trajectory as cheaply as an elementwise function: it is stored per step, and drawn so."""
    h0, v = sg.variable("h0", (3,)), sg.variable("v", (3, 3))
    xs = sg.variable("xs", (4, 3))
    hT, _ = sg.scan(lambda h, x: (sg.sin(h @ v) + x, None), h0, xs)
    gv = sg.grad(sg.sum(hT), v)
    assert any(r[0] == "step" for r in loop_of(hT).op.records)
    assert "<B>residual</B>" in sg.to_dot([hT, gv])


def test_second_order_body_nodes_have_the_second_order_colour():
    x = sg.variable("x", (3,))
    c, ys = sg.scan(lambda h, t: (sg.sin(h) * t, sg.sum(h * h)), x, sg.variable("ts", (4,)))
    loss = sg.sum(ys) + sg.sum(c)
    g = sg.grad(loss, x)
    hv = sg.grad(sg.sum(g * sg.variable("u", (3,))), x)
    dot = sg.to_dot(hv, max_nodes=None)
    assert f'fillcolor="{GRADIENT_COLOURS[1][0]}"' in dot
    assert "gradient, order 2" in dot
    ids = declared(dot)
    assert len(ids) == len(set(ids))


def test_checkpointed_gradient_draws_each_body_graph_once():
    m = rnn(T=10, checkpoint=3)
    gW = sg.grad(m["loss"], m["W"])
    body_graph = loop_of(m["ys"]).op.body.graph
    dot = sg.to_dot([m["loss"], gW], max_nodes=None)
    keys = body_keys([m["loss"], gW], max_nodes=None)
    assert len(keys) == 2  # the scan body and the checkpointed segment
    assert sum(1 for c in clusters(dot) if re.fullmatch(r"cluster_b\d+", c)) == 2
    ids = declared(dot)
    assert len(ids) == len(set(ids))
    # the forward scan, the tail's scans and the segment's two scans all run the one body
    users = [u for u, _ in render._select([m["loss"], gW], None, True, None)
             .scene.bodies[body_graph].users]
    assert len({u for u in users}) >= 3
    assert "checkpoint every 3" in dot and "checkpointed scan segment" in dot


# ---------------------------------------------------------------------------
# while loops and branches
# ---------------------------------------------------------------------------


def test_while_loop_body_and_condition_in_one_box_with_trip_count():
    x, a = sg.variable("x"), sg.variable("a")
    out, n = sg.while_loop(lambda c: c[0] < 10.0, lambda c: (c[0] * a + 1.0, c[1] + 1),
                           (x, np.int64(0)), max_steps=50)
    op = loop_of(out).op
    dot = sg.to_dot(out)
    keys = body_keys(out)
    parent = clusters(dot)
    body_c, cond_c = f"cluster_{keys[op.body.graph]}", f"cluster_{keys[op.cond.graph]}"
    assert parent[body_c] == parent[cond_c] and parent[body_c].startswith("cluster_grp")
    assert "<B>while_loop</B> (max_steps 50)" in dot
    assert "<B>body</B>" in dot and "<B>condition</B>" in dot
    e = edges(dot)
    bk, ck = keys[op.body.graph], keys[op.cond.graph]
    new_x = f"{bk}n{op.body.outputs[0].id}"
    assert "next step" in e[(new_x, f"{bk}n{op.body.inputs[0].id}")]
    assert "dashed" in e[(new_x, f"{ck}n{op.cond.inputs[0].id}")]  # tested before each step
    # the integer counter's initial 0 is drawn (a loop cannot show it inside)
    assert any("init" in a and h == f"{bk}n{op.body.inputs[1].id}" for (t, h), a in e.items())
    ga = sg.grad(out, a)
    dot = sg.to_dot([out, ga])
    assert "trip count" in dot and "as many steps as recorded" in dot
    assert len(body_keys([out, ga])) == 2  # the reverse sweep reuses the body graph


def test_cond_branches_side_by_side_with_pred_and_results():
    x, y = sg.variable("x"), sg.variable("y")
    r = sg.cond(x > 0, lambda u: sg.log(u) * y, lambda u: -u * y, x)
    op = loop_of(r).op
    dot = sg.to_dot(r * r)
    keys = body_keys(r * r)
    t, f = f"cluster_{keys[op.true_body.graph]}", f"cluster_{keys[op.false_body.graph]}"
    parent = clusters(dot)
    group = parent[t]
    assert group == parent[f] and group.startswith("cluster_grp")
    assert "<B>true branch</B>" in dot and "<B>false branch</B>" in dot and "<B>cond</B>" in dot
    e = edges(dot)
    pred = [a for (tail, _), a in e.items() if tail == f"n{(x > 0).id}" and "lhead" in a]
    assert len(pred) == 1 and f"lhead={group}" in pred[0] and "pred" in pred[0]
    tk, fk = keys[op.true_body.graph], keys[op.false_body.graph]
    assert "if true" in e[(f"{tk}n{op.true_body.outputs[0].id}", f"n{r.id}")]
    assert "if false" in e[(f"{fk}n{op.false_body.outputs[0].id}", f"n{r.id}")]
    assert "<B>result</B>" in dot
    # both branches' operand variables are fed by x
    assert (f"n{x.id}", f"{tk}n{op.true_body.inputs[0].id}") in e
    assert (f"n{x.id}", f"{fk}n{op.false_body.inputs[0].id}") in e
    gx = sg.grad(r * r, x)
    dot = sg.to_dot([r, gx])
    assert len(body_keys([r, gx])) == 2 and "cond #" in dot
    assert f'fillcolor="{GRADIENT_COLOURS[0][0]}"' in "".join(
        a for i, a in attrs_of(dot).items() if i.startswith(tk))


def test_branches_sharing_a_predicate_each_get_its_edge():
    x = sg.variable("x")
    p = x > 0
    a = sg.cond(p, lambda: 2.0, lambda: 1.0)  # no operands: each branch is one constant
    b = sg.cond(p, lambda u: u, lambda u: -u, x)
    dot = sg.to_dot(a + b)
    pred = [a for (t, _), a in edges(dot).items() if t == f"n{p.id}" and "lhead" in a]
    assert len(pred) == 2 and len({re.search(r"lhead=(\w+)", a).group(1) for a in pred}) == 2
    assert dot.count("<B>result</B>") == 2


def test_nested_loops_and_conds_are_nested_clusters():
    W = sg.variable("W", (3, 3))
    xs = sg.variable("xs", (5, 4, 3))
    h0 = sg.variable("h0", (3,))
    s = sg.variable("s")

    def outer(h, rows):
        def inner(c, x):
            c = sg.tanh(c @ W + x)
            return c, sg.cond(sg.sum(c) > 0, lambda u: u * s, lambda u: u - s, sg.sum(c))
        c, ys = sg.scan(inner, h, rows)
        return c, sg.sum(ys)

    hT, ys = sg.scan(outer, h0, xs)
    loss = sg.sum(ys) + sg.sum(hT)
    g = sg.grad(loss, [W, s])
    dot = sg.to_dot([loss, *g], max_nodes=None)
    outer_op = loop_of(hT).op
    inner_scan = next(n for n in outer_op.body.graph.nodes if n.op.name == "scan")
    branch = next(n for n in inner_scan.op.body.graph.nodes if n.op.name == "cond")
    keys = body_keys([loss, *g], max_nodes=None)
    parent = clusters(dot)
    outer_c = f"cluster_{keys[outer_op.body.graph]}"
    inner_c = f"cluster_{keys[inner_scan.op.body.graph]}"
    true_c = f"cluster_{keys[branch.op.true_body.graph]}"
    assert parent[outer_c] is None
    assert parent[inner_c] == outer_c
    assert parent[parent[true_c]] == inner_c  # the branches' group sits in the inner body
    ids = declared(dot)
    assert len(ids) == len(set(ids))
    assert len([c for c in parent if re.fullmatch(r"cluster_b\d+", c)]) == len(keys) == 4
    # W reaches the inner body through the outer one: captured at each level
    e = edges(dot)
    w_outer = outer_op.body.graph.capture(W)
    w_inner = inner_scan.op.body.graph.capture(w_outer)
    ok, ik = keys[outer_op.body.graph], keys[inner_scan.op.body.graph]
    assert (f"n{W.id}", f"{ok}n{w_outer.id}") in e
    assert (f"{ok}n{w_outer.id}", f"{ik}n{w_inner.id}") in e


# ---------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------


def test_max_nodes_cuts_a_large_body_but_keeps_its_carries_and_outputs():
    x0, a = sg.variable("x0", (3,)), sg.variable("a")

    def step(c, _):
        for k in range(300):
            c = sg.sin(c) * a if k % 2 else sg.tanh(c + a)
        return c, sg.sum(c)

    hT, ys = sg.scan(step, x0, length=7)
    loss = sg.sum(ys) + sg.sum(hT)
    body = loop_of(hT).op.body
    dot = sg.to_dot(loss, max_nodes=30)
    (key,) = body_keys(loss, max_nodes=30).values()
    ids = declared(dot)
    assert len(ids) <= 30 + 3  # the carry variable and the two outputs may come on top
    inside = members(dot, f"cluster_{key}")
    assert {f"{key}n{n.id}" for n in (body.inputs[0], *body.outputs)} <= inside
    assert f"n{loss.id}" in ids
    assert re.search(rf"{key}hidden \[label=\"⋯ \d+ more nodes\"", dot)
    assert "next step" in dot
    full = sg.to_dot(loss, max_nodes=None)
    assert len(declared(full)) > 600 and "more nodes" not in full
    # the gradient's picture stays bounded too
    ga = sg.grad(loss, a)
    assert len(declared(sg.to_dot([loss, ga], max_nodes=40))) <= 40 + 8


def test_options_still_work_with_loops():
    m = rnn()
    gW = sg.grad(m["loss"], m["W"])
    dot = sg.to_dot([m["loss"], gW], clusters=False)
    assert "order1" not in dot and "cluster_b0" in dot
    dot = sg.to_dot(m["loss"], wrt=[m["W"]])
    attrs = attrs_of(dot)
    assert "dashed" in attrs[f"n{m['h0'].id}"] and "outside G′" in dot
    assert "init" in dot
    dot = sg.to_dot(m["loss"], shapes=False, title="an RNN", labels={m["ys"]: "outputs"})
    assert not any("(2, 4)" in a for a in edges(dot).values())
    assert "an RNN" in dot and "<B>outputs</B>" in dot
    assert "init" in dot and "next step" in dot


def test_overlay_through_a_scan_matches_evaluate_and_grad(fresh_graph):
    m = rnn()
    feed = rnn_feed()
    scan = loop_of(m["ys"])
    before = len(fresh_graph), list(scan.op.records)
    dot = sg.to_dot(m["loss"], values=feed, grads_of=m["loss"])
    assert (len(fresh_graph), list(scan.op.records)) == before  # the loop records nothing new
    e = edges(dot)
    value, grad = sg.evaluate([m["ys"], sg.grad(m["loss"], m["ys"])], feed)
    label = e[(f"n{m['ys'].id}", f"n{m['loss'].id}")]
    assert render.format_value(value) in label and render.format_value(grad) in label
    gh0 = sg.evaluate(sg.grad(m["loss"], m["h0"]), feed)
    (key,) = body_keys(m["loss"]).values()
    init = e[(f"n{m['h0'].id}", f"{key}n{scan.op.body.inputs[0].id}")]
    assert render.format_value(gh0) in init and render.format_value(feed["h0"]) in init


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


@needs_dot
def test_draw_and_jupyter_views_of_graphs_with_loops(fresh_graph):
    m = rnn()
    gW = sg.grad(m["loss"], m["W"])
    x = sg.variable("x")
    r = sg.cond(x > 0, lambda u: sg.exp(u), lambda u: u * u, x)
    w, _ = sg.while_loop(lambda c: c[0] < 5.0, lambda c: (c[0] + x, c[1]), (x, x), max_steps=9)
    d = sg.draw([m["loss"], gW, r, w])
    root = ET.fromstring(d.svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = {g.find("svg:title", ns).text for g in root.findall(".//svg:g[@class='cluster']", ns)}
    assert sum(1 for t in titles if re.fullmatch(r"cluster_b\d+", t)) == 5
    assert d.n_nodes == len(declared(d.source))
    for obj in (fresh_graph, gW, r):
        bundle = obj._repr_mimebundle_()
        ET.fromstring(bundle["image/svg+xml"])
        assert "text/plain" in bundle
    assert set(d._repr_mimebundle_()) == {"image/svg+xml", "text/plain"}
