"""What pictures show of loops and branches: bodies as clusters, wired to the nodes that run them.

A loop or branch node (``sg.scan``, ``sg.while_loop``, ``sg.cond``) runs
bodies: graphs of their own (``flow.body.Body``).  Its picture is what the
program says: the body's nodes in a cluster, entered by edges from the loop
node's inputs to the body variables they feed (initial carry, slices of the
sequences, captured outer nodes) and left by edges from the body's outputs to
the item nodes that read the loop's results; a dashed edge takes each carry
round to the next step.  The loop node itself is that cluster, so it is not a
box of its own.

A reverse sweep runs a gradient body built in the graph of the forward body
(``flow.body.body_vjp``), so both loops draw from one cluster holding the
graph's nodes once; the gradient nodes keep their order's colour, and each
loop's edges have its own colour, listed in the cluster's label.

This module decides what is drawn and what connects to what;
``symgraph.render`` turns it into DOT.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from .flow.body import Body
from .flow.cond import Cond
from .flow.loops import Loop
from .graph import Graph, Node
from .ops.base import Op
from .ops.tuples import Item
from .traversal import ancestors


@dataclass(frozen=True)
class Part:
    """One body a loop or branch node runs, and the body nodes its results come from."""

    role: str                 # "body", "condition", "true branch", "false branch"
    body: Body
    reads: tuple[Node, ...]   # the outputs, then the per-step values it records
    carries: tuple[Node, ...] = ()  # the variables a loop's carries enter by

    @property
    def frame(self) -> tuple[Node, ...]:
        """What is drawn whenever the part is: its carries in and its outputs."""
        return self.carries + tuple(self.body.outputs)


@dataclass(frozen=True)
class Link:
    """An edge of the picture that is not an input edge of a node of one graph."""

    tail: Node
    head: Node | None         # None: into the cluster of ``part`` (a predicate, a trip count)
    kind: str                 # init, slice, captured, operand, next, result, pred, trips
    text: str
    part: Part | None = None


def parts(node: Node) -> list[Part]:
    """The bodies ``node`` runs (none for a node that is not a loop or a branch)."""
    op = node.op
    if isinstance(op, Loop):
        steps = tuple(r[1] for r in op.records if r[0] == "step")
        nc = op.n_carry
        found = [Part("body", op.body, tuple(op.body.outputs) + steps, op.body.inputs[:nc])]
        if op.cond is not None:
            found.append(Part("condition", op.cond, tuple(op.cond.outputs), op.cond.inputs[:nc]))
        return found
    if isinstance(op, Cond):
        return [Part("true branch", op.true_body, tuple(op.true_body.outputs)),
                Part("false branch", op.false_body, tuple(op.false_body.outputs))]
    return []


def runs_bodies(node: Node) -> bool:
    return isinstance(node.op, (Loop, Cond))


def describe_details(node: Node) -> list[str]:
    """How a loop runs: ``["length 100", "reverse"]`` (nothing for a branch)."""
    op = node.op
    if not isinstance(op, Loop):
        return []
    if op.dynamic:
        details = [f"as many steps as recorded, ≤ {op.length}"]
    elif op.cond is not None:
        details = [] if op.length is None else [f"max_steps {op.length}"]
    else:
        details = [f"length {op.length}"]
    if op.reverse:
        details.append("reverse")
    if op.checkpoint:
        details.append(f"checkpoint every {op.checkpoint}")
    return details


def describe(node: Node, top: Graph | None = None) -> str:
    """``scan #5 · length 100, reverse · gradient, order 1``: which loop, and how it runs
    (``scan #3 in checkpointed scan segment`` when it is not a node of ``top``: ids count
    per graph)."""
    text = f"{node.op.name} #{node.id}"
    if top is not None and node.graph is not top:
        text += f" in {graph_title(node.graph)}"
    details = describe_details(node)
    if details:
        text += " · " + ", ".join(details)
    if node.role == "gradient":
        text += f" · gradient, order {max(node.order, 1)}"
    return text


def private_copy(op: Op) -> Op:
    """``op`` to rebuild a node with elsewhere (a scratch graph): a loop gets a list of
    records of its own, so what a gradient built there records is not added to ``op``."""
    if isinstance(op, Loop):
        return type(op)(**{**op.params(), "records": list(op.records)})
    return op


def title(node: Node, part: Part, grouped: bool) -> str:
    """The caption of ``part``'s cluster: "scan body", "checkpointed scan segment",
    "cond: true branch"; inside the box of a while_loop or cond, just "condition" or
    "true branch"."""
    if grouped:
        return part.role
    return graph_title(part.body.graph, f"{node.op.name} {part.role}")


def graph_title(graph: Graph, default: str = "a body") -> str:
    """What a body graph is, from its name, which says what it was traced for (whichever
    loop runs it: a forward one, or its reverse sweep)."""
    name = graph.name
    if not name:
        return default
    if name.endswith(" body") and name not in ("scan body", "while_loop body"):
        name = name[:-len(" body")]
    return "cond: " + name[len("cond "):] if name.startswith("cond ") else name


# ---------------------------------------------------------------------------
# edges into, round and out of the bodies
# ---------------------------------------------------------------------------


def captured_variables(graph: Graph) -> set[Node]:
    """The variables of a body graph that stand for nodes of enclosing graphs."""
    return {graph.capture(c) for c in graph.captures}


def input_links(node: Node, captured: Callable[[Graph], set[Node]]) -> list[Link]:
    """From the inputs of the loop or branch ``node`` to the body variables they feed."""
    op = node.op
    links = []

    def feed(tail: Node, var: Node, kind: str, text: str) -> None:
        if var in captured(var.graph):
            kind, text = "captured", ""
        links.append(Link(tail, var, kind, text))

    if isinstance(op, Loop):
        body, nc, nx = op.body, op.n_carry, op.n_xs
        carries, xs, consts, cconsts, trips = op.split(node.inputs)
        for k, c in enumerate(carries):
            feed(c, body.inputs[k], "init", "init")
            if op.cond is not None:
                feed(c, op.cond.inputs[k], "init", "")
        for k, x in enumerate(xs):
            feed(x, body.inputs[nc + k], "slice", "[t]")
        for k, c in enumerate(consts):
            feed(c, body.inputs[nc + nx + k], "operand", "")
        for k, c in enumerate(cconsts):
            feed(c, op.cond.inputs[nc + k], "operand", "")
        if trips is not None:
            links.append(Link(trips, None, "trips", "steps", parts(node)[0]))
        return links
    if isinstance(op, Cond):
        t, f = parts(node)
        links.append(Link(node.inputs[0], None, "pred", "pred", t))
        for k, a in enumerate(node.inputs[1:]):
            feed(a, op.true_body.inputs[k], "operand", "")
            feed(a, op.false_body.inputs[k], "operand", "")
    return links


def next_links(node: Node) -> list[Link]:
    """Dashed edges taking each carry the body computes back to the variable of the next step."""
    op = node.op
    if not isinstance(op, Loop):
        return []
    body = op.body
    links = []
    for j in range(op.n_carry):
        out, var = body.outputs[j], body.inputs[j]
        if out is not var:
            links.append(Link(out, var, "next", "next step"))
        if op.cond is not None:
            links.append(Link(out, op.cond.inputs[j], "next", ""))
    return links


def reads_loop(node: Node) -> bool:
    """Whether ``node`` is an item of a loop or branch node (a part of its results)."""
    return isinstance(node.op, Item) and runs_bodies(node.inputs[0])


def item_links(item: Node) -> list[Link]:
    """From the body nodes an item's value comes from to the item."""
    owner = item.inputs[0]
    op, k = owner.op, item.op.index
    if isinstance(op, Cond):
        return [Link(op.true_body.outputs[k], item, "result", "if true"),
                Link(op.false_body.outputs[k], item, "result", "if false")]
    body, nc, ny = op.body, op.n_carry, op.n_ys
    if k < nc:
        return [Link(body.outputs[k], item, "result", "last step")]
    if k < nc + ny:
        return [Link(body.outputs[k], item, "result", "stacked")]
    rec = op.records[k - nc - ny]
    if rec[0] == "traj":
        return [Link(body.outputs[rec[1]], item, "result", "every step")]
    if rec[0] == "step":
        return [Link(rec[1], item, "result", "every step")]
    if rec[0] == "checkpoints":
        return [Link(body.inputs[rec[1]], item, "result", f"every {op.checkpoint} steps")]
    return [Link(op.cond.outputs[0], item, "result", "counted")] if op.cond is not None else []


