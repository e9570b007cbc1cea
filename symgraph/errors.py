"""Exception hierarchy: every error symgraph raises on purpose is a SymgraphError."""

from __future__ import annotations


class SymgraphError(Exception):
    """Base class of all errors raised by symgraph."""


class ShapeError(SymgraphError, ValueError):
    """Shapes that do not fit together; the message names both shapes."""


class DTypeError(SymgraphError, TypeError):
    """A dtype that an operation or a feed cannot accept."""


class GraphMismatchError(SymgraphError, ValueError):
    """Nodes from two different graphs were combined."""


class MissingInputError(SymgraphError, LookupError):
    """A variable needed by the requested outputs was not fed; names the variable."""


class UnknownInputError(SymgraphError, LookupError):
    """A feed key that names no variable of the graph."""


class UndefinedGradientError(SymgraphError, NotImplementedError):
    """A derivative was requested through an op that defines none; names the op."""


class EvaluationError(SymgraphError, RuntimeError):
    """An op's numeric implementation failed while evaluating a node."""


class SerializationError(SymgraphError, ValueError):
    """A graph file that cannot be saved or must not be loaded (see ``sg.save``/``sg.load``)."""


class GradientCheckError(SymgraphError, AssertionError):
    """``symgraph.testing.check_grads`` found a derivative that disagrees with finite differences."""


class BackendError(EvaluationError):
    """An op cannot run on the array type it was given (e.g. no dask equivalent); names both."""
