"""Where a cell's work runs: on the kernel's own loop, or on the runner while the magic's thread waits.

A ``%%cql`` cell is one coroutine (see :mod:`cassnb.magics._execute`) that reaches the server only through
its host, with two kinds of steps:

* ``await host.call(coro)`` — a short step (connect, ``USE``, a DDL or DML statement);
* ``await host.read(read)`` — a read with progress and a Stop button (:class:`Read`).

Two hosts run the same cell:

* :class:`LoopHost` — the cell is awaited on the kernel's event loop (the magics rewrite ``%%cql`` cells and
  one-line ``%cql`` cells into an awaited call, see :mod:`cassnb.magics._transform`). The kernel goes on
  handling messages while the cell waits, so the progress widget's Stop button answers, exactly as for a cell
  that awaits ``session.query_df``. A first interrupt stops a read after its page (keeping the rows).
* :class:`RunnerHost` — everywhere else (a magic inside a function, ``%autoawait off``, IPython's
  ``run_cell_magic``): the magic's thread blocks while the runner loop does the work
  (:mod:`cassnb._runner`). :func:`run_blocking` drives the cell coroutine there: each step the cell awaits is
  handed to the runner and its result sent back in. Progress is drawn from the magic's thread; a widget
  click cannot reach a blocked kernel, so Stop is the kernel's interrupt (the first one stops the read after
  its page and keeps the rows, a second one cancels it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..progress import ProgressReporter, StopSignal
from ._progress import CellProgress, Counter

if TYPE_CHECKING:
    from .._runner import Runner

T = TypeVar("T")

#: After an interrupt, how long a read may take to finish its current page before it is cancelled.
STOP_GRACE = 30.0
#: After a cancellation, how long to wait for the read's clean-up (closing its stream).
CANCEL_GRACE = 2.0


@dataclass
class Read:
    """A read the cell asks its host to run.

    ``start(reporter, stop)`` makes the coroutine; the host gives it a progress reporter and a stop signal.
    ``progress`` is the cell's display of it (created by the cell, so that it knows the ``--out`` variable
    for its hints and whether to preview the rows).
    """

    start: Callable[[ProgressReporter, StopSignal], Coroutine[Any, Any, Any]]
    progress: CellProgress


class LoopHost:
    """Runs the cell's steps on the loop that awaits the cell (the kernel's)."""

    awaits = True

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return await coro

    async def read(self, read: Read) -> Any:
        progress = read.progress
        try:
            result = await read.start(progress, progress.stop)
        except BaseException as exc:
            progress.fail(_reason(exc))
            raise
        return result


class _Step:
    """What the cell coroutine yields to :func:`run_blocking`: a coroutine, or a read, to run on the runner."""

    __slots__ = ("call", "read")

    def __init__(self, *, call: Coroutine[Any, Any, Any] | None = None, read: Read | None = None) -> None:
        self.call, self.read = call, read

    def __await__(self) -> Generator[_Step, Any, Any]:
        return (yield self)


class RunnerHost:
    """Hands the cell's steps to the runner; the magic's thread waits (see the module docstring)."""

    awaits = False

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def call(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        return _Step(call=coro)

    def read(self, read: Read) -> Awaitable[Any]:
        return _Step(read=read)

    def run_step(self, step: _Step) -> Any:
        if step.call is not None:
            return self.runner.run(step.call)
        assert step.read is not None
        return self._run_read(step.read)

    def _run_read(self, read: Read) -> Any:
        progress = read.progress
        counter = Counter(progress.stop)  # counts on the runner; the display is drawn here
        coro = read.start(counter, progress.stop)
        try:
            result = _run_stoppable(self.runner, coro, progress.stop, on_wait=lambda: progress.follow(counter))
        except BaseException as exc:
            progress.follow(counter)
            progress.fail(_reason(exc))
            raise
        progress.follow(counter)
        return result


def run_blocking(cell: Coroutine[Any, Any, T], host: RunnerHost) -> T:
    """Run the cell coroutine on this thread, each step it awaits on the runner (see the module docstring)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = cell.send(value) if error is None else cell.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        value, error = None, None
        if not isinstance(step, _Step):  # only the host's steps may be awaited by a cell
            cell.close()
            raise RuntimeError(f"a %%cql cell awaited {step!r}, which only the kernel's loop could run")
        try:
            value = host.run_step(step)
        except BaseException as exc:  # given back to the cell at the await, as an awaited call would
            error = exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
        return "interrupted"
    return "failed"


class _Started:
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


def _run_stoppable(
    runner: Runner,
    coro: Coroutine[Any, Any, T],
    stop: StopSignal,
    *,
    on_wait: Callable[[], object] | None = None,
    stop_grace: float = STOP_GRACE,
) -> T:
    """Run a read on the runner; a first interrupt stops it after its page (it returns what it has).

    Raises:
        KeyboardInterrupt: a second interrupt came, or the page in flight did not arrive within ``stop_grace``
            seconds of the first; the read was cancelled first.
    """
    started = _Started()
    try:
        return runner.run(_shielded(coro, started), on_wait=on_wait)
    except KeyboardInterrupt:
        task = started.task
        if task is None:  # the runner never started it
            coro.close()
            raise
        stop.set()
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
