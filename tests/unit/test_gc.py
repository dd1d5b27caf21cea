"""Deferring full collections during bulk reads restores the collector exactly as it was."""

import gc
import threading

from cassnb._gc import collect_young, deferred_collections


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
                collect_young()
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
        collect_young()
    del garbage
    assert gc.get_freeze_count() == before
