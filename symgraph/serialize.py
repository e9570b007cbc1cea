"""Save and load graphs as versioned JSON: no pickle, nothing executed on load.

A file is one JSON object::

    {"format": "symgraph.graph", "version": 1, "graph": {"name": ...},
     "outputs": {"kind": "graph"} | {"kind": "node"|"list"|"tuple", "ids": [...]}
                | {"kind": "dict", "keys": [...], "ids": [...]},
     "nodes": [{"id": 0, "op": "symgraph.ops.sources.Variable",
                "params": {...}, "inputs": [], "shape": [3], "dtype": "float64",
                "role": "input", "order": 0}, ...]}

Nodes are listed in topological order and refer to their inputs by the id
(position) of earlier nodes.  Op parameters are the op's instance attributes,
written in a tagged JSON encoding (``{"$tuple": [...]}``, ``{"$slice": ...}``,
``{"$array": {"dtype", "shape", "data": base64}}``, ...).

Version 2 holds graphs with loops and branches (``sg.scan``, ``sg.while_loop``,
``sg.cond``), whose ops take *bodies*: traced functions living in graphs of
their own, nested in the graph around them.  Its ``"nodes"`` list interleaves
three kinds of records, each after everything it refers to:

* a body graph: ``{"graph": 1, "name": "scan body", "parent": 0}`` (graph 0 is
  the saved graph; ids count up from 1; the parent is declared before);
* a node: as in version 1 plus ``"graph": <the id of its graph>``; node ids
  count up over all graphs, inputs are nodes of the same graph, and the
  result tuple of a loop or branch has dtype ``"object"``;
* a body: ``{"body": 0, "graph": 1, "inputs": [...], "outputs": [...],
  "captured": [...]}``: node ids of variables and results of that graph, and of
  the nodes of its parent graph that it captured.

Parameters name bodies as ``{"$body": <id>}`` (several ops may share one, and
bodies derived from one, as its gradient, share its graph) and body nodes as
``{"$node": <id>}`` (a loop's recorded residuals).  ``save`` writes version 1
when the graph has no bodies, so such files read in older versions too.

Loading treats the file as untrusted.  An op is looked up by name in an
allow-list -- the built-in ops plus the user ops registered with
``register_op`` (or passed as ``load(..., ops=[...])``); nothing is imported
and no code named by the file runs.  Every field is type-checked, every
reference must point to an earlier node, body or graph (so there are no cycles,
no dangling ids, and no body that runs itself), sizes and the nesting of bodies
are bounded, and every node's shape and dtype are re-inferred from its op and
inputs and compared with the file.  Any problem raises ``SerializationError``
saying which node and why.  The file is read one record at a time (see
``_Loader``), so memory stays within a small multiple of the file's size and a
bad node stops the load at once.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import numbers
import os
import re
from typing import Any, Callable, Mapping

import numpy as np

from .traversal import ancestors
from .errors import SerializationError
from .flow.body import Body, refs_in
from .flow.loops import Loop
from .graph import Graph, Node, common_graph
from .ops.base import Op, builtin_ops, is_abstract
from .ops.tuples import RESULTS, Item

__all__ = ["save", "load", "dumps", "loads", "register_op", "FORMAT", "VERSION", "VERSIONS",
           "MAX_NESTING"]

FORMAT = "symgraph.graph"
#: The version ``save`` writes for graphs with loops or branches (others get version 1).
VERSION = 2
#: The versions ``load`` reads.
VERSIONS = (1, 2)
#: Refuse bodies nested deeper than this (a loop in a loop in ...: each level is a few
#: Python frames when it runs).
MAX_NESTING = 32

#: Refuse nodes of more elements than this (a bigger array is never a legitimate graph).
MAX_ELEMENTS = 2**31
#: Refuse files larger than this many bytes unless ``max_bytes`` says otherwise.
MAX_BYTES = 256 * 2**20
_MAX_DEPTH = 32      # nesting depth of one parameter value
_MAX_NDIM = 64       # numpy's own limit
_MAX_ORDER = 10**6
_MAX_JSON_DEPTH = 2 * _MAX_DEPTH + 16   # JSON nesting: tagged values take two levels each
#: Most strings and brackets in one node record (a built-in op's record needs a few hundred;
#: large arrays are single base64 strings).  Bounds the memory of parsing one record.
_MAX_RECORD_TOKENS = 10_000
_MAX_HEAD_TOKENS = 64   # "format", "version", "graph"
_MAX_INT_DIGITS = 100

_DTYPES = {np.dtype(d).name: np.dtype(d) for d in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}

_USER_OPS: dict[str, type] = {}
_USER_NAMES: dict[type, str] = {}  # the name a registered class is saved under


def _op_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@functools.lru_cache(maxsize=None)
def _is_builtin(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "symgraph" and not is_abstract(cls)


# numpydoc drops a first parameter named cls (as a classmethod's): the ignore keeps it documented
def register_op(cls: type, name: str | None = None) -> type:  # numpydoc ignore=PR02
    """Allow ``load`` to create nodes of the user op ``cls`` (usable as a class decorator).

    ``name`` is the identifier written to files (default ``module.QualName``);
    give a stable one if the class may move.  Built-in ops need no registration.
    ``load`` refuses any op that is neither built in nor registered (nor passed
    as ``load(..., ops=[...])``), so a file cannot name arbitrary code.

    Parameters
    ----------
    cls : type
        A subclass of ``sg.Op``.
    name : str, optional
        Its name in files.

    Returns
    -------
    type
        ``cls``, so that ``@sg.register_op`` decorates.

    Raises
    ------
    SerializationError
        ``cls`` is not an op class, or ``name`` is taken by another class.

    Examples
    --------
    >>> import os, tempfile
    >>> class Cube(sg.Op):
    ...     name = "cube"
    ...     def f(self, x):
    ...         return x ** 3
    >>> Cube = sg.register_op(Cube, name="docs_example.Cube")   # or @sg.register_op
    >>> path = os.path.join(tempfile.mkdtemp(), "cube.json")
    >>> sg.save(Cube()(sg.variable("t")), path)
    >>> sg.evaluate(sg.load(path), {"t": 2.0})
    array(8.)
    """
    if not (isinstance(cls, type) and issubclass(cls, Op)) or cls is Op:
        raise SerializationError(f"register_op: expected a subclass of sg.Op, got {cls!r}")
    key = name if name is not None else _op_key(cls)
    if not isinstance(key, str) or not key:
        raise SerializationError(f"register_op: name must be a non-empty string, got {key!r}")
    known = _USER_OPS.get(key) or _builtin_ops().get(key)
    if known is not None and known is not cls:
        raise SerializationError(f"register_op: {key!r} is already registered for {known!r}")
    _USER_OPS[key] = cls
    _USER_NAMES.setdefault(cls, key)
    return cls


def _name_of(cls: type) -> str:
    return _USER_NAMES.get(cls) or _op_key(cls)


def _builtin_ops() -> dict[str, type]:
    """Built-in ops by the names files use: ``module.QualName``, and the names they had before."""
    table = {k: c for k, c in builtin_ops().items() if k == _op_key(c)}
    for cls in list(table.values()):
        for old in cls.formerly:
            table.setdefault(old, cls)
    return table


def _allowed_ops(extra: Any) -> dict[str, type]:
    table = _builtin_ops()
    table.update(_USER_OPS)
    if extra is not None:
        items = extra.items() if isinstance(extra, Mapping) else ((_op_key(c), c) for c in extra)
        for key, cls in items:
            if not (isinstance(cls, type) and issubclass(cls, Op)):
                raise SerializationError(f"load: ops must be sg.Op subclasses, got {cls!r}")
            table[key] = cls
    return table


# ---------------------------------------------------------------------------
# parameter values <-> tagged JSON
# ---------------------------------------------------------------------------


#: ``ref(body_or_node) -> JSON``: how a file with bodies names one (None: it cannot)
Ref = Callable[[Any], Any] | None


def _encode(value: Any, where: str, ref: Ref = None) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if np.isfinite(v) else {"$float": repr(v)}
    if isinstance(value, (complex, np.complexfloating)):
        return {"$complex": [_encode(value.real, where), _encode(value.imag, where)]}
    if value is Ellipsis:
        return {"$ellipsis": None}
    if isinstance(value, slice):
        return {"$slice": [_encode(v, where) for v in (value.start, value.stop, value.step)]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, where, ref) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where, ref) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SerializationError(f"{where}: dict parameters need string keys")
        return {"$dict": {k: _encode(v, where, ref) for k, v in value.items()}}
    if isinstance(value, (Body, Node)) and ref is not None:
        return ref(value)
    if isinstance(value, np.dtype):
        return {"$dtype": _dtype_name(value, where)}
    if isinstance(value, np.ndarray):
        name = _dtype_name(value.dtype, where)
        data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
        return {"$array": {"dtype": name, "shape": list(value.shape),
                           "data": base64.b64encode(data).decode("ascii")}}
    raise SerializationError(f"{where}: cannot save a parameter of type {type(value).__name__} "
                             f"({value!r:.60}); op parameters must be numbers, strings, tuples, "
                             "slices, dtypes, numpy arrays or bodies")


def _dtype_name(dtype: np.dtype, where: str) -> str:
    if dtype.name not in _DTYPES or _DTYPES[dtype.name] != dtype.newbyteorder("="):
        raise SerializationError(f"{where}: dtype {dtype} cannot be saved")
    return dtype.name


class _Decoder:
    """Decodes tagged JSON parameter values, bounding depth and array sizes."""

    def __init__(self, max_elements: int) -> None:
        self.max_elements = max_elements
        #: the bodies and nodes read so far, which ``$body`` and ``$node`` name (version 2)
        self.bodies: list[Body] | None = None
        self.nodes: list[Node] = []

    def value(self, v: Any, where: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise SerializationError(f"{where}: parameter nested too deeply")
        if v is None or isinstance(v, (bool, str, int)):
            return v
        if isinstance(v, float):
            return v
        if isinstance(v, list):
            return [self.value(x, where, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) != 1:
            raise SerializationError(f"{where}: expected a tagged value like {{\"$tuple\": [...]}}, "
                                     f"got {_show(v)}")
        (tag, body), = v.items()
        decode = _TAGS.get(tag)
        if decode is None:
            raise SerializationError(f"{where}: unknown value tag {tag!r}")
        return decode(self, body, where, depth + 1)

    def tuple_(self, body, where, depth):
        _expect(isinstance(body, list), where, "$tuple takes a list", body)
        return tuple(self.value(x, where, depth) for x in body)

    def dict_(self, body, where, depth):
        _expect(isinstance(body, dict), where, "$dict takes an object", body)
        return {k: self.value(x, where, depth) for k, x in body.items()}

    def slice_(self, body, where, depth):
        _expect(isinstance(body, list) and len(body) == 3 and all(
            x is None or _is_int(x) for x in body), where, "$slice takes [start, stop, step] of ints "
            "or null", body)
        _expect(body[2] != 0, where, "slice step cannot be zero", body)
        return slice(*body)

    def ellipsis(self, body, where, depth):
        _expect(body is None, where, "$ellipsis takes null", body)
        return Ellipsis

    def float_(self, body, where, depth):
        _expect(body in ("nan", "inf", "-inf"), where, "$float takes 'nan', 'inf' or '-inf'", body)
        return float(body)

    def complex_(self, body, where, depth):
        _expect(isinstance(body, list) and len(body) == 2, where, "$complex takes [re, im]", body)
        re, im = (self.value(x, where, depth) for x in body)
        _expect(all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (re, im)),
                where, "$complex takes two numbers", body)
        return complex(re, im)

    def dtype(self, body, where, depth):
        return _parse_dtype(body, where)

    def array(self, body, where, depth):
        _expect(isinstance(body, dict) and set(body) == {"dtype", "shape", "data"}, where,
                "$array takes {dtype, shape, data}", body)
        dtype = _parse_dtype(body["dtype"], where)
        shape = _parse_shape(body["shape"], where, self.max_elements)
        _expect(isinstance(body["data"], str), where, "$array data must be a base64 string", "...")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(body["data"]) > 4 * (expected // 3 + 1) + 4:
            raise SerializationError(f"{where}: array data is longer than shape {shape} of "
                                     f"{dtype} needs")
        try:
            raw = base64.b64decode(body["data"].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise SerializationError(f"{where}: array data is not valid base64") from None
        if len(raw) != expected:
            raise SerializationError(f"{where}: array data has {len(raw)} bytes but shape {shape} "
                                     f"of {dtype} needs {expected}")
        arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
        arr.setflags(write=False)
        return arr

    def body(self, ref, where, depth):
        if self.bodies is None:
            raise SerializationError(f"{where}: unknown value tag '$body' (bodies need format "
                                     "version 2)")
        _expect(_is_int(ref) and 0 <= ref < len(self.bodies), where, f"$body takes the id of a "
                f"body declared before (there are {len(self.bodies)})", ref)
        return self.bodies[ref]

    def node(self, ref, where, depth):
        if self.bodies is None:
            raise SerializationError(f"{where}: unknown value tag '$node' (node parameters need "
                                     "format version 2)")
        _expect(_is_int(ref) and 0 <= ref < len(self.nodes), where, f"$node takes the id of an "
                f"earlier node (there are {len(self.nodes)})", ref)
        return self.nodes[ref]


_TAGS: dict[str, Callable] = {
    "$tuple": _Decoder.tuple_, "$dict": _Decoder.dict_, "$slice": _Decoder.slice_,
    "$ellipsis": _Decoder.ellipsis, "$float": _Decoder.float_, "$complex": _Decoder.complex_,
    "$dtype": _Decoder.dtype, "$array": _Decoder.array, "$body": _Decoder.body,
    "$node": _Decoder.node,
}


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) or len(v) < 60 else repr(v[:60] + "...")
    return text if len(text) <= 80 else text[:77] + "..."


def _expect(ok: bool, where: str, what: str, got: Any) -> None:
    if not ok:
        raise SerializationError(f"{where}: {what}, got {_show(got)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_dtype(v: Any, where: str) -> np.dtype:
    if not isinstance(v, str) or v not in _DTYPES:
        raise SerializationError(f"{where}: unsupported dtype {_show(v)}; expected one of "
                                 f"{', '.join(_DTYPES)}")
    return _DTYPES[v]


def _parse_shape(v: Any, where: str, max_elements: int) -> tuple[int, ...]:
    if isinstance(v, dict) and set(v) == {"$tuple"}:
        v = v["$tuple"]
    _expect(isinstance(v, list) and len(v) <= _MAX_NDIM and all(_is_int(s) and s >= 0 for s in v),
            where, f"a shape must be a list of at most {_MAX_NDIM} non-negative ints", v)
    size = 1
    for s in v:
        size *= s
    if size > max_elements:
        raise SerializationError(f"{where}: shape {tuple(v)} has {size} elements, more than the "
                                 f"limit of {max_elements}")
    if size == 0 and any(s > max_elements for s in v):  # e.g. (0, 2**63): empty but absurd
        raise SerializationError(f"{where}: shape {tuple(v)} has a dimension of {max(v)}, more "
                                 f"than the limit of {max_elements}")
    return tuple(v)


# ---------------------------------------------------------------------------
# parameter checks: what each op declares in ``param_types``
# ---------------------------------------------------------------------------


def _check_params(cls: type, key: str, params: dict[str, Any], where: str,
                  max_elements: int) -> None:
    for attr in params:
        if (not attr.isidentifier() or attr.startswith("__") or attr in ("name", "is_variable")
                or callable(getattr(cls, attr, None))):
            raise SerializationError(f"{where}: op {key!r} cannot have a parameter named {attr!r}")
    kinds = cls.param_types
    if kinds is None:
        if _is_builtin(cls) and not _has_params(cls) and params:
            raise SerializationError(f"{where}: op {key!r} takes no parameters, got "
                                     f"{sorted(params)}")
        return
    if set(params) != set(kinds):
        raise SerializationError(f"{where}: op {key!r} takes parameters {sorted(kinds)}, got "
                                 f"{sorted(params)}")
    for attr, kind in kinds.items():
        if not kind.accepts(params[attr]):
            raise SerializationError(f"{where}: invalid value for parameter {attr!r} of op "
                                     f"{key!r} (expected {kind.name}): {params[attr]!r:.80}")
        if kind.is_shape:
            _parse_shape(list(params[attr]), f"{where}, parameter {attr!r}", max_elements)


def _has_params(cls: type) -> bool:
    init = cls.__init__
    return init is not object.__init__ and len(inspect.signature(init).parameters) > 1


def _check_arity(cls: type, key: str, n: int, where: str) -> None:
    """Compare the number of inputs with what the op's ``infer`` accepts."""
    bounds = _arity(cls)
    if bounds is not None and not bounds[0] <= n <= bounds[1]:
        low, high = bounds
        want = str(low) if low == high else f"{low} to {high}"
        raise SerializationError(f"{where}: op {key!r} takes {want} inputs, got {n}")


