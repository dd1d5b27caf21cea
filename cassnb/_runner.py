"""One private event loop in a daemon thread, so synchronous code (the magics) can run the async core.

A notebook kernel already runs an event loop, and a magic is called synchronously from inside it, so the
magic can neither ``asyncio.run`` nor block on the kernel's own loop. Instead of patching asyncio globally
(nest_asyncio), the magics hand their coroutines to a second loop that lives in a daemon thread and wait for
the answer. The async core binds no loop, so a session opened here also works from ``await`` cells on the
kernel's loop, and the other way round.

The loop starts on first use and is reused for every later call. Waiting is done in short slices, so an
interrupt (``KeyboardInterrupt``, from a real SIGINT or from ``_thread.interrupt_main``) reaches the waiting
thread promptly on every platform. On an interrupt or a timeout the coroutine's task is cancelled on the
runner loop, the caller waits a moment for its clean-up (``finally`` blocks, releasing the driver's request)
to finish, and the exception is re-raised.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ("Runner", "get_runner", "stop_runner")

T = TypeVar("T")


class _Call:
    """One coroutine handed to the runner, with a flag for "its clean-up is over"."""

    __slots__ = ("coro", "settled", "started")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.started = False
        self.settled = threading.Event()

    async def guarded(self) -> Any:
        self.started = True
        try:
            return await self.coro
        finally:
            self.settled.set()

    def settle_if_never_started(self) -> None:
        """On the runner loop, after a cancellation: a call cancelled before it began closes its coroutine.

        (That prevents the "coroutine was never awaited" warning; a started call settles by itself.)
        """
        if not self.started:
            self.coro.close()
            self.settled.set()


class Runner:
    """Runs coroutines on a private event loop in a daemon thread; :meth:`run` blocks until the result.

    Args:
        name: the thread's name (shows up in thread dumps and debuggers).
        poll_interval: how long each slice of waiting lasts; an interrupt is noticed within one slice.
        cancel_grace: after an interrupt or timeout, how long to wait for the cancelled task to clean up.
    """

    def __init__(self, name: str = "cassnb-runner", *, poll_interval: float = 0.1, cancel_grace: float = 2.0) -> None:
        self._name = name
        self._poll_interval = poll_interval
        self._cancel_grace = cancel_grace
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The runner's loop, started if it was not running yet."""
        return self._ensure_started()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and self.is_running:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(target=self._serve, args=(loop, ready), name=self._name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            return loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        timeout: float | None = None,
        *,
        on_wait: Callable[[], object] | None = None,
    ) -> T:
        """Run ``coro`` on the runner loop and return its result (or raise its exception).

        Args:
            coro: the coroutine to run; it is always awaited or closed, never leaked.
            timeout: seconds to wait for the result; ``None`` waits as long as it takes.
            on_wait: called on the calling thread between slices of waiting (e.g. to redraw progress).

        Raises:
            KeyboardInterrupt: the caller was interrupted; the task was cancelled first.
            TimeoutError: ``timeout`` passed; the task was cancelled first.
            RuntimeError: called from the runner's own thread (that would wait forever).
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("Runner.run() was called on the runner's own loop; await the coroutine instead")
        loop = self._ensure_started()
        call = _Call(coro)
        future = asyncio.run_coroutine_threadsafe(call.guarded(), loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                done, _ = concurrent.futures.wait([future], timeout=self._poll_interval)
                if done:
                    result: T = future.result()
                    return result
                if on_wait is not None:
                    on_wait()
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"the call did not finish within {timeout} s and was cancelled")
        except BaseException:
            if not future.done():
                self._cancel(loop, future, call)
            raise

    def _cancel(self, loop: asyncio.AbstractEventLoop, future: concurrent.futures.Future[Any], call: _Call) -> None:
        future.cancel()  # cancels the task on the runner loop
        try:
            loop.call_soon_threadsafe(call.settle_if_never_started)
        except RuntimeError:  # the loop closed meanwhile: nothing is left to settle
            return
        call.settled.wait(self._cancel_grace)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (cancelling what still runs on it) and wait for its thread; run() restarts it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __repr__(self) -> str:
        return f"<Runner {self._name} {'running' if self.is_running else 'idle'}>"


_default: Runner | None = None
_default_lock = threading.Lock()


def get_runner() -> Runner:
    """The process-wide runner shared by the magics, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Runner()
        return _default


def stop_runner() -> None:
    """Stop the shared runner if it was started (the next :func:`get_runner` call starts a fresh one)."""
    global _default
    with _default_lock:
        runner, _default = _default, None
    if runner is not None:
        runner.stop()
