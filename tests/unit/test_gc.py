"""Deferring full collections during bulk reads restores the collector exactly as it was."""

import asyncio
import gc
import threading

import pytest

from cassnb import _gc
from cassnb._gc import PageLease, deferred_collections


def test_nested_and_concurrent_holders_share_one_switch() -> None:
    assert gc.isenabled()
    with deferred_collections():
        assert not gc.isenabled()
        with deferred_collections():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the outer read still holds it"
        done = threading.Event()

        def other_read() -> None:
            with deferred_collections():
                gc.collect(1)
            done.set()

        threading.Thread(target=other_read).start()
        assert done.wait(5) and not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with deferred_collections():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_switch_is_released_when_the_read_fails() -> None:
    try:
        with deferred_collections():
            raise RuntimeError("query failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_nothing_is_frozen_after_a_read() -> None:
    before = gc.get_freeze_count()
    with deferred_collections():
        garbage = [[] for _ in range(1000)]
        gc.collect(1)
    del garbage
    assert gc.get_freeze_count() == before


class _Observed(PageLease):
    """A lease that says when it was given back (by its timer or otherwise)."""

    __slots__ = ("given_back",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.given_back = asyncio.Event()

    def release(self) -> None:
        super().release()
        self.given_back.set()


@pytest.mark.asyncio
async def test_a_page_lease_holds_the_switch_until_released() -> None:
    lease = PageLease(asyncio.get_running_loop())
    lease.renew()
    assert not gc.isenabled()
    lease.renew()  # a second page: still one holder
    with deferred_collections():
        pass
    assert not gc.isenabled(), "a bounded read ending inside the stream's lease does not end it"
    lease.release()
    assert gc.isenabled()
    lease.release()  # idempotent: the holder count is not taken twice
    with deferred_collections():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.asyncio
async def test_a_lease_nobody_renews_gives_the_collector_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_gc, "IDLE_SECONDS", 0.05)
    lease = _Observed(asyncio.get_running_loop())
    lease.renew()
    assert not gc.isenabled()
    await asyncio.wait_for(lease.given_back.wait(), 5)  # by its timer: nothing else releases it here
    assert gc.isenabled(), "an idle lease must expire"
    lease.renew()  # a later page takes the switch again
    assert not gc.isenabled()
    lease.release()
    assert gc.isenabled()


@pytest.mark.asyncio
async def test_a_lease_keeps_an_application_switched_off_collector_off() -> None:
    gc.disable()
    try:
        lease = PageLease(asyncio.get_running_loop())
        lease.renew()
        lease.release()
        assert not gc.isenabled()
    finally:
        gc.enable()
