"""Graph simplification: ``sg.simplify`` and its table of rewrite rules.

A rule is a small function registered for one or more op types (like
PyTensor's rewrite database): it is shown a node whose inputs are already
simplified and returns an equivalent node (same graph, shape and dtype) or
``None``.  ``simplify`` visits the ancestors of the requested nodes once, in
topological order, rebuilds each node from its simplified inputs (hash-consing
then shares it with any identical node: that is the CSE), applies the rules of
its op to a fixpoint, and finally matches commutative nodes by their inputs in
any order (``a*b`` and ``b*a`` become one node).  It is iterative and O(nodes).

Loops and branches (``sg.scan``, ``sg.while_loop``, ``sg.cond``) are simplified
inside too: each body once (a new body over the same variables whose outputs
are the simplified ones; bodies sharing a graph share the work), the nodes a
loop records mapped to their simplified forms, and the loop or branch rebuilt
over the new bodies.  Nested bodies are simplified by recursion over their
nesting depth (bounded by the loader's and tracer's nesting).

What the rules assume: like Theano's and PyTensor's default rewrites they
treat values as finite, so ``x * 0 -> 0``, ``x - x -> 0``, ``A @ 0 -> 0`` and
``log(exp(x)) -> x`` may turn a NaN or Inf of the original into a finite value
(never the reverse), and ``x + 0 -> x`` may keep the sign of a negative zero.
Every other rule, constant folding included, gives bit-identical values;
``log(exp(x))`` and matching ``add_n`` terms given in another order differ
only by rounding.

Add a rule for your own op with ``@register(MyOp)``, or for every op with a flag
(``@register("elementwise")``: a user op that sets the flag gets the rule too);
``rules()`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


from .traversal import ancestors
from .errors import GraphMismatchError, SymgraphError
from .flow.body import Body, refs_in
from .graph import Graph, Node, apply
from .ops import control, elementwise as ew, shape as sh
from .ops.base import Op
from .ops.folding import (FOLD_MAX_INPUT_SIZE, FOLD_MAX_SIZE, fold_value, is_source, is_value,
                          known_result, uniform_value)
from .ops.sources import constant, full
from .structure import flatten

#: A chain of more rewrites than this, starting from one node, means the rules never settle.
MAX_REWRITES_PER_NODE = 100


@dataclass(frozen=True)
class Rule:
    """One rewrite: ``fn(node) -> Node | None`` for nodes of the ``ops`` types or flags."""

    name: str
    ops: tuple[type | str, ...]
    fn: Callable[[Node], Node | None]
    doc: str


#: The flags a rule may be registered for (class attributes of ``Op``).
FLAGS = ("elementwise", "structural", "selects", "linear", "multilinear", "commutative")


class RuleTable:
    """Rules registered for op classes or flags, looked up for an op class (cached).

    The one idiom of symgraph's rule databases (rewrites here, fusions in
    ``symgraph.codegen.fusion``): a class's rules are those for ``Op``
    itself, then for the flags it sets (in ``FLAGS`` order), then for each
    class of its MRO from the most general to its own, each rule once.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._by_target: dict[type | str, list] = {}
        self._for_type: dict[type, tuple] = {}

    def check(self, targets: tuple[type | str, ...]) -> None:
        """Refuse targets that are neither Op classes nor flag names (at registration)."""
        ok = [(isinstance(t, type) and issubclass(t, Op)) or t in FLAGS for t in targets]
        if not targets or not all(ok):
            raise SymgraphError(f"{self.what}: expected Op subclasses or flag names {FLAGS}, got "
                                f"{targets!r}")

    def add(self, targets: tuple[type | str, ...], rule: Any) -> None:
        self.check(targets)
        for t in targets:
            self._by_target.setdefault(t, []).append(rule)
        self._for_type.clear()

    def for_type(self, op_type: type) -> tuple:
        found = self._for_type.get(op_type)
        if found is None:
            groups = [self._by_target.get(Op, ())]
            groups += [self._by_target.get(f, ()) for f in FLAGS if getattr(op_type, f, False)]
            groups += [self._by_target.get(k, ()) for k in reversed(op_type.__mro__) if k is not Op]
            ordered: list = []
            for group in groups:
                ordered.extend(r for r in group if r not in ordered)
            found = self._for_type[op_type] = tuple(ordered)
        return found

    def all(self) -> list:
        """Every rule, once each, in registration order."""
        out: list = []
        for group in self._by_target.values():
            out.extend(r for r in group if r not in out)
        return out


