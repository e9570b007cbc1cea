"""symgraph.testing.check_grads: passes on correct rules, names the element of wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.testing import GradientCheckError, check_grads, default_tolerances
from test_ops_fd import CASES

X3 = np.array([0.3, -1.2, 0.7])


class Cube(sg.Op):
    """x**3 with correct bprop and jvp."""

    name = "cube"

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return x ** 3

    def bprop(self, inputs, out, g):
        (x,) = inputs
        return [g * 3 * sg.square(x)]

    def jvp(self, inputs, out, tangents):
        return tangents[0] * 3 * sg.square(inputs[0])


class CubeNoJvp(Cube):
    """Correct bprop and no jvp: forward mode must transpose bprop."""

    name = "cube_nojvp"
    jvp = None


class CubeWrongElement(Cube):
    """bprop wrong at element 1 only (scaled by 1.5 there); no jvp."""

    name = "cube_wrong_element"
    jvp = None

    def bprop(self, inputs, out, g):
        (x,) = inputs
        return [g * 3 * sg.square(x) * np.array([1.0, 1.5, 1.0])]


class CubeWrongJvp(Cube):
    """Correct bprop, jvp off by a factor 2."""

    name = "cube_wrong_jvp"

    def jvp(self, inputs, out, tangents):
        return tangents[0] * 6 * sg.square(inputs[0])


class CubeSlightlyWrongJvp(Cube):
    """jvp off by 0.1%: within loose FD tolerances, but not adjoint to bprop."""

    name = "cube_slightly_wrong_jvp"

    def jvp(self, inputs, out, tangents):
        return tangents[0] * 3.003 * sg.square(inputs[0])


class WrongCos(sg.Op):
    """cos(x) whose bprop has the wrong sign: right values, wrong derivative."""

    name = "wrong_cos"

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return np.cos(x)

    def bprop(self, inputs, out, g):
        return [g * sg.sin(inputs[0])]


class MySin(sg.Op):
    """sin(x) whose first derivative is right but whose second is wrong (via WrongCos)."""

    name = "my_sin"

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return np.sin(x)

    def bprop(self, inputs, out, g):
        return [g * sg.graph.apply(WrongCos(), [inputs[0]])]


class Hypot(sg.Op):
    """Two inputs: sqrt(a**2 + b**2), correct rules, default infer (broadcasting)."""

    name = "hypot"

    def f(self, a, b):
        return np.hypot(a, b)

    def bprop(self, inputs, out, g):
        a, b = inputs
        return [lambda: sg.sum_to(g * a / out, a.shape), lambda: sg.sum_to(g * b / out, b.shape)]


# ---------------------------------------------------------------------------
# correct rules pass
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_builtin_op_passes_to_second_order(dtype):
    for name, (fn, arrays) in sorted(CASES.items()):
        report = check_grads(fn, [a.astype(dtype) for a in arrays], order=2)
        # rev, fwd and their adjointness at order 1, then all four compositions at order 2
        paths = {c.split()[0] for c in report.checks}
        assert {"rev", "fwd", "adjoint", "rev.rev", "fwd.rev", "rev.fwd", "fwd.fwd"} <= paths, name
        assert report.compared > 0 and report.worst <= 1.0, name


def test_user_op_with_correct_rules_passes_in_both_modes():
    report = check_grads(Cube(), [X3], order=3)
    assert report.compared >= 3 * 2 * (1 + 2 + 4)  # elements x modes x (paths of order 1..3)
    assert any(c.startswith("fwd.rev.fwd") for c in report.checks)


def test_op_class_and_broadcasting_user_op_with_two_inputs():
    check_grads(Cube, [X3], order=1)
    check_grads(Hypot(), [np.array([[1.0, -2.0, 0.5]]), np.array([[0.7], [1.5]])], order=2)


def test_op_without_jvp_is_checked_in_forward_mode_through_transposed_bprop():
    report = check_grads(CubeNoJvp(), [X3], order=2, modes=("fwd",))
    assert [c.split()[0] for c in report.checks] == ["fwd", "fwd.fwd"]


def test_functions_with_several_outputs_and_integer_inputs():
    labels = np.array([2, 0])

    def fn(logits, y):
        return [sg.cross_entropy(logits, y), sg.softmax(logits) * 2]

    report = check_grads(fn, [np.array([[0.1, 0.5, -0.3], [1.0, 0.2, 0.0]]), labels], order=2)
    assert not any(" x1" in c for c in report.checks)  # the integer labels are not differentiated


# ---------------------------------------------------------------------------
# wrong rules fail, saying where
# ---------------------------------------------------------------------------


def test_wrong_bprop_fails_naming_input_element_and_values():
    with pytest.raises(GradientCheckError) as info:
        check_grads(CubeWrongElement(), [X3], order=1, modes=("rev",))
    e = info.value
    assert isinstance(e, AssertionError) and isinstance(e, sg.SymgraphError)
    assert (e.mode, e.order, e.input, e.element) == ("rev", 1, 0, (1,))
    assert e.analytic == pytest.approx(1.5 * e.numeric, rel=1e-6)
    msg = str(e)
    assert "reverse mode (bprop) of op 'cube_wrong_element'" in msg
    assert "input 0 (x0, shape (3,), float64), at element (1,)" in msg
    assert f"analytic {e.analytic:.9g}, numeric {e.numeric:.9g}" in msg
    assert "1 of 3 elements disagree" in msg


def test_wrong_bprop_without_jvp_also_fails_in_forward_mode_with_a_hint():
    with pytest.raises(GradientCheckError, match="defines no jvp: forward mode transposes its bprop"):
        check_grads(CubeWrongElement(), [X3], order=1, modes=("fwd",))


def test_wrong_jvp_fails_in_forward_mode_only():
    check_grads(CubeWrongJvp(), [X3], order=2, modes=("rev",))
    with pytest.raises(GradientCheckError, match=r"forward mode \(jvp\) of op 'cube_wrong_jvp'.*"
                                                 r"at order 1 .* at output 0 element"):
        check_grads(CubeWrongJvp(), [X3], order=1, modes=("fwd",))


def test_forward_and_reverse_rules_that_are_not_adjoint_are_caught():
    # A 0.1% error passes finite differences at rtol=atol=1e-2 but not the adjoint identity.
    check_grads(CubeSlightlyWrongJvp(), [X3], order=1, modes=("fwd",), rtol=1e-2, atol=1e-2)
    with pytest.raises(GradientCheckError, match="not adjoint at order 1"):
        check_grads(CubeSlightlyWrongJvp(), [X3], order=1, rtol=1e-2, atol=1e-2)


def test_wrong_second_derivative_is_caught_only_at_order_two():
    check_grads(MySin(), [X3], order=1)
    with pytest.raises(GradientCheckError) as info:
        check_grads(MySin(), [X3], order=2, modes=("rev",))
    assert info.value.order == 2 and info.value.path == ("rev", "rev")
    assert "reverse mode (bprop) of the reverse-mode derivative" in str(info.value)
    assert "at order 2" in str(info.value)


def test_float32_uses_looser_defaults_and_still_catches_wrong_rules():
    assert default_tolerances("float32")[1] > default_tolerances("float64")[1]
    x = X3.astype(np.float32)
    report = check_grads(Cube(), [x], order=2)
    assert report.worst <= 1.0
    with pytest.raises(GradientCheckError, match=r"element \(1,\).*dtype=float32"):
        check_grads(CubeWrongElement(), [x], order=1, modes=("rev",))


def test_explicit_tolerances_are_used():
    # A 50% error at one element passes with a tolerance of 100%.
    check_grads(CubeWrongElement(), [X3], order=1, rtol=1.0, atol=1.0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_derivatives_fail():
    def fn(x):
        return sg.where(x > 0, sg.sqrt(x), 0)

    with pytest.raises(GradientCheckError, match="analytic nan"):
        check_grads(fn, [np.array([0.0, 1.0])], order=1, modes=("rev",))


# ---------------------------------------------------------------------------
# misuse
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"order": 0}, "order must be a positive int"),
    ({"modes": ("rev", "sideways")}, "modes must be a non-empty subset"),
    ({"modes": ()}, "modes must be a non-empty subset"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(sg.SymgraphError, match=match):
        check_grads(Cube(), [X3], **kwargs)


def test_bad_inputs_and_functions():
    with pytest.raises(sg.DTypeError, match="no floating-point input"):
        check_grads(Cube(), [np.array([1, 2])])
    with pytest.raises(sg.DTypeError, match="input 0 has dtype <U1"):
        check_grads(Cube(), [np.array(["a"])])
    with pytest.raises(sg.SymgraphError, match="input 0 is a Node"):
        check_grads(Cube(), [sg.variable("x")])
    with pytest.raises(sg.SymgraphError, match="returned float"):
        check_grads(lambda x: 1.0, [X3])
    with pytest.raises(sg.SymgraphError, match="expected an sg.Op or a function"):
        check_grads(42, [X3])
    with pytest.raises(sg.DTypeError, match="no floating-point output"):
        check_grads(lambda x: x > 0, [X3])
