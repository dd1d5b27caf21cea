"""JSON Lines writer: one compact UTF-8 JSON object per row, keys in column order, nulls as ``null``.

Values are the type registry's JSON forms. Lines are assembled from JSON text column by
column: each column's text encoding (the same as a CSV cell) is turned into JSON by its ``JsonForm`` —
kept as is for numbers, booleans and collections (already JSON), or escaped into a JSON string by the C
string encoder — and rows are then joined with the keys in C. This avoids building a dict per row and
serialising it, which costs several times more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from cassnb.formats._columns import Rows, encode_column, transpose
from cassnb.formats._encode import JsonForm, json_form, text_encoders
from cassnb.formats._textfile import TextSink

_encode_json_string: Callable[[str], str] = json.encoder.encode_basestring
_NON_FINITE = {"NaN": '"NaN"', "Infinity": '"Infinity"', "-Infinity": '"-Infinity"'}


def _to_json(form: JsonForm, texts: Sequence[str]) -> Sequence[str]:
    """Turn one column's (non-null) text encodings into JSON values."""
    if form == "string":
        return list(map(_encode_json_string, texts))
    if form == "float":
        return list(map(_NON_FINITE.get, texts, texts))
    return texts


class JsonlWriter:
    """Writes pages to a JSON Lines file.

    Raises:
        ValueError: two columns share a name (a JSON object cannot hold both); alias one in the query.
    """

    def __init__(self, column_names: Sequence[str], column_types: Sequence[type], *, gzipped: bool = False) -> None:
        duplicates = sorted({name for name in column_names if list(column_names).count(name) > 1})
        if duplicates:
            raise ValueError(
                f"JSON Lines needs distinct column names, but {', '.join(duplicates)} appear more than once; "
                "alias them in the query (SELECT a AS a2, ...)"
            )
        self._encoders = text_encoders(column_types)
        self._forms = [json_form(cql_type) for cql_type in column_types]
        # '{"a":' before the first value, ',"b":' before each later one.
        self._keys = [
            ("{" if index == 0 else ",") + _encode_json_string(name) + ":" for index, name in enumerate(column_names)
        ]
        self._gzipped = gzipped
        self._sink: TextSink | None = None

    def open(self, path: Path) -> None:
        self._sink = TextSink(path, gzipped=self._gzipped)

    def write_page(self, rows: Rows) -> None:
        if not rows:
            return
        if self._sink is None:
            raise RuntimeError("JsonlWriter.open() was not called")
        columns = transpose(rows, len(self._encoders))
        pieces: list[Any] = []
        for key, encode, form, values in zip(self._keys, self._encoders, self._forms, columns, strict=True):
            pieces.append(repeat(key))
            pieces.append(self._json_column(encode, form, values))
        lines = map("".join, zip(*pieces, strict=False))  # the repeat()s end with the columns
        self._sink.text.write("}\n".join(lines) + "}\n")

    @staticmethod
    def _json_column(encode: Callable[[Any], str], form: JsonForm, values: Sequence[Any]) -> Sequence[str]:
        texts, has_nulls = encode_column(encode, values)
        if not has_nulls:
            return _to_json(form, texts)
        present = iter(_to_json(form, [text for text in texts if text is not None]))
        return ["null" if text is None else next(present) for text in texts]

    def close(self) -> int:
        if self._sink is None:
            raise RuntimeError("JsonlWriter.open() was not called")
        return self._sink.close()

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()
