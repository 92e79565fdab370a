"""Garbage-collector tuning for bulk work (an import, a catch-up or rebuild of the read
models) in one process: :func:`fewer_collections`."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_GC_THRESHOLD = 10_000
"""Allocations between two collections of the youngest generation during bulk work
(Python's default is 700)."""

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections(threshold: int = BULK_GC_THRESHOLD) -> Iterator[None]:
    """Run the cyclic garbage collector's youngest generation less often, then restore it.

    Bulk work allocates hundreds of thousands of short-lived objects (pydantic models,
    rows, dicts) that reference counting frees anyway; at the default threshold the
    collector runs every 700 allocations and scans them all: about 10 % of an import or
    a rebuild. Nothing is left uncollected: the collector still runs, less often. Nested
    or concurrent uses (threads of one server) share one setting: the first sets it, the
    last restores what was there before."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            if _saved[0]:  # 0: the caller turned collection off; leave it off
                gc.set_threshold(max(threshold, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