def item_label(item: Node, name: Callable[[Node], str]) -> str:
    """What an item of a loop or branch is: "final carry", "ys", "trajectory of carry0",
    "residual", "trip count", "result"."""
    owner = item.inputs[0]
    op, k = owner.op, item.op.index
    if isinstance(op, Cond):
        return "result" if op.result_count() == 1 else f"result {k}"
    body, nc, ny = op.body, op.n_carry, op.n_ys
    if k < nc:
        return f"final {name(body.inputs[k])}"
    if k < nc + ny:
        return "ys" if ny == 1 else f"ys {k - nc}"
    rec = op.records[k - nc - ny]
    if rec[0] == "traj":
        return f"trajectory of {name(body.inputs[rec[1]])}"
    if rec[0] == "step":
        return "residual"
    if rec[0] == "checkpoints":
        return f"checkpoints of {name(body.inputs[rec[1]])}"
    return "trip count"


# ---------------------------------------------------------------------------
# what to draw: the nodes nearest the outputs, through the bodies
# ---------------------------------------------------------------------------


@dataclass
class BodyView:
    """One body graph as drawn: once, however many loop or branch nodes run it."""

    graph: Graph
    key: str                                          # DOT prefix, "b0"
    users: list[tuple[Node, Part]] = field(default_factory=list)
    needed: dict[Node, None] = field(default_factory=dict)  # what the users' results need
    reads: set[Node] = field(default_factory=set)     # read by a user: drawn bold
    group: Group | None = None
    nodes: list[Node] = field(default_factory=list)   # drawn, topological order
    folded: set[Node] = field(default_factory=set)    # scalar constants shown in their consumers
    hidden: set[Node] = field(default_factory=set)    # cut by max_nodes


