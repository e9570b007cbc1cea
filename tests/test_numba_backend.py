"""``sg.function(..., backend="numba")``: the same values as the numpy backend and the evaluator.

The kernel of every declared code (``symgraph.codegen.native_vm``), loaded by the
first test, serves every later program of the process (numba's disk cache serves
later runs); the tests of kernels per code set compile small ones (~1 s each) in
an empty cache directory of their own."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given

import graphgen as gg
import symgraph as sg
import test_properties
from _hypothesis import examples
from symgraph.errors import SymgraphError
from symgraph.graph import apply
from symgraph.ops.elementwise import Elementwise
from symgraph.ops.piecewise import Clip

pytest.importorskip("numba", reason="numba is not installed (pip install 'symgraph[numba]')")

from symgraph.codegen import native, native_vm  # noqa: E402

#: elementwise ops computed with numpy by the numba backend (no numba scalar code): round and
#: polygamma depend on a parameter the kernel has no case for, numba lacks digamma, and
#: numba's cbrt is ``pow(x, 1/3)`` (tens of ulps off, and +0.0 for -0.0)
NUMPY_ONLY = {"round", "polygamma", "digamma", "cbrt"}

SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.5, 2.5, 1e-300, 1e300, -7.0, 0.5,
                    3.0, -1.0, 1.0])


def _concrete_elementwise() -> list[type]:
    found, stack = [], [Elementwise]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not cls.__dict__.get("abstract", False) and cls.__module__.startswith("symgraph."):
            found.append(cls)
    return sorted(found, key=lambda c: c.name)


def _instances(cls: type) -> list:
    if cls.__name__ == "Cast":
        return [cls(np.float64), cls(np.bool_)]
    if cls is Clip:
        return [Clip(True, True), Clip(True, False), Clip(False, True)]
    return [cls()]


def test_every_elementwise_op_declares_numba_code_or_is_listed_as_numpy():
    for cls in _concrete_elementwise():
        if cls.name in NUMPY_ONLY:
            assert not cls.numba_codes(), f"{cls.name} is listed as numpy but declares code"
            continue
        assert cls.numba_codes(), f"{cls.name}: declare its numba scalar code or list it"
        vm = native_vm.load_vm()
        for op in _instances(cls):
            assert op.numba_scalar() in vm.opcodes, cls.name


def _kernel(code: str, args: list[np.ndarray]) -> np.ndarray:
    """One instruction of the VM on float64 arrays: load, compute, store."""
    vm = native_vm.load_vm()
    k = len(args)
    rows = [[native_vm.LOAD, s, native_vm.operand_index(s, 1), 0, 0] for s in range(k)]
    rows.append([vm.opcodes[code], k, *range(k), *[0] * (3 - k)])
    rows.append([native_vm.STORE, native_vm.result_index(0, 1), k, 0, 0])
    table = np.array(rows, np.int64)
    shape = args[0].shape
    (out,) = native.run_region(vm.run, table, np.zeros(0), shape, math.prod(shape), k + 1, 1,
                               args)
    return out


def _same(got: np.ndarray, want: np.ndarray, ulps: int) -> bool:
    nan = np.isnan(want)
    if not np.array_equal(np.isnan(got), nan):
        return False
    g, w = got[~nan], want[~nan]
    if not np.array_equal(np.signbit(g), np.signbit(w)) or not np.array_equal(np.isinf(g),
                                                                              np.isinf(w)):
        return False
    fin = np.isfinite(w)
    if not np.any(fin):
        return True
    gi = g[fin].view(np.int64)
    wi = w[fin].view(np.int64)
    return bool(np.max(np.abs(gi - wi)) <= ulps)


@pytest.mark.parametrize("cls", [c for c in _concrete_elementwise() if c.numba_codes()],
                         ids=lambda c: c.name)
def test_op_scalar_code_matches_numpy_on_special_values(cls):
    """Each op's numba code against its numpy ``f`` on every combination of special values:
    NaN, infinities and signed zeros exactly, other values within a few ulps (libm)."""
    for op in _instances(cls):
        code = op.numba_scalar()
        n = native_vm.arity(code) if not op.numba_fold else 2
        grid = [np.array(t) for t in zip(*itertools.product(SPECIAL, repeat=n))]
        refs = list(grid)
        if cls.__name__ == "Where":
            refs[0] = grid[0] != 0
        with np.errstate(all="ignore"):
            want = np.asarray(op.f(*refs)).astype(np.float64)
        got = _kernel(code, grid)
        ulps = 0 if cls.name in {"add", "subtract", "multiply", "divide", "negative", "square",
                                 "sqrt", "abs", "maximum", "minimum", "relu", "clip", "where",
                                 "cast", "sign", "floor", "ceil", "mod", "add_n",
                                 "reciprocal"} else 4
        bad = [tuple(float(a[i]) for a in grid) + (float(got[i]), float(want[i]))
               for i in range(len(want)) if not _same(got[i:i + 1], want[i:i + 1], ulps)]
        assert not bad, f"{cls.name} {code!r}: (inputs..., numba, numpy) {bad[:5]}"


#: operands of other dtypes: each dtype's edge values (beyond 2^53, wrapping, signed zeros)
OTHER_DTYPES = {
    "bool": np.array([False, True]),
    "int8": np.array([0, 1, -1, 2, -7, 127, -128], np.int8),
    "int32": np.array([0, 1, -1, 3, -7, 2**31 - 1, -2**31], np.int32),
    "int64": np.array([0, 1, -1, 3, -7, 2**53 + 1, -2**62 - 1, 2**63 - 1], np.int64),
    "uint64": np.array([0, 1, 3, 2**53 + 1, 2**64 - 1], np.uint64),
    "float32": np.array([0.0, -0.0, np.inf, np.nan, -1.5, 0.1, 3.4e38, 1e-45], np.float32),
}


@pytest.mark.parametrize("dtype", sorted(OTHER_DTYPES))
@pytest.mark.parametrize("cls", [c for c in _concrete_elementwise() if c.numba_codes()],
                         ids=lambda c: c.name)
def test_op_scalar_code_matches_numpy_on_other_dtypes(cls, dtype):
    """Operands of other dtypes (all of them, or the first with float64 special values):
    wherever the backend admits the op into a region (``native.region_code`` for numpy's
    result dtype, ``native.operand_ok``), the kernel on the operands loaded as float64
    gives numpy's result: booleans exactly 0.0/1.0, nothing of integer arithmetic."""
    vals = OTHER_DTYPES[dtype]
    checked = 0
    for op in _instances(cls):
        n = native_vm.arity(op.numba_scalar()) if not op.numba_fold else 2
        for mixed in (False, True):
            pools = [vals] + [SPECIAL if mixed else vals] * (n - 1)
            if cls.__name__ == "Where":
                pools[0] = np.array([False, True])
            grid = [np.array(t, dtype=p.dtype)
                    for t, p in zip(zip(*itertools.product(*pools)), pools)]
            xs = [sg.variable(f"x{k}", g.shape, g.dtype) for k, g in enumerate(grid)]
            try:
                node = apply(op, xs)
            except (TypeError, ValueError, SymgraphError):  # refused for these dtypes
                continue
            if list(node.inputs) != xs:  # operands cast first: the casts are members
                continue
            if node.dtype != np.float64 and node.dtype != bool:  # never a region member
                continue
            try:
                with np.errstate(all="ignore"):
                    want = np.asarray(sg.evaluate([node], dict(zip(xs, grid)))[0])
            except SymgraphError:  # not computable on these dtypes
                continue
            code = native.region_code(op, want.dtype)
            if code is None or not all(native.operand_ok(_Arg(g), g.shape, want.dtype == bool,
                                                         native.converting(op)) for g in grid):
                continue
            got = _kernel(code, [g.astype(np.float64) for g in grid])
            exact = want.dtype == bool or cls.name in {
                "add", "subtract", "multiply", "divide", "negative", "square", "sqrt", "abs",
                "maximum", "minimum", "relu", "clip", "where", "cast", "sign", "floor", "ceil",
                "mod", "add_n", "reciprocal"}
            want = want.astype(np.float64)
            bad = [tuple(float(a[i]) for a in grid) + (float(got[i]), float(want[i]))
                   for i in range(len(want)) if not _same(got[i:i + 1], want[i:i + 1],
                                                          0 if exact else 4)]
            assert not bad, f"{cls.name} {code!r} {dtype}: (inputs..., numba, numpy) {bad[:5]}"
            checked += 1
    if dtype == "bool" and cls.name in {"add", "multiply", "maximum", "minimum", "where",
                                        "logical_or", "equal"}:
        assert checked, f"{cls.name} on booleans is not computed in regions"