@functools.lru_cache(maxsize=None)
def _arity(cls: type) -> tuple[int, int] | None:
    """(fewest, most) inputs ``cls.infer`` accepts, or None when it takes any number."""
    try:
        params = list(inspect.signature(cls.infer).parameters.values())[1:]
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(p.default is p.empty for p in positional), len(positional)


# ---------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------


def _saved_nodes(obj: Any) -> tuple[list[Node], dict[str, Any], Graph]:
    if isinstance(obj, Graph):
        return obj.nodes, {"kind": "graph"}, obj
    if isinstance(obj, Node):
        outs, out_spec = [obj], {"kind": "node"}
    elif isinstance(obj, (list, tuple)):
        outs, out_spec = list(obj), {"kind": type(obj).__name__}
    elif isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise SerializationError("save: dict keys must be strings")
        outs, out_spec = list(obj.values()), {"kind": "dict", "keys": list(obj)}
    else:
        raise SerializationError(f"save: expected a Graph, a Node or a list/tuple/dict of Nodes, "
                                 f"got {type(obj).__name__}")
    for o in outs:
        if not isinstance(o, Node):
            raise SerializationError(f"save: expected Nodes, got {type(o).__name__}")
    graph = common_graph(outs)
    nodes = ancestors(outs)
    pos = {n: k for k, n in enumerate(nodes)}
    out_spec["ids"] = [pos[o] for o in outs]
    return nodes, out_spec, graph


