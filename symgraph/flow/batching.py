"""Batching rules of loops and branches (``sg.vectorize`` through control flow)."""

from __future__ import annotations


def batch_loop(op, inputs, batched):
    raise NotImplementedError("vectorize through scan: in progress")


def batch_cond(op, inputs, batched):
    raise NotImplementedError("vectorize through cond: in progress")
