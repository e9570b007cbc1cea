"""sg.function folds constant subexpressions with simplify's folder (ops.folding.fold_value)."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.rewrite import FOLD_MAX_INPUT_SIZE, fold_value


def test_small_constant_subexpressions_are_computed_once_when_compiling():
    x = sg.variable("x", (3,))
    y = x + sg.exp(sg.constant([0.0, 1.0, 2.0])) * 2.0
    f = sg.function([x], y)
    assert "np.exp" not in f.source and "_c0" in f.source
    np.testing.assert_array_equal(f(np.ones(3)), 1 + np.exp([0.0, 1.0, 2.0]) * 2.0)


def test_folding_on_large_inputs_waits_for_run_time():
    x = sg.variable("x")
    big = sg.constant(np.arange(FOLD_MAX_INPUT_SIZE + 1.0))
    f = sg.function([x], sg.sum(big) * x)
    assert "np.sum" in f.source


def test_a_fold_that_fails_fails_at_run_time_like_the_evaluator():
    x = sg.variable("x")
    loss = sg.cross_entropy(sg.constant(np.zeros((2, 3))), sg.constant(np.array([0, 7]))) * x
    f = sg.function([x], loss)
    with pytest.raises(sg.EvaluationError, match="label 7 is out of range for 3 classes"):
        f(1.0)


def test_fold_value_is_quiet_and_checks_the_result():
    log = sg.log(sg.variable("t")).op
    with np.errstate(all="raise"):  # the folder silences floating-point warnings itself
        assert fold_value(log, [np.zeros(2)], (2,), np.dtype("float64"))[0] == -np.inf
    assert fold_value(log, [np.ones(2)], (3,), np.dtype("float64")) is None  # wrong shape
    assert fold_value(log, [np.ones(2)], (2,), np.dtype("int64")) is None  # not castable
    assert fold_value(sg.variable("v").op, [], (), np.dtype("float64")) is None
