"""Cell-end clean-up: a stream a cell opened and left open is closed when the cell finishes.

``s = await session.execute_stream(...)`` without ``async with`` keeps a request slot and a prefetched page
until ``s.close()``; in a notebook that is easy to forget, and the cell that forgot is long gone by the time
anyone notices. So, once ``%load_ext cassnb`` has run, every cell is bracketed by IPython's cell events:

* ``pre_run_cell`` takes a :func:`cassnb.streaming.stream_mark`;
* ``post_run_cell`` closes every stream opened since that mark and still open
  (:func:`cassnb.streaming.close_streams_opened_after`, which closes each stream on its own loop: the
  kernel's for ``await`` cells, the magics' runner for the rest) and prints one warning line per stream on
  stderr.

``post_run_cell`` fires once per executed cell whether it succeeded, raised or was interrupted (ipykernel
fires it for cancelled ``await`` cells too, with no result). ``post_execute`` would not do: ipykernel also
fires it around widget messages, which would close a stream in the middle of the cell that reads it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..streaming import close_streams_opened_after, stream_mark

log = logging.getLogger("cassnb.magics")

WARNING = "cassnb: closed a stream left open by this cell: {}"


class CellStreamGuard:
    """The two cell event callbacks; :meth:`register` / :meth:`unregister` attach them to a shell."""

    def __init__(self) -> None:
        # One (cell info, mark) per running cell: cells can nest (``ip.run_cell`` from a cell, ``%run``).
        self._marks: list[tuple[object, int]] = []

    def pre_run_cell(self, info: object) -> None:
        self._marks.append((info, stream_mark()))

    def post_run_cell(self, result: object) -> None:
        mark = self._pop(getattr(result, "info", None))
        if mark is None:  # an empty cell: IPython fires post_run_cell without pre_run_cell
            return
        try:
            closed = close_streams_opened_after(mark)
        except Exception:  # never break the user's next cell because of the clean-up
            log.exception("closing the streams left open by a cell failed")
            return
        for description in closed:
            print(WARNING.format(description), file=sys.stderr, flush=True)

    def _pop(self, info: object) -> int | None:
        """The mark of the cell that finished (the innermost one when ``info`` is unknown)."""
        for index in range(len(self._marks) - 1, -1, -1):
            if info is None or self._marks[index][0] is info:
                mark = self._marks[index][1]
                del self._marks[index:]
                return mark
        return None

    def register(self, events: Any) -> None:
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)

    def unregister(self, events: Any) -> None:
        for name, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                events.unregister(name, callback)
            except ValueError:  # not registered (already removed)
                pass
