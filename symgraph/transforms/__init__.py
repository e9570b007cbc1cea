"""Transforms: graph in, graph out, nothing evaluated.

* ``substitute`` / ``vectorize`` rebuild outputs with some nodes swapped
  (``vectorize``: for batches of them, through every op's batching rule);
* ``sparsity`` / ``hessian_sparsity`` derive exact structural derivative
  patterns from every op's sparsity rule;
* ``coloring`` groups the columns of a pattern so one batched sweep per
  group recovers a sparse Jacobian or Hessian.
"""

from .coloring import color_columns, recover_jacobian, recover_hessian, star_coloring
from .sparsity import hessian_sparsity, sparsity
from .substitute import substitute, vectorize

__all__ = ["substitute", "vectorize", "sparsity", "hessian_sparsity", "color_columns",
           "star_coloring", "recover_jacobian", "recover_hessian"]
