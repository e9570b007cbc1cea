"""Turn a scheduled Program into Python source: one straight-line numpy function.

The source has a preamble (``import numpy as np``, helper functions, and each
constant as an exact literal) and one ``def``.  At run time the preamble's
constants are bound to the graph's own arrays instead of being re-parsed, and
helpers are defined by executing their preamble text, so what runs is what
``.source`` shows.  Ops without ``emit`` (user ops) are called through their
``f`` by a name bound in the function's globals; their source is then not
standalone, and says so.  A body longer than ``chunks.CHUNK_LINES`` lines is
written as several functions, compiled one at a time, and a main one calling
them (see ``codegen.chunks``): CPython compiles one huge ``def`` in memory and
time that grow faster than its length.
"""

from __future__ import annotations

import builtins
import dis
import inspect
import keyword
import re
import textwrap
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import SymgraphError
from ..runtime import run_node
from ..graph import Node
from ..ops.shape import BroadcastTo
from ..ops.sources import Constant
from ..ops.tuples import Item, pack
from . import chunks
from .chunks import Chunker, LineNodes, shift_lines
from .ir import Program, Ref, Value
from .literals import dtype_source, literal
from .schedule import Plan, aliasing


class EmitContext:
    """What an op's ``emit`` may use: its node, shapes, dtypes, constants and helpers."""

    def __init__(self, module: Module, writer: FunctionWriter | None = None) -> None:
        self._module = module
        self._writer = writer
        self.node: Node | None = None
        self.shape: tuple[int, ...] = ()
        self.in_shapes: list[tuple[int, ...]] = []
        self.in_dtypes: list[np.dtype] = []
        self.out = ""
        #: an array (shaped and typed like the result) to write into, or None; see Op.emit
        self.into: str | None = None
        #: for a ``multiple_results`` node: the indices of the parts the program reads
        #: (``Item`` nodes); the others need not be computed
        self.results_used: frozenset[int] = frozenset()
        #: the locals the function frees after this statement (their last reader); an op
        #: whose code is done with some of them earlier (a loop, once it has set up)
        #: may ``del`` them itself and add them to ``freed``
        self.dying: list[str] = []
        self.freed: set[str] = set()
        #: for a ``multiple_results`` node: the positions of inputs whose buffers are the
        #: function's own and read by nothing after this node but its results: a loop may
        #: keep one as a carry and write into it (instead of into a copy)
        self.handed_over: frozenset[int] = frozenset()
        #: the positions of inputs among ``handed_over`` whose buffers the op's code took
        #: over (it writes into them, or returns them as arrays of its own): the op adds them
        self.taken: set[int] = set()

    def local(self, base: str) -> str:
        """A new local name of the function being written (``base``, made unique)."""
        assert self._writer is not None
        return self._writer.idents.make(base)

    def compile_body(self, body: Any, outputs: Sequence[Node], *, invariant: Sequence[int] = (),
                     carries: Sequence[tuple[int, int]] = (), steps: int | None = None,
                     repeated: bool = False) -> Any:
        """``body`` (a ``flow.body.Body``) computing ``outputs`` (nodes of its graph) compiled
        once into module-level functions of this source; returns a
        ``codegen.bodies.BodyFunction`` whose ``call`` and ``setup`` write the calls.

        ``invariant``: positions of the body's inputs that keep their value from call to
        call (a loop's constants): what depends only on them is computed once, by
        ``setup``.  ``carries``: pairs (input position, output position) of values the
        caller feeds back (a loop's carries); the function may then overwrite such an
        input in place (``BodyFunction.owned``).  ``steps``: how many calls share one
        ``setup`` (a loop's length), when known: a long loop gets its invariant matrices
        in the layout its products run fastest with.  ``repeated``: the body runs many
        times per call of this function (a loop's body or condition).
        """
        from .bodies import compile_body

        assert self._writer is not None
        return compile_body(self._writer, body, outputs, invariant, carries, steps, repeated)

    def bind(self, expr: str) -> str:
        """``expr`` (which writes into ``into`` and returns it) as a statement binding ``out``."""
        return expr if self.out == self.into else f"{self.out} = {expr}"

    def const(self, value: Any) -> str:
        """A global name bound to ``value`` (an array or scalar; never written to)."""
        return self._module.const(value)

    def helper(self, func: Callable) -> str:
        """Define module-level ``func`` (numpy-only source) in the preamble; returns its name.

        The functions of its own module it calls by name, and the exception
        classes it raises, are defined first (see ``symgraph.kernels``).
        """
        return self._module.helper(func)

    def define(self, name: str, obj: Any, source: str, standalone: bool = True) -> str:
        """Bind ``name`` to ``obj`` at run time, and to ``source`` in the standalone text
        (``standalone=False``: that text needs more than numpy and scipy, e.g. symgraph)."""
        return self._module.define(name, obj, source, standalone)

    def dtype(self, dtype: Any) -> str:
        return dtype_source(np.dtype(dtype))

    @staticmethod
    def axis(axes: Sequence[int]) -> str:
        axes = tuple(axes)
        return str(axes[0]) if len(axes) == 1 else str(axes)

    @staticmethod
    def default_dtype(np_name: str, dtype: np.dtype, axes: Sequence[int]) -> np.dtype:
        """The dtype numpy's reduction ``np_name`` returns for ``dtype`` input."""
        fn = {"np.sum": np.sum, "np.mean": np.mean, "np.max": np.max, "np.min": np.min}[np_name]
        return np.asarray(fn(np.ones((1,) * max(len(axes), 1), dtype))).dtype


