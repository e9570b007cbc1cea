"""Exception hierarchy: every error symgraph raises on purpose is a SymgraphError.

Each class also derives from the builtin exception it refines (a ``ShapeError``
is a ``ValueError``, a ``MissingInputError`` a ``LookupError``, ...), so code
that catches the builtin keeps working.  Errors about a graph's structure are
raised when the node is built, not when it runs.
"""

from __future__ import annotations


class SymgraphError(Exception):
    """Base class of all errors raised by symgraph.

    Raised as itself for misuse that fits no subclass, such as asking a node
    for its truth value (``if x > 0:``; use ``sg.where``, ``sg.cond`` or
    ``sg.while_loop``).

    Examples
    --------
    >>> x = sg.variable("x")
    >>> try:
    ...     sg.exp(x) + sg.variable("y", (2, 3)) @ sg.variable("z", (4,))
    ... except sg.SymgraphError as e:     # catches every symgraph error
    ...     print(type(e).__name__)
    ShapeError
    >>> bool(x > 0)
    Traceback (most recent call last):
    ...
    symgraph.errors.SymgraphError: the truth value of a symbolic Node is undefined; ...
    """


class ShapeError(SymgraphError, ValueError):
    """Shapes that do not fit together; the message names both shapes.

    Raised when a node is built from inputs whose shapes do not broadcast or
    match, and when a fed value has the wrong shape.

    Examples
    --------
    >>> x = sg.variable("x", (3,))
    >>> x + sg.variable("z", (4,))
    Traceback (most recent call last):
    ...
    symgraph.errors.ShapeError: add: shapes (3,) and (4,) cannot be broadcast together
    >>> sg.evaluate(x, {x: np.ones(4)})
    Traceback (most recent call last):
    ...
    symgraph.errors.ShapeError: the value fed for variable 'x' has shape (4,), expected shape (3,)
    """


class DTypeError(SymgraphError, TypeError):
    """A dtype that an operation or a feed cannot accept.

    Raised, for example, when differentiating with respect to an integer node
    (labels and indices have no derivatives) or feeding strings.

    Examples
    --------
    >>> i = sg.variable("i", (), "int64")
    >>> sg.grad(sg.variable("x") * i, i)
    Traceback (most recent call last):
    ...
    symgraph.errors.DTypeError: grad: cannot differentiate with respect to variable 'i' of dtype int64; ...
    """


class GraphMismatchError(SymgraphError, ValueError):
    """Nodes from two different graphs were combined.

    Every node belongs to one graph; an op's inputs must share it.  This
    usually means a node outlived ``sg.reset_default_graph()`` or was made
    inside another ``with Graph():`` block.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> with sg.Graph():
    ...     z = sg.variable("z")
    >>> x + z
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphMismatchError: cannot combine nodes of two graphs: ...
    """


class MissingInputError(SymgraphError, LookupError):
    """A variable needed by the requested outputs was not fed; names the variable.

    Examples
    --------
    >>> x, y = sg.variable("x"), sg.variable("y")
    >>> sg.evaluate(x * y, {x: 2.0})
    Traceback (most recent call last):
    ...
    symgraph.errors.MissingInputError: missing value for variable 'y': ...
    """


class UnknownInputError(SymgraphError, LookupError):
    """A feed key that names no variable of the graph.

    A misspelt name would otherwise be silently ignored.

    Examples
    --------
    >>> x = sg.variable("x")
    >>> sg.evaluate(2 * x, {"x": 1.0, "X": 2.0})
    Traceback (most recent call last):
    ...
    symgraph.errors.UnknownInputError: feed names unknown variable 'X'; the graph's variables are: 'x'
    """


class UndefinedGradientError(SymgraphError, NotImplementedError):
    """A derivative was requested through an op that defines none; names the op.

    Built-in ops all have derivatives (or are declared non-differentiable, with
    zero derivative); a user op needs ``bprop`` (reverse mode) and may add
    ``jvp`` (forward mode).  Raised while building the derivative, before
    anything runs.

    Examples
    --------
    >>> class Floor(sg.Op):
    ...     name = "my_floor"
    ...     def f(self, x):
    ...         return np.floor(x)
    >>> x = sg.variable("x")
    >>> sg.grad(Floor()(x), x)
    Traceback (most recent call last):
    ...
    symgraph.errors.UndefinedGradientError: op 'my_floor' (node #...) defines no bprop, ...
    """


class EvaluationError(SymgraphError, RuntimeError):
    """An op's numeric implementation failed while evaluating a node.

    The message names the node, its op and its inputs' shapes, and the
    original error (chained as ``__cause__``).

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> sg.evaluate(sg.linalg.cholesky(A), {A: -np.eye(2)})
    Traceback (most recent call last):
    ...
    symgraph.errors.EvaluationError: evaluating node #... cholesky ... LinAlgError: Matrix is not positive definite: ...
    """


class SerializationError(SymgraphError, ValueError):
    """A graph file that cannot be saved or must not be loaded (see ``sg.save``/``sg.load``).

    ``sg.load`` treats the file as untrusted: anything malformed, too large or
    naming an op that is neither built in nor registered raises this, before
    any node of the file is made.

    Examples
    --------
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "g.json")
    >>> with open(path, "w") as file:
    ...     json.dump({"format": "something else"}, file)
    >>> sg.load(path)
    Traceback (most recent call last):
    ...
    symgraph.errors.SerializationError: load: not a symgraph file ...
    """


class GradientCheckError(SymgraphError, AssertionError):
    """``symgraph.testing.check_grads`` found a derivative that disagrees with finite differences.

    An ``AssertionError``, so it reads as a test failure in pytest.  The
    message names the mode, the order, the input and the element, with the
    analytic and numeric values.

    Examples
    --------
    >>> class BadSquare(sg.Op):
    ...     name = "bad_square"
    ...     def f(self, x):
    ...         return x ** 2
    ...     def bprop(self, inputs, output, grad):
    ...         return [grad * inputs[0]]          # should be 2 * x
    >>> sg.testing.check_grads(BadSquare(), np.array([1.0, 2.0]), order=1, modes=["rev"])
    Traceback (most recent call last):
    ...
    symgraph.errors.GradientCheckError: check_grads: reverse mode (bprop) of op 'bad_square' disagrees ...
    """


class BackendError(EvaluationError):
    """An op cannot run on the array type it was given (e.g. no dask equivalent); names both.

    Examples
    --------
    >>> import dask.array as da
    >>> v = sg.variable("v", (4,))
    >>> sg.evaluate(sg.sort(v), {v: da.arange(4.0, chunks=2)})
    Traceback (most recent call last):
    ...
    symgraph.errors.BackendError: sort: np.sort has no dask version ...
    """
