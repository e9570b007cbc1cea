"""Pin BLAS and XLA to a number of threads (and one core) before numpy and the peers load.

Every benchmark here runs single-threaded by default: on a shared machine
multi-threaded timings measure contention.  Import this module first and call
``pin_threads()``: it reads ``--threads`` from the command line (default 1)
and sets the variables OpenBLAS, OpenMP, MKL and XLA read at load time.  With
one thread the process (and the workers it starts, which inherit it) is also
pinned to one core, so a peer that starts threads of its own anyway (XLA's
runtime) gets no more CPU than the others.

``--blas-core`` picks OpenBLAS's kernels (``OPENBLAS_CORETYPE``): "auto" (the
default) asks for the AVX-512 kernels ("SkylakeX") on a CPU with avx512f when
the variable is unset, and keeps a value the environment set; "keep" leaves
the variable alone; any other value is set as is.  The AVX2 "Haswell" kernels
are ~1.6x slower per matrix product than SkylakeX's on AMD EPYC (numpy's
OpenBLAS 0.3.31 detects SkylakeX there by itself; an environment with
``OPENBLAS_CORETYPE=Haswell`` forces the slow ones: ``--blas-core SkylakeX``).
All methods, and the BLAS floor, run with the same setting.
"""

from __future__ import annotations

import argparse
import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_flags() -> set[str]:
    """The first CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def set_blas_core(choice: str) -> str | None:
    """Set ``OPENBLAS_CORETYPE`` as ``--blas-core`` says (see the module); the value in force."""
    if choice == "auto":
        if "OPENBLAS_CORETYPE" not in os.environ and "avx512f" in cpu_flags():
            os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif choice != "keep":
        os.environ["OPENBLAS_CORETYPE"] = choice
    return os.environ.get("OPENBLAS_CORETYPE")


def pin_threads(default: int = 1) -> int:
    """Set the thread variables from ``--threads`` (default ``default``), the BLAS kernels from
    ``--blas-core``, and with one thread pin this process to one core; the count set."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int, default=default)
    pre.add_argument("--blas-core", default="auto")
    known = pre.parse_known_args()[0]
    n = known.threads
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    set_blas_core(known.blas_core)
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false")
        if hasattr(os, "sched_setaffinity"):
            allowed = os.sched_getaffinity(0)
            if len(allowed) > 1:
                os.sched_setaffinity(0, {min(allowed)})
    return n


def blas_info() -> str:
    """The BLAS libraries loaded so far, with the kernels they use (threadpoolctl's view)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture') or ''} "
                     f"x{i.get('num_threads')}".replace("  ", " ")
                     for i in threadpool_info() if i.get("user_api") == "blas") or "none loaded"
