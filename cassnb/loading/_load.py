"""Loading a table from a DataFrame, a CSV, Parquet or JSON Lines file: ``load``.

Every row goes through ONE prepared ``INSERT INTO ks.t (columns) VALUES (?, ...)``: values are always bound,
never written into CQL, so no value can change the statement. Inserts run ``concurrency`` at a time, and the
source is read and converted in chunks of ``batch_rows`` on a worker thread (the next chunk is prepared while
the current one is being inserted), so memory is bounded by two chunks whatever the source's size.

Reading files is the inverse of cassnb's exports (the type registry's text, JSON and Arrow forms): a
file exported by cassnb loads back to exactly the stored values.

* CSV (``.csv``, ``.csv.gz``): a header row names the columns. An *unquoted* field equal to the null marker
  (option ``null``, default empty) is a null; a quoted one is that text, so ``""`` is an empty string. Cells
  are parsed per CQL type: decimal digits, ``repr`` floats with ``NaN``/``Infinity``, ``true``/``false``,
  ``0x`` hex blobs, ISO timestamps (``...Z``; an offset is converted, no offset means UTC), ISO dates with
  expanded years, ``HH:MM:SS.nnnnnnnnn`` times, CQL duration literals, JSON collections, tuples and UDTs.
* Parquet: Arrow values by the registry's Arrow types (uuid, decimal, varint, inet and duration as strings; tuples
  and UDTs as structs; maps as maps).
* JSON Lines: one object per line, the column names are those of the first line.
* DataFrame: pandas' nulls (``NA``, ``NaT``, ``None``; ``NaN`` except in float and double columns, where it
  is a value, as in :mod:`cassnb.frames`) are nulls; numpy scalars become Python values; ``datetime64``
  columns go to timestamps (naive means UTC) or to dates (midnight only); ``timedelta64`` to times of day.
  Integers in date, time and timestamp columns are days, nanoseconds and milliseconds since the epoch (the
  driver's own conventions); strings in uuid, decimal, date... columns are parsed as in CSV.

A null is bound as *unset* (like DSBulk's default): the column is left alone and no tombstone is written. A
row with a null primary-key column fails.

Nothing is dropped silently and nothing is claimed that is not known (see ``_insert``): a row is written
(acknowledged), failed (certainly not written) or unknown (no acknowledgement after retries). A bad record in
a file fails as a row and the rest loads (see ``_sources``). Every failed and unknown row goes to the
``rejects`` file; when the load stops early, the error says from which row to load again (``start_row``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cassandra.query import UNSET_VALUE

from cassnb._identifiers import quote
from cassnb._schema import find_table
from cassnb._tasks import settle
from cassnb.exceptions import CassnbError, ConfigurationError
from cassnb.loading._columns import Column
from cassnb.loading._insert import Inserter, RetrySettings, Tally
from cassnb.loading._rejects import Rejects
from cassnb.loading._sources import _Chunk, _open_source
from cassnb.options import Consistency
from cassnb.progress import ProgressSpec, choose_progress

if TYPE_CHECKING:
    from cassnb.session import AsyncSession

__all__ = ("LoadReport", "load")


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` did.

    Attributes:
        table: ``keyspace.table``.
        rows_written: rows the server acknowledged.
        rows_failed: rows certainly not written: a value could not be converted or bound, the record could not
            be read, or the server refused it.
        failures: ``(row_number, reason)`` of the first rows not written (at most 100), by row number; the
            rejects file has them all. Row numbers count the source's rows from 0 (see ``start_row``).
        seconds: wall time.
        stopped: the Stop button (or another ``stop_requested`` reporter) ended the load after a chunk;
            later rows were not read.
        rows_unknown: rows whose insert got no acknowledgement even after retries: each may or may not have
            been written (they are in the rejects file, and loading again from ``restart_row`` covers them).
        restart_row: the lowest row neither written nor failed, to pass as ``start_row`` to finish the load;
            ``None`` when every row of the source was handled.
        rejects: the rejects file written, if ``rejects=`` was given.
        retries: inserts sent again because no answer came.
        start_row: the row the load began at.
    """

    table: str
    rows_written: int
    rows_failed: int
    failures: tuple[tuple[int, str], ...]
    seconds: float
    stopped: bool = False
    rows_unknown: int = 0
    restart_row: int | None = None
    rejects: Path | None = None
    retries: int = 0
    start_row: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures_not_listed(self) -> int:
        """How many rows not written ``failures`` leaves out (it keeps the first 100)."""
        return self.rows_failed + self.rows_unknown - len(self.failures)

    def __str__(self) -> str:
        failed = f", {self.rows_failed:,} failed" if self.rows_failed else ""
        unknown = f", {self.rows_unknown:,} unknown (may or may not be written)" if self.rows_unknown else ""
        stopped = " (stopped before the end of the source)" if self.stopped else ""
        rejects = f"; rejects in {self.rejects}" if self.rejects is not None else ""
        restart = f"; to go on: start_row={self.restart_row}" if self.restart_row is not None else ""
        return (
            f"{self.rows_written:,} rows -> {self.table}{failed}{unknown} in {self.seconds:.2f} s, "
            f"{self.rows_per_second:,.0f} rows/s{stopped}{rejects}{restart}"
        )

    def summary(self) -> str:
        """The accounting of a load that stopped early, and how to finish it (one sentence)."""
        listed = ""
        if self.rows_failed or self.rows_unknown:
            listed = f" (each listed in {self.rejects})" if self.rejects else " (rejects=PATH lists them all)"
        unknown = (
            f", {self.rows_unknown:,} got no acknowledgement even after retries (each may or may not have been written)"
            if self.rows_unknown
            else ""
        )
        restart = self.restart_row if self.restart_row is not None else 0
        return (
            f"{self.rows_written:,} rows were acknowledged, {self.rows_failed:,} failed{unknown}{listed}; every "
            f"row before row {restart:,} was acknowledged or failed: load again with start_row={restart} (CLI: "
            f"--start-row {restart}); inserts are idempotent, so a row sent twice is harmless"
        )


