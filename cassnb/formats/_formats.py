"""Export formats, their options, and the small protocol every format's writer follows.

A writer turns pages of driver rows into one file. It is built from the column names and CQL types of the
first page (so per-column encoders are compiled once), and is then driven as
``open(path)`` -> ``write_page(rows)`` ... -> ``close()``, or ``abort()`` on failure. Writers are plain
blocking code; the pipeline runs them on a worker thread.

Options are frozen dataclasses, one per format, so ``write_pages(..., **options)`` can reject a misspelt or
misplaced option with a ``TypeError`` before any query runs or any file is created.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cassnb.formats._columns import Rows


class ExportFormat(StrEnum):
    """The supported file formats; the value is also the file suffix without its dot."""

    CSV = "csv"
    CSV_GZ = "csv.gz"
    PARQUET = "parquet"
    JSONL = "jsonl"
    JSONL_GZ = "jsonl.gz"

    @property
    def suffix(self) -> str:
        return "." + self.value

    @property
    def gzipped(self) -> bool:
        return self.value.endswith(".gz")


_SUFFIXES = {fmt.suffix: fmt for fmt in ExportFormat}


def format_for(path: str | os.PathLike[str], format: str | None = None) -> ExportFormat:
    """The export format named by ``format``, or else implied by the file name's suffix.

    Raises:
        ValueError: ``format`` is not a supported format, or it is ``None`` and the suffix is not one of
            ``.csv .csv.gz .parquet .jsonl .jsonl.gz``.
    """
    supported = ", ".join(fmt.value for fmt in ExportFormat)
    if format is not None:
        try:
            return ExportFormat(format.lower().lstrip("."))
        except ValueError:
            raise ValueError(f"unknown export format {format!r}; supported formats: {supported}") from None
    suffixes = Path(path).suffixes
    for candidate in ("".join(suffixes[-2:]).lower(), "".join(suffixes[-1:]).lower()):
        if candidate in _SUFFIXES:
            return _SUFFIXES[candidate]
    raise ValueError(
        f"cannot tell the export format of {os.fspath(path)!r} from its suffix; use one of "
        f"{', '.join(_SUFFIXES)} or pass format= ({supported})"
    )


class PageWriter(Protocol):
    """What the pipeline needs from a format: blocking calls, made from one thread at a time."""

    def open(self, path: Path) -> None:
        """Create ``path`` and write any header."""

    def write_page(self, rows: Rows) -> None:
        """Encode and write (or buffer) one page of row tuples."""

    def close(self) -> int:
        """Flush everything, close the file and return its size in bytes."""

    def abort(self) -> None:
        """Release the file without finishing it; never raises. The caller deletes the file."""


@dataclass(frozen=True)
class CsvOptions:
    """Options for ``csv`` and ``csv.gz``.

    Attributes:
        delimiter: one character between fields.
        null: the text written for a null. With the default ``""`` a null is an empty field and an empty
            string value is written quoted (``""``) so the two stay distinguishable; in general any value
            whose text equals ``null`` is quoted. This is PostgreSQL's ``COPY ... CSV`` convention. Readers
            that keep the difference: ``pyarrow.csv`` (``ConvertOptions(null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False)``), PostgreSQL ``COPY``, Python
            3.13+ ``csv`` with ``QUOTE_NOTNULL``; pandas and older ``csv`` modules read both as empty. A
            non-empty marker (e.g. ``null="NULL"``) makes the difference visible to every reader.
    """

    delimiter: str = ","
    null: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.delimiter, str) or len(self.delimiter) != 1 or self.delimiter in '"\r\n':
            raise ValueError(f"delimiter must be one character other than a quote or newline, got {self.delimiter!r}")
        if not isinstance(self.null, str) or any(c in self.null for c in f'"\r\n{self.delimiter}'):
            raise ValueError(f"null must be text without quotes, newlines or the delimiter, got {self.null!r}")


@dataclass(frozen=True)
class JsonlOptions:
    """JSON Lines has no options: one compact UTF-8 object per line, keys in column order."""


_PARQUET_CODECS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")


@dataclass(frozen=True)
class ParquetOptions:
    """Options for ``parquet``.

    Attributes:
        row_group_size: rows per row group. Rows are buffered (as Arrow arrays) until this many have
            arrived, so memory is bounded by it rather than by the size of the result.
        compression: one of zstd (default: compact and fast to decode), snappy, gzip, brotli, lz4, none.
    """

    row_group_size: int = 100_000
    compression: str = "zstd"

    def __post_init__(self) -> None:
        if not isinstance(self.row_group_size, int) or isinstance(self.row_group_size, bool):
            raise ValueError(f"row_group_size must be an int, got {self.row_group_size!r}")
        if self.row_group_size < 1:
            raise ValueError(f"row_group_size must be at least 1, got {self.row_group_size}")
        if self.compression not in _PARQUET_CODECS:
            raise ValueError(f"compression must be one of {', '.join(_PARQUET_CODECS)}; got {self.compression!r}")
        pa = _import_pyarrow()
        if self.compression != "none" and not pa.Codec.is_available(self.compression):
            raise ValueError(f"this pyarrow build has no {self.compression!r} codec; choose another compression")


FormatOptions = CsvOptions | JsonlOptions | ParquetOptions

_OPTIONS: dict[ExportFormat, type[FormatOptions]] = {
    ExportFormat.CSV: CsvOptions,
    ExportFormat.CSV_GZ: CsvOptions,
    ExportFormat.JSONL: JsonlOptions,
    ExportFormat.JSONL_GZ: JsonlOptions,
    ExportFormat.PARQUET: ParquetOptions,
}


def parse_options(export_format: ExportFormat, options: Mapping[str, object]) -> FormatOptions:
    """Turn keyword options into the format's options object.

    Raises:
        TypeError: an option the format does not have (the message lists the ones it has).
        ValueError: an option with an invalid value.
        ImportError: Parquet was asked for but pyarrow is not installed.
    """
    options_type = _OPTIONS[export_format]
    known = [field.name for field in dataclasses.fields(options_type)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        accepted = ", ".join(known) if known else "no options"
        raise TypeError(
            f"unknown {export_format.value} export option(s): {', '.join(unknown)}; "
            f"{export_format.value} accepts {accepted}"
        )
    return options_type(**options)  # type: ignore[arg-type]


def make_writer(
    export_format: ExportFormat,
    options: FormatOptions,
    column_names: Sequence[str],
    column_types: Sequence[type],
) -> PageWriter:
    """Build the writer for ``export_format`` (compiling per-column encoders from ``column_types``).

    Raises:
        TypeError: a column type cannot be exported.
        ValueError: the columns do not suit the format (duplicate names in JSON Lines).
    """
    if isinstance(options, CsvOptions):
        from cassnb.formats._csv import CsvWriter

        return CsvWriter(
            column_names,
            column_types,
            delimiter=options.delimiter,
            null=options.null,
            gzipped=export_format.gzipped,
        )
    if isinstance(options, JsonlOptions):
        from cassnb.formats._jsonl import JsonlWriter

        return JsonlWriter(column_names, column_types, gzipped=export_format.gzipped)
    from cassnb.formats._parquet import ParquetWriter

    return ParquetWriter(
        column_names, column_types, row_group_size=options.row_group_size, compression=options.compression
    )


def _import_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise ImportError("Parquet export needs pyarrow: pip install 'cassnb[parquet]'") from exc
    return pyarrow
