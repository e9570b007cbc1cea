"""dask kernels: the few op semantics numpy's dispatch does not carry over to dask.

Every other op runs on dask arrays through numpy's protocols (``np.exp(x)``
on a dask array is a dask array).  The kernels here keep the two properties
that matter on a cluster: results stay lazy, and each task touches about one
chunk of the data.  Imported by ``symgraph.backend`` the first time a dask
array is seen; it needs the ``dask`` extra (``pip install symgraph[dask]``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Any, Iterator

import dask
import dask.array as da
import dask.base
import dask.threaded
import numpy as np

from . import backend, kernels
from .backend import ComputeRefused, register

FAMILY = "dask"


# ---------------------------------------------------------------------------
# run-time behaviour
# ---------------------------------------------------------------------------

# The guard is a scheduler installed in dask's (process-wide) config while at
# least one symgraph run is building lazy results; it refuses only computes made
# in a context (thread / asyncio task) that is inside such a run, and hands every
# other compute to the scheduler dask would have chosen without it.
_REFUSING: contextvars.ContextVar[bool] = contextvars.ContextVar("symgraph_dask_refusing",
                                                                 default=False)
_guard_lock = threading.Lock()
_guard_users = 0
_saved_scheduler: Any = None


def _guard_scheduler(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    if _REFUSING.get():
        raise ComputeRefused(backend.refuse_compute_message(FAMILY))
    return _fallback_scheduler()(dsk, keys, **kwargs)


def _fallback_scheduler() -> Any:
    """What ``dask.base.get_scheduler`` picks without the guard (for arrays)."""
    if _saved_scheduler is not None:
        return dask.base.get_scheduler(scheduler=_saved_scheduler)
    try:
        from distributed import get_client

        return get_client().get
    except (ImportError, ValueError):
        return dask.threaded.get


@register(FAMILY, "no_compute")
@contextlib.contextmanager
def no_compute() -> Iterator[None]:
    """While building lazy results, any ``compute`` (also inside ``np.asarray``) raises.

    dask consults the ``scheduler`` setting before any default or distributed
    client, so this catches every implicit computation an op might trigger.
    Only computes from the current thread/task while it is in here are
    refused; other threads compute as usual meanwhile.
    """
    global _guard_users, _saved_scheduler
    with _guard_lock:
        if _guard_users == 0:
            _saved_scheduler = dask.config.get("scheduler", None)
            dask.config.set(scheduler=_guard_scheduler)
        _guard_users += 1
    token = _REFUSING.set(True)
    try:
        yield
    finally:
        _REFUSING.reset(token)
        with _guard_lock:
            _guard_users -= 1
            if _guard_users == 0:
                if dask.config.get("scheduler", None) is _guard_scheduler:
                    if _saved_scheduler is None:
                        dask.config.config.pop("scheduler", None)
                    else:
                        dask.config.set(scheduler=_saved_scheduler)
                _saved_scheduler = None


@contextlib.contextmanager
def _allowed() -> Iterator[None]:
    token = _REFUSING.set(False)
    try:
        yield
    finally:
        _REFUSING.reset(token)


@register(FAMILY, "compute")
def compute(value: da.Array) -> np.ndarray:
    """A value the run cannot go on without (a loop's condition), computed on purpose."""
    with _allowed():
        return np.asarray(value.compute())


@register(FAMILY, "persist")
def persist(values: list) -> list:
    """Lazy arrays computed and kept in memory (on the cluster, with distributed) as dask
    arrays: a while loop's carries, which its condition reads at every step."""
    lazy = [k for k, v in enumerate(values) if isinstance(v, da.Array)]
    out = list(values)
    with _allowed():
        done = dask.persist(*[values[k] for k in lazy])
    for k, v in zip(lazy, done):
        out[k] = v
    return out


@register(FAMILY, "asarray")
def asarray(value: np.ndarray) -> da.Array:
    """A numpy value as a dask array; broadcast views stay virtual (nothing is copied)."""
    value = np.asarray(value)
    if value.ndim and value.size > 1 and 0 in value.strides:
        compact = value[tuple(slice(0, 1) if s == 0 else slice(None) for s in value.strides)]
        chunks = da.core.normalize_chunks("auto", value.shape, dtype=value.dtype)
        return da.broadcast_to(da.from_array(np.ascontiguousarray(compact)), value.shape,
                               chunks=chunks)
    return da.from_array(value)


# ---------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------

def _expand(index: tuple, ndim: int) -> list:
    """The index with Ellipsis spelled out and trailing full slices, one item per axis (+ None)."""
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    out: list = []
    for i in index:
        if i is Ellipsis:
            out.extend([slice(None)] * (ndim - consumed))
            consumed = ndim
        else:
            out.append(i)
    out.extend([slice(None)] * (ndim - consumed))
    return out


def _single_array(items: list) -> int | None:
    """Position of the only index item when it is a 1-D array among full slices, else None."""
    arrays = [k for k, i in enumerate(items) if isinstance(i, np.ndarray)]
    if len(arrays) != 1 or items[arrays[0]].ndim != 1:
        return None
    others = [i for k, i in enumerate(items) if k != arrays[0]]
    if all(isinstance(i, slice) and i == slice(None) for i in others):
        return arrays[0]
    return None


@register(FAMILY, "getitem")
def getitem(x: da.Array, index: tuple) -> da.Array:
    """dask indexes natively with slices and one 1-D array; the rest goes through flat positions."""
    arrays = [i for i in index if isinstance(i, np.ndarray)]
    if not arrays:
        return x[index]
    items = _expand(index, x.ndim)
    if all(i is not None for i in items) and _single_array(items) is not None:
        return x[index]
    pos = backend.flat_positions(index, x.shape)
    return x.reshape(-1)[pos.reshape(-1)].reshape(pos.shape)


@register(FAMILY, "scatter_add")
def scatter_add(g: da.Array, index: tuple, shape: tuple[int, ...]) -> da.Array:
    """The adjoint of ``getitem``, chunked like ``g`` wherever the index keeps whole axes."""
    items = _expand(index, len(shape))
    if backend.is_basic_index(index):
        return _scatter_basic(g, items, shape)
    p = _single_array(items)
    if p is not None:
        return _scatter_one_array(g, items[p], p, shape)
    return _scatter_positions(g, index, shape)


def _scatter_basic(g: da.Array, items: list, shape: tuple[int, ...]) -> da.Array:
    """Assignment into zeros chunked like ``g`` (each output block reads only its part of g)."""
    drop, where, chunks, j = [], [], [], 0
    for item in items:
        if item is None:  # a new axis of length 1 in g, absent from the output
            drop.append(j)
            j += 1
            continue
        n = shape[len(where)]
        if isinstance(item, slice):
            if item == slice(None):
                chunks.append(g.chunks[j])
            elif g.numblocks[j] == 1:
                chunks.append(n)
            else:  # about the chunk length of the array g was sliced from
                chunks.append(max(1, g.chunksize[j] * abs(item.step or 1)))
            j += 1
        else:  # an int: the axis is gone from g
            chunks.append("auto")
        where.append(item)
    if drop:
        g = da.squeeze(g, axis=tuple(drop))
    out = da.zeros(shape, dtype=g.dtype, chunks=tuple(chunks))
    out[tuple(where)] = g
    return out


def _scatter_one_array(g: da.Array, arr: np.ndarray, p: int, shape: tuple[int, ...]) -> da.Array:
    """``out[:, ..., arr, :, ...] += g`` block by block, then summed over g's blocks along ``p``.

    Axes other than ``p`` keep g's chunks, so selecting columns of chunked
    rows stays chunked by rows; blocks along ``p`` (an embedding's batch)
    each scatter into an output block spanning the whole axis ``p``.
    """
    starts = np.cumsum((0,) + g.chunks[p])

    def block(b: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        s = starts[block_info[0]["chunk-location"][p]]
        out = np.zeros(b.shape[:p] + (1, shape[p]) + b.shape[p + 1:], dtype=b.dtype)
        np.add.at(out, (slice(None),) * p + (0, arr[s:s + b.shape[p]]), b)
        return out

    chunks = g.chunks[:p] + ((1,) * g.numblocks[p], (shape[p],)) + g.chunks[p + 1:]
    stacked = g.map_blocks(block, new_axis=p + 1, chunks=chunks, dtype=g.dtype)
    return stacked.sum(axis=p)


def _scatter_positions(g: da.Array, index: tuple, shape: tuple[int, ...]) -> da.Array:
    """Any index: a weighted ``bincount`` over flat positions (one output-sized block per chunk)."""
    pos = backend.flat_positions(index, shape)
    size = int(np.prod(shape, dtype=np.int64))
    w = g.reshape(-1)
    p = da.from_array(pos.reshape(-1), chunks=w.chunks)
    if np.dtype(g.dtype).kind == "c":
        out = (da.bincount(p, weights=w.real, minlength=size)
               + 1j * da.bincount(p, weights=w.imag, minlength=size))
    else:
        out = da.bincount(p, weights=w, minlength=size)
    return out.astype(g.dtype).reshape(shape)


# ---------------------------------------------------------------------------
# cross-entropy
# ---------------------------------------------------------------------------

@register(FAMILY, "take_labels")
def take_labels(logp: Any, labels: Any) -> da.Array:
    """``take_along_axis`` per block (whole class axis in each), labels checked in the task."""
    logp, labels = da.asarray(logp), da.asarray(labels)
    ind = tuple(range(logp.ndim))
    return da.blockwise(kernels.take_labels, ind[:-1], logp, ind, labels, ind[:-1],
                        dtype=logp.dtype, concatenate=True)


# ---------------------------------------------------------------------------
# functions of whole matrices (np.linalg)
# ---------------------------------------------------------------------------

@register(FAMILY, "map_matrices")
def map_matrices(xs: list, fn: Any, cores: tuple[int, ...], tail: tuple[int, ...],
                 dtype: Any) -> da.Array:
    """``fn`` (numpy, over stacks of matrices) on each block of whole matrices: ``(..., *tail)``.

    ``cores[i]`` trailing axes of ``xs[i]`` are its matrix (or vector) part;
    the leading batch axes broadcast together.  The core axes become one chunk
    each and the batch axes share the first array's chunks, so every task holds
    whole matrices and the result is numpy's (``da.linalg.svd``, say, takes one
    tall-and-skinny matrix and picks its own signs).
    """
    xs = [da.asarray(x) for x in xs]
    batch = np.broadcast_shapes(*(x.shape[:x.ndim - c] for x, c in zip(xs, cores)))
    xs = [da.broadcast_to(x, batch + x.shape[x.ndim - c:]) for x, c in zip(xs, cores)]
    nb = len(batch)
    chunks = {i: xs[0].chunks[i] for i in range(nb)}
    xs = [x.rechunk({**chunks, **{i: -1 for i in range(nb, x.ndim)}}) for x in xs]
    batch_ix = tuple(f"b{i}" for i in range(nb))
    out_ix = batch_ix + tuple(f"o{i}" for i in range(len(tail)))
    args: list = []
    for k, (x, c) in enumerate(zip(xs, cores)):
        args += [x, batch_ix + tuple(f"c{k}_{i}" for i in range(c))]
    ndim = nb + len(tail)
    return da.blockwise(fn, out_ix, *args, dtype=dtype, concatenate=True,
                        new_axes={f"o{i}": n for i, n in enumerate(tail)},
                        meta=np.empty((0,) * ndim, dtype))