class _Arg:
    """What ``native.operand_ok`` reads of a program value: its dtype and shape."""

    def __init__(self, a: np.ndarray) -> None:
        self.dtype, self.shape = a.dtype, a.shape


def test_boolean_sums_and_products_are_zero_or_one():
    """Registers hold booleans as 0.0/1.0: ``True + True`` is True (1.0), not 2.0."""
    x = sg.variable("x", (4,))
    a, b = x > 0, x > 1
    y = (sg.cast(a + b, "float64") * 3.0 + sg.exp(x) * 2.0 + x
         + sg.cast(sg.add_n([a, b, x > -2]), "float64") * 5.0
         + sg.cast(sg.maximum(a, b) * b, "float64") * 7.0)
    fn, fp = (sg.function([x], [y], backend=k) for k in ("numba", "numpy"))
    assert fn.source.count("_native(") == 1 and "astype" not in fn.source, fn.source
    xv = np.array([-1.0, 0.5, 2.0, 3.0])
    want = sg.evaluate([y], {x: xv})[0]
    np.testing.assert_allclose(fn(xv)[0], fp(xv)[0], rtol=1e-14)
    np.testing.assert_allclose(fn(xv)[0], want, rtol=1e-14)


@contextlib.contextmanager
def any_region():
    """Regions of 2 ops and more on arrays of any size (``native.worth``'s costs set so):
    tests of what a region computes, not of which regions pay for their call."""
    saved = native.KERNEL_CALL_US, native.PASS_NS
    native.KERNEL_CALL_US, native.PASS_NS = 2 * native.NUMPY_CALL_US, 0.0
    try:
        yield
    finally:
        native.KERNEL_CALL_US, native.PASS_NS = saved


