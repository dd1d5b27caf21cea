"""The rejects file of a load: every row that was not acknowledged, with its row number, why, and the row itself.

A CSV file with the columns ``row``, ``status``, ``reason`` and ``source``:

* ``status`` is ``failed`` (the row was not written: a value that does not fit, or the server refused it) or
  ``unknown`` (the insert got no acknowledgement, even after retries: it may or may not have been written);
* ``source`` is the row as it stands in the source: the CSV record or the JSON line verbatim, or a JSON
  object of a DataFrame's or Parquet file's values.

Every such row is listed, however many there are. The file is written beside its target and renamed into
place when the load ends, whether it ended well or not, so it always describes a whole run. An existing file
is replaced only if it is a rejects file (it starts with this header); anything else there is refused.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from cassnb._atomic import AtomicFile, TargetExistsError

__all__ = ("HEADER", "Rejects")

HEADER = ("row", "status", "reason", "source")
_HEADER_LINE = ",".join(HEADER)


def _is_rejects_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", newline="") as file:
            return file.readline().rstrip("\r\n") == _HEADER_LINE
    except (OSError, UnicodeDecodeError):
        return False


class Rejects:
    """Collects rejected rows on the event loop; :meth:`flush` and :meth:`close` write them (blocking: in a thread).

    Without a path nothing is written; the counts and the first rows still reach the load's report.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(os.path.abspath(os.fspath(path)))
        self.count = 0
        self._pending: list[tuple[int, str, str, str]] = []
        self._atomic: AtomicFile | None = None
        self._file: io.TextIOWrapper | None = None

    def open(self) -> None:
        """Check the target and start the temporary file (blocking).

        Raises:
            TargetExistsError: something that is not a rejects file is at the path.
            IsADirectoryError: the path is a directory.
        """
        if self.path is None:
            return
        if self.path.exists() and not self.path.is_dir() and not _is_rejects_file(self.path):
            raise TargetExistsError(
                self.path, f"{self.path} exists and is not a cassnb rejects file; name another path for rejects="
            )
        self._atomic = AtomicFile(self.path, overwrite=True)
        temp = self._atomic.open()
        self._file = open(temp, "w", encoding="utf-8", newline="")
        csv.writer(self._file).writerow(HEADER)

    def add(self, row: int, status: str, reason: str, source: str) -> None:
        self.count += 1
        if self.path is not None:
            self._pending.append((row, status, reason, source))

    def flush(self) -> None:
        """Write the rows collected so far (blocking)."""
        pending, self._pending = self._pending, []
        if self._file is not None and pending:
            csv.writer(self._file).writerows(sorted(pending))

    def close(self) -> None:
        """Write what is left and put the file in place (blocking). Idempotent."""
        if self._file is None or self._atomic is None:
            return
        self.flush()
        file, self._file = self._file, None
        file.close()
        self._atomic.commit()
