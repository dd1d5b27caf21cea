"""From an async stream of result pages to a finished file: ``write_pages``.

The query side produces pages on the event loop; everything that touches the file (encoding included) runs
on a worker thread, one ``asyncio.to_thread`` call per page, so a notebook's loop stays responsive. While a
page is being written the next one is already being fetched, and at most those two pages are in memory.

Nothing half-written ever appears at the target: the file is built as a temporary file beside it and
renamed into place only after the last page (see ``_atomic``). Any exception or cancellation, at any point,
deletes the temporary file instead.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cassnb._atomic import AtomicFile, explain_os_error
from cassnb._tasks import in_thread, settle, shielded
from cassnb.formats._formats import ExportFormat, PageWriter, format_for, make_writer, parse_options

T = TypeVar("T")


class PageLike(Protocol):
    """What ``write_pages`` reads from a page: a stream's :class:`~cassnb.Page`, or anything with the same
    three attributes (``column_names``, ``column_types`` and ``rows`` as row tuples)."""

    @property
    def column_names(self) -> Sequence[str]: ...
    @property
    def column_types(self) -> Sequence[type]: ...
    @property
    def rows(self) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class ExportReport:
    """What ``write_pages`` wrote: where, in which format, how much, and how long it took."""

    path: Path
    format: ExportFormat
    rows: int
    pages: int
    bytes: int
    seconds: float
    stopped: bool = False  # Stop ended it: nothing was written to ``path`` (rows: how far the read got)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        if self.stopped:
            return (
                f"export stopped after {self.rows:,} rows: nothing was written to {self.path} (an export is "
                "written whole or not at all); run it again to export"
            )
        return (
            f"{self.rows:,} rows ({self.pages:,} page{'' if self.pages == 1 else 's'}) -> {self.path} "
            f"[{self.format.value}, {_human_bytes(self.bytes)}] in {self.seconds:.2f} s, "
            f"{self.rows_per_second:,.0f} rows/s"
        )


async def write_pages(
    pages: AsyncIterator[PageLike],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    overwrite: bool = False,
    shown_as: Path | None = None,
    **format_options: Any,
) -> ExportReport:
    """Write a stream of pages to ``path`` as CSV, Parquet or JSON Lines, atomically.

    The first page's column names and types define the file (a page may have no rows; an empty stream
    gives a file with no columns). Pages are written as they arrive, on a worker thread. ``pages`` is
    closed (``aclose``) when this returns or fails.

    Args:
        pages: the result pages (:class:`~cassnb.Page` objects, or anything with the same three attributes).
        path: the target file; its suffix picks the format unless ``format`` is given.
        format: ``csv``, ``csv.gz``, ``parquet``, ``jsonl`` or ``jsonl.gz``.
        overwrite: replace an existing file at ``path``.
        shown_as: the path to name in errors, when ``path`` is a part of it (a directory export's part file).
        **format_options: CSV: ``delimiter``, ``null``; Parquet: ``row_group_size``, ``compression``.

    Returns:
        An ``ExportReport``; its ``str`` is a one-line summary with the rate.

    Raises:
        TypeError: an option the format does not take (raised before anything is read or written), or a
            column type that cannot be exported.
        ValueError: an unknown format or bad option value (also raised up front), or pages whose columns
            differ from the first page's.
        FileExistsError: ``path`` exists and ``overwrite`` is false (``TargetExistsError``).
        OSError: the file cannot be written (one line naming ``path`` and what to do, never the temporary file).
        Any error of ``pages``; ``path`` is then left untouched.
    """
    export_format = format_for(path, format)
    options = parse_options(export_format, format_options)
    started = time.perf_counter()
    target = AtomicFile(path, overwrite=overwrite)
    writer: PageWriter | None = None
    writing: asyncio.Future[None] | None = None  # the page being written while the next one is fetched
    columns: list[str] = []
    rows = page_count = 0
    try:
        await in_thread(target.open)
        async for page in pages:
            if writer is None:
                writer = make_writer(export_format, options, page.column_names, page.column_types)
                await in_thread(writer.open, target.temp_path)
                columns = list(page.column_names)
            elif list(page.column_names) != columns:
                raise ValueError(f"page {page_count + 1} has columns {list(page.column_names)}, not {columns}")
            if writing is not None:
                await shielded(writing)
            writing = asyncio.ensure_future(asyncio.to_thread(writer.write_page, page.rows))
            rows += len(page.rows)
            page_count += 1
        if writing is not None:
            await shielded(writing)
        if writer is None:  # no pages at all: still leave a valid, empty file
            writer = make_writer(export_format, options, (), ())
            await in_thread(writer.open, target.temp_path)
        size = await in_thread(writer.close)
        await in_thread(target.commit)
    except BaseException as exc:
        # A worker thread cannot be stopped: let a running write end before deleting its file.
        interrupted = writing is not None and await settle(writing)
        if writer is not None:
            writer.abort()
        target.abort()
        if interrupted:
            raise asyncio.CancelledError() from None  # a cancel that arrived during cleanup still counts
        if isinstance(exc, OSError):
            explained = explain_os_error(exc, shown_as or target.target)
            if explained is not exc:
                raise explained from None
        raise
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()
    return ExportReport(Path(path), export_format, rows, page_count, size, time.perf_counter() - started)


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