@pytest.fixture
def small_regions():
    with any_region():
        yield


def _compare(fn_np, fn_nb, feeds, rtol=1e-12, atol=1e-12):
    a, b = fn_np(*feeds), fn_nb(*feeds)
    for x, y in zip(a, b):
        y = np.asarray(y)
        x = np.asarray(x)
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_allclose(y, x, rtol=rtol, atol=atol)


@examples(0.5)
@given(gg.programs())
def test_random_graphs_numba_equals_numpy_backend_and_evaluate(prog):
    case = test_properties.Case(prog)
    with case.graph:
        grads = sg.grad(case.loss, case.xs)
    outs = [case.loss, *grads, *case.outs]
    feeds = [case.feed[x] for x in case.xs]
    with any_region():
        got = sg.function(case.xs, outs, backend="numba")(*feeds)
    ref = sg.function(case.xs, outs)(*feeds)
    want = sg.evaluate(outs, case.feed)
    for w, r, g in zip(want, ref, got):
        g, r = np.asarray(g), np.asarray(r)
        assert g.shape == r.shape == w.shape and g.dtype == r.dtype == w.dtype, prog
        # libm's and numpy's transcendental functions differ by an ulp or so
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12, err_msg=repr(prog))
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=repr(prog))


def _chain(levels: int, n: int):
    x = sg.variable("x", (n,))
    h = x
    for _ in range(levels):
        h = sg.sin(h) * 0.5 + h
    y = sg.sum(h)
    return x, y, sg.grad(y, x)


def test_chain_of_20000_levels_equals_the_evaluator():
    x, y, g = _chain(20000, 10)
    f = sg.function([x], [y, g], backend="numba")
    assert "_native(" in f.source and not f.standalone
    xv = np.linspace(-2.0, 2.0, 10)
    got = f(xv)
    want = sg.evaluate([y, g], {x: xv})
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_one_region_per_chain_and_fresh_writable_outputs():
    x, y, g = _chain(50, 7)
    f = sg.function([x], [y, g, sg.sin(x) * 2.0], backend="numba")
    assert f.source.count("_native(") == 1
    xv = np.linspace(-1.0, 1.0, 7)
    r1 = f(xv)
    r2 = f(xv)
    assert r1[1] is not r2[1] and not np.shares_memory(r1[1], r2[1])
    r1[1][:] = 0.0  # writable, shared with nothing else
    np.testing.assert_array_equal(r2[2], np.sin(xv) * 2.0)


