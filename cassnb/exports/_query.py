"""Exports driven by queries: ``export`` (one query, one stream) and ``export_table`` (a whole table, in parallel).

Both feed :func:`write_pages`, which checks the format, the options and the target before the first page is
requested, so a mistake costs no query, and which writes atomically: a failure or interrupt at any point
leaves nothing at the target path.

``export_table`` reads the table by the token-range planner's pieces (:mod:`cassnb._token_ranges`): ranges
``(start, end]`` that together cover the ring exactly once, each read from one of its replicas and, if that
replica fails, from the next (:func:`cassnb._table_scan.read_piece`), with ``parallelism`` concurrent streams.
Every partition's token falls in exactly one range, so every row is read exactly once, also with a node down.
The pages of all readers go through one bounded queue to a single writer (one file), or each range goes to a
part file of its own (a directory, renamed into place as a whole at the end).

Both read their pages with :data:`cassnb._decode.FRAME_DECODING`: uuids arrive as their 16 bytes and timestamps
as milliseconds, which the writers format or hand to Arrow directly (``cassnb.formats._columns``), with no
``uuid.UUID`` or ``datetime`` made per cell.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import AtomicDirectory
from .._cqltext import first_keyword
from .._decode import FRAME_DECODING
from .._gc import deferred_collections
from .._table_scan import plan_scan, read_piece, table_ref
from .._token_ranges import Piece
from ..exceptions import ConfigurationError, describe_statement
from ..formats import ExportFormat, format_for
from ..options import UNSET, RowFormat, Unset
from ..progress import ProgressReporter, ProgressSpec, choose_progress
from ..streaming import Page, StreamConfig
from ._pipeline import ExportReport, write_pages

if TYPE_CHECKING:
    from ..session import AsyncSession

SPLIT_SIZE = 64 * 2**20  # bytes per token range at most, by the nodes' size estimates


async def export(
    session: AsyncSession,
    query: Any,
    path: str | os.PathLike[str],
    *,
    params: Sequence[Any] | dict[str, Any] | None = None,
    format: str | None = None,
    fetch_size: int = 5000,
    progress: ProgressSpec = "auto",
    overwrite: bool = False,
    timeout: float | Unset | None = UNSET,
    **format_options: Any,
) -> ExportReport:
    """Stream the rows of ``query`` into a CSV, Parquet or JSON Lines file, page by page, atomically.

    Args:
        session: an open session.
        query: CQL text (``?`` markers are bound from ``params``), or a statement.
        path: the file to write; the suffix (``.csv``, ``.csv.gz``, ``.parquet``, ``.jsonl``, ``.jsonl.gz``)
            picks the format unless ``format`` is given.
        fetch_size: rows per page; memory stays around two pages whatever the result size.
        progress: as for :func:`cassnb.query_df`; the Stop button (or Ctrl-C) abandons the export.
        overwrite: replace an existing file (otherwise a ``FileExistsError`` before any query runs).
        **format_options: CSV ``delimiter``, ``null``; Parquet ``row_group_size``, ``compression``.

    Returns:
        An :class:`ExportReport` (rows, pages, bytes, seconds, path).
    """
    _require_select(query)
    reporter = choose_progress(progress)

    async def pages() -> AsyncIterator[Page]:
        config = StreamConfig(fetch_size=fetch_size)
        async with session._stream(
            query, params, stream_config=config, paging_state=None, skip_rows=0, timeout=timeout,
            row_format=RowFormat.TUPLE, decoding=FRAME_DECODING,
        ) as stream:  # fmt: skip
            rows = 0
            async for page in stream.pages():
                _check_stop(reporter, rows, page.number - 1)
                rows += len(page.rows)
                reporter.update(rows, page.number)
                yield page

    export_format = format_for(path, format)
    reporter.start(f"exporting to {os.fspath(path)}")
    work = write_pages(pages(), path, format=format, overwrite=overwrite, **format_options)
    return await _reporting(reporter, work, path, export_format)


async def export_table(
    session: AsyncSession,
    table: str,
    path: str | os.PathLike[str],
    *,
    parallelism: int = 4,
    splits: int | None = None,
    format: str | None = None,
    fetch_size: int = 5000,
    progress: ProgressSpec = "auto",
    overwrite: bool = False,
    **format_options: Any,
) -> ExportReport:
    """Export a whole table by token ranges read concurrently; every row exactly once.

    Args:
        table: ``"ks.table"``, or a table of the session's keyspace.
        path: a file (one file; its suffix picks the format), or a directory — an existing one, or a path
            ending in ``/`` — which then receives one part file per token range (``format`` required or
            ``.csv`` by default).
        parallelism: token ranges read at the same time.
        splits: at least this many token ranges (default ``8 * parallelism``); a ring with more vnode ranges,
            or a table larger than ``splits`` times 64 MB by the nodes' size estimates, is read in more.

    Returns:
        An :class:`ExportReport`; for a directory, ``path`` is the directory and the totals cover all parts.
    """
    if parallelism < 1:
        raise ConfigurationError(f"parallelism must be at least 1, got {parallelism}")
    if splits is not None and splits < 1:
        raise ConfigurationError(f"splits must be at least 1, got {splits}")
    ref = await table_ref(session, table)
    groups = await plan_scan(session, ref, SPLIT_SIZE, min_pieces=splits or parallelism * 8)
    ranges = sorted((piece for group in groups for piece in group.pieces), key=lambda piece: piece.range)
    statement = await session.prepare(ref.range_select())
    reporter = choose_progress(progress)
    reporter.start(f"exporting {ref.keyspace}.{ref.name} in {len(ranges)} token ranges, {parallelism} at a time")
    counts = _Counts(len(ranges))
    if _names_a_directory(path) or await asyncio.to_thread(Path(path).is_dir):
        export_format = format_for(f"part.{format or 'csv'}")
        work = _to_directory(session, statement, ranges, path, parallelism, fetch_size, reporter, counts, format,
                             overwrite, format_options, f"{ref.keyspace}.{ref.name}")  # fmt: skip
        return await _reporting(reporter, work, path, export_format)
    merged = _merged_pages(session, statement, ranges, parallelism, fetch_size, reporter, counts)
    export_format = format_for(path, format)
    work = write_pages(merged, path, format=format, overwrite=overwrite, **format_options)
    return await _reporting(reporter, work, path, export_format)


class _Counts:
    def __init__(self, ranges: int) -> None:
        self.ranges, self.done, self.rows, self.pages = ranges, 0, 0, 0

    def page(self, reporter: ProgressReporter, rows: int) -> None:
        self.rows += rows
        self.pages += 1
        reporter.update(self.rows, self.pages, f"{self.done}/{self.ranges} token ranges")

    def range_done(self, reporter: ProgressReporter) -> None:
        self.done += 1
        reporter.update(self.rows, self.pages, f"{self.done}/{self.ranges} token ranges")


async def _merged_pages(
    session: AsyncSession, statement: Any, ranges: list[Piece], parallelism: int, fetch_size: int,
    reporter: ProgressReporter, counts: _Counts,
) -> AsyncIterator[Page]:  # fmt: skip
    """Pages of all ranges, read ``parallelism`` ranges at a time, through one bounded queue.

    A reader that fails puts its exception in the queue, so the consumer raises it as it is (not wrapped); when
    the consumer stops for any reason, the readers are cancelled.
    """
    queue: asyncio.Queue[Page | Exception | None] = asyncio.Queue(maxsize=parallelism)
    todo = iter(ranges)

    async def reader() -> None:
        try:
            for piece in todo:
                async for page in read_piece(session, statement, piece, fetch_size=fetch_size, decoding=FRAME_DECODING):
                    await queue.put(page)
                counts.range_done(reporter)
        except Exception as exc:
            await queue.put(exc)
        else:
            await queue.put(None)

    readers = [asyncio.create_task(reader()) for _ in range(min(parallelism, len(ranges)))]
    finished = 0
    try:
        while finished < len(readers):
            item = await queue.get()
            if item is None:
                finished += 1
            elif isinstance(item, Exception):
                raise item
            else:
                _check_stop(reporter, counts.rows, counts.pages)
                counts.page(reporter, len(item.rows))
                yield item
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def _to_directory(
    session: AsyncSession, statement: Any, ranges: list[Piece], path: str | os.PathLike[str],
    parallelism: int, fetch_size: int, reporter: ProgressReporter, counts: _Counts, format: str | None,
    overwrite: bool, format_options: dict[str, Any], table: str,
) -> ExportReport:  # fmt: skip
    """One part file per range in a staging directory beside the target, moved into place at the end."""
    export_format = format_for(f"part.{format or 'csv'}")
    directory = await asyncio.to_thread(AtomicDirectory, path, overwrite=overwrite)
    await asyncio.to_thread(directory.open)
    started = time.perf_counter()
    limit = asyncio.Semaphore(parallelism)
    written = 0
    targets = [directory.add(f"part-{number:05d}{export_format.suffix}") for number in range(len(ranges))]

    async def part(target: Path, piece: Piece) -> None:
        nonlocal written
        async with limit:

            async def counted() -> AsyncIterator[Page]:
                async for page in read_piece(session, statement, piece, fetch_size=fetch_size, decoding=FRAME_DECODING):
                    _check_stop(reporter, counts.rows, counts.pages)
                    counts.page(reporter, len(page.rows))
                    yield page

            report = await write_pages(
                counted(), target, format=export_format.value, shown_as=directory.target, **format_options
            )
            written += report.bytes
            counts.range_done(reporter)

    tasks = [asyncio.create_task(part(target, piece)) for target, piece in zip(targets, ranges, strict=True)]
    try:
        await asyncio.gather(*tasks)
        summary = {"table": table, "format": export_format.value, "rows": counts.rows, "token_ranges": len(ranges)}
        await asyncio.to_thread(directory.commit, summary)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(directory.abort)
        raise
    return ExportReport(directory.target, export_format, counts.rows, counts.pages, written,
                        time.perf_counter() - started)  # fmt: skip


def _require_select(query: Any) -> None:
    """``export`` writes a query's rows: anything but a SELECT is refused before it is sent."""
    text = query if isinstance(query, str) else getattr(query, "query_string", None)
    if text is None:
        text = getattr(getattr(query, "prepared_statement", None), "query_string", None)
    if not isinstance(text, str):
        raise ConfigurationError(
            f"export needs a SELECT statement (CQL text, a statement or a prepared statement), got "
            f"{type(query).__name__}"
        )
    keyword = first_keyword(text)
    if keyword != "SELECT":
        raise ConfigurationError(
            f"export writes the rows of a SELECT, not {keyword or 'an empty statement'}: "
            f"{describe_statement(text)!r} was not run"
        )


