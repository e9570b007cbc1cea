"""Loss and gradient of an RNN through a loop, compiled: symgraph scan vs peers.

The model: ``h_t = tanh(h_{t-1} W + x_t U)``, ``y_t = h_t w`` (one output per
step and sequence), ``loss = mean((y - targets)^2)``; hidden 256, batch 32,
input 32, float64, T = 100 and 1000 steps.  Each method computes the loss and
its gradient with respect to ``W``, ``U``, ``w`` and ``h0``:

* symgraph scan: ``sg.function`` of ``sg.scan`` and ``sg.grad`` (a Python loop
  over the body compiled once, and one over its gradient body);
* symgraph unrolled: the same model written with plain ops, T copies of the
  step (the graph, its build and its compile grow with T);
* JAX ``lax.scan`` under ``jit`` (``value_and_grad``); with a checkpoint, the
  usual JAX spelling: a scan over segments of k steps whose body is a
  ``jax.checkpoint``-ed scan (k = checkpoint, the rest run on their own);
* PyTensor ``scan`` when installed (a bench extra): skipped with a note if not.

Rows come in pairs: ``checkpoint=None`` (every carry stored) and
``checkpoint=int(sqrt(T))`` (every k-th carry stored; each segment is
recomputed in the reverse sweep).  Columns: setup = build + compile seconds
(JAX: trace + compile; symgraph: graph building + ``sg.function``; each method
first runs once on a 2-step case so the process's one-time costs, imports and
JAX's first compilation, are in no row), run time
per call (min and median over interleaved rounds; ratios to JAX scan with the
same checkpointing), and the peak memory of one call: for symgraph, what
``tracemalloc`` sees allocated during the call (inputs allocated before, the
kept workspace freed first so it counts), in MB and in carries of
32*256*8 bytes; for JAX, the buffers XLA's compiled plan allocates besides the
arguments (``memory_analysis``: temporaries + outputs).  The peak includes the
results the caller keeps (the gradients: dW alone is 8 carries, all of them
10); "work carries" is the peak minus those outputs, the memory the
computation needs besides its inputs and results.

One thread for BLAS and XLA; all methods in one process, interleaved rounds.
Every method's loss and gradient are checked against symgraph's evaluator
before timing.  Targets (printed as met/MISSED, never asserted): symgraph scan
run time <= 1.3x JAX scan, build+compile < 0.1 s, peak memory with
checkpointing <= 3 sqrt(T) carries (reported against the total peak and against
the work carries).

    python benchmarks/bench_scan.py [--steps 100 1000] [--rounds 10] [--clock wall|cpu]
                                    [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from threads import pin_threads

    pin_threads()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")

import math  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

BATCH, HIDDEN, INPUT = 32, 256, 32
CARRY_BYTES = BATCH * HIDDEN * 8
SCAN, UNROLLED, JAX, PYTENSOR = "symgraph scan", "symgraph unrolled", "JAX lax.scan jit", \
    "PyTensor scan"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def data(T: int, batch: int = BATCH, hidden: int = HIDDEN, inputs: int = INPUT) -> list:
    """W, U, w, h0, xs, targets (seeded; scaled so the tanh stays in its curved range)."""
    rng = np.random.default_rng(T)
    return [rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
            rng.standard_normal((inputs, hidden)) / np.sqrt(inputs),
            rng.standard_normal(hidden) / np.sqrt(hidden),
            rng.standard_normal((batch, hidden)) * 0.5,
            rng.standard_normal((T, batch, inputs)),
            rng.standard_normal((T, batch))]


# ---------------------------------------------------------------------------
# symgraph
# ---------------------------------------------------------------------------

def symgraph_model(T: int, checkpoint: int | None, unrolled: bool, shapes: list) -> dict:
    """The compiled loss and gradient, the graph, and the build and compile seconds."""
    start = time.perf_counter()
    with sg.Graph() as graph:
        names = ["W", "U", "w", "h0", "xs", "targets"]
        W, U, w, h0, xs, targets = [sg.variable(n, s.shape) for n, s in zip(names, shapes)]

        def step(h, x):
            h = sg.tanh(h @ W + x @ U)
            return h, h @ w

        if unrolled:
            h, ys = h0, []
            for t in range(T):
                h, y = step(h, xs[t])
                ys.append(y)
            ys = sg.stack(ys)
        else:
            _, ys = sg.scan(step, h0, xs, checkpoint=checkpoint)
        loss = sg.mean(sg.square(ys - targets))
        outputs = [loss, *sg.grad(loss, [W, U, w, h0])]
        built = time.perf_counter()
        fn = sg.function([W, U, w, h0, xs, targets], outputs)
    done = time.perf_counter()
    return {"fn": fn, "build": built - start, "compile": done - built, "nodes": len(graph),
            "graph": graph, "outputs": outputs, "inputs": [W, U, w, h0, xs, targets]}


def symgraph_peak(fn: Callable, args: list) -> int:
    """Bytes allocated at the peak of one call (inputs allocated before; fresh workspace)."""
    fn(*args)
    fn.free_workspace()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------

def jax_model(T: int, checkpoint: int | None, args: list) -> dict | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def step(params, h, x):
        W, U, w = params
        h = jnp.tanh(h @ W + x @ U)
        return h, h @ w

    def loss(W, U, w, h0, xs, targets):
        body = lambda h, x: step((W, U, w), h, x)  # noqa: E731
        if checkpoint is None:
            _, ys = jax.lax.scan(body, h0, xs)
        else:
            k = checkpoint
            m = T // k
            segment = jax.checkpoint(lambda h, xseg: jax.lax.scan(body, h, xseg))
            h, ys = jax.lax.scan(segment, h0, xs[:m * k].reshape((m, k) + xs.shape[1:]))
            ys = ys.reshape((m * k,) + ys.shape[2:])
            if m * k < T:
                _, tail = jax.lax.scan(body, h, xs[m * k:])
                ys = jnp.concatenate([ys, tail])
        return jnp.mean((ys - targets) ** 2)

    start = time.perf_counter()
    compiled = jax.jit(jax.value_and_grad(loss, (0, 1, 2, 3))).lower(*args).compile()
    seconds = time.perf_counter() - start
    mem = compiled.memory_analysis()
    peak = None if mem is None else mem.temp_size_in_bytes + mem.output_size_in_bytes
    outputs = None if mem is None else mem.output_size_in_bytes

    def call(*a):
        value, grads = jax.block_until_ready(compiled(*a))
        return [np.asarray(value), *[np.asarray(g) for g in grads]]
    return {"fn": call, "setup": seconds, "peak": peak, "outputs": outputs}


# ---------------------------------------------------------------------------
# PyTensor
# ---------------------------------------------------------------------------

def pytensor_model(T: int, checkpoint: int | None) -> dict | None:
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    if checkpoint is not None:
        return {"skip": "no checkpointed scan"}
    start = time.perf_counter()
    W, U, h0 = pt.dmatrix("W"), pt.dmatrix("U"), pt.dmatrix("h0")
    w, xs, targets = pt.dvector("w"), pt.dtensor3("xs"), pt.dmatrix("targets")

    def step(x, h, W, U, w):
        h = pt.tanh(h @ W + x @ U)
        return h, h @ w

    (_, ys), _ = pytensor.scan(step, sequences=[xs], outputs_info=[h0, None],
                               non_sequences=[W, U, w])
    loss = pt.mean((ys - targets) ** 2)
    fn = pytensor.function([W, U, w, h0, xs, targets],
                           [loss, *pytensor.grad(loss, [W, U, w, h0])])
    return {"fn": fn, "setup": time.perf_counter() - start, "peak": None}


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(calls: dict[str, Callable[[], Any]], rounds: int, clock: str = "wall"
            ) -> dict[str, list[float]]:
    """Seconds per call: one warm-up call each, then interleaved rounds."""
    now = CLOCKS[clock]
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, fn in calls.items():
            start = now()
            fn()
            times[k].append(now() - start)
    return times


def check(name: str, got: list, want: list) -> None:
    for k, (a, b) in enumerate(zip(got, want)):
        scale = max(float(np.abs(b).max()), 1e-300)
        err = float(np.abs(np.asarray(a) - b).max()) / scale
        if err > 1e-9:
            raise AssertionError(f"{name}: result {k} differs from the evaluator's by {err:.2e}")


def run_case(T: int, checkpoint: int | None, rounds: int, unrolled_max: int, clock: str) -> dict:
    args = data(T)
    methods: dict[str, dict] = {}
    notes: list[str] = []
    methods[SCAN] = symgraph_model(T, checkpoint, False, args)
    if checkpoint is None and T <= unrolled_max:
        methods[UNROLLED] = symgraph_model(T, None, True, args)
    for name, build in ((JAX, lambda: jax_model(T, checkpoint, args)),
                        (PYTENSOR, lambda: pytensor_model(T, checkpoint))):
        built = build()
        if built is None:
            notes.append(f"{name.split()[0]} is not installed: skipped")
        elif "skip" in built:
            notes.append(f"{name}: {built['skip']}")
        else:
            methods[name] = built
    ref = methods[SCAN]
    want = sg.evaluate(ref["outputs"], dict(zip(ref["inputs"], args)))
    for name, m in methods.items():
        check(name, m["fn"](*args), want)
    times = measure({name: (lambda fn=m["fn"]: fn(*args)) for name, m in methods.items()}, rounds,
                    clock)
    rows = {}
    for name, m in methods.items():
        setup = m["setup"] if "setup" in m else m["build"] + m["compile"]
        if name in (SCAN, UNROLLED):
            peak = symgraph_peak(m["fn"], args)
            outputs = sum(np.asarray(r).nbytes for r in m["fn"](*args))
        else:
            peak, outputs = m.get("peak"), m.get("outputs")
        rows[name] = {"setup": setup, "min": float(np.min(times[name])),
                      "median": float(np.median(times[name])), "peak": peak,
                      "outputs": outputs, "nodes": m.get("nodes")}
    return {"rows": rows, "notes": notes}


def warm_up() -> None:
    """Build, compile and run each method once on a tiny case: one-time costs of the process
    (lazy imports, JAX's first compilation) are not any row's setup time."""
    args = data(2)
    for unrolled in (False, True):
        symgraph_model(2, None, unrolled, args)["fn"](*args)
    for build in (lambda: jax_model(2, None, args), lambda: pytensor_model(2, None)):
        built = build()
        if built is not None:
            built["fn"](*args)


def table(steps: list[int], rounds: int, unrolled_max: int, clock: str = "wall") -> dict:
    warm_up()
    print(f"RNN loss + gradient (hidden {HIDDEN}, batch {BATCH}, input {INPUT}, float64); "
          f"ms per call ({clock} clock); setup = build+compile s; carry = {CARRY_BYTES} bytes")
    print(f"{'T':>5} {'ckpt':>5} {'method':20} {'setup s':>8} {'min ms':>9} {'median ms':>10} "
          f"{'min/JAX':>8} {'med/JAX':>8} {'peak MB':>8} {'carries':>8} {'work carries':>12} "
          f"{'nodes':>7}")
    results = {}
    for T in steps:
        for checkpoint in (None, max(1, int(math.sqrt(T)))):
            case = run_case(T, checkpoint, rounds, unrolled_max, clock)
            rows = case["rows"]
            base = rows.get(JAX)
            for name, r in rows.items():
                ratio_min = f"{r['min'] / base['min']:.2f}" if base else "-"
                ratio_med = f"{r['median'] / base['median']:.2f}" if base else "-"
                peak = r["peak"]
                mb = f"{peak / 1e6:.2f}" if peak is not None else "-"
                carries = f"{peak / CARRY_BYTES:.1f}" if peak is not None else "-"
                work = f"{(peak - r['outputs']) / CARRY_BYTES:.1f}" \
                    if peak is not None and r["outputs"] is not None else "-"
                print(f"{T:5d} {str(checkpoint):>5} {name:20} {r['setup']:8.3f} "
                      f"{1e3 * r['min']:9.2f} {1e3 * r['median']:10.2f} {ratio_min:>8} "
                      f"{ratio_med:>8} {mb:>8} {carries:>8} {work:>12} {r['nodes'] or '':>7}")
            for note in case["notes"]:
                print(f"{'':12}({note})")
            results[(T, checkpoint)] = rows
    print("JAX peak: XLA's planned temporaries + outputs (memory_analysis), not tracemalloc")
    print("work carries: the peak minus the function's outputs (the loss and gradients the "
          "caller keeps)")
    print("targets (reported, not asserted):")
    for (T, checkpoint), rows in results.items():
        r = rows[SCAN]
        line = f"  T={T} checkpoint={checkpoint}: build+compile {r['setup']:.3f} s " \
               f"({_verdict(r['setup'] < 0.1)})"
        if JAX in rows:
            ratio = r["min"] / rows[JAX]["min"]
            line += f", run {ratio:.2f}x JAX scan ({_verdict(ratio <= 1.3)})"
        if checkpoint is not None:
            carries, target = r["peak"] / CARRY_BYTES, 3 * math.sqrt(T)
            work = (r["peak"] - r["outputs"]) / CARRY_BYTES
            line += f", peak {carries:.1f} carries <= 3 sqrt(T) = {target:.1f} " \
                    f"({_verdict(carries <= target)}), beyond the outputs " \
                    f"{work:.1f} <= {target:.1f} ({_verdict(work <= target)})"
        print(line)
    return results


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[100, 1000], help="sequence lengths T")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds (min, median)")
    ap.add_argument("--unrolled-max", type=int, default=1000,
                    help="longest T the unrolled graph is built for")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and XLA threads")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="time calls by the wall clock, or by this process's CPU time (steadier "
                         "on a loaded machine: waiting for a core is not counted)")
    ap.add_argument("--quick", action="store_true",
                    help="T=9 and 2 rounds: a smoke test that the script still runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = [9], 2
    print(f"BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS')}; {args.rounds} interleaved "
          f"rounds; symgraph {sg.__file__}")
    print()
    return table(args.steps, args.rounds, args.unrolled_max, args.clock)


if __name__ == "__main__":
    main()
