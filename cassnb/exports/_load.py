"""Loading a table from a DataFrame, a CSV, Parquet or JSON Lines file: ``load``.

Every row goes through ONE prepared ``INSERT INTO ks.t (columns) VALUES (?, ...)``: values are always bound,
never written into CQL, so no value can change the statement. Inserts run ``concurrency`` at a time, and the
source is read and converted in chunks of ``batch_rows`` on a worker thread (the next chunk is prepared while
the current one is being inserted), so memory is bounded by two chunks whatever the source's size.

Reading files is the inverse of cassnb's exports (``_values`` for text and JSON, ``_arrow`` for Parquet): a
file exported by cassnb loads back to exactly the stored values.

* CSV (``.csv``, ``.csv.gz``): a header row names the columns. An *unquoted* field equal to the null marker
  (option ``null``, default empty) is a null; a quoted one is that text, so ``""`` is an empty string. Cells
  are parsed per CQL type: decimal digits, ``repr`` floats with ``NaN``/``Infinity``, ``true``/``false``,
  ``0x`` hex blobs, ISO timestamps (``...Z``; an offset is converted, no offset means UTC), ISO dates with
  expanded years, ``HH:MM:SS.nnnnnnnnn`` times, CQL duration literals, JSON collections, tuples and UDTs.
* Parquet: Arrow values by the ``_arrow`` table (uuid, decimal, varint, inet and duration as strings; tuples
  and UDTs as structs; maps as maps).
* JSON Lines: one object per line, the column names are those of the first line.
* DataFrame: pandas' nulls (``NA``, ``NaT``, ``None``; ``NaN`` except in float and double columns, where it
  is a value, as in :mod:`cassnb.frames`) are nulls; numpy scalars become Python values; ``datetime64``
  columns go to timestamps (naive means UTC) or to dates (midnight only); ``timedelta64`` to times of day.
  Integers in date, time and timestamp columns are days, nanoseconds and milliseconds since the epoch (the
  driver's own conventions); strings in uuid, decimal, date... columns are parsed as in CSV.

A null is bound as *unset* (like DSBulk's default): the column is left alone and no tombstone is written. A
row with a null primary-key column fails.

Nothing is dropped silently: a row is either written or counted as failed, with its reason (a value that
cannot be converted or bound, or a statement the server rejected). A lost connection, refused credentials,
a missing permission, an unreadable source or a cancellation stops the load once the inserts in flight
have finished; the error then says how many rows were written and the row number before which every row
was written or failed, to load again from (inserts are idempotent, so repeating some rows is harmless).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cassandra.query import UNSET_VALUE

from cassnb.exceptions import (
    AuthenticationError,
    CassnbError,
    ConfigurationError,
    ConnectionError,
    UnauthorizedError,
)
from cassnb.exports._parse import _Column
from cassnb.exports._pipeline import _settle
from cassnb.exports._sources import _Chunk, _open_source
from cassnb.progress import ProgressReporter, ProgressSpec, choose_progress

if TYPE_CHECKING:
    from cassnb.session import AsyncSession

__all__ = ("LoadReport", "load")

MAX_LISTED_FAILURES = 100
_PROGRESS_EVERY = 250  # rows between progress updates while a chunk is being inserted
# Errors after which every further row would fail the same way: the load stops instead of counting them.
_FATAL = (ConnectionError, AuthenticationError, UnauthorizedError)

_NAME = r'[A-Za-z][A-Za-z0-9_]*|"(?:[^"]|"")+"'
_TABLE_NAME = re.compile(rf"(?:({_NAME})\.)?({_NAME})")


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` did.

    Attributes:
        table: ``keyspace.table``.
        rows_written: rows the server acknowledged.
        rows_failed: rows not written: a value could not be converted or bound, or the server refused it.
        failures: ``(row_number, reason)`` of the first failed rows (at most 100), by row number. Row numbers
            count the source's data rows from 0: a DataFrame's ``iloc`` position, the first line after a
            CSV header, the first line of a JSON Lines file.
        seconds: wall time.
        stopped: the Stop button (or another ``stop_requested`` reporter) ended the load after a chunk;
            later rows were not read.
    """

    table: str
    rows_written: int
    rows_failed: int
    failures: tuple[tuple[int, str], ...]
    seconds: float
    stopped: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures_not_listed(self) -> int:
        """How many failed rows ``failures`` leaves out (it keeps the first 100)."""
        return self.rows_failed - len(self.failures)

    def __str__(self) -> str:
        failed = f", {self.rows_failed:,} failed" if self.rows_failed else ""
        stopped = " (stopped before the end of the source)" if self.stopped else ""
        return (
            f"{self.rows_written:,} rows -> {self.table}{failed} in {self.seconds:.2f} s, "
            f"{self.rows_per_second:,.0f} rows/s{stopped}"
        )


