"""numpy floating-point warnings that name the node which produced them.

numpy reports ``invalid value encountered in log`` at the line of symgraph
that called the ufunc, which tells the user nothing.  While the evaluator or
a compiled function runs, numpy's ``"warn"`` modes are switched to ``"call"``
with :func:`_handler`, which finds the node being computed (the evaluator
loop's ``node``, or the compiled function's current line) and warns with a
``RuntimeWarning`` such as ``invalid value encountered in log: symgraph node
#5 log produced NaN``, located at the user's call (not inside symgraph).  The
message starts as numpy's does, so filters written for numpy's warnings
(``filterwarnings("ignore", "divide by zero")``) still apply.

Nothing is done per node: the mode is set once per run, and the handler only
runs when numpy actually reports something.  Modes the user set to ``"ignore"`` or
``"raise"`` are kept; with ``"call"``/``"log"`` (the user's own handler) or
no ``"warn"`` mode at all, nothing is changed.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import CodeType

import numpy as np

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_GENERATED = "<symgraph function"
_loop_codes: dict[CodeType, str] = {}  # filled by watch()


def _mapped_modes() -> dict[str, str] | None:
    """The current numpy modes with ``warn`` turned into ``call``, or None to leave them."""
    modes = np.geterr()
    if "warn" not in modes.values() or any(m in ("call", "log") for m in modes.values()):
        return None
    return {k: ("call" if m == "warn" else m) for k, m in modes.items()}


def enter() -> np.errstate | None:
    """Start attributing numpy warnings; pass the result to :func:`leave`.

    Public ``np.errstate`` only (about 1.3 us a run, nothing per node): numpy
    keeps its error state in a context variable, so this is thread- and
    task-local.
    """
    modes = _mapped_modes()
    if modes is None:
        return None
    state = np.errstate(call=_handler, **modes)
    state.__enter__()
    return state


def leave(state: np.errstate | None) -> None:
    """Restore the numpy error state :func:`enter` changed."""
    if state is not None:
        state.__exit__(None, None, None)


def watch(code: CodeType, kind: str) -> None:
    """Register a runner's code object so the handler can tell which node runs.

    ``kind`` is ``"loop"`` for a frame with a local ``node`` (the evaluator's
    loop, ``runtime.run_node``) or ``"compiled"`` for a compiled function's
    ``__call__`` (its ``self._line_nodes`` maps generated lines to nodes).
    The runners register themselves on import, so this module imports none
    of them.
    """
    if kind not in ("loop", "compiled"):
        raise ValueError(f"fpwarn.watch: kind must be 'loop' or 'compiled', got {kind!r}")
    _loop_codes[code] = kind


_RESULT = {"divide by zero": "inf", "overflow": "inf", "invalid value": "NaN", "underflow": "0"}


def _handler(err: str, flag: int) -> None:
    """numpy's error callback: warn naming the node, at the user's line."""
    codes = _loop_codes
    frame = sys._getframe(1)
    level, node, where = 2, None, "while evaluating"
    generated = []  # frames of generated code, innermost first
    loop_frame = None
    while frame is not None:
        kind = codes.get(frame.f_code)
        if kind == "loop":
            node = frame.f_locals.get("node")
            loop_frame = frame
            break
        if kind == "compiled":
            fn = frame.f_locals.get("self")
            if generated:
                # the outermost generated line naming a node: a loop's, not its body's; a
                # chunk's statement, not the main function's call of the chunk
                lines = getattr(fn, "_line_nodes", {})
                line = next((g.f_lineno for g in reversed(generated) if g.f_lineno in lines),
                            generated[-1].f_lineno)
                node = lines.get(line)
                where = f"at line {line} of the compiled function's .source"
            break
        if frame.f_code.co_filename.startswith(_GENERATED):
            generated.append(frame)
        frame = frame.f_back
        level += 1
    # the user's line: the first frame outside symgraph beyond the loop
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE_DIR)
                                 or frame.f_code.co_filename.startswith(_GENERATED)):
        frame = frame.f_back
        level += 1
    result = _RESULT.get(err, "a floating-point error")
    if node is not None:
        op = node.op
        label = op.describe()
        shown = op.name if label == op.name else f"{op.name} ({label})"
        here = "body node" if node.graph.parent is not None else "node"
        msg = f"{err} encountered in {op.name}: symgraph {here} #{node.id} {shown} produced {result}"
        outer = _enclosing(loop_frame) if here == "body node" else None
        if outer is not None:
            msg += f" (in the body of {outer.op.name} node #{outer.id})"
    else:
        msg = f"{err} encountered: a symgraph node produced {result} {where}"
    warnings.warn(msg, RuntimeWarning, stacklevel=level)


def _enclosing(frame):
    """The loop or branch node whose body the evaluation loop at ``frame`` is running."""
    frame = frame.f_back if frame is not None else None
    while frame is not None:
        if _loop_codes.get(frame.f_code) == "loop":
            return frame.f_locals.get("node")
        frame = frame.f_back
    return None


__all__ = ["enter", "leave", "watch"]
