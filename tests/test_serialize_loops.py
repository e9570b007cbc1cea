"""sg.save / sg.load of graphs with loops and branches (format version 2): faithful round
trips of scan / while_loop / cond and their derivative graphs, loaded graphs differentiated
again, and hand-edited files rejected with clear errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import symgraph as sg
from symgraph import serialize
from symgraph.flow.body import Body
from symgraph.flow.cond import Cond
from symgraph.serialize import dumps, loads

from loop_cases import CASES, V, derived


def _bodies(nodes) -> list[Body]:
    """Every body the ops of ``nodes`` run, and those of the nodes inside them (each once)."""
    seen: dict[Body, None] = {}
    todo = list(nodes)
    done: set = set()
    while todo:
        n = todo.pop()
        if n in done:
            continue
        done.add(n)
        todo.extend(n.inputs)
        for value in n.op.params().values():
            refs = value if isinstance(value, (list, tuple)) else [value]
            for r in refs:
                parts = r if isinstance(r, tuple) else (r,)
                for b in parts:
                    if isinstance(b, Body) and b not in seen:
                        seen[b] = None
                        todo.extend(b.outputs)
                    elif isinstance(b, sg.Node):
                        todo.append(b)
    return list(seen)


def _assert_same(want: dict, got: dict) -> None:
    for k in want:
        assert want[k].dtype == got[k].dtype and np.array_equal(want[k], got[k]), k


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_graph_round_trip_evaluates_the_same(name, fresh_graph):
    case = CASES[name]()
    outs = derived(case)
    want = sg.evaluate(outs, case.feed)
    text = dumps(fresh_graph)
    doc = json.loads(text)
    assert doc["version"] == serialize.VERSION == 2
    g2 = loads(text)
    assert isinstance(g2, sg.Graph) and len(g2) == len(fresh_graph)
    for a, b in zip(fresh_graph.nodes, g2.nodes):  # the saved graph's nodes keep their ids
        assert (type(a.op), a.shape, a.dtype, a.role, a.order, a.name) == \
            (type(b.op), b.shape, b.dtype, b.role, b.order, b.name)
        if not isinstance(a.op, Cond):  # a cond's label shows its bodies' graphs
            assert a.op.describe() == b.op.describe()
    got = sg.evaluate({k: g2.nodes[v.id] for k, v in outs.items()}, case.feed)
    _assert_same(want, got)
    # each body is saved once and shared as before: as many bodies and body graphs
    before, after = _bodies(outs.values()), _bodies([g2.nodes[v.id] for v in outs.values()])
    assert len(before) == len(after)
    assert len({b.graph for b in before}) == len({b.graph for b in after})
    for b in after:
        assert b.graph.parent is not None and b.graph.parent.encloses(b.graph)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loaded_graph_can_be_differentiated_again(name):
    case = CASES[name]()
    outs = derived(case)
    want = sg.evaluate(outs, case.feed)
    loss, w = loads(dumps([case.loss, case.w]))  # only the loss: no derivative bodies saved
    g = sg.grad(loss, w)
    feed = {k: v for k, v in case.feed.items() if loss.graph.variables(k)}
    got = sg.evaluate({"grad": g, "grad2": sg.grad(sg.sum(g * V), w),
                       "hvp_fwd": sg.hvp(loss, w, V), "jvp": sg.jvp(loss, w, V)}, feed)
    for k in got:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12, err_msg=k)
    # and a graph saved with its gradients, loaded, differentiated to a higher order
    loaded = loads(dumps(outs))
    g2 = sg.grad(sg.sum(loaded["grad2"] * V), loaded["loss"].graph.variables("w")[0])
    g1 = sg.grad(sg.sum(outs["grad2"] * V), case.w)
    np.testing.assert_allclose(sg.evaluate(g2, feed), sg.evaluate(g1, feed),
                               rtol=1e-12, atol=1e-12)


def test_outputs_structures_and_files(tmp_path):
    case = CASES["scan_checkpointed"]()
    outs = derived(case)
    want = sg.evaluate(outs, case.feed)
    path = tmp_path / "loops.json"
    sg.save(outs, path)
    got = sg.load(path)
    assert isinstance(got, dict) and list(got) == list(outs)
    _assert_same(want, sg.evaluate(got, case.feed))
    pair = loads(dumps((outs["loss"], outs["grad"])))
    assert isinstance(pair, tuple)
    _assert_same({"a": want["loss"], "b": want["grad"]},
                 dict(zip("ab", sg.evaluate(list(pair), case.feed))))


def test_saving_again_gives_the_same_file():
    case = CASES["nested_scans"]()
    outs = derived(case)
    text = dumps(outs)
    assert dumps(loads(text)) == text


def test_loop_free_graphs_still_write_and_read_version_1():
    x = sg.variable("x", (3,))
    text = dumps(sg.exp(x))
    assert json.loads(text)["version"] == 1
    y = loads(text)
    np.testing.assert_array_equal(sg.evaluate(y, {"x": np.ones(3)}), np.exp(np.ones(3)))


def test_body_graph_records_come_before_their_nodes_and_name_their_parent():
    case = CASES["nested_scans"]()
    doc = json.loads(dumps(case.loss))
    graphs = {0: None}
    depth = {0: 0}
    for rec in doc["nodes"]:
        if "parent" in rec:
            assert rec["parent"] in graphs
            graphs[rec["graph"]] = rec["parent"]
            depth[rec["graph"]] = depth[rec["parent"]] + 1
        else:
            assert rec["graph"] in graphs
    assert max(depth.values()) == 2  # a scan in a scan


# ---------------------------------------------------------------------------
# hand-edited files
# ---------------------------------------------------------------------------


def _scan_doc(grad: bool = True) -> dict:
    w = sg.variable("w", (2, 2))
    xs = sg.variable("xs", (3, 2))
    h, ys = sg.scan(lambda h, x: (sg.tanh(h @ w + x), sg.sum(h)), sg.zeros(2), xs)
    loss = sg.sum(h) + sg.sum(ys)
    outs = [loss, sg.grad(loss, w)] if grad else [loss]
    return json.loads(dumps(outs))


def _records(doc, kind):
    keys = {"node": "op", "body": "body", "graph": "parent"}
    return [r for r in doc["nodes"] if keys[kind] in r]


def _first_scan(doc):
    return next(r for r in doc["nodes"] if r.get("op", "").endswith("Scan"))


def _load(doc):
    return loads(json.dumps(doc))


def _drop_body(doc):
    doc["nodes"].remove(_records(doc, "body")[0])


def _body_after_its_outputs(doc):  # a body naming nodes after it: a forward reference
    nodes = doc["nodes"]
    body = _records(doc, "body")[0]
    nodes.remove(body)
    nodes.insert(nodes.index(_records(doc, "graph")[0]) + 1, body)


def _step_record_of_root(doc):
    scan = _first_scan(doc)
    scan["params"]["records"].append({"$tuple": ["step", {"$node": 0}]})


def _body_node_reads_root(doc):
    first_body_node = next(r for r in _records(doc, "node") if r["graph"] == 1 and r["inputs"])
    first_body_node["inputs"][0] = 0


def _body_input_not_a_variable(doc):
    body = _records(doc, "body")[0]
    body["inputs"][0] = body["outputs"][0]


def _body_input_of_root(doc):
    body = _records(doc, "body")[0]
    body["inputs"][0] = 0


def _captured_of_body_graph(doc):
    body = _records(doc, "body")[0]
    body["captured"][0] = body["inputs"][-1]


def _too_deep(doc):
    n = serialize.MAX_NESTING + 1
    chain = [{"graph": k, "name": "deep", "parent": k - 1} for k in range(1, n + 1)]
    for rec in doc["nodes"]:
        if "parent" in rec:
            rec["graph"] += n
            rec["parent"] += n if rec["parent"] else 0
        elif "body" in rec or rec.get("graph", 0):
            rec["graph"] += n if rec["graph"] else 0
    doc["nodes"][:0] = chain


def _set(kind, k, **fields):
    def fn(doc):
        _records(doc, kind)[k].update(fields)
    return fn


def _item(index=None, shape=None):
    def fn(doc):
        item = next(r for r in doc["nodes"] if r.get("op", "").endswith("Item"))
        if index is not None:
            item["params"]["index"] = index
        if shape is not None:
            item["params"]["shape"] = {"$tuple": shape}
            item["shape"] = shape
    return fn


def _scan_param(**params):
    def fn(doc):
        _first_scan(doc)["params"].update(params)
    return fn


def _version_1(doc):
    doc["version"] = 1
    doc["nodes"] = [r for r in doc["nodes"] if r.get("graph") == 0 and "op" in r]
    for k, r in enumerate(doc["nodes"]):
        del r["graph"]
        r["id"] = k


def _output_of_body(doc):
    doc["outputs"] = {"kind": "node", "ids": [_records(doc, "body")[0]["outputs"][0]]}


def _object_dtype(doc):
    next(r for r in doc["nodes"] if r.get("op", "").endswith("Tanh"))["dtype"] = "object"


BAD_DOCS = {
    "missing_body": (_drop_body, r"\$body takes the id of a body declared before"),
    "body_before_its_nodes": (_body_after_its_outputs, "must be a list of ids of nodes before "
                                                       "the body"),
    "node_cycle_in_body": (_set("node", 5, inputs=[5]), "refers to itself or a later node"),
    "step_record_of_another_graph": (_step_record_of_root, "not a node of the loop's body"),
    "body_node_reads_the_root": (_body_node_reads_root, "is a node of another graph"),
    "body_input_not_a_variable": (_body_input_not_a_variable, "must be distinct variables"),
    "body_input_of_the_root": (_body_input_of_root, "is not a node of the body's graph"),
    "captured_from_the_body_graph": (_captured_of_body_graph, "is not a node of the graph the "
                                                              "body is nested in"),
    "too_deep": (_too_deep, f"bodies nested {serialize.MAX_NESTING + 1} deep, more than the "
                            f"limit of {serialize.MAX_NESTING}"),
    "graph_id_skips": (_set("graph", 0, graph=5), "graph ids count up from 1; expected 1"),
    "parent_later": (_set("graph", 0, parent=1), "parent must be the id of a graph declared "
                                                 "before"),
    "body_in_the_saved_graph": (_set("body", 0, graph=0), "graph must be the id of a body graph"),
    "body_id_skips": (_set("body", 0, body=3), "body ids count up from 0; expected 0"),
    "node_of_unknown_graph": (_set("node", 4, graph=9), "graph must be 0 .the saved graph. or"),
    "body_extra_key": (_set("body", 0, code="x"), "a body has keys"),
    "unknown_record": (lambda d: d["nodes"].insert(3, {"what": 1}), "a record is a node"),
    "item_out_of_range": (_item(index=40), "item 40 of a node with"),
    "item_wrong_shape": (_item(shape=[5]), r"the file says item 0 has shape \(5,\)"),
    "traj_of_missing_carry": (_scan_param(records=[{"$tuple": ["traj", 4]}]),
                              "a traj record of carry 4"),
    "absurd_length": (_scan_param(length=2**40), "a loop of 1099511627776 steps"),
    "wrong_body_shapes": (_scan_param(n_xs=0), "the op does not accept its inputs/parameters"),
    "bodies_in_version_1": (_version_1, r"unknown value tag '\$body'"),
    "output_in_a_body": (_output_of_body, "ids must be nodes of the saved graph"),
    "object_dtype_of_an_array_op": (_object_dtype, "unsupported dtype \"object\""),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_malformed_files_are_rejected(case):
    mutate, match = BAD_DOCS[case]
    doc = _scan_doc()
    _load(copy.deepcopy(doc))  # the unmodified file loads
    mutate(doc)
    with pytest.raises(sg.SerializationError, match=match):
        _load(doc)


def test_a_body_reading_a_variable_it_does_not_take_fails_when_run():
    """The loader cannot tell cheaply; running the body says so instead of running on None."""
    doc = _scan_doc(grad=False)
    body = _records(doc, "body")[0]
    body["inputs"].pop()  # the variable standing for the captured w
    body["captured"].pop()
    _first_scan(doc)["inputs"].pop()
    loss = _load(doc)
    with pytest.raises(sg.SymgraphError, match="a body reads variable.*'w'.*not among its inputs"):
        sg.evaluate(loss, {"xs": np.ones((3, 2))})


def test_hostile_nesting_is_refused_before_any_body_node():
    """A file that is nothing but a deep chain of body graphs stops at the limit."""
    head = json.loads(dumps(sg.scan(lambda c, x: (c, None), sg.zeros(()), length=1)[0]))
    head["nodes"] = [{"graph": k, "name": None, "parent": k - 1} for k in range(1, 10_000)]
    head["outputs"] = {"kind": "graph"}
    with pytest.raises(sg.SerializationError, match="nested 33 deep"):
        _load(head)


@pytest.mark.parametrize("how", ["vectorize", "jacobian", "hessian"])
def test_batched_gradients_of_a_checkpointed_scan_load_back(how):
    """A batched body is a body of its loop's graph: a file saved from vectorize, jacobian or
    hessian through a checkpointed scan's gradient loads back and agrees."""
    with sg.Graph():
        w, wb = sg.variable("w", (2,)), sg.variable("wb", (3, 2))
        h, _ = sg.scan(lambda h, _: (sg.sin(h * w), None), sg.ones((2,)), None, length=3,
                       checkpoint=2)
        loss = sg.sum(h * h)
        out = {"vectorize": lambda: sg.vectorize(sg.grad(loss, w), {w: wb}),
               "jacobian": lambda: sg.jacobian(sg.grad(loss, w), w, mode="rev"),
               "hessian": lambda: sg.hessian(loss, w)}[how]()
        feed = {w: np.array([0.3, -0.7]), wb: np.random.default_rng(0).normal(size=(3, 2))}
        want = sg.evaluate(out, feed)
        back = loads(dumps(out))
        got = sg.evaluate(back, {k.name: v for k, v in feed.items()
                                 if k.name in {n.name for n in back.graph.variables()}})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
