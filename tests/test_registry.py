"""Tests follow the registry: every built-in op is known to the test suites.

``test_every_builtin_op_is_known_to_the_tests`` walks ``builtin_ops()`` and
names each op that lacks something: finite-difference cases (found by
building every case of the test table and looking at the ops in its forward
graph), a random-graph generator (found by building random programs), a
sympy translation or an explicit ``NO_SYMPY``, a declaration of its
parameters, a unique name that is also its builder.  Exemptions live in the
test table ``op_table``, each with its reason.
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings

import graphgen as gg
import symgraph as sg
import symgraph.ops
from op_table import CASES, OPS, Entry
from symgraph.errors import ShapeError, SymgraphError
from symgraph.ops.base import Op, builtin_ops
from symgraph.ops.nn import CrossEntropy
from symgraph.ops.reduce import Sum
from symgraph.ops.shape import Reshape

#: random programs of each graphgen kind built to see which ops graphgen draws
PER_KIND = 10


def _entry(cls: type) -> Entry:
    return OPS.get(cls.name, Entry())


def ops_in_cases() -> set[type]:
    """The op classes in the forward graphs of all finite-difference cases."""
    seen: set[type] = set()
    for fn, arrays in CASES.values():
        with sg.Graph() as g:
            fn(*[sg.variable(f"x{i}", a.shape) for i, a in enumerate(arrays)])
        seen.update(type(n.op) for n in g.nodes)
    return seen


@functools.lru_cache(maxsize=None)
def ops_in_programs() -> frozenset[type]:
    """The op classes in the graphs of random programs, ``PER_KIND`` of each graphgen kind
    alone (derandomized: the same programs every run)."""
    seen: set[type] = set()
    for kind in gg.KINDS:
        @settings(max_examples=PER_KIND, derandomize=True, database=None)
        @given(gg.programs(max_steps=3, kinds=frozenset([kind])))
        def collect(prog: gg.Program) -> None:
            with sg.Graph() as g:
                gg.build(prog)
            seen.update(type(n.op) for n in g.nodes)

        collect()
    return frozenset(seen)


def _init_params(cls: type) -> list[str]:
    if cls.__init__ is object.__init__:
        return []
    return list(inspect.signature(cls.__init__).parameters)[1:]


def takes_inputs(cls: type) -> bool:
    """Whether nodes of the op have inputs (sources -- variables, constants -- have none, so
    they never need batching or sparsity rules)."""
    infer = getattr(cls.infer, "__wrapped__", cls.infer)
    return len(inspect.signature(infer).parameters) > 1


def _has_builder(name: str) -> bool:
    """Ops are built by ``symgraph.ops.<name>``, for linear algebra by ``sg.linalg.<name>``,
    and for control flow by ``sg.<name>`` (``sg.scan``, from ``symgraph.flow``)."""
    return any(callable(getattr(m, name, None)) for m in (symgraph.ops, sg.linalg, sg))


def problems(ops: dict[str, type], in_cases: set[type], in_programs: set[type]) -> dict[str, list[str]]:
    """For each check, the ops (``name (module.QualName)``) that fail it."""
    found: dict[str, list[str]] = {}

    def bad(check: str, cls: type, why: str = "") -> None:
        found.setdefault(check, []).append(f"{cls.name} ({cls.__module__}.{cls.__qualname__})"
                                           + (f": {why}" if why else ""))

    names = Counter(cls.name for cls in ops.values())
    for cls in ops.values():
        entry = _entry(cls)
        if cls.name not in OPS:
            bad("no entry in tests/op_table.py OPS", cls)
        for has, reason, check in [
                (cls in in_cases, entry.no_fd, "finite-difference cases (in no case's forward graph)"),
                (cls in in_programs, entry.no_gen, "random-graph generator (in no program graphgen drew)"),
                (_has_builder(cls.name), entry.no_builder,
                 "builder symgraph.ops.<name>, sg.linalg.<name> or sg.<name>")]:
            if not has and not reason:
                bad(f"no {check} and no exemption", cls)
            elif has and reason:
                bad(f"exempt from {check.split(' (')[0]} but has one: drop the exemption", cls)
        if cls.to_sympy is None:
            bad("no sympy translation and no explicit NO_SYMPY", cls)
        if takes_inputs(cls) and cls.batch is None:
            bad("no batching rule (Op.batch, see symgraph.ops.batching)", cls)
        if takes_inputs(cls) and cls.sparsity is None:
            bad("no sparsity rule (Op.sparsity, see symgraph.ops.patterns; "
                "patterns.dense when every output depends on every input element)", cls)
        params = _init_params(cls)
        if params and not cls.param_types:
            bad("parameters but no param_types", cls, f"__init__ takes {params}")
        elif set(params) != set(cls.param_types or ()):
            bad("param_types keys differ from __init__'s parameters", cls,
                f"{sorted(cls.param_types or ())} vs {params}")
        if names[cls.name] > 1:
            bad("name shared with another built-in op", cls)
    return found


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{check}:\n    " + "\n    ".join(ops) for check, ops in found.items())


def test_every_builtin_op_is_known_to_the_tests():
    ops = builtin_ops()
    found = problems(ops, ops_in_cases(), set(ops_in_programs()))
    unknown = sorted(set(OPS) - {cls.name for cls in ops.values()})
    if unknown:
        found["entries in tests/op_table.py OPS naming no built-in op"] = unknown
    assert not found, "\n" + _report(found)


class Mystery(Op):
    """An op the tests know nothing about: every check must name it."""

    name = "mystery"

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def f(self, x):
        return self.scale * x


def test_each_check_names_an_op_it_does_not_know():
    ops = {**builtin_ops(), "a.Mystery": Mystery, "b.Mystery": Mystery}  # two ops of one name
    found = problems(ops, ops_in_cases(), set(ops_in_programs()))
    named = {check for check, offenders in found.items()
             if any(o.startswith("mystery (test_registry.Mystery)") for o in offenders)}
    assert named == {
        "no entry in tests/op_table.py OPS",
        "no finite-difference cases (in no case's forward graph) and no exemption",
        "no random-graph generator (in no program graphgen drew) and no exemption",
        "no sympy translation and no explicit NO_SYMPY",
        "no builder symgraph.ops.<name>, sg.linalg.<name> or sg.<name> and no exemption",
        "parameters but no param_types",
        "name shared with another built-in op",
        "no batching rule (Op.batch, see symgraph.ops.batching)",
        "no sparsity rule (Op.sparsity, see symgraph.ops.patterns; "
        "patterns.dense when every output depends on every input element)",
    }, _report(found)
    # and a declaration that does not match __init__ is named too
    Mystery.param_types = {"factor": Sum.param_types["keepdims"]}
    try:
        found = problems({"test_registry.Mystery": Mystery}, set(), set())
    finally:
        del Mystery.param_types
    assert "param_types keys differ from __init__'s parameters" in found


# ---------------------------------------------------------------------------
# applying an op directly validates like its builder
# ---------------------------------------------------------------------------


def test_op_call_checks_shapes_when_the_node_is_built():
    x = sg.variable("x", (3,))
    with pytest.raises(ShapeError):
        Sum((7,), False)(x)
    with pytest.raises(ShapeError):
        Reshape((5,))(x)


def test_op_call_checks_parameter_kinds():
    logits = sg.variable("logits", (4, 3))
    with pytest.raises(SymgraphError, match="reduction"):
        CrossEntropy("bogus")(logits, np.array([0, 2, 1, 2]))
