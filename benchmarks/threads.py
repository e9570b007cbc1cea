"""Pin BLAS and XLA to a number of threads before numpy and the peers load.

Every benchmark here runs single-threaded by default: on a shared machine
multi-threaded timings measure contention.  Import this module first and call
``pin_threads()``: it reads ``--threads`` from the command line (default 1)
and sets the variables OpenBLAS, OpenMP, MKL and XLA read at load time.
"""

from __future__ import annotations

import argparse
import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_threads(default: int = 1) -> int:
    """Set the thread variables from ``--threads`` (default ``default``); the count set."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int, default=default)
    n = pre.parse_known_args()[0].threads
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    return n
