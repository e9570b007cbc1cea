"""symgraph.kernels: the one copy of the stable softmax family and the label check, used by
the ops' f and copied into compiled source."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph import kernels
from symgraph.codegen.emitter import Module

rng = np.random.default_rng(3)


@pytest.mark.parametrize("name", kernels.__all__)
def test_each_kernel_is_standalone_source_with_what_it_calls(name):
    module = Module()
    module.helper(getattr(kernels, name))
    space: dict = {}
    exec("\n".join(module.preamble()), space)  # numpy and the preamble alone
    assert callable(space[name])


def test_stable_kernels_match_the_textbook_formulas_and_stay_finite():
    x = rng.standard_normal((4, 5))
    e = np.exp(x)
    np.testing.assert_allclose(kernels.softmax(x, 1), e / e.sum(1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(kernels.log_softmax(x, 0), np.log(e / e.sum(0, keepdims=True)),
                               rtol=1e-13)
    np.testing.assert_allclose(kernels.logsumexp(x, (0, 1), False), np.log(e.sum()), rtol=1e-14)
    big = np.array([[1000.0, -1000.0], [-np.inf, -np.inf]])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) in the all -inf row
        assert np.isfinite(kernels.log_softmax(big, 1)[0]).all()
        assert kernels.logsumexp(big, 1, True).tolist() == [[1000.0], [-np.inf]]


def test_labels_are_checked_once_for_every_runner():
    logp = np.log(np.full((2, 3), 1 / 3))
    assert kernels.take_labels(logp, np.array([2, 0])).shape == (2,)
    with pytest.raises(sg.EvaluationError, match="label -1 is out of range for 3 classes"):
        kernels.cross_entropy(logp, np.array([0, -1]), "mean")
    d = np.zeros((2, 3))
    kernels.subtract_one_hot(d, np.array([1, 5]))  # out of range: an all-zero one-hot row
    assert d.tolist() == [[0, -1, 0], [0, 0, 0]]


def test_losses_are_0d_arrays_not_numpy_scalars():
    nll = np.array([1.0, 2.0], np.float32)
    for reduction, want in (("mean", 1.5), ("sum", 3.0)):
        out = kernels.reduce_loss(nll, reduction)
        assert type(out) is np.ndarray and out.shape == () and out.dtype == np.float32
        assert out == want