def test_operands_of_other_dtypes_layouts_and_broadcast_scalars():
    x = sg.variable("x", (3, 4))
    s = sg.variable("s", ())
    k = sg.variable("k", (3, 4), "int32")
    m = sg.variable("m", (3, 4), "bool")
    z = sg.where(m, sg.exp(x) * s + sg.cast(k, "float64"), -x)
    mask = sg.where((x > 0) & (z < 3.0), z, sg.tanh(z))  # booleans stay inside the kernel
    outs = [mask, sg.sum(mask * z, axis=0), sg.grad(sg.sum(mask * x), x)]
    fn, fp = (sg.function([x, s, k, m], outs, backend=b) for b in ("numba", "numpy"))
    assert "_native(" in fn.source
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((4, 3)).T  # not C-contiguous
    xv.flags.writeable = False
    feeds = [xv, np.float64(1.5), rng.integers(-3, 3, (3, 4)).astype(np.int32),
             rng.random((3, 4)) > 0.5]
    _compare(fp, fn, feeds)
    e = sg.evaluate(outs, dict(zip([x, s, k, m], feeds)))
    for a, b in zip(fn(*feeds), e):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_nan_and_inf_flow_as_in_numpy():
    x = sg.variable("x", (5,))
    y = sg.log(x) * 2.0 + sg.sqrt(x) / x
    fn, fp = (sg.function([x], [y], backend=b) for b in ("numba", "numpy"))
    xv = np.array([-1.0, 0.0, np.inf, np.nan, 2.0])
    with np.errstate(all="ignore"):
        a, = fp(xv)
    b, = fn(xv)
    np.testing.assert_array_equal(a, b)


def test_float32_graphs_stay_numpy_and_equal():
    x = sg.variable("x", (6,), "float32")
    y = sg.sin(x) * 0.5 + x
    fn, fp = (sg.function([x], [y, sg.grad(sg.sum(y), x)], backend=b) for b in ("numba", "numpy"))
    xv = np.linspace(-1, 1, 6).astype(np.float32)
    _compare(fp, fn, [xv], rtol=0, atol=0)


def test_seed_mlp_equals_numpy_backend():
    from symgraph.models import init_params, seed_mlp

    m = seed_mlp(16, 12, 8, 4)
    rng = np.random.default_rng(1)
    W1, W2 = init_params(rng, 12, 8, 4)
    feeds = [rng.standard_normal((16, 12)), rng.integers(0, 4, 16), W1, W2]
    outs = [m.loss, *sg.grad(m.loss, [m.W1, m.W2])]
    fn, fp = (sg.function([m.X, m.y, m.W1, m.W2], outs, backend=b) for b in ("numba", "numpy"))
    _compare(fp, fn, feeds)


def test_unknown_backend_is_a_clear_error():
    x = sg.variable("x", (2,))
    with pytest.raises(SymgraphError, match="unknown backend 'jax'.*'numpy', 'numba'"):
        sg.function([x], [sg.sin(x)], backend="jax")


def test_missing_numba_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    x = sg.variable("x", (2,))
    with pytest.raises(SymgraphError, match=r'pip install "symgraph\[numba\]"'):
        sg.function([x], [sg.sin(x) * 2.0], backend="numba")


def test_kernel_source_lives_in_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path / "c"))
    assert native_vm.cache_dir() == str(tmp_path / "c")
    vm = native_vm.load_vm()  # already loaded in this process: the same kernel
    assert vm.path.endswith(".py") and "def run(" in open(vm.path).read()


@pytest.fixture
def fresh_kernels(tmp_path, monkeypatch):
    """An empty cache directory and no kernel loaded in this process (as in a new process
    on a new machine); the loaded ones come back after the test."""
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path / "kernels"))
    monkeypatch.setattr(native_vm, "_loaded", {})
    return tmp_path / "kernels"


def _kernel_of(fn) -> "native_vm.VM":
    """The kernel a compiled function calls (the one its source names)."""
    (digest,) = re.findall(r"load_kernel\('(\w+)'\)", fn.source)
    return native_vm.load_kernel(digest)


def _arithmetic_program():
    x, w = sg.variable("x", (5,)), sg.variable("w", (5,))
    y = (x * w - x / w) * 2.0 + sg.square(w) - x
    return [x, w], [y, sg.grad(sg.sum(y * x), x)]


def test_arithmetic_program_compiles_a_kernel_of_arithmetic_cases_only(fresh_kernels):
    ins, outs = _arithmetic_program()
    fn = sg.function(ins, outs, backend="numba")
    vm = _kernel_of(fn)
    assert os.path.dirname(vm.path) == str(fresh_kernels)  # isolated in SYMGRAPH_CACHE_DIR
    source = open(vm.path).read()
    cases = source.split("for i in range(code.shape[0]):")[1]
    assert "regs[d, j] = a + b" in cases and not re.search(r"np\.|math\.", cases)
    assert {native_vm.family(c) for c in vm.opcodes} == {"arithmetic"}
    assert sorted(vm.opcodes.values()) == list(range(2, 2 + len(vm.opcodes)))
    assert len(vm.opcodes) < len(native_vm.scalar_codes()) / 4
    rng = np.random.default_rng(3)
    feeds = [rng.uniform(0.5, 2.0, 5), rng.uniform(0.5, 2.0, 5)]
    for a, e in zip(fn(*feeds), sg.evaluate(outs, dict(zip(ins, feeds)))):
        np.testing.assert_allclose(a, e, rtol=1e-13)


