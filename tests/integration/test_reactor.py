"""The driver's sockets served on the event loop (cassnb._reactor), against the real server.

Where an answer is processed shows in the thread that runs the row factory: the loop's own thread for point
reads, the reactor's worker for pages of rows, and the worker again whenever the loop does not serve
(blocked, closed, or waiting for itself).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
from cassandra.query import tuple_factory

from cassnb import AsyncCluster, ConfigurationError
from cassnb._reactor import BIG_BODY, LoopConnection

pytestmark = pytest.mark.integration

WAIT = 30.0  # seconds before a wait for an event counts as failed


def _recording_profile(threads: list[str], sizes: list[int] | None = None) -> ExecutionProfile:
    def factory(names: Any, rows: Any) -> Any:
        threads.append(threading.current_thread().name)
        if sizes is not None:
            sizes.append(len(rows))
        return tuple_factory(names, rows)

    return ExecutionProfile(row_factory=factory)


def _cluster(address: Any, threads: list[str], sizes: list[int] | None = None, **options: Any) -> AsyncCluster:
    profile = _recording_profile(threads, sizes)
    return AsyncCluster([address.host], port=address.port, execution_profiles={EXEC_PROFILE_DEFAULT: profile}, **options)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


@pytest.mark.asyncio
async def test_point_reads_are_answered_on_the_loop_and_pages_of_rows_on_the_worker(
    cassandra_address: Any, big_table: str
) -> None:
    threads: list[str] = []
    sizes: list[int] = []
    async with _cluster(cassandra_address, threads, sizes) as cluster, cluster.connect() as session:
        assert issubclass(cluster.driver_cluster.connection_class, LoopConnection)
        await session.execute("SELECT release_version FROM system.local")
        assert threads == [threading.current_thread().name]

        threads.clear()
        result = await session.execute(f"SELECT * FROM {big_table} WHERE bucket = 7", fetch_size=1000)
        assert len(result) == 1000  # one page of about 40 KB: small enough for the loop
        assert set(threads) == {threading.current_thread().name}

        threads.clear()
        sizes.clear()
        async with session.execute_stream(f"SELECT * FROM {big_table}", stream_config=_config(5000)) as stream:
            rows = [row async for row in stream]
        assert len(rows) == 100_000
        full = [thread for thread, size in zip(threads, sizes, strict=True) if size == 5000]
        assert len(full) >= 19 and set(full) == {"cassnb-reactor"}, "pages over BIG_BODY are decoded off the loop"
    assert BIG_BODY <= 5000 * 20  # (a 5,000-row page of `big` is about 200 KB, well over the threshold)


def _config(fetch_size: int) -> Any:
    from cassnb import StreamConfig

    return StreamConfig(fetch_size=fetch_size)


@pytest.mark.asyncio
async def test_requests_from_another_loop_are_answered_while_the_bound_loop_is_blocked(
    cassandra_address: Any,
) -> None:
    threads: list[str] = []
    async with _cluster(cassandra_address, threads) as cluster, cluster.connect() as session:
        answered = threading.Event()
        failure: list[BaseException] = []

        def other_loop() -> None:
            async def query() -> None:
                await session.execute("SELECT release_version FROM system.local")

            try:
                asyncio.run(query())
            except BaseException as exc:  # reported below
                failure.append(exc)
            answered.set()

        threads.clear()
        thread = threading.Thread(target=other_loop)
        thread.start()
        # This loop (the one the reactor serves) is blocked until the other loop has its answer.
        assert answered.wait(WAIT), "the request was not answered while the loop was blocked"
        thread.join()
        assert not failure, failure
        assert threads == ["cassnb-reactor"], "the worker served the socket while the loop was blocked"

        threads.clear()
        await session.execute("SELECT release_version FROM system.local")
        assert threads == [threading.current_thread().name], "the loop serves again once it runs"


@pytest.mark.asyncio
async def test_heartbeats_are_answered_while_the_loop_is_blocked(cassandra_address: Any) -> None:
    threads: list[str] = []
    cluster = _cluster(cassandra_address, threads, idle_heartbeat_interval=1, idle_heartbeat_timeout=1)
    async with cluster, cluster.connect() as session:
        await session.execute("SELECT release_version FROM system.local")
        connections = list(cluster._reactor._connections)
        answered = [0]
        for connection in connections:
            _count_heartbeats(connection, answered)
        # Block the loop until every connection has been sent at least two heartbeats and answered them
        # (the driver sends one per idle connection every second and defuncts a connection after 1 s of silence).
        _wait_for(lambda: answered[0] >= 2 * len(connections), "two heartbeats per connection")
        assert not any(c.is_defunct or c.is_closed for c in connections)
        assert all(host.is_up for host in cluster.metadata.all_hosts())
        result = await session.execute("SELECT release_version FROM system.local")
        assert result.one() is not None


def _count_heartbeats(connection: Any, answered: list[int]) -> None:
    from cassandra.protocol import OptionsMessage

    send_msg = connection.send_msg

    def counting(msg: Any, request_id: Any, cb: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(msg, OptionsMessage):

            def counted(response: Any) -> Any:
                answered[0] += 1
                return cb(response)

            return send_msg(msg, request_id, counted, *args, **kwargs)
        return send_msg(msg, request_id, cb, *args, **kwargs)

    connection.send_msg = counting


def test_a_new_loop_takes_over_when_the_bound_loop_is_closed(cassandra_address: Any) -> None:
    threads: list[str] = []
    cluster = _cluster(cassandra_address, threads)
    session = asyncio.run(_connect(cluster))  # that loop is closed when asyncio.run returns
    first_loop = cluster._reactor.loop
    try:
        for _ in range(2):

            async def query() -> asyncio.AbstractEventLoop:
                threads.clear()
                await session.execute("SELECT release_version FROM system.local")
                await session.execute("SELECT release_version FROM system.local")
                return asyncio.get_running_loop()

            loop = asyncio.run(query())
            assert cluster._reactor.loop is loop is not first_loop
            # The first request may still be answered by the worker (the switch happens as it is sent);
            # the second is read by the new loop itself.
            assert threads[-1] == threading.current_thread().name
    finally:
        asyncio.run(cluster.shutdown())
    assert not cluster._reactor._worker.is_alive(), "shutdown stops the reactor's thread"


async def _connect(cluster: AsyncCluster) -> Any:
    return await cluster.connect()


def test_the_drivers_blocking_api_called_on_the_loop_does_not_wait_for_itself(cassandra_address: Any) -> None:
    """Code on the loop calling the driver's synchronous API would wait for an answer only that loop could
    read; the worker reads it instead. Run in a child process, so that a hang fails the test by its timeout."""
    script = textwrap.dedent(f"""
        import asyncio
        from cassnb import AsyncCluster

        async def main():
            async with AsyncCluster([{cassandra_address.host!r}], port={cassandra_address.port}) as cluster:
                session = await cluster.connect()
                row = session.driver_session.execute("SELECT release_version FROM system.local").one()
                print("sync", row.release_version)
                prepared = session.driver_session.prepare("SELECT cluster_name FROM system.local")
                print("prepared", session.driver_session.execute(prepared).one().cluster_name)
                print("async", (await session.execute("SELECT release_version FROM system.local")).one()[0])

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split("\n")
    assert lines[0].startswith("sync 5.") and lines[1].startswith("prepared ") and lines[2].startswith("async 5.")


