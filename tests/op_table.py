"""The test table: what the tests know about each op, keyed by the op's name.

Adding an op to symgraph means adding its entry here and nothing else under
``tests/``: ``test_registry`` fails until every built-in op has one.  An
entry holds

* ``cases``: finite-difference cases, ``{case name: (fn, input arrays)}``;
  ``test_ops_fd`` checks each at orders 1 and 2 and in forward mode, and
  other suites (compile, cse, rewrite, check_grads) run them too;
* ``gen``: how ``graphgen`` draws the op in random programs: ``Unary`` or
  ``Binary`` for a simple elementwise op (its numpy reference and input
  domain), ``Draw`` for any other op (its numpy reference and how to draw its
  parameters and extra operands); the older ops without a ``gen`` are drawn
  by graphgen's own family generators (reductions, shapes, ...);
* ``no_fd`` / ``no_gen`` / ``no_builder``: the reason, when an op cannot have
  cases, cannot be drawn, or has no builder ``symgraph.ops.<name>`` (an
  internal op); ``test_registry`` accepts an exemption only with a reason,
  and only while it is needed.

For example the entry of a new op ``log1p`` would be::

    "log1p": Entry(cases={"log1p": (sg.log1p, [positive(2, 3)])},
                   gen=Unary(np.log1p, domain="positive")),
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special
from hypothesis import strategies as st

import contract_cases
import solve_cases as sv
import eigen_cases
import flow_cases as fc
import svd_cases
import triangular_cases as tri
import matrix_parts_cases as mp
import qr_cases
import sorting_cases as so
import symgraph as sg
import symgraph.ops
from symgraph.ops.matrix_parts import DiagEmbed
from symgraph.ops.shape import ScatterAdd
from symgraph.ops.sorting import PutAlong, TakeAlong

rng = np.random.default_rng(0)


def normal(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape: int) -> np.ndarray:
    return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def apart(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> list[np.ndarray]:
    """Inputs ``a`` (the broadcast shape) and ``b`` at least 0.2 apart everywhere, so
    comparing them gives the same answer under finite-difference steps."""
    b = normal(*shape_b)
    return [b + away_from_zero(*shape_a), b]


Case = tuple[Callable, list[np.ndarray]]


@dataclass(frozen=True)
class Unary:
    """How graphgen draws an elementwise op of one float input.

    ``domain``: "real" (any value), "positive" (inputs made >= 0.1 first: log,
    sqrt), "unit" (inputs squashed into (-0.9, 0.9): arcsin, arctanh),
    "above_one" (inputs made >= 1.1: arccosh), "kink" (a kink at 0: every
    input at least graphgen.MARGIN away from it), "off_integer" (steps at the
    integers: floor, ceil) or "off_half" (steps at the half-integers: round).  ``squash``: inputs larger than this in magnitude go through
    tanh first (exp, tan).  ``build``: the symgraph call, by default the
    builder ``symgraph.ops.<name>``.
    """

    ref: Callable
    domain: str = "real"
    squash: float | None = None
    build: Callable | None = None


@dataclass(frozen=True)
class Binary:
    """How graphgen draws an elementwise op of two inputs (numpy broadcasting).

    ``domain``: "real" (any operands, either may be a Python literal),
    "ties" (operands at least graphgen.MARGIN apart or exactly equal, no
    literals: maximum, minimum), "divisor" (the right operand kept away from
    0), "positive_b" (the right operand made >= 0.1: xlogy), "mod" (a positive
    divisor, the quotient MARGIN away from the integers), "power" (a positive
    base, or an integer exponent) or "comparison" (drawn as the condition of a
    ``where``, its operands MARGIN apart).
    """

    ref: Callable
    domain: str = "real"
    build: Callable | None = None


@dataclass(frozen=True)
class Draw:
    """How graphgen draws any other op: a float operand from the pool, maybe more.

    ``ref(*arrays, **params)`` is the numpy reference.  ``params(draw, *values)``
    draws the op's keyword parameters for these operand values (numpy arrays;
    ``draw`` is hypothesis's) or returns None when the op cannot apply to
    them (wrong rank, ties where the op has a kink, ...).  ``operands(draw,
    value)`` gives the shapes of further float operands for a first operand
    ``value`` (None: the op takes one operand, or cannot apply).
    ``domain``: "real" or "positive" (the first operand made >= 0.1 first).
    ``build(*nodes, **params)``: the symgraph call, by default the builder
    ``symgraph.ops.<name>``.
    """

    ref: Callable
    params: Callable | None = None
    operands: Callable | None = None
    domain: str = "real"
    build: Callable | None = None


@dataclass(frozen=True)
class Entry:
    cases: dict[str, Case] = field(default_factory=dict)
    gen: Unary | Binary | Draw | None = None
    no_fd: str = ""
    no_gen: str = ""
    no_builder: str = ""


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _relu(x):
    return np.maximum(x, 0)


def _identity(x):
    return x


LABELS = np.array([0, 2, 1, 2])
#: inputs of integer casts: every element well away from an integer
OFF_INTEGER = np.array([[-1.7, -0.4, 0.3], [1.4, 2.6, -2.2]])

#: why graphgen draws no loops or branches
FLOW_NO_GEN = ("control flow bodies are Python functions; tests/test_scan.py draws random "
               "bodies")

OPS: dict[str, Entry] = {
    # -- sources -------------------------------------------------------------
    "variable": Entry(),  # every case starts from variables
    "constant": Entry(cases={
        "constant": (lambda a: a * sg.constant(np.arange(3.0)), [normal(2, 3)]),
    }),
    "full": Entry(cases={
        "full": (lambda a: a * sg.full(a.shape[-1:], -1.5, a.dtype), [normal(2, 3)]),
    }),
    "eye": Entry(cases={
        "eye": (lambda a: a @ sg.eye(3, 4, 1) + sg.eye(2, 4, -1, a.dtype), [normal(2, 3)]),
    }),
    "placeholder": Entry(
        no_fd="the seed of a sweep that sg.jacobian/sg.hessian replace with identity or colour "
              "seeds before anything runs; tests/test_jacobians.py exercises them",
        no_gen="made only by transforms, never by a forward program",
        no_builder="internal to symgraph.transforms: a stand-in replaced by vectorize"),
    "pack": Entry(
        no_fd="made only by sg.vectorize through a loop or branch (the batched tuple node), "
              "never by a forward program; tests/test_loops_transforms.py exercises it",
        no_gen="made only by the batching rules of loops and branches",
        no_builder="internal to symgraph.flow.batching: item() of a pack is the packed node"),
    "linearization_point": Entry(
        no_fd="made only by forward-mode rules (autodiff's transposed bprop), never by a "
              "forward program; test_ops_fd's forward-mode checks exercise it",
        no_gen="made only by forward-mode rules, never by a forward program",
        no_builder="internal to symgraph.autodiff: the private zero cotangent of a transposed bprop"),
    # -- elementwise binary, with broadcasting -------------------------------
    "add": Entry(cases={
        "add": (lambda a, b: a + b, [normal(3, 4), normal(4)]),
        "add_broadcast_both": (lambda a, b: sg.add(a, b), [normal(2, 1, 3), normal(4, 3)]),
        "add_scalar_node": (lambda a, b: a + b, [normal(), normal(3)]),
    }, gen=Binary(np.add, build=operator.add)),
    "subtract": Entry(cases={
        "sub": (lambda a, b: a - b, [normal(3, 4), normal(3, 1)]),
        "rsub_python": (lambda a: 2.0 - a, [normal(3)]),
    }, gen=Binary(np.subtract, build=operator.sub)),
    "multiply": Entry(cases={
        "mul": (lambda a, b: a * b, [normal(2, 3), normal(3)]),
    }, gen=Binary(np.multiply, build=operator.mul)),
    "divide": Entry(cases={
        "div": (lambda a, b: a / b, [normal(2, 3), away_from_zero(2, 3)]),
        "rdiv_python": (lambda a: 1.0 / a, [away_from_zero(4)]),
    }, gen=Binary(np.true_divide, "divisor", build=operator.truediv)),
    "power": Entry(cases={
        "pow_nodes": (lambda a, b: a ** b, [positive(3), normal(3)]),
        "pow_int": (lambda a: a ** 3, [normal(2, 2)]),
        "pow_negative": (lambda a: a ** -1.5, [positive(3)]),
        "pow_fractional": (lambda a: sg.power(a, 0.5), [positive(3)]),
        "rpow": (lambda a: 2.0 ** a, [normal(3)]),
    }, gen=Binary(np.power, "power", build=operator.pow)),
    "maximum": Entry(cases={
        "maximum": (lambda a, b: sg.maximum(a, b), [normal(3, 4), normal(4)]),
    }, gen=Binary(np.maximum, "ties")),
    "minimum": Entry(cases={
        "minimum": (lambda a, b: sg.minimum(a, b), [normal(3, 4), normal(3, 1)]),
    }, gen=Binary(np.minimum, "ties")),
    # -- comparisons (no derivative) and where -------------------------------
    "where": Entry(cases={
        "where": (lambda a, b: sg.where(a > 0, a * b, sg.sin(b)), [away_from_zero(3, 4), normal(4)]),
    }),
    "greater": Entry(gen=Binary(np.greater, "comparison", build=operator.gt)),  # in "where"
    "less": Entry(cases={
        "less": (lambda a, b: sg.where(a < b, a * b, b), apart((3, 4), (4,))),
    }, gen=Binary(np.less, "comparison", build=operator.lt)),
    "greater_equal": Entry(cases={
        "greater_equal": (lambda a, b: sg.where(a >= b, sg.exp(a), b), apart((3, 4), (3, 1))),
    }, gen=Binary(np.greater_equal, "comparison")),
    "less_equal": Entry(cases={
        "less_equal": (lambda a, b: sg.where(sg.less_equal(a, b), b, a * a), apart((2, 4), (4,))),
    }, gen=Binary(np.less_equal, "comparison")),
    "equal": Entry(cases={
        "equal": (lambda a, b: sg.where(sg.equal(a, sg.maximum(a, b)), a * b, b), apart((3,), (3,))),
    }, gen=Binary(np.equal, "comparison")),
    "not_equal": Entry(cases={
        "not_equal": (lambda a, b: sg.where(sg.not_equal(a, sg.minimum(a, b)), a, -b),
                      apart((2, 3), (3,))),
    }, gen=Binary(np.not_equal, "comparison")),
    "logical_and": Entry(cases={
        "logical_and": (lambda a, b: sg.where(sg.logical_and(a > 0, b > 0), a * b, a - b),
                        [away_from_zero(3, 4), away_from_zero(4)]),
    }, gen=Binary(np.logical_and, "comparison")),
    "logical_or": Entry(cases={
        "logical_or": (lambda a, b: sg.where((a > 0) | (b < 0), sg.exp(a), b), [away_from_zero(3, 1),
                                                                                away_from_zero(4)]),
    }, gen=Binary(np.logical_or, "comparison")),
    "logical_xor": Entry(cases={
        "logical_xor": (lambda a, b: sg.where(sg.logical_xor(a > 0, b > 0), a, a * b),
                        [away_from_zero(2, 3), away_from_zero(2, 3)]),
    }, gen=Binary(np.logical_xor, "comparison")),
    "logical_not": Entry(cases={
        "logical_not": (lambda a: sg.where(~(a > 0), a * a, -a), [away_from_zero(2, 3)]),
    }, gen=Unary(np.logical_not, "kink")),
    "isnan": Entry(cases={"isnan": (lambda a: sg.where(sg.isnan(a), 0.0, a * a), [normal(2, 3)])},
                   gen=Unary(np.isnan)),
    "isinf": Entry(cases={"isinf": (lambda a: sg.where(sg.isinf(a), 1.0, sg.sin(a)), [normal(3)])},
                   gen=Unary(np.isinf)),
    "isfinite": Entry(cases={
        "isfinite": (lambda a: sg.where(sg.isfinite(a), a * 2.0, 0.0), [normal(3)]),
    }, gen=Unary(np.isfinite)),
    # -- elementwise unary ---------------------------------------------------
    "negative": Entry(cases={"neg": (lambda a: -a, [normal(2, 3)])},
                      gen=Unary(np.negative, build=operator.neg)),
    "exp": Entry(cases={"exp": (sg.exp, [normal(2, 3)])}, gen=Unary(np.exp, squash=3.0)),
    "log": Entry(cases={"log": (sg.log, [positive(2, 3)])}, gen=Unary(np.log, "positive")),
    "log1p": Entry(cases={"log1p": (sg.log1p, [positive(2, 3)]),
                          "log1p_tiny": (sg.log1p, [1e-3 * normal(2, 3)])},
                   gen=Unary(np.log1p, "positive")),
    "sin": Entry(cases={"sin": (sg.sin, [normal(2, 3)])}, gen=Unary(np.sin)),
    "cos": Entry(cases={"cos": (sg.cos, [normal(2, 3)])}, gen=Unary(np.cos)),
    "tan": Entry(cases={"tan": (sg.tan, [rng.uniform(-1.2, 1.2, (2, 3))])},
                 gen=Unary(np.tan, squash=1.2)),
    "tanh": Entry(cases={"tanh": (sg.tanh, [normal(2, 3)])}, gen=Unary(np.tanh)),
    "sigmoid": Entry(cases={"sigmoid": (sg.sigmoid, [normal(2, 3) * 3])}, gen=Unary(_sigmoid)),
    "relu": Entry(cases={"relu": (sg.relu, [away_from_zero(2, 3)])}, gen=Unary(_relu, "kink")),
    "abs": Entry(cases={"abs": (sg.abs, [away_from_zero(2, 3)])},
                 gen=Unary(np.abs, "kink", build=abs)),
    "sqrt": Entry(cases={"sqrt": (sg.sqrt, [positive(2, 3)])}, gen=Unary(np.sqrt, "positive")),
    "square": Entry(cases={"square": (sg.square, [normal(2, 3)])}, gen=Unary(np.square)),
    "sign": Entry(cases={"sign": (lambda a, b: sg.sign(a) * b, [away_from_zero(2, 3), normal(3)])},
                  gen=Unary(np.sign, "kink")),
    "stop_gradient": Entry(cases={
        # finite differences cannot see a stopped gradient, so stop a locally constant value
        "stop_gradient": (lambda a: a * sg.stop_gradient(sg.sign(a)), [away_from_zero(2, 3)]),
    }, gen=Unary(_identity)),
    "cast": Entry(cases={  # graphgen's gen_cast draws it (it takes a dtype)
        "cast_wider_and_back": (lambda a: sg.cast(sg.cast(a, np.longdouble), a.dtype) * a,
                                [normal(2, 3)]),
        "cast_int": (lambda a: a * sg.cast(sg.cast(a, "int64"), a.dtype), [OFF_INTEGER]),
        "cast_bool": (lambda a: sg.cast(a > 0, a.dtype) * a, [away_from_zero(4)]),
    }),
    "add_n": Entry(cases={
        "add_n": (lambda a, b: sg.add_n([a, b, a * b]), [normal(3), normal(3)]),
    }),
    # -- reductions ----------------------------------------------------------
    "sum": Entry(cases={
        "sum_all": (lambda a: sg.sum(a), [normal(2, 3, 4)]),
        "sum_axis": (lambda a: a.sum(axis=1), [normal(2, 3, 4)]),
        "sum_axes_keepdims": (lambda a: sg.sum(a, axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
    }),
    "mean": Entry(cases={
        "mean_all": (lambda a: a.mean(), [normal(2, 3, 4)]),
        "mean_axis_neg": (lambda a: sg.mean(a, axis=-1), [normal(2, 3, 4)]),
    }),
    "max": Entry(cases={
        "max_all": (lambda a: a.max(), [normal(2, 3, 4)]),
        "max_axis": (lambda a: sg.max(a, axis=1, keepdims=True), [normal(2, 3, 4)]),
    }),
    "min": Entry(cases={"min_axes": (lambda a: sg.min(a, axis=(0, 2)), [normal(2, 3, 4)])}),
    "logsumexp": Entry(cases={
        "logsumexp_all": (lambda a: sg.logsumexp(a), [normal(3, 4)]),
        "logsumexp_axis": (lambda a: sg.logsumexp(a, axis=1, keepdims=True), [normal(3, 4)]),
    }),
    # -- linear algebra ------------------------------------------------------
    "matmul": Entry(cases={
        "matmul_mm": (lambda a, b: a @ b, [normal(3, 4), normal(4, 2)]),
        "matmul_vm": (lambda a, b: a @ b, [normal(4), normal(4, 2)]),
        "matmul_mv": (lambda a, b: sg.matmul(a, b), [normal(3, 4), normal(4)]),
        "matmul_vv": (lambda a, b: a @ b, [normal(4), normal(4)]),
        "matmul_batched": (lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 5)]),
        "matmul_batch_broadcast": (lambda a, b: a @ b, [normal(2, 1, 3, 4), normal(5, 4, 2)]),
        "matmul_vector_batch": (lambda a, b: a @ b, [normal(4), normal(2, 4, 3)]),
        "matmul_matrix_stack": (lambda a, b: a @ b, [normal(3, 4), normal(2, 4, 5)]),
        "rmatmul_array": (lambda a: np.arange(6.0).reshape(2, 3) @ a, [normal(3, 2)]),
        "dot_vv": (lambda a, b: sg.dot(a, b), [normal(3), normal(3)]),
        "dot_mv": (lambda a, b: sg.dot(a, b), [normal(2, 3), normal(3)]),
    }),
    # -- shapes --------------------------------------------------------------
    "transpose": Entry(cases={
        "transpose": (lambda a: sg.transpose(a, (1, 0, 2)), [normal(2, 3, 4)]),
        "T": (lambda a: a.T, [normal(2, 3)]),
    }),
    "reshape": Entry(cases={
        "reshape": (lambda a: a.reshape(3, 4), [normal(2, 6)]),
        "reshape_minus1": (lambda a: sg.reshape(a, (-1,)), [normal(2, 3)]),
    }),
    "broadcast_to": Entry(cases={
        "broadcast_to": (lambda a: sg.broadcast_to(a, (2, 3, 4)), [normal(3, 1)]),
        "broadcast_to_from_scalar": (lambda a: sg.broadcast_to(a, (2, 3)), [normal()]),
    }),
    "sum_to": Entry(cases={
        "sum_to": (lambda a: sg.sum_to(a, (3, 1)), [normal(2, 3, 4)]),
        "sum_to_scalar": (lambda a: sg.sum_to(a, ()), [normal(2, 3)]),
        "sum_to_inner_one": (lambda a: sg.sum_to(a, (2, 1, 4)), [normal(2, 3, 4)]),
    }),
    "concatenate": Entry(cases={
        "concatenate0": (lambda a, b: sg.concatenate([a, b], axis=0), [normal(2, 3), normal(1, 3)]),
        "concatenate1": (lambda a, b: sg.concatenate([a, b, a], axis=1), [normal(2, 3), normal(2, 2)]),
    }),
    "stack": Entry(cases={
        "stack": (lambda a, b: sg.stack([a, b], axis=1), [normal(2, 3), normal(2, 3)]),
        "stack_last_three": (lambda a, b: sg.stack([a, b, a], axis=-1), [normal(2, 3), normal(2, 3)]),
    }),
    "getitem": Entry(cases={
        "getitem_int": (lambda a: a[1], [normal(3, 4)]),
        "getitem_slice": (lambda a: a[:, 1:3], [normal(3, 4)]),
        "getitem_step_negative": (lambda a: a[::-2, -1], [normal(5, 4)]),
        "getitem_none_ellipsis": (lambda a: a[None, ..., 0], [normal(2, 3, 4)]),
        "getitem_int_array_repeats": (lambda a: a[np.array([0, 2, 2, 1])], [normal(3, 4)]),
        "getitem_int_arrays_2d": (lambda a: a[np.array([[0, 1], [1, 0]]), 1:], [normal(2, 3)]),
        "getitem_bool_mask": (lambda a: a[np.array([True, False, True])], [normal(3, 2)]),
        # integer arrays separated by a slice: numpy moves their axes to the front
        "getitem_arrays_separated": (lambda a: a[np.array([0, 2]), :, np.array([1, -1])],
                                     [normal(3, 2, 4)]),
        "getitem_int_and_array_separated": (lambda a: a[1, :, np.array([[0, 3], [2, 2]])],
                                            [normal(2, 3, 4)]),
        "getitem_arrays_around_none": (lambda a: a[np.array([0, 1]), None, np.array([1, 1])],
                                       [normal(3, 2, 4)]),
        "getitem_array_after_ellipsis": (lambda a: a[..., np.array([2, 0, 2])], [normal(2, 3, 4)]),
    }),
    "scatter_add": Entry(no_builder="internal: getitem's adjoint, made by its bprop", cases={
        "scatter_add_basic": (lambda a: ScatterAdd((slice(None), 1), (2, 3))(a), [normal(2)]),
        "scatter_add_repeats": (lambda a: ScatterAdd((np.array([0, 2, 2]), slice(1, 3)), (3, 4))(a),
                                [normal(3, 2)]),
        "scatter_add_separated": (lambda a: ScatterAdd((np.array([0, 2, 0]), slice(None), 1),
                                                       (3, 2, 4))(a), [normal(3, 2)]),
    }),
    # -- neural-network ops --------------------------------------------------
    "softmax": Entry(cases={
        "softmax": (lambda a: sg.softmax(a), [normal(4, 3)]),
        "softmax_axis0": (lambda a: sg.softmax(a, axis=0), [normal(4, 3)]),
        "softmax_middle_nd": (lambda a: sg.softmax(a, axis=1), [normal(2, 3, 4)]),
    }),
    "log_softmax": Entry(cases={"log_softmax": (lambda a: sg.log_softmax(a, axis=-1), [normal(4, 3)])}),
    "cross_entropy": Entry(cases={
        "cross_entropy_mean": (lambda a: sg.cross_entropy(a, LABELS), [normal(4, 3)]),
        "cross_entropy_sum": (lambda a: sg.cross_entropy(a, LABELS, reduction="sum"), [normal(4, 3)]),
        "cross_entropy_none": (lambda a: sg.cross_entropy(a, LABELS, reduction="none"), [normal(4, 3)]),
        "cross_entropy_nd_mean": (lambda a: sg.cross_entropy(a, np.array([[0, 2], [1, 1]])),
                                  [normal(2, 2, 3)]),
        "cross_entropy_one_example_sum": (lambda a: sg.cross_entropy(a, np.array(2), "sum"),
                                          [normal(3)]),
    }),
    "one_hot": Entry(cases={
        "one_hot": (lambda a: a * sg.one_hot(LABELS, 3, a.dtype), [normal(4, 3)]),
    }),

    # -- transcendental and special functions (symgraph/ops/transcendental.py) ----
    "expm1": Entry(cases={"expm1": (sg.expm1, [normal(2, 3)]),
                          "expm1_tiny": (sg.expm1, [1e-3 * normal(2, 3)])},
                   gen=Unary(np.expm1, squash=3.0)),
    "log2": Entry(cases={"log2": (sg.log2, [positive(2, 3)])}, gen=Unary(np.log2, "positive")),
    "log10": Entry(cases={"log10": (sg.log10, [positive(2, 3)])}, gen=Unary(np.log10, "positive")),
    "exp2": Entry(cases={"exp2": (sg.exp2, [normal(2, 3)])}, gen=Unary(np.exp2, squash=4.0)),
    # a divisor-like pole at 0: graphgen's "positive" keeps inputs >= 0.1 (Unary has no
    # "away from zero" domain; "kink" allows |x| = 1e-3, where 1/x leaves BOUND)
    # infinite derivative at 0: cases away from it, graphgen's inputs >= 0.1
    "cbrt": Entry(cases={"cbrt": (sg.cbrt, [away_from_zero(2, 3)]),
                         "cbrt_broadcast": (lambda a, b: sg.cbrt(a * b), [away_from_zero(2, 1),
                                                                          positive(3) * 4])},
                  gen=Unary(np.cbrt, "positive")),
    "reciprocal": Entry(cases={"reciprocal": (sg.reciprocal, [away_from_zero(2, 3)])},
                        gen=Unary(np.reciprocal, "positive")),
    "sinh": Entry(cases={"sinh": (sg.sinh, [normal(2, 3)])}, gen=Unary(np.sinh, squash=3.0)),
    "cosh": Entry(cases={"cosh": (sg.cosh, [normal(2, 3)])}, gen=Unary(np.cosh, squash=3.0)),
    "arcsin": Entry(cases={"arcsin": (sg.arcsin, [rng.uniform(-0.9, 0.9, (2, 3))])},
                    gen=Unary(np.arcsin, "unit")),
    "arccos": Entry(cases={"arccos": (sg.arccos, [rng.uniform(-0.9, 0.9, (2, 3))])},
                    gen=Unary(np.arccos, "unit")),
    "arctan": Entry(cases={"arctan": (sg.arctan, [2 * normal(2, 3)])}, gen=Unary(np.arctan)),
    "arcsinh": Entry(cases={"arcsinh": (sg.arcsinh, [2 * normal(2, 3)])}, gen=Unary(np.arcsinh)),
    "arccosh": Entry(cases={"arccosh": (sg.arccosh, [rng.uniform(1.1, 3.0, (2, 3))])},
                     gen=Unary(np.arccosh, "above_one")),
    "arctanh": Entry(cases={"arctanh": (sg.arctanh, [rng.uniform(-0.9, 0.9, (2, 3))])},
                     gen=Unary(np.arctanh, "unit")),
    "erf": Entry(cases={"erf": (sg.erf, [normal(2, 3)])}, gen=Unary(scipy.special.erf)),
    "erfc": Entry(cases={"erfc": (sg.erfc, [normal(2, 3)]),
                         "erfc_tail": (sg.erfc, [rng.uniform(3.0, 5.0, (4,))])},
                  gen=Unary(scipy.special.erfc)),
    "gammaln": Entry(cases={"gammaln": (sg.gammaln, [positive(2, 3)]),
                            "gammaln_large": (sg.gammaln, [rng.uniform(20.0, 60.0, (4,))])},
                     gen=Unary(scipy.special.gammaln, "positive")),
    "digamma": Entry(cases={"digamma": (sg.digamma, [positive(2, 3)])},
                     gen=Unary(scipy.special.digamma, "positive")),
    "polygamma": Entry(cases={
        "polygamma1": (lambda a: sg.polygamma(1, a), [positive(2, 3)]),
        "polygamma3_broadcast": (lambda a, b: sg.polygamma(3, a + b), [positive(2, 1), positive(3)]),
    }, gen=Draw(lambda x, n: scipy.special.polygamma(n, x), domain="positive",
                params=lambda draw, x: {"n": draw(st.integers(1, 3))},
                build=lambda x, n: sg.polygamma(n, x))),
    # (end of transcendental and special functions)

    # -- stable functions (symgraph/ops/stable.py) --------------------------------
    # every case also far out, where the composed formulas overflow or cancel
    "softplus": Entry(cases={
        "softplus": (sg.softplus, [normal(2, 3) * 3]),
        "softplus_far": (sg.softplus, [np.array([-40.0, -25.0, 20.0, 45.0])]),
    }, gen=Unary(lambda x: np.logaddexp(0, x))),
    "log_sigmoid": Entry(cases={
        "log_sigmoid": (sg.log_sigmoid, [normal(2, 3) * 3]),
        "log_sigmoid_far": (sg.log_sigmoid, [np.array([-45.0, -20.0, 25.0, 40.0])]),
    }, gen=Unary(lambda x: -np.logaddexp(0, -x))),
    "logaddexp": Entry(cases={
        "logaddexp": (sg.logaddexp, [normal(3, 4), normal(4)]),
        "logaddexp_far": (sg.logaddexp, [np.array([20.0, -25.0, 35.0]), np.array([0.5, 1.0, -10.0])]),
        "logaddexp_python": (lambda a: sg.logaddexp(1.5, a), [normal(3)]),
    }, gen=Binary(np.logaddexp)),
    "logaddexp2": Entry(cases={
        "logaddexp2": (sg.logaddexp2, [normal(2, 3), normal(2, 1) * 4]),
    }, gen=Binary(np.logaddexp2)),
    "xlogy": Entry(cases={
        "xlogy": (sg.xlogy, [normal(2, 3), positive(3)]),
        "xlogy_zero_x": (sg.xlogy, [np.array([0.0, 1.5, -0.5, 0.0]), positive(4)]),
    }, gen=Binary(lambda x, y: x * np.log(y), "positive_b")),
    "hypot": Entry(cases={
        "hypot": (sg.hypot, [normal(3, 4), away_from_zero(4)]),
    }, gen=Binary(np.hypot, "positive_b")),
    "arctan2": Entry(cases={  # every quadrant, away from the cut at a == 0 > b
        "arctan2": (sg.arctan2, [away_from_zero(3, 4), away_from_zero(3, 4)]),
        "arctan2_broadcast": (lambda a, b: sg.arctan2(a, b), [away_from_zero(2, 3), positive(3)]),
    }, gen=Binary(np.arctan2, "positive_b")),
    # (end of stable functions)

    # -- piecewise functions (symgraph/ops/piecewise.py) --------------------------
    # inputs at fixed points well away from every step, bound and tie
    "floor": Entry(cases={"floor": (lambda a: sg.floor(a) * a, [OFF_INTEGER])},
                   gen=Unary(np.floor, "off_integer")),
    "ceil": Entry(cases={"ceil": (lambda a, b: sg.ceil(a) * b + a, [OFF_INTEGER, normal(3)])},
                  gen=Unary(np.ceil, "off_integer")),
    "round": Entry(cases={
        "round": (lambda a: sg.round(a) * a, [OFF_INTEGER]),
        "round_decimals": (lambda a: sg.round(a, 1) * a + sg.round(a, -1) * a,
                           [np.array([[-1.23, 0.31, 2.77], [14.02, -6.11, 0.49]])]),
    }, gen=Draw(np.round, params=__import__("piecewise_draws").round_params)),
    "mod": Entry(cases={
        "mod": (sg.mod, [np.array([[-3.7, 2.2, 5.3], [0.4, -1.1, 7.9]]), np.array([1.5, -0.7, 2.3])]),
        "mod_python": (lambda a: sg.mod(a, 2.5), [np.array([[-3.7, 2.2, 5.3], [0.4, -1.1, 7.9]])]),
    }, gen=Binary(np.mod, "mod")),
    "fmax": Entry(cases={"fmax": (sg.fmax, apart((3, 4), (4,)))}, gen=Binary(np.fmax, "ties")),
    "fmin": Entry(cases={"fmin": (sg.fmin, apart((2, 3), (2, 1)))}, gen=Binary(np.fmin, "ties")),
    "clip": Entry(cases={  # x, bounds as numbers, None, nodes broadcasting; a_min > a_max in row 3
        "clip_numbers": (lambda a: sg.clip(a, -0.5, 0.8), [np.linspace(-2, 2, 12).reshape(3, 4) + 0.013]),
        "clip_min_only": (lambda a: sg.clip(a, -0.5, None), [np.linspace(-2, 2, 6) + 0.013]),
        "clip_max_only": (lambda a: sg.clip(a, None, 0.8), [np.linspace(-2, 2, 6) + 0.013]),
        "clip_nodes": (sg.clip, [np.linspace(-2, 2, 12).reshape(3, 4) + 0.013,
                                 np.array([-0.7, -1.1, 0.1, -0.3]), np.array([[0.6], [1.2], [-0.05]])]),
    }, gen=Draw(**__import__("piecewise_draws").CLIP)),
    # (end of piecewise functions)

    # -- reductions: prod, var, std, argmax, argmin (symgraph/ops/reduce.py) ------
    # (their graphgen parameters: tests/reductions_draw.py; rows of WITH_ZEROS hold 0..3 zeros)
    "prod": Entry(cases={
        "prod_all": (lambda a: sg.prod(a), [positive(2, 3)]),
        "prod_axis": (lambda a: sg.prod(a, axis=1), [normal(2, 3, 4)]),
        "prod_axes_keepdims_neg": (lambda a: sg.prod(a, axis=(0, -1), keepdims=True),
                                   [normal(2, 3, 4)]),
        "prod_zeros_rows": (lambda a: sg.prod(a, axis=-1), [np.array(
            [[1.3, -0.7, 0.9, 1.1], [0.8, 0.0, -1.2, 1.4], [0.0, 1.5, 0.0, -0.6],
             [0.0, 0.0, 0.7, 0.0]])]),
        "prod_zeros_columns": (lambda a: sg.prod(a, axis=0, keepdims=True), [np.array(
            [[1.3, 0.0, 0.0], [0.8, -1.1, 0.0], [-0.9, 1.2, 0.5]])]),
        "prod_zeros_all": (lambda a: sg.prod(a), [np.array([[1.2, 0.0], [-0.8, 1.5]])]),
    }, gen=Draw(np.prod, params=__import__("reductions_draw").reduce_params)),
    "var": Entry(cases={
        "var_all": (lambda a: sg.var(a), [normal(3, 4)]),
        "var_axis_ddof1": (lambda a: sg.var(a, axis=1, ddof=1), [normal(2, 3, 4)]),
        "var_axes_keepdims_neg": (lambda a: sg.var(a, axis=(0, -1), keepdims=True),
                                  [normal(2, 3, 4)]),
        "std_axis": (lambda a: sg.std(a, axis=0, ddof=1), [normal(4, 3)]),
    }, gen=Draw(np.var, params=__import__("reductions_draw").var_params)),
    "argmax": Entry(cases={  # no gradient: it picks which elements the output scales
        "argmax_axis": (lambda a: a * sg.cast(sg.argmax(a, axis=1, keepdims=True), a.dtype),
                        [normal(3, 4)]),
        "argmax_flat": (lambda a: a * sg.cast(sg.argmax(a), a.dtype), [normal(2, 3)]),
    }, gen=Draw(np.argmax, params=__import__("reductions_draw").arg_params(True))),
    "argmin": Entry(cases={
        "argmin_axis_neg": (lambda a: a * sg.cast(sg.argmin(a, axis=-2), a.dtype), [normal(3, 4)]),
    }, gen=Draw(np.argmin, params=__import__("reductions_draw").arg_params(False))),
    # (end of reductions: prod, var, std, argmax, argmin)

    # -- cumulative: cumsum, cumprod, diff (symgraph/ops/cumulative.py) -----------
    "cumsum": Entry(cases={
        "cumsum_flat": (lambda a: sg.cumsum(a), [normal(2, 3)]),
        "cumsum_axis": (lambda a: sg.cumsum(a, axis=1), [normal(2, 3, 4)]),
        "cumsum_axis_neg": (lambda a: sg.cumsum(a, axis=-3), [normal(2, 3, 4)]),
    }, gen=Draw(np.cumsum, params=__import__("reductions_draw").scan_params)),
    "cumprod": Entry(cases={
        "cumprod_flat": (lambda a: sg.cumprod(a), [normal(2, 3)]),
        "cumprod_axis": (lambda a: sg.cumprod(a, axis=1), [normal(2, 5, 3)]),
        "cumprod_zeros_rows": (lambda a: sg.cumprod(a, axis=-1), [np.array(
            [[1.3, -0.7, 0.9, 1.1, 0.6], [0.8, 0.0, -1.2, 1.4, 0.9], [0.0, 1.5, 0.0, -0.6, 1.1],
             [1.1, 0.0, 0.0, 0.7, 0.0]])]),
        "cumprod_zeros_axis0": (lambda a: sg.cumprod(a, axis=0), [np.array(
            [[0.0, 1.2], [1.3, 0.0], [-0.7, 0.0]])]),
        # diff is a composition (getitem, subtract, concatenate): its own cases are in
        # tests/test_reductions_breadth.py
    }, gen=Draw(np.cumprod, params=__import__("reductions_draw").scan_params)),
    # (end of cumulative: cumsum, cumprod, diff)

    # -- norms (symgraph/ops/norms.py) --------------------------------------------
    # (end of norms)

    # -- contractions (symgraph/ops/contract.py) ----------------------------------
    "einsum": Entry(cases={
        "einsum_matmul": (lambda a, b: sg.einsum("ij,jk->ik", a, b), [normal(2, 3), normal(3, 4)]),
        "einsum_diagonal": (lambda a: sg.einsum("ii->i", a), [normal(3, 3)]),
        "einsum_trace": (lambda a: sg.einsum("ii", a), [normal(3, 3)]),
        "einsum_diagonal_3": (lambda a: sg.einsum("iii->i", a), [normal(3, 3, 3)]),
        "einsum_diagonal_summed": (lambda a: sg.einsum("iij->j", a), [normal(3, 3, 2)]),
        "einsum_diagonal_times": (lambda a, b: sg.einsum("ijj,jk->ik", a, b),
                                  [normal(2, 3, 3), normal(3, 4)]),
        "einsum_batch_broadcast": (lambda a, b: sg.einsum("...ij,...jk->...ik", a, b),
                                   [normal(2, 1, 3, 4), normal(5, 4, 2)]),
        "einsum_size1_broadcast": (lambda a, b: sg.einsum("ij,ij->ij", a, b),
                                   [normal(1, 3), normal(4, 3)]),
        "einsum_ellipsis_sum": (lambda a: sg.einsum("i...->...", a), [normal(3, 2, 2)]),
        "einsum_vdot": (lambda a, b: sg.einsum("i,i->", a, b), [normal(4), normal(4)]),
        "einsum_sum_all": (lambda a: sg.einsum("ij->", a), [normal(2, 3)]),
        "einsum_transpose": (lambda a: sg.einsum("ijk->kji", a), [normal(2, 3, 4)]),
        "einsum_implicit": (lambda a, b: sg.einsum("jB,iB", a, b), [normal(2, 3), normal(4, 3)]),
        "einsum_only_in_one": (lambda a, b: sg.einsum("ij,k->ik", a, b), [normal(2, 3), normal(4)]),
        "einsum_three": (lambda a, b, c: sg.einsum("ij,jk,kl->il", a, b, c),
                         [normal(2, 3), normal(3, 4), normal(4, 2)]),
        "einsum_shared_by_three": (lambda a, b, c: sg.einsum("ij,ik,il->jkl", a, b, c),
                                   [normal(3, 2), normal(3, 2), normal(3, 4)]),
        "einsum_scalars": (lambda a, b: sg.einsum(",->", a, b), [normal(), normal()]),
        "einsum_scalar_vector": (lambda a, b: sg.einsum(",i->i", a, b), [normal(), normal(3)]),
        "einsum_same_operand": (lambda a: sg.einsum("ij,ij->", a, a), [normal(2, 3)]),
        "einsum_sublists": (lambda a, b: sg.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                            [normal(2, 3), normal(3, 2)]),
        "tensordot_2": (lambda a, b: sg.tensordot(a, b), [normal(2, 3, 4), normal(3, 4, 2)]),
        "tensordot_pairs": (lambda a, b: sg.tensordot(a, b, ([0, 2], [2, 0])),
                            [normal(2, 3, 4), normal(4, 2, 2)]),
        "outer": (lambda a, b: sg.outer(a, b), [normal(2, 2), normal(3)]),
        "inner_nd": (lambda a, b: sg.inner(a, b), [normal(2, 3), normal(2, 2, 3)]),
        "kron": (lambda a, b: sg.kron(a, b), [normal(2, 3), normal(3)]),
        "dot_nd": (lambda a, b: sg.dot(a, b), [normal(2, 3), normal(2, 3, 2)]),
    }, gen=Draw(contract_cases.ref, params=contract_cases.params, operands=contract_cases.operands,
                build=contract_cases.build)),
    # (end of contractions)

    # -- rearranging (symgraph/ops/rearrange.py) ----------------------------------
    # (end of rearranging)

    # -- sources: zeros, ones, eye, arange, linspace (symgraph/ops/sources.py) ----
    # (end of sources: zeros, ones, eye, arange, linspace)

    # -- parts of matrices (symgraph/ops/matrix_parts.py) -------------------------
    "diagonal": Entry(cases={  # diag of a matrix and trace are diagonals too
        "diagonal": (sg.diagonal, [normal(3, 4)]),
        "diagonal_offset_axes_nd": (lambda a: sg.diagonal(a, 1, 2, 0), [normal(2, 3, 4)]),
        "diagonal_negative": (lambda a: sg.diagonal(a, -1, -1, -2), [normal(2, 4, 3)]),
        "diagonal_of_product": (lambda a: sg.diagonal(a @ a.T, 1), [normal(3, 2)]),
        "diag_of_matrix": (lambda a: sg.diag(a, -1), [normal(3, 4)]),
        "trace": (sg.trace, [normal(3, 3)]),
        "trace_offset_nd": (lambda a: sg.trace(sg.sin(a), -1, 1, 2), [normal(2, 3, 4)]),
    }, gen=Draw(np.diagonal, params=mp.diagonal_params)),
    "diag_embed": Entry(no_builder="internal: diagonal's adjoint (sg.diag of a vector makes one)",
                        cases={
        "diag_of_vector": (sg.diag, [normal(3)]),
        "diag_of_vector_k": (lambda a: sg.diag(a, 2) * sg.diag(a, 2), [normal(3)]),
        "diag_of_vector_negative_k": (lambda a: sg.diag(sg.tanh(a), -1), [normal(2)]),
        "diag_embed_nd": (lambda a: DiagEmbed((2, 4, 3), -1, 2, 1)(a), [normal(2, 2)]),
    }, gen=Draw(mp.np_diag_embed, params=mp.diag_embed_params,
                build=lambda g, **p: DiagEmbed(**p)(g))),
    "triu": Entry(cases={
        "triu": (sg.triu, [normal(3, 4)]),
        "triu_k_nd": (lambda a: sg.triu(a * a, -1), [normal(2, 3, 4)]),
        "triu_vector": (lambda a: sg.triu(a, 1), [normal(3)]),
    }, gen=Draw(np.triu, params=mp.triangle_params)),
    "tril": Entry(cases={
        "tril": (sg.tril, [normal(4, 3)]),
        "tril_k_nd": (lambda a: sg.tril(sg.exp(a), 2), [normal(2, 3, 4)]),
    }, gen=Draw(np.tril, params=mp.triangle_params)),
    # (end of parts of matrices)

    # -- sorting (symgraph/ops/sorting.py) ----------------------------------------
    "sort": Entry(cases={
        "sort": (sg.sort, [so.distinct(3, 4)]),
        "sort_axis0_nd": (lambda a: sg.sort(a, axis=0), [so.distinct(3, 2, 2)]),
        "sort_flattened": (lambda a: sg.sort(a, axis=None), [so.distinct(2, 3)]),
        "sort_of_sin": (lambda a: sg.sort(sg.sin(a), axis=-2), [so.distinct(4, 2)]),
    }, gen=Draw(np.sort, params=so.sort_params)),
    "argsort": Entry(cases={
        "argsort_weights": (lambda a: a * sg.cast(sg.argsort(a, axis=0), a.dtype),
                            [so.distinct(3, 2)]),
    }, gen=Draw(so.np_argsort, params=so.sort_params)),
    "take_along": Entry(no_builder="internal: sort's jvp and put_along's adjoint", cases={
        "take_along": (lambda a: TakeAlong(1)(a, np.array([[0, 2, 2, -1], [1, 0, 1, 2]])),
                       [normal(2, 3)]),
        "take_along_argsort": (lambda a: TakeAlong(0)(a * a, sg.argsort(sg.cos(a), axis=0)),
                               [so.distinct(3, 2)]),
    }, gen=Draw(lambda x, indices, axis: np.take_along_axis(x, indices, axis),
                params=so.take_along_params,
                build=lambda x, indices, axis: TakeAlong(axis)(x, indices))),
    "put_along": Entry(no_builder="internal: sort's bprop and take_along's adjoint", cases={
        "put_along_repeats": (lambda a: PutAlong(0, (2, 3))(a, np.array([[0, 1, 1], [0, 1, 0],
                                                                         [-1, 0, 1]])),
                              [normal(3, 3)]),
    }, gen=Draw(so.np_put_along, params=so.put_along_params,
                build=lambda g, indices, axis, shape: PutAlong(axis, shape)(g, indices))),
    # (end of sorting)

    # -- decompositions (symgraph/ops/linalg.py) ----------------------------------
    "svd": Entry(
        cases={
            "svdvals_tall": (sg.svdvals, [svd_cases.separated(4, 3)]),
            "svdvals_wide_batched": (sg.svdvals, [svd_cases.separated(2, 3, 5)]),
            "svdvals_nuclear_norm": (lambda a: sg.sum(sg.svdvals(a)), [svd_cases.separated(3, 3)]),
            # u and vh only through functions that a sign flip of a singular pair cannot change
            "svd_u_squared_tall": (lambda a: svd_cases.invariant(a, "u"), [svd_cases.separated(4, 3)]),
            "svd_u_squared_wide": (lambda a: svd_cases.invariant(a, "u"), [svd_cases.separated(3, 4)]),
            "svd_vh_squared_tall": (lambda a: svd_cases.invariant(a, "vh"),
                                    [svd_cases.separated(4, 2)]),
            "svd_vh_squared_wide_batched": (lambda a: svd_cases.invariant(a, "vh"),
                                            [svd_cases.separated(2, 2, 4)]),
            "svd_projection_tall": (svd_cases.u_projection, [svd_cases.separated(5, 3)]),
            "svd_reconstruct_batched": (svd_cases.reconstruct, [svd_cases.separated(2, 3, 3)]),
        },
        gen=Draw(svd_cases.np_invariant, params=svd_cases.params, build=svd_cases.invariant)),
    "factorization": Entry(
        no_builder="internal: sg.linalg.svd, eigh and qr build it (every part from one LAPACK call)",
        cases={
            "svd_parts_shared": (lambda a: svd_cases.reconstruct(a) + svd_cases.u_projection(a),
                                 [svd_cases.separated(2, 3, 3)]),
            "eigh_parts_shared": (lambda a: sg.linalg.eigh(a).eigenvectors ** 2
                                  * sg.linalg.eigh(a).eigenvalues[..., None, :],
                                  [tri.spd(2, 3, 3)]),
            "qr_parts_shared": (lambda a: sg.linalg.qr(a).Q @ sg.linalg.qr(a).R, [normal(4, 3)]),
        }),
    "factor_part": Entry(
        no_builder="internal: one part of a factorization, differentiated like Svd, Eigh or Qr",
        cases={
            "svd_u_part": (lambda a: sg.linalg.svd(a, full_matrices=False).U ** 2,
                           [svd_cases.separated(4, 3)]),
            "eigh_v_part_upper": (lambda a: sg.linalg.eigh(a, UPLO="U").eigenvectors ** 2,
                                  [tri.spd(3, 3)]),
        }),
    # (end of decompositions)

    # -- triangular (symgraph/ops/triangular.py) -----------------------------------
    "solve_triangular": Entry(cases={
        "solve_triangular_lower_matrix": (lambda a, b: sg.linalg.solve_triangular(a, b, lower=True),
                                          [tri.triangular(4, 4), normal(4, 2)]),
        "solve_triangular_upper_vector": (sg.linalg.solve_triangular,
                                          [tri.triangular(3, 3, lower=False), normal(3)]),
        "solve_triangular_trans_unit": (lambda a, b: sg.linalg.solve_triangular(
            a, b, trans="T", lower=True, unit_diagonal=True), [normal(3, 3) * 0.3, normal(3, 2)]),
        "solve_triangular_batched_vector": (lambda a, b: sg.linalg.solve_triangular(
            a, b, trans=1), [tri.triangular(2, 3, 3, lower=False), normal(3)]),
        "solve_triangular_broadcast": (lambda a, b: sg.linalg.solve_triangular(a, b, lower=True),
                                       [tri.triangular(3, 3), normal(2, 3, 2)]),
    }, gen=Draw(tri.np_solve_triangular, params=tri.solve_params, operands=tri.solve_operands,
                build=tri.build_solve)),
    "cholesky": Entry(cases={
        "cholesky": (sg.linalg.cholesky, [tri.lower_read(4, 4)]),
        "cholesky_batched_upper": (lambda a: sg.linalg.cholesky(a, upper=True),
                                   [np.ascontiguousarray(np.swapaxes(tri.lower_read(2, 3, 3), -1, -2))]),
        "cholesky_logdet": (lambda a: sg.sum(sg.log(sg.linalg.diagonal(sg.linalg.cholesky(a)))),
                            [tri.spd(3, 3)]),
        "cho_solve": (lambda a, b: sg.linalg.cho_solve((sg.linalg.cholesky(a), True), b),
                      [tri.spd(3, 3), normal(3, 2)]),
    }, gen=Draw(tri.np_cholesky_of_gram, params=tri.cholesky_params, build=tri.build_cholesky)),
    "cholesky_grad": Entry(
        no_builder="internal: cholesky's reverse rule (Murray's blocked algorithm)",
        no_gen="internal: drawn through cholesky, whose gradients graphgen checks",
        cases={
            "cholesky_grad": (tri.cholesky_grad, tri.cholesky_grad_inputs(4, 4)),
            "cholesky_grad_batched": (tri.cholesky_grad, tri.cholesky_grad_inputs(2, 3, 3)),
        }),
    "cholesky_tangent": Entry(
        no_builder="internal: cholesky's forward rule (a blocked forward-mode Cholesky)",
        no_gen="internal: drawn through cholesky, whose forward mode graphgen checks",
        cases={
            "cholesky_tangent": (tri.cholesky_tangent, tri.cholesky_grad_inputs(4, 4)),
            "cholesky_tangent_broadcast": (tri.cholesky_tangent, [tri.cholesky_grad_inputs(2, 3, 3)[0],
                                                                  normal(3, 3)]),
        }),
    # (end of triangular)

    # -- solve (symgraph/ops/solve.py) ---------------------------------------------
    "solve": Entry(cases={
        "solve_vector": (sg.linalg.solve, [sv.conditioned(3, 3), normal(3)]),
        "solve_matrix": (sg.linalg.solve, [sv.conditioned(3, 3), normal(3, 2)]),
        "solve_batched_vector": (sg.linalg.solve, [sv.conditioned(2, 3, 3), normal(3)]),
        "solve_batch_broadcast": (sg.linalg.solve, [sv.conditioned(2, 1, 2, 2), normal(3, 2, 1)]),
        "solve_b_unbatched": (lambda a, b: sg.linalg.solve(a, sg.tanh(b)),
                              [sv.conditioned(2, 3, 3), normal(3, 2)]),
        "solve_b_batched_only": (sg.linalg.solve, [sv.conditioned(2, 2), normal(2, 2, 3)]),
    }, gen=Draw(np.linalg.solve, operands=sv.solve_operand, build=sg.linalg.solve)),
    "inv": Entry(cases={
        "inv": (sg.linalg.inv, [sv.conditioned(3, 3)]),
        "inv_batched": (sg.linalg.inv, [sv.conditioned(2, 2, 2)]),
        "inv_of_product": (lambda a: sg.linalg.inv(a @ a.T + 0.5 * np.eye(2)), [normal(2, 3)]),
    }, gen=Draw(np.linalg.inv, params=sv.square_params, build=sg.linalg.inv)),
    "det": Entry(cases={
        "det": (sg.linalg.det, [sv.conditioned(3, 3)]),
        "det_batched": (sg.linalg.det, [sv.conditioned(2, 2, 4, 4)]),
        "det_1x1": (sg.linalg.det, [sv.conditioned(3, 1, 1)]),
        # the first and second derivatives are exact at singular matrices too
        "det_rank_deficient": (sg.linalg.det, [sv.of_rank(2, 2, 3, 3)]),
        "det_rank_n_minus_2": (sg.linalg.det, [sv.of_rank(2, 4, 4)]),
    }, gen=Draw(np.linalg.det, params=sv.square_params, build=sg.linalg.det)),
    "adjugate": Entry(cases={
        "adjugate": (sg.linalg.adjugate, [sv.conditioned(3, 3)]),
        "adjugate_batched": (sg.linalg.adjugate, [sv.conditioned(2, 2, 2)]),
        "adjugate_1x1": (lambda a: sg.linalg.adjugate(a) * a, [sv.conditioned(2, 1, 1)]),
    }, gen=Draw(sv.np_adjugate, params=sv.square_params, build=sg.linalg.adjugate)),
    "adjugate_tangent": Entry(
        no_builder="internal: the adjugate's derivative (its jvp and bprop make it)",
        cases={
            "adjugate_tangent": (sv.adjugate_tangent, [sv.conditioned(3, 3), normal(3, 3)]),
            "adjugate_tangent_batched": (sv.adjugate_tangent,
                                         [sv.conditioned(2, 4, 4), normal(2, 4, 4)]),
            "det_hessian": (lambda a: sg.grad(sg.sum(sg.linalg.det(a)), a),
                            [sv.conditioned(2, 3, 3)]),
        },
        gen=Draw(sv.np_adjugate_tangent, operands=sv.square_operand, build=sv.adjugate_tangent)),
    "slogdet": Entry(cases={
        "slogdet_logabsdet": (lambda a: sg.linalg.slogdet(a).logabsdet, [sv.conditioned(2, 3, 3)]),
        "slogdet_rebuilds_det": (lambda a: sg.linalg.slogdet(a).sign
                                 * sg.exp(sg.linalg.slogdet(a).logabsdet), [sv.conditioned(3, 3)]),
    }, gen=Draw(sv.np_slogdet, params=sv.slogdet_params, build=sv.slogdet_build)),
    "pinv": Entry(cases={
        "pinv_tall": (sg.linalg.pinv, [sv.conditioned(4, 3)]),
        "pinv_wide_batched": (sg.linalg.pinv, [sv.conditioned(2, 2, 4)]),
        "pinv_square": (sg.linalg.pinv, [sv.conditioned(3, 3)]),
        "pinv_rcond_per_matrix": (lambda a: sg.linalg.pinv(a, np.array([1e-12, 1e-3])),
                                  [sv.conditioned(2, 3, 2)]),
        "pinv_hermitian": (lambda a: sg.linalg.pinv(a, hermitian=True),
                           [sv.lower_symmetric(2, 3, 3)]),
    }, gen=Draw(sv.np_pinv, params=sv.pinv_params, build=sv.pinv_build)),
    # (end of solve)

    # -- eigen (symgraph/ops/eigen.py) ---------------------------------------------
    # lopsided inputs: noise in the triangle eigh does not read (its gradient must be 0);
    # v only through functions that an eigenvector's sign cannot change
    "eigh": Entry(
        cases={
            "eigvalsh_lower": (sg.linalg.eigvalsh, [eigen_cases.lopsided(4, 4)]),
            "eigvalsh_upper_batched": (lambda a: sg.linalg.eigvalsh(a, UPLO="U"),
                                       [eigen_cases.lopsided(2, 3, 3, lower=False)]),
            "eigvalsh_sum_of_squares": (lambda a: sg.sum(sg.linalg.eigvalsh(a) ** 2),
                                        [eigen_cases.lopsided(3, 3)]),
            "eigh_v_squared_lower": (lambda a: eigen_cases.invariant(a, "v"),
                                     [eigen_cases.lopsided(4, 4)]),
            "eigh_v_squared_upper_batched": (lambda a: eigen_cases.invariant(a, "v", False),
                                             [eigen_cases.lopsided(2, 3, 3, lower=False)]),
            "eigh_expm_batched": (eigen_cases.matrix_function, [eigen_cases.lopsided(2, 3, 3)]),
            "eigh_projector_upper": (lambda a: eigen_cases.projector(a, 2, lower=False),
                                     [eigen_cases.lopsided(4, 4, lower=False)]),
            "eigh_reconstruct": (lambda a: eigen_cases.matrix_function(a, lambda w: w),
                                 [eigen_cases.lopsided(3, 3)]),
        },
        gen=Draw(eigen_cases.np_drawn, params=eigen_cases.params, build=eigen_cases.drawn)),
    # (end of eigen)

    # -- qr (symgraph/ops/qr.py) ---------------------------------------------------
    # Q and R themselves (LAPACK's signs stay put under finite-difference steps), and
    # forms the signs cannot change; the first min(m, n) columns well conditioned
    "qr": Entry(
        cases={
            "qr_q_tall": (lambda a: sg.linalg.qr(a).Q, [qr_cases.full_rank(4, 3)]),
            "qr_r_tall_batched": (lambda a: sg.linalg.qr(a).R, [qr_cases.full_rank(2, 4, 2)]),
            "qr_q_wide": (lambda a: sg.linalg.qr(a).Q, [qr_cases.full_rank(2, 4)]),
            "qr_r_mode_wide": (lambda a: sg.linalg.qr(a, mode="r"), [qr_cases.full_rank(3, 5)]),
            "qr_complete_square_batched": (lambda a: sg.linalg.qr(a, mode="complete").Q,
                                           [qr_cases.full_rank(2, 3, 3)]),
            "qr_positive_q_wide_batched": (lambda a: qr_cases.positive(a, "q"),
                                           [qr_cases.full_rank(2, 3, 4)]),
            "qr_positive_r_tall": (lambda a: qr_cases.positive(a, "r"), [qr_cases.full_rank(5, 3)]),
            "qr_reconstruct_wide": (qr_cases.reconstruct, [qr_cases.full_rank(3, 4)]),
            "qr_reconstruct_tall": (qr_cases.reconstruct, [qr_cases.full_rank(4, 2)]),
            "qr_projection_tall": (qr_cases.projection, [qr_cases.full_rank(5, 3)]),
            "qr_gram_square": (qr_cases.gram, [qr_cases.full_rank(3, 3)]),
        },
        gen=Draw(qr_cases.np_positive, params=qr_cases.params, build=qr_cases.positive)),
    # (end of qr)

    # -- control flow (symgraph/flow) -----------------------------------------------
    # each case's trip counts and branches stay put under finite-difference steps
    "scan": Entry(
        cases={
            "scan_rnn": (lambda *v: fc.rnn_outputs(sg.scan, *v), fc.rnn_arrays(T=4)),
            "scan_rnn_checkpointed": (
                lambda *v: fc.rnn_outputs(functools.partial(sg.scan, checkpoint=2), *v),
                fc.rnn_arrays(T=5)),
            "scan_pair_carry_dict_xs": (lambda *v: fc.two_carries(sg.scan, *v),
                                        fc.two_carries_arrays(T=4)),
            "scan_reverse_no_xs": (lambda h0, w: fc.decay(sg.scan, h0, w), [normal(3), normal(3)]),
        },
        no_gen=FLOW_NO_GEN),
    "while_loop": Entry(
        cases={"while_loop_heron": (fc.heron_root, [positive(3) * 2.0])},
        no_gen=FLOW_NO_GEN),
    "cond": Entry(
        cases={
            "cond_true_branch": (fc.branchy, [normal(2), np.array([0.7, 0.4])]),
            "cond_false_branch": (fc.branchy, [normal(2), np.array([-0.7, 0.4])]),
        },
        no_gen=FLOW_NO_GEN),
    "item": Entry(
        no_builder="internal: one part of a loop's or branch's results (sg.scan, sg.while_loop "
                   "and sg.cond make them)",
        no_gen=FLOW_NO_GEN),
    # (end of control flow)
}

#: Cases about how ops combine rather than about one op.
COMPOSITIONS: dict[str, Case] = {
    "shared": (lambda a: sg.tanh(a) * sg.tanh(a) + a * a, [normal(3)]),
}


def _all_cases() -> dict[str, Case]:
    cases: dict[str, Case] = dict(COMPOSITIONS)
    for entry in OPS.values():
        for name, case in entry.cases.items():
            assert name not in cases, f"op_table: two cases are named {name!r}"
            cases[name] = case
    return cases


#: Every finite-difference case by its name (the test ids).
CASES = _all_cases()
#: The simple elementwise ops graphgen draws, by op name.
UNARY = {name: e.gen for name, e in OPS.items() if isinstance(e.gen, Unary)}
BINARY = {name: e.gen for name, e in OPS.items() if isinstance(e.gen, Binary)}
#: The other ops graphgen draws from their table entry, by op name.
DRAWN = {name: e.gen for name, e in OPS.items() if isinstance(e.gen, Draw)}


def builder(name: str, gen: Unary | Binary | Draw) -> Callable:
    """The symgraph call that applies op ``name``: the entry's own, or ``symgraph.ops.<name>``."""
    return gen.build if gen.build is not None else getattr(symgraph.ops, name)
