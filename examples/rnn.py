"""A recurrent network, written as one ``sg.scan``, learns to predict noisy sine waves.

Each sequence is a sine wave of its own frequency, amplitude and phase, plus
Gaussian noise; the task is to predict the next value from the values so far.
The network is a tanh cell over time,

    h_t = tanh(h_{t-1} @ W_h + x_t * w_x + b),    prediction_t = h_t @ v + c,

traced once into the body of ``sg.scan`` however long the sequences are; its
gradient (``sg.grad``) is a reverse scan over the body's own gradient, and
``--checkpoint K`` keeps only every K-th hidden state for it (memory
O(T/K + K) states instead of O(T)). Training is Adam on minibatches. It ends
with the test error against the trivial forecast "the next value is the last
one" and against the noise floor (the noise's variance, which no forecast of
a noisy value can beat on average).

    python examples/rnn.py [--steps 3000] [--hidden 32] [--seq-len 40] [--checkpoint 6] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

NOISE = 0.1


def sine_waves(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` noisy sine waves of ``length + 1`` samples, shape ``(length + 1, n)`` (time first)."""
    t = np.arange(length + 1)[:, None]
    freq = rng.uniform(0.1, 0.35, n)          # radians per sample: periods of 18 to 63 samples
    amp = rng.uniform(0.5, 1.5, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    return amp * np.sin(freq * t + phase) + NOISE * rng.standard_normal((length + 1, n))


def rnn_loss(params: dict, series: sg.Node, checkpoint: int | None) -> tuple[sg.Node, sg.Node]:
    """Mean squared error of the one-step-ahead forecasts on ``series`` ``(T + 1, batch)``,
    and the forecasts ``(T, batch)``."""
    W_h, w_x, b, v, c = (params[k] for k in ("W_h", "w_x", "b", "v", "c"))
    inputs, targets = series[:-1], series[1:]
    batch = series.shape[1]

    def cell(h, x):
        h = sg.tanh(h @ W_h + x[:, None] * w_x + b)   # (batch, hidden)
        return h, h @ v + c                            # the forecast of the next value

    h0 = sg.zeros((batch, W_h.shape[0]))
    _, forecasts = sg.scan(cell, h0, inputs, checkpoint=checkpoint)
    return sg.mean((forecasts - targets) ** 2), forecasts


def init_params(hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    q, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    return {"W_h": 0.9 * q, "w_x": rng.standard_normal(hidden), "b": np.zeros(hidden),
            "v": rng.standard_normal(hidden) / np.sqrt(hidden), "c": np.zeros(())}


class Adam:
    """Adam (Kingma and Ba) on a dict of arrays, updated in place."""

    def __init__(self, params: dict, lr: float, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict, lr: float | None = None) -> None:
        self.t += 1
        lr = self.lr if lr is None else lr
        for k, g in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            m_hat = self.m[k] / (1 - self.b1 ** self.t)
            v_hat = self.v[k] / (1 - self.b2 ** self.t)
            params[k] -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Train an RNN (sg.scan) on noisy sine waves",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (the carry's width)")
    parser.add_argument("--seq-len", type=int, default=40, help="time steps per sequence")
    parser.add_argument("--batch", type=int, default=32, help="sequences per Adam step")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's initial learning rate")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="K",
                        help="store every K-th hidden state for the gradient (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (data and weights)")
    parser.add_argument("--quick", action="store_true", help="a short run (for the tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 300)
    from tqdm import tqdm

    rng = np.random.default_rng(args.seed)
    train = sine_waves(2048, args.seq_len, rng)
    test = sine_waves(512, args.seq_len, rng)
    values = init_params(args.hidden, rng)

    with sg.Graph() as graph:
        params = {k: sg.variable(k, np.shape(p)) for k, p in values.items()}
        batch = sg.variable("batch", (args.seq_len + 1, args.batch))
        loss, _ = rnn_loss(params, batch, args.checkpoint)
        grads = sg.grad(loss, list(params.values()))
        # compiled: the scan becomes a Python loop over the body's numpy code
        train_step = sg.function([*params.values(), batch], [loss, *grads])
        whole_test = sg.variable("test", test.shape)
        test_run = sg.function([*params.values(), whole_test],
                               list(rnn_loss(params, whole_test, None)))

        print(f"RNN: hidden {args.hidden}, {args.seq_len} time steps, batch {args.batch}; "
              f"the graph has {len(graph)} nodes (the scan body is traced once)")
        start = time.perf_counter()
        opt = Adam(values, args.lr)
        bar = tqdm(range(args.steps), desc="training", unit="step")
        history = []
        for step in bar:
            idx = rng.integers(0, train.shape[1], args.batch)
            out = train_step(*values.values(), train[:, idx])
            history.append(float(out[0]))
            lr = args.lr * 0.5 * (1 + np.cos(np.pi * step / args.steps))   # cosine decay
            opt.step(values, dict(zip(values, out[1:])), lr)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(history[-50:]):.4f}")
        seconds = time.perf_counter() - start
        final_test, forecasts = test_run(*values.values(), test)
        final_test = float(final_test)

    baseline = float(np.mean((test[1:] - test[:-1]) ** 2))   # "the next value is the last one"
    per_step = np.mean((forecasts - test[1:]) ** 2, axis=1)  # error at each time step
    early, late = float(np.mean(per_step[:5])), float(np.mean(per_step[-10:]))
    print(f"{args.steps} Adam steps in {seconds:.1f} s ({1e3 * seconds / args.steps:.1f} ms per "
          f"loss + gradient through the scan)")
    print(f"train loss (mean of 50 steps): first {np.mean(history[:50]):.4f}, "
          f"last {np.mean(history[-50:]):.4f}")
    print(f"test mean squared error on {test.shape[1]} new waves:")
    print(f"  RNN                          {final_test:.4f}")
    print(f"  baseline (repeat last value) {baseline:.4f}")
    print(f"  noise floor (noise variance) {NOISE ** 2:.4f}")
    print(f"the RNN's error is {final_test / baseline:.0%} of the baseline's; over the first 5 "
          f"steps {early:.4f} (it has not yet seen\nenough of a wave to know its frequency), "
          f"over the last 10 steps {late:.4f}")
    return {"test": final_test, "baseline": baseline, "noise_floor": NOISE ** 2, "early": early,
            "late": late, "history": history, "params": values}


if __name__ == "__main__":
    main()