_RULES = RuleTable("register")


def register(*targets: type | str, name: str | None = None) -> Callable:
    """Decorator adding a rewrite rule for nodes whose op is one of ``targets``.

    A target is an Op subclass or the name of a flag (``"elementwise"``,
    ``"linear"``, ... see ``FLAGS``) that an op class sets.  Rules for ``Op``
    itself run first, then rules for flags, then those of each class from the
    most general to the op's own.
    """
    _RULES.check(targets)

    def decorate(fn: Callable[[Node], Node | None]) -> Callable[[Node], Node | None]:
        _RULES.add(targets, Rule(name or fn.__name__, tuple(targets), fn, (fn.__doc__ or "").strip()))
        return fn

    return decorate


def rules_for(op_type: type) -> tuple[Rule, ...]:
    """The rules tried on a node of ``op_type``: general rules first (see ``register``)."""
    return _RULES.for_type(op_type)


def rules() -> list[Rule]:
    """Every registered rule, once each, in registration order."""
    return _RULES.all()


# ---------------------------------------------------------------------------
# simplify
# ---------------------------------------------------------------------------

def simplify(nodes: Any, *, stats: dict[str, int] | None = None) -> Any:
    """Equivalent nodes, in the same graph, after CSE, constant folding and identities.

    ``nodes`` is a node or a (nested) list/tuple/dict of nodes; the result has
    the same structure.  New nodes take the role and differentiation order of
    the node they replace.  If ``stats`` is a dict, it receives how many times
    each rule fired.  See the module docstring for what the rules assume.

    The rules treat values as finite (as Theano's and PyTensor's do):
    ``x * 0 -> 0``, ``x - x -> 0`` and ``log(exp(x)) -> x`` may turn a NaN or Inf
    of the original into a finite value, never the reverse.  Every other rule
    gives the same values.  Loops and branches are simplified inside.

    Parameters
    ----------
    nodes : Node or list, tuple or dict of Node
        What to simplify; the graph itself is not changed (old nodes stay).
    stats : dict, optional
        Filled with ``{rule name: times it fired}``.

    Returns
    -------
    Node or list, tuple or dict of Node
        In the structure of ``nodes``.

    Examples
    --------
    >>> x, y = sg.variable("x"), sg.variable("y")
    >>> stats = {}
    >>> z = sg.simplify(sg.log(sg.exp(x)) - x, stats=stats)
    >>> sg.to_sympy(z), sorted(stats)
    (0, ['log_exp', 'subtract_self'])
    >>> sg.to_sympy(sg.simplify(x * y + y * x))     # a*b and b*a are one node
    2*x*y
    """
    leaves, unflatten = flatten(nodes, lambda t: isinstance(t, Node))
    for leaf in leaves:
        if not isinstance(leaf, Node):
            raise SymgraphError(f"simplify: expected Nodes, got {type(leaf).__name__} {leaf!r:.60}")
    if not leaves:
        return unflatten([])
    graph = leaves[0].graph
    if any(leaf.graph is not graph for leaf in leaves):
        raise GraphMismatchError("simplify: the nodes belong to different graphs")
    return unflatten(_Simplifier(stats).nodes(leaves))