def dumps(obj: Any) -> str:
    """The JSON text ``save`` writes for ``obj`` (a Graph, a Node, or a list/tuple/dict of Nodes)."""
    nodes, out_spec, graph = _saved_nodes(obj)
    if any(n.op.multiple_results or refs_in(n.op.params().values()) for n in nodes):
        return _dumps_nested(nodes, out_spec, graph)
    pos = {n: k for k, n in enumerate(nodes)}
    lines = []
    for k, n in enumerate(nodes):
        record = _node_record(n, n.op.params(), k, [pos[i] for i in n.inputs])
        lines.append(json.dumps(record, allow_nan=False, separators=(",", ":")))
    return _file_text(1, graph, out_spec, lines)


def _node_record(n: Node, params: dict[str, Any], k: int, inputs: list[int],
                 ref: Ref = None, graph: int | None = None) -> dict[str, Any]:
    where = f"save: node #{n.id} ({n.op.name})"
    encoded = {a: _encode(v, f"{where}, parameter {a!r}", ref) for a, v in params.items()}
    dtype = "object" if n.op.multiple_results and n.dtype == RESULTS else \
        _dtype_name(n.dtype, where)
    record = {"id": k} if graph is None else {"id": k, "graph": graph}
    record.update({"op": _name_of(type(n.op)), "params": encoded, "inputs": inputs,
                   "shape": list(n.shape), "dtype": dtype, "role": n.role, "order": n.order})
    return record


