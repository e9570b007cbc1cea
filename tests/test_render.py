"""Pictures: DOT structure, colours per order, overlays checked against evaluate/grad, rendering."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symgraph as sg
from symgraph import render
from symgraph.traversal import ancestors, pruned_subgraph
from symgraph.render import CONSTANT, FORWARD, GRADIENT_COLOURS, INPUT, format_value

needs_dot = pytest.mark.skipif(not render.dot_available(),
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")

NODE_RE = re.compile(r"^\s*n(\d+) \[(.*)\]$", re.M)
EDGE_RE = re.compile(r"^\s*n(\d+) -> (n\d+|out\d+) \[(.*)\]$", re.M)
LABEL_ROWS = re.compile(r'<FONT COLOR="(#[0-9a-f]{6})">([^<]*)</FONT>')


def drawn_ids(dot: str) -> set[int]:
    return {int(m.group(1)) for m in NODE_RE.finditer(dot)}


def node_attrs(dot: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in NODE_RE.finditer(dot)}


def node_rows(dot: str) -> dict[int, dict[str, str]]:
    """id -> {colour: text} of the green/red rows inside each node's label (under its rule)."""
    out = {}
    for i, attrs in node_attrs(dot).items():
        label = re.search(r"label=(<.*>) color=", attrs).group(1)
        if "<HR/>" in label:
            out[i] = dict(LABEL_ROWS.findall(label.split("<HR/>", 1)[1]))
    return out


def edge_overlay(dot: str) -> dict[tuple[int, str], dict[str, str]]:
    """(tail id, head) -> {colour: text} of the green/red rows of each edge label."""
    out = {}
    for m in EDGE_RE.finditer(dot):
        out[(int(m.group(1)), m.group(2))] = dict(
            (c, t) for c, t in LABEL_ROWS.findall(m.group(3)))
    return out


@pytest.fixture
def seed(fresh_graph):
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    l1 = w * x
    l2 = l1 - y
    f = l2 ** 2
    return dict(g=fresh_graph, w=w, x=x, y=y, l1=l1, l2=l2, f=f,
                feed={"w": 1.0, "x": 2.0, "y": 3.0})


# ---------------------------------------------------------------------------
# structure
# ---------------------------------------------------------------------------


def test_dot_draws_every_node_but_folds_scalar_constants(seed):
    s = seed
    dot = sg.to_dot(s["f"])
    assert dot.startswith("digraph")
    assert drawn_ids(dot) == {s[k].id for k in ("w", "x", "y", "l1", "l2", "f")}
    # arguments are spelled out in order; the folded constant is shown in its consumer
    assert f"power(#{s['l2'].id}, 2)" in dot and f"subtract(#{s['l1'].id}, y)" in dot
    named = sg.to_dot(s["f"], labels={s["l1"]: "l1", s["l2"]: "l2"})
    assert "power(l2, 2)" in named and "subtract(l1, y)" in named and "multiply(w, x)" in named
    unfolded = sg.to_dot(s["f"], collapse_constants=False)
    assert len(drawn_ids(unfolded)) == len(s["g"]) == 7


def test_dot_of_a_node_is_its_ancestors_only(seed):
    s = seed
    assert drawn_ids(sg.to_dot(s["l1"])) == {s["w"].id, s["x"].id, s["l1"].id}


def test_edges_follow_inputs_and_carry_shapes(fresh_graph):
    X = sg.variable("X", (4, 3))
    W = sg.variable("W", (3, 2), dtype="float32")
    loss = sg.sum(X @ W)
    dot = sg.to_dot(loss)
    edges = {(m.group(1), m.group(2)) for m in EDGE_RE.finditer(dot)}
    mm = loss.inputs[0]
    assert edges == {(str(X.id), f"n{mm.id}"), (str(W.id), f"n{mm.id}"),
                     (str(mm.id), f"n{loss.id}")}
    assert "(4, 3)" in dot and "(3, 2) float32" in dot and "(4, 2)" in dot