@pytest.mark.asyncio
async def test_a_request_larger_than_the_socket_buffer_is_written_whole(cassandra_address: Any, keyspace: str) -> None:
    threads: list[str] = []
    async with _cluster(cassandra_address, threads) as cluster, cluster.connect(keyspace) as session:
        await session.execute("CREATE TABLE IF NOT EXISTS reactor_blobs (id int PRIMARY KEY, data blob)")
        payloads = {i: bytes([i]) * (6_000_000 + i) for i in range(3)}
        insert = await session.prepare("INSERT INTO reactor_blobs (id, data) VALUES (?, ?)")
        await asyncio.gather(*(session.execute(insert, (i, data)) for i, data in payloads.items()))
        for i, data in payloads.items():
            row = (await session.execute("SELECT data FROM reactor_blobs WHERE id = ?", (i,))).one()
            assert row[0] == data
        assert not any(c.pending_output for c in cluster._reactor._connections)


@pytest.mark.asyncio
async def test_io_thread_keeps_the_drivers_reactor(cassandra_address: Any) -> None:
    async with AsyncCluster([cassandra_address.host], port=cassandra_address.port, io="thread") as cluster:
        assert cluster._reactor is None
        assert not issubclass(cluster.driver_cluster.connection_class, LoopConnection)
        async with cluster.connect() as session:
            assert (await session.execute("SELECT release_version FROM system.local")).one() is not None
    with pytest.raises(ConfigurationError, match="io must be 'loop' or 'thread'"):
        AsyncCluster(io="fast")


@pytest.mark.asyncio
async def test_a_timeout_that_has_passed_wins_over_an_answer_read_in_the_same_turn(cassandra_address: Any) -> None:
    from cassnb import TimeoutError as CassnbTimeout

    threads: list[str] = []
    async with _cluster(cassandra_address, threads) as cluster, cluster.connect() as session:
        for _ in range(3):
            request = asyncio.ensure_future(session.execute("SELECT release_version FROM system.local", timeout=0.001))
            await asyncio.sleep(0)  # the request is sent
            # The loop is held (well under the worker's takeover time) until the answer is surely in the socket,
            # so the next turn finds both the answer and the due timer: the timeout must win.
            _wait_for(lambda: select_readable(cluster), "the answer in the socket")
            with pytest.raises(CassnbTimeout):
                await request
        assert threads == []  # no answer reached the row factory
        assert (await session.execute("SELECT release_version FROM system.local")).one()  # the session goes on


def select_readable(cluster: AsyncCluster) -> bool:
    import select

    pool = next(iter(cluster.driver_cluster.get_connection_holders()))
    connections = pool.get_connections()
    return any(select.select([c._socket], [], [], 0)[0] for c in connections)
