"""Op families and their builder functions (one module per family)."""

import sys

from ..graph import register_builders

from .base import Op, as_node, registered_ops
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
    "Op", "as_node", "registered_ops", "StopGradient", "stop_gradient",
    "abs", "add", "add_n", "cast", "cos", "divide", "equal", "exp", "greater", "greater_equal",
    "less", "less_equal", "log", "maximum", "minimum", "multiply", "negative", "not_equal",
    "power", "relu", "sigmoid", "sign", "sin", "sqrt", "square", "subtract", "tan", "tanh",
    "where", "dot", "matmul", "cross_entropy", "log_softmax", "one_hot", "softmax",
    "logsumexp", "max", "mean", "min", "sum", "broadcast_to", "concatenate", "getitem",
    "reshape", "stack", "sum_to", "transpose", "constant", "full", "ones_like", "variable",
    "zeros_like",
]

register_builders(sys.modules[__name__])  # Node operators (x + y, x.T) build with these