class Module:
    """The preamble being built: constants, helpers and other globals."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"np": np}
        self.defs: list[str] = []  # helper functions and classes
        self.consts: list[str] = []
        self._const_names: dict[int, str] = {}
        self._keep: list[Any] = []
        self.standalone = True
        self.needs_base64 = False
        #: compiled bodies of loops and branches (see ``codegen.bodies``), by what they compute
        self.bodies: dict[tuple, Any] = {}
        self.bodies_made = 0

    def const(self, value: Any) -> str:
        key = id(value)
        found = self._const_names.get(key)
        if found is not None:
            return found
        self._keep.append(value)  # keeps id(value) unique while compiling
        # C order, as the standalone text rebuilds it: a folded transpose must not make
        # the compiled function take another BLAS path (other last bits) than its source
        arr = np.asarray(value)
        obj = arr[()] if arr.ndim == 0 else np.ascontiguousarray(arr)
        name = f"_c{len(self._const_names)}"
        self._const_names[key] = name
        self.globals[name] = obj
        text = literal(obj)
        self.needs_base64 |= "base64." in text
        self.consts.append(f"{name} = {text}")
        return name

    def helper(self, func: Callable) -> str:
        for dep in _helpers_needed(func):
            if dep.__name__ in self.globals:
                continue
            if isinstance(dep, type):  # an exception: the real class at run time, a stand-in
                base = next(b for b in dep.__mro__ if b.__module__ == "builtins")  # in the text
                self.define(dep.__name__, dep, f"class {dep.__name__}({base.__name__}):\n    pass")
            else:
                self.code(dep.__name__, textwrap.dedent(inspect.getsource(dep)))
        return func.__name__

    def code(self, name: str, source: str) -> str:
        """Define ``name`` by running ``source`` (numpy-only), also shown in the preamble."""
        if name not in self.globals:
            exec(compile(source, f"<symgraph helper {name}>", "exec"), self.globals)
            self.defs.append(source.rstrip())
        return name

    def define(self, name: str, obj: Any, source: str, standalone: bool = True) -> str:
        if name not in self.globals:
            self.globals[name] = obj
            self.defs.append(source.rstrip())
        self.standalone &= standalone
        return name

    def foreign(self, name: str, obj: Any, note: str) -> str:
        """A run-time object the standalone source cannot rebuild (user ops, checks)."""
        self.globals[name] = obj
        self.standalone = False
        self.consts.append(f"# {name}: {note} (bound at run time; not standalone)")
        return name

    def preamble(self) -> list[str]:
        """Imports, helper definitions and constants, each block spaced like a module."""
        lines = (["import base64"] if self.needs_base64 else []) + ["import numpy as np", ""]
        for d in self.defs:
            lines += ["", d, "", ""]
        if not self.defs:
            lines.append("")
        if self.consts:
            lines += self.consts + ["", ""]
        return lines


def _helpers_needed(func: Callable) -> list[Any]:
    """``func`` after what its source needs defined, each once, definitions before uses: the
    functions of ``func``'s module and the exception classes its code names as globals."""
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(func, False)]
    while stack:
        obj, expanded = stack.pop()
        if expanded:
            order.append(obj)
        elif id(obj) not in seen:
            seen.add(id(obj))
            stack.append((obj, True))
            if inspect.isfunction(obj):
                stack.extend((d, False) for d in reversed(_globals_needed(obj)))
    return order


