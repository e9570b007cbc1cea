"""The backprop chapter's reference model, built once for examples, tests and benchmarks.

A single-hidden-layer ReLU network without biases, trained with softmax
cross-entropy plus weight decay on both weight matrices::

    H = relu(X @ W1);  logits = H @ W2
    J = cross_entropy(logits, y) + weight_decay * (sum(W1**2) + sum(W2**2))

``seed_mlp_numpy`` is the same computation with handwritten backprop: the
baseline symgraph is measured and tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Node
from .ops import cross_entropy, matmul, relu, square, sum, variable


@dataclass(frozen=True)
class SeedMLP:
    """The nodes of the seed MLP: inputs, parameters, logits and loss."""

    X: Node
    y: Node
    W1: Node
    W2: Node
    hidden: Node
    logits: Node
    loss: Node

    @property
    def params(self) -> list[Node]:
        return [self.W1, self.W2]


def seed_mlp(batch: int, n_in: int, n_hidden: int, n_out: int, weight_decay: float = 1e-4,
             dtype: str = "float64") -> SeedMLP:
    """Build the seed MLP's loss in the current graph."""
    X = variable("X", (batch, n_in), dtype)
    y = variable("y", (batch,), "int64")
    W1 = variable("W1", (n_in, n_hidden), dtype)
    W2 = variable("W2", (n_hidden, n_out), dtype)
    hidden = relu(matmul(X, W1))
    logits = matmul(hidden, W2)
    loss = cross_entropy(logits, y)
    if weight_decay:
        loss = loss + weight_decay * (sum(square(W1)) + sum(square(W2)))
    return SeedMLP(X, y, W1, W2, hidden, logits, loss)


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int, n_out: int,
                dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """He-initialised weights for the seed MLP."""
    W1 = rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in)
    W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden)
    return W1.astype(dtype), W2.astype(dtype)


def seed_mlp_numpy(X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray,
                   weight_decay: float = 1e-4) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss and gradients of the seed MLP by handwritten numpy backprop."""
    a = X @ W1
    H = np.maximum(a, 0)
    logits = H @ W2
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = -logp[np.arange(n), y].mean()
    loss += weight_decay * (np.sum(W1 * W1) + np.sum(W2 * W2))
    d_logits = np.exp(logp)
    d_logits[np.arange(n), y] -= 1
    d_logits /= n
    gW2 = H.T @ d_logits + 2 * weight_decay * W2
    dH = d_logits @ W2.T
    dH *= a > 0
    gW1 = X.T @ dH + 2 * weight_decay * W1
    return float(loss), gW1, gW2