def test_programs_with_different_code_sets_share_or_add_kernels(fresh_kernels, small_regions):
    ins, outs = _arithmetic_program()
    f_arith = sg.function(ins, outs, backend="numba")
    x = sg.variable("x", (7,))
    y = sg.sin(x) * 0.5 + sg.sigmoid(x)
    f_sin = sg.function([x], [y, sg.grad(sg.sum(y), x)], backend="numba")
    k_arith, k_sin = _kernel_of(f_arith), _kernel_of(f_sin)
    assert "np.sin(a)" not in k_arith.opcodes and "np.sin(a)" in k_sin.opcodes
    # the sigmoid's code sorts before "a + b": the two kernels number it differently
    assert k_arith.opcodes["a + b"] != k_sin.opcodes["a + b"]
    # a kernel loaded here that has every code serves a later program (no new kernel)
    z = sg.variable("z", (3,))
    f_cos = sg.function([z], [sg.cos(z) * 2.0 - z], backend="numba")
    assert _kernel_of(f_cos) is k_sin
    # both kernels run, interleaved, each with its own opcode numbering
    rng = np.random.default_rng(4)
    feeds = [rng.uniform(0.5, 2.0, 5), rng.uniform(0.5, 2.0, 5)]
    xv, zv = np.linspace(-2.0, 2.0, 7), np.linspace(-1.0, 1.0, 3)
    for _ in range(2):
        for a, e in zip(f_arith(*feeds), sg.evaluate(outs, dict(zip(ins, feeds)))):
            np.testing.assert_allclose(a, e, rtol=1e-13)
        got = f_sin(xv)
        sig = 1.0 / (1.0 + np.exp(-xv))
        np.testing.assert_allclose(got[0], np.sin(xv) * 0.5 + sig, rtol=1e-14)
        np.testing.assert_allclose(got[1], np.cos(xv) * 0.5 + sig * (1.0 - sig), rtol=1e-13)
        np.testing.assert_allclose(f_cos(zv)[0], np.cos(zv) * 2.0 - zv, rtol=1e-14)


def test_a_new_process_loads_the_smallest_compiled_kernel_that_suffices(fresh_kernels,
                                                                        monkeypatch,
                                                                        small_regions):
    ins, outs = _arithmetic_program()
    x = sg.variable("x", (4,))
    prog_sin = ([x], [sg.sin(x) * 3.0 + x])
    k_arith = _kernel_of(sg.function(ins, outs, backend="numba"))
    k_sin = _kernel_of(sg.function(*prog_sin, backend="numba"))
    assert k_arith.codes < k_sin.codes
    monkeypatch.setattr(native_vm, "_loaded", {})  # a new process: the files stay
    x2 = sg.variable("x2", (4,))
    f_sin = sg.function([x2], [sg.sin(x2) * 3.0 + x2], backend="numba")
    again = _kernel_of(f_sin)
    assert again.path == k_sin.path and sum(again.run.stats.cache_hits.values()) == 1
    np.testing.assert_allclose(f_sin(np.arange(4.0))[0], np.sin(np.arange(4.0)) * 3.0
                               + np.arange(4.0), rtol=1e-14)
    monkeypatch.setattr(native_vm, "_loaded", {})
    # an arithmetic program takes the arithmetic kernel, not the larger one, and a
    # program using a code no compiled kernel has compiles one more
    assert native_vm.load_vm(["a * b"]).path == k_arith.path
    assert native_vm.load_vm(["np.exp(a)"]).path not in (k_arith.path, k_sin.path)
    assert len(list(fresh_kernels.glob("vm_*.py"))) == 3


def test_region_outputs_are_owned_buffers_later_code_may_write_into():
    """A region's results are rows of a new array: the planner lets later numpy code
    (cbrt has no numba code) write into one in place while another is still to be read."""
    x = sg.variable("x", (6,))
    a = sg.sin(x) * 2.0 + x
    b = sg.cos(x) * 3.0 - x
    d = a * b  # one region exporting a, b and d
    outs = [sg.cbrt(a), sg.cbrt(d) - b, b, sg.cbrt(b)]
    fn, fp = (sg.function([x], outs, backend=k) for k in ("numba", "numpy"))
    assert fn.source.count("_native(") == 1
    assert re.search(r"np\.cbrt\((item\d+), out=\1\)", fn.source), fn.source  # in place
    xv = np.linspace(-1.5, 1.5, 6)
    want = sg.evaluate(outs, {x: xv})
    first = fn(xv)
    for _ in range(2):
        got = fn(xv)
        for g, r, w in zip(got, fp(xv), want):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)
        assert not any(np.shares_memory(p, q) for p, q in itertools.combinations(got, 2))
        assert not any(np.shares_memory(p, q) for p in got for q in first)


