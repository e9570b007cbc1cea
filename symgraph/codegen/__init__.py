"""Compilation of graph nodes to numpy source (the machinery behind ``sg.function``).

lower (ir.py, fusion.py) -> schedule and plan memory (schedule.py, remat.py)
-> emit source (emitter.py, literals.py; each op prints itself via ``Op.emit``;
a long function in chunks: chunks.py).  Memory stays linear in the graph: the
program and its plan are freed before the text of a long function compiles.
A loop's or branch's body goes through the same pipeline into a function of
the same source (bodies.py), which the op's own code calls.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..traversal import paused_gc
from ..graph import Node
from .bodies import Planner
from .emitter import EmitContext, Emitted, write_program
from .ir import Program, lower
from .remat import rematerialize
from .schedule import Plan


class Figures:
    """A plan's figures: its estimated peak bytes, workspace bytes and bytes summed over
    steps (the plan itself is freed before the source compiles: it holds every value)."""

    def __init__(self, plan: Plan) -> None:
        self.peak_bytes = plan.peak_bytes
        self.workspace_bytes = plan.workspace_bytes
        self.byte_steps = plan.byte_steps


class Compiled:
    """Everything ``sg.function`` needs from compilation (``plan``: the plan's ``Figures``)."""

    def __init__(self, emitted: Emitted, plan: Figures, recomputed: list[Node]) -> None:
        self.emitted = emitted
        self.plan = plan
        self.recomputed = recomputed


def compile_nodes(inputs: Sequence[Node], outputs: Sequence[Node], *, optimize: bool = True,
                  reuse_buffers: bool = True, memory_budget: int | None = None,
                  check: Callable | None = None, filename: str = "<symgraph>",
                  backend: str = "numpy") -> Compiled:
    """Compile ``outputs`` as a function of ``inputs``.

    ``optimize=False`` turns off fusions and in-place updates (node-by-node
    code, as the diagnostic mode needs); ``reuse_buffers`` keeps temporaries
    in a workspace passed between calls.  ``backend="numba"`` runs elementwise
    regions as kernel calls (``codegen.native``; with ``optimize`` only).
    """
    with paused_gc():
        prog = lower(outputs, inputs, fuse=optimize)
        if backend == "numba" and optimize:
            from .native import fuse_regions

            prog = fuse_regions(prog)
        reuse = optimize and reuse_buffers
        planner = Planner(optimize, reuse)
        if memory_budget is not None:
            plan, copies = rematerialize(prog, int(memory_budget), optimize=optimize, reuse=reuse,
                                         planner=planner)
        else:
            plan, copies = planner.plan(prog), []
        recomputed = [c.node for c in copies]
        plan.drop_planning_state()
        writer = write_program(prog, plan, inputs, outputs, check=check)
        figures = Figures(plan)
        del prog, plan, copies  # a long program's values and plan are freed while it compiles
        writer.release()
        emitted = writer.compile("compiled", filename)
    return Compiled(emitted, figures, recomputed)



__all__ = ["EmitContext", "Compiled", "compile_nodes", "lower", "Program", "Plan"]
