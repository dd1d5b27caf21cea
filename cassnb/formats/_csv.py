"""CSV writer (RFC 4180): a header row, CRLF line ends, fields quoted only when they must be.

Cells are the text forms of the type registry (collections as JSON text). A field is quoted, with inner quotes
doubled, when it contains the delimiter, a quote, CR or LF (exactly the rule of the ``csv`` module's
``QUOTE_MINIMAL``), and also when it *equals the null marker*: so with the default empty marker a null is an
empty field and an empty string is ``""``. The ``csv`` module cannot quote a chosen field (it writes ``None``
and ``""`` alike), which is why lines are assembled here. That also makes the common case fast: quoting is
decided per column with one C-level scan, and a clean column goes straight into ``str.join``; only
columns holding nulls or characters to quote are looked at cell by cell. Readers: any CSV reader parses
the file; some also keep null and ``""`` apart (see ``CsvOptions.null``).

A one-column row holding a null, with the empty marker, is an empty line (it is a row with one empty field;
``csv.reader`` returns ``[]`` for it and pyarrow needs ``ignore_empty_lines=False``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from cassnb.formats._columns import Rows, encode_column, transpose
from cassnb.formats._encode import text_encoders
from cassnb.formats._textfile import TextSink

_LINE_END = "\r\n"


class CsvWriter:
    """Writes pages to a CSV file (see ``CsvOptions`` for ``delimiter`` and ``null``)."""

    def __init__(
        self,
        column_names: Sequence[str],
        column_types: Sequence[type],
        *,
        delimiter: str = ",",
        null: str = "",
        gzipped: bool = False,
    ) -> None:
        self._names = list(column_names)
        self._encoders = text_encoders(column_types)
        self._delimiter = delimiter
        self._null = null
        self._specials = (delimiter, '"', "\r", "\n")  # the characters that force a field into quotes
        self._must_quote: Callable[[str], object] = re.compile(f'[{re.escape(delimiter)}"\r\n]').search
        self._gzipped = gzipped
        self._sink: TextSink | None = None

    def open(self, path: Path) -> None:
        self._sink = TextSink(path, gzipped=self._gzipped)
        if self._names:
            self._sink.text.write(self._delimiter.join(self._field_texts(self._names, False)) + _LINE_END)

    def write_page(self, rows: Rows) -> None:
        if not rows:
            return
        if self._sink is None:
            raise RuntimeError("CsvWriter.open() was not called")
        columns = [
            self._field_texts(*encode_column(encode, values))
            for encode, values in zip(self._encoders, transpose(rows, len(self._encoders)), strict=True)
        ]
        lines = map(self._delimiter.join, zip(*columns, strict=True))
        self._sink.text.write(_LINE_END.join(lines) + _LINE_END)

    def _field_texts(self, cells: Sequence[str | None], has_nulls: bool) -> Sequence[str]:
        """One column's fields as they appear in the file: nulls spelt out, quoting applied where needed."""
        null = self._null
        if not has_nulls:
            texts = cast(Sequence[str], cells)
            # Each character that forces quotes is a single one, so scanning the joined column finds it
            # (substring search runs at memory speed, a regex scan is hundreds of times slower).
            joined = "".join(texts)
            if null not in texts and not any(special in joined for special in self._specials):
                return texts
        must_quote = self._must_quote
        return [
            null if cell is None else '"' + cell.replace('"', '""') + '"' if cell == null or must_quote(cell) else cell
            for cell in cells
        ]

    def close(self) -> int:
        if self._sink is None:
            raise RuntimeError("CsvWriter.open() was not called")
        return self._sink.close()

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()
