"""Issue 11, items 15 and 16: bounded memory for untrusted graph files and command lines.

``sg.load`` must not expand a hostile file to many times its size before
rejecting it, nor accept absurd shapes or a version of ``true``; the CLI must
refuse expressions whose arrays are huge before computing anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg
from symgraph.cli import main
from symgraph.serialize import dumps, loads

ROOT = Path(__file__).resolve().parents[1]
HEAD = ('{"format":"symgraph.graph","version":1,"graph":{"name":null},'
        '"outputs":{"kind":"graph"},"nodes":[')
VARIABLE = ('{"id":0,"op":"symgraph.ops.sources.Variable","params":{"var_name":"x",'
            '"shape":{"$tuple":[]},"dtype":{"$dtype":"float64"}},"inputs":[],"shape":[],'
            '"dtype":"float64","role":"input","order":0}')


def _peak_of_load(path: Path) -> tuple[int, Exception | None, object]:
    """Peak traced memory of ``sg.load(path)``, with its error or result."""
    tracemalloc.start()
    try:
        result, error = sg.load(path), None
    except Exception as e:  # noqa: BLE001 - returned to the test
        result, error = None, e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error, result


# ---------------------------------------------------------------------------
# item 15: sg.load
# ---------------------------------------------------------------------------


def test_hostile_file_is_rejected_at_its_first_node_in_bounded_memory(tmp_path):
    """A bad first node followed by 8 MB of empty objects: json.loads alone took ~26x the size."""
    bad = VARIABLE.replace("symgraph.ops.sources.Variable", "evil.Op")
    path = tmp_path / "hostile.json"
    path.write_text(HEAD + bad + ",{}" * (8 * 2**20 // 3) + "]}")
    size = path.stat().st_size
    peak, error, _ = _peak_of_load(path)
    assert isinstance(error, sg.SerializationError) and "node 0: unknown op 'evil.Op'" in str(error)
    assert peak < 10 * size, f"peak {peak / 2**20:.0f} MB for a {size / 2**20:.0f} MB file"


def test_one_huge_record_is_refused_in_bounded_memory(tmp_path):
    """One node whose params hold millions of empty lists: refused before it is parsed."""
    record = VARIABLE.replace('"params":{', '"params":{"junk":[' + ",".join(
        ["[]"] * (6 * 2**20 // 3)) + "],")
    path = tmp_path / "one_record.json"
    path.write_text(HEAD + record + "]}")
    size = path.stat().st_size
    peak, error, _ = _peak_of_load(path)
    assert isinstance(error, sg.SerializationError)
    assert "node 0 has more than" in str(error) and "strings and brackets" in str(error)
    assert peak < 10 * size, f"peak {peak / 2**20:.0f} MB for a {size / 2**20:.0f} MB file"


def test_large_valid_file_loads_in_a_small_multiple_of_its_size(tmp_path):
    """A 3 MB chain of valid nodes: the graph itself is the main cost, not the parse."""
    records = [VARIABLE]
    size, k = len(VARIABLE), 1
    while size < 3 * 2**20:
        records.append(f'{{"id":{k},"op":"symgraph.ops.elementwise.Negative","params":{{}},'
                       f'"inputs":[{k - 1}],"shape":[],"dtype":"float64","role":"forward",'
                       '"order":0}')
        size += len(records[-1]) + 1
        k += 1
    path = tmp_path / "chain.json"
    path.write_text(HEAD + ",\n".join(records) + "]}")
    peak, error, graph = _peak_of_load(path)
    assert error is None and len(graph.nodes) == k
    assert peak < 10 * path.stat().st_size


@pytest.mark.parametrize("op, params, shape", [
    ("sources.Variable", {"var_name": "x", "shape": {"$tuple": [0, 2**63]},
                          "dtype": {"$dtype": "float64"}}, [0, 2**63]),
    ("sources.Fill", {"value": 1.0, "shape": {"$tuple": [0, 2**62]},
                      "dtype": {"$dtype": "float64"}}, [0, 2**62]),
    ("sources.Constant", {"value": {"$array": {"dtype": "float64", "shape": [2**40, 0],
                                               "data": ""}}}, [2**40, 0]),
])
def test_empty_shapes_with_absurd_dimensions_are_refused(op, params, shape):
    role = "input" if op == "sources.Variable" else "constant"
    record = {"id": 0, "op": "symgraph.ops." + op, "params": params, "inputs": [],
              "shape": shape, "dtype": "float64", "role": role, "order": 0}
    text = HEAD + json.dumps(record) + "]}"
    with pytest.raises(sg.SerializationError, match=r"has a dimension of [0-9]+, more than the "
                                                    r"limit of 2147483648"):
        loads(text)
    fine = [2 if s else 0 for s in shape]
    small = {**record, "shape": fine}
    small["params"] = json.loads(json.dumps(params).replace(str(max(shape)), "2"))
    assert loads(HEAD + json.dumps(small) + "]}").nodes[0].shape == tuple(fine)


def test_reshape_to_an_absurd_empty_shape_is_refused():
    x = sg.variable("x", (0,))
    doc = json.loads(dumps(sg.reshape(x, (0, 3))))
    doc["nodes"][1]["params"]["shape"] = {"$tuple": [0, 2**63]}
    doc["nodes"][1]["shape"] = [0, 2**63]
    with pytest.raises(sg.SerializationError, match="has a dimension of 9223372036854775808"):
        loads(json.dumps(doc))


@pytest.mark.parametrize("version", [True, 1.0, "1", [1]])
def test_version_must_be_the_integer_1(version):
    doc = json.loads(dumps(sg.sin(sg.variable("x", ()))))
    doc["version"] = version
    with pytest.raises(sg.SerializationError, match="unsupported format version"):
        loads(json.dumps(doc))


@pytest.mark.parametrize("node, field, value, match", [
    (1, "id", True, "ids must count up"),
    (1, "order", 0.0, "order must be a non-negative int"),
    (1, "order", False, "order must be a non-negative int"),
    (1, "inputs", [True], "inputs must be a list of node ids"),
    (1, "inputs", [0.0], "inputs must be a list of node ids"),
    (0, "shape", [3.0], "non-negative ints"),
    (0, "shape", [True], "non-negative ints"),
    (1, "order", 10**150, "an integer of 151 digits is too long"),
])
def test_numeric_fields_take_only_true_ints(node, field, value, match):
    doc = json.loads(dumps(sg.sin(sg.variable("x", (3,)))))
    doc["nodes"][node][field] = value
    with pytest.raises(sg.SerializationError, match=match):
        loads(json.dumps(doc))


def test_key_order_and_layout_do_not_matter():
    x = sg.variable("x", (3,))
    y = sg.exp(x) + sg.reshape(sg.sum(x), (1,))
    doc = json.loads(dumps({"y": y, "x": x}))
    for text in (json.dumps(doc, indent=2), json.dumps(dict(reversed(doc.items())))):
        out = loads(text)
        assert list(out) == ["y", "x"] and out["y"].shape == (3,)
        value = sg.evaluate(out["y"], {out["x"]: np.arange(3.0)})
        np.testing.assert_allclose(value, np.exp(np.arange(3.0)) + 3.0)


def test_many_output_names_for_few_nodes_still_load():
    x = sg.variable("x", ())
    out = loads(dumps({f"k{i}": x for i in range(500)}))
    assert len(out) == 500 and len(set(out.values())) == 1


@pytest.mark.parametrize("text, match", [
    (HEAD + VARIABLE + "]}" + "{}", "Extra data"),
    (HEAD + VARIABLE + "]," + '"nodes":[]}', "duplicate key 'nodes'"),
    (HEAD + VARIABLE + " " + VARIABLE + "]}", "Expecting ',' delimiter"),
    (HEAD + VARIABLE, "invalid JSON"),
    (HEAD[:-1] + "{}}", "\"nodes\" must be a list"),
    ('{"format":"symgraph.graph","nodes":[' + VARIABLE + "]}", "unsupported format version"),
])
def test_streamed_json_errors_are_clear(text, match):
    with pytest.raises(sg.SerializationError, match=match):
        loads(text)


# ---------------------------------------------------------------------------
# item 16: the CLI
# ---------------------------------------------------------------------------

ROWS = "x=[" + ",".join(["[0]"] * 24_000) + "]"      # shape (24000, 1)
VALUES = "y=[" + ",".join(["0"] * 12_000) + "]"      # shape (12000,)
HUGE = ["grad", "sum(exp(x*y))", "--at", ROWS, VALUES]  # x*y: 288,000,000 elements


def test_cli_refuses_a_huge_broadcast_by_default_in_a_subprocess():
    """Under a 2 GB address-space limit the old code died of MemoryError (it used 4.4 GB)."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30));"
            "from symgraph.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, *HUGE], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("symgraph: error: evaluating this needs an array of shape (24000, 12000) "
                           "(288000000 elements, from multiply), more than --max-elements 10000000\n")


