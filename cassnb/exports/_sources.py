"""The sources ``load`` reads: a DataFrame, CSV, Parquet and JSON Lines files, in chunks of converted columns.

Each source yields ``_Chunk``s of ``batch_rows`` rows whose cells are already converted for their target
columns (by ``_parse``), with the rows that cannot be written and why.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import pandas as pd

from cassnb.exceptions import ConfigurationError
from cassnb.exports._formats import CsvOptions, ExportFormat, parse_options
from cassnb.exports._parse import _arrow_column, _Column, _frame_column, _show
from cassnb.exports._pipeline import format_for

Columns: TypeAlias = list[list[Any]]

_CSV_BLOCK_BYTES = 1 << 20  # how much of a CSV file pyarrow parses at a time


@dataclass
class _Chunk:
    first_row: int  # the row number of the chunk's first row
    size: int
    columns: Columns  # converted values, one list per target column; None for nulls and failed cells
    bad: dict[int, str]  # index within the chunk -> why that row cannot be written


class _Source(Protocol):
    names: list[str]

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        """Chunks of ``batch_rows`` rows of the source columns at ``positions``, converted for ``columns``."""


class _FrameSource:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.names = [str(name) for name in frame.columns]
        strange = [name for name in frame.columns if not isinstance(name, str)]
        if strange:
            raise ConfigurationError(f"DataFrame column names must be strings (table columns), got {strange!r}")

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        for start in range(0, len(self.frame), batch_rows):
            part = self.frame.iloc[start : start + batch_rows]
            bad: dict[int, str] = {}
            converted = [_frame_column(part.iloc[:, at], c, bad) for at, c in zip(positions, columns, strict=True)]
            yield _Chunk(start, len(part), converted, bad)


def _rechunk(batches: Iterable[Any], size: int) -> Iterator[Any]:
    """Arrow record batches regrouped into tables of exactly ``size`` rows (the last one may be shorter)."""
    import pyarrow as pa

    held: list[Any] = []
    rows = 0
    for batch in batches:
        held.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(held)
            yield table.slice(0, size)
            rest = table.slice(size)
            held, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(held)


class _ArrowSource:
    """Parquet and CSV files, read as Arrow record batches."""

    names: list[str]
    path: Path

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        raise NotImplementedError

    def _convert(self, table: Any, columns: Sequence[_Column], bad: dict[int, str]) -> Columns:
        return [_arrow_column(table.column(i).combine_chunks(), c, bad) for i, c in enumerate(columns)]

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        import pyarrow as pa

        first = 0
        tables = _rechunk(self._tables([self.names[at] for at in positions], batch_rows), batch_rows)
        while True:
            try:
                table = next(tables, None)
            except pa.ArrowInvalid as exc:  # a malformed file: a row with too many fields, bad UTF-8, ...
                raise ValueError(f"cannot read {self.path} after its first {first:,} rows: {exc}") from exc
            if table is None:
                return
            bad: dict[int, str] = {}
            yield _Chunk(first, table.num_rows, self._convert(table, columns, bad), bad)
            first += table.num_rows


class _ParquetSource(_ArrowSource):
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.names = list(pq.read_schema(path).names)

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            yield from file.iter_batches(batch_size=batch_rows, columns=names)


class _CsvSource(_ArrowSource):
    """CSV through ``pyarrow.csv``, which tells a quoted field from an unquoted one (null vs empty string)."""

    def __init__(self, path: Path, gzipped: bool, options: CsvOptions) -> None:
        self.path, self.gzipped, self.options = path, gzipped, options
        opener: Any = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as file:
            try:
                header = next(csv.reader(file, delimiter=options.delimiter), None)
            except csv.Error as exc:
                raise ConfigurationError(f"cannot read the header row of {path}: {exc}") from exc
        if not header:
            raise ConfigurationError(f"{path} is empty: a CSV source starts with a header row naming the columns")
        self.names = header

    def _tables(self, names: list[str], batch_rows: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(
            pa.input_stream(self.path, compression="gzip" if self.gzipped else None),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=self.names, block_size=_CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=self.options.delimiter, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=names,
                null_values=[self.options.null],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,  # quoted: text, even when it reads like the marker
            ),
        )
        with reader:
            yield from reader

    def _convert(self, table: Any, columns: Sequence[_Column], bad: dict[int, str]) -> Columns:
        return [
            c.convert(table.column(i).to_pylist(), c.parse_text, bad, missing=_is_none) for i, c in enumerate(columns)
        ]


def _is_none(value: Any) -> bool:
    return value is None


class _JsonlSource:
    """JSON Lines: the keys of the first object name the columns; blank lines are skipped."""

    def __init__(self, path: Path, gzipped: bool) -> None:
        self.path, self.gzipped = path, gzipped
        with self._open() as file:
            first = next((line for line in file if line.strip()), None)
        if first is None:
            raise ConfigurationError(f"{path} is empty: no JSON object to take the column names from")
        try:
            names = json.loads(first)
        except ValueError as exc:
            raise ConfigurationError(f"the first line of {path} is not JSON: {exc}") from exc
        if not isinstance(names, dict) or not names:
            raise ConfigurationError(f"the first line of {path} is not a JSON object with the columns as keys")
        self.names = list(names)

    def _open(self) -> Any:
        opener: Any = gzip.open if self.gzipped else open
        return opener(self.path, "rt", encoding="utf-8", newline="")

    def chunks(
        self, positions: Sequence[int], columns: Sequence[_Column], batch_rows: int
    ) -> Generator[_Chunk, None, None]:
        names = [self.names[at] for at in positions]
        known = set(self.names)
        first = 0
        with self._open() as file:
            lines = (line for line in file if line.strip())
            while batch := [line for _, line in zip(range(batch_rows), lines, strict=False)]:
                bad: dict[int, str] = {}
                objects = [self._object(line, known, index, bad) for index, line in enumerate(batch)]
                cells = [[obj.get(name) for obj in objects] for name in names]
                converted = [
                    c.convert(values, c.decode_json, bad, missing=_is_none)
                    for values, c in zip(cells, columns, strict=True)
                ]
                yield _Chunk(first, len(batch), converted, bad)
                first += len(batch)

    @staticmethod
    def _object(line: str, known: set[str], index: int, bad: dict[int, str]) -> dict[str, Any]:
        try:
            value = json.loads(line)
        except ValueError as exc:
            bad[index] = f"not JSON: {exc}"
            return {}
        if not isinstance(value, dict):
            bad[index] = f"not a JSON object: {_show(value)}"
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
        _require_pyarrow(file_format)
        return _CsvSource(path, file_format.gzipped, csv_options)
    if options:
        raise TypeError(f"loading {file_format.value} takes no options, got {', '.join(sorted(options))}")
    if file_format is ExportFormat.PARQUET:
        _require_pyarrow(file_format)
        return _ParquetSource(path)
    return _JsonlSource(path, file_format.gzipped)


def _require_pyarrow(file_format: ExportFormat) -> None:
    """CSV is read with pyarrow.csv (it tells quoted fields from unquoted ones: "" from null), Parquet too."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"loading {file_format.value} needs pyarrow: pip install 'cassnb[parquet]'") from exc