def test_apply_of_each_op_in_a_region_matches_numpy_backend(small_regions):
    rng = np.random.default_rng(2)
    x = sg.variable("x", (5,))
    w = sg.variable("w", (5,))
    xv = rng.uniform(0.2, 0.9, 5)
    wv = rng.uniform(0.2, 0.9, 5)
    for cls in _concrete_elementwise():
        if not cls.numba_codes():
            continue
        for op in _instances(cls):
            if cls.__name__ == "Where":
                ins = [x > 0.5, x * w, w]
            elif op.numba_fold:
                ins = [x * w, w, x]
            else:
                ins = [x * w, w, x][:native_vm.arity(op.numba_scalar())]
            node = apply(op, ins)
            if node.dtype != np.float64:
                node = sg.where(node, x, w)
            y = node * 1.5
            fn, fp = (sg.function([x, w], [y], backend=b) for b in ("numba", "numpy"))
            assert "_native(" in fn.source, cls.name
            with np.errstate(all="ignore"):
                _compare(fp, fn, [xv, wv], rtol=1e-14, atol=0)


def test_booleans_read_across_regions_stay_numpy_booleans():
    x = sg.variable("x", (6,))
    b = sg.sin(x) * 2.0 > 0.5  # a boolean made in one region ...
    s = sg.sum(sg.exp(x) * 2.0)
    w = sg.where(b, x * s + 1.0, -x * 3.0)  # ... read by one of a later stage
    outs = [w, sg.where(b, 1.0, 0.0) * s, sg.grad(sg.sum(w), x), b]
    fn, fp = (sg.function([x], outs, backend=b_) for b_ in ("numba", "numpy"))
    assert "_native(" in fn.source
    xv = np.linspace(-2.0, 2.0, 6)
    _compare(fp, fn, [xv])
    for a, e in zip(fn(xv), sg.evaluate(outs, {x: xv})):
        assert a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-12)


def test_bench_small_runs_quick():
    """The benchmark script end to end at a tiny size (its own checks against the numpy
    loop run; timings are not looked at)."""
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "bench_small.py"),
                           "--quick", "--no-cache-runs"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "sg numba backend" in done.stdout and "x numpy loop" in done.stdout


def test_peak_bytes_matches_a_call_on_long_vectors(small_regions):
    """A region's results are arrays of their own and float64 operands are not copied, so
    the plan's peak is what a call allocates (tracemalloc sees numpy's buffers)."""
    import tracemalloc

    n = 10**6
    x = sg.variable("x", (n,))
    k = sg.variable("k", (n,), "int32")  # converted to a float64 copy: the region's scratch
    a = sg.sin(x) * 2.0 + x
    b = sg.cos(x) * 3.0 - x + sg.cast(k, "float64")
    c = sg.sum(a)  # a stage boundary: a second region reads a, b and the sum
    y = sg.exp(a) * c - b
    f = sg.function([x, k], [y], backend="numba", reuse_buffers=False)
    assert f.source.count("_native(") == 2, f.source
    feeds = [np.linspace(-1.0, 1.0, n), np.arange(n, dtype=np.int32) % 7]
    np.testing.assert_allclose(f(*feeds)[0], sg.function([x, k], [y])(*feeds)[0], rtol=1e-12)
    f(*feeds)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        f(*feeds)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert abs(peak - f.peak_bytes) <= 0.05 * f.peak_bytes, (peak, f.peak_bytes)


def test_a_kernel_of_another_template_is_not_reused(fresh_kernels, monkeypatch):
    """A kernel compiled from another version of the kernel's text (here another BLOCK)
    is not reused for its codes, from this process or from the cache directory."""
    xs, ys = _arithmetic_program()
    old = _kernel_of(sg.function(xs, ys, backend="numba"))
    block = native_vm.BLOCK
    monkeypatch.setattr(native_vm, "_loaded", {})  # a new process ...
    monkeypatch.setattr(native_vm, "BLOCK", 8)  # ... of a new symgraph
    new = native_vm.load_vm(old.codes)
    assert new.path != old.path and "BLOCK = 8\n" in open(new.path).read()
    assert new.template == native_vm.template_digest() != old.template
    monkeypatch.setattr(native_vm, "_loaded", {})
    monkeypatch.setattr(native_vm, "BLOCK", block)
    assert native_vm.load_vm(new.codes).path == old.path
    feeds = [np.linspace(0.5, 1.5, 5), np.linspace(1.0, 2.0, 5)]
    got = sg.function(xs, ys, backend="numba")(*feeds)
    for g, w in zip(got, sg.evaluate(ys, dict(zip(xs, feeds)))):
        np.testing.assert_allclose(g, w, rtol=1e-14)


