"""Control flow: loops (``scan``, ``while_loop``) and branches (``cond``) over traced bodies.

A body is a function traced once into a graph of its own (``flow.body``); a
loop or branch node runs it, and its derivative rules are loops and branches
over the body's own derivative bodies, so they nest to any order.
"""

from .cond import cond
from .builders import scan, while_loop

__all__ = ["scan", "while_loop", "cond"]