# --- the table -------------------------------------------------------------------------------------------


def _choose_columns(
    source_names: Sequence[str], wanted: Sequence[str] | None, table_meta: Any, qualified: str
) -> list[int]:
    """Positions of the source columns to load: each must be a column of the table, and all keys present."""
    if len(set(source_names)) != len(source_names):
        twice = sorted({name for name in source_names if source_names.count(name) > 1})
        raise ConfigurationError(f"the source has more than one column named {', '.join(map(repr, twice))}")
    if wanted is None:
        chosen = list(source_names)
    else:
        if isinstance(wanted, str) or not all(isinstance(name, str) for name in wanted):
            raise ConfigurationError(f"columns= must be a list of column names, got {wanted!r}")
        absent = [name for name in wanted if name not in source_names]
        if absent:
            raise ConfigurationError(f"the source has no column {', '.join(map(repr, absent))} (columns=)")
        chosen = list(dict.fromkeys(wanted))
    unknown = [name for name in chosen if name not in table_meta.columns]
    if unknown:
        raise ConfigurationError(
            f"table {qualified} has no column {', '.join(map(repr, unknown))}; its columns are "
            f"{', '.join(table_meta.columns)} (pass columns=[...] to load only some source columns)"
        )
    keys = [column.name for column in table_meta.primary_key]
    missing = [name for name in keys if name not in chosen]
    if missing:
        raise ConfigurationError(
            f"the source has no value for the primary-key column(s) {', '.join(map(repr, missing))} of {qualified}"
        )
    counters = [name for name in chosen if table_meta.columns[name].cql_type == "counter"]
    if counters:
        raise ConfigurationError(
            f"{qualified} is a counter table ({', '.join(counters)}): counters only change by UPDATE ... "
            "SET c = c + n, which load does not do"
        )
    return [source_names.index(name) for name in chosen]


# --- inserting -------------------------------------------------------------------------------------------


def _rows(chunk: _Chunk, columns: Sequence[Column]) -> list[tuple[int, tuple[Any, ...], int]]:
    """The chunk's writable rows as ``(row_number, values, index)``; nulls become unset, null keys fail the row."""
    for values, column in zip(chunk.columns, columns, strict=True):
        if column.is_key:
            if None in values:
                for index, value in enumerate(values):
                    if value is None:
                        chunk.bad.setdefault(index, f"primary-key column {column.name!r} is null")
        elif None in values:
            values[:] = [UNSET_VALUE if value is None else value for value in values]
    bad, numbers = chunk.bad, chunk.numbers
    rows = enumerate(zip(*chunk.columns, strict=True))
    return [(numbers[index], row, index) for index, row in rows if index not in bad]