def test_colours_and_clusters_per_order(fresh_graph):
    x = sg.variable("x")
    ds = [sg.sin(x)]
    for _ in range(3):
        ds.append(sg.grad(ds[-1], x))
    dot = sg.to_dot(ds)
    attrs = node_attrs(dot)
    assert drawn_ids(dot) == {n.id for n in fresh_graph.nodes if not render._is_scalar_constant(n)}
    for n in fresh_graph.nodes:
        if n.id not in attrs:
            continue
        if n.role == "input":
            want = INPUT.fill
        elif n.role == "constant":
            want = CONSTANT.fill
        elif n.role == "forward":
            want = FORWARD.fill
        else:
            want = GRADIENT_COLOURS[n.order - 1][0]
        assert f'fillcolor="{want}"' in attrs[n.id], (n, attrs[n.id])
    assert len({GRADIENT_COLOURS[k][0] for k in range(3)} | {FORWARD.fill, INPUT.fill}) == 5
    for k in (1, 2, 3):
        assert f"cluster_order{k}" in dot
        assert f"gradient, order {k}" in dot  # legend entry
    assert "gradient, order 4" not in dot
    assert "cluster_order" not in sg.to_dot(ds, clusters=False)


#: Colour-vision deficiency simulation (Machado, Oliveira & Fernandes 2009, severity 1),
#: applied to linear RGB.
CVD = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def lab(hex_colour: str, seen_by: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour, as seen through a CVD matrix."""
    c = np.array([int(hex_colour[k:k + 2], 16) for k in (1, 3, 5)]) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    linear = np.clip(seen_by @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_palette_kinds_stay_apart_also_for_colour_blind_eyes():
    """Inputs, constants, forward nodes and gradients of orders 1-4: every two differ by a
    colour difference (CIE76 delta E) of at least 8.5 in fill and 13 in border, for normal
    vision and each kind of dichromacy.  (The first palette's order-3 border was the
    inputs' to a protanope: delta E 0.3.)"""
    kinds = [(INPUT.fill, INPUT.border), (CONSTANT.fill, CONSTANT.border),
             (FORWARD.fill, FORWARD.border), *GRADIENT_COLOURS[:4]]
    assert len(GRADIENT_COLOURS) >= 4
    for part, least in ((0, 8.5), (1, 13.0)):
        for vision, m in CVD.items():
            for a, b in itertools.combinations(kinds, 2):
                delta = np.linalg.norm(lab(a[part], m) - lab(b[part], m))
                assert delta >= least, (vision, "fill" if part == 0 else "border", a, b, delta)


def test_legend_lists_only_kinds_present(seed):
    dot = sg.to_dot(seed["f"], collapse_constants=False)
    for entry in (">input<", ">constant<", ">forward<"):
        assert entry in dot
    assert "gradient, order" not in dot
    assert ">value<" not in dot  # no overlay, no value entry


# ---------------------------------------------------------------------------
# overlays
# ---------------------------------------------------------------------------


def test_overlay_matches_evaluate_and_grad(seed):
    """Green = value of the edge's tail, red = d f / d tail, each checked independently."""
    s = seed
    n_before = len(s["g"])
    dot = sg.to_dot(s["f"], values=s["feed"], grads_of=s["f"])
    assert len(s["g"]) == n_before, "drawing must not add nodes to the user's graph"
    overlay = edge_overlay(dot)
    tails = [s[k] for k in ("w", "x", "y", "l1", "l2")]
    values = sg.evaluate(tails + [s["f"]], s["feed"])
    grads = sg.evaluate(sg.grad(s["f"], tails + [s["f"]]), s["feed"])
    want = dict(zip(tails + [s["f"]], zip(values, grads)))
    assert len(overlay) == 5  # five edges; the output's value sits in its node
    overlay[(s["f"].id, "node")] = node_rows(dot)[s["f"].id]
    for (tail, _head), rows in overlay.items():
        node = next(n for n in want if n.id == tail)
        v, g = want[node]
        assert rows == {render.VALUE_COLOUR: format_value(v), render.GRAD_COLOUR: format_value(g)}
    # the blog's gradient table, read off the picture
    by_id = {t: rows[render.GRAD_COLOUR] for (t, _), rows in overlay.items()}
    assert [by_id[s[k].id] for k in ("f", "l2", "y", "l1", "x", "w")] == \
        ["1", "-2", "2", "-2", "-2", "-4"]
    assert "∂f/∂value" in dot


def _check_overlay_against_grad(dot, y, feed):
    """Every red/green row of ``dot`` equals an independent evaluate / sg.grad."""
    overlay = {t: rows for (t, _), rows in edge_overlay(dot).items() if rows}
    assert overlay
    nodes = [n for n in y.graph.nodes if n.id in overlay]
    with np.errstate(all="ignore"):  # d (l2 ** k) / dk = l2 ** k log(l2) is nan at l2 = -1
        values = sg.evaluate(nodes, feed)
        grads = sg.evaluate(sg.grad(y, nodes), feed)
    for n, v, g in zip(nodes, values, grads):
        assert overlay[n.id] == {render.VALUE_COLOUR: format_value(v),
                                 render.GRAD_COLOUR: format_value(g)}, n


def test_gradient_overlay_when_max_nodes_cuts_the_graph(fresh_graph):
    x = sg.variable("x")
    y = x
    for k in range(60):
        y = sg.sin(y) * 1.1 if k % 3 else sg.tanh(y + x)
    dot = sg.to_dot(y, values={"x": 0.4}, grads_of=y, max_nodes=15)
    assert len(drawn_ids(dot)) == 15
    _check_overlay_against_grad(dot, y, {"x": 0.4})


def test_gradient_overlay_of_drawn_constants(seed):
    s = seed
    dot = sg.to_dot(s["f"], values=s["feed"], grads_of=s["f"], collapse_constants=False)
    _check_overlay_against_grad(dot, s["f"], s["feed"])


def test_fed_intermediate_cuts_gradients(fresh_graph):
    x = sg.variable("x")
    h = sg.exp(x)
    y = h * h + x
    dot = sg.to_dot(y, values={"x": 0.5, h: 3.0}, grads_of=y)
    rows = {t: r for (t, _), r in edge_overlay(dot).items()}
    assert rows[h.id] == {render.VALUE_COLOUR: "3", render.GRAD_COLOUR: "6"}
    assert rows[x.id] == {render.VALUE_COLOUR: "0.5", render.GRAD_COLOUR: "1"}  # not 1 + 2e^2x


def test_overlay_on_augmented_graph_values_of_gradient_nodes(seed):
    s = seed
    dw, dx, dy = sg.grad(s["f"], [s["w"], s["x"], s["y"]])
    dot = sg.to_dot(s["g"], values=s["feed"])
    outs = {t: rows[render.VALUE_COLOUR] for t, rows in node_rows(dot).items()}
    assert outs == {s["f"].id: "1", dw.id: "-4", dx.id: "-2", dy.id: "2"}


def test_each_output_value_sits_in_its_own_node_no_fan_of_arrows(seed):
    """The seed's second order: nine outputs, each showing its value inside its node."""
    s = seed
    wrt = [s["w"], s["x"], s["y"]]
    g = sg.grad(s["f"], wrt)
    h = [n for gi in g for n in sg.grad(gi, wrt)]
    outputs = [s["f"], *g, *h]
    dot = sg.to_dot(outputs, values=s["feed"])
    rows = node_rows(dot)
    values = sg.evaluate(outputs, s["feed"])
    assert {o.id: rows[o.id] for o in outputs} == {
        o.id: {render.VALUE_COLOUR: format_value(v)} for o, v in zip(outputs, values)}
    assert set(rows) == {o.id for o in outputs}  # only outputs carry rows in their node
    assert "shape=point" not in dot and not re.search(r"-> out\d+", dot)
    # with grads_of, an output also shows d grads_of / d output under its value
    rows = node_rows(sg.to_dot([s["f"], *g], values=s["feed"], grads_of=s["f"]))
    assert rows[s["f"].id] == {render.VALUE_COLOUR: "1", render.GRAD_COLOUR: "1"}
    # an array output shows its shape in its node: it has no edge to write it on
    X = sg.variable("X", (2, 3))
    assert "(2, 3)" in node_attrs(sg.to_dot(X * 2))[(X * 2).id]


def test_overlay_skips_nodes_the_feed_does_not_determine(seed):
    s = seed
    overlay = edge_overlay(sg.to_dot(s["f"], values={"w": 1.0, "x": 2.0}))
    shown = {t for (t, _), rows in overlay.items() if rows}
    assert shown == {s["w"].id, s["x"].id, s["l1"].id}


def test_overlay_with_arrays_and_feeding_intermediates(fresh_graph):
    x = sg.variable("x", (5,))
    h = sg.exp(x)
    y = sg.sum(h * h)
    dot = sg.to_dot(y, values={h: np.arange(5.0)}, grads_of=y)
    overlay = edge_overlay(dot)
    assert overlay[(h.id, f"n{(h * h).id}")] == {render.VALUE_COLOUR: "[0, 1, …]",
                                                 render.GRAD_COLOUR: "[0, 2, …]"}
    assert overlay[(x.id, f"n{h.id}")] == {}  # x is not fed: h's value cuts it off


def test_format_value():
    assert format_value(np.float64(-4.0)) == "-4"
    assert format_value(1 / 3) == "0.3333"
    assert format_value(np.array([1.0, 2.0, 3.0])) == "[1, 2, 3]"
    assert format_value(np.arange(10.0)) == "[0, 1, …]"
    assert format_value(np.array(True)) == "True"
    assert format_value(np.array(7)) == "7"


# ---------------------------------------------------------------------------
# selection: G', max_nodes, labels
# ---------------------------------------------------------------------------


def test_wrt_draws_pruned_subgraph_and_dashed_context(fresh_graph):
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    f = (w * x - y) ** 2 + sg.exp(y)
    dot = sg.to_dot(f, wrt=[w])
    attrs = node_attrs(dot)
    core = {n.id for n in pruned_subgraph([f], [w])}
    dashed = {i for i, a in attrs.items() if "dashed" in a}
    solid = set(attrs) - dashed
    assert solid == core
    assert dashed == {x.id, y.id, sg.exp(y).id}
    assert "outside G′" in dot


def solid_gradient_ids(dot: str) -> set[int]:
    """Ids of the gradient nodes drawn (the fill of some order), not dashed context."""
    fills = {f'fillcolor="{fill}"' for fill, _ in GRADIENT_COLOURS}
    return {i for i, a in node_attrs(dot).items() if any(f in a for f in fills)}


def gradient_ancestors(nodes) -> set[int]:
    return {n.id for n in ancestors(nodes) if n.role == "gradient"}


def test_wrt_view_of_an_augmented_graph_shows_only_that_gradient(seed):
    """G′ of w: the forward part between w and f and the gradient nodes build_grad makes
    for df/dw, not those that only df/dx or df/dy need."""
    s = seed
    dw, dx, dy = sg.grad(s["f"], [s["w"], s["x"], s["y"]])
    n_before = len(s["g"])
    dot = sg.to_dot([s["f"], dw, dx, dy], wrt=[s["w"]])
    assert len(s["g"]) == n_before, "the G′ view must not add nodes to the user's graph"
    assert solid_gradient_ids(dot) == gradient_ancestors([dw])
    drawn = drawn_ids(dot)
    assert dw.id in drawn and dx.id not in drawn and dy.id not in drawn
    assert {s[k].id for k in ("w", "l1", "l2", "f")} <= drawn
    # the view of x has df/dx instead; of both, both
    assert solid_gradient_ids(sg.to_dot([s["f"], dw, dx, dy], wrt=[s["x"]])) == \
        gradient_ancestors([dx])
    assert solid_gradient_ids(sg.to_dot([s["f"], dw, dx, dy], wrt=[s["w"], s["x"]])) == \
        gradient_ancestors([dw, dx])
    # drawing only the gradients: the same gradient nodes, f is not in the picture
    assert solid_gradient_ids(sg.to_dot([dw, dx, dy], wrt=[s["w"]])) == gradient_ancestors([dw])


def test_wrt_view_of_second_order_shows_the_second_derivatives_with_respect_to_w(seed):
    s = seed
    wrt = [s["w"], s["x"], s["y"]]
    g = sg.grad(s["f"], wrt)
    h = [sg.grad(gi, wrt) for gi in g]
    everything = [s["f"], *g, *(n for row in h for n in row)]
    dot = sg.to_dot(everything, wrt=[s["w"]])
    by_id = {n.id: n for n in s["g"].nodes}
    second = {i for i in solid_gradient_ids(dot) if by_id[i].order == 2}
    wanted = [row[0] for row in h]  # d(df/dw)/dw, d(df/dx)/dw, d(df/dy)/dw
    assert second == {i for i in gradient_ancestors(wanted) if by_id[i].order == 2}
    drawn = drawn_ids(dot)
    for row in h:
        assert row[0].id in drawn
        assert all(n.id not in drawn for n in row[1:] if n not in ancestors(wanted))


def test_wrt_view_of_a_forward_graph_is_unchanged_by_gradients_elsewhere(seed):
    s = seed
    before = sg.to_dot(s["f"], wrt=[s["w"]])
    sg.grad(s["f"], [s["x"]])
    assert sg.to_dot(s["f"], wrt=[s["w"]]) == before


def referenced_ids(dot: str) -> set[int]:
    """Every ``#id`` written in a node's label (tooltips excluded)."""
    found = set()
    for attrs in node_attrs(dot).values():
        label = re.search(r"label=(<.*>) color=", attrs).group(1)
        label = re.sub(r'COLOR="[^"]*"', "", label)
        found.update(int(i) for i in re.findall(r"#(\d+)", label))
    return found


def test_labels_never_refer_to_nodes_not_drawn(fresh_graph):
    x, y = sg.variable("x"), sg.variable("y")
    z = x
    for k in range(30):
        z = sg.sin(z) * y if k % 2 else z * x + y
    dot = sg.to_dot(z, max_nodes=8)
    drawn = drawn_ids(dot)
    assert {x.id, y.id, z.id} <= drawn and len(drawn) == 8
    assert referenced_ids(dot) <= drawn
    assert "⋯" in dot  # an unnamed node cut off is written as such
    for n in (x, y):  # the inputs feed the part cut off
        assert f"n{n.id} -> hidden" in dot
    # G′ draws what enters it from outside dashed; their own inputs are not drawn
    w = sg.variable("w")
    f = (w * x - sg.exp(y * y)) ** 2
    dot = sg.to_dot([f, *sg.grad(f, [w, x])], wrt=[w])
    assert referenced_ids(dot) <= drawn_ids(dot)


def test_max_nodes_keeps_every_output_and_input(fresh_graph):
    xs = [sg.variable(f"x{k}") for k in range(6)]
    outs = [sg.tanh(sg.sin(sg.exp(v)) * xs[0]) for v in xs]
    dot = sg.to_dot(outs, max_nodes=4)
    drawn = drawn_ids(dot)
    assert {n.id for n in xs + outs} <= drawn  # more than 4: they are what the picture is about
    assert referenced_ids(dot) <= drawn


def test_max_nodes_keeps_nodes_nearest_the_output_on_a_deep_chain(fresh_graph):
    x = sg.variable("x")
    y = x
    for _ in range(20_000):  # deep: the picture code must not recurse
        y = sg.sin(y)
    dot = sg.to_dot(y, max_nodes=25)
    ids = drawn_ids(dot)
    assert len(ids) == 25 and y.id in ids and x.id in ids  # the output and the input stay
    assert min(ids - {x.id}) == y.id - 23
    assert "19976 more nodes" in dot
    assert 'hidden -> n' in dot and f"n{x.id} -> hidden" in dot
    # the input's value and gradient are on its edge into the part cut off
    dot = sg.to_dot(y, max_nodes=25, values={"x": 0.5}, grads_of=y)
    edge = re.search(rf"^\s*n{x.id} -> hidden \[(.*)\]$", dot, re.M).group(1)
    want_value, want_grad = sg.evaluate([x, sg.grad(y, x)], {"x": 0.5})
    assert dict(LABEL_ROWS.findall(edge)) == {render.VALUE_COLOUR: format_value(want_value),
                                              render.GRAD_COLOUR: format_value(want_grad)}
    with pytest.raises(sg.RenderError, match="max_nodes"):
        sg.to_dot(y, max_nodes=0)


def test_labels_name_intermediate_nodes_and_text_is_escaped(fresh_graph):
    a = sg.variable("a<b & c>")
    h = sg.tanh(a)
    dot = sg.to_dot(h, labels={h: "hidden <h>"})
    assert "a&lt;b &amp; c&gt;" in dot and "hidden &lt;h&gt;" in dot
    assert "label=<<B>a<b" not in dot


def test_bad_arguments_raise_render_errors(seed, fresh_graph):
    s = seed
    with pytest.raises(sg.RenderError, match="grads_of needs values"):
        sg.to_dot(s["f"], grads_of=s["f"])
    with sg.Graph():
        other = sg.variable("z")
    with pytest.raises(sg.RenderError, match="two graphs"):
        sg.to_dot([s["f"], other])
    with pytest.raises(sg.RenderError, match="rankdir"):
        sg.to_dot(s["f"], rankdir="sideways")
    with pytest.raises(sg.RenderError, match="scalar"):
        v = sg.variable("v", (2,))
        sg.to_dot(v * 2, values={"v": [1.0, 2.0]}, grads_of=v * 2)
    with pytest.raises(sg.RenderError, match="Graph, a Node"):
        sg.to_dot([s["f"], 3])
    with pytest.raises(sg.RenderError, match="empty"):
        sg.to_dot([])
    with pytest.raises(sg.UnknownInputError, match="nope"):
        sg.to_dot(s["f"], values={"w": 1.0, "nope": 2.0})
    with pytest.raises(sg.RenderError, match="grads_of cannot be evaluated"):
        sg.to_dot(s["f"], values={"w": 1.0}, grads_of=s["f"])


# ---------------------------------------------------------------------------
# rendering with dot
# ---------------------------------------------------------------------------


@needs_dot
def test_draw_svg_parses_as_xml_with_one_group_per_node(seed):
    s = seed
    d = sg.draw(s["f"], values=s["feed"], grads_of=s["f"], labels={s["l1"]: "l1"})
    root = ET.fromstring(d.svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = root.findall(".//svg:g[@class='node']", ns)
    titles = {g.find("svg:title", ns).text for g in groups}
    assert {f"n{s[k].id}" for k in ("w", "x", "y", "l1", "l2", "f")} <= titles
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"l1", "-4", "∂f/∂value"} <= texts
    assert d._repr_svg_() == d.svg
    assert set(d._repr_mimebundle_()) == {"image/svg+xml", "text/plain"}


@needs_dot
@pytest.mark.parametrize("ext, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_save_by_extension(seed, tmp_path, ext, magic):
    path = sg.draw(seed["f"], values=seed["feed"]).save(tmp_path / f"seed.{ext}")
    assert path.read_bytes().startswith(magic)


@needs_dot
def test_save_rejects_unknown_extension(seed, tmp_path):
    with pytest.raises(sg.RenderError, match="svg"):
        sg.draw(seed["f"]).save(tmp_path / "seed.txt")


@needs_dot
def test_jupyter_reprs_of_graph_and_node(seed):
    for obj in (seed["g"], seed["f"]):
        bundle = obj._repr_mimebundle_()
        ET.fromstring(bundle["image/svg+xml"])
        assert "symgraph" in bundle["text/plain"] or "Node" in bundle["text/plain"]
    assert set(sg.Graph()._repr_mimebundle_()) == {"text/plain"}


def test_without_dot_draw_explains_how_to_install_and_to_dot_still_works(seed, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(sg.RenderError, match="apt-get install graphviz"):
        sg.draw(seed["f"])
    assert sg.to_dot(seed["f"]).startswith("digraph")
    bundle = seed["g"]._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and "apt-get install graphviz" in bundle["text/plain"]


# ---------------------------------------------------------------------------
# layout: direction, width, cluster titles
# ---------------------------------------------------------------------------


SVG = {"svg": "http://www.w3.org/2000/svg"}


def svg_size(svg: str) -> tuple[float, float, float]:
    """(width shown in px, width drawn in px, height shown / width shown)."""
    root = ET.fromstring(svg)
    drawn = float(root.get("viewBox").split()[2]) * 4 / 3
    w, h = root.get("width"), root.get("height")
    assert w.endswith("px") and h.endswith("px")
    return float(w[:-2]), drawn, float(h[:-2]) / float(w[:-2])


def augmented_mlp():
    """Notebook 02's graph: a ReLU network's cost and its gradient."""
    X, y = sg.variable("X", (150, 2)), sg.variable("y", (150,), dtype="int64")
    W1, W2 = sg.variable("W1", (2, 16)), sg.variable("W2", (16, 3))
    J = sg.cross_entropy(sg.relu(X @ W1) @ W2, y) + 1e-3 * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
    return [J, *sg.grad(J, [W1, W2])]


@needs_dot
def test_a_large_drawing_is_shown_at_most_max_width_wide_and_saved_full_size(fresh_graph,
                                                                             tmp_path):
    augmented_mlp()
    d = sg.draw(fresh_graph)
    shown, drawn, aspect = svg_size(d.svg)
    assert drawn > render.DEFAULT_MAX_WIDTH  # wider than a notebook as drawn
    assert shown == render.DEFAULT_MAX_WIDTH  # scaled to fit, whole (the viewBox is kept)
    assert 'style="max-width: 100%; height: auto"' in d.svg  # and narrower with the page
    narrow = sg.draw(fresh_graph, max_width=600)
    assert svg_size(narrow.svg)[0] == 600 and svg_size(narrow.svg)[2] == pytest.approx(aspect,
                                                                                       rel=0.01)
    natural = sg.draw(fresh_graph, max_width=None)
    assert svg_size(natural.svg)[0] == pytest.approx(drawn, abs=1)
    # a PNG is drawn at full size, to be readable
    from PIL import Image
    png = Image.open(d.save(tmp_path / "mlp.png"))
    assert png.width == pytest.approx(drawn, rel=0.02)
    with pytest.raises(sg.RenderError, match="max_width"):
        sg.to_dot(fresh_graph, max_width=0)


@needs_dot
def test_a_small_drawing_keeps_its_size(seed):
    shown, drawn, _ = svg_size(sg.draw(seed["l1"]).svg)
    assert shown == pytest.approx(drawn, abs=1) and shown < render.DEFAULT_MAX_WIDTH


def test_auto_direction_runs_left_to_right_while_it_fits(fresh_graph):
    x = sg.variable("x")
    short = sg.tanh(sg.sin(x) * x)
    assert "rankdir=LR" in sg.to_dot(short)
    deep = x
    for _ in range(14):
        deep = sg.sin(deep)
    assert "rankdir=TB" in sg.to_dot(deep)  # 15 ranks left to right would be too wide
    assert "rankdir=LR" in sg.to_dot(deep, max_width=3000)  # unless the page is wide
    assert "rankdir=BT" in sg.to_dot(deep, rankdir="BT")
    # many short parallel paths: left to right is the narrow way
    wide = [sg.exp(sg.variable(f"v{k}")) for k in range(30)]
    assert "rankdir=LR" in sg.to_dot(wide)


def title_boxes_and_edges(drawing):
    """The text boxes of the cluster titles and points along every edge, from dot's own
    layout (its json output: text widths as dot measured them)."""
    layout = json.loads(drawing.pipe("json"))
    boxes = []
    for obj in layout["objects"]:
        if not obj.get("name", "").startswith("title_"):
            continue
        size = 14.0
        for op in obj.get("_ldraw_", []):
            if op["op"] == "F":
                size = op["size"]
            elif op["op"] == "T":
                (x, y), w = op["pt"], op["width"]
                left = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
                boxes.append((op["text"], left, y - 0.2 * size, left + w, y + 0.75 * size))
    edges = []
    t = np.linspace(0, 1, 20)[:, None]
    for e in layout.get("edges", []):
        for op in e.get("_draw_", []):
            if op["op"] != "b":
                continue
            p = np.array(op["points"])
            curve = [(1 - t) ** 3 * p[k - 1] + 3 * (1 - t) ** 2 * t * p[k]
                     + 3 * (1 - t) * t ** 2 * p[k + 1] + t ** 3 * p[k + 2]
                     for k in range(1, len(p) - 2, 3)]
            edges.append((f"{layout['objects'][e['tail']]['name']}->"
                          f"{layout['objects'][e['head']]['name']}", np.concatenate(curve)))
    return boxes, edges


@needs_dot
def test_edges_do_not_cross_cluster_titles(fresh_graph):
    """Titles are nodes of their clusters, which dot routes edges around (a cluster's own
    label sits where edges entering the cluster pass)."""
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    f = (w * x - y) ** 2
    g = sg.grad(f, [w, x, y])
    second = [f, *g, *(n for gi in g for n in sg.grad(gi, [w, x, y]))]
    z = sg.variable("z")
    r = sg.cond(z > 0, lambda u: sg.exp(u), lambda u: u * u, z)
    c, _ = sg.while_loop(lambda c: c[0] < 5.0, lambda c: (c[0] + z, c[1]), (z, z), max_steps=9)
    ds = [sg.sin(x)]
    for _ in range(3):
        ds.append(sg.grad(ds[-1], x))
    pictures = [sg.draw([f, *g], values={"w": 1, "x": 2, "y": 3}), sg.draw(second),
                sg.draw([r, c, sg.grad(r + c, z)]), sg.draw(ds)]
    titles = 0
    for d in pictures:
        lines = d.source.splitlines()
        for k, line in enumerate(lines):  # a cluster's attributes come first: no label
            if line.strip().startswith("subgraph cluster_"):
                assert 'label=""' in lines[k + 1], lines[k + 1]
        boxes, edges = title_boxes_and_edges(d)
        titles += len(boxes)
        for text, x0, y0, x1, y1 in boxes:
            for name, pts in edges:
                inside = (pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)
                assert not inside.any(), f"edge {name} crosses the title {text!r}"
    assert titles >= 12


@needs_dot
def test_the_picture_title_is_written_once_not_in_every_cluster(seed):
    s = seed
    g = sg.grad(s["f"], [s["w"], s["x"]])
    d = sg.draw([s["f"], *g], values=s["feed"], title="the seed example")
    texts = [t.text for t in ET.fromstring(d.svg).iter("{http://www.w3.org/2000/svg}text")]
    assert texts.count("the seed example") == 1
    assert texts.count("order-1 gradient nodes") == 1


def test_gradient_nodes_say_which_derivative_they_are(seed):
    """The picture reads like the hand derivation: df/dl2 = 2*l2, df/dw = df/dl2 * x."""
    w, x, y, l1, l2, f = (seed[k] for k in ("w", "x", "y", "l1", "l2", "f"))
    dw, dx, dy = sg.grad(f, [w, x, y])
    dot = sg.to_dot([f, dw, dx, dy], labels={l1: "l1", l2: "l2"})
    attrs = node_attrs(dot)
    dl2 = dw.inputs[0]
    assert "∂f/∂l2" in attrs[dl2.id] and "multiply(2, l2)" in attrs[dl2.id]
    assert "multiply(∂f/∂l2, x)" in attrs[dw.id] and "∂f/∂w" in attrs[dw.id]
    assert "∂f/∂x" in attrs[dx.id] and "∂f/∂y" in attrs[dy.id]
    assert re.search(r"<B>f</B>", attrs[f.id])  # the unnamed scalar is called f
    # derivatives of derivatives are named as one: d2f/dw2, d2f/dx dw
    hww, hwx = sg.grad(dw, [w, x])
    attrs = node_attrs(sg.to_dot([hww, hwx]))
    assert "∂²f/∂w²" in attrs[hww.id] and "∂²f/∂x∂w" in attrs[hwx.id]
    assert [float(v) for v in sg.evaluate([hww, hwx], seed["feed"])] == [8.0, 2.0]


def test_a_named_scalar_keeps_its_name_in_derivatives(fresh_graph):
    x = sg.variable("x")
    f = sg.variable("f")  # a variable named f: the differentiated scalar is not renamed
    loss = sg.sin(x) * f
    (dx,) = sg.grad(loss, [x])
    attrs = node_attrs(sg.to_dot([loss, dx], labels={loss: "loss"}))
    assert "∂loss/∂x" in attrs[dx.id]
    attrs = node_attrs(sg.to_dot([loss, dx]))
    assert f"∂#{loss.id}/∂x" in attrs[dx.id]


def test_an_output_that_is_a_constant_is_drawn_with_its_value(fresh_graph):
    """d(sqrt(2) x)/dx is the folded constant sqrt(2): an output, so never folded into the
    label of the node using it (it would vanish from the picture)."""
    x = sg.variable("x")
    c = sg.sqrt(sg.constant(2.0))
    f = c * x
    (dx,) = sg.grad(f, [x])
    assert dx is c
    dot = sg.to_dot([f, dx], values={"x": 1.0})
    assert dx.id in drawn_ids(dot) and "1.414" in node_attrs(dot)[dx.id]


def test_a_reused_node_never_names_itself_a_derivative_of_itself(fresh_graph):
    """exp(-x^2) made inside erf's gradient and again by the user: d e/d u is e itself, an
    older node, which must not be named (a cycle would make drawing loop forever)."""
    x = sg.variable("x")
    sg.grad(sg.erf(x), x)
    u = -sg.square(x)
    e = sg.exp(u)
    (de,) = sg.grad(e, [u])
    assert de is e and e not in fresh_graph.derivatives or fresh_graph.derivatives[e][0] is not e
    assert "digraph" in sg.to_dot(e)


def test_forward_mode_by_transposition_names_nothing(fresh_graph):
    class Cube(sg.Op):
        name = "cube_for_render"

        def f(self, x):
            return x ** 3

        def bprop(self, inputs, out, g):
            (x,) = inputs
            return [g * 3 * sg.square(x)]

    z = sg.variable("z")
    before = dict(fresh_graph.derivatives)
    t = sg.jvp(Cube()(z), z, 1.0)
    assert fresh_graph.derivatives == before and "∂" not in sg.to_dot(t)


def test_negative_zero_is_drawn_as_zero():
    assert format_value(-0.0) == "0" and format_value(np.array([-0.0, 1.0])) == "[0, 1]"
