"""Streamed reads: ``%%cql --stream``, reads that pass ``CqlMagic.stream_threshold``, and ``%cql more``.

A streamed read goes through :mod:`cassnb.frames`, so its DataFrame carries ``attrs["cassnb"]`` (a
:class:`~cassnb.frames.FrameInfo`) and can be continued later, by ``%cql more`` or ``await cassnb.more(df)``:

* ``--stream``: the first page comes from ``query_df(max_rows=<one page>)``, so the preview has rows
  early; ``frames.more`` then fetches the rest from that page's paging state. The statement object (with
  its consistency, keyspace and bound values) is what ``query_df`` records, so later resumes keep them.
* past the threshold: the ordinary read (:func:`~cassnb.magics._run.run_statement`) stops at a page
  boundary and hands over its rows and paging state; ``frames.more`` continues from there. The record it
  starts from holds the CQL text and values only, so reads with ``--keyspace``, ``--consistency`` or
  ``--serial-consistency`` are never switched (those options could not be carried over).
* ``%cql more``: ``frames.more`` on the frame in hand.

Interrupts (:func:`run_read`): the read runs as a task on the runner loop, shielded from the cancellation
the runner applies to an interrupted wait. A first ``KeyboardInterrupt`` of a streaming read sets the
watch's stop signal and waits, at most :data:`STOP_GRACE` seconds, for the read to finish its current page
and return the partial frame (``complete=False``; ``frames`` prints the "stopped after N rows" line). A
second interrupt, or a page that does not come in time, cancels the read and re-raises. A read that is not
streaming is cancelled and the interrupt re-raised at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..frames import ATTRS_KEY, frame_info, more, query_df
from ..options import UNSET, _Unset
from ._run import Outcome, PageWatch, Planned, RunOptions, build_statement, resumable, run_statement

if TYPE_CHECKING:
    import pandas as pd

    from .._runner import Runner
    from ..session import AsyncSession

T = TypeVar("T")

#: After an interrupt, how long a streaming read may take to finish its page before it is cancelled.
STOP_GRACE = 30.0
#: After a cancellation, how long to wait for the read's clean-up (closing its stream).
CANCEL_GRACE = 2.0


@dataclass
class Remembered:
    """The latest streamed result of a connection, for ``%cql more``; ``variable`` is its ``--out`` name."""

    frame: pd.DataFrame
    variable: str | None = None


def is_resumable(frame: object) -> bool:
    """Whether ``frame`` is a DataFrame with the ``attrs["cassnb"]`` that ``frames.more`` needs."""
    attrs = getattr(frame, "attrs", None)
    return isinstance(attrs, dict) and isinstance(attrs.get(ATTRS_KEY), dict)


# ------------------------------------------------------------------------------------ on the runner loop
async def read_statement(
    session: AsyncSession,
    planned: Planned,
    options: RunOptions,
    watch: PageWatch,
    *,
    stream: bool,
    stream_after: int | None,
) -> Outcome:
    """Run one statement: streamed (``stream``), or ordinarily and streamed past ``stream_after`` rows."""
    if stream:
        return await _stream_select(session, planned, options, watch)
    outcome = await run_statement(session, planned, options, watch, stream_after=stream_after)
    if outcome.handoff is None or outcome.frame is None:
        return outcome
    watch.streaming = True
    head = resumable(outcome.frame, planned, outcome.handoff)
    watch.head = head
    limit = options.limit
    frame = await continue_stream(
        session, head, watch, max_rows=None if limit is None else limit - len(head), timeout=options.timeout
    )
    return replace(outcome, frame=frame, more_on_server=not frame_info(frame).complete, handoff=None)


async def _stream_select(
    session: AsyncSession, planned: Planned, options: RunOptions, watch: PageWatch
) -> Outcome:
    statement = await build_statement(session, planned, options)
    watch.streaming = True
    limit = options.limit
    first_page = options.fetch_size if limit is None else min(options.fetch_size, limit)
    head = await query_df(
        session, statement, fetch_size=options.fetch_size, max_rows=first_page, progress=watch.relay(),
        timeout=options.timeout, stop=watch.stop,
    )  # fmt: skip
    watch.head = head
    frame = head
    # A stop seen by query_df was announced by it ("stopped after ..."); frames.more would say it again.
    if not (watch.stop_requested or frame_info(head).complete or (limit is not None and limit <= first_page)):
        remaining = None if limit is None else limit - first_page
        frame = await continue_stream(session, head, watch, max_rows=remaining, timeout=options.timeout)
    return Outcome(planned.source, frame, not frame_info(frame).complete)


async def continue_stream(
    session: AsyncSession | None,
    frame: pd.DataFrame,
    watch: PageWatch,
    *,
    max_rows: int | None,
    timeout: float | _Unset | None = UNSET,
) -> pd.DataFrame:
    """``frames.more`` on ``frame``, counting into ``watch`` and stopping on its signal."""
    return await more(
        frame, session, max_rows=max_rows, progress=watch.relay(), timeout=timeout, stop=watch.stop
    )


# ------------------------------------------------------------------------------------ on the magic's thread
class _Started:
    """The read's task, once the runner loop has created it."""

    task: asyncio.Task[Any] | None = None


async def _shielded(coro: Coroutine[Any, Any, T], started: _Started) -> T:
    task = started.task = asyncio.ensure_future(coro)
    return await asyncio.shield(task)


async def _join(task: asyncio.Task[T]) -> T:
    return await asyncio.shield(task)


async def _settled(task: asyncio.Task[Any]) -> None:
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # mark it retrieved: the caller re-raises the interrupt instead


def _cancel(runner: Runner, task: asyncio.Task[Any]) -> None:
    """Cancel the read and wait a moment for its clean-up; a further interrupt only ends the waiting."""
    runner.loop.call_soon_threadsafe(task.cancel)
    try:
        runner.run(_settled(task), timeout=CANCEL_GRACE)
    except (TimeoutError, KeyboardInterrupt):
        pass


def run_read(
    runner: Runner,
    coro: Coroutine[Any, Any, T],
    watch: PageWatch,
    *,
    on_wait: Callable[[], object] | None = None,
    stop_grace: float = STOP_GRACE,
) -> T:
    """Run ``coro`` on the runner; on an interrupt, stop a streaming read instead of cancelling it.

    Raises:
        KeyboardInterrupt: the read was not streaming, a second interrupt came, or the page in flight did
            not arrive within ``stop_grace`` seconds; the read was cancelled first.
    """
    started = _Started()
    try:
        return runner.run(_shielded(coro, started), on_wait=on_wait)
    except KeyboardInterrupt:
        task = started.task
        if task is None:  # the runner never started it
            coro.close()
            raise
        if not watch.streaming:
            _cancel(runner, task)
            raise
        watch.request_stop()
    try:
        return cast("T", runner.run(_join(task), timeout=stop_grace, on_wait=on_wait))
    except TimeoutError:
        if task.done():  # the read's own timeout, not the grace period
            raise
        _cancel(runner, task)
        raise KeyboardInterrupt(
            f"the read did not stop within {stop_grace:g} s of the interrupt and was cancelled"
        ) from None
    except BaseException:
        _cancel(runner, task)
        raise
