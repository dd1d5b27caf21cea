"""The reactor's timers (the driver's request timeouts), without a server."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cassnb._reactor import TICK, Reactor

WAIT = 10.0


@pytest.mark.asyncio
async def test_a_timer_fires_on_the_loop_at_its_time_not_at_the_next_tick() -> None:
    reactor = Reactor()
    reactor.use(asyncio.get_running_loop())
    fired: list[tuple[str, float]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()

    def callback() -> None:
        fired.append((threading.current_thread().name, loop.time() - started))
        done.set()

    reactor.connection_class().create_timer(TICK / 4, callback)
    await asyncio.wait_for(done.wait(), WAIT)
    assert fired[0][0] == threading.current_thread().name
    assert fired[0][1] >= TICK / 4
    reactor.close()


@pytest.mark.asyncio
async def test_a_timer_made_on_another_thread_fires_and_a_cancelled_one_does_not() -> None:
    reactor = Reactor()
    reactor.use(asyncio.get_running_loop())
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    fired: list[str] = []

    def make() -> None:
        connection_class = reactor.connection_class()
        connection_class.create_timer(0.05, lambda: fired.append("cancelled")).cancel()
        connection_class.create_timer(0.1, lambda: (fired.append("kept"), loop.call_soon(done.set)))

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    await asyncio.wait_for(done.wait(), WAIT)
    # Timers are serviced in deadline order: by the time the later one fired, the cancelled one's time had come.
    assert fired == ["kept"]
    reactor.close()
