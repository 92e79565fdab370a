"""Bulk work (an import, a catch-up or rebuild of the read models) in one process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_GC_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation during bulk work
(Python's default is 700)."""


@contextmanager
def fewer_collections(threshold: int = BULK_GC_THRESHOLD) -> Iterator[None]:
    """Run the cyclic garbage collector's youngest generation less often, then restore it.

    Bulk work allocates hundreds of thousands of short-lived objects (pydantic models,
    rows, dicts) that reference counting frees anyway; at the default threshold the
    collector runs every 700 allocations and scans them all: about 10 % of an import or
    a rebuild. Nothing is left uncollected: the collector still runs, less often."""
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
