"""Keep CPython's full garbage collections out of bulk reads.

A bulk read allocates thousands of GC-tracked objects per page (a tuple per row, a ``uuid.UUID`` per uuid
cell) that live until the page is converted, so they count towards the collector's full collections. A full
collection walks every tracked object of the process while holding the GIL, usually on the driver's I/O
thread in the middle of decoding, and with a large result already held that takes tens to hundreds of
milliseconds: the event loop stalls and the read slows down (see ``benchmarks/results/stall_study_*.md``).

During ``query_df``, ``more`` and exports, automatic collection is therefore switched off and the young
generations are collected once per page instead (cheap: proportional to what that page allocated).
Reads share the switch through a holder count, and collection comes back when the last read ends, and only
if it was on before. The switch is only ever held inside a bounded call with ``try/finally``, never by an
open-ended iterator, so it cannot be left off.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def deferred_collections() -> Iterator[None]:
    """Switch automatic collection off for a bulk read (nested and concurrent reads share one switch).

    When the last read ends the collector is back exactly as it was (on, or off if the application had
    switched it off); nothing else about it is changed (no ``gc.freeze()``, no thresholds).
    """
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()


def collect_young() -> None:
    """Collect the two young generations: what the last page allocated, and no more."""
    if _holders:
        gc.collect(1)