# --- the table -------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parse_table_name(table: str, session_keyspace: str | None) -> tuple[str, str]:
    """``ks.table`` or ``table`` -> the real (case-resolved) keyspace and table names."""
    match = _TABLE_NAME.fullmatch(table) if isinstance(table, str) else None
    if match is None:
        raise ConfigurationError(
            f"invalid table name {table!r}: write table or keyspace.table, each a letter followed by "
            'letters, digits and underscores, or a double-quoted name such as "MyTable"'
        )

    def real(name: str) -> str:
        return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()

    if match[1] is None:
        if session_keyspace is None:
            raise ConfigurationError(
                f"the session has no keyspace: name the table's keyspace as well, e.g. 'my_keyspace.{table}'"
            )
        return session_keyspace, real(match[2])
    return real(match[1]), real(match[2])


def _find_table(metadata: Any, keyspace: str, table: str) -> Any:
    found = metadata.keyspaces.get(keyspace)
    return None if found is None else found.tables.get(table)


async def _table_metadata(session: AsyncSession, keyspace: str, table: str) -> Any:
    cluster = session.cluster
    found = _find_table(cluster.metadata, keyspace, table)
    if found is None:  # perhaps created a moment ago, by another client: ask the server
        await asyncio.to_thread(cluster.driver_cluster.refresh_table_metadata, keyspace, table)
        found = _find_table(cluster.metadata, keyspace, table)
    if found is not None:
        return found
    known = cluster.metadata.keyspaces.get(keyspace)
    if known is None:
        raise ConfigurationError(f"keyspace {keyspace!r} does not exist, so table {keyspace}.{table} does not")
    hint = next(
        (
            f'; did you mean "{name}" (quote names with capitals)?'
            for name in known.tables
            if name.lower() == table.lower()
        ),
        "",
    )
    raise ConfigurationError(f"table {keyspace}.{table} does not exist{hint}")


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