@dataclass
class Group:
    """The bodies of one while_loop (body and condition) or cond (two branches), boxed together."""

    key: str
    owner: Node
    graphs: list[Graph]


@dataclass
class Scene:
    """The bodies drawn, by graph, and the loop and branch nodes drawn (as clusters)."""

    bodies: dict[Graph, BodyView] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    loops: list[Node] = field(default_factory=list)
    captured: dict[Graph, set[Node]] = field(default_factory=dict)

    def captured_of(self, graph: Graph) -> set[Node]:
        if graph not in self.captured:
            self.captured[graph] = captured_variables(graph)
        return self.captured[graph]

    def use(self, node: Node, foldable: Callable[[Node], bool]) -> tuple[list[Node], list[Node]]:
        """Register the loop or branch ``node`` as drawn.  Returns its frame (carry variables
        and outputs of its bodies, always shown) and the other body nodes its results read
        (recorded residuals), nearest first."""
        self.loops.append(node)
        found = parts(node)
        frame: list[Node] = []
        rest: list[Node] = []
        views = []
        for p in found:
            view = self.bodies.get(p.body.graph)
            if view is None:
                view = self.bodies[p.body.graph] = BodyView(p.body.graph, f"b{len(self.bodies)}")
            views.append(view)
        graphs = [v.graph for v in views]
        if (len(set(graphs)) == len(views) > 1 and all(v.group is None for v in views)
                and len({g.parent for g in graphs}) == 1):
            group = Group(f"grp{len(self.groups)}", node, graphs)
            self.groups.append(group)
            for v in views:
                v.group = group
        for p, view in zip(found, views):
            view.users.append((node, p))
            view.reads.update(p.reads)
            view.folded.difference_update(p.reads)
            # each body node is walked once, however many loops read it
            for n in ancestors(list(p.reads), stop=frozenset(view.needed)):
                if n not in view.needed:
                    view.needed[n] = None
                    if foldable(n) and n not in view.reads:
                        view.folded.add(n)
                    if runs_bodies(n):  # a loop's inputs are drawn (see render._select)
                        view.folded.difference_update(n.inputs)
            in_frame = set(p.frame)
            frame += [n for n in p.frame if n in view.needed]
            rest += [n for n in p.reads if n not in in_frame]
        return ([n for n in frame if n not in self.bodies[n.graph].folded],
                [n for n in rest if n not in self.bodies[n.graph].folded])

    def candidate(self, n: Node) -> bool:
        view = self.bodies.get(n.graph)
        return view is not None and n in view.needed and n not in view.folded


