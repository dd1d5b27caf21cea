"""The sources ``load`` reads: a DataFrame, CSV, Parquet and JSON Lines files, in chunks of converted columns.

Each source yields :class:`_Chunk`\\ s of up to ``batch_rows`` rows whose cells are already converted for their
target columns (by ``_columns``), with the rows that cannot be written and why, and a way to get each row's
original record back (for the rejects file).

Row numbers count the source's rows from 0 and are what ``start_row`` and every message refer to: a
DataFrame's ``iloc`` position; for CSV the records after the header (a record can span lines, so messages give
the line too); for JSON Lines the line (``row + 1`` is its line number: blank lines are skipped but counted);
for Parquet the row across the file's row groups.

Damage is contained where the format allows: a CSV record that is not UTF-8, is malformed or has the wrong
number of fields, and a JSON line that is not an object, fail as rows; a Parquet row group that cannot be
decoded fails its rows. A file that cannot be opened as its format at all is an error naming the file.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import pandas as pd

from cassnb._types import show
from cassnb.exceptions import ConfigurationError
from cassnb.formats._csvread import Record, read_records
from cassnb.formats._formats import CsvOptions, ExportFormat, format_for, parse_options
from cassnb.loading._columns import Column, arrow_column, frame_column

Columns: TypeAlias = list[list[Any]]


@dataclass
class _Chunk:
    numbers: Sequence[int]  # the row number of each row of the chunk
    columns: Columns  # converted values, one list per target column; None for nulls and failed cells
    bad: dict[int, str]  # index within the chunk -> why that row cannot be written
    source: Callable[[int], str]  # index within the chunk -> the row as it stands in the source

    @property
    def size(self) -> int:
        return len(self.numbers)


class _Source(Protocol):
    names: list[str]

    def chunks(
        self, positions: Sequence[int], columns: Sequence[Column], batch_rows: int, start_row: int = 0
    ) -> Generator[_Chunk, None, None]:
        """Chunks of up to ``batch_rows`` rows, from row ``start_row`` on, of the source columns at
        ``positions``, converted for ``columns``."""


def _as_json(values: dict[str, Any]) -> str:
    return json.dumps(values, default=str, ensure_ascii=False)


class _FrameSource:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.names = [str(name) for name in frame.columns]
        strange = [name for name in frame.columns if not isinstance(name, str)]
        if strange:
            raise ConfigurationError(f"DataFrame column names must be strings (table columns), got {strange!r}")

    def chunks(
        self, positions: Sequence[int], columns: Sequence[Column], batch_rows: int, start_row: int = 0
    ) -> Generator[_Chunk, None, None]:
        for start in range(start_row, len(self.frame), batch_rows):
            part = self.frame.iloc[start : start + batch_rows]
            bad: dict[int, str] = {}
            converted = [frame_column(part.iloc[:, at], c, bad) for at, c in zip(positions, columns, strict=True)]

            def source(index: int, part: pd.DataFrame = part) -> str:
                return _as_json({name: part.iloc[index, at] for at, name in enumerate(self.names)})

            yield _Chunk(range(start, start + len(part)), converted, bad, source)


class _ParquetSource:
    """A Parquet file, read one row group at a time; a row group that cannot be decoded fails its rows."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        try:
            with pq.ParquetFile(path) as file:
                self.names = list(file.schema_arrow.names)
                self._groups = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ConfigurationError(f"cannot read {path} as Parquet ({_one_line(exc)}): is it whole?") from None

    def chunks(
        self, positions: Sequence[int], columns: Sequence[Column], batch_rows: int, start_row: int = 0
    ) -> Generator[_Chunk, None, None]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = [self.names[at] for at in positions]
        group_start = 0
        with pq.ParquetFile(self.path) as file:
            for group, size in enumerate(self._groups):
                begin, end = max(group_start, start_row), group_start + size
                skip, group_start = begin - group_start, end
                if begin >= end:
                    continue
                try:
                    table = file.read_row_group(group, columns=names).slice(skip)
                except (pa.ArrowException, OSError) as exc:
                    reason = f"row group {group} of {self.path} cannot be read: {_one_line(exc)}"
                    yield from _failed(range(begin, end), len(columns), reason, batch_rows)
                    continue
                for offset in range(0, table.num_rows, batch_rows):
                    part = table.slice(offset, batch_rows)
                    bad: dict[int, str] = {}
                    converted = [arrow_column(part.column(i).combine_chunks(), c, bad) for i, c in enumerate(columns)]

                    def source(index: int, part: Any = part) -> str:
                        return _as_json(part.slice(index, 1).to_pylist()[0])

                    start = begin + offset
                    yield _Chunk(range(start, start + part.num_rows), converted, bad, source)


def _failed(numbers: range, width: int, reason: str, batch_rows: int) -> Iterator[_Chunk]:
    """Chunks of rows that cannot be read at all."""
    for start in range(0, len(numbers), batch_rows):
        part = numbers[start : start + batch_rows]
        yield _Chunk(part, [[None] * len(part) for _ in range(width)], dict.fromkeys(range(len(part)), reason),
                     lambda index: "")  # fmt: skip


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _open_binary(path: Path, gzipped: bool) -> Any:
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