def _names_a_directory(path: str | os.PathLike[str]) -> bool:
    """``dir/``, ``.``, ``..``, ``~``, ``""`` and paths ending in ``/.`` or ``/..`` can only mean a directory."""
    text = os.fspath(path)
    return text.endswith(os.sep) or os.path.basename(text) in ("", ".", "..", "~")


class _Stopped(Exception):
    """Stop was asked for: the pages stop, the export is abandoned (its target is left as it was)."""

    def __init__(self, rows: int, pages: int) -> None:
        super().__init__(rows, pages)
        self.rows, self.pages = rows, pages


def _check_stop(reporter: ProgressReporter, rows: int, pages: int) -> None:
    if reporter.stop_requested:
        raise _Stopped(rows, pages)


async def _reporting(
    reporter: ProgressReporter, work: Any, path: str | os.PathLike[str], export_format: ExportFormat
) -> ExportReport:
    """Await the export with full collections deferred (each stream's page lease collects the young
    generations), and report the outcome.

    A stop ends the export without writing anything: an export is written whole or not at all, so the
    report says ``stopped`` and how far the read had got.
    """
    started = time.perf_counter()
    try:
        with deferred_collections():
            report: ExportReport = await work
    except _Stopped as stop:
        reporter.fail("stopped")
        return ExportReport(Path(os.fspath(path)), export_format, stop.rows, stop.pages, 0,
                            time.perf_counter() - started, stopped=True)  # fmt: skip
    except BaseException as exc:
        reporter.fail("interrupted" if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError) else "failed")
        raise
    reporter.finish()
    return report
