"""Keep CPython's full garbage collections out of bulk reads.

A bulk read allocates thousands of GC-tracked objects per page (a tuple per row, a ``uuid.UUID`` per uuid
cell) that live until the page is converted, so they count towards the collector's full collections. A full
collection walks every tracked object of the process while holding the GIL, usually on the driver's I/O
thread in the middle of decoding, and with a large result already held that takes tens to hundreds of
milliseconds: the event loop stalls and the read slows down (see ``benchmarks/results/stall_study_*.md``).

During ``query_df``, ``more`` and exports, automatic collection is therefore switched off and the young
generations are collected once per page instead (cheap: proportional to what that page allocated).
Reads share the switch through a holder count, and collection comes back when the last read ends, and only
if it was on before. Bounded calls hold the switch with ``try/finally`` (:func:`deferred_collections`).

A stream being consumed is open-ended, so it holds the switch by :class:`PageLease`: each page renews the
lease for :data:`IDLE_SECONDS`, and the lease is given back when the stream ends, is closed or is dropped,
or when no page was taken for that long. A stream left open and forgotten, or a consumer that works on a
page for longer than that, has the collector back; only a stream that keeps delivering pages defers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


#: How long a stream's lease lasts after its last page.
IDLE_SECONDS = 1.0


def _acquire() -> None:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1


def _release() -> None:
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0 and _was_enabled:
            gc.enable()


@contextlib.contextmanager
def deferred_collections() -> Iterator[None]:
    """Switch automatic collection off for a bulk read (nested and concurrent reads share one switch).

    When the last read ends the collector is back exactly as it was (on, or off if the application had
    switched it off); nothing else about it is changed (no ``gc.freeze()``, no thresholds).
    """
    _acquire()
    try:
        yield
    finally:
        _release()


class PageLease:
    """The switch for one stream, held while its pages keep coming (see the module docstring).

    Used on the stream's event loop only; :meth:`release` is also safe from a finalizer.
    """

    __slots__ = ("__weakref__", "_held", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._held = False
        self._timer: asyncio.TimerHandle | None = None

    def renew(self) -> None:
        """A page was delivered: collect the young generations and hold the switch for another while."""
        if self._held:
            gc.collect(1)
        else:
            _acquire()
            self._held = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(IDLE_SECONDS, self.release)

    def release(self) -> None:
        """Give the switch back (idempotent)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if self._held:
            self._held = False
            _release()
