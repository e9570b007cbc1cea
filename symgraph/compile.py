"""``sg.function``: compile nodes to one straight-line numpy function.

    f = sg.function([X, y, W1, W2], [loss, *sg.grad(loss, [W1, W2])])
    loss_value, g1, g2 = f(X_value, y_value, W1_value, W2_value)
    print(f.source)

The generated function computes the outputs' ancestors in a depth-first
order, frees every temporary (``del``) right after its last use, writes
results into buffers it allocated itself once they are dead (``a += b``,
``np.exp(a, out=a)``; never into fed arrays, constants or views that
something else may read), accumulates gradient sums in place, keeps the
temporaries' buffers between calls (``out=``; results are always fresh),
and fuses a few patterns (see ``symgraph.codegen.fusion``).  Each op prints
its own numpy code (``Op.emit``); an op without ``emit`` is called through
its ``f``.  Loops and branches (``sg.scan``, ``sg.while_loop``, ``sg.cond``)
become Python ``for``/``while`` loops and ``if``/``else`` calling their bodies,
each compiled once into a function of the same source
(``symgraph.codegen.bodies``).

``.source`` is the function as text.  It runs after ``exec`` with only numpy
(constants are exact literals in its preamble: numpy literals for small
ones, base64 of the bytes for larger ones) unless the graph has ops without
``emit`` or ``check_finite`` is on; ``.standalone`` says which.
"""

from __future__ import annotations

import itertools
import linecache
import threading
import weakref
from typing import Any, Sequence

import numpy as np

from . import diagnostics, fpwarn
from .codegen import compile_nodes
from .errors import EvaluationError, GraphMismatchError, SymgraphError, UnknownInputError
from .runtime import NameScope, feed_node, feed_value
from .graph import Graph, Node
from .structure import flatten

_counter = itertools.count()


class CompiledFunction:
    """A compiled function of numpy arrays; call it with the inputs' values.

    Made by ``sg.function``, never directly.  Arguments are positional in the
    order of ``inputs`` or keywords named after the input variables, checked
    as the evaluator checks feeds.  Results mirror the structure of ``outputs``
    and are always fresh arrays.  An exception inside the generated code is
    re-raised as ``EvaluationError`` naming the node and the line of ``source``.

    Attributes
    ----------
    inputs : list of Node
        The input nodes, in argument order.
    outputs : Node or list, tuple or dict of Node
        As given to ``sg.function``.
    source : str
        The generated Python function, as text.
    standalone : bool
        Whether ``source`` runs on its own with only numpy (no user ops
        without ``emit``, no ``check_finite``).
    peak_bytes : int
        The memory planner's estimate of the peak of the function's own buffers.
    workspace_bytes : int
        Bytes of the temporaries' buffers kept between calls, per calling thread.
    recomputed : list of Node
        Nodes computed a second time to fit ``memory_budget``.
    check_finite : bool
    memory_budget : int or None
        The options it was compiled with.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.sum(x ** 2)
    >>> f = sg.function([x], [y, sg.grad(y, x)])
    >>> f(np.array([1.0, 2.0, 3.0]))
    [array(14.), array([2., 4., 6.])]
    >>> f(x=np.zeros(3))                      # by variable name
    [array(0.), array([0., 0., 0.])]
    >>> f.standalone, f.source.splitlines()[0]
    (True, 'import numpy as np')
    >>> f.free_workspace()                    # drop the kept buffers
    """

    def __init__(self, inputs: list[Node], outputs: Any, unflatten, compiled, *,
                 check_finite: bool, memory_budget: int | None) -> None:
        emitted = compiled.emitted
        self.inputs = inputs
        self.outputs = outputs
        self.source: str = emitted.source
        # whether ``source`` runs on its own (no user ops without emit, no checks, no
        # numba kernels)
        self.standalone: bool = emitted.standalone
        # the planner's estimate of the bytes the function's own buffers peak at
        self.peak_bytes: int = compiled.plan.peak_bytes
        # nodes computed a second time to save memory (see ``memory_budget``)
        self.recomputed: list[Node] = compiled.recomputed
        # bytes of the temporaries' buffers kept between calls (per calling thread)
        self.workspace_bytes: int = compiled.plan.workspace_bytes
        self.check_finite = check_finite
        self.memory_budget = memory_budget
        self._raw = emitted.fn
        self._new_workspace = emitted.workspace
        self._local = threading.local()
        self._unflatten = unflatten
        self._line_nodes = emitted.line_nodes
        self._filename = emitted.fn.__code__.co_filename
        self._names = emitted.param_names
        names = [n.name for n in inputs]
        self._by_keyword = {name: k for k, name in enumerate(names)
                            if name and names.count(name) == 1}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._arguments(args, kwargs)
        local = self._local
        if self._new_workspace is not None:
            # this thread's buffers; a call made while one runs (re-entrant) gets its own
            depth = getattr(local, "depth", 0)
            if depth:
                values.append(self._new_workspace())
            else:
                ws = getattr(local, "ws", None)
                values.append(ws if ws is not None else self._keep_workspace())
            local.depth = depth + 1
        token = fpwarn.enter()  # numpy warnings name the node (see symgraph.fpwarn)
        try:
            results = self._raw(*values)
        except SymgraphError:
            raise
        except Exception as e:  # name the node whose numpy code failed
            raise self._locate(e) from e
        finally:
            fpwarn.leave(token)
            if self._new_workspace is not None:
                local.depth -= 1
        return self._unflatten(list(results))

    def _keep_workspace(self):
        ws = self._local.ws = self._new_workspace()
        return ws

    def free_workspace(self) -> None:
        """Drop this thread's kept buffers (the next call allocates them again)."""
        self._local.ws = None

    def _arguments(self, args: tuple, kwargs: dict) -> list[np.ndarray]:
        n = len(self.inputs)
        if kwargs:
            slots: list[Any] = list(args) + [_UNSET] * (n - len(args))
            for key, value in kwargs.items():
                k = self._by_keyword.get(key)
                if k is None:
                    valid = ", ".join(self._by_keyword) or "(none)"
                    raise UnknownInputError(f"function got an unknown keyword {key!r}; inputs "
                                            f"by name are: {valid}")
                if k < len(args):
                    raise SymgraphError(f"function got input {key!r} both by position and by name")
                slots[k] = value
            missing = [self._label(k) for k, v in enumerate(slots) if v is _UNSET]
            if missing:
                from .errors import MissingInputError

                raise MissingInputError(f"function is missing a value for {', '.join(missing)}")
            args = tuple(slots)
        if len(args) != n:
            raise SymgraphError(f"function takes {n} input{'s' if n != 1 else ''} "
                                f"({', '.join(self._names)}), got {len(args)}")
        return [feed_value(node, v) for node, v in zip(self.inputs, args)]

    def _label(self, k: int) -> str:
        node = self.inputs[k]
        return f"variable {node.name!r}" if node.name else f"input {k} (node #{node.id})"

    def _locate(self, e: Exception) -> Exception:
        line = None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        node = self._line_nodes.get(line)
        where = f"node #{node.id} {node.op.describe()}" if node is not None else "the function"
        return EvaluationError(f"compiled function failed evaluating {where} (line {line} of "
                               f".source): {type(e).__name__}: {e}")

    def __repr__(self) -> str:
        return (f"<symgraph.CompiledFunction ({', '.join(self._names)}) "
                f"{self.source.count(chr(10))} lines>")