def test_shared_temporary_cache_dir_must_be_private(tmp_path, monkeypatch):
    """The fallback under the shared temporary directory is used only when it is this
    user's and nobody else may write to it: else a fresh private directory."""
    monkeypatch.delenv("SYMGRAPH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-such-cache")  # not writable
    monkeypatch.setattr(native_vm.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(native_vm, "_private_dir", None)
    shared = tmp_path / f"symgraph-{os.getuid()}"
    assert native_vm.cache_dir() == str(shared)  # made private
    assert not shared.stat().st_mode & 0o077
    shared.chmod(0o777)  # as another user would leave it (world-writable)
    d = native_vm.cache_dir()
    assert d != str(shared) and native_vm.private(d)
    assert native_vm.cache_dir() == d  # one per process
    shared.chmod(0o700)
    monkeypatch.setattr(native_vm, "_private_dir", None)
    monkeypatch.setattr(native_vm.os, "getuid", lambda: os.geteuid() + 1)  # another's
    other = tmp_path / f"symgraph-{os.geteuid() + 1}"
    other.mkdir(mode=0o700)
    d = native_vm.cache_dir()
    assert d != str(other) and d.startswith(str(tmp_path))


def test_regions_of_many_operands_and_results():
    """Beyond ``native_vm.ARGS`` operands and results, the rest go by address."""
    xs = [sg.variable(f"x{k}", (3, 4)) for k in range(7)]
    parts = [sg.sin(x) * float(k + 1) + xs[0] for k, x in enumerate(xs)]
    outs = parts + [sg.add_n(parts) * 2.0]
    fn, fp = (sg.function(xs, outs, backend=b) for b in ("numba", "numpy"))
    assert fn.source.count("_native(") == 1, fn.source
    rng = np.random.default_rng(3)
    feeds = [rng.standard_normal((3, 4)) for _ in xs]
    feeds[2] = np.asfortranarray(feeds[2])
    _compare(fp, fn, feeds)
    got = fn(*feeds)
    assert not any(np.shares_memory(p, q) for p, q in itertools.combinations(got, 2))


def _bias_chain(x, b, levels: int):
    h = x
    for _ in range(levels):
        h = sg.tanh(h) * 0.9 + 0.1 * h + b
    return h


@pytest.mark.parametrize("xs, bs", [((8, 16), (16,)), ((8, 16), (8, 1)), ((8, 16), (1, 16)),
                                    ((3, 1), (1, 4)), ((8, 16), ()), ((4, 5, 3), (4, 1, 3)),
                                    ((4, 5, 3), (5, 1))])
def test_operands_broadcast_over_a_region_keep_it_one_call(xs, bs):
    """A bias broadcast over the chain is read in place (or, when its axes are not one run,
    copied broadcast by the call): one region, the numpy backend's values, and its
    gradient too."""
    x, b = sg.variable("x", xs), sg.variable("b", bs)
    h = _bias_chain(x, b, 30)
    loss = sg.sum(h * h)
    outs = [h, *sg.grad(loss, [x, b])]
    fn, fp = (sg.function([x, b], outs, backend=k) for k in ("numba", "numpy"))
    rng = np.random.default_rng(5)
    feeds = [rng.uniform(-1.0, 1.0, xs), rng.uniform(-1.0, 1.0, bs)]
    # one region over the chain's shape; the gradient of a smaller x may add one of its shape
    shape = np.broadcast_shapes(xs, bs)
    shapes = re.findall(r"ops over (\([\d, ]*\))\)", fn.source)
    assert shapes.count(str(shape)) == 1 and len(shapes) <= 1 + (xs != shape), fn.source
    assert fn.source.count("_native(") == len(shapes)
    want = sg.evaluate(outs, dict(zip([x, b], feeds)))
    for got, ref, w in zip(fn(*feeds), fp(*feeds), want):
        assert got.shape == ref.shape == w.shape
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-13)
    # the forward chain alone: one region too, and a broadcast constant array
    c = sg.constant(np.linspace(0.5, 1.5, xs[-1]))
    y = _bias_chain(x, b, 30) * c
    fn, fp = (sg.function([x, b], [y], backend=k) for k in ("numba", "numpy"))
    assert fn.source.count("_native(") == 1, fn.source
    np.testing.assert_allclose(fn(*feeds)[0], fp(*feeds)[0], rtol=1e-12, atol=1e-13)


