"""Reading CSV records the way cassnb writes them: a null is an *unquoted* field equal to the null marker.

``csv.reader`` (before Python 3.13) cannot tell ``""`` from an empty unquoted field, so records are split here.
Each :class:`Record` knows the line it starts on and its own text, so a bad record is reported by line and
kept verbatim (in a load's rejects file), and the rest of the file still loads:

* a quoted field may hold the delimiter, quotes (doubled) and line breaks; a record then spans lines;
* a field of any size is read whole (there is no block size to straddle);
* bytes that are not UTF-8 make that record bad, not the file;
* a record whose number of fields differs from the header's is the caller's to judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ("Record", "read_records")


@dataclass(slots=True)
class Record:
    """One CSV record: its first line (1-based), its text, its fields (None: a null), or why it is unreadable."""

    line: int
    text: str
    fields: list[str | None]
    error: str | None = None


def _decoded(line: bytes) -> tuple[str, str | None]:
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = line[exc.start : exc.start + 1].hex()
        where = f"byte 0x{bad} at position {exc.start + 1}"
        return line.decode("utf-8", "backslashreplace"), f"not UTF-8 text ({where})"


def _content_end(text: str) -> int:
    """Where ``text`` (one line) ends without its line end."""
    if text.endswith("\r\n"):
        return len(text) - 2
    return len(text) - 1 if text.endswith(("\n", "\r")) else len(text)


class _Fields:
    """The fields of one record, read line by line; a quoted field may run on over several lines.

    Every character is looked at once, so a field with many line breaks costs no more than one without. As in
    Python's ``csv`` module, a quote inside an unquoted field is a plain character.
    """

    __slots__ = ("delimiter", "done", "error", "fields", "in_quotes", "null", "parts")

    def __init__(self, delimiter: str, null: str | None) -> None:
        self.delimiter, self.null = delimiter, null
        self.fields: list[str | None] = []
        self.parts: list[str] = []  # of the quoted field that is open
        self.in_quotes = False
        self.done = False
        self.error: str | None = None

    def _plain(self, field: str) -> None:
        self.fields.append(None if field == self.null else field)

    def feed(self, text: str) -> None:
        """Read one line (with its line end); ``done`` tells whether the record ends on it."""
        end, at, delimiter = _content_end(text), 0, self.delimiter
        if not self.in_quotes and '"' not in text:  # the common case: no quotes at all
            plain = text[:end].split(delimiter)
            if self.null is not None and self.null in plain:
                self.fields += [None if field == self.null else field for field in plain]
            else:
                self.fields += plain
            self.done = True
            return
        while True:
            if self.in_quotes:
                quote = text.find('"', at)
                if quote == -1:
                    self.parts.append(text[at:])  # the line end belongs to the value: the record goes on
                    return
                if text.startswith('""', quote):
                    self.parts.append(text[at : quote + 1])
                    at = quote + 2
                    continue
                self.parts.append(text[at:quote])
                self.fields.append("".join(self.parts))
                self.parts, self.in_quotes, at = [], False, quote + 1
                if at >= end:
                    self.done = True
                    return
                if text[at] != delimiter:
                    self.error, self.done = f"text after a closing quote at character {at + 1} of its line", True
                    return
                at += 1
            elif at < end and text[at] == '"':
                self.in_quotes, at = True, at + 1
            else:
                stop = text.find(delimiter, at, end)
                if stop == -1:
                    self._plain(text[at:end])
                    self.done = True
                    return
                self._plain(text[at:stop])
                at = stop + 1


def read_records(lines: Iterable[bytes], delimiter: str = ",", null: str | None = "") -> Iterator[Record]:
    """The records of a CSV file given as its binary lines (``for line in open(path, "rb")``).

    The first record is the header. A byte-order mark at the very start is dropped. ``null=None``: no field
    is a null (for a header).
    """
    numbered = enumerate(lines, 1)
    first = True
    for number, raw in numbered:
        if first and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        first = False
        text, error = _decoded(raw)
        record = _Fields(delimiter, null)
        record.feed(text)
        if record.done:
            yield Record(number, text[: _content_end(text)], record.fields, error or record.error)
            continue
        texts = [text]
        while not record.done:
            following = next(numbered, None)
            if following is None:
                record.error = "a quoted field is not closed before the end of the file"
                break
            text, more_error = _decoded(following[1])
            error = error or more_error
            texts.append(text)
            record.feed(text)
        whole = "".join(texts)
        yield Record(number, whole[: _content_end(whole)], record.fields, error or record.error)