_UNSET = object()


fpwarn.watch(CompiledFunction.__call__.__code__, "compiled")


#: what ``sg.function(..., backend=)`` accepts
BACKENDS = ("numpy", "numba")


def function(inputs: Any, outputs: Any, *, check_finite: bool = False,
             memory_budget: int | None = None, reuse_buffers: bool = True,
             backend: str = "numpy") -> CompiledFunction:
    """Compile ``outputs`` (a node or a list/tuple/dict of nodes) as a function of ``inputs``.

    The result runs straight-line numpy code generated for exactly these
    nodes (``f.source``): the outputs' ancestors in a depth-first order,
    temporaries freed after their last use and updated in place where safe,
    a few patterns fused, loops and branches as Python loops and ``if``.  It is
    the fast way to evaluate the same nodes many times; ``sg.evaluate`` is the
    one-off way.  Compiled functions are cached per graph, inputs, outputs and
    options, so calling ``sg.function`` again with the same arguments is cheap.

    Parameters
    ----------
    inputs : Node or str, or a list of them
        The arguments: variables (by node or by name) or any other node, whose
        ancestors are then not computed.  Calls take the values positionally
        in this order, or by variable name.
    outputs : Node or list, tuple or dict of Node
        What to compute; calls return this structure with arrays in place of
        nodes.
    check_finite : bool, default False
        Check every node's value as the evaluator does and raise
        ``NonFiniteError`` at the first NaN/Inf.  It compiles node by node (no
        fusions, no in-place updates) so the node named is the one at fault.
    memory_budget : int, optional
        Bytes.  Default None: off.  The most a call may hold at once in
        buffers of its own (temporaries and results, the kept workspace in
        full; not the inputs nor compiled constants), as ``f.peak_bytes``
        estimates it (tracemalloc agrees).  The results count: a network's
        weight gradients are a floor no recomputation goes below.  Kept
        buffers count in full, so pass ``reuse_buffers=False`` for the
        budget to bind on temporaries.  Over it, values are first moved
        earlier where that frees memory, then recomputed right before their
        late uses instead of being kept (rematerialization): elementwise
        values first, then other linear-time ops, then matrix products
        (checkpointing a deep network), until the estimate fits.
        ``f.recomputed`` lists the nodes computed again; the values are
        bitwise the same.  An unmet budget is no error: 0 asks for the
        lowest peak this finds, and ``f.peak_bytes`` above the budget says
        it was not met.
    reuse_buffers : bool, default True
        Keep the temporaries' buffers between calls, one set per thread
        (``f.workspace_bytes``), as PyTensor and XLA do: fresh large arrays cost
        page faults on every call.  Results are always fresh arrays.
    backend : {"numpy", "numba"}, default "numpy"
        ``"numba"`` (the ``symgraph[numba]`` extra) runs each region of
        connected elementwise ops as one compiled kernel call instead of one
        numpy call per op; matrix products, reductions, loops... stay numpy.
        Regions hold float64 results only (float32 and integer work stays
        numpy); their operands may be of any shape that broadcasts to theirs
        (a bias over a batch); a region too small to pay for its call (~1.8
        us, against ~0.35 us per numpy call) stays numpy.  Values equal the
        numpy backend's to rounding (transcendental functions are libm's,
        within a few ulps); kernels raise no floating-point warnings (divide by
        zero, overflow, invalid).  ``f.source`` names each region's ops in a
        comment.  The kernel is compiled once and cached on disk
        (``$SYMGRAPH_CACHE_DIR``, default ``~/.cache/symgraph``); see
        ``symgraph.codegen.native``.

    Returns
    -------
    CompiledFunction

    Raises
    ------
    SymgraphError
        An input that is not a node or a variable name, or is listed twice; an
        unknown ``backend``, or ``"numba"`` without numba installed.
    GraphMismatchError
        Inputs and outputs from different graphs.

    See Also
    --------
    evaluate, CompiledFunction

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.sum(sg.sin(x) * x)
    >>> f = sg.function([x], [y, sg.grad(y, x)])
    >>> value, gradient = f(np.zeros(3))
    >>> value, gradient
    (array(0.), array([0., 0., 0.]))
    >>> sg.function([x], [y, sg.grad(y, x)]) is f     # cached
    True
    >>> checked = sg.function("x", sg.log(x), check_finite=True)
    >>> with np.errstate(divide="ignore"):
    ...     checked(np.array([1.0, 0.0, 2.0]))
    Traceback (most recent call last):
    ...
    symgraph.diagnostics.NonFiniteError: node #... log (forward node) produced non-finite values: ...
    """
    out_leaves, unflatten = flatten(outputs, lambda t: isinstance(t, Node))
    for o in out_leaves:
        if not isinstance(o, Node):
            raise SymgraphError(f"function: outputs must be Nodes, got {type(o).__name__}")
    single_input = isinstance(inputs, (Node, str))
    in_leaves = [inputs] if single_input else list(inputs)
    graph = _graph_of(out_leaves, in_leaves)
    scope = NameScope(out_leaves)
    in_nodes = [_input_node(graph, i, scope) for i in in_leaves]
    if len(set(in_nodes)) != len(in_nodes):
        raise SymgraphError("function: an input is listed twice")
    if memory_budget is not None and (not isinstance(memory_budget, (int, np.integer))
                                      or memory_budget < 0):
        raise SymgraphError(f"function: memory_budget must be a number of bytes >= 0, got "
                            f"{memory_budget!r}")
    if backend not in BACKENDS:
        raise SymgraphError(f"function: unknown backend {backend!r}; choose one of "
                            f"{', '.join(repr(b) for b in BACKENDS)}")
    if backend == "numba":
        from .codegen.native_vm import require_numba

        require_numba()
    key = (tuple(n.id for n in in_nodes), tuple(o.id for o in out_leaves),
           unflatten.key, bool(check_finite), memory_budget, bool(reuse_buffers), backend)
    cache = graph.cache("function")
    found = cache.get(key)
    if found is not None:
        return found
    filename = f"<symgraph function {next(_counter)}>"
    compiled = compile_nodes(in_nodes, out_leaves, optimize=not check_finite,
                             reuse_buffers=reuse_buffers, memory_budget=memory_budget,
                             check=diagnostics.check_finite if check_finite else None,
                             filename=filename, backend=backend)
    fn = CompiledFunction(in_nodes, outputs, unflatten, compiled, check_finite=bool(check_finite),
                          memory_budget=memory_budget)
    # tracebacks show the generated lines while the function lives; its text goes with it
    source = compiled.emitted.source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(fn, linecache.cache.pop, filename, None)
    if len(cache) >= _CACHE_SIZE:  # a long-lived graph compiling ever new functions
        cache.clear()
    cache[key] = fn
    return fn


#: compiled functions kept per graph (like the evaluator's cache) before it is emptied
_CACHE_SIZE = 256


def _graph_of(outputs: Sequence[Node], inputs: Sequence[Any]) -> Graph:
    nodes = list(outputs) + [i for i in inputs if isinstance(i, Node)]
    if not nodes:
        raise SymgraphError("function: give at least one output node")
    graph = nodes[0].graph
    for n in nodes[1:]:
        if n.graph is not graph:
            raise GraphMismatchError(f"function: {n!r} belongs to another graph than {nodes[0]!r}")
    return graph


def _input_node(graph: Graph, i: Any, scope: NameScope) -> Node:
    """An input given as a Node or as the name of a variable the outputs use."""
    if not isinstance(i, (Node, str)):
        raise SymgraphError(f"function: inputs must be Nodes or variable names, got "
                            f"{type(i).__name__} {i!r:.40}")
    node = feed_node(graph, i, scope)
    if node is None:
        raise SymgraphError(f"function: input name {i!r} is ambiguous: several variables have "
                            "that name and the outputs depend on none of them; pass the node")
    return node