class _Simplifier:
    """One ``simplify`` call: a rewriter per graph (the root and each body graph met), and
    each body simplified once."""

    def __init__(self, stats: dict[str, int] | None) -> None:
        self.stats = stats
        self.rewriters: dict[Graph, _Rewriter] = {}
        self.bodies: dict[Body, Body] = {}

    def nodes(self, nodes: list[Node]) -> list[Node]:
        """The simplified forms of ``nodes`` (all of one graph)."""
        rewriter = self.rewriters.get(nodes[0].graph)
        if rewriter is None:
            rewriter = self.rewriters[nodes[0].graph] = _Rewriter(self.stats, self)
        done = rewriter.done
        todo = [n for n in nodes if n not in done]
        if todo:
            for node in ancestors(todo):
                rewriter.settle(node)
        return [done[n] for n in nodes]

    def body(self, body: Body) -> Body:
        """``body`` with simplified outputs (itself when nothing changed)."""
        found = self.bodies.get(body)
        if found is None:
            outs = self.nodes(list(body.outputs)) if body.outputs else []
            found = body if all(a is b for a, b in zip(outs, body.outputs)) else \
                Body(body.graph, body.inputs, outs, body.captured)
            self.bodies[body] = self.bodies[found] = found
        return found

    def op(self, op: Op, copy: bool) -> Op:
        """``op`` over simplified bodies, the nodes its parameters name (a loop's records)
        simplified too; ``op`` itself when nothing changed, unless ``copy``.  A new op of
        the same class with the same other parameters otherwise: a loop's records grow as
        gradients are built, so two loop nodes never share an op."""
        params = op.params()
        found: dict[Any, Any] = {}
        refs = refs_in(params.values())
        by_graph: dict[Graph, list[Node]] = {}
        for r in refs:
            if isinstance(r, Body):
                found[r] = self.body(r)
            else:
                by_graph.setdefault(r.graph, []).append(r)
        for nodes in by_graph.values():
            found.update(zip(nodes, self.nodes(nodes)))
        if not copy and all(found[r] is r for r in refs):
            return op
        new = type(op).__new__(type(op))
        new.__dict__.update(vars(op))
        new.__dict__.update({k: _mapped(v, found) for k, v in params.items()})
        return new


def _mapped(value: Any, found: dict) -> Any:
    """``value`` with the bodies and nodes in it replaced by ``found``'s (containers copied)."""
    if isinstance(value, (Body, Node)):
        return found[value]
    if isinstance(value, (tuple, list)):
        return type(value)(_mapped(v, found) for v in value)
    if isinstance(value, dict):
        return {k: _mapped(v, found) for k, v in value.items()}
    return value


def _runs_bodies(op: Op) -> bool:
    """Whether ``op`` runs bodies (a loop or a branch): its parameters are simplified too."""
    return op.multiple_results and any(isinstance(v, Body) for v in op.params().values())


class _Rewriter:
    """The state of one ``simplify`` call.

    ``done[n]`` is the simplified form of ``n``; a node ``c`` with
    ``done[c] is c`` is *clean*: no rule applies to it and its inputs are clean.
    ``redirect[n]`` is an equivalent node ``n`` was rewritten to, not yet clean.
    """

    def __init__(self, stats: dict[str, int] | None, flow: _Simplifier) -> None:
        self.flow = flow
        self.done: dict[Node, Node] = {}
        self.redirect: dict[Node, Node] = {}
        self.hops: dict[Node, int] = {}
        self.commutative: dict[tuple, Node] = {}
        self.stats = stats

    def settle(self, root: Node) -> None:
        """Simplify ``root`` and whatever new nodes its rewrites create (explicit stack).

        A node is *open* while it waits for nodes pushed above it (its inputs,
        or the node a rule rewrote it to); needing an open node again means
        rules rewrite in a circle, which is reported instead of looping.
        """
        done, redirect = self.done, self.redirect
        stack, opened = [root], set()

        def wait(n: Node, needed: list[Node]) -> None:
            opened.add(n)
            for d in needed:
                if d in opened:
                    raise SymgraphError(f"simplify: rewrite rules keep rewriting {d!r} into nodes "
                                        "that need it again; two rules undo each other")
            stack.extend(needed)

        while stack:
            n = stack[-1]
            if n in done:
                stack.pop()
                opened.discard(n)
                continue
            target = redirect.get(n)
            if target is not None:
                if target in done:
                    done[n] = done[target]
                else:
                    wait(n, [target])
                continue
            missing = [i for i in n.inputs if i not in done]
            if missing:
                wait(n, missing)
                continue
            inputs = tuple(done[i] for i in n.inputs)
            changed = any(a is not b for a, b in zip(inputs, n.inputs))
            op = self.flow.op(n.op, changed) if _runs_bodies(n.op) else n.op
            if changed or op is not n.op:
                with n.graph.building(n.role, n.order):
                    rebuilt = n.graph._add(op, inputs)
                _check_equivalent(n, rebuilt, "rebuilding from simplified inputs and bodies")
                redirect[n] = rebuilt
                continue
            result = self.apply_rules(n)
            if result is None:
                result = self.match_commutative(n)
            if result is None:
                done[n] = n
            else:
                redirect[n] = result

    def match_commutative(self, node: Node) -> Node | None:
        """An equivalent node with the same inputs in another order, if one is known.

        Rather than reorder every commutative node into a canonical order
        (which would rebuild most graphs and lose sharing with nodes outside
        the simplified set), nodes are matched by their multiset of inputs:
        the first one this pass settles, or an older mirror ``b op a``
        already in the graph, stands for all of them.
        """
        if not node.op.commutative:
            return None
        op_key = node.op.cse_key()
        if op_key is None:
            return None
        key = (op_key, tuple(sorted(i.id for i in node.inputs)))
        twin = self.commutative.get(key)
        if twin is None and len(node.inputs) == 2:
            mirror = node.graph.find(node.op, node.inputs[::-1])
            twin = mirror if mirror is not None and mirror.id < node.id else None
        if twin is None or twin is node:
            self.commutative.setdefault(key, node)
            return None
        _check_equivalent(node, twin, "matching commutative inputs")
        if self.stats is not None:
            self.stats["commutative_match"] = self.stats.get("commutative_match", 0) + 1
        return twin

    def apply_rules(self, node: Node) -> Node | None:
        """The first rule result that differs from ``node``, or None at a fixpoint."""
        candidates = rules_for(type(node.op))
        if not candidates:
            return None
        with node.graph.building(node.role, node.order):
            for rule in candidates:
                result = rule.fn(node)
                if result is not None and result is not node:
                    break
            else:
                return None
            _check_equivalent(node, result, f"rewrite rule {rule.name!r}")
            hops = self.hops.get(node, 0) + 1
            if hops > MAX_REWRITES_PER_NODE:
                raise SymgraphError(f"simplify: rewrite rules keep rewriting {node!r} (last: "
                                    f"{rule.name!r}); two rules undo each other")
            self.hops[result] = max(self.hops.get(result, 0), hops)
            if self.stats is not None:
                self.stats[rule.name] = self.stats.get(rule.name, 0) + 1
            return result
        return None


