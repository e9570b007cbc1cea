"""Op families and their builder functions (one module per family).

``__all__`` is the public API re-exported as ``symgraph.*``; the other names
here (``add_n``, ``getitem``, ``sum_to``, ``as_node``, ``registered_ops``,
``builtin_ops``, ``StopGradient``) are for symgraph's own modules, rules and
tests.
"""

from .base import Op, as_node, builtin_ops, registered_ops
from .control import StopGradient, stop_gradient
from .elementwise import (
    abs, add, add_n, cast, cos, divide, equal, exp, greater, greater_equal, less, less_equal,
    log, maximum, minimum, multiply, negative, not_equal, power, relu, sigmoid, sign, sin, sqrt,
    square, subtract, tan, tanh, where,
)
from .linalg import dot, matmul
from .nn import cross_entropy, log_softmax, one_hot, softmax
from .reduce import logsumexp, max, mean, min, sum
from .shape import broadcast_to, concatenate, getitem, reshape, stack, sum_to, transpose
from .sources import constant, full, ones_like, variable, zeros_like

__all__ = [
    "Op", "stop_gradient",
    "abs", "add", "cast", "cos", "divide", "equal", "exp", "greater", "greater_equal",
    "less", "less_equal", "log", "maximum", "minimum", "multiply", "negative", "not_equal",
    "power", "relu", "sigmoid", "sign", "sin", "sqrt", "square", "subtract", "tan", "tanh",
    "where", "dot", "matmul", "cross_entropy", "log_softmax", "one_hot", "softmax",
    "logsumexp", "max", "mean", "min", "sum", "broadcast_to", "concatenate",
    "reshape", "stack", "transpose", "constant", "full", "ones_like", "variable",
    "zeros_like",
]
