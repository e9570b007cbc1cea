"""Train the backprop chapter's MLP with plain minibatch SGD on handwritten digits.

The model is the seed's single hidden ReLU layer without biases, softmax
cross-entropy and weight decay on both weight matrices (symgraph.models).
Data: the 8x8 handwritten digits that scikit-learn ships offline (install
the ``examples`` extra: ``pip install -e ".[examples]"``).

    python examples/mlp_train.py [--epochs 30] [--hidden 64] [--batch 32] [--lr 0.1]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import symgraph as sg
from symgraph.models import init_params, seed_mlp


def load_digits(seed: int) -> tuple[np.ndarray, ...]:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        sys.exit("this example needs scikit-learn's bundled digits: pip install -e \".[examples]\"")
    data = sk_load_digits()
    X = data.data / 16.0
    y = data.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    X, y = X[perm], y[perm]
    split = int(0.8 * len(y))
    return X[:split], y[:split], X[split:], y[split:]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description="Train the seed MLP on digits with SGD")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from tqdm import tqdm

    X_train, y_train, X_test, y_test = load_digits(args.seed)
    n_in, n_out = X_train.shape[1], 10
    rng = np.random.default_rng(args.seed)
    W1, W2 = init_params(rng, n_in, args.hidden, n_out)

    with sg.Graph():
        model = seed_mlp(args.batch, n_in, args.hidden, n_out, args.weight_decay)
        g1, g2 = sg.grad(model.loss, model.params)
        step = sg.Evaluator([model.loss, g1, g2])
        X_all = sg.variable("X_eval", X_test.shape)
        predict = sg.Evaluator(sg.matmul(sg.relu(sg.matmul(X_all, model.W1)), model.W2))

        batches = len(y_train) // args.batch
        bar = tqdm(range(args.epochs), desc="training", unit="epoch")
        for _ in bar:
            order = rng.permutation(len(y_train))
            total = 0.0
            for b in range(batches):
                idx = order[b * args.batch:(b + 1) * args.batch]
                loss, d1, d2 = step.run({model.X: X_train[idx], model.y: y_train[idx],
                                         model.W1: W1, model.W2: W2})
                W1 -= args.lr * d1
                W2 -= args.lr * d2
                total += float(loss)
            bar.set_postfix(loss=f"{total / batches:.4f}")
        logits = predict.run({X_all: X_test, model.W1: W1, model.W2: W2})
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    print(f"test accuracy: {accuracy:.3f} on {len(y_test)} held-out digits")
    return accuracy


if __name__ == "__main__":
    main()
