"""Hypothesis profiles for the property tests, and the figures they report.

Profiles (chosen by ``SYMGRAPH_HYPOTHESIS_PROFILE``; default "ci", which is
also what CI (``CI=true``) runs):

* ``ci``: derandomized (the same examples every run), no example database,
  a few hundred examples over all property tests; finishes in well under two
  minutes on two shared cores.
* ``nightly``: random, twenty times as many examples; run it on a schedule
  (``SYMGRAPH_HYPOTHESIS_PROFILE=nightly pytest tests/test_properties.py``).
* ``dev``: like ``ci`` but random and keeping a local example database, for
  hunting bugs by hand.

``STATS`` collects what the property tests did; ``conftest.py`` prints it at
the end of the session (and writes it as JSON to ``$SYMGRAPH_PROPERTY_STATS``
when that is set).
"""

from __future__ import annotations

import json
import os
from collections import Counter

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])

settings.register_profile("ci", max_examples=100, derandomize=True, database=None, **_COMMON)
settings.register_profile("nightly", max_examples=2000, **_COMMON)
settings.register_profile("dev", max_examples=50, **_COMMON)

PROFILE = os.environ.get("SYMGRAPH_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(factor: float) -> settings:
    """Settings running ``factor`` times the profile's number of examples."""
    return settings(max_examples=max(1, int(settings.default.max_examples * factor)))


class Stats:
    """Counts of examples, checks (by derivative order) and ops seen by the property tests."""

    def __init__(self) -> None:
        self.examples: Counter = Counter()
        self.checks: Counter = Counter()
        self.forward_ops: set[str] = set()
        self.derivative_ops: set[str] = set()
        self.nodes = 0
        #: the largest error / tolerance seen per check (how much headroom the tolerances have)
        self.worst: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.examples)

    def as_dict(self, all_ops: list[str]) -> dict:
        return {
            "profile": PROFILE,
            "examples": dict(self.examples), "total_examples": sum(self.examples.values()),
            "checks": dict(self.checks), "nodes_built": self.nodes,
            "forward_ops_covered": sorted(self.forward_ops),
            "forward_ops_missing": sorted(set(all_ops) - self.forward_ops),
            "derivative_ops_covered": sorted(self.derivative_ops),
            "worst_error_over_tolerance": dict(self.worst),
        }

    def report(self, all_ops: list[str]) -> list[str]:
        d = self.as_dict(all_ops)
        lines = [f"profile {PROFILE!r}: {d['total_examples']} examples tried, "
                 f"{d['nodes_built']} nodes built"]
        lines += [f"  {name}: {n} examples" for name, n in sorted(self.examples.items())]
        lines.append("checks passed: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.checks.items())))
        if self.worst:
            lines.append("worst error/tolerance: " + ", ".join(
                f"{k} {v:.2g}" for k, v in sorted(self.worst.items())))
        lines.append(f"forward ops covered: {len(d['forward_ops_covered'])}/{len(all_ops)}"
                     + (f" (missing: {', '.join(d['forward_ops_missing'])})"
                        if d["forward_ops_missing"] else " (all)"))
        lines.append(f"ops in derivative graphs: {len(d['derivative_ops_covered'])} "
                     f"({', '.join(d['derivative_ops_covered'])})")
        path = os.environ.get("SYMGRAPH_PROPERTY_STATS")
        if path:
            with open(path, "w") as fh:
                json.dump(d, fh, indent=1)
            lines.append(f"written to {path}")
        return lines


STATS = Stats()
