"""Memory and time of the MLP gradient on numpy vs on a dask cluster.

The data set is 10x (and 20x) the size of one chunk, stored as one .npy file
per chunk.  numpy holds the whole batch's intermediates at once, so its extra
memory grows with the data.  On dask each task sees one chunk: when the tasks
read the data themselves (as from zarr or parquet), dask's scheduler keeps
only a few chunks in flight per worker, so each worker's extra memory stays
about the same whatever the number of chunks.  With the data persisted in
the workers' memory beforehand, every chunk's first task is ready at once and
dask runs them ahead of the rest (it queues only data-reading tasks), so that
row's peak grows with the number of chunks: shown for comparison.  The
'threads' row runs the same dask graph on this process's threads (dask's
local scheduler, data read by the tasks): the cost of the graph itself,
without the cluster's scheduling and inter-process transfers.

Columns:
  time      wall time of one loss+gradient evaluation (dask: building the lazy
            graph and computing it on the cluster, reading the chunks from
            disk in the 'data read' rows), best of --repeat
  vs hand   time / handwritten numpy forward+backward on the same data
  peak      extra memory allocated during the evaluation (tracemalloc; numpy
            reports its buffers to it): in this process for numpy, the
            largest over the workers for dask (measured in each worker with
            client.run); the input data is allocated before and not counted,
            except the chunks the 'data read' tasks load
  /chunk    peak / bytes of one chunk of the data
  RSS+      dask only: growth of the cluster's total resident memory during
            the evaluation, sampled by distributed's MemorySampler
  |diff|    largest difference of loss and gradients to handwritten numpy

    python benchmarks/bench_dask.py [--chunk-rows 25000] [--features 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import tracemalloc

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from distributed.diagnostics import MemorySampler

import symgraph as sg

MiB = 2 ** 20
WD = 1e-4


def build(n: int, d: int, h: int, c: int):
    with sg.Graph():
        x, y = sg.variable("x", (n, d)), sg.variable("y", (n,), "int64")
        params = [sg.variable("W1", (d, h)), sg.variable("b1", (h,)),
                  sg.variable("W2", (h, c)), sg.variable("b2", (c,))]
        W1, b1, W2, b2 = params
        logits = sg.relu(x @ W1 + b1) @ W2 + b2
        loss = sg.cross_entropy(logits, y) + WD * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
        return x, y, sg.Evaluator([loss, *sg.grad(loss, params)])


def handwritten(X, y, W1, b1, W2, b2):
    """Forward and backward of the same MLP written by hand in numpy."""
    n = len(y)
    z = X @ W1 + b1
    hid = np.maximum(z, 0)
    logits = hid @ W2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = -np.log(p[rows, y]).mean() + WD * ((W1 ** 2).sum() + (W2 ** 2).sum())
    p[rows, y] -= 1
    p /= n
    dh = p @ W2.T
    dh[z <= 0] = 0
    return [loss, X.T @ dh + 2 * WD * W1, dh.sum(axis=0), hid.T @ p + 2 * WD * W2, p.sum(axis=0)]


def read_chunks(paths: list[str], shape: tuple[int, ...], dtype) -> da.Array:
    """A dask array whose tasks load one .npy file per chunk (as da.from_zarr would)."""
    return da.concatenate([da.from_delayed(dask.delayed(np.load)(p), shape, dtype) for p in paths])


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def local_peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _start_trace() -> None:
    tracemalloc.start()


def _stop_trace() -> int:
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk-rows", type=int, default=25_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--chunks", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    d, h, c, rows = args.features, args.hidden, args.classes, args.chunk_rows
    chunk_bytes = rows * d * 8
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(scale=0.1, size=(d, h)), "b1": np.zeros(h),
              "W2": rng.normal(scale=0.1, size=(h, c)), "b2": np.zeros(c)}

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    print(f"MLP {d}-{h}-{c}, float64; chunk = {rows} rows = {chunk_bytes / MiB:.1f} MiB; "
          f"dask: LocalCluster of {args.workers} worker processes x 1 thread")
    header = (f"{'backend':<26}{'rows':>9}{'chunks':>7}{'data MiB':>9}{'time s':>8}{'vs hand':>8}"
              f"{'peak MiB':>9}{'/chunk':>7}{'RSS+ MiB':>9}{'|diff|':>9}")
    print(header)
    print("-" * len(header))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for k in args.chunks:
                compare(client, tmp, k, rows, d, h, c, params, args.repeat, chunk_bytes)
    finally:
        client.close()
        cluster.close()
    print("peak: extra memory of the evaluation (tracemalloc): this process for numpy and "
          "'threads', the largest worker for the cluster rows.\n'data read': chunks are loaded "
          "from .npy files inside the task graph (as from zarr or parquet);\n'persisted': the "
          "chunks sit in the workers' memory beforehand (client.persist).")


def compare(client, tmp, k, rows, d, h, c, params, repeat, chunk_bytes) -> None:
    """Rows of the table for a data set of ``k`` chunks."""
    n = k * rows
    rng = np.random.default_rng(k)
    x_paths, y_paths = [], []
    for i in range(k):  # the data set, on disk, one pair of files per chunk
        x_paths.append(os.path.join(tmp, f"x{k}_{i}.npy"))
        y_paths.append(os.path.join(tmp, f"y{k}_{i}.npy"))
        np.save(x_paths[-1], rng.normal(size=(rows, d)))
        np.save(y_paths[-1], rng.integers(0, c, size=rows))
    X = np.concatenate([np.load(p) for p in x_paths])
    Y = np.concatenate([np.load(p) for p in y_paths])
    x_read = read_chunks(x_paths, (rows, d), X.dtype)
    y_d = read_chunks(y_paths, (rows,), Y.dtype)
    x, y, ev = build(n, d, h, c)
    data_mib = X.nbytes / MiB

    t_hand, ref = best_time(lambda: handwritten(X, Y, **params), repeat)

    def row(name, t, peak, rss, out):
        diff = max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(out, ref))
        rss_text = f"{rss / MiB:9.0f}" if rss is not None else f"{'':>9}"
        print(f"{name:<26}{n:>9}{k:>7}{data_mib:>9.0f}{t:>8.2f}{t / t_hand:>8.2f}"
              f"{peak / MiB:>9.0f}{peak / chunk_bytes:>7.1f}{rss_text}{diff:>9.1e}", flush=True)

    row("numpy handwritten", t_hand, local_peak(lambda: handwritten(X, Y, **params)), None, ref)
    np_feed = {x: X, y: Y, **params}
    t_np, out_np = best_time(lambda: ev.run(np_feed), repeat)
    row("symgraph numpy", t_np, local_peak(lambda: ev.run(np_feed)), None, out_np)
    X = np_feed = None  # free the in-memory copy (the lambdas above are done with it)

    threads_feed = {x: x_read, y: y_d, **params}

    def threaded():  # the same dask graph on this process's threads: no cluster overhead
        return dask.compute(*ev.run(threads_feed), scheduler="threads")

    t_threads, out_threads = best_time(threaded, repeat)
    row("symgraph dask, threads", t_threads, local_peak(threaded), None, out_threads)

    for name, xs in [("symgraph dask, data read", x_read), ("symgraph dask, persisted", None)]:
        ys = y_d
        if xs is None:
            xs, ys = client.persist([x_read, y_d])
            wait([xs, ys])
        feed = {x: xs, y: ys, **params}

        def on_cluster():
            return dask.compute(*ev.run(feed))

        t_dask, out = best_time(on_cluster, repeat)
        sampler = MemorySampler()
        client.run(_start_trace)
        with sampler.sample(name, measure="process", interval=0.05):
            on_cluster()
        peak_worker = max(client.run(_stop_trace).values())
        rss = [b for _, b in sampler.samples[name]]
        row(name, t_dask, peak_worker, max(rss) - rss[0], out)
        xs = ys = feed = None  # free them before the next cluster size


if __name__ == "__main__":
    main()
