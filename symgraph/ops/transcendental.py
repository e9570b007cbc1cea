"""Elementwise transcendental and special functions: exp/log variants, hyperbolic and
inverse trigonometric functions, and scipy.special's erf, erfc, gammaln, digamma.
"""

from __future__ import annotations

__all__: list[str] = []
