"""How a picture is laid out to be read: which way it runs, where cluster titles sit, how wide it is shown.

Graphviz's ``dot`` does the layout; these are the choices made around it.

* Direction: left to right reads like the back-propagation figures of
  textbooks, as long as the picture is short enough to fit the width it is
  shown at; a deeper graph runs top to bottom, where its depth costs height,
  which a notebook scrolls through, instead of width (``choose_rankdir``).
* Cluster titles: ``dot`` draws a cluster's label in space that edges are
  routed through, so edges entering a cluster cross its title.  A title is
  drawn as a node of its cluster instead, which edges are routed around, one
  rank past the cluster's deepest node (a title in that node's own rank,
  beside it, was crossed by edges into that rank) (``Captions``).
* Width: an SVG wider than ``max_width`` pixels gets width and height
  attributes scaled to it; its ``viewBox`` keeps the whole drawing, which is
  scaled, not cut, and it shrinks further with a narrower page (``fit_width``).

The layout is decided from the picture's edges before any node is written,
so ``EdgeLog`` records the edges first and writes them after the nodes.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Mapping

#: Pixels per point: Graphviz measures SVGs in points, browsers in CSS pixels.
PX_PER_PT = 4 / 3


class EdgeLog:
    """The edges of a picture, recorded before they are written (as ``graphviz.Digraph.edge``
    takes them), so that the layout can be read off them first."""

    def __init__(self) -> None:
        self.edges: list[tuple[str, str, dict[str, str]]] = []

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.edges.append((tail, head, attrs))

    def write(self, dot: Any) -> None:
        for tail, head, attrs in self.edges:
            dot.edge(tail, head, **attrs)

    def depths(self) -> dict[str, int]:
        """The rank of each DOT node the edges that set ranks give it: the longest path from
        a node without such an edge into it (edges with ``constraint=false`` set none)."""
        succ: dict[str, list[str]] = {}
        indegree: dict[str, int] = {}
        for tail, head, attrs in self.edges:
            indegree.setdefault(tail, 0)
            indegree.setdefault(head, 0)
            if attrs.get("constraint") == "false":
                continue
            succ.setdefault(tail, []).append(head)
            indegree[head] += 1
        depth = {n: 0 for n in indegree}
        todo = deque(n for n, k in indegree.items() if k == 0)
        while todo:  # Kahn's order; a node on a cycle keeps the depth reached so far
            n = todo.popleft()
            for m in succ.get(n, ()):
                depth[m] = max(depth[m], depth[n] + 1)
                indegree[m] -= 1
                if indegree[m] == 0:
                    todo.append(m)
        return depth


def text_width(label: str, size: float = 12.0) -> float:
    """The width in points of a label's longest line, from its characters (Helvetica's
    average glyph is about 0.55 em wide); HTML tags are not counted."""
    plain = re.sub(r"<BR[^>]*>", "\n", label)
    plain = re.sub(r"<[^>]+>", "", plain)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return max((len(line) for line in plain.split("\n")), default=0) * 0.55 * size


def choose_rankdir(widths: Mapping[str, float], depth: Mapping[str, int], labelled: bool,
                   max_width: float) -> str:
    """"LR" when the picture run left to right fits in ``max_width`` pixels or is still
    narrower than top to bottom; else "TB".  The widths are estimates (dot's real
    drawing is some 10-30% wider, for its titles and edge routing), so a picture left
    to right is at most about that much wider than ``max_width``.

    ``widths`` are the nodes' widths in points by DOT id, ``depth`` their ranks;
    ``labelled``: whether edges carry labels (values, shapes), which take a column of
    their own between ranks left to right and widen a rank top to bottom.
    """
    by_rank: dict[int, list[float]] = {}
    for n, w in widths.items():
        by_rank.setdefault(depth.get(n, 0), []).append(w + 17)  # node margins
    gap = 36 + (40 if labelled else 0)  # ranksep, and a column of edge labels
    lr = sum(max(ws) for ws in by_rank.values()) + gap * (len(by_rank) - 1)
    nodesep = 22 + (40 if labelled else 0)
    tb = max((sum(ws) + nodesep * (len(ws) - 1) for ws in by_rank.values()), default=0)
    lr_px, tb_px = lr * PX_PER_PT, tb * PX_PER_PT
    return "LR" if lr_px <= max_width or lr_px <= tb_px else "TB"


class Captions:
    """Cluster titles as nodes of their clusters, each one rank past the cluster's deepest
    node (under it top to bottom, after it left to right).

    ``open()`` when a cluster is opened, ``add(id)`` for each node written (it belongs to
    every cluster open), ``close(sub, key, label, ...)`` writes the title into ``sub``.
    """

    def __init__(self, depth: Mapping[str, int]) -> None:
        self.depth = depth
        self.members: list[list[str]] = []

    def open(self) -> None:
        self.members.append([])

    def add(self, dot_id: str) -> None:
        for m in self.members:
            m.append(dot_id)

    def close(self, sub: Any, key: str, label: str, colour: str, size: str) -> None:
        """Write the title ``label`` (HTML-like, without the outer ``<>``) of the cluster
        ``key`` into its subgraph ``sub``, past its deepest node."""
        ids = self.members.pop()
        if not ids:
            sub.attr(label=f"<{label}>", fontcolor=colour, fontsize=size)
            return
        deepest = max(reversed(ids), key=lambda i: self.depth.get(i, 0))
        name = f"title_{key}"
        # a box without border: its margin keeps the edges routed round it off the text
        sub.node(name, label=f"<{label}>", shape="box", style="", color="transparent",
                 margin="0.1,0.06", fontcolor=colour, fontsize=size, tooltip=" ")
        sub.edge(deepest, name, style="invis")


SVG_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def fit_width(svg: str, max_width: float | None) -> str:
    """``svg`` shown at most ``max_width`` pixels wide (None: as drawn), and never wider
    than the page."""
    m = SVG_SIZE.search(svg)
    if m is None:
        return svg
    width, height = float(m.group(1)) * PX_PER_PT, float(m.group(2)) * PX_PER_PT
    scale = 1.0 if max_width is None or width <= max_width else max_width / width
    size = (f'<svg width="{width * scale:.0f}px" height="{height * scale:.0f}px" '
            'style="max-width: 100%; height: auto"')
    return svg[:m.start()] + size + svg[m.end():]


__all__ = ["EdgeLog", "Captions", "choose_rankdir", "text_width", "fit_width", "PX_PER_PT"]