def _globals_needed(func: Callable) -> list[Any]:
    """The helper functions and exception classes ``func``'s code loads as globals, in order."""
    names: list[str] = []
    codes = [func.__code__]
    while codes:  # nested code (comprehensions, lambdas) too
        code = codes.pop()
        names += [i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"]
        codes += [c for c in code.co_consts if inspect.iscode(c)]
    found = []
    for name in dict.fromkeys(names):
        obj = func.__globals__.get(name)
        if ((inspect.isfunction(obj) and obj.__module__ == func.__module__)
                or (isinstance(obj, type) and issubclass(obj, BaseException)
                    and obj.__module__ != "builtins")):
            found.append(obj)
    return found


_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: names a local must not shadow: the source's own keywords and the builtins and module
#: names its code may use (internal names all start with "_", user-derived ones never do)
_RESERVED = frozenset({*keyword.kwlist, *keyword.softkwlist, *dir(builtins), "np", "base64"})


class Names:
    """Every local identifier of the generated function, made by one rule.

    A name derived from user text (a variable's or an op's name) is plain ASCII
    ``[A-Za-z][A-Za-z0-9_]*``, so Python's NFKC folding of identifiers cannot
    merge two of them (``"ｖ"`` is ``v`` to the parser); it never starts with
    ``_`` (internal names and constants do), is never a keyword, builtin or
    global of the module (helpers such as ``softmax`` included: a clash names
    the locals again), and is never handed out twice.
    """

    def __init__(self, reserved: frozenset[str] | set[str] = frozenset()) -> None:
        self.taken: set[str] = set(_RESERVED) | set(reserved)
        self.given = frozenset(self.taken)  # the names reserved from the start
        self.bases: dict[str, str] = {}  # op name -> its ASCII form (see ``temp``)

    def make(self, base: str) -> str:
        """``base`` (already ASCII), with ``_`` appended until it is unused; recorded as used."""
        name = base
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def param(self, node: Node, k: int) -> str:
        """The parameter for input ``k``: the variable's name when it is a plain ASCII name."""
        name = node.name if isinstance(node.name, str) else ""
        return self.make(name if _IDENT.fullmatch(name) else f"in{k}")

    def temp(self, op_name: str, node_id: int, suffix: str = "") -> str:
        """A temporary for node ``node_id``: its op's name made ASCII, then the node's id."""
        base = self.bases.get(op_name)
        if base is None:
            base = re.sub(r"[^A-Za-z0-9]+", "_", op_name).strip("_") or "v"
            if not base[0].isalpha():
                base = "v_" + base
            self.bases[op_name] = base
        return self.make(f"{base}{node_id}{suffix}")


class Emitted:
    """The result of emission: source text, the function, and per-line node map."""

    def __init__(self, source: str, fn: Callable, line_nodes: Mapping[int, Node], standalone: bool,
                 param_names: list[str], workspace: Callable | None) -> None:
        self.source = source
        self.fn = fn
        self.workspace = workspace  # makes a fresh set of reusable buffers, if any
        self.line_nodes = line_nodes
        self.standalone = standalone
        self.param_names = param_names


def emit_program(prog: Program, plan: Plan, inputs: Sequence[Node], outputs: Sequence[Node],
                 filename: str, func_name: str = "compiled", check: Callable | None = None
                 ) -> Emitted:
    """Source and function computing ``outputs`` from positional ``inputs``."""
    return write_program(prog, plan, inputs, outputs, func_name, check).compile(func_name,
                                                                                filename)


def write_program(prog: Program, plan: Plan, inputs: Sequence[Node], outputs: Sequence[Node],
                  func_name: str = "compiled", check: Callable | None = None) -> FunctionWriter:
    """The function's text written (``compile`` runs it), its locals clashing with no global;
    ``release`` then lets ``prog`` and ``plan`` go before compiling a long one."""
    reserved = {func_name}
    while True:
        writer = FunctionWriter(prog, plan, check, reserved)
        writer.write(inputs, outputs)
        clash = writer.clashes()
        if not clash:
            return writer
        reserved |= clash  # an op's emit defined a global a local shadows: name the locals again


class FunctionWriter:
    """One attempt at writing the function, step by step: parameters, checks of the fed
    values, one statement per scheduled value (with the frees after it), the returns and
    the workspace; then ``compile`` assembles the text and runs it.

    The steps share the names given so far (``names``: value -> source), the body lines
    (each with the node it computes, for error messages) and the module's globals.
    A loop's body is written by a writer of its own in the same ``module`` (``parent``
    set: its parameters are not fed values, and its workspace is always passed);
    ``repeated``: the function runs many times per call (a loop's body or condition, or
    a function of one).
    """

    def __init__(self, prog: Program, plan: Plan, check: Callable | None,
                 reserved: set[str], module: Module | None = None,
                 parent: FunctionWriter | None = None, repeated: bool = False) -> None:
        self.prog = prog
        self.plan = plan
        self.check = check
        self.module = Module() if module is None else module
        self.parent = parent
        self.repeated = repeated or (parent is not None and parent.repeated)
        self.ctx = EmitContext(self.module, self)
        self.idents = Names(reserved)
        self.names: dict[Value, str] = {}
        self.body: list[str] = []
        self.body_nodes: list[Node | None] = []  # the node each body line computes
        # the nodes ``check`` is called for, by position (one list for the whole source)
        self.checked: list[Node] = parent.checked if parent is not None else []
        self.param_names: list[str] = []
        self.params: list[str] = []
        self.items: dict[Value, set[int]] = {}  # a tuple value -> the parts read
        self.dying: dict[Value, list[str]] = {}  # a value -> the names last read by it
        #: parameters whose buffers an op's code took over (``EmitContext.taken``)
        self.taken: set[Node] = set()
        #: where a long body splits into chunk functions (the outermost function only)
        self.chunker = Chunker(chunks.CHUNK_LINES) if parent is None else None
        self.ws_line = False  # whether body[0] unpacks the workspace
        self.has_workspace = bool(plan.workspace)
        for v in plan.all:
            if isinstance(v.op, Item):
                self.items.setdefault(v.args[0].value, set()).add(v.op.index)

    def write(self, inputs: Sequence[Node], outputs: Sequence[Node],
              workspace: str = "_workspace") -> None:
        self.name_params(inputs)
        if self.check is not None and self.parent is None:
            self.check_params()
        self.write_values()
        self.write_return(outputs)
        self.write_workspace(workspace)

    # -- steps ----------------------------------------------------------------

    def name_params(self, inputs: Sequence[Node]) -> None:
        """A parameter per input, named after its variable; fed values the outputs use get it."""
        self.param_names = [self.idents.param(n, k) for k, n in enumerate(inputs)]
        self.params = list(self.param_names)
        by_node = {p.node: p for p in self.prog.params}
        for n, name in zip(inputs, self.param_names):
            if n in by_node:
                self.names[by_node[n]] = name

    def check_params(self) -> None:
        """``check`` each fed value first, as the evaluator checks its feeds."""
        chk = self.module.foreign("_check", self.check, "symgraph.diagnostics.check_finite per node")
        nodes = self.module.foreign("_nodes", self.checked, "the graph's nodes, for diagnostics")
        for p in self.prog.params:
            self.group()
            self.read(self.names[p])
            self.checked.append(p.node)
            self.line(f"{chk}({nodes}[{len(self.checked) - 1}], {self.names[p]}, ())", p.node)

    def write_values(self) -> None:
        """Constants become globals; each op value a statement, then the frees it allows."""
        plan, names = self.plan, self.names
        dies_at = self.deaths()
        for v in plan.order:
            if v.kind == "param":
                continue
            if v.kind == "const":
                names[v] = self.module.const(v.op.value if isinstance(v.op, Constant)
                                             else np.asarray(v.op.value, v.dtype))
                continue
            dead = dies_at.pop(plan.pos[v], ())  # (popped: a long program's memory stays flat)
            self.write_value(v, dead)
            self.write_frees(v, dead)
            for u in dead:  # read by nothing after: their names are done with
                if u is not v:
                    del names[u]

    def write_value(self, v: Value, dead: Sequence[Value] = ()) -> None:
        """``v``'s statement: into its donor's buffer, its workspace slot, or a new array."""
        plan, names = self.plan, self.names
        self.group()
        donor = plan.donor.get(v)
        names[v] = names[donor] if donor is not None else self.value_name(v)
        if dead:
            dying = sorted({names[u] for u in dead if names.get(u, names[v]) != names[v]})
            if dying:
                self.dying[v] = dying
        into = names[v] if donor is not None else (
            f"_w{plan.slot[v]}" if v in plan.slot else None)
        lines = self.emit_value(v, names[v], into).split("\n")
        if donor is not None:  # the variable's name is its buffer's first value: say which this is
            lines[0] += f"  # {self.value_name(v)}"
        self.lines(lines, v.node)
        if self.chunker is not None:
            self.chunker.wrote(names[v])
            if into is not None and donor is None:
                self.chunker.slot(plan.slot[v])

    def deaths(self) -> dict[int, list[Value]]:
        """Step -> the arrays (and loops' tuples of arrays) last read there (inlined values
        and outputs are never freed)."""
        plan = self.plan
        dies_at: dict[int, list[Value]] = {}
        for u, p in plan.last_use.items():
            if (u.kind == "op" and (u.shape or u.dtype == object) and u not in plan.inline
                    and u not in plan.outputs):
                dies_at.setdefault(p, []).append(u)
        return dies_at

    def write_frees(self, v: Value, dead_values: Sequence[Value]) -> None:
        """``del`` what dies at ``v`` (numpy scalars need no del; ``v``'s own buffer stays)."""
        if not dead_values:
            return
        names = self.names
        dead = sorted({names[u] for u in dead_values if names.get(u, names[v]) != names[v]}
                      - self.ctx.freed)
        if dead:
            self.line(f"del {', '.join(dead)}")

    def write_return(self, outputs: Sequence[Node]) -> None:
        self.group()
        for r in self.prog.outputs:
            if r.value.kind != "const":
                self.read(self.names[r.value])
        # a loop's tuple as the evaluator gives it; arrays as _return_source says
        rets = [f"{self.module.helper(pack)}({self.names[r.value]})" if r.value.dtype == object
                else _return_source(r, o, self.names) for r, o in zip(self.prog.outputs, outputs)]
        self.line(f"return ({''.join(x + ', ' for x in rets)})")

    def write_workspace(self, name: str = "_workspace") -> None:
        """Temporaries' buffers come from ``_ws`` (kept by the caller) or a fresh set made by
        the module-level function ``name`` (a body's caller always passes them)."""
        workspace = self.plan.workspace
        if not workspace:
            return
        doc = (f"def {name}():\n    \"\"\"Buffers for temporaries, reused from call to call "
               "(one set per thread).\"\"\"\n")
        if len(workspace) <= WORKSPACE_LISTED:
            bufs = ", ".join(f"np.empty({s}, {dtype_source(d)})" for s, d in workspace)
            self.module.code(name, f"{doc}    return ({bufs},)")
        else:  # one line per run of alike buffers, not one call each (a long chain has many)
            runs: list[list] = []
            for s, d in workspace:
                if runs and runs[-1][0] == s and runs[-1][1] == d:
                    runs[-1][2] += 1
                else:
                    runs.append([s, d, 1])
            table = "".join(f"        ({s}, {dtype_source(d)}, {n}),\n" for s, d, n in runs)
            self.module.code(name, f"{doc}    return tuple(np.empty(shape, dtype) for shape, dtype, "
                             f"count in (\n{table}    ) for _ in range(count))")
        slots = "".join(f"_w{k}, " for k in range(len(workspace)))
        fresh = "" if self.parent is not None else f"{name}() if _ws is None else "
        self.body.insert(0, f"{slots.rstrip(', ')}{',' if len(workspace) == 1 else ''} = "
                            f"{fresh}_ws")
        self.body_nodes.insert(0, None)
        self.ws_line = True
        self.params.append("_ws" if self.parent is not None else "_ws=None")

    def line(self, text: str, node: Node | None = None) -> None:
        """Add a line of the body, computing ``node`` (for error messages) or no node."""
        self.body.append(text)
        self.body_nodes.append(node)

    def lines(self, texts: Sequence[str], node: Node) -> None:
        self.body.extend(texts)
        self.body_nodes.extend([node] * len(texts))

    def group(self) -> None:
        """A statement starts here (a chunk of a long function may end before it)."""
        if self.chunker is not None:
            self.chunker.group(len(self.body))

    def read(self, name: str) -> None:
        """The statement being written reads local ``name``."""
        if self.chunker is not None:
            self.chunker.read(name)

    def release(self) -> None:
        """Drop all but the text and what compiling it needs (the program, its plan and the
        names given), so their memory is free while a long function compiles."""
        self.prog = self.plan = self.ctx = self.idents = None  # type: ignore[assignment]
        self.names, self.dying, self.items = {}, {}, {}

    def clashes(self) -> set[str]:
        """Locals that shadow a global some op's emit defined (then the names are made again)."""
        taken, given = self.idents.taken, self.idents.given
        return {g for g in self.module.globals if g in taken and g not in given}

    def text(self, func_name: str) -> str:
        """The ``def`` alone (a body's function, defined in the module's preamble)."""
        return "\n".join([f"def {func_name}({', '.join(self.params)}):"]
                         + ["    " + line for line in self.body]) + "\n"

    def compile(self, func_name: str, filename: str) -> Emitted:
        """The full text, and the function made by running only its ``def`` (the module's
        globals already hold the constants and helpers)."""
        if self.chunker is not None and len(self.chunker.starts) > 1:
            return self.compile_chunks(func_name, filename)
        module, body = self.module, self.body
        head = "\n".join(module.preamble()).split("\n") + [
            f"def {func_name}({', '.join(self.params)}):"]
        first_line = len(head) + 1  # of the body
        text = "\n".join(head) + "\n" + "\n".join("    " + line for line in body) + "\n"
        line_nodes = {first_line + k: n for k, n in enumerate(self.body_nodes) if n is not None}
        def_text = "\n".join(head[-1:] + ["    " + line for line in body]) + "\n"
        try:
            code = compile("\n" * (first_line - 2) + def_text, filename, "exec")
        except SyntaxError as e:  # only an op's own emit can write invalid code: say which
            raise _invalid(e, e.lineno or 0, line_nodes) from None
        exec(code, module.globals)
        return Emitted(text, module.globals[func_name], line_nodes, module.standalone,
                       self.param_names,
                       module.globals.get("_workspace") if self.has_workspace else None)

    def compile_chunks(self, func_name: str, filename: str) -> Emitted:
        """A long body as chunk functions, each compiled alone, and a main function
        ``func_name`` calling them in turn (see ``codegen.chunks``)."""
        module, body, chunker = self.module, self.body, self.chunker
        assert chunker is not None
        workspace = self.has_workspace
        skip = 1 if self.ws_line else 0  # body[0] unpacks the workspace: main does it
        pieces = "\n".join(module.preamble()).split("\n")
        line = len(pieces)  # lines before the next def
        text = ["\n".join(pieces) + "\n"]
        line_nodes = LineNodes()
        bounds = chunker.starts[1:] + [len(body) - skip]
        args = "_s, _ws" if workspace else "_s"
        calls = []
        for c, (start, stop) in enumerate(zip(chunker.starts, bounds)):
            name = f"_chunk{c}"
            calls.append(f"{name}({args})")
            head = [f"def {name}({args}):"] + ["    " + x for x in chunker.prologue(c)]
            lines = body[start + skip:stop + skip]
            first = line + len(head) + 1  # of the chunk's first body line
            for k, node in enumerate(self.body_nodes[start + skip:stop + skip]):
                if node is not None:
                    line_nodes.add(first + k, node)
            chunk = "\n".join(head + ["    " + x for x in lines]
                              + ["    " + x for x in chunker.epilogue(c)]) + "\n"
            del lines
            for k in range(start + skip, stop + skip):  # their text is the chunk's now
                body[k] = ""
            chunker.done(c)
            self.run_def(chunk, name, filename, line, line_nodes)
            text += [chunk, "\n\n"]
            line += chunk.count("\n") + 2
        params = {n: None for n in self.param_names if n in chunker.last_read}
        main = [f"def {func_name}({', '.join(self.params)}):"]
        if workspace:
            main.append("    _ws = _workspace() if _ws is None else _ws")
        main.append("    _s = {" + ", ".join(f"{n!r}: {n}" for n in params) + "}")
        main += [f"    {call}" for call in calls[:-1]] + [f"    return {calls[-1]}"]
        main_text = "\n".join(main) + "\n"
        self.run_def(main_text, func_name, filename, line, line_nodes)
        text.append(main_text)
        return Emitted("".join(text), module.globals[func_name], line_nodes,
                       module.standalone, self.param_names,
                       module.globals.get("_workspace") if workspace else None)

    def run_def(self, text: str, name: str, filename: str, offset: int,
                line_nodes: Mapping[int, Node]) -> None:
        """Define function ``name`` from ``text`` (its ``def``), which starts after line
        ``offset`` of the whole source (tracebacks then show the source's lines)."""
        try:
            code = compile(text, filename, "exec")
        except SyntaxError as e:  # only an op's own emit can write invalid code: say which
            raise _invalid(e, offset + (e.lineno or 0), line_nodes) from None
        exec(code, self.module.globals)
        fn = self.module.globals[name]
        fn.__code__ = shift_lines(fn.__code__, offset)

    # -- one value ------------------------------------------------------------

    def value_name(self, v: Value) -> str:
        op_name = getattr(v.op, "name", None)
        return self.idents.temp(op_name if isinstance(op_name, str) else "v", v.node.id,
                                "_r" if v.copy_of is not None else "")

    def emit_value(self, v: Value, out: str, into: str | None = None) -> str:
        """The op's code computing ``v`` as ``out`` (its ``f`` called when it has no emit)."""
        ins = [self.arg_source(r, v) for r in v.args]
        ctx = self.ctx
        ctx.out, ctx.into = out, into
        ctx.node = v.node
        ctx.shape = v.shape
        ctx.in_shapes = ([r.value.shape for r in v.args] if v.elementwise
                         else [r.shape for r in v.args])
        ctx.in_dtypes = [r.value.node.dtype for r in v.args]
        ctx.dying, ctx.freed = self.dying.pop(v, []), set()
        if getattr(v.op, "multiple_results", False):
            ctx.results_used = frozenset(range(v.op.result_count(v.node))) \
                if v in self.plan.outputs else frozenset(self.items.get(v, ()))
            ctx.handed_over = frozenset(self.plan.handed_over(v)) if self.plan.optimize \
                else frozenset()
        ctx.taken = set()
        code = v.op.emit(out, ins, ctx) if hasattr(v.op, "emit") else None
        if ctx.taken:
            self.taken.update(v.args[k].value.node for k in ctx.taken
                              if v.args[k].value.kind == "param")
        if code is None:
            code = _fallback_call(self.module, v, out, ins)
        # a loop's tuple is not checked itself: its body's nodes and its items are
        if self.check is not None and v.dtype != object:
            self.checked.append(v.node)
            code += (f"\n_check(_nodes[{len(self.checked) - 1}], {out}, "
                     f"({''.join(a + ', ' for a in ins)}))")
        return code

    def arg_source(self, r: Ref, consumer: Value) -> str:
        """An argument as source: its name, its inlined expression, broadcast if needed."""
        v = r.value
        if v not in self.names and v in self.plan.inline:
            self.names[v] = self.inline_source(v)
        src = self.names[v]
        if v.kind != "const" and v not in self.plan.inline:
            self.read(src)
        if v.shape != r.shape and not consumer.elementwise:
            src = f"np.broadcast_to({src}, {r.shape})"
        return src

    def inline_source(self, v: Value) -> str:
        code = self.emit_value(v, "_inline_")
        if code.startswith("_inline_ = ") and "\n" not in code:
            expr = code[len("_inline_ = "):]
            return expr if _PRIMARY.fullmatch(expr) else f"({expr})"
        name = self.value_name(v)  # not one expression: a statement of its own after all
        self.lines(self.emit_value(v, name).split("\n"), v.node)
        return name


#: a workspace of more buffers than this is made by a loop over runs of alike buffers
WORKSPACE_LISTED = 64


def _invalid(e: SyntaxError, line: int, line_nodes: Mapping[int, Node]) -> SymgraphError:
    node = line_nodes.get(line)
    where = f"node #{node.id} {node.op.describe()!r}" if node is not None else "the function"
    return SymgraphError(f"compiled code for {where} is not valid Python (check the op's "
                         f"emit): {e.msg} at line {line} of the source")


_PRIMARY = re.compile(r"[\w.]+(\[[^\]]*\]|\([^()]*(\([^()]*\))?[^()]*\))?(\.T)?")


def _return_source(r: Ref, out_node: Node, names: dict[Value, str]) -> str:
    src = names[r.value]
    if r.value.shape != r.shape:
        if isinstance(out_node.op, BroadcastTo):
            return f"np.broadcast_to({src}, {r.shape})"  # a read-only view, as numpy gives
        return f"np.full({r.shape}, {src}, dtype={dtype_source(r.value.dtype)})"
    if not r.shape:
        return f"np.asarray({src})"
    return src


def _fallback_call(module: Module, v: Value, out: str, ins: list[str]) -> str:
    """Call the op's numpy ``f`` with the evaluator's checks of shape and dtype."""
    node = v.node
    copy = aliasing(v) == "fresh"  # an op whose emit declined: copy so the buffer is ours
    shape = v.shape if v.elementwise else None  # an elementwise op may get unbroadcast inputs

    def run(*args, _node=node, _copy=copy, _shape=shape):
        out = run_node(_node, list(args), shape=_shape)
        return np.array(out, copy=True) if _copy else out

    name = module.foreign(f"_op{node.id}", run, f"op {v.op.describe()!r} has no emit; calls its f")
    return f"{out} = {name}({', '.join(ins)})"
