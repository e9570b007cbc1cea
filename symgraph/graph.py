"""Graph and Node: the symbolic DAG every other module builds on or reads.

A Graph owns its nodes in creation order, which is always a topological order
because a node can only be made from nodes that already exist.  Structurally
identical nodes (same op, same parameters, same inputs) are hash-consed: asking
for ``x * y`` twice returns the same node, so gradient graphs reuse forward
values instead of recomputing them.
"""

from __future__ import annotations

import math

import contextlib
import contextvars
import operator
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .errors import GraphMismatchError, SymgraphError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from .ops.base import Op

ROLES = ("input", "constant", "forward", "gradient")


class Graph:
    """A DAG of Nodes.  Use ``with Graph() as g:`` to build into ``g``.

    Builders add nodes to the graph of their inputs, or, for sources such as
    ``variable``, to the default graph: the innermost ``with`` graph, else a
    module-level one (``get_default_graph``).  Nodes of two graphs never mix
    (``GraphMismatchError``).  Asking for an op of the same inputs twice gives
    the node made the first time (hash-consing), so a graph holds no duplicates.
    ``len(g)`` is its number of nodes and iterating gives them in creation
    order, which is a topological order.  In Jupyter a graph draws itself.

    The ``with`` stack belongs to the current thread or asyncio task (a context
    variable).  A generator runs in its caller's context, so one suspended
    inside ``with g:`` leaves ``g`` the default for its caller, as for
    ``decimal.localcontext`` (what pytest fixtures and ``contextlib.contextmanager``
    rely on); drive it with ``contextvars.copy_context().run(next, gen)`` to keep
    ``g`` to the generator.  A graph is always true, even when empty.

    Parameters
    ----------
    name : str, optional
        Shown in its repr and pictures.
    parent : Graph, optional
        The graph this one is the body of (loops and branches make these; users
        do not).
    fold : bool, optional
        Whether builders fold what is known as they build (``Op.fold``: ``2 - 1``
        is the constant 1, ``x * 1`` is ``x``, ``x ** 1`` is ``x``), so derivative
        graphs come out as a person would write them.  ``False`` adds exactly
        the nodes written: for studying the raw derivative rules or testing
        ``simplify``.  Default: as the parent graph does, else True.

    See Also
    --------
    get_default_graph, reset_default_graph, Node

    Examples
    --------
    >>> g = sg.Graph("demo")
    >>> with g:
    ...     x = sg.variable("x", (3,))
    ...     y = sg.sum(x ** 2)
    >>> y.graph is g, sg.get_default_graph() is g
    (True, False)
    >>> [v.name for v in g.variables()]
    ['x']
    >>> sg.evaluate(y, {x: [1.0, 2.0, 3.0]})
    array(14.)
    """

    def __init__(self, name: str | None = None, parent: Graph | None = None, *,
                 fold: bool | None = None) -> None:
        self.name = name
        #: the graph this one is the body of (a loop or branch body), or None
        self.parent = parent
        #: whether builders fold constant arithmetic and identities as they build (``Op.fold``)
        self.fold = bool(fold) if fold is not None else (parent.fold if parent is not None else True)
        # outer node -> the variable standing for it here (see ``capture``)
        self._captured: dict[Node, Node] = {}
        # a traced body takes no more captures (see ``seal``)
        self._sealed = False
        self._nodes: list[Node] = []
        self._cons: dict[tuple, Node] = {}
        self._variables: dict[str, list[Node]] = {}
        self._caches: dict[str, dict] = {}
        #: gradient node -> (y, x) when it is the whole derivative dy/dx of a scalar y,
        #: as ``build_grad`` made it (so pictures can say what a gradient node is)
        self.derivatives: dict[Node, tuple[Node, Node]] = {}
        # nodes made by ``a == b`` / ``a != b`` on two Nodes: their truth value (see Node)
        self._identity_tests: dict[Node, bool] = {}
        # serializes node creation, so concurrent builders get unique ids and one cons'ed node
        self._lock = threading.Lock()

    # -- container protocol -------------------------------------------------
    def __len__(self) -> int:
        return len(self._nodes)

    def __bool__(self) -> bool:
        """A graph is an object, not a collection to test for emptiness: always true."""
        return True

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    @property
    def nodes(self) -> list[Node]:
        """All nodes in creation order (a topological order)."""
        return list(self._nodes)

    def variables(self, name: str | None = None) -> list[Node]:
        """Variables of this graph, optionally only those called ``name``."""
        if name is not None:
            return list(self._variables.get(name, ()))
        return [v for vs in self._variables.values() for v in vs]

    def variable_names(self) -> list[str]:
        """The names of this graph's variables, sorted."""
        return sorted(self._variables)

    def cache(self, kind: str) -> dict:
        """A per-graph memo table (compiled functions, evaluator schedules)."""
        return self._caches.setdefault(kind, {})

    # -- default-graph context ----------------------------------------------
    def __enter__(self) -> Graph:
        _GRAPH_STACK.set(_GRAPH_STACK.get() + (self,))
        return self

    def __exit__(self, *exc: Any) -> None:
        # Remove this graph's innermost entry even when contexts were exited out of
        # order (a generator or task leaving its ``with`` after the caller entered
        # another graph), so no graph stays the default after its block ended.
        stack = _GRAPH_STACK.get()
        for k in range(len(stack) - 1, -1, -1):
            if stack[k] is self:
                _GRAPH_STACK.set(stack[:k] + stack[k + 1:])
                return

    @contextlib.contextmanager
    def building(self, role: str, order: int) -> Iterator[None]:
        """Mark every node made in this graph inside as ``role``/``order`` (used by autodiff).

        The setting belongs to the current thread / asyncio task (a context
        variable), so nodes another thread builds meanwhile keep their own role.
        """
        token = _BUILD_CONTEXT.set(_BUILD_CONTEXT.get() + ((self, role, order),))
        try:
            yield
        finally:
            _BUILD_CONTEXT.reset(token)

    # -- node creation ------------------------------------------------------
    def _add(self, op: Op, inputs: tuple[Node, ...]) -> Node:
        key = op.cse_key()
        if key is not None:
            full_key = (key, inputs)  # nodes hash by identity
            found = self._cons.get(full_key)
            if found is not None:
                return found
        shape, dtype = op.infer(*inputs)
        role, order = self._role_for(op, inputs)
        if not isinstance(dtype, np.dtype):
            dtype = np.dtype(dtype)
        if type(shape) is not tuple or not all(type(s) is int for s in shape):
            shape = _inferred_shape(op, shape)  # a user infer() may return lists or numpy ints
        with self._lock:  # another thread may have made the same node since the lookup
            if key is not None:
                found = self._cons.get(full_key)
                if found is not None:
                    return found
            node = Node(self, op, inputs, shape, dtype, role, order)
            if key is not None:
                self._cons[full_key] = node
            if role == "input":
                self._variables.setdefault(node.name, []).append(node)
        return node

    def find(self, op: Op, inputs: Sequence[Node]) -> Node | None:
        """The existing node ``op(*inputs)`` that hash-consing would return, or None."""
        key = op.cse_key()
        return None if key is None else self._cons.get((key, tuple(inputs)))

    def _role_for(self, op: Op, inputs: tuple[Node, ...]) -> tuple[str, int]:
        """Role and order of a new node: from the innermost ``building`` of this graph."""
        if op.is_variable:
            return "input", 0
        role, order = "forward", 0
        ctx = _BUILD_CONTEXT.get()
        if ctx:
            for graph, r, o in reversed(ctx):
                if graph is self:
                    role, order = r, o
                    break
        return ("constant", order) if not inputs else (role, order)

    # -- bodies ---------------------------------------------------------------
    def encloses(self, other: Graph) -> bool:
        """Whether this graph is ``other`` or one of the graphs ``other`` is (nested) a body of."""
        g: Graph | None = other
        while g is not None:
            if g is self:
                return True
            g = g.parent
        return False

    def capture(self, node: Node) -> Node:
        """The node of this graph standing for ``node`` of an enclosing graph.

        A body (``sg.scan``'s ``fn``) may use nodes of the graphs around it;
        each becomes a variable of the body, made once and recorded in
        ``captures`` (the loop or branch node then takes the outer node as an
        input).  Through nested bodies the node is captured at every level.
        """
        if node.graph is self:
            return node
        if self.parent is None or not node.graph.encloses(self):
            raise GraphMismatchError(f"{node!r} belongs to {node.graph!r}, which does not enclose "
                                     f"{self!r}")
        chain = []
        g = self
        while g is not node.graph:
            chain.append(g)
            g = g.parent
        for inner in reversed(chain):
            found = inner._captured.get(node)
            if found is None:
                if inner._sealed:
                    raise GraphMismatchError(
                        f"{node!r} of {node.graph!r} cannot be combined with nodes of "
                        f"{inner!r}: that body was traced already (a node of a loop or branch "
                        "body used outside its function?); use the loop's or branch's results")
                found = inner._captured[node] = _capture_variable(inner, node)
            node = found
        return node

    def seal(self) -> None:
        """End the tracing of this body: its captures are final, so combining one of its nodes
        with an outer node later (a body node that leaked out of ``fn``) is an error."""
        self._sealed = True

    @property
    def captures(self) -> list[Node]:
        """The nodes of enclosing graphs this body uses, in the order first captured."""
        return list(self._captured)

    # -- views --------------------------------------------------------------
    def to_networkx(self, nodes: Iterable[Node] | None = None) -> nx.DiGraph:
        """An ``nx.DiGraph`` over Node objects with op/shape/dtype/name/role/order attributes."""
        import networkx as nx

        chosen = self._nodes if nodes is None else list(nodes)
        dg = nx.DiGraph()
        for n in chosen:
            dg.add_node(n, op=n.op.name, shape=n.shape, dtype=str(n.dtype), name=n.name,
                        role=n.role, order=n.order, id=n.id)
        chosen_set = set(chosen)
        for n in chosen:
            for k, i in enumerate(n.inputs):
                if i in chosen_set:
                    dg.add_edge(i, n, index=k)
        return dg

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<symgraph.Graph{label} with {len(self)} nodes>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return _mimebundle(self, repr(self))


