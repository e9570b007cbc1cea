"""Data-parallel gradients of an MLP on a dask cluster, with the graph unchanged.

The model is the seed MLP: one hidden ReLU layer, softmax cross-entropy
(mean over the batch) and weight decay.  Its symgraph graph is built once.
Fed numpy arrays it runs on numpy; fed a dask array chunked along the batch
axis (numpy parameters), every forward and gradient node becomes a lazy dask
array, and computing them runs one task per chunk on the cluster's workers
(the weight gradients are sums of per-chunk matrix products, reduced as a
tree).  The script checks that the cluster's gradient equals the numpy one
and takes a few SGD steps.

The generated data set is persisted in the workers' memory so that each step
reuses it.  For data larger than the cluster's memory, read it inside the
graph instead (``da.from_zarr``, ``dd.read_parquet(...).to_dask_array``):
then dask keeps only a few chunks per worker in flight
(see ``benchmarks/bench_dask.py``).

    python examples/distributed_gradient.py                    # LocalCluster, 4 workers
    python examples/distributed_gradient.py --scheduler tcp://scheduler:8786

Needs ``pip install symgraph[dask]``.
"""

from __future__ import annotations

import argparse
import logging
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import symgraph as sg


def mlp_loss(n: int, d: int, hidden: int, classes: int, weight_decay: float):
    """The graph: inputs, parameters, loss and the gradient of the loss for every parameter."""
    x = sg.variable("x", (n, d))
    y = sg.variable("y", (n,), "int64")
    params = [sg.variable("W1", (d, hidden)), sg.variable("b1", (hidden,)),
              sg.variable("W2", (hidden, classes)), sg.variable("b2", (classes,))]
    W1, b1, W2, b2 = params
    logits = sg.relu(x @ W1 + b1) @ W2 + b2
    loss = sg.cross_entropy(logits, y) + weight_decay * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
    return x, y, params, loss, sg.grad(loss, params)


def make_data(n: int, d: int, classes: int, chunk: int, seed: int = 0):
    """A labelled data set generated on the workers, chunked along the rows."""
    rng = da.random.default_rng(seed)
    x = rng.normal(size=(n, d), chunks=(chunk, d))
    teacher = np.random.default_rng(seed + 1).normal(size=(d, classes))
    noise = rng.gumbel(size=(n, classes), chunks=(chunk, classes))
    y = da.argmax(x @ teacher + noise, axis=1).astype(np.int64)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running dask scheduler "
                        "(default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()

    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        run(client, args)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(client: Client, args: argparse.Namespace) -> None:
    n, d, h, c = args.rows, args.features, args.hidden, args.classes
    workers = len(client.scheduler_info()["workers"])
    print(f"cluster: {workers} workers at {client.scheduler.address}")
    x_data, y_data = make_data(n, d, c, args.chunk)
    x_data, y_data = client.persist([x_data, y_data])  # generated once, kept on the workers
    print(f"data: {n} x {d} float64 = {x_data.nbytes / 2**20:.1f} MiB in "
          f"{x_data.numblocks[0]} chunks of {args.chunk} rows")

    x, y, params, loss, grads = mlp_loss(n, d, h, c, weight_decay=1e-4)
    graph_size = len(loss.graph)
    rng = np.random.default_rng(0)
    values = {"W1": rng.normal(scale=np.sqrt(2 / d), size=(d, h)), "b1": np.zeros(h),
              "W2": rng.normal(scale=np.sqrt(1 / h), size=(h, c)), "b2": np.zeros(c)}
    evaluator = sg.Evaluator([loss, *grads])

    # 1. the same graph on the cluster and on numpy gives the same gradient
    lazy = evaluator.run({x: x_data, y: y_data, **values})
    assert all(isinstance(v, da.Array) for v in lazy)
    on_cluster = dask.compute(*lazy)
    x_local, y_local = dask.compute(x_data, y_data)
    on_numpy = evaluator.run({x: x_local, y: y_local, **values})
    tasks = set().union(*(v.__dask_graph__().keys() for v in lazy))
    print(f"graph: {graph_size} symgraph nodes; dask graph of the loss and gradients: "
          f"{len(tasks)} tasks")
    print("max |cluster - numpy|:",
          ", ".join(f"{name} {np.max(np.abs(a - b)):.1e}"
                    for name, a, b in zip(["loss", "W1", "b1", "W2", "b2"], on_cluster, on_numpy)))

    # 2. a few steps of gradient descent, each gradient computed on the cluster
    for step in range(args.steps):
        start = time.perf_counter()
        value, *gs = dask.compute(*evaluator.run({x: x_data, y: y_data, **values}))
        for p, g in zip(params, gs):
            values[p.name] = values[p.name] - args.lr * g
        print(f"step {step}: loss {float(value):.4f}  ({time.perf_counter() - start:.2f} s)")


if __name__ == "__main__":
    main()
