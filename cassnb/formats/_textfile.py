"""The UTF-8 text stream under the CSV and JSON Lines writers, optionally gzip-compressed."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from pathlib import Path
from typing import BinaryIO

_BUFFER_BYTES = 256 * 1024  # fewer, larger writes; pages are encoded in bulk anyway
_GZIP_LEVEL = 6  # gzip's own default of 9 costs several times the CPU for a few percent


class TextSink:
    """A text file opened for an export; ``text`` is what the writers write to.

    With ``gzipped`` the gzip header records no file name (the file is a temporary one, renamed later).
    """

    def __init__(self, path: Path, *, gzipped: bool) -> None:
        self._path = path
        self._raw: BinaryIO = open(path, "wb", buffering=_BUFFER_BYTES)  # closed in close()/abort()
        self._gzip = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=_GZIP_LEVEL) if gzipped else None
        )
        binary: BinaryIO = self._gzip if self._gzip is not None else self._raw  # type: ignore[assignment]
        self.text = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=False)

    def close(self) -> int:
        """Flush every layer (writing the gzip trailer), close the file and return its size in bytes."""
        self.text.close()  # also closes the GzipFile, which leaves the raw file open
        self._raw.close()
        return os.path.getsize(self._path)

    def abort(self) -> None:
        """Close every layer, ignoring errors: the file is about to be deleted."""
        for layer in (self.text, self._gzip, self._raw):
            if layer is not None:
                with contextlib.suppress(Exception):
                    layer.close()