def _file_text(version: int, graph: Graph, out_spec: dict[str, Any], lines: list[str]) -> str:
    head = {"format": FORMAT, "version": version, "graph": {"name": graph.name},
            "outputs": out_spec}
    head_text = json.dumps(head, allow_nan=False, separators=(",", ":"))
    return head_text[:-1] + ',"nodes":[\n' + ",\n".join(lines) + "\n]}\n"


class _Layout:
    """The records of a file with bodies, each after everything it refers to.

    Items are the saved graph's nodes, the body graphs, the bodies their ops
    take and the body nodes those need; an item's dependencies are what its
    record names (a node: its graph, inputs, bodies and nodes in parameters; a
    body: its graph, inputs, outputs and captured nodes; a body graph: its
    parent).  A depth-first walk with an explicit stack puts them in order; the
    saved graph's own nodes keep their relative order.
    """

    def __init__(self, root: Graph, nodes: list[Node]) -> None:
        self.root = root
        self.params: dict[Node, dict[str, Any]] = {}
        self.order: list[Any] = []
        state: dict[Any, bool] = {}  # False while open, True once placed
        for start in nodes:
            if start in state:
                continue
            state[start] = False
            stack = [(start, iter(self.deps(start)))]
            while stack:
                item, todo = stack[-1]
                for d in todo:
                    seen = state.get(d)
                    if seen is None:
                        state[d] = False
                        stack.append((d, iter(self.deps(d))))
                        break
                    if seen is False:  # pragma: no cover - graphs are built acyclic
                        raise SerializationError(f"save: {item!r} depends on itself through "
                                                 f"{d!r}")
                else:
                    stack.pop()
                    state[item] = True
                    self.order.append(item)

    def deps(self, item: Any) -> list[Any]:
        root = self.root
        if isinstance(item, Node):
            out: list[Any] = [] if item.graph is root else [item.graph]
            out.extend(item.inputs)
            params = self.params.get(item)
            if params is None:
                params = self.params[item] = item.op.params()
            refs = refs_in(params.values())
            for r in refs:
                if isinstance(r, Body) and r.graph is root:
                    raise SerializationError(f"save: node #{item.id} ({item.op.name}) has a body "
                                             f"in the graph being saved; bodies live in graphs "
                                             "nested in it")
            out.extend(refs)
            return out
        if isinstance(item, Body):
            graph = [item.graph] if item.graph is not root else []
            return graph + list(item.inputs) + list(item.outputs) + list(item.captured)
        if item.parent is None:
            raise SerializationError(f"save: the body graph {item!r} is not nested in the graph "
                                     f"being saved ({root!r}); save a graph enclosing it")
        return [] if item.parent is root else [item.parent]


def _dumps_nested(nodes: list[Node], out_spec: dict[str, Any], root: Graph) -> str:
    """A version 2 file: body graphs, bodies and nodes in dependency order (module docstring)."""
    layout = _Layout(root, nodes)
    graph_ids: dict[Graph, int] = {root: 0}
    body_ids: dict[Body, int] = {}
    node_ids: dict[Node, int] = {}

    def ref(value: Body | Node) -> dict[str, int]:
        if isinstance(value, Body):
            return {"$body": body_ids[value]}
        return {"$node": node_ids[value]}

    lines = []
    for item in layout.order:
        if isinstance(item, Node):
            k = node_ids[item] = len(node_ids)
            record = _node_record(item, layout.params[item], k, [node_ids[i] for i in item.inputs],
                                  ref, graph_ids[item.graph])
        elif isinstance(item, Body):
            k = body_ids[item] = len(body_ids)
            record = {"body": k, "graph": graph_ids[item.graph],
                      "inputs": [node_ids[n] for n in item.inputs],
                      "outputs": [node_ids[n] for n in item.outputs],
                      "captured": [node_ids[n] for n in item.captured]}
        else:
            if item.name is not None and not isinstance(item.name, str):
                raise SerializationError(f"save: graph names must be strings, got {item.name!r:.60}")
            k = graph_ids[item] = len(graph_ids)
            record = {"graph": k, "name": item.name, "parent": graph_ids[item.parent]}
        lines.append(json.dumps(record, allow_nan=False, separators=(",", ":")))
    if "ids" in out_spec:
        out_spec = dict(out_spec, ids=[node_ids[nodes[i]] for i in out_spec["ids"]])
    return _file_text(VERSION, root, out_spec, lines)


def save(graph_or_nodes: Any, path: str | os.PathLike) -> None:
    """Write a Graph, a Node or a list/tuple/dict of Nodes (with their ancestors) to ``path``.

    The file is versioned JSON (no pickle); ``load`` returns the same kind of
    object.  Parameters that JSON cannot hold raise ``SerializationError``
    naming the node.  Gradient nodes, loops and branches are saved like any
    other node.

    Parameters
    ----------
    graph_or_nodes : Graph or Node or list, tuple or dict of Node
        A whole graph, or nodes (saved with their ancestors only).
    path : str or os.PathLike
        The file to write.

    See Also
    --------
    load, register_op

    Examples
    --------
    >>> import os, tempfile
    >>> w, x = sg.variable("w"), sg.variable("x")
    >>> f = (w * x - 1) ** 2
    >>> path = os.path.join(tempfile.mkdtemp(), "f.json")
    >>> sg.save({"f": f, "df/dw": sg.grad(f, w)}, path)
    >>> loaded = sg.load(path)                # in a new graph
    >>> sg.evaluate(loaded, {"w": 1.0, "x": 2.0})
    {'f': array(1.), 'df/dw': array(4.)}
    """
    text = dumps(graph_or_nodes)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise SerializationError(f"load: {name} is not valid JSON (non-finite numbers are written as "
                             "{\"$float\": ...})")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise SerializationError(f"load: duplicate key {k!r} in a JSON object")
        out[k] = v
    return out