def _check_equivalent(node: Node, new: Node, what: str) -> None:
    if not isinstance(new, Node) or new.graph is not node.graph:
        raise SymgraphError(f"simplify: {what} returned {new!r:.80} for {node!r}; expected a "
                            "Node of the same graph")
    if new.shape != node.shape or new.dtype != node.dtype:
        raise SymgraphError(f"simplify: {what} turned {node!r} (shape {node.shape}, dtype "
                            f"{node.dtype}) into {new!r} (shape {new.shape}, dtype {new.dtype})")


# ---------------------------------------------------------------------------
# helpers for rules
# ---------------------------------------------------------------------------

def like(x: Node, node: Node) -> Node:
    """``x`` cast to ``node``'s dtype and broadcast to its shape (both only if needed)."""
    if x.dtype != node.dtype:
        x = ew.cast(x, node.dtype)
    if x.shape != node.shape:
        x = sh.broadcast_to(x, node.shape)
    return x


def filled(node: Node, value: Any) -> Node:
    """``value`` in ``node``'s shape and dtype: a scalar fill, broadcast (a view, no copy)."""
    return sh.broadcast_to(full((), value, node.dtype, graph=node.graph), node.shape)


# ---------------------------------------------------------------------------
# constants
# ---------------------------------------------------------------------------

@register(Op)
def constant_folding(node: Node) -> Node | None:
    """op(constants) -> its value: uniform results become a (broadcast) scalar fill, others
    a Constant of at most FOLD_MAX_SIZE elements.

    Elementwise ops of uniform inputs are computed on one element, whatever the size.
    """
    if not node.inputs or already_filled(node):
        return None  # a source, or a fill already
    known = known_result(node.op, node.inputs, node.shape, node.dtype)
    if known is None:
        return None
    value, same = known
    return filled(node, value[()]) if same else constant(value, graph=node.graph)


def already_filled(node: Node) -> bool:
    """A broadcast of a one-element source is a fill already (its source may be shared
    with other nodes, so rewriting it into a new fill would only add nodes)."""
    return (isinstance(node.op, sh.BroadcastTo) and is_source(node.inputs[0])
            and node.inputs[0].size == 1)


@register("structural", "selects")
def fill_propagation(node: Node) -> Node | None:
    """Moving, copying or picking elements of one repeated value gives that value
    (e.g. a broadcast scalar zero): a broadcast scalar fill."""
    if already_filled(node):
        return None
    values = [uniform_value(i) for i in node.inputs]
    if any(v is None for v in values):
        return None
    first = values[0]
    if any(v.dtype != first.dtype or v.tobytes() != first.tobytes() for v in values[1:]):
        return None
    return filled(node, first.astype(node.dtype).item())