def select(outputs: Sequence[Node], outer: set[Node], limit: int | None,
           foldable: Callable[[Node], bool]) -> tuple[set[Node], Scene]:
    """The drawn nodes of the outer graph (of ``outer``) and the bodies drawn.

    Breadth first from the outputs, against the edges of the picture: from an
    item into the body nodes it reads, through the body, and from a body
    variable to the outer nodes feeding it.  At most ``limit`` nodes, except
    that the outputs and the variables of ``outer`` (the inputs) are always
    shown, so a cut picture still says what goes in and what comes out, and
    so are the carry variables and outputs of a drawn loop's bodies, so its
    carries' edges are.  The rest is cut (``BodyView.hidden``).
    """
    scene = Scene()
    kept: set[Node] = {o for o in outputs if o in outer}
    kept.update(n for n in outer if n.op.is_variable)
    expanded: set[Node] = set()
    queue: deque[Node] = deque(o for o in outputs if o in outer)
    later: list[Node] = []  # inputs of loops that feed no body node drawn
    feeders: dict[Node, list[Node]] = {}  # body variable -> the nodes feeding it

    def room() -> bool:
        return limit is None or len(kept) < limit

    while queue or later:
        if not queue:
            queue.extend(later)
            later.clear()
        n = queue.popleft()
        if n in expanded:
            continue
        if n not in kept:
            if not (n in outer or scene.candidate(n)) or not room():
                continue
            kept.add(n)
        expanded.add(n)
        if runs_bodies(n):
            frame, rest = scene.use(n, foldable)
            kept.update(frame)
            for link in input_links(n, scene.captured_of):
                if link.head is None:
                    queue.append(link.tail)
                else:
                    feeders.setdefault(link.head, []).append(link.tail)
            queue.extend(frame)
            queue.extend(rest)
            later.extend(n.inputs)
        else:
            queue.extend(feeders.get(n, ()))
            queue.extend(n.inputs)
    for view in scene.bodies.values():
        view.nodes = [n for n in view.needed if n in kept]
        view.nodes.sort(key=_node_id)
        view.hidden = {n for n in view.needed if n not in kept and n not in view.folded}
    return kept & outer, scene


def _node_id(n: Node) -> int:
    return n.id


def first_drawn(node: Node) -> tuple[int, int]:
    """Loops in the order their edges are laid out: forward before gradient, then by id (the
    forward loop's edges decide where a shared body variable sits)."""
    return (node.order if node.role == "gradient" else 0, node.id)


def nesting(scene: Scene) -> dict[Graph | None, list[Graph]]:
    """Body graphs by the drawn body graph they are nested in (None: the outer picture)."""
    inside: dict[Graph | None, list[Graph]] = {}
    for graph in scene.bodies:
        parent = graph.parent if graph.parent in scene.bodies else None
        inside.setdefault(parent, []).append(graph)
    return inside


def all_links(scene: Scene, drawn: Iterable[Node]) -> list[tuple[Node, Link]]:
    """Every link of the picture, with the loop or branch node it belongs to."""
    out = []
    loops = set(scene.loops)
    for node in sorted(scene.loops, key=first_drawn):
        for link in input_links(node, scene.captured_of) + next_links(node):
            out.append((node, link))
    for n in drawn:
        if reads_loop(n) and n.inputs[0] in loops:
            out += [(n.inputs[0], link) for link in item_links(n)]
    return out


__all__ = ["Part", "Link", "BodyView", "Group", "Scene", "parts", "runs_bodies", "describe",
           "describe_details", "private_copy", "graph_title", "first_drawn",
           "title", "input_links", "next_links", "item_links", "item_label", "reads_loop",
           "select", "nesting", "all_links", "captured_variables"]
