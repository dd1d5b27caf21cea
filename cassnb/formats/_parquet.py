"""Parquet writer: pages become Arrow record batches, written out one row group per ``row_group_size`` rows.

A row group has to be written whole, so rows are held until one is full. They are held as Arrow batches
(converted as each page arrives), which are compact and keep the per-page conversion work off the final
flush; memory therefore stays bounded by ``row_group_size`` plus one page, whatever the result size.
The schema (see ``_arrow``) is fixed from the first page's column types.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cassnb.formats._arrow import arrow_schema, column_converter
from cassnb.formats._columns import Rows, transpose


class ParquetWriter:
    """Writes pages to a Parquet file (see ``ParquetOptions`` for ``row_group_size`` and ``compression``)."""

    def __init__(
        self,
        column_names: Sequence[str],
        column_types: Sequence[type],
        *,
        row_group_size: int = 100_000,
        compression: str = "zstd",
    ) -> None:
        self._schema = arrow_schema(column_names, column_types)
        self._converters = [column_converter(cql_type) for cql_type in column_types]
        self._row_group_size = row_group_size
        self._compression = compression
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._path: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def open(self, path: Path) -> None:
        self._path = path
        self._writer = pq.ParquetWriter(path, self._schema, compression=self._compression)

    def write_page(self, rows: Rows) -> None:
        if not rows:
            return
        columns = transpose(rows, len(self._converters))
        arrays = [convert(values) for convert, values in zip(self._converters, columns, strict=True)]
        self._pending.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._pending_rows += len(rows)
        if self._pending_rows >= self._row_group_size:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        """Write every full row group held (and with ``final`` the partial last one), keeping the rest."""
        if self._writer is None:
            raise RuntimeError("ParquetWriter.open() was not called")
        size = self._row_group_size
        table = pa.Table.from_batches(self._pending, schema=self._schema)
        offset = 0
        while table.num_rows - offset >= size or (final and offset < table.num_rows):
            self._writer.write_table(table.slice(offset, size), row_group_size=size)
            offset += size
        rest = table.slice(offset)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows

    def close(self) -> int:
        if self._writer is None or self._path is None:
            raise RuntimeError("ParquetWriter.open() was not called")
        self._flush(final=True)
        self._writer.close()
        return os.path.getsize(self._path)

    def abort(self) -> None:
        self._pending = []
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