def _inferred_shape(op: Op, shape: Any) -> tuple[int, ...]:
    """A shape from ``op.infer`` as Python ints: integers only (2.7 is not truncated to 2)."""
    try:
        if any(isinstance(s, (bool, np.bool_)) for s in shape):
            raise TypeError
        out = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise SymgraphError(f"op {op.name!r}: infer() returned shape {shape!r:.60}; sizes must "
                            "be integers") from None
    if any(s < 0 for s in out):
        raise SymgraphError(f"op {op.name!r}: infer() returned shape {shape!r:.60}; sizes must "
                            "be non-negative integers")
    return out


# The ``with Graph():`` stack and the ``building`` settings are immutable tuples in
# context variables: each thread and each asyncio task sees its own, and code
# running in one never changes what another builds into.
_GRAPH_STACK: contextvars.ContextVar[tuple[Graph, ...]] = contextvars.ContextVar(
    "symgraph_graph_stack", default=())
_BUILD_CONTEXT: contextvars.ContextVar[tuple[tuple[Graph, str, int], ...]] = \
    contextvars.ContextVar("symgraph_build_context", default=())
_DEFAULT_GRAPH = Graph("default")


def get_default_graph() -> Graph:
    """The innermost ``with Graph():`` graph of this thread/task, or the module-level default.

    Sources (``variable``, ``constant``, ``zeros``, ...) are made in this graph;
    every other builder uses the graph of its inputs.

    Returns
    -------
    Graph

    Examples
    --------
    >>> g = sg.Graph()
    >>> with g:
    ...     inside = sg.get_default_graph()
    >>> inside is g, sg.get_default_graph() is g
    (True, False)
    >>> sg.variable("x").graph is sg.get_default_graph()
    True
    """
    stack = _GRAPH_STACK.get()
    return stack[-1] if stack else _DEFAULT_GRAPH


