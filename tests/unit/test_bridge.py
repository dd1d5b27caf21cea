"""The driver-to-asyncio bridge: one hop per page, late answers dropped quietly.

A small stand-in for the driver's ResponseFuture drives the bridge's own logic; the real driver is exercised
by the integration tests.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

import pytest

from cassnb._bridge import PageFetcher


class FakeResponse:
    def __init__(self) -> None:
        self.callbacks: list[tuple[Any, Any]] = []
        self._paging_state: bytes | None = b"next"
        self._col_names = ["k"]
        self._col_types = [int]

    def add_callbacks(self, callback: Any, errback: Any) -> None:
        self.callbacks.append((callback, errback))

    def clear_callbacks(self) -> None:
        self.callbacks.clear()

    def start_fetching_next_page(self) -> None:
        pass

    def answer(self, rows: list[Any]) -> None:
        for callback, _ in list(self.callbacks):
            callback(rows)

    def fail(self, exc: Exception) -> None:
        for _, errback in list(self.callbacks):
            errback(exc)


@pytest.mark.asyncio
async def test_pages_arrive_from_a_driver_thread_with_their_paging_state() -> None:
    response = FakeResponse()
    fetcher = PageFetcher()
    first = fetcher.first(lambda: response)
    threading.Thread(target=response.answer, args=([(1,), (2,)],)).start()
    page = await first
    assert page.rows == [(1,), (2,)] and page.next_paging_state == b"next" and page.column_names == ["k"]
    second = fetcher.next()
    response._paging_state = None
    threading.Thread(target=response.answer, args=([(3,)],)).start()
    assert (await second).next_paging_state is None


@pytest.mark.asyncio
async def test_errors_are_delivered_and_late_answers_after_cancel_are_dropped() -> None:
    response = FakeResponse()
    fetcher = PageFetcher()
    future = fetcher.first(lambda: response)
    response.fail(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        await future

    other = PageFetcher()
    pending = other.first(lambda: FakeResponse())
    pending.cancel()
    other._on_rows([(1,)])  # a late answer for a cancelled request
    other._on_error(RuntimeError("late"))
    await asyncio.sleep(0)
    assert pending.cancelled()


def test_an_answer_after_the_loop_closed_is_ignored() -> None:
    response = FakeResponse()
    fetcher = PageFetcher()

    async def start() -> None:
        fetcher.first(lambda: response)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    loop.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response.answer([(1,)])  # must not raise "Event loop is closed"
        response.fail(RuntimeError("late"))


@pytest.mark.asyncio
async def test_release_detaches_from_the_driver() -> None:
    response = FakeResponse()
    fetcher = PageFetcher()
    future = fetcher.first(lambda: response)
    fetcher.release()
    assert response.callbacks == [] and future.cancelled() and fetcher.response_future is None


@pytest.mark.asyncio
async def test_every_page_gets_a_fresh_timeout() -> None:
    """The driver would give later pages no deadline (stale timer) or the first page's (old start time)."""
    import time

    response = FakeResponse()
    response._timer = object()  # the first page's cancelled timer, as the driver leaves it
    response._start_time = time.time() - 3600  # the first page was requested an hour ago
    fetcher = PageFetcher()
    fetcher.first(lambda: response)
    fetcher.next()
    assert response._timer is None and time.time() - response._start_time < 5