def test_smaller_intermediates_feed_one_region():
    """A (16,) value computed inside each level (not worth a region of its own) is an
    operand of the (8, 16) region: the chain stays one call."""
    x, b = sg.variable("x", (8, 16)), sg.variable("b", (16,))
    h = x
    for k in range(40):
        h = sg.tanh(h) * 0.9 + sg.exp(b * (0.01 * k))
    fn, fp = (sg.function([x, b], [h], backend=k) for k in ("numba", "numpy"))
    assert fn.source.count("_native(") == 1, fn.source
    rng = np.random.default_rng(6)
    feeds = [rng.standard_normal((8, 16)), rng.standard_normal(16)]
    np.testing.assert_allclose(fn(*feeds)[0], fp(*feeds)[0], rtol=1e-12)


@pytest.mark.parametrize("small, shape", [((16,), (8, 16)), ((8, 1), (8, 16)),
                                          ((1, 4), (3, 4)), ((3, 1), (3, 4)),
                                          ((2, 1, 3), (5, 2, 4, 3)), ((5, 1, 1), (5, 2, 3)),
                                          ((1, 2, 1), (3, 2, 4)), ((2, 1, 3), (2, 4, 3)),
                                          ((2, 3, 1), (4, 2, 3, 1))])
def test_broadcast_load_reads_what_numpy_broadcasts(small, shape):
    a = np.arange(math.prod(small), dtype=float).reshape(small)
    want = np.broadcast_to(a, shape).reshape(-1)
    found = native.broadcast_load(small, shape)
    if small == (2, 1, 3):  # axes 0 and 2 kept, 1 broadcast between: copied instead
        assert found is None
        return
    inner, period = found
    i = np.arange(math.prod(shape))
    np.testing.assert_array_equal(a.reshape(-1)[(i // inner) % period], want)


def test_source_comment_and_describe_name_a_regions_ops():
    x, b = sg.variable("x", (8, 16)), sg.variable("b", (16,))
    fn = sg.function([x, b], [_bias_chain(x, b, 3)], backend="numba")
    (line,) = [s.strip() for s in fn.source.splitlines() if s.strip().startswith("# native")]
    names = re.findall(r"([a-z_]+)\d+", line.split(":", 1)[1].split("(")[0])
    assert names[:8] == ["tanh", "multiply", "multiply", "add", "add", "tanh", "multiply",
                         "multiply"], line
    assert line.endswith("... 7 more (15 ops over (8, 16))"), line
    with any_region():
        short = sg.function([x, b], [_bias_chain(x, b, 1)], backend="numba")
    assert re.search(r"# native\d+: tanh\d+, multiply\d+, multiply\d+, add\d+, add\d+ "
                     r"\(5 ops over \(8, 16\)\)$", short.source, re.M), short.source
    from symgraph.codegen.ir import lower

    prog = native.fuse_regions(lower([_bias_chain(x, b, 3)], [x, b]))
    (region,) = [v.op for v in prog.values if isinstance(v.op, native.Region)]
    assert region.describe().startswith("numba region of 15 ops over (8, 16): tanh")


def test_regions_form_only_when_they_save_numpy_calls():
    """``worth``: a few ops on a short vector, or a short chain on a long one, stay numpy
    (a kernel call costs more than the numpy calls it replaces); long chains form."""
    def chain(n: int, levels: int):
        x = sg.variable("x", (n,))
        h = x
        for _ in range(levels):
            h = h * 0.999 + 0.001
        return sg.function([x], [h], backend="numba")

    assert "_native(" not in chain(10, 1).source  # 2 ops
    assert chain(10, 4).source.count("_native(") == 1  # 8 ops
    assert "_native(" not in chain(10**5, 4).source  # 8 ops, two passes over 10^5
    assert chain(10**5, 200).source.count("_native(") == 1
    x = sg.variable("x", (7,))
    f = chain(7, 4)
    np.testing.assert_allclose(f(np.arange(7.0))[0], sg.evaluate(
        [_affine(x, 4)], {x: np.arange(7.0)})[0], rtol=1e-14)


def _affine(x, levels):
    h = x
    for _ in range(levels):
        h = h * 0.999 + 0.001
    return h