def reset_default_graph() -> Graph:
    """Replace the module-level default graph with an empty one and return it.

    Nodes of the old graph stay valid (and in their graph); they cannot be
    combined with nodes made afterwards, which belong to the new one.  A
    notebook or script that rebuilds its model calls this first to start from
    an empty graph.  ``with Graph():`` blocks are not affected.

    Returns
    -------
    Graph
        The new default graph.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> g = sg.reset_default_graph()
    >>> len(g), x.graph is g
    (0, False)
    """
    global _DEFAULT_GRAPH
    _DEFAULT_GRAPH = Graph("default")
    return _DEFAULT_GRAPH


class Node:
    """One op applied to input nodes; carries its static shape and dtype.

    Nodes are made by builders (``sg.variable``, ``sg.exp``, ``x + y``, ``x[1:]``,
    ...), never directly.  They support numpy's operators, indexing, ``.T``,
    ``.mT``, ``.shape``, ``.ndim``, ``.size`` and the usual methods (``x.sum(axis)``,
    ``x.reshape(...)``, ``x.astype(...)``, ...), each building a new node.  A node
    has no value until it is evaluated (``sg.evaluate``, ``sg.function``); in
    Jupyter it draws itself with its ancestors.

    Nodes hash by identity (they are dict keys in feeds and gradient tables),
    while ``==``, ``!=``, ``<`` ... build elementwise comparison nodes, as in
    numpy.  A Node has no truth value, so ``if node == 0:`` or ``if x > y:``
    fails loudly, with one exception: the node made by ``a == b`` or
    ``a != b`` between two Node objects is true or false as the identity test
    ``a is b`` / ``a is not b``, like ordinary Python objects.  That is what
    containers and libraries use ``==`` on objects for (``node in list``,
    networkx's algorithms over ``g.to_networkx()``).  Such a comparison node is
    hash-consed, so comparing the same pair again adds no node; Nodes of two
    graphs (or of shapes that do not broadcast) compare as plain objects (a bool).

    numpy's functions and ufuncs called on a Node build nodes with the symgraph
    builder of the same name (``np.exp(x)`` is ``sg.exp(x)``); ``np.asarray``
    of a Node is an error, since it has no value until evaluated.

    Attributes
    ----------
    graph : Graph
        The graph the node belongs to.
    op : Op
        What it computes, with its parameters (``op.name`` is the op's name).
    inputs : tuple of Node
        Its input nodes.
    shape : tuple of int
        Static shape, known when the node is made.
    dtype : numpy.dtype
        Static dtype.
    role : str
        ``"input"``, ``"constant"``, ``"forward"`` or ``"gradient"`` (made by
        differentiation).
    order : int
        Differentiation order of a gradient node (0 for the others).
    id : int
        Position in its graph's creation order.
    name : str or None
        A variable's name; None for other nodes.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> y = sg.exp(x) * 2
    >>> y.shape, y.dtype, y.role
    ((3,), dtype('float64'), 'forward')
    >>> x[1:].shape, (x @ x).shape, x.reshape(3, 1).T.shape
    ((2,), (), (1, 3))
    >>> np.exp(x) is sg.exp(x)               # numpy calls build the same node
    True
    >>> sg.evaluate(x.sum(), {x: [1.0, 2.0, 3.0]})
    array(6.)
    >>> if x > 0: pass
    Traceback (most recent call last):
    ...
    symgraph.errors.SymgraphError: the truth value of a symbolic Node is undefined; ...
    """

    __slots__ = ("graph", "op", "inputs", "shape", "dtype", "role", "order", "id", "name",
                 "__weakref__")
    __array_priority__ = 1000

    def __init__(self, graph: Graph, op: Op, inputs: tuple[Node, ...], shape: tuple[int, ...],
                 dtype: np.dtype, role: str, order: int) -> None:
        self.graph = graph
        self.op = op
        self.inputs = inputs
        self.shape = shape
        self.dtype = dtype
        self.role = role
        self.order = order
        self.name = op.node_name() if op.is_variable else None
        self.id = len(graph._nodes)
        graph._nodes.append(self)

    # -- basic properties ---------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of dimensions, ``len(shape)``."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def T(self) -> Node:
        """The transpose (all axes reversed), as numpy's ``ndarray.T``."""
        return _ops.transpose(self)

    @property
    def mT(self) -> Node:
        """The transpose of each matrix of a stack (numpy's ``ndarray.mT``)."""
        if self.ndim < 2:
            raise ValueError(f"matrix transpose needs at least 2 dimensions, got shape {self.shape}")
        return _ops.swapaxes(self, -1, -2)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return (f"<Node #{self.id} {self.op.name}{name} shape={self.shape} "
                f"dtype={self.dtype} role={self.role}{'' if not self.order else f' order={self.order}'}>")

    def __bool__(self) -> bool:
        truth = self.graph._identity_tests.get(self)
        if truth is not None:
            return truth
        raise SymgraphError(
            "the truth value of a symbolic Node is undefined; use sg.where for "
            "data-dependent choices (both sides computed), sg.cond to run only one branch, or "
            "sg.while_loop for a loop that stops on a condition")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d node")
        return self.shape[0]

    def __iter__(self) -> Iterator[Node]:
        if not self.shape:
            raise TypeError("iteration over a 0-d node")
        return (self[i] for i in range(self.shape[0]))

    # -- arithmetic ---------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.subtract(self, other)
    def __rsub__(self, other): return _ops.subtract(other, self)
    def __mul__(self, other): return _ops.multiply(self, other)
    def __rmul__(self, other): return _ops.multiply(other, self)
    def __truediv__(self, other): return _ops.divide(self, other)
    def __rtruediv__(self, other): return _ops.divide(other, self)
    def __pow__(self, other): return _ops.power(self, other)
    def __rpow__(self, other): return _ops.power(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __eq__(self, other):  # type: ignore[override]
        return _identity_test(_ops.equal, self, other, True)

    def __ne__(self, other):  # type: ignore[override]
        return _identity_test(_ops.not_equal, self, other, False)

    __hash__ = object.__hash__
    def __lt__(self, other): return _ops.less(self, other)
    def __le__(self, other): return _ops.less_equal(self, other)
    def __gt__(self, other): return _ops.greater(self, other)
    def __ge__(self, other): return _ops.greater_equal(self, other)
    def __getitem__(self, index): return _ops.getitem(self, index)
    def __mod__(self, other): return _ops.mod(self, other)
    def __rmod__(self, other): return _ops.mod(other, self)
    # & | ^ ~ combine boolean masks (numpy's bitwise ops on integers are not symgraph's)
    def __and__(self, other): return _logical("logical_and", self, other)
    def __rand__(self, other): return _logical("logical_and", other, self)
    def __or__(self, other): return _logical("logical_or", self, other)
    def __ror__(self, other): return _logical("logical_or", other, self)
    def __xor__(self, other): return _logical("logical_xor", self, other)
    def __rxor__(self, other): return _logical("logical_xor", other, self)
    def __invert__(self): return _logical("logical_not", self)
    def __round__(self, ndigits=None): return _ops.round(self, ndigits or 0)

    # -- numpy-style methods ------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape) -> Node:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes) -> Node:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def astype(self, dtype) -> Node:
        return _ops.cast(self, dtype)

    def prod(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.prod(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof: int = 0, keepdims: bool = False) -> Node:
        return _ops.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof: int = 0, keepdims: bool = False) -> Node:
        return _ops.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def argmax(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims: bool = False) -> Node:
        return _ops.argmin(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None) -> Node:
        return _ops.cumsum(self, axis=axis)

    def cumprod(self, axis=None) -> Node:
        return _ops.cumprod(self, axis=axis)

    def ravel(self) -> Node:
        return _ops.ravel(self)

    def flatten(self) -> Node:
        return _ops.ravel(self)

    def squeeze(self, axis=None) -> Node:
        return _ops.squeeze(self, axis=axis)

    def swapaxes(self, axis1: int, axis2: int) -> Node:
        return _ops.swapaxes(self, axis1, axis2)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Node:
        return _ops.diagonal(self, offset=offset, axis1=axis1, axis2=axis2)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Node:
        return _ops.trace(self, offset=offset, axis1=axis1, axis2=axis2)

    def dot(self, other) -> Node:
        return _ops.dot(self, other)

    def round(self, decimals: int = 0) -> Node:
        return _ops.round(self, decimals)

    def clip(self, a_min=None, a_max=None) -> Node:
        return _ops.clip(self, a_min, a_max)

    # -- numpy's protocols: np.exp(node), np.dot(a, node), ndarray * node -----
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``np.exp(x)``, ``ndarray + x``, ``np.add.reduce(x)`` build symgraph nodes."""
        return _numpy_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """``np.dot(A, x)``, ``np.stack([x, y])``, ``np.linalg.norm(x)`` build symgraph nodes."""
        return _numpy_function(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("a symgraph Node has no value until it is evaluated: use "
                        "sg.evaluate(node, feed) for its value, and sg.<function> (or the numpy "
                        "function itself; sg.linalg for numpy.linalg and scipy.linalg's "
                        "triangular solvers) to compute with it")

    # -- Jupyter ------------------------------------------------------------
    def _repr_mimebundle_(self, include=None, exclude=None):
        return _mimebundle([self], repr(self))


# The layers above fill these in on import (ops before any node can exist): this
# module imports none of them.
_ops: Any = None
_linalg: dict[str, Callable] = {}
_display: Callable[[Any], dict[str, str]] | None = None


#: ``ufunc.method`` -> the symgraph builder that computes it
_UFUNC_METHODS = {("add", "reduce"): "sum", ("multiply", "reduce"): "prod",
                  ("maximum", "reduce"): "max", ("minimum", "reduce"): "min",
                  ("add", "accumulate"): "cumsum", ("multiply", "accumulate"): "cumprod",
                  ("multiply", "outer"): "outer"}
#: numpy's bitwise ufuncs, which on booleans are the logical ones
_BITWISE = {"bitwise_and": "logical_and", "bitwise_or": "logical_or", "bitwise_xor": "logical_xor",
            "invert": "logical_not"}


def _logical(name: str, *operands: Any) -> Any:
    """``a & b`` and friends: the logical op, for boolean operands only (as numpy's masks)."""
    for v in operands:
        dtype = v.dtype if isinstance(v, Node) else np.asarray(v).dtype
        if dtype != np.bool_:
            raise TypeError(f"&, |, ^ and ~ on symgraph Nodes combine boolean masks; got dtype "
                            f"{dtype} (use sg.{name} for the truth of numbers)")
    return getattr(_ops, name)(*operands)


#: what to write instead of numpy.linalg functions sg.linalg lacks
_LINALG_HINTS = {
    "lstsq": "least squares is sg.linalg.pinv(a) @ b, or sg.linalg.solve(a.mT @ a, a.mT @ b), "
             "or qr then solve_triangular (the rank numpy also returns depends on the values)",
    "eig": "for a symmetric matrix use sg.linalg.eigh (a general one has complex eigenvalues, "
           "which have no derivative rules here)",
    "eigvals": "for a symmetric matrix use sg.linalg.eigvalsh (a general one has complex "
               "eigenvalues, which have no derivative rules here)",
    "matrix_rank": "a rank is an integer that depends on the values (no derivative); count "
                   "sg.linalg.svdvals(a) above a tolerance after evaluating",
    "cond": "the 2-norm condition number is svdvals(a)[..., 0] / svdvals(a)[..., -1]",
}

#: numpy functions on nodes answered without building anything
_INSPECT = {"shape": lambda x: x.shape, "ndim": lambda x: x.ndim, "size": lambda x: x.size}


def _builder(name: str, what: str) -> Callable:
    """The public symgraph builder called ``name``, or a TypeError saying there is none."""
    if _ops is not None and name in _ops.__all__:
        return getattr(_ops, name)
    raise TypeError(f"{what} has no symgraph counterpart (no sg.{name}); symgraph Nodes are "
                    "symbolic, so compute with symgraph functions, or evaluate first")


def _numpy_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    given = {k: v for k, v in kwargs.items() if v is not None}
    if method == "__call__":
        if given:
            raise TypeError(f"np.{ufunc.__name__} on symgraph Nodes takes no {sorted(given)} "
                            f"(use sg.{ufunc.__name__})")
        if ufunc.__name__ in _BITWISE:
            return _logical(_BITWISE[ufunc.__name__], *inputs)
        return _builder(ufunc.__name__, f"np.{ufunc.__name__}")(*inputs)
    name = _UFUNC_METHODS.get((ufunc.__name__, method))
    if name is None:
        raise TypeError(f"np.{ufunc.__name__}.{method} has no symgraph counterpart")
    if method == "reduce":
        given.setdefault("axis", 0)
    return _builder(name, f"np.{ufunc.__name__}.{method}")(*inputs, **given)


def _numpy_function(func: Any, args: tuple, kwargs: dict) -> Any:
    name, module = func.__name__, func.__module__ or ""
    what = f"{module.replace('numpy', 'np', 1)}.{name}"
    if name in _INSPECT and module == "numpy":
        return _INSPECT[name](*args, **kwargs)
    if module == "numpy.linalg" and name in _linalg:
        build = _linalg[name]
    elif module == "numpy.linalg" and name in _LINALG_HINTS:
        raise TypeError(f"{what} has no symgraph counterpart; {_LINALG_HINTS[name]}")
    elif module == "numpy":
        build = _builder(name, what)
    else:
        raise TypeError(f"{what} has no symgraph counterpart yet; symgraph Nodes are symbolic, "
                        "so compute with symgraph functions, or evaluate first")
    try:
        return build(*args, **kwargs)
    except TypeError as e:
        where = "sg.linalg" if module == "numpy.linalg" else "sg"
        raise TypeError(f"{what} on symgraph Nodes, as {where}.{name}: {e}") from None


def register_builders(builders: Any) -> None:
    """Node operators (``x + y``, ``x.T``, ``x.sum()``) build with ``builders.add`` etc.

    Called by ``symgraph.ops`` on import with itself: the ops are made of
    nodes, so the graph layer below them cannot import them.
    """
    global _ops
    _ops = builders


def register_linalg(names: Sequence[str], namespace: dict[str, Any]) -> None:
    """``np.linalg.<name>(node)`` builds with ``sg.linalg.<name>``; called by ``symgraph.linalg``."""
    _linalg.update({name: namespace[name] for name in names if callable(namespace[name])})


def register_display(mimebundle: Callable[[Any], dict[str, str]]) -> None:
    """How Jupyter shows a Graph or Node; called by ``symgraph.render`` on import."""
    global _display
    _display = mimebundle


def _mimebundle(graph_or_nodes: Any, text: str) -> dict[str, str]:
    return _display(graph_or_nodes) if _display is not None else {"text/plain": text}


def _identity_test(build, a: Node, b: Any, equal: bool) -> Any:
    """``a == b`` / ``a != b``: an elementwise comparison; between Nodes, true as ``is``.

    Nodes of different graphs are simply unequal objects (no node can join
    them); nodes whose shapes do not broadcast are too.
    """
    if not isinstance(b, Node):
        return build(a, b)
    if b.graph is not a.graph:
        return (a is b) is equal
    try:
        node = build(a, b)
    except SymgraphError:  # shapes that do not broadcast: still comparable as objects
        return (a is b) is equal
    # hash-consing makes ``node`` stand for exactly this ordered pair, so one truth value
    a.graph._identity_tests[node] = (a is b) is equal
    return node


def apply(op: Op, inputs: Sequence[Node]) -> Node:
    """Make (or reuse) the node ``op(*inputs)`` in the inputs' graph.

    Inside a body (see ``Graph.capture``) nodes of enclosing graphs are captured first.
    """
    inputs = tuple(inputs)
    graph = inputs[0].graph if inputs else get_default_graph()
    if any(i.graph is not graph for i in inputs):
        graph = innermost_graph(inputs)
        inputs = tuple(graph.capture(i) for i in inputs)
    return graph._add(op, inputs)


def _capture_variable(graph: Graph, outer: Node) -> Node:
    label = outer.name or f"{outer.op.name}#{outer.id}"
    return _ops.variable(label, outer.shape, outer.dtype, graph=graph)


def innermost_graph(nodes: Sequence[Node]) -> Graph:
    """The graph to build a node of ``nodes`` in: their common graph, or, when some are nodes of
    a loop or branch body and the others of graphs enclosing it, that body."""
    if not nodes:
        return get_default_graph()
    graph = nodes[0].graph
    for n in nodes[1:]:
        g = n.graph
        if g is graph:
            continue
        if graph.encloses(g):
            graph = g
        elif not g.encloses(graph):
            raise GraphMismatchError(
                f"cannot combine nodes of two graphs: {nodes[0]!r} is in {nodes[0].graph!r} but "
                f"{n!r} is in {g!r}")
    return graph


def common_graph(nodes: Sequence[Node]) -> Graph:
    """The one graph all ``nodes`` belong to (the default graph when there are none)."""
    if not nodes:
        return get_default_graph()
    graph = nodes[0].graph
    for n in nodes[1:]:
        if n.graph is not graph:
            raise GraphMismatchError(
                f"cannot combine nodes of two graphs: {nodes[0]!r} is in {graph!r} but "
                f"{n!r} is in {n.graph!r}")
    return graph