def _check_positive(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_options(start_row: Any, retry_for: Any, timeout: Any) -> None:
    if not isinstance(start_row, int) or isinstance(start_row, bool) or start_row < 0:
        raise ConfigurationError(f"start_row must be a row number (0 or more), got {start_row!r}")
    if not isinstance(retry_for, int | float) or isinstance(retry_for, bool) or retry_for < 0:
        raise ConfigurationError(f"retry_for must be seconds (0 or more), got {retry_for!r}")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise ConfigurationError(f"timeout must be positive seconds or None, got {timeout!r}")


async def load(
    session: AsyncSession,
    table: str,
    source: Any,
    *,
    concurrency: int = 64,
    format: str | None = None,
    columns: Sequence[str] | None = None,
    progress: ProgressSpec = "auto",
    batch_rows: int = 5000,
    start_row: int = 0,
    rejects: str | os.PathLike[str] | None = None,
    retry_for: float = 60.0,
    timeout: float | None = None,
    consistency: str | Consistency | None = None,
    **format_options: Any,
) -> LoadReport:
    """Insert every row of ``source`` into ``table``, with bounded concurrency and memory.

    Args:
        session: an open session.
        table: ``"keyspace.table"``, or ``"table"`` in the session's keyspace; unquoted names are
            case-insensitive, double-quoted ones exact.
        source: a pandas DataFrame, or the path of a ``.csv``, ``.csv.gz``, ``.parquet``, ``.jsonl`` or
            ``.jsonl.gz`` file (the module docstring gives the value rules of each).
        concurrency: inserts in flight at once.
        format: the file format when the suffix does not tell it (``csv``, ``csv.gz``, ``parquet``, ...).
        columns: the source columns to load (default: all); each must be a column of the table.
        progress: ``"auto"``, ``"text"``, ``"widget"``, ``"static"``, ``False`` or a reporter; Stop ends the
            load after the current chunk (the report then says ``stopped``).
        batch_rows: rows read and converted at a time.
        start_row: skip the source's rows before this row number (to finish a load that stopped: the error,
            or ``LoadReport.restart_row``, says where). Row numbers count from 0: a DataFrame's ``iloc``
            position, a CSV file's records after the header, a JSON Lines file's lines, a Parquet file's rows.
        rejects: a CSV file to receive every row that was not acknowledged, with its row number, status,
            reason and the row as it stands in the source (see ``cassnb.loading._rejects``).
        retry_for: seconds for which an insert without an answer (timeout, lost connection) is sent again.
        timeout: seconds to wait for each insert (default: the session's request timeout).
        consistency: the level each insert is acknowledged at (``"QUORUM"``, ``"ALL"``, a
            :class:`~cassnb.Consistency`); default: the session's (``LOCAL_ONE`` unless its profile says
            otherwise). A row counts as written once that many replicas have it.
        **format_options: CSV: ``delimiter`` (``,``) and ``null`` (the null marker, default empty).

    Returns:
        A ``LoadReport``: rows written, failed and unknown, the first failures, time and rate.

    Raises:
        ConfigurationError: a bad table name, a table that does not exist, source columns the table lacks,
            missing primary-key columns, a counter table, an unknown format, a file that cannot be read as its
            format, a bad argument.
        TypeError: a format option the format does not take.
        FileNotFoundError: no such source file.
        FileExistsError: ``rejects`` names a file that is not a rejects file.
        ConnectionError, TimeoutError, AuthenticationError, UnauthorizedError, ClosedError: the load stopped
            (once the inserts in flight had finished); the message gives the accounting and the
            ``start_row`` to load again from, and ``exc.report`` is the :class:`LoadReport` so far. A
            cancellation stops the load the same way, with the accounting as a note.
    """
    concurrency = _check_positive("concurrency", concurrency)
    batch_rows = _check_positive("batch_rows", batch_rows)
    _check_options(start_row, retry_for, timeout)
    level = None if consistency is None else Consistency.parse(consistency)
    reporter = choose_progress(progress)
    target = await _Target.open(session, table, source, format, dict(format_options), columns)
    rejected = Rejects(rejects)
    await asyncio.to_thread(rejected.open)
    tally = Tally(reporter, rejected)
    tally.restart_row = start_row
    retry = RetrySettings(retry_for=float(retry_for), timeout=timeout)
    inserter = Inserter(session, target.insert, concurrency, retry, tally, target.partition, target.primary, level)
    started = time.perf_counter()

    def report(stopped: bool = False) -> LoadReport:
        return LoadReport(
            target.qualified, tally.written, tally.failed, tuple(sorted(tally.failures)),
            time.perf_counter() - started, stopped, tally.unknown, tally.restart_row, rejected.path, tally.retries,
            start_row,
        )  # fmt: skip

    reporter.start(f"loading into {target.qualified}")
    try:
        stopped = await _insert_chunks(target, inserter, tally, rejected, batch_rows, start_row, report)
    except BaseException as exc:
        reporter.fail("interrupted" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "error")
        if not isinstance(exc, CassnbError) or getattr(exc, "report", None) is None:
            exc.add_note(f"loading into {target.qualified} stopped: {report().summary()}")
        raise
    finally:
        await asyncio.to_thread(rejected.close)
    if stopped:
        reporter.fail("stopped")
    else:
        reporter.finish()
    return report(stopped)


@dataclass
class _Target:
    """Where a load writes: the table, the source columns that go to it, and the prepared INSERT."""

    qualified: str
    reader: Any
    positions: list[int]
    insert: Any
    columns: list[Column]
    partition: tuple[int, ...] = ()  # positions of the partition-key columns in an insert's values
    primary: tuple[int, ...] = ()  # positions of all primary-key columns

    @classmethod
    async def open(
        cls, session: AsyncSession, table: str, source: Any, format: str | None, options: dict[str, Any],
        columns: Sequence[str] | None,
    ) -> _Target:  # fmt: skip
        table_meta = await find_table(session, table)
        keyspace, name = table_meta.keyspace_name, table_meta.name
        qualified = f"{keyspace}.{name}"
        reader = await asyncio.to_thread(_open_source, source, format, options)
        positions = _choose_columns(reader.names, columns, table_meta, qualified)
        names = [reader.names[at] for at in positions]
        insert = await session.prepare(
            f"INSERT INTO {quote(keyspace)}.{quote(name)} ({', '.join(map(quote, names))}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        insert.is_idempotent = True  # the same values written twice give the same row: safe to retry
        keys = {column.name for column in table_meta.primary_key}
        targets = [Column(meta.name, meta.type, meta.name in keys) for meta in insert.column_metadata]
        partition = tuple(names.index(column.name) for column in table_meta.partition_key)
        primary = tuple(names.index(column.name) for column in table_meta.primary_key)
        return cls(qualified, reader, positions, insert, targets, partition, primary)


async def _insert_chunks(
    target: _Target, inserter: Inserter, tally: Tally, rejected: Rejects, batch_rows: int, start_row: int,
    report: Any,
) -> bool:  # fmt: skip
    """Read, convert and insert the source chunk by chunk (the next chunk is read while one is inserted).

    Returns whether a stop request ended the load early; raises what ended it otherwise.
    """
    chunks = target.reader.chunks(target.positions, target.columns, batch_rows, start_row)
    pending: asyncio.Future[_Chunk | None] = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            rows = _rows(chunk, target.columns)
            for index, reason in sorted(chunk.bad.items()):
                tally.reject(chunk.numbers[index], "failed", reason, chunk.source(index))
            error = await inserter.run(rows, chunk.numbers[-1] + 1, chunk.source)
            await asyncio.to_thread(rejected.flush)
            if error is not None:
                raise _stopped_by(error, target.qualified, report())
            tally.chunks += 1
            tally.tick(force=True)
            if tally.reporter.stop_requested:
                return True
        tally.restart_row = None  # every row of the source was handled
        return False
    finally:
        await settle(pending)  # a chunk being read on a worker thread must end before the file closes
        chunks.close()


def _stopped_by(error: BaseException, qualified: str, report: LoadReport) -> BaseException:
    """The error that stopped the load, as the same type, with the accounting and where to go on from."""
    if not isinstance(error, CassnbError):
        return error
    stopped = type(error)(f"loading into {qualified} stopped: {' '.join(str(error).split())}. {report.summary()}")
    stopped.report = report  # type: ignore[attr-defined]
    stopped.__cause__ = error
    return stopped
