"""The inserts of a load, with honest accounting: a row is *written* only when the server acknowledged it.

Every row ends in exactly one state:

* **written** — the server acknowledged the insert;
* **failed** — it certainly was not written: a value could not be converted or bound, the server refused the
  statement, or too few replicas were alive to take it (the coordinator writes nothing then);
* **unknown** — no acknowledgement came (a client timeout, a connection lost with the request in flight), even
  after retrying: it may or may not have been written.

Consecutive rows of one partition go to the server together, as one single-partition ``UNLOGGED BATCH`` (at
most ``BATCH_ROWS`` rows and about ``BATCH_BYTES`` of values, no primary key twice): the replicas apply it as one
mutation, which writes a clustered table several times faster than one insert per row, with the same
guarantees (a batch of one partition is applied whole or not at all). Its rows share its outcome; a batch the
server refuses is sent again row by row, so only the rows it refuses fail.

A plain ``INSERT`` is idempotent, so a row without an answer is sent again, with a growing pause, for up to
``retry_for`` seconds; a server that pauses for less than that costs nothing but time. A row still without an
answer after that stops the load (the server is not answering), as do refused credentials and a missing
permission. The inserts in flight then finish (or run out of retries) first, so the counts are exact, and
:attr:`Tally.restart_row` is the lowest row that is neither written nor failed: loading again from there with
``start_row`` completes the table, and the rows that get sent twice are harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cassandra.query import BatchStatement, BatchType

from cassnb._binding import bind
from cassnb._tasks import settle
from cassnb.exceptions import (
    AuthenticationError,
    CassnbError,
    ClosedError,
    ConnectionError,
    TimeoutError,
    UnauthorizedError,
    UnavailableError,
)
from cassnb.loading._rejects import Rejects
from cassnb.options import UNSET, Consistency, Unset
from cassnb.progress import ProgressReporter

if TYPE_CHECKING:
    from cassnb.session import AsyncSession

__all__ = ("Inserter", "RetrySettings", "Tally")

MAX_LISTED_FAILURES = 100
_PROGRESS_EVERY = 250  # rows between progress updates while a chunk is being inserted
_NO_ANSWER = (ConnectionError, TimeoutError)  # the insert may or may not have been applied
_FATAL = (ClosedError, AuthenticationError, UnauthorizedError)  # every further row would fail the same way
BATCH_ROWS = 100
BATCH_BYTES = 4000  # below Cassandra's default batch_size_warn_threshold (5 KiB)

_Row = tuple[int, tuple[Any, ...], int]  # (row_number, values, index_in_chunk)


@dataclass(frozen=True)
class RetrySettings:
    """How long a row without an answer is retried (seconds), and the pauses between tries."""

    retry_for: float = 60.0
    first_pause: float = 0.25
    longest_pause: float = 4.0
    timeout: float | None = None  # per insert; None: the session's default


class Tally:
    """The counts of a load, the first failures for the report, and every rejected row for the rejects file."""

    def __init__(self, reporter: ProgressReporter, rejects: Rejects) -> None:
        self.reporter, self.rejects = reporter, rejects
        self.written = self.failed = self.unknown = self.retries = self.chunks = 0
        self.failures: list[tuple[int, str]] = []
        self.restart_row: int | None = 0  # no row from here on has been attempted yet (None: the source is done)

    def reject(self, row: int, status: str, reason: str, source: str) -> None:
        if status == "unknown":
            self.unknown += 1
        else:
            self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append((row, reason if status == "failed" else f"unknown outcome: {reason}"))
        self.rejects.add(row, status, reason, source)

    def tick(self, *, force: bool = False) -> None:
        done = self.written + self.failed + self.unknown
        if force or done % _PROGRESS_EVERY == 0:
            counts = ((self.failed, "failed"), (self.unknown, "unknown"))
            parts = [f"{count:,} {word}" for count, word in counts if count]
            self.reporter.update(done, self.chunks, ", ".join(parts))


@dataclass(frozen=True)
class _Outcome:
    status: str  # "written", "failed" or "unknown"
    error: BaseException | None = None
    halts: bool = False  # every further row would end the same way: the load stops


_WRITTEN = _Outcome("written")


class Inserter:
    """Runs the prepared insert for the rows of one chunk at a time, ``concurrency`` requests at once.

    ``partition`` and ``primary`` are the positions, in a row's values, of the partition-key and of all
    primary-key columns: they tell which consecutive rows can share a batch.
    """

    def __init__(
        self, session: AsyncSession, insert: Any, concurrency: int, retry: RetrySettings, tally: Tally,
        partition: Sequence[int] = (), primary: Sequence[int] = (), consistency: Consistency | None = None,
    ) -> None:  # fmt: skip
        self.session, self.insert, self.concurrency, self.retry, self.tally = session, insert, concurrency, retry, tally
        self.partition, self.primary = tuple(partition), tuple(primary)
        self.consistency = consistency  # None: the session's default (the statement's own level)

    def _units(self, rows: list[_Row]) -> list[list[_Row]]:
        """``rows`` in order, cut into runs that can go as one batch (one row each without a partition key)."""
        if not self.partition or len(rows) < 2:
            return [[row] for row in rows]
        units: list[list[_Row]] = []
        current: list[_Row] = []
        key: tuple[Any, ...] | None = None
        keys: set[tuple[Any, ...]] = set()
        size = 0
        for row in rows:
            values = row[1]
            partition = tuple(values[i] for i in self.partition)
            primary = tuple(values[i] for i in self.primary)
            try:
                hash(primary)
            except TypeError:  # a key of a collection type: the row goes alone
                partition, primary = (object(),), (object(),)
            row_size = sum(len(v) if isinstance(v, str | bytes) else 8 for v in values)
            if current and (partition != key or primary in keys or len(current) >= BATCH_ROWS
                            or size + row_size > BATCH_BYTES):  # fmt: skip
                units.append(current)
                current, keys, size = [], set(), 0
            current.append(row)
            key = partition
            keys.add(primary)
            size += row_size
        if current:
            units.append(current)
        return units

    def _statement(self, unit: list[_Row]) -> tuple[Any, Any]:
        if len(unit) == 1:
            bound, _ = bind(self.insert, unit[0][1], None)  # the level is set on the bound statement:
            bound.consistency_level = self.consistency  # the prepared one is shared (None: the session's)
            return bound, None
        batch = BatchStatement(BatchType.UNLOGGED, consistency_level=self.consistency)
        for _, values, _ in unit:
            batch.add(self.insert, values)
        batch.is_idempotent = True
        return batch, None

    async def _write(self, unit: list[_Row]) -> _Outcome:
        """Insert one row or one batch, retrying while no answer comes (for up to ``retry_for`` seconds)."""
        retry = self.retry
        timeout: float | Unset | None = UNSET if retry.timeout is None else retry.timeout
        pause, give_up = retry.first_pause, None
        while True:
            try:
                statement, values = self._statement(unit)
            except Exception as exc:  # a value the driver cannot bind: the rows are then sent one by one
                return _Outcome("failed", exc, halts=False)
            try:
                await self.session.execute(statement, values, timeout=timeout)
                return _WRITTEN
            except _FATAL as exc:
                return _Outcome("failed", exc, halts=True)
            except (*_NO_ANSWER, UnavailableError) as exc:
                now = time.monotonic()
                give_up = give_up if give_up is not None else now + retry.retry_for
                if now + pause > give_up:  # the server has not taken a write for retry_for seconds
                    status = "failed" if isinstance(exc, UnavailableError) else "unknown"
                    return _Outcome(status, exc, halts=True)
                self.tally.retries += 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, retry.longest_pause)
            except CassnbError as exc:  # this row: a value the driver or the server would not take
                return _Outcome("failed", exc, halts=False)

    async def run(self, rows: list[_Row], end_row: int, source: Callable[[int], str]) -> BaseException | None:
        """Insert ``rows`` (``(row_number, values, index_in_chunk)``); return the error that stops the load, if any.

        ``tally.restart_row`` is left at the lowest row that is neither written nor failed for good (``end_row``
        when every row is): a row that ends the load is to be sent again, whatever its status.
        """
        tally = self.tally
        position = 0
        halt: list[BaseException] = []
        open_rows: set[int] = set()  # sent, not yet answered for good
        redo: list[int] = []  # rows that ended the load: to be sent again
        cancelled = False

        units = self._units(rows)

        async def worker() -> None:
            nonlocal position
            while position < len(units) and not halt and not cancelled:
                unit = units[position]
                position += 1
                numbers = [row[0] for row in unit]
                open_rows.update(numbers)
                outcomes = await self._write_unit(unit)
                open_rows.difference_update(numbers)
                for (row_number, _, index), outcome in zip(unit, outcomes, strict=True):
                    if outcome.error is None:
                        tally.written += 1
                    else:
                        tally.reject(row_number, outcome.status, _message(outcome.error), source(index))
                        if outcome.halts:
                            redo.append(row_number)
                            halt.append(outcome.error)
                    tally.tick()

        workers = asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(units)))))
        try:
            await asyncio.shield(workers)
        except asyncio.CancelledError:
            cancelled = True  # let the inserts in flight finish, so the counts are exact
            await settle(workers)
            raise
        finally:
            not_sent = units[position][0][0] if position < len(units) else end_row
            tally.restart_row = min([*redo, *open_rows, not_sent])
        return halt[0] if halt else None

    async def _write_unit(self, unit: list[_Row]) -> list[_Outcome]:
        """Each row's outcome: the batch's, or (when the server refuses the batch) each row's own."""
        outcome = await self._write(unit)
        if len(unit) == 1 or outcome.error is None or outcome.halts:
            return [outcome] * len(unit)
        return [await self._write([row]) for row in unit]


def _message(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
