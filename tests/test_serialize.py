"""sg.save / sg.load: faithful round trips, and untrusted files rejected with clear errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import symgraph as sg
from symgraph.serialize import dumps, loads


def _model():
    x = sg.variable("x", (2, 3))
    w = sg.variable("w", (3,))
    labels = sg.variable("labels", (2,), "int64")
    h = sg.tanh(x * w)[:, ::-1][np.array([1, 0, 1])][None, ..., 0]
    loss = sg.cross_entropy(x @ sg.reshape(w, (3, 1)) * sg.ones_like(x), labels) + sg.sum(h) \
        + sg.logsumexp(sg.concatenate([x, x * 2], axis=1), axis=(0, 1)) \
        + sg.mean(sg.stack([w, sg.sqrt(sg.exp(w))], axis=1), axis=-1, keepdims=True).sum()
    return x, w, labels, loss


FEED = {"x": np.array([[0.1, -0.5, 0.3], [1.0, 0.2, -0.7]]), "w": np.array([0.5, -1.0, 2.0]),
        "labels": np.array([2, 0])}


def _doc(obj) -> dict:
    return json.loads(dumps(obj))


def _load_doc(doc: dict, **kw):
    return loads(json.dumps(doc), **kw)


def _node_of(doc: dict, op_suffix: str) -> dict:
    return next(n for n in doc["nodes"] if n["op"].endswith(op_suffix))


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------


def test_graph_round_trip_through_a_file(tmp_path, fresh_graph):
    x, w, labels, loss = _model()
    gx, gw = sg.grad(loss, [x, w])
    hvp = sg.grad(sg.sum(gw * np.array([1.0, 2.0, 3.0])), w)
    path = tmp_path / "model.json"
    sg.save(fresh_graph, path)

    doc = json.loads(path.read_text())
    assert doc["format"] == "symgraph.graph" and doc["version"] == 1
    g2 = sg.load(path)
    assert isinstance(g2, sg.Graph) and len(g2) == len(fresh_graph)
    for a, b in zip(fresh_graph.nodes, g2.nodes):
        assert (a.op.describe(), a.shape, a.dtype, a.role, a.order, a.name) == \
            (b.op.describe(), b.shape, b.dtype, b.role, b.order, b.name)
    assert sorted(g2.variable_names()) == ["labels", "w", "x"]
    outs = [loss, gx, gw, hvp]
    want = sg.evaluate(outs, FEED)
    got = sg.evaluate([g2.nodes[o.id] for o in outs], FEED)
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert {n.order for n in g2.nodes} == {0, 1, 2}


def test_saved_nodes_come_back_as_the_same_structure_in_a_new_graph(tmp_path):
    x, w, labels, loss = _model()
    for obj, kind in [(loss, sg.Node), ([loss, w], list), ((w, loss), tuple), ({"L": loss}, dict)]:
        path = tmp_path / "nodes.json"
        sg.save(obj, path)
        back = sg.load(path)
        assert type(back) is kind
    back = sg.load(path)["L"]
    assert back.graph is not loss.graph
    assert len(back.graph) < len(loss.graph) + 1
    np.testing.assert_array_equal(sg.evaluate(back, FEED), sg.evaluate(loss, FEED))


def test_gradients_of_a_loaded_graph_work():
    x, w, labels, loss = _model()
    loss2, w2 = loads(dumps([loss, w]))
    g2 = sg.grad(loss2, w2)
    np.testing.assert_allclose(sg.evaluate(g2, FEED), sg.evaluate(sg.grad(loss, w), FEED),
                               rtol=1e-14)
    assert g2.graph is loss2.graph


def test_every_kind_of_parameter_round_trips():
    x = sg.variable("x", (4, 3), "float32")
    nodes = [
        sg.full((2,), np.nan), sg.full((2,), -np.inf, "float32"), sg.full((), True, "bool"),
        sg.constant(np.array([1 + 2j, -3j])), sg.constant(np.arange(6, dtype=np.uint8).reshape(2, 3)),
        sg.constant(np.array([True, False])), x.astype("float64"), x[1:, None, ::-2],
        x[..., np.array([[0, 2], [2, 2]])], x[np.array([True, False, True, True])],
        sg.one_hot(np.array([0, 2]), 3, "float32"), sg.max(x, axis=(0,), keepdims=True),
        sg.transpose(x), sg.softmax(x, axis=0),
    ]
    back = loads(dumps(nodes))
    for a, b in zip(nodes, back):
        assert a.op.describe() == b.op.describe() and a.dtype == b.dtype and a.shape == b.shape
    feed = {"x": np.arange(12, dtype=np.float32).reshape(4, 3)}
    for a, b in zip(sg.evaluate(nodes, feed), sg.evaluate(back, feed)):
        np.testing.assert_array_equal(a, b)


def test_forward_mode_fallback_nodes_round_trip():
    """Forward mode through an op without jvp makes a private linearization point."""
    class Twice(sg.Op):
        name = "twice"

        def f(self, x):
            return 2 * x

        def bprop(self, inputs, out, g):
            return [2 * g]

    sg.register_op(Twice, "tests.Twice")
    x = sg.variable("x", (3,))
    t = sg.jvp(sg.graph.apply(Twice(), [x]), x, np.ones(3))
    g2 = loads(dumps(x.graph))
    assert [n.op.name for n in g2.nodes] == [n.op.name for n in x.graph.nodes]
    assert any(n.op.name == "linearization_point" for n in g2.nodes)
    np.testing.assert_array_equal(sg.evaluate(g2.nodes[t.id], {"x": np.zeros(3)}), [2.0, 2.0, 2.0])


def test_output_is_deterministic_and_json_only():
    *_, loss = _model()
    text = dumps(loss)
    assert text == dumps(loss)
    json.loads(text)  # plain JSON: no NaN literals, no pickle
    assert "NaN" not in dumps(sg.full((), np.nan))


# ---------------------------------------------------------------------------
# user ops: only registered ones load
# ---------------------------------------------------------------------------


class Cube(sg.Op):
    name = "cube"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return self.scale * x ** 3

    def bprop(self, inputs, out, g):
        return [g * 3 * self.scale * sg.square(inputs[0])]


class Unregistered(Cube):
    name = "unregistered"


def test_user_ops_load_only_when_registered():
    x = sg.variable("x", (2,))
    text = dumps(sg.graph.apply(Unregistered(2.0), [x]))
    with pytest.raises(sg.SerializationError, match=r"unknown op 'test_serialize.Unregistered'.*"
                                                    r"register_op"):
        loads(text)
    y = loads(text, ops=[Unregistered])  # a per-call allow-list
    assert sg.evaluate(y, {"x": [1.0, 2.0]}).tolist() == [2.0, 16.0]

    sg.register_op(Cube)
    y = loads(dumps(sg.graph.apply(Cube(0.5), [x])))
    assert y.op.scale == 0.5 and isinstance(y.op, Cube)
    dy = sg.grad(sg.sum(y), y.inputs[0])
    assert sg.evaluate(dy, {"x": [1.0, 2.0]}).tolist() == [1.5, 6.0]


def test_register_op_names_and_conflicts():
    class Local(Cube):
        name = "local"

    assert sg.register_op(Local, "my.Local") is Local
    x = sg.variable("x")
    assert '"op":"my.Local"' in dumps(sg.graph.apply(Local(), [x]))
    assert sg.register_op(Local, "my.Local") is Local  # idempotent
    with pytest.raises(sg.SerializationError, match="already registered"):
        sg.register_op(Cube, "my.Local")
    with pytest.raises(sg.SerializationError, match="already registered"):
        sg.register_op(Local, "symgraph.ops.elementwise.Add")  # built-in names cannot be taken
    with pytest.raises(sg.SerializationError, match="expected a subclass of sg.Op"):
        sg.register_op(dict)
    with pytest.raises(sg.SerializationError, match="ops must be sg.Op subclasses"):
        loads(dumps(x), ops=[int])


def test_unsaveable_parameters_are_named():
    class Holder(sg.Op):
        name = "holder"

        def __init__(self):
            self.fn = print

        def f(self, x):
            return x

    x = sg.variable("x")
    with pytest.raises(sg.SerializationError, match=r"node #1 \(holder\), parameter 'fn'.*"
                                                    "builtin_function_or_method"):
        dumps(sg.graph.apply(Holder(), [x]))
    with pytest.raises(sg.SerializationError, match="expected a Graph, a Node"):
        dumps(42)


# ---------------------------------------------------------------------------
# untrusted input: each problem gets a clear SerializationError
# ---------------------------------------------------------------------------


def _valid_doc():
    x = sg.variable("x", (3,))
    y = sg.exp(x) + sg.reshape(sg.sum(x), (1,))
    return _doc([y, x])


def _mutated(fn):
    doc = _valid_doc()
    fn(doc)
    return doc


def _set_node(k, **fields):
    def fn(doc):
        doc["nodes"][k].update(fields)
    return fn


BAD_DOCS = {
    "not_a_symgraph_file": (lambda d: d.update(format="other"), "not a symgraph file"),
    "future_version": (lambda d: d.update(version=3), "unsupported format version 3"),
    "extra_top_level_key": (lambda d: d.update(code="print(1)"), "top-level keys"),
    "unknown_op": (_set_node(1, op="os.system"), "node 1: unknown op 'os.system'"),
    "unknown_op_builtins_eval": (_set_node(1, op="builtins.eval"), "unknown op 'builtins.eval'"),
    "wrong_arity": (_set_node(1, inputs=[0, 0]), "op 'symgraph.ops.elementwise.Exp' takes 1 "
                                                 "inputs, got 2"),
    "self_cycle": (_set_node(1, inputs=[1]), "refers to itself or a later node"),
    "forward_reference": (_set_node(1, inputs=[3]), "forward reference or a cycle"),
    "dangling_id": (_set_node(1, inputs=[99]), "input id 99 refers to no node"),
    "negative_id": (_set_node(1, inputs=[-1]), "input id -1 refers to no node"),
    "ids_out_of_order": (_set_node(1, id=7), "ids must count up from 0"),
    "shape_mismatch": (_set_node(1, shape=[4]), r"says shape \(4,\) dtype float64, but the op "
                                                r"computes shape \(3,\)"),
    "dtype_mismatch": (_set_node(1, dtype="float32"), "but the op computes shape"),
    "absurd_variable": (_set_node(0, shape=[2**20, 2**20], params={
        "var_name": "x", "shape": {"$tuple": [2**20, 2**20]}, "dtype": {"$dtype": "float64"}}),
        r"has 1099511627776 elements, more than the limit"),
    "negative_dim": (_set_node(0, shape=[-3]), "non-negative ints"),
    "object_dtype": (_set_node(1, dtype="object"), "unsupported dtype \"object\""),
    "role_input_for_computed_node": (_set_node(1, role="input"), "has role 'forward' or 'gradient'"),
    "bad_order": (_set_node(1, order=-1), "order must be a non-negative int"),
    "inputs_not_ints": (_set_node(1, inputs=["0"]), "inputs must be a list of node ids"),
    "unknown_tag": (_set_node(0, params={"var_name": "x", "shape": {"$pickle": "gASV"},
                                         "dtype": {"$dtype": "float64"}}), "unknown value tag"),
    "shadowing_a_method": (_set_node(1, params={"f": "x"}), "cannot have a parameter named 'f'"),
    "unexpected_parameter": (_set_node(0, params={"var_name": "x", "shape": {"$tuple": [3]},
                                                  "dtype": {"$dtype": "float64"}, "extra": 1}),
                             r"takes parameters \['dtype', 'shape', 'var_name'\]"),
    "parameterless_op_with_params": (_set_node(1, params={"scale": 2}), "takes no parameters"),
    "wrong_parameter_type": (_set_node(0, params={"var_name": 5, "shape": {"$tuple": [3]},
                                                  "dtype": {"$dtype": "float64"}}),
                             "invalid value for parameter 'var_name'"),
    "missing_field": (lambda d: d["nodes"][1].pop("role"), "a node is a JSON object with keys"),
    "bad_outputs": (lambda d: d.update(outputs={"kind": "list", "ids": [0, 42]}),
                    "ids must be node ids below"),
    "bad_output_kind": (lambda d: d.update(outputs={"kind": "module"}), "outputs.kind must be"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_invalid_files_are_rejected_with_a_clear_error(case):
    mutate, match = BAD_DOCS[case]
    doc = _mutated(mutate)
    with pytest.raises(sg.SerializationError, match=match):
        _load_doc(doc)


def test_reshape_and_axes_that_the_op_would_trust_are_checked():
    x = sg.variable("x", (2, 3))
    doc = _doc([sg.reshape(x, (3, 2)), sg.sum(x, axis=1), sg.transpose(x), sg.softmax(x, 0)])
    cases = [
        ("Reshape", {"shape": {"$tuple": [7]}}, [7], r"cannot reshape array of shape \(2, 3\)"),
        ("Sum", {"axis": {"$tuple": [5]}, "keepdims": False}, [2, 3], "is not a sorted tuple"),
        ("Transpose", {"axes": {"$tuple": [0, 0]}}, [2, 2], "not a permutation"),
        ("Softmax", {"axis": 9}, [2, 3], "axis 9 is out of range"),
    ]
    for suffix, params, shape, match in cases:
        bad = copy.deepcopy(doc)
        node = _node_of(bad, suffix)
        node["params"], node["shape"] = params, shape
        with pytest.raises(sg.SerializationError, match=match):
            _load_doc(bad)


def test_index_and_array_payloads_are_validated():
    x = sg.variable("x", (3,))
    doc = _doc(x[np.array([0, 2])] * sg.constant(np.array([1.0, 2.0])))
    bad = copy.deepcopy(doc)
    _node_of(bad, "GetItem")["params"]["index"]["$tuple"][0]["$array"]["data"] = "!!!"
    with pytest.raises(sg.SerializationError, match="not valid base64"):
        _load_doc(bad)
    bad = copy.deepcopy(doc)
    arr = _node_of(bad, "Constant")["params"]["value"]["$array"]
    arr["shape"] = [3]
    with pytest.raises(sg.SerializationError, match="has 16 bytes but shape"):
        _load_doc(bad)
    bad = copy.deepcopy(doc)
    _node_of(bad, "GetItem")["params"]["index"]["$tuple"][0]["$array"]["data"] = \
        "CQAAAAAAAAACAAAAAAAAAA=="  # int64 [9, 2]: out of range for shape (3,)
    with pytest.raises(sg.SerializationError, match="does not accept its inputs.*index"):
        _load_doc(bad)


@pytest.mark.parametrize("text, match", [
    ("", "invalid JSON"),
    ("{\"format\": NaN}", "NaN is not valid JSON"),
    ("{\"a\": 1, \"a\": 2}", "duplicate key 'a'"),
    ("[" * 100000 + "]" * 100000, "nested too deeply|invalid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    ("[1, 2]", "not a symgraph file"),
])
def test_malformed_json(text, match):
    with pytest.raises(sg.SerializationError, match=match):
        loads(text)


def test_file_size_and_element_limits(tmp_path):
    x = sg.variable("x", (1000,))
    path = tmp_path / "big.json"
    sg.save(sg.constant(np.zeros(1000)) + x, path)
    with pytest.raises(sg.SerializationError, match="has [0-9]+ bytes, more than the limit of 100"):
        sg.load(path, max_bytes=100)
    with pytest.raises(sg.SerializationError, match="1000 elements, more than the limit of 999"):
        sg.load(path, max_elements=999)
    assert sg.load(path).shape == (1000,)
    with pytest.raises(sg.SerializationError, match="cannot read"):
        sg.load(tmp_path / "missing.json")


def test_loading_never_imports_or_runs_what_the_file_names(monkeypatch):
    import builtins

    imported = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    doc = _valid_doc()
    doc["nodes"][1]["op"] = "evil_module_that_does_not_exist.Op"
    monkeypatch.setattr(builtins, "__import__", spy)
    with pytest.raises(sg.SerializationError, match="unknown op"):
        _load_doc(doc)
    assert "evil_module_that_does_not_exist" not in imported