def test_cli_refuses_a_huge_broadcast_without_allocating(capsys):
    tracemalloc.start()
    try:
        code = main(HUGE + ["--max-elements", "10000000"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "more than --max-elements 10000000" in err
    assert peak < 200 * 2**20  # parsing the 120 kB of values; the product would be 2.3 GB


def test_cli_moderate_sizes_still_work(capsys):
    x = np.linspace(-1, 1, 200)[:, None]
    y = np.linspace(0, 1, 100)
    args = ["grad", "sum(exp(x*y))", "--at", f"x={x.tolist()}", f"y={y.tolist()}", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(result["value"], np.exp(x * y).sum())
    np.testing.assert_allclose(result["gradient"]["y"], (np.exp(x * y) * x).sum(0))


def test_cli_max_elements_is_an_exact_bound_on_every_array(capsys):
    args = ["grad", "sum(exp(x*y))", "--at", "x=[[1], [2]]", "y=[1, 2, 3]"]
    assert main(args + ["--max-elements", "6"]) == 0
    capsys.readouterr()
    assert main(args + ["--max-elements", "5"]) == 2
    assert "array of shape (2, 3) (6 elements, from multiply), more than --max-elements 5" in \
        capsys.readouterr().err
    assert main(["grad", "sum(x)", "--at", "x=[1, 2, 3]", "--max-elements", "2"]) == 2
    assert "the value of x has 3 elements, more than --max-elements 2" in capsys.readouterr().err
    assert main(args + ["--max-elements", "0"]) == 2
    assert "--max-elements must be at least 1" in capsys.readouterr().err


def test_cli_help_documents_max_elements(capsys):
    assert main(["grad", "--help"]) == 0
    assert "--max-elements N" in capsys.readouterr().out