class _CsvSource:
    """CSV as cassnb writes it (see ``_csvread``): an unquoted field equal to the null marker is a null."""

    def __init__(self, path: Path, gzipped: bool, options: CsvOptions) -> None:
        self.path, self.gzipped, self.options = path, gzipped, options
        with _open_binary(path, gzipped) as file:
            header = next(read_records(file, options.delimiter, null=None), None)
        if header is None or header.text == "":
            raise ConfigurationError(f"{path} is empty: a CSV source starts with a header row naming the columns")
        if header.error is not None:
            raise ConfigurationError(f"cannot read the header row of {path}: {header.error}")
        self.names = [name or "" for name in header.fields]
        if "" in self.names:
            raise ConfigurationError(
                f"the header row of {path} has an empty column name (column {self.names.index('') + 1})"
            )

    def chunks(
        self, positions: Sequence[int], columns: Sequence[Column], batch_rows: int, start_row: int = 0
    ) -> Generator[_Chunk, None, None]:
        width = len(self.names)
        with _open_binary(self.path, self.gzipped) as file:
            records = read_records(file, self.options.delimiter, self.options.null)
            next(records)  # the header
            batch: list[tuple[int, Record]] = []
            row = 0
            for record in records:
                if record.text == "" and width > 1:
                    continue  # a blank line: no row of a table with several columns
                if row >= start_row:
                    batch.append((row, record))
                    if len(batch) == batch_rows:
                        yield self._chunk(batch, positions, columns, width)
                        batch = []
                row += 1
            if batch:
                yield self._chunk(batch, positions, columns, width)

    def _chunk(
        self, batch: list[tuple[int, Record]], positions: Sequence[int], columns: Sequence[Column], width: int
    ) -> _Chunk:
        bad: dict[int, str] = {}
        for index, (_, record) in enumerate(batch):
            if record.error is not None:
                bad[index] = f"line {record.line}: {record.error}"
            elif len(record.fields) != width:
                bad[index] = f"line {record.line}: {len(record.fields)} fields, the header has {width}"
        cells = [
            [None if index in bad else record.fields[at] for index, (_, record) in enumerate(batch)] for at in positions
        ]
        converted = [
            c.convert(values, c.parse_text, bad, missing=_is_none) for values, c in zip(cells, columns, strict=True)
        ]
        return _Chunk([row for row, _ in batch], converted, bad, lambda index: batch[index][1].text)


def _is_none(value: Any) -> bool:
    return value is None


class _JsonlSource:
    """JSON Lines: the keys of the first object name the columns; a blank line is skipped (but counted)."""

    def __init__(self, path: Path, gzipped: bool) -> None:
        self.path, self.gzipped = path, gzipped
        with _open_binary(path, gzipped) as file:
            first = next(((number, line) for number, line in enumerate(file, 1) if line.strip()), None)
        if first is None:
            raise ConfigurationError(f"{path} is empty: no JSON object to take the column names from")
        number, line = first
        try:
            names = json.loads(line.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError included
            raise ConfigurationError(f"line {number} of {path} is not JSON: {exc}") from exc
        if not isinstance(names, dict) or not names:
            raise ConfigurationError(f"line {number} of {path} is not a JSON object with the columns as keys")
        self.names = list(names)

    def chunks(
        self, positions: Sequence[int], columns: Sequence[Column], batch_rows: int, start_row: int = 0
    ) -> Generator[_Chunk, None, None]:
        names = [self.names[at] for at in positions]
        known = set(self.names)
        with _open_binary(self.path, self.gzipped) as file:
            lines = ((row, line) for row, line in enumerate(file) if row >= start_row and line.strip())
            while batch := [item for _, item in zip(range(batch_rows), lines, strict=False)]:
                bad: dict[int, str] = {}
                objects = [self._object(line, known, index, bad) for index, (_, line) in enumerate(batch)]
                cells = [[obj.get(name) for obj in objects] for name in names]
                converted = [
                    c.convert(values, c.decode_json, bad, missing=_is_none)
                    for values, c in zip(cells, columns, strict=True)
                ]
                texts = [line.decode("utf-8", "backslashreplace").rstrip("\r\n") for _, line in batch]
                yield _Chunk([row for row, _ in batch], converted, bad, texts.__getitem__)

    @staticmethod
    def _object(line: bytes, known: set[str], index: int, bad: dict[int, str]) -> dict[str, Any]:
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            byte = line[exc.start : exc.start + 1].hex()
            bad[index] = f"not UTF-8 text (byte 0x{byte} at position {exc.start + 1})"
            return {}
        except ValueError as exc:
            bad[index] = f"not JSON: {exc}"
            return {}
        if not isinstance(value, dict):
            bad[index] = f"not a JSON object: {show(value)}"
            return {}
        extra = [name for name in value if name not in known]
        if extra:
            bad[index] = f"field(s) {', '.join(map(repr, extra))} not in the first line's columns"
        return value


def _open_source(source: Any, format: str | None, options: dict[str, Any]) -> _Source:
    """Inspect the source (blocking: runs in a thread) and return a reader for it."""
    if isinstance(source, pd.DataFrame):
        if format is not None or options:
            raise ConfigurationError("format and format options apply to files, not to a DataFrame source")
        return _FrameSource(source)
    if not isinstance(source, str | os.PathLike):
        raise ConfigurationError(
            f"cannot load from a {type(source).__name__}: pass a pandas DataFrame or the path of a .csv, "
            ".csv.gz, .parquet, .jsonl or .jsonl.gz file"
        )
    path = Path(source)
    try:
        file_format = format_for(path, format)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if file_format in (ExportFormat.CSV, ExportFormat.CSV_GZ):
        csv_options = parse_options(file_format, options)
        assert isinstance(csv_options, CsvOptions)
        return _CsvSource(path, file_format.gzipped, csv_options)
    if options:
        raise TypeError(f"loading {file_format.value} takes no options, got {', '.join(sorted(options))}")
    if file_format is ExportFormat.PARQUET:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise ImportError("loading parquet needs pyarrow: pip install 'cassnb[parquet]'") from exc
        return _ParquetSource(path)
    return _JsonlSource(path, file_format.gzipped)