class _Tally:
    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter
        self.written = self.failed = self.batches = 0
        self.failures: list[tuple[int, str]] = []
        self.resume_from = 0  # no row at or after this one was attempted yet

    def fail(self, row: int, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append((row, reason))

    def tick(self, *, force: bool = False) -> None:
        done = self.written + self.failed
        if force or done % _PROGRESS_EVERY == 0:
            self.reporter.update(done, self.batches, f"{self.failed:,} failed" if self.failed else "")

    def summary(self, qualified: str) -> str:
        return (
            f"loading into {qualified} stopped after writing {self.written:,} rows ({self.failed:,} failed); "
            f"every row before row number {self.resume_from:,} was written or failed: load again from there"
        )


def _rows(chunk: _Chunk, columns: Sequence[_Column]) -> list[tuple[int, tuple[Any, ...]]]:
    """The chunk's writable rows as ``(row_number, values)``; nulls become unset, null keys fail the row."""
    for values, column in zip(chunk.columns, columns, strict=True):
        if column.is_key:
            if None in values:
                for index, value in enumerate(values):
                    if value is None:
                        chunk.bad.setdefault(index, f"primary-key column {column.name!r} is null")
        elif None in values:
            values[:] = [UNSET_VALUE if value is None else value for value in values]
    bad = chunk.bad
    first = chunk.first_row
    return [(first + index, row) for index, row in enumerate(zip(*chunk.columns, strict=True)) if index not in bad]


async def _insert(
    session: AsyncSession,
    insert: Any,
    rows: list[tuple[int, tuple[Any, ...]]],
    end_row: int,
    concurrency: int,
    tally: _Tally,
) -> BaseException | None:
    """Insert ``rows`` with at most ``concurrency`` in flight; return the error that stopped it, if any.

    Rows are taken in order. When the insert stops, the inserts in flight are awaited, and
    ``tally.resume_from`` is set so that every row before it has been written or counted as failed: the
    first row not sent, or an earlier one whose insert was cut off (it may or may not have been applied).
    """
    position = 0
    halt: list[BaseException] = []
    uncertain: list[int] = []
    cancelled = False

    async def worker() -> None:
        nonlocal position
        while position < len(rows) and not halt and not cancelled:
            row_number, values = rows[position]
            position += 1
            try:
                await session.execute(insert, values)
            except _FATAL as exc:
                halt.append(exc)
                uncertain.append(row_number)
            except CassnbError as exc:  # this row: a value the server or the driver would not take
                tally.fail(row_number, str(exc))
            except Exception as exc:  # not expected from execute(): stop rather than count it per row
                halt.append(exc)
                uncertain.append(row_number)
            else:
                tally.written += 1
            tally.tick()

    workers = asyncio.gather(*(worker() for _ in range(min(concurrency, len(rows)))))
    try:
        await asyncio.shield(workers)
    except asyncio.CancelledError:
        cancelled = True  # let the inserts in flight finish, so the counts are exact
        await _settle(workers)
        raise
    finally:
        tally.resume_from = min([*uncertain, rows[position][0] if position < len(rows) else end_row])
    return halt[0] if halt else None


def _check_positive(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


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
        **format_options: CSV: ``delimiter`` (``,``) and ``null`` (the null marker, default empty).

    Returns:
        A ``LoadReport``: rows written, rows failed and why (the first 100), time and rate.

    Raises:
        ConfigurationError: a bad table name, a table that does not exist, source columns the table lacks,
            missing primary-key columns, a counter table, an unknown format, a bad argument.
        TypeError: a format option the format does not take.
        FileNotFoundError: no such source file.
        ConnectionError, AuthenticationError, UnauthorizedError: the load stopped, once the inserts in
            flight had finished; the message says how many rows were written and the row number before
            which every row was written or failed (load again from there: inserts are idempotent). An
            unreadable source or a cancellation stops the load the same way, with the same information
            added to the exception as a note.
    """
    concurrency = _check_positive("concurrency", concurrency)
    batch_rows = _check_positive("batch_rows", batch_rows)
    keyspace, name = _parse_table_name(table, session.keyspace)
    qualified = f"{keyspace}.{name}"
    reporter = choose_progress(progress)
    table_meta = await _table_metadata(session, keyspace, name)
    reader = await asyncio.to_thread(_open_source, source, format, dict(format_options))
    positions = _choose_columns(reader.names, columns, table_meta, qualified)
    names = [reader.names[at] for at in positions]
    insert = await session.prepare(
        f"INSERT INTO {_quote(keyspace)}.{_quote(name)} ({', '.join(map(_quote, names))}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    insert.is_idempotent = True  # the same values written twice give the same row: safe to retry
    keys = {column.name for column in table_meta.primary_key}
    targets = [_Column(meta.name, meta.type, meta.name in keys) for meta in insert.column_metadata]
    started = time.perf_counter()
    tally = _Tally(reporter)
    reporter.start(f"loading into {qualified}")
    stopped = explained = False
    chunks = reader.chunks(positions, targets, batch_rows)
    pending: asyncio.Future[_Chunk | None] = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await pending) is not None:
            # Read and convert the next chunk while this one is being inserted.
            pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            rows = _rows(chunk, targets)
            for index, reason in sorted(chunk.bad.items()):
                tally.fail(chunk.first_row + index, reason)
            end_row = chunk.first_row + chunk.size
            error = await _insert(session, insert, rows, end_row, concurrency, tally)
            if error is not None:
                if isinstance(error, CassnbError):
                    explained = True
                    raise type(error)(f"{error}; {tally.summary(qualified)}") from error
                raise error
            tally.batches += 1
            tally.tick(force=True)
            if reporter.stop_requested:
                stopped = True
                break
    except BaseException as exc:
        reporter.fail("interrupted" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "error")
        if not explained:
            exc.add_note(tally.summary(qualified))
        raise
    finally:
        await _settle(pending)  # a chunk being read on a worker thread must end before the file closes
        chunks.close()
    if stopped:
        reporter.fail("stopped")
    else:
        reporter.finish()
    return LoadReport(
        qualified,
        tally.written,
        tally.failed,
        tuple(sorted(tally.failures)),
        time.perf_counter() - started,
        stopped,
    )
