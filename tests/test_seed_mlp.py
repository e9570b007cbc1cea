"""The backprop chapter's single-hidden-layer ReLU MLP with cross-entropy and weight decay.

J = cross_entropy(relu(X W1) W2, y) + lam * (sum(W1^2) + sum(W2^2)): W1 and W2
are each reached by two paths (the loss and the weight decay).
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad
from symgraph.models import seed_mlp, seed_mlp_numpy


@pytest.fixture
def problem():
    rng = np.random.default_rng(1)
    n, d, h, c = 8, 5, 6, 3
    data = {
        "X": rng.standard_normal((n, d)),
        "y": rng.integers(0, c, n),
        "W1": rng.standard_normal((d, h)) * 0.5,
        "W2": rng.standard_normal((h, c)) * 0.5,
    }
    return data, (n, d, h, c)


def test_seed_mlp_gradients_match_finite_differences(problem):
    data, (n, d, h, c) = problem
    model = seed_mlp(n, d, h, c, weight_decay=0.1)
    g1, g2 = sg.grad(model.loss, [model.W1, model.W2])
    feed = {model.X: data["X"], model.y: data["y"], model.W1: data["W1"], model.W2: data["W2"]}
    loss, v1, v2 = sg.evaluate([model.loss, g1, g2], feed)

    def loss_at(w1, w2):
        return float(sg.evaluate(model.loss, {**feed, model.W1: w1, model.W2: w2}))

    np.testing.assert_allclose(v1, numeric_grad(lambda w: loss_at(w, data["W2"]), data["W1"]),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(v2, numeric_grad(lambda w: loss_at(data["W1"], w), data["W2"]),
                               rtol=1e-6, atol=1e-8)

    ref_loss, ref_g1, ref_g2 = seed_mlp_numpy(data["X"], data["y"], data["W1"], data["W2"], 0.1)
    assert float(loss) == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(v1, ref_g1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v2, ref_g2, rtol=1e-12, atol=1e-14)


def test_weight_decay_is_a_second_path_to_the_weights(problem):
    data, (n, d, h, c) = problem
    with_decay = seed_mlp(n, d, h, c, weight_decay=0.3)
    g_with = sg.grad(with_decay.loss, with_decay.W2)
    with sg.Graph():
        no_decay = seed_mlp(n, d, h, c, weight_decay=0.0)
        g_without = sg.grad(no_decay.loss, no_decay.W2)
        v_without = sg.evaluate(g_without, {no_decay.X: data["X"], no_decay.y: data["y"],
                                            no_decay.W1: data["W1"], no_decay.W2: data["W2"]})
    v_with = sg.evaluate(g_with, {with_decay.X: data["X"], with_decay.y: data["y"],
                                  with_decay.W1: data["W1"], with_decay.W2: data["W2"]})
    np.testing.assert_allclose(v_with - v_without, 2 * 0.3 * data["W2"], rtol=1e-10, atol=1e-12)


def test_relu_and_cross_entropy_are_stable_at_large_logits():
    z = sg.variable("z", (2, 3))
    labels = np.array([0, 2])
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 0.0, 1000.0]])
    outs = [sg.cross_entropy(z, labels), sg.sum(sg.softmax(z)), sg.sum(sg.log_softmax(z) * 0.1),
            sg.logsumexp(z), sg.sum(sg.sigmoid(z))]
    grads = [sg.grad(o, z) for o in outs]
    values = sg.evaluate(outs + grads, {z: big}, check_finite=True)
    assert all(np.isfinite(v).all() for v in values)
    assert float(values[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(values[3]) == pytest.approx(1000.0 + np.log(2.0))
    sig = sg.evaluate(sg.sigmoid(z), {z: big})
    np.testing.assert_allclose(sig, [[1, 0, 0.5], [0, 0.5, 1]])
    tiny = sg.evaluate(sg.sigmoid(z), {z: np.full((2, 3), -30.0)})
    np.testing.assert_allclose(tiny, np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-14)