def _parse_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise SerializationError(f"load: an integer of {len(text)} digits is too long (the limit "
                                 f"is {_MAX_INT_DIGITS})")
    return int(text)


_WS = re.compile(r"[ \t\n\r]*")
_OP_KEY = re.compile(r'"op"\s*:')
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
# a string or a bracket: what makes parsed JSON much larger than its text
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null"
                     r"|NaN|-?Infinity")


def loads(text: str | bytes, *, ops: Any = None, max_elements: int = MAX_ELEMENTS) -> Any:
    """Rebuild what ``dumps`` wrote, validating everything (see ``load``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SerializationError(f"load: the file is not UTF-8 text: {e}") from None
    if not isinstance(text, str):
        raise SerializationError(f"loads: expected str or bytes, got {type(text).__name__}")
    return _Loader(text, _allowed_ops(ops), max_elements).load()


def load(path: str | os.PathLike, *, ops: Any = None, max_elements: int = MAX_ELEMENTS,
         max_bytes: int = MAX_BYTES) -> Any:
    """Read a file written by ``save``: a Graph, or the saved Node(s) in a new Graph.

    The file is untrusted input.  Only built-in ops and ops registered with
    ``register_op`` (or listed in ``ops``, a list of classes or a dict from
    file name to class) can be created; everything is validated and any
    problem raises ``SerializationError``.  ``max_elements`` bounds the size
    (and every dimension) of every node, ``max_bytes`` the size of the file.
    Nodes are parsed and checked one at a time, so a hostile file is rejected
    at its first bad node and parsing takes memory of a small multiple of
    the file size.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``save``.
    ops : list of type or dict of str to type, optional
        User op classes allowed for this call, besides the registered ones.
    max_elements : int, default 2**31
        Largest size (and dimension) of any node.
    max_bytes : int, default 2**28
        Largest file size, in bytes.

    Returns
    -------
    Graph or Node or list, tuple or dict of Node
        What was saved, in a new graph.

    Raises
    ------
    SerializationError
        For anything wrong with the file; nothing of it is kept.

    See Also
    --------
    save, register_op

    Examples
    --------
    >>> import os, tempfile
    >>> x = sg.variable("x", (3,))
    >>> path = os.path.join(tempfile.mkdtemp(), "g.json")
    >>> sg.save(sg.sum(sg.exp(x)), path)
    >>> y = sg.load(path)
    >>> y.shape, y.graph is x.graph
    ((), False)
    >>> sg.evaluate(y, {"x": np.zeros(3)})
    array(3.)
    >>> sg.load(path, max_bytes=10)
    Traceback (most recent call last):
    ...
    symgraph.errors.SerializationError: load: '...g.json' has ... bytes, more than the limit of 10 ...
    """
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise SerializationError(f"load: cannot read {os.fspath(path)!r}: {e}") from None
    if size > max_bytes:
        raise SerializationError(f"load: {os.fspath(path)!r} has {size} bytes, more than the limit "
                                 f"of {max_bytes} (pass max_bytes= to allow it)")
    with open(path, "rb") as fh:
        data = fh.read(min(size, max_bytes) + 1)  # read(n) allocates n bytes up front
    if len(data) > size:
        raise SerializationError(f"load: {os.fspath(path)!r} grew while it was read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SerializationError(f"load: the file is not UTF-8 text: {e}") from None
    del data  # keep one copy of the file
    return loads(text, ops=ops, max_elements=max_elements)


def _check_loop(op: Loop, where: str, max_elements: int) -> None:
    """What a loop's parameters must satisfy beyond their kinds (its ``infer`` checks the rest):
    a length of at most ``max_elements`` steps, and records naming carries it has and nodes of
    its body."""
    if op.length is not None and op.length > max_elements:
        raise SerializationError(f"{where}: a loop of {op.length} steps, more than the limit of "
                                 f"{max_elements}")
    for rec in op.records:
        kind = rec[0]
        if kind == "step" and rec[1].graph is not op.body.graph:
            raise SerializationError(f"{where}: a step record names node #{rec[1].id}, which is "
                                     "not a node of the loop's body")
        if kind in ("traj", "checkpoints") and not 0 <= rec[1] < op.n_carry:
            raise SerializationError(f"{where}: a {kind} record of carry {rec[1]}; the loop has "
                                     f"{op.n_carry}")
        if (kind == "checkpoints" and not op.checkpoint) or (kind == "trips" and len(rec) != 1):
            raise SerializationError(f"{where}: invalid {kind} record {rec!r:.80}")


_HEAD_KEYS = {"format", "version", "graph", "outputs", "nodes"}
_NODE_KEYS = {"id", "op", "params", "inputs", "shape", "dtype", "role", "order"}
_NODE_KEYS_2 = _NODE_KEYS | {"graph"}
_GRAPH_KEYS = {"graph", "name", "parent"}
_BODY_KEYS = {"body", "graph", "inputs", "outputs", "captured"}


class _Loader:
    """Reads the file's JSON one top-level value and one node record at a time.

    ``json.loads`` of a whole file can take 25 times its size (a list of
    empty lists, say) before any check runs.  Instead the extent of each
    value is found first by a scan that allocates nothing and counts its
    strings and brackets; only bounded pieces are parsed, and each node is
    validated and built before the next record is read.
    """

    def __init__(self, text: str, allowed: dict[str, type], max_elements: int) -> None:
        self.text = text
        self.allowed = allowed
        self.max_elements = max_elements
        self.decoder = _Decoder(max_elements)
        # one per load: the C scanner keeps a key cache that concurrent loads would share
        self.json = json.JSONDecoder(parse_constant=_reject_constant,
                                     object_pairs_hook=_no_duplicates, parse_int=_parse_int)

    # -- JSON pieces ---------------------------------------------------------

    def _ws(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()

    def _invalid(self, msg: str, pos: int) -> SerializationError:
        err = json.JSONDecodeError(msg, self.text, pos)
        return SerializationError(f"load: not a symgraph file (invalid JSON: {err})")

    def _end(self, pos: int, limit: float, what: str) -> tuple[int, int]:
        """(end, number of strings and brackets) of the JSON value starting at ``pos``."""
        text = self.text
        c = text[pos:pos + 1]
        if c == '"':
            m = _STRING.match(text, pos)
            if m is None:
                raise self._invalid("Unterminated string", pos)
            return m.end(), 1
        if c not in ("[", "{"):
            m = _SCALAR.match(text, pos)
            if m is None:
                raise self._invalid("Expecting value", pos)
            return m.end(), 0
        depth = tokens = 0
        for m in _TOKEN.finditer(text, pos):
            tokens += 1
            c = text[m.start()]
            if c == "[" or c == "{":
                depth += 1
                if depth > _MAX_JSON_DEPTH:
                    raise SerializationError("load: JSON nested too deeply")
            elif c == "]" or c == "}":
                depth -= 1
                if depth == 0:
                    return m.end(), tokens
            if tokens > limit:
                raise SerializationError(f"load: {what} has more than {int(limit)} strings and "
                                         "brackets, far more than a symgraph file needs there")
        raise self._invalid("Unterminated array or object", pos)

    def _parse(self, start: int, end: int) -> Any:
        """The JSON value at ``text[start:end]`` (whose size ``_end`` has bounded)."""
        try:
            return self.json.decode(self.text[start:end])
        except SerializationError:
            raise
        except RecursionError:
            raise SerializationError("load: JSON nested too deeply") from None
        except json.JSONDecodeError as e:
            raise self._invalid(e.msg, start + e.pos) from None
        except ValueError as e:
            raise SerializationError(f"load: not a symgraph file (invalid JSON: {e})") from None

    def _value(self, pos: int, limit: float, what: str) -> tuple[Any, int]:
        end, _ = self._end(pos, limit, what)
        return self._parse(pos, end), end

    def _expect_char(self, pos: int, chars: str, msg: str) -> str:
        c = self.text[pos:pos + 1]
        if not c or c not in chars:
            raise self._invalid(msg, pos)
        return c

    # -- the file ------------------------------------------------------------

    def load(self) -> Any:
        text = self.text
        pos = self._ws(0)
        if text[pos:pos + 1] != "{":
            end, tokens = self._end(pos, float("inf"), "the file")
            if tokens <= _MAX_HEAD_TOKENS:
                self._parse(pos, end)  # a JSON error takes precedence
            raise self._not_symgraph()
        self.graph = Graph(None)
        self.nodes: list[Node] = []
        self.version = 1
        self.node_keys = _NODE_KEYS
        self.graphs: list[Graph] = [self.graph]   # version 2: the saved graph, then body graphs
        self.depths: list[int] = [0]
        self.avals: dict[Node, list] = {}          # result avals of tuple nodes, for their items
        spans: dict[str, tuple[int, int, int]] = {}
        self.head_checked = False
        streamed = False
        pos = self._ws(pos + 1)
        if text[pos:pos + 1] == "}":
            pos += 1
        else:
            while True:
                self._expect_char(pos, '"', "Expecting property name enclosed in double quotes")
                key, pos = self._value(pos, 1, "a key")
                if key in spans or (key == "nodes" and streamed):
                    raise SerializationError(f"load: duplicate key {key!r} in a JSON object")
                pos = self._ws(pos)
                self._expect_char(pos, ":", "Expecting ':' delimiter")
                pos = self._ws(pos + 1)
                if key == "nodes" and {"format", "version", "graph"} <= spans.keys():
                    self._check_head(spans)
                    pos = self._stream_nodes(pos)
                    streamed = True
                else:
                    end, tokens = self._end(pos, float("inf"), f"the value of {key!r}")
                    spans[key] = (pos, end, tokens)
                    pos = end
                pos = self._ws(pos)
                if self._expect_char(pos, ",}", "Expecting ',' delimiter") == "}":
                    pos += 1
                    break
                pos = self._ws(pos + 1)
        if self._ws(pos) != len(text):
            raise self._invalid("Extra data", self._ws(pos))
        self._check_head(spans)
        keys = set(spans) | ({"nodes"} if streamed else set())
        if keys != _HEAD_KEYS:
            raise SerializationError(f"load: the file's top-level keys are {sorted(keys)}, "
                                     f"expected {sorted(_HEAD_KEYS)}")
        if not streamed:
            self._stream_nodes(spans["nodes"][0])
        start, end, tokens = spans["outputs"]
        # ids are numbers (no tokens); a dict's keys are strings, each with an id and a comma
        limit = 2 * len(self.nodes) + 16 + (end - start) // 6
        if tokens > limit:
            raise SerializationError(f"load: outputs has {tokens} strings and brackets, more than "
                                     f"{len(self.nodes)} nodes can need")
        return self.outputs(self._parse(start, end), self.graph, self.nodes)

    def _not_symgraph(self) -> SerializationError:
        return SerializationError(f"load: not a symgraph file (expected a JSON object with "
                                  f"\"format\": {FORMAT!r})")

    def _check_head(self, spans: dict[str, tuple[int, int, int]]) -> None:
        """Check format, version, the keys seen so far and the graph's name (once)."""
        if self.head_checked:
            return
        head = {}
        for key in ("format", "version", "graph"):
            if key in spans:
                start, end, tokens = spans[key]
                if tokens > _MAX_HEAD_TOKENS:
                    raise (self._not_symgraph() if key == "format" else SerializationError(
                        f"load: the value of {key!r} is far too large"))
                head[key] = self._parse(start, end)
        if head.get("format") != FORMAT:
            raise self._not_symgraph()
        version = head.get("version")
        if type(version) is not int or version not in VERSIONS:  # true and 1.0 are not versions
            raise SerializationError(f"load: unsupported format version {_show(version)}; this "
                                     f"symgraph reads versions "
                                     f"{', '.join(map(str, VERSIONS))}")
        self.version = version
        if version >= 2:
            self.node_keys = _NODE_KEYS_2
            self.decoder.bodies = []
            self.decoder.nodes = self.nodes
        if not spans.keys() <= _HEAD_KEYS or "graph" not in spans:
            keys = set(spans) | {"nodes"}
            raise SerializationError(f"load: the file's top-level keys are {sorted(keys)}, "
                                     f"expected {sorted(_HEAD_KEYS)}")
        meta = head["graph"]
        _expect(isinstance(meta, dict) and set(meta) == {"name"} and
                (meta["name"] is None or isinstance(meta["name"], str)), "load", "\"graph\" must "
                "be {\"name\": string or null}", meta)
        self.graph.name = meta["name"]
        self.head_checked = True

    def _stream_nodes(self, pos: int) -> int:
        """Build the nodes of the list at ``pos`` one record at a time; returns its end."""
        text = self.text
        if text[pos:pos + 1] != "[":
            raise SerializationError("load: \"nodes\" must be a list, got "
                                     f"{text[pos:pos + 20]!r}...")
        pos = self._ws(pos + 1)
        if text[pos:pos + 1] == "]":
            return pos + 1
        r = 0  # records of any kind
        while True:
            k = len(self.nodes)
            rec, end = self._value(pos, _MAX_RECORD_TOKENS, f"node {k}")
            total = functools.partial(self._count_nodes, k + 1, end)
            if self.version == 1 or (isinstance(rec, dict) and "op" in rec):
                self.nodes.append(self.node(k, rec, total))
            elif isinstance(rec, dict) and "body" in rec:
                self.decoder.bodies.append(self.body(rec))
            elif isinstance(rec, dict) and "parent" in rec:
                self.graphs.append(self.body_graph(rec))
            else:
                raise SerializationError(
                    f"load: record {r}: a record is a node (keys "
                    f"{sorted(_NODE_KEYS_2)}), a body graph (keys {sorted(_GRAPH_KEYS)}) or a "
                    f"body (keys {sorted(_BODY_KEYS)}), got {_show(rec)}")
            pos = self._ws(end)
            if self._expect_char(pos, ",]", "Expecting ',' delimiter") == "]":
                return pos + 1
            pos = self._ws(pos + 1)
            r += 1

    def _count_nodes(self, k: int, pos: int) -> int:
        """``k`` plus the number of node records after ``pos`` (for error messages only;
        in version 2 a record with a key ``"op"`` counts as a node)."""
        while True:
            pos = self._ws(pos)
            if self.text[pos:pos + 1] != ",":
                return k
            start = self._ws(pos + 1)
            pos, _ = self._end(start, float("inf"), f"node {k}")
            k += self.version == 1 or _OP_KEY.search(self.text, start, pos) is not None

    def node(self, k: int, rec: Any, total: Callable[[], int]) -> Node:
        """Create node ``k`` from its record; ``self.nodes`` holds the nodes 0..k-1.

        ``total()`` counts the file's nodes (only for the message about a bad id).

        Conditions are tested first and messages built only on failure: this
        runs once per node of possibly large files.
        """
        made, keys = self.nodes, self.node_keys
        if not isinstance(rec, dict) or rec.keys() != keys:
            got = sorted(rec) if isinstance(rec, dict) else _show(rec)
            raise SerializationError(f"load: node {k}: a node is a JSON object with keys "
                                     f"{sorted(keys)}, got {got}")
        if rec["id"] != k or not _is_int(rec["id"]):
            raise SerializationError(f"load: node {k}: ids must count up from 0; expected {k}, "
                                     f"got {_show(rec['id'])}")
        key = rec["op"]
        cls = self.allowed.get(key) if isinstance(key, str) else None
        if cls is None:
            raise SerializationError(
                f"load: node {k}: unknown op {key!r}; only built-in ops and ops registered with "
                "sg.register_op (or passed as load(..., ops=[...])) can be loaded")
        where = f"load: node {k} (op {key!r})"
        graph = self.graph if self.version == 1 else self.graph_of(rec["graph"], where)
        inputs = rec["inputs"]
        if not isinstance(inputs, list) or not all(type(i) is int for i in inputs):
            raise SerializationError(f"{where}: inputs must be a list of node ids, got "
                                     f"{_show(inputs)}")
        for i in inputs:
            if (i < 0 or i >= k) and (i < 0 or i >= total()):
                raise SerializationError(f"{where}: input id {i} refers to no node (dangling id; "
                                         f"the file has {total()} nodes)")
            if i >= k:
                raise SerializationError(f"{where}: input id {i} refers to itself or a later node "
                                         "(a forward reference or a cycle); inputs must be earlier "
                                         "nodes")
            if made[i].graph is not graph:
                raise SerializationError(f"{where}: input id {i} is a node of another graph "
                                         f"({made[i].graph.name!r}); inputs are nodes of the "
                                         "node's own graph")
        _check_arity(cls, key, len(inputs), where)
        shape = _parse_shape(rec["shape"], where, self.max_elements)
        dtype = RESULTS if rec["dtype"] == "object" and cls.multiple_results else \
            _parse_dtype(rec["dtype"], where)
        role, order = rec["role"], rec["order"]
        expected_roles = ("input",) if cls.is_variable else ("constant",) if not inputs else \
            ("forward", "gradient")
        if role not in expected_roles:
            raise SerializationError(f"{where}: a node of this op with {len(inputs)} inputs has "
                                     f"role {' or '.join(map(repr, expected_roles))}, got "
                                     f"{_show(role)}")
        if not _is_int(order) or not 0 <= order <= _MAX_ORDER:
            raise SerializationError(f"{where}: order must be a non-negative int, got "
                                     f"{_show(order)}")
        params = rec["params"]
        if not isinstance(params, dict):
            raise SerializationError(f"{where}: params must be a JSON object, got {_show(params)}")
        values = {a: self.decoder.value(v, f"{where}, parameter {a!r}") if type(v) is not int
                  else v for a, v in params.items()}
        _check_params(cls, key, values, where, self.max_elements)
        op = cls.__new__(cls)
        op.__dict__.update(values)
        if isinstance(op, Loop):
            _check_loop(op, where, self.max_elements)
        args = tuple(made[i] for i in inputs)
        before = len(graph)
        try:
            with graph.building(role, order):
                node = graph._add(op, args)
        except Exception as e:  # the op rejected its inputs or parameters
            raise SerializationError(f"{where}: the op does not accept its inputs/parameters: "
                                     f"{type(e).__name__}: {e}") from None
        if node.shape != shape or node.dtype != dtype:
            raise SerializationError(f"{where}: the file says shape {shape} dtype {dtype}, but the "
                                     f"op computes shape {node.shape} dtype {node.dtype}")
        if len(graph) > before and (node.role != role or node.order != order):
            raise SerializationError(f"{where}: the file says role {role!r} order {order}, but such "
                                     f"a node has role {node.role!r} order {node.order}")
        if isinstance(op, Item):
            self.check_item(node, where)
        return node

    def graph_of(self, g: Any, where: str) -> Graph:
        if not _is_int(g) or not 0 <= g < len(self.graphs):
            raise SerializationError(f"{where}: graph must be 0 (the saved graph) or the id of a "
                                     f"body graph declared before (below {len(self.graphs)}), got "
                                     f"{_show(g)}")
        return self.graphs[g]

    def check_item(self, node: Node, where: str) -> None:
        """An item's index, shape and dtype are parameters: compare them with its tuple's part."""
        (results,) = node.inputs
        avals = self.avals.get(results)
        if avals is None:
            try:
                avals = self.avals[results] = list(results.op.result_avals(results))
            except Exception as e:  # a tuple node whose op cannot describe its parts
                raise SerializationError(f"{where}: the parts of node #{results.id} are unknown: "
                                         f"{type(e).__name__}: {e}") from None
        index = node.op.index
        if index >= len(avals):
            raise SerializationError(f"{where}: item {index} of a node with {len(avals)} results")
        part_shape, part_dtype = avals[index]
        if node.shape != tuple(part_shape) or node.dtype != part_dtype:
            raise SerializationError(f"{where}: the file says item {index} has shape {node.shape} "
                                     f"dtype {node.dtype}, but that result has shape "
                                     f"{tuple(part_shape)} dtype {np.dtype(part_dtype)}")

    def body_graph(self, rec: dict) -> Graph:
        """A body graph record: ``{"graph": id, "name": ..., "parent": id}``."""
        g = len(self.graphs)
        where = f"load: graph {g}"
        _expect(rec.keys() == _GRAPH_KEYS, where, f"a body graph has keys {sorted(_GRAPH_KEYS)}",
                sorted(rec))
        _expect(rec["graph"] == g and _is_int(rec["graph"]), where, f"graph ids count up from 1; "
                f"expected {g}", rec["graph"])
        _expect(rec["name"] is None or isinstance(rec["name"], str), where,
                "name must be a string or null", rec["name"])
        parent = rec["parent"]
        _expect(_is_int(parent) and 0 <= parent < g, where, "parent must be the id of a graph "
                f"declared before (below {g})", parent)
        depth = self.depths[parent] + 1
        if depth > MAX_NESTING:
            raise SerializationError(f"{where}: bodies nested {depth} deep, more than the limit "
                                     f"of {MAX_NESTING}")
        self.depths.append(depth)
        return Graph(rec["name"], parent=self.graphs[parent])

    def body(self, rec: dict) -> Body:
        """A body record: variables and results of a body graph, and the nodes it captured."""
        b = len(self.decoder.bodies)
        where = f"load: body {b}"
        _expect(rec.keys() == _BODY_KEYS, where, f"a body has keys {sorted(_BODY_KEYS)}",
                sorted(rec))
        _expect(rec["body"] == b and _is_int(rec["body"]), where, f"body ids count up from 0; "
                f"expected {b}", rec["body"])
        g = rec["graph"]
        _expect(_is_int(g) and 1 <= g < len(self.graphs), where, "graph must be the id of a body "
                f"graph declared before (1 to {len(self.graphs) - 1})", g)
        graph = self.graphs[g]
        inputs = self.body_nodes(rec, "inputs", where)
        outputs = self.body_nodes(rec, "outputs", where)
        captured = self.body_nodes(rec, "captured", where)
        for n in inputs + outputs:
            if n.graph is not graph:
                raise SerializationError(f"{where}: node #{n.id} of graph {n.graph.name!r} is not "
                                         f"a node of the body's graph {g}")
        if len(set(inputs)) != len(inputs) or not all(n.op.is_variable for n in inputs):
            raise SerializationError(f"{where}: the inputs must be distinct variables of the "
                                     "body's graph")
        if len(captured) > len(inputs):
            raise SerializationError(f"{where}: {len(captured)} captured nodes but only "
                                     f"{len(inputs)} inputs (the last inputs stand for them)")
        for c, v in zip(captured, inputs[len(inputs) - len(captured):]):
            if c.graph is not graph.parent:
                raise SerializationError(f"{where}: captured node #{c.id} is not a node of the "
                                         "graph the body is nested in")
            if c.shape != v.shape or c.dtype != v.dtype:
                raise SerializationError(f"{where}: captured node #{c.id} has shape {c.shape} "
                                         f"dtype {c.dtype}, the input standing for it {v.shape} "
                                         f"{v.dtype}")
        return Body(graph, inputs, outputs, captured)

    def body_nodes(self, rec: dict, field: str, where: str) -> list[Node]:
        ids = rec[field]
        n = len(self.nodes)
        if not isinstance(ids, list) or not all(_is_int(i) and 0 <= i < n for i in ids):
            raise SerializationError(f"{where}: {field} must be a list of ids of nodes before the "
                                     f"body (below {n}), got {_show(ids)}")
        return [self.nodes[i] for i in ids]

    def outputs(self, spec: Any, graph: Graph, nodes: list[Node]) -> Any:
        where = "load: outputs"
        _expect(isinstance(spec, dict) and spec.get("kind") in ("graph", "node", "list", "tuple",
                                                                 "dict"), where,
                "outputs.kind must be graph, node, list, tuple or dict", spec)
        kind = spec["kind"]
        if kind == "graph":
            _expect(set(spec) == {"kind"}, where, "a graph output has no other fields", spec)
            return graph
        keys = {"kind", "ids"} | ({"keys"} if kind == "dict" else set())
        _expect(set(spec) == keys, where, f"fields must be {sorted(keys)}", spec)
        ids = spec["ids"]
        _expect(isinstance(ids, list) and all(_is_int(i) and 0 <= i < len(nodes) for i in ids),
                where, f"ids must be node ids below {len(nodes)}", ids)
        outs = [nodes[i] for i in ids]
        if any(o.graph is not graph for o in outs):
            raise SerializationError(f"{where}: ids must be nodes of the saved graph (graph 0), "
                                     "not of a body")
        if kind == "node":
            _expect(len(outs) == 1, where, "a node output has exactly one id", ids)
            return outs[0]
        if kind == "dict":
            names = spec["keys"]
            _expect(isinstance(names, list) and len(names) == len(outs) and all(
                isinstance(n, str) for n in names) and len(set(names)) == len(names), where,
                "keys must be distinct strings, one per id", names)
            return dict(zip(names, outs))
        return outs if kind == "list" else tuple(outs)
