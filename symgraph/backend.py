"""Array backends: run nodes on the arrays that were fed, not only on numpy.

Ops are written with numpy functions (``np.exp``, ``np.sum``, ``np.matmul``,
``np.where``...).  numpy hands such calls to any array type that implements
its dispatch protocols, ``__array_ufunc__`` (NEP 13) and
``__array_function__`` (NEP 18): dask arrays (lazy, chunked, computed on a
dask cluster), CuPy, pydata/sparse.  So one op implementation serves every
such *family* of arrays, and nothing here re-implements numpy.

This module holds what the protocols do not cover:

* which family a run belongs to (``family``), and accepting fed arrays of
  that family without converting them (``is_foreign``, ``as_array``);
* the few kernels whose numpy code has no dispatching equivalent
  (``scatter_add``: ``np.add.at``; ``getitem`` with several index arrays;
  ``take_labels``: ``kernels.take_labels``, whose label range check would
  compute a lazy array; ``astype``).  numpy runs the inline code; other
  families look up a kernel
  registered for them (dask's are in ``symgraph.dask_backend``) and otherwise
  try the generic numpy code, failing with a ``BackendError`` that names the
  kernel and the array type;
* ``running(family)``: for lazy families, a guard that turns any attempt of
  an op to compute its inputs (``np.asarray``, ``float()``, a numpy function
  dask lacks) into an error instead of a silent computation of all the data;
* ``finalize``: outputs in the family of the feed (numpy in, numpy out;
  dask in, dask out).

The evaluator and compiled functions (``sg.function``) share these entry
points, so both dispatch the same way.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Callable, ContextManager, Iterable

import numpy as np

from . import kernels
from .errors import BackendError

NUMPY = "numpy"

#: Modules that register the kernels of a family, imported on first use.
_LOADERS = {"dask": "symgraph.dask_backend"}
_KERNELS: dict[tuple[str, str], Callable] = {}
_loaded: set[str] = set()

#: numpy broadcasts at least this large (counting broadcast elements) that
#: appear in a lazy run are handed to the lazy family instead of being shipped whole.
PROMOTE_BYTES = 1 << 20


class ComputeRefused(BackendError):
    """An op tried to compute a lazy array while its lazy result was being built."""


# ---------------------------------------------------------------------------
# families
# ---------------------------------------------------------------------------

def is_foreign(value: Any) -> bool:
    """True for arrays of another library that numpy dispatches to (NEP 18)."""
    return (not isinstance(value, (np.ndarray, np.generic))
            and hasattr(type(value), "__array_function__")
            and hasattr(value, "shape") and hasattr(value, "dtype"))


def family_of(value: Any) -> str:
    """``"numpy"`` or the top-level module of a foreign array type, e.g. ``"dask"``."""
    if is_foreign(value):
        return type(value).__module__.partition(".")[0]
    return NUMPY


def family(*values: Any) -> str:
    """The family a computation over ``values`` runs in: the first non-numpy one."""
    for v in values:
        if not isinstance(v, (np.ndarray, np.generic)) and is_foreign(v):
            return family_of(v)
    return NUMPY


def type_name(value: Any) -> str:
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def describe(value: Any) -> str:
    """Shape and dtype of an array for messages, with its type when not numpy."""
    shape, dtype = tuple(np.shape(value)), getattr(value, "dtype", None)
    text = f"{shape} {dtype}" if dtype is not None else str(shape)
    return f"{type_name(value)} {text}" if is_foreign(value) else text


def as_array(value: Any) -> Any:
    """A foreign array unchanged, anything else as a numpy array."""
    return value if is_foreign(value) else np.asarray(value)


def astype(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` in its own family (numpy values become ndarrays)."""
    if is_foreign(x):
        return x if x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def _load(fam: str) -> None:
    if fam not in _loaded:
        if fam in _LOADERS:
            importlib.import_module(_LOADERS[fam])
        _loaded.add(fam)


def register(fam: str, name: str) -> Callable[[Callable], Callable]:
    """Decorator: ``fn`` implements kernel ``name`` for arrays of family ``fam``."""
    def deco(fn: Callable) -> Callable:
        _KERNELS[(fam, name)] = fn
        return fn
    return deco


def kernel(fam: str, name: str) -> Callable | None:
    """The kernel ``name`` registered for family ``fam``, if any."""
    _load(fam)
    return _KERNELS.get((fam, name))


def is_lazy(fam: str) -> bool:
    """Lazy families build a task graph instead of computing (dask)."""
    return kernel(fam, "no_compute") is not None


def running(fam: str) -> ContextManager:
    """The context a run over family ``fam`` executes in (a compute guard if lazy)."""
    guard = kernel(fam, "no_compute")
    return guard() if guard is not None else contextlib.nullcontext()


