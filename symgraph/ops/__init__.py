"""Op families and their builder functions (one module per family).

Each family module lists its builders in its own ``__all__``; they are all
gathered here, so a new op and its builder live in one file.  ``__all__``
below (re-exported as ``symgraph.*``) is the public API: the family builders
minus ``INTERNAL``, the building blocks of rules and tests.
"""

import sys

from ..graph import register_builders
from . import (contract, control, cumulative, eigen, elementwise, linalg, matrix_parts, nn, norms,
               numpy_compat, piecewise, qr, rearrange, reduce, shape, solve, sorting, sources, stable,
               transcendental, triangular)
from .base import Op, as_node, builtin_ops, registered_ops  # noqa: F401
from .contract import *  # noqa: F401,F403
from .control import *  # noqa: F401,F403
from .cumulative import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .matrix_parts import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .norms import *  # noqa: F401,F403
from .numpy_compat import *  # noqa: F401,F403
from .piecewise import *  # noqa: F401,F403
from .rearrange import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .sources import *  # noqa: F401,F403
from .stable import *  # noqa: F401,F403
from .transcendental import *  # noqa: F401,F403

#: builders rules and tests use that are not part of the public API
INTERNAL = frozenset({"add_n", "getitem", "sum_to"})

__all__ = ["Op"] + [name for family in (
    sources, elementwise, transcendental, stable, piecewise, reduce, cumulative, norms, shape,
    rearrange, matrix_parts, sorting, linalg, triangular, solve, eigen, qr, contract, nn, control,
    numpy_compat)
                    for name in family.__all__ if name not in INTERNAL]

register_builders(sys.modules[__name__])  # Node operators (x + y, x.T) build with these
