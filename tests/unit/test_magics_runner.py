"""The background runner: one lazily started loop in a daemon thread; cancelling on interrupt and timeout."""

from __future__ import annotations

import _thread
import asyncio
import gc
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from cassnb._runner import Runner, get_runner, stop_runner


@pytest.fixture
def runner() -> Iterator[Runner]:
    runner = Runner(name="cassnb-test-runner", poll_interval=0.02)
    yield runner
    runner.stop()


def test_starts_lazily_and_reuses_one_loop_in_one_daemon_thread(runner: Runner) -> None:
    assert not runner.is_running

    async def where() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
        return asyncio.get_running_loop(), threading.current_thread()

    first_loop, first_thread = runner.run(where())
    second_loop, second_thread = runner.run(where())
    assert runner.is_running
    assert first_loop is second_loop is runner.loop
    assert first_thread is second_thread
    assert first_thread.daemon and first_thread is not threading.current_thread()


def test_returns_results_and_raises_the_coroutines_exception(runner: Runner) -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    async def fail() -> None:
        raise LookupError("no such thing")

    assert runner.run(add(2, 3)) == 5
    with pytest.raises(LookupError, match="no such thing"):
        runner.run(fail())
    assert runner.run(add(1, 1)) == 2  # still usable


def test_a_coroutine_raising_timeout_error_is_not_mistaken_for_the_runner_timeout(runner: Runner) -> None:
    async def times_out() -> None:
        raise TimeoutError("the server took too long")

    with pytest.raises(TimeoutError, match="the server took too long"):
        runner.run(times_out(), timeout=5)


def test_keyboard_interrupt_cancels_the_task_waits_for_its_cleanup_and_re_raises(runner: Runner) -> None:
    cleaned_up = threading.Event()
    started = threading.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # clean-up that itself awaits
            cleaned_up.set()

    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run(slow())
    finally:
        timer.cancel()
    assert started.is_set()
    assert cleaned_up.is_set(), "run() re-raised before the cancelled task finished cleaning up"
    assert time.monotonic() - began < 5
    assert not asyncio.run_coroutine_threadsafe(_pending_tasks(), runner.loop).result(5)


async def _pending_tasks() -> list[asyncio.Task[object]]:
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current]


def test_timeout_cancels_the_task(runner: Runner) -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match=r"within 0\.1 s"):
        runner.run(slow(), timeout=0.1)
    assert cancelled.is_set()


def test_a_call_cancelled_before_it_starts_leaves_no_unawaited_coroutine(runner: Runner) -> None:
    blocker = threading.Event()
    runner.run(asyncio.sleep(0))  # start the loop

    # Keep the loop busy so the next call cannot start before it is cancelled.
    runner.loop.call_soon_threadsafe(blocker.wait, 0.3)

    async def never_started() -> None:
        raise AssertionError("should have been cancelled before it began")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TimeoutError):
            runner.run(never_started(), timeout=0.05)
        blocker.set()
        runner.run(asyncio.sleep(0.05))
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_on_wait_is_called_on_the_calling_thread_while_waiting(runner: Runner) -> None:
    threads: set[threading.Thread] = set()
    runner.run(asyncio.sleep(0.2), on_wait=lambda: threads.add(threading.current_thread()))
    assert threads == {threading.current_thread()}


def test_calling_run_from_the_runner_loop_is_refused(runner: Runner) -> None:
    async def nested() -> str:
        inner = asyncio.sleep(0, result="x")
        try:
            runner.run(inner)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "await the coroutine instead" in runner.run(nested())


def test_stop_cancels_leftover_tasks_and_a_later_run_restarts(runner: Runner) -> None:
    first = runner.loop
    leftover = asyncio.run_coroutine_threadsafe(asyncio.sleep(30), first)
    runner.stop()
    assert not runner.is_running
    assert leftover.cancelled()
    assert first.is_closed()
    assert runner.run(asyncio.sleep(0, result=7)) == 7
    assert runner.loop is not first


def test_the_shared_runner_is_one_object_until_stopped() -> None:
    shared = get_runner()
    assert get_runner() is shared
    assert shared.run(asyncio.sleep(0, result="ok")) == "ok"
    stop_runner()
    assert not shared.is_running
    assert get_runner() is not shared