def promote(value: Any, fam: str) -> Any:
    """In a lazy run, hand a big numpy broadcast (``d mean(x)/dx``, say) to the lazy family.

    A broadcast view costs no memory here, but shipped to a cluster it would
    be pickled at full size; the family's ``asarray`` keeps it virtual.
    """
    if (isinstance(value, np.ndarray) and value.ndim and 0 in value.strides
            and value.size * value.itemsize >= PROMOTE_BYTES and is_lazy(fam)):
        return kernel(fam, "asarray")(value)
    return value


def finalize(values: Iterable[Any], fam: str) -> list[Any]:
    """Outputs in the family of the run: numpy arrays (0-d for scalars) or e.g. dask arrays."""
    if fam == NUMPY:
        return [np.asarray(v) for v in values]
    convert = kernel(fam, "asarray")
    out = []
    for v in values:
        if is_foreign(v) or convert is None:
            out.append(as_array(v))
        else:
            out.append(convert(np.asarray(v)))
    return out


def concrete(value: Any) -> np.ndarray:
    """The concrete value of a small array a run cannot do without (a loop's condition, a
    branch's predicate, a trip count): numpy as it is; a lazy array computed now, the
    one place a lazy run computes (a family's ``compute`` kernel)."""
    if not is_foreign(value):
        return np.asarray(value)
    impl = kernel(family_of(value), "compute")
    return np.asarray(impl(value) if impl is not None else value)


def persist(values: list) -> list:
    """``values`` with their lazy arrays computed and kept in the family's memory (still
    arrays of the family), so that reading them again (a while loop's condition, step after
    step) does not recompute their history; other values as they are."""
    fams = {family_of(v) for v in values if is_foreign(v)}
    if len(fams) != 1:
        return list(values)
    impl = kernel(fams.pop(), "persist")
    return list(impl(values)) if impl is not None else list(values)


def refuse_compute_message(fam: str) -> str:
    return (f"an op asked for the concrete values of a lazy {fam} array (np.asarray, float(), "
            f".compute(), or a numpy function {fam} does not implement), which would compute it "
            f"on this machine")


# ---------------------------------------------------------------------------
# kernels numpy's dispatch does not carry over
# ---------------------------------------------------------------------------

def is_basic_index(index: tuple) -> bool:
    """No integer arrays: every element is addressed at most once."""
    return not any(isinstance(i, np.ndarray) for i in index)


def scatter_add(g: Any, index: tuple, shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeats accumulate)."""
    if not is_foreign(g):
        out = np.zeros(shape, dtype=np.asarray(g).dtype)
        if is_basic_index(index):
            out[index] = g  # basic indexing never repeats an element
        else:
            np.add.at(out, index, g)
        return out
    fam = family_of(g)
    impl = kernel(fam, "scatter_add")
    if impl is not None:
        return impl(g, index, shape)
    try:  # families whose ufuncs implement .at (CuPy) take the numpy code as is
        out = np.zeros(shape, dtype=g.dtype, like=g)
        np.add.at(out, index, g)
        return out
    except (TypeError, NotImplementedError, AttributeError) as e:
        raise BackendError(f"scatter_add (the gradient of indexing) has no implementation for "
                           f"{type_name(g)} arrays: {e}") from None


def getitem(x: Any, index: tuple) -> Any:
    """``x[index]`` with numpy semantics, also for several integer-array indices."""
    if not is_foreign(x):
        return x[index]
    impl = kernel(family_of(x), "getitem")
    return impl(x, index) if impl is not None else x[index]


def flat_positions(index: tuple, shape: tuple[int, ...]) -> np.ndarray:
    """Flat (C-order) positions in an array of ``shape`` of the elements ``index`` selects.

    ``x.reshape(-1)[flat_positions(i, x.shape)] == x[i]`` for every numpy
    index ``i``, which turns any gather or scatter into a one-dimensional one.
    Memory is that of the selection, not of ``shape``.
    """
    if not shape:
        return np.zeros(np.broadcast_to(np.zeros((), np.intp), ())[index].shape, np.intp)
    coords = []
    for k, n in enumerate(shape):
        axis = np.arange(n, dtype=np.intp).reshape((1,) * k + (n,) + (1,) * (len(shape) - k - 1))
        coords.append(np.broadcast_to(axis, shape)[index])
    return np.ravel_multi_index(coords, shape)


def take_labels(logp: Any, labels: Any) -> Any:
    """The entries of ``logp``'s last axis that integer ``labels`` pick (shape ``labels.shape``).

    Labels out of range raise ``EvaluationError`` (for lazy arrays, when the
    result is computed).  numpy, and families without a kernel of their own
    (CuPy), run ``kernels.take_labels`` as it is.
    """
    fam = family(logp, labels)
    impl = kernel(fam, "take_labels") if fam != NUMPY else None
    if impl is not None:
        return impl(logp, labels)
    return kernels.take_labels(logp, labels)


__all__ = [
    "NUMPY", "PROMOTE_BYTES", "ComputeRefused", "is_foreign", "family_of", "family", "describe",
    "as_array", "astype", "register", "kernel", "is_lazy", "running", "promote", "finalize",
    "concrete", "persist",
    "scatter_add", "getitem", "flat_positions", "take_labels",
]