@register("elementwise")
def elementwise_of_broadcast(node: Node) -> Node | None:
    """f(broadcast_to(a, s), b) -> f(a, b), broadcast afterwards if still needed:
    numpy broadcasts anyway, and f runs on fewer elements."""
    inputs = list(node.inputs)
    if not any(isinstance(i.op, sh.BroadcastTo) for i in inputs):
        return None
    stripped = [i.inputs[0] if isinstance(i.op, sh.BroadcastTo) else i for i in inputs]
    return sh.broadcast_to(apply(node.op, stripped), node.shape)


@register("linear", "multilinear")
def zero_propagation(node: Node) -> Node | None:
    """A linear op of zeros is zeros; a multilinear op (matmul) of one zero operand too
    (``A @ 0`` assumes A finite).  Elementwise ops are left to constant folding and
    their own identities (``x * 0``), which keep signed zeros."""
    if node.op.elementwise:
        return None
    zeros = [is_value(i, 0) for i in node.inputs]
    if any(zeros) if node.op.multilinear else zeros and all(zeros):
        return filled(node, 0)
    return None


@register(control.StopGradient)
def stop_gradient_constant(node: Node) -> Node | None:
    """stop_gradient(constant) -> constant: constants have no gradient anyway."""
    (x,) = node.inputs
    return x if is_source(x) or uniform_value(x) is not None else None


# ---------------------------------------------------------------------------
# arithmetic identities
# ---------------------------------------------------------------------------

@register(ew.Maximum, ew.Minimum)
def idempotent(node: Node) -> Node | None:
    """maximum(x, x) -> x and minimum(x, x) -> x."""
    a, b = node.inputs
    return like(a, node) if a is b else None


def _beside(node: Node, value: Any, make: Callable[[Node], Node]) -> Node | None:
    """``make(x)`` for ``x op v`` or ``v op x`` (commutative ops) where all of ``v`` is ``value``,
    broadcast to the result's shape and dtype."""
    a, b = node.inputs
    if is_value(b, value):
        return like(make(a), node)
    if is_value(a, value):
        return like(make(b), node)
    return None


def _same(x: Node) -> Node:
    return x


@register(ew.Add)
def add_zero(node: Node) -> Node | None:
    """x + 0 -> x and 0 + x -> x (broadcast to the result's shape and dtype)."""
    return _beside(node, 0, _same)


@register(ew.Add)
def add_negative(node: Node) -> Node | None:
    """a + (-b) -> a - b and (-a) + b -> b - a."""
    a, b = node.inputs
    if isinstance(b.op, ew.Negative):
        return ew.subtract(a, b.inputs[0])
    if isinstance(a.op, ew.Negative):
        return ew.subtract(b, a.inputs[0])
    return None


@register(ew.Subtract)
def subtract_zero(node: Node) -> Node | None:
    """x - 0 -> x and 0 - x -> -x."""
    a, b = node.inputs
    if is_value(b, 0):
        return like(a, node)
    if is_value(a, 0):
        return like(ew.negative(b), node)
    return None


@register(ew.Subtract)
def subtract_self(node: Node) -> Node | None:
    """x - x -> zeros (assumes x finite)."""
    a, b = node.inputs
    return filled(node, 0) if a is b else None


@register(ew.Subtract)
def subtract_negative(node: Node) -> Node | None:
    """a - (-b) -> a + b."""
    a, b = node.inputs
    return ew.add(a, b.inputs[0]) if isinstance(b.op, ew.Negative) else None


@register(ew.Multiply)
def multiply_one(node: Node) -> Node | None:
    """x * 1 -> x and 1 * x -> x (broadcast to the result's shape and dtype)."""
    return _beside(node, 1, _same)


@register(ew.Multiply)
def multiply_zero(node: Node) -> Node | None:
    """x * 0 -> zeros of the broadcast shape (assumes x finite)."""
    a, b = node.inputs
    return filled(node, 0) if is_value(a, 0) or is_value(b, 0) else None


@register(ew.Multiply)
def multiply_minus_one(node: Node) -> Node | None:
    """x * -1 -> -x and -1 * x -> -x."""
    return _beside(node, -1, ew.negative)


