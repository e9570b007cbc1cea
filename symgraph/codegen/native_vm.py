"""The numba backend's kernels: a tiled virtual machine generated from the ops' scalar code.

Why a VM and not one generated loop per fused region: LLVM's compile time grows
faster than linearly with a straight-line function, and a 2000-level chain's
value and gradient is a region of ~10^4 ops (tens of seconds to compile, minutes
at 20000 levels).  A VM is compiled once per set of scalar codes, cached on
disk by numba, and every region is data for it: an instruction table (opcode,
destination, operands) and constants.  It runs the table over blocks of
``block_size`` elements held in a register file ``regs[slot, element]``, so each
instruction's dispatch is paid once per block and its inner loop is a plain
loop over the block.  Registers are indexed as ``regs[slot, j]`` (no array
views: numba reference-counts views, which cost ~30 ns per instruction) and
opcodes are found by a balanced tree of comparisons.  Measured (one thread):
~3 ns per instruction for ``a + b`` on 1-10 elements, against ~450 ns for a
numpy call; ``sin`` costs libm's ~6-20 ns per element.  Straight-line kernels
for small regions could save at most those 3 ns per op, for seconds of LLVM
compile per new region, so there are none.  On long vectors numpy's own SIMD
transcendental loops are ~2.5x faster per element than libm's scalar calls,
so there the backend is about at par with numpy (fusion saves the passes of
the cheap ops, libm loses on sin/cos/exp).

Kernels per code set.  A kernel's source has one case per scalar code it
serves (codes are declared by ``numba`` / ``numba_codes`` on
``ops.elementwise.Elementwise`` subclasses), and numba's compile time grows with
the cases: every declared code (66 cases) costs ~5 s of CPU on a fresh machine,
while a program's regions use a handful.  So each program gets the kernel of
the codes its regions use (``load_vm(used)``), rounded up to families
(``family``: the operators ``+ - * /`` ... are in every kernel, the 0.0/1.0
comparisons come together, each function call or selection alone) so that
programs differing in an operator share one.  Before compiling, a kernel that
already has every code needed serves: the smallest loaded in this process, else
the smallest numba has compiled in the cache directory (a ``CODES`` line in its
source says what it has, a ``TEMPLATE`` line the hash of the rest of its text:
a kernel of another template, e.g. another ``BLOCK``, is never reused); opcodes are then that kernel's (``VM.opcodes``), and
a function's source names its kernel by hash (``load_kernel``).

Measured (``benchmarks/bench_small.py --kernel-table``, a new process each, 2
shared cores, noisy): the 2000-level chain's kernel (10 cases: arithmetic, sin,
cos) compiles in 0.9 s of CPU cold, a tanh MLP's (11) in 0.85 s, the kernel of
every code in 5.1 s; with the cache, each loads in 0.25-0.4 s.  The chain's
whole first process (Python, imports, build, compile) takes ~1.6 s cold, against
~8 s when every program compiled the kernel of every code.

Sources are written to ``$SYMGRAPH_CACHE_DIR`` (default
``$XDG_CACHE_HOME/symgraph`` or ``~/.cache/symgraph``; a temporary directory
when that is not writable) under the hash of their text and imported from
there, so numba's on-disk cache (``cache=True``) serves later processes.  The
temporary fallback ``/tmp/symgraph-<uid>`` is used only if it is the user's own and
writable by nobody else (``private``; a planted kernel would be run).

Operands and results are handed over as addresses (``ptrs``, an intrinsic turns
one into a pointer): separate arrays, nothing stacked or copied per call.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import stat
import sys
import tempfile
import threading
from typing import Callable, Iterable, Sequence

from ..errors import SymgraphError

#: elements per block (``block_size``): at most ``BLOCK``, at least ``MIN_BLOCK`` (or the
#: region's size), else as many as keep the register file (``slots x block`` doubles) within
#: ``REGS`` doubles.  Each instruction's dispatch is paid once per block: measured on a
#: 400-op arithmetic chain over 10^4 elements, 0.093 ns per element-op with blocks of 256,
#: 0.069 with 1024, 0.052 with 2048 (numpy's ufunc: ~0.06)
BLOCK = 2048
MIN_BLOCK = 256
REGS = 16384
#: instruction columns: opcode, destination, operands a, b, c
WIDTH = 5
#: results and array operands are arguments of their own (numba unboxes those cheaply; a
#: region's first ``ARGS`` of each, see ``result_index`` and ``operand_index``), or given by
#: address (the rest): ``ptrs[k]`` in the VM are addresses of C-contiguous float64 arrays
ARGS = 4
#: regs[d] <- ptrs[a] (this block; element i of the region reads element (i // b) % c of a
#: broadcast operand, when c > 0) ; ptrs[d] <- regs[a]
LOAD, STORE = 0, 1
INSTALL = 'pip install "symgraph[numba]"'

_lock = threading.Lock()
_loaded: dict[str, "VM"] = {}  # digest of the source -> kernel
_private_dir: str | None = None  # cache_dir's own temporary directory, once made


def scalar_codes() -> list[str]:
    """Every scalar code the elementwise op classes declare, sorted (the VM's opcodes from 2)."""
    from ..ops.elementwise import Elementwise

    codes: set[str] = set()
    stack = [Elementwise]
    while stack:  # every subclass, loaded modules' included
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        codes.update(cls.numba_codes())
    return sorted(codes)


@functools.lru_cache(maxsize=None)
def arity(code: str) -> int:
    """How many operands a scalar code reads: 1 + the last of ``a``, ``b``, ``c`` it names."""
    names = {n.id for n in ast.walk(ast.parse(code, mode="eval")) if isinstance(n, ast.Name)}
    return max((k + 1 for k, v in enumerate("abc") if v in names), default=0)


def _case(op: int, code: str | None, pad: str) -> list[str]:
    """One opcode's loop over the block (2-d indexing: no array views, no refcounts)."""
    if op == LOAD:  # columns 3, 4: (inner, period) of a broadcast operand (``broadcast_load``)
        return [f"{pad}d = code[i, 1]", f"{pad}p = _address(ptrs[code[i, 2]])",
                f"{pad}inner = code[i, 3]", f"{pad}period = code[i, 4]",
                f"{pad}if period == 0:",
                f"{pad}    for j in range(m):", f"{pad}        regs[d, j] = p[start + j]",
                f"{pad}elif inner == 1:",
                f"{pad}    for j in range(m):", f"{pad}        regs[d, j] = p[(start + j) % period]",
                f"{pad}else:",
                f"{pad}    for j in range(m):",
                f"{pad}        regs[d, j] = p[((start + j) // inner) % period]"]
    if op == STORE:
        return [f"{pad}p = _address(ptrs[code[i, 1]])", f"{pad}s = code[i, 2]",
                f"{pad}for j in range(m):", f"{pad}    p[start + j] = regs[s, j]"]
    assert code is not None
    n = arity(code)
    lines = [f"{pad}# {code}", f"{pad}d = code[i, 1]"]
    lines += [f"{pad}i{v} = code[i, {q + 2}]" for q, v in enumerate("abc"[:n])]
    lines.append(f"{pad}for j in range(m):")
    lines += [f"{pad}    {v} = regs[i{v}, j]" for v in "abc"[:n]]
    lines.append(f"{pad}    regs[d, j] = {code}")
    return lines


#: stands for the scalar codes when hashing the template (every arity)
_SAMPLE_CODES = ["a", "a + b", "a + b + c"]


def vm_source(codes: list[str]) -> str:
    """The VM's module text: ``run(code, consts, a0..a3, o0..o3, more, n, nslots)`` (operands,
    results, addresses of more results then more operands).  Opcodes are
    dispatched by a balanced tree of comparisons (log2 of their number per instruction).
    Its ``TEMPLATE`` line is ``template_digest()``: a kernel compiled from another version
    of this text (other ``BLOCK``, other loads...) is never reused for its ``CODES``."""
    lines = _vm_lines(codes)
    lines[lines.index("# TEMPLATE")] = f"TEMPLATE = {template_digest()!r}"
    return "\n".join(lines) + "\n"


def block_size(nslots: int, n: int) -> int:
    """Elements per block of a region of ``nslots`` registers over ``n`` elements (what the
    kernel computes: its register file is ``nslots x block_size`` doubles)."""
    return min(BLOCK, max(MIN_BLOCK, REGS // max(nslots, 1)), n) if n > 0 else 1


def result_index(k: int, nout: int) -> int:
    """Where the VM finds the address of a region's ``k``-th result (``ptrs``)."""
    return k if k < ARGS else 2 * ARGS + k - ARGS


def operand_index(r: int, nout: int) -> int:
    """Where the VM finds the address of a region's ``r``-th array operand (``ptrs``)."""
    return ARGS + r if r < ARGS else 2 * ARGS + max(nout - ARGS, 0) + r - ARGS


def template_digest() -> str:
    """The hash of the kernel's text apart from its scalar codes (read at each call:
    ``BLOCK`` may be changed)."""
    text = "\n".join(_vm_lines(_SAMPLE_CODES)).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _vm_lines(codes: list[str]) -> list[str]:
    lines = [
        '"""symgraph numba backend kernel (generated by symgraph.codegen.native_vm; the file',
        'name is the hash of this text: do not edit)."""',
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "from numba.core import types",
        "from numba.extending import intrinsic",
        "",
        f"BLOCK = {BLOCK}",
        f"MIN_BLOCK = {MIN_BLOCK}",
        f"REGS = {REGS}",
        "# TEMPLATE",
        "# the scalar codes of opcodes 2, 3, ... (LOAD is 0, STORE 1)",
        f"CODES = {tuple(codes)!r}",
        "# inputs are read-only to numba, so read-only arrays (constants, frozen feeds) fit too",
        'TABLE = numba.types.Array(numba.int64, 2, "C", readonly=True)',
        'VALUES = numba.types.Array(numba.float64, 1, "C", readonly=True)',
        'ADDRESSES = numba.types.Array(numba.int64, 1, "C", readonly=True)',
        'IN = numba.types.Array(numba.float64, 1, "C", readonly=True)',
        "OUT = numba.float64[::1]",
        "",
        "",
        "@intrinsic",
        "def _address(typingctx, addr):",
        '    """The float64 array at address ``addr`` (a pointer): separate arrays, no stacking."""',
        "    pointer = types.CPointer(types.float64)",
        "",
        "    def codegen(context, builder, signature, args):",
        "        return builder.inttoptr(args[0], context.get_value_type(pointer))",
        "    return pointer(types.int64), codegen",
        "",
        "",
        f"@numba.njit(numba.void(TABLE, VALUES, {'IN, ' * ARGS}{'OUT, ' * ARGS}ADDRESSES, "
        'numba.int64, numba.int64), cache=True, nogil=True, error_model="numpy")',
        f"def run(code, consts, {''.join(f'a{k}, ' for k in range(ARGS))}"
        f"{''.join(f'o{k}, ' for k in range(ARGS))}more, n, nslots):",
        f"    ptrs = np.empty({2 * ARGS} + more.shape[0], np.int64)",
        *[f"    ptrs[{k}] = o{k}.ctypes.data" for k in range(ARGS)],
        *[f"    ptrs[{ARGS + k}] = a{k}.ctypes.data" for k in range(ARGS)],
        "    for k in range(more.shape[0]):",
        f"        ptrs[{2 * ARGS} + k] = more[k]",
        "    block = min(BLOCK, max(MIN_BLOCK, REGS // max(nslots, 1)), n) if n > 0 else 1",
        "    regs = np.empty((nslots, block))",
        "    for k in range(consts.shape[0]):",
        "        regs[k, :] = consts[k]",
        "    for start in range(0, n, block):",
        "        m = min(block, n - start)",
        "        for i in range(code.shape[0]):",
        "            op = code[i, 0]",
    ]
    cases = [None, None, *codes]  # LOAD, STORE, then the scalar codes
    stack = [(0, len(cases), 12)]  # (first opcode, end, indent): the dispatch tree
    while stack:
        lo, hi, indent = stack.pop()
        pad = " " * indent
        if isinstance(lo, str):  # a line to emit when popped
            lines.append(lo)
            continue
        if hi - lo == 1:
            lines += _case(lo, cases[lo], pad)
            continue
        mid = (lo + hi) // 2
        # pushed in reverse: "if", its subtree, "else:", the other subtree
        stack.append((mid, hi, indent + 4))
        stack.append((f"{pad}else:", 0, 0))
        stack.append((lo, mid, indent + 4))
        stack.append((f"{pad}if op < {mid}:", 0, 0))
    return lines


def cache_dir() -> str:
    """A writable directory for the kernel's source and numba's cache of it.

    The fallback under the shared temporary directory is used only if it is this user's
    and nobody else may write to it (a kernel planted there would be imported and run);
    else a new private directory is made (once per process)."""
    global _private_dir
    base = os.environ.get("SYMGRAPH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "symgraph")
    try:
        os.makedirs(base, exist_ok=True)
        if os.access(base, os.W_OK):
            return base
    except OSError:
        pass
    shared = os.path.join(tempfile.gettempdir(), f"symgraph-{os.getuid()}")
    try:
        os.makedirs(shared, mode=0o700, exist_ok=True)
        if private(shared):
            return shared
    except OSError:
        pass
    with _lock:
        if _private_dir is None:
            try:
                _private_dir = tempfile.mkdtemp(prefix="symgraph-")
            except OSError as e:
                raise SymgraphError(f"numba backend: no writable cache directory (tried "
                                    f"{base}, {shared}); set SYMGRAPH_CACHE_DIR") from e
        return _private_dir


def private(directory: str) -> bool:
    """Whether ``directory`` (not a link) belongs to this user, who alone may write to it."""
    st = os.lstat(directory)
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            and os.access(directory, os.W_OK))


class VM:
    """A compiled kernel: its ``run``, the scalar codes it has cases for and their opcodes."""

    def __init__(self, run: Callable, codes: Sequence[str], path: str,
                 template: str | None = None) -> None:
        self.run = run
        self.template = template  # its source's ``TEMPLATE`` (``template_digest``)
        self.codes = frozenset(codes)
        self.opcodes = {c: k + 2 for k, c in enumerate(codes)}
        self.arity = {c: arity(c) for c in codes}
        self.path = path
        self.digest = os.path.basename(path)[3:-3]


def require_numba() -> None:
    """Raise SymgraphError saying how to install numba when it is not importable."""
    try:
        importlib.import_module("numba")
    except ImportError as e:
        raise SymgraphError(f"backend='numba' needs numba, which is not installed: {INSTALL}"
                            ) from e


@functools.lru_cache(maxsize=None)
def family(code: str) -> str:
    """The group a scalar code is compiled with: ``"arithmetic"`` (operators only: in every
    kernel), ``"comparison"`` (a 0.0/1.0 test calling no function: all compiled together)
    or the code itself (a function call or a selection: compiled when used)."""
    tree = ast.parse(code, mode="eval")
    nodes = list(ast.walk(tree))
    if any(isinstance(n, ast.Call) for n in nodes):
        return code
    if not any(isinstance(n, (ast.IfExp, ast.Compare, ast.BoolOp)) for n in nodes):
        return "arithmetic"
    body = tree.body
    if (isinstance(body, ast.IfExp) and isinstance(body.body, ast.Constant)
            and isinstance(body.orelse, ast.Constant) and body.body.value == 1.0
            and body.orelse.value == 0.0):
        return "comparison"
    return code


def kernel_codes(used: Iterable[str]) -> list[str]:
    """The codes of the kernel compiled for a program using ``used``: rounded up to whole
    families (see ``family``) so that programs differing in a few operators share one."""
    wanted = {"arithmetic"}.union(family(c) for c in used)
    return sorted(set(used).union(c for c in scalar_codes() if family(c) in wanted))


def load_vm(used: Iterable[str] | None = None) -> VM:
    """A kernel with a case for each code of ``used`` (default: every declared code).

    The smallest of those loaded in this process that has them all, else of those
    compiled in the cache directory for this Python (numba loads one in well under
    a second), else the kernel of ``kernel_codes(used)`` compiled now."""
    need = frozenset(scalar_codes() if used is None else used)
    template = template_digest()
    found = _smallest(vm for vm in list(_loaded.values())
                      if need <= vm.codes and vm.template == template)
    if found is not None:
        return found
    require_numba()
    with _lock:
        found = _smallest(vm for vm in _loaded.values()
                          if need <= vm.codes and vm.template == template)
        if found is not None:
            return found
        directory = cache_dir()
        on_disk = [(len(codes), path) for path, codes, made in _compiled_kernels(directory)
                   if need <= codes and made == template]
        if on_disk:
            return _import(min(on_disk)[1])
        source = vm_source(kernel_codes(need))
        digest = hashlib.sha256(source.encode()).hexdigest()[:20]
        if digest in _loaded:
            return _loaded[digest]
        path = os.path.join(directory, f"vm_{digest}.py")
        if not os.path.exists(path):  # written once: numba's cache is keyed by its mtime
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        return _import(path)


def load_kernel(digest: str) -> VM:
    """The kernel whose source hashes to ``digest`` (in this process, else its file in the
    cache directory): what a function's ``source`` text names."""
    found = _loaded.get(digest)
    if found is not None:
        return found
    with _lock:
        return _loaded.get(digest) or _import(os.path.join(cache_dir(), f"vm_{digest}.py"))


def loaded_kernels() -> list[VM]:
    """The kernels loaded in this process, in the order they were loaded."""
    return list(_loaded.values())


def _smallest(vms: Iterable[VM]) -> VM | None:
    return min(vms, key=lambda vm: (len(vm.codes), vm.digest), default=None)


def _compiled_kernels(directory: str) -> list[tuple[str, frozenset[str], str | None]]:
    """The kernels in ``directory`` that numba has compiled for this Python (an index file in
    ``__pycache__``), with their codes and template (``CODES`` and ``TEMPLATE`` lines)."""
    try:
        cached = os.listdir(numba_cache_path(directory))
    except OSError:
        return []
    tag = f".py{sys.version_info[0]}{sys.version_info[1]}.nbi"
    found = []
    for name in cached:
        if name.startswith("vm_") and name.endswith(tag):
            path = os.path.join(directory, name.split(".", 1)[0] + ".py")
            codes, template = _header_of(path)
            if codes is not None:
                found.append((path, codes, template))
    return found


def numba_cache_path(directory: str) -> str:
    """Where numba caches the functions of a module in ``directory`` (``$NUMBA_CACHE_DIR``
    when set, else ``__pycache__`` beside it): its first two locators."""
    from numba.core import caching, config

    if config.CACHE_DIR:
        return os.path.join(config.CACHE_DIR, caching.UserProvidedCacheLocator
                            .get_suitable_cache_subpath(os.path.join(directory, "vm.py")))
    return os.path.join(directory, "__pycache__")


def _header_of(path: str) -> tuple[frozenset[str] | None, str | None]:
    """The ``CODES`` and ``TEMPLATE`` of a kernel's source file (None if unreadable)."""
    codes = template = None
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("TEMPLATE = "):
                    template = ast.literal_eval(line[len("TEMPLATE = "):])
                elif line.startswith("CODES = "):
                    codes = frozenset(ast.literal_eval(line[len("CODES = "):]))
                    break
    except (OSError, ValueError, SyntaxError):
        return None, None
    return codes, template


def _import(path: str) -> VM:
    """Import the kernel at ``path`` (numba compiles it, or loads it from its cache)."""
    digest = os.path.basename(path)[3:-3]
    name = f"symgraph_native_vm_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    found = _loaded[digest] = VM(module.run, module.CODES, path,
                                 getattr(module, "TEMPLATE", None))
    return found