@register(ew.Multiply)
def multiply_negatives(node: Node) -> Node | None:
    """(-a) * (-b) -> a * b."""
    a, b = node.inputs
    if isinstance(a.op, ew.Negative) and isinstance(b.op, ew.Negative):
        return ew.multiply(a.inputs[0], b.inputs[0])
    return None


@register(ew.Divide)
def divide_one(node: Node) -> Node | None:
    """x / 1 -> x."""
    a, b = node.inputs
    return like(a, node) if is_value(b, 1) else None


@register(ew.Negative)
def double_negative(node: Node) -> Node | None:
    """--x -> x."""
    (x,) = node.inputs
    return x.inputs[0] if isinstance(x.op, ew.Negative) else None


@register(ew.Log)
def log_exp(node: Node) -> Node | None:
    """log(exp(x)) -> x (assumes exp(x) does not overflow)."""
    (x,) = node.inputs
    return like(x.inputs[0], node) if isinstance(x.op, ew.Exp) else None


@register(ew.Power)
def power_one(node: Node) -> Node | None:
    """x ** 1 -> x."""
    a, b = node.inputs
    return like(a, node) if is_value(b, 1) else None


@register(ew.Power)
def power_zero(node: Node) -> Node | None:
    """x ** 0 -> ones (numpy gives 1 even for 0, inf and nan)."""
    _, b = node.inputs
    return filled(node, 1) if is_value(b, 0) else None


@register(ew.AddN)
def add_n_zeros(node: Node) -> Node | None:
    """add_n drops zero terms (and becomes its single remaining term, or zeros)."""
    terms = [t for t in node.inputs if not is_value(t, 0)]
    if len(terms) == len(node.inputs):
        return None
    return like(ew.add_n(terms), node) if terms else filled(node, 0)


@register(ew.Where)
def where_constant_condition(node: Node) -> Node | None:
    """where(True, a, b) -> a and where(False, a, b) -> b."""
    cond, a, b = node.inputs
    value = uniform_value(cond)
    if value is None:
        return None
    return like(a if value else b, node)


@register(ew.Where)
def where_same_branches(node: Node) -> Node | None:
    """where(c, x, x) -> x."""
    _, a, b = node.inputs
    return like(a, node) if a is b else None


@register(ew.Cast)
def cast_same_dtype(node: Node) -> Node | None:
    """cast(x, x.dtype) -> x."""
    (x,) = node.inputs
    return x if x.dtype == node.dtype else None


# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------

@register(sh.Transpose)
def transpose_transpose(node: Node) -> Node | None:
    """transpose(transpose(x, p), q) -> transpose(x, p[q]) (x itself when that is no permutation)."""
    (x,) = node.inputs
    if not isinstance(x.op, sh.Transpose):
        return None
    inner, outer = x.op.axes, node.op.axes
    return sh.transpose(x.inputs[0], tuple(inner[a] for a in outer))


@register(sh.Transpose)
def transpose_identity(node: Node) -> Node | None:
    """transpose(x, (0, 1, ..., n-1)) -> x."""
    (x,) = node.inputs
    return x if tuple(node.op.axes) == tuple(range(x.ndim)) else None


@register(sh.Reshape, sh.BroadcastTo, sh.SumTo)
def same_shape(node: Node) -> Node | None:
    """reshape / broadcast_to / sum_to to the shape the input already has -> the input."""
    (x,) = node.inputs
    return x if x.shape == node.shape else None


@register(sh.Reshape)
def reshape_reshape(node: Node) -> Node | None:
    """reshape(reshape(x)) -> reshape(x)."""
    (x,) = node.inputs
    return sh.reshape(x.inputs[0], node.shape) if isinstance(x.op, sh.Reshape) else None


@register(sh.BroadcastTo)
def broadcast_broadcast(node: Node) -> Node | None:
    """broadcast_to(broadcast_to(x, s), t) -> broadcast_to(x, t)."""
    (x,) = node.inputs
    return sh.broadcast_to(x.inputs[0], node.shape) if isinstance(x.op, sh.BroadcastTo) else None


__all__ = ["simplify", "register", "rules", "rules_for", "Rule", "RuleTable", "FLAGS", "fold_value", "uniform_value", "is_value",
           "is_source", "like", "filled", "FOLD_MAX_SIZE", "FOLD_MAX_INPUT_SIZE"]
