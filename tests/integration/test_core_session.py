"""AsyncCluster and AsyncSession against the real server: connecting, executing, errors, results."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest
from cassandra.query import BatchStatement, SimpleStatement

from cassnb import (
    AsyncCluster,
    AsyncSession,
    AuthenticationError,
    ClosedError,
    ConfigurationError,
    ConnectionError,
    InvalidQueryError,
    QueryError,
    RowFormat,
)
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def kv(session: AsyncSession) -> str:
    async def create() -> None:
        await session.execute("CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v text)")
        await session.execute("TRUNCATE kv")

    asyncio.run(create())
    return "kv"


async def test_connect_three_ways_and_fast_open_close(cassandra_address: ServerAddress, keyspace: str) -> None:
    began = time.perf_counter()
    async with AsyncCluster([cassandra_address.host], port=cassandra_address.port) as cluster:
        async with cluster.connect(keyspace) as s1:
            assert s1.keyspace == keyspace and (await s1.execute("SELECT now() FROM system.local")).one()
        assert s1.is_closed
        async with await cluster.connect(keyspace) as s2:
            assert not s2.is_closed
        s3 = await cluster.connect()
        assert s3.keyspace is None
        await s3.close()
        await s3.close()  # idempotent
        assert cluster.metadata.keyspaces[keyspace].name == keyspace
    assert cluster.is_closed
    elapsed = time.perf_counter() - began
    print(f"open cluster + 3 sessions + close: {elapsed * 1000:.0f} ms")
    with pytest.raises(ClosedError, match="shut down"):
        await cluster.connect()


async def test_protocol_below_5_is_refused_at_construction() -> None:
    for version in (3, 4):
        with pytest.raises(ConfigurationError) as caught:
            AsyncCluster(["127.0.0.1"], protocol_version=version)
        message = str(caught.value)
        assert f"Protocol version {version} is not supported" in message and "v5" in message
        assert "Cassandra 4.0" in message and isinstance(caught.value, ValueError)
    assert AsyncCluster(["127.0.0.1"], protocol_version=5).driver_cluster.protocol_version == 5


async def test_unreachable_server_is_a_connection_error() -> None:
    cluster = AsyncCluster(["127.0.0.1"], port=1)  # nothing listens on port 1
    began = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Cassandra host could be reached"):
        await cluster.connect()
    assert time.perf_counter() - began < 10
    await cluster.shutdown()


async def test_question_mark_text_is_prepared_and_injection_safe(session: AsyncSession, kv: str) -> None:
    hostile = "'); DROP TABLE kv; --"
    await session.execute("INSERT INTO kv (k, v) VALUES (?, ?)", [1, hostile])
    assert (await session.execute("SELECT v FROM kv WHERE k = ?", [1])).one().v == hostile
    # The same text is prepared once per session.
    first = await session.prepare("SELECT v FROM kv WHERE k = ?")
    assert first is await session.prepare("SELECT v FROM kv WHERE k = ?")
    assert first.is_idempotent, "prepared reads are marked idempotent so the retry policy may retry them"
    # %s text keeps the driver's client-side formatting.
    assert (await session.execute("SELECT v FROM kv WHERE k = %s", [1])).one().v == hostile
    # Named markers with a mapping.
    await session.execute("INSERT INTO kv (k, v) VALUES (:k, :v)", {"k": 2, "v": "two"})
    assert (await session.execute(SimpleStatement("SELECT v FROM kv WHERE k = 2"))).one().v == "two"


async def test_empty_results_and_lightweight_transactions(session: AsyncSession, kv: str) -> None:
    ddl = await session.execute("CREATE TABLE IF NOT EXISTS lwt (k int PRIMARY KEY, v int)")
    insert = await session.execute("INSERT INTO kv (k, v) VALUES (?, ?)", [3, "x"])
    nothing = await session.execute("SELECT * FROM kv WHERE k = ?", [424242])
    for empty in (ddl, insert, nothing):
        assert empty.one() is None and len(empty) == 0 and empty.all() == []
    key = uuid.uuid4().int % 1_000_000
    applied = await session.execute("INSERT INTO lwt (k, v) VALUES (?, ?) IF NOT EXISTS", [key, 1])
    assert applied.was_applied is True
    conflict = await session.execute("INSERT INTO lwt (k, v) VALUES (?, ?) IF NOT EXISTS", [key, 2])
    assert conflict.was_applied is False and conflict.one().v == 1
    with pytest.raises(ConfigurationError, match="only available for conditional statements"):
        _ = nothing.was_applied


async def test_result_set_interface(session: AsyncSession, kv: str) -> None:
    for k in range(10, 30):
        await session.execute("INSERT INTO kv (k, v) VALUES (?, ?)", [k, f"v{k}"])
    result = await session.execute("SELECT k, v FROM kv WHERE k IN ?", [list(range(10, 30))], fetch_size=3)
    assert len(result) == 20 and not result.has_more_pages and result.paging_state is None
    assert result.column_names == ["k", "v"] and [t.typename for t in result.column_types] == ["int", "varchar"]
    assert [row.k async for row in result] == [row.k for row in result]
    frame = result.to_dataframe()
    assert list(frame.columns) == ["k", "v"] and str(frame["k"].dtype) == "Int32" and len(frame) == 20

    # Manual paging: one page per call, resumed from paging_state.
    seen, state = [], None
    while True:
        page = await session.execute("SELECT k FROM kv", paging_state=state, fetch_size=4)
        assert len(page) <= 4
        seen += [row.k for row in page]
        if not page.has_more_pages:
            break
        state = page.paging_state
    everything = await session.execute("SELECT k FROM kv")
    assert seen == [row.k for row in everything]

    as_tuples = await session.execute("SELECT k, v FROM kv WHERE k = 10", row_format=RowFormat.TUPLE)
    as_dicts = await session.execute("SELECT k, v FROM kv WHERE k = 10", row_format=RowFormat.DICT)
    assert as_tuples.one() == (10, "v10") and as_dicts.one() == {"k": 10, "v": "v10"}


async def test_query_errors_keep_the_session_usable(session: AsyncSession, kv: str) -> None:
    with pytest.raises(InvalidQueryError) as syntax:
        await session.execute("SELEKT * FROM kv")
    assert "SELEKT * FROM kv" in str(syntax.value) and syntax.value.driver_error is not None
    assert syntax.value.__cause__ is None and syntax.value.__suppress_context__, "one block, no chained traceback"
    with pytest.raises(QueryError, match="no_such_table"):
        await session.execute("SELECT * FROM no_such_table")
    with pytest.raises(QueryError):
        await session.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ["not an int", "x"])
    assert (await session.execute("SELECT count(*) FROM kv")).one()[0] >= 0
    errors = session.metrics().errors_by_type
    assert errors.get("SyntaxException", 0) >= 1 and errors.get("InvalidRequest", 0) >= 1


async def test_prepare_after_a_drop_asks_the_server_again(session: AsyncSession, driver_session: Any) -> None:
    """A cached prepared statement whose table was dropped is not handed out: prepare raises, and once the
    table is back (with other columns) it is prepared anew and runs against the new schema."""
    await session.execute("CREATE TABLE IF NOT EXISTS dropped (k int PRIMARY KEY, v text)")
    query = "SELECT * FROM dropped WHERE k = ?"
    await session.prepare(query)
    await session.execute("DROP TABLE dropped")  # this session's own DDL: the driver refreshes its schema
    with pytest.raises(QueryError, match="dropped"):
        await session.prepare(query)
    await session.execute("CREATE TABLE dropped (k int PRIMARY KEY, w int)")
    await session.execute("INSERT INTO dropped (k, w) VALUES (?, ?)", [1, 7])
    assert (await session.execute(query, [1])).one().w == 7

    # Dropped by another client: the server's schema-change event reaches this session's driver.
    driver_session.execute(f"DROP TABLE {session.keyspace}.dropped")
    deadline = time.monotonic() + 30
    while True:
        try:
            await session.prepare(query)
        except QueryError as exc:
            assert "dropped" in str(exc)
            break
        assert time.monotonic() < deadline, "the drop by another client never reached the session"
        await asyncio.sleep(0.05)


async def test_a_prepared_select_star_follows_an_added_column(session: AsyncSession, kv: str) -> None:
    """Answers to a prepared statement carry no column metadata while the statement's still holds (cassnb
    describes it once); after ``ALTER TABLE ... ADD`` the server sends the new metadata and the rows gain the
    column, for this answer and the next ones, whatever size the page."""
    await session.execute("CREATE TABLE grows (k int, c int, v text, PRIMARY KEY (k, c))")
    for c in range(600):
        await session.execute("INSERT INTO grows (k, c, v) VALUES (?, ?, ?)", [1, c, "x" * 200])
    single = await session.prepare("SELECT * FROM grows WHERE k = ? AND c = ?")
    page = await session.prepare("SELECT * FROM grows WHERE k = ?")
    assert (await session.execute(single, [1, 5])).one() == (1, 5, "x" * 200)
    assert len((await session.execute(page, [1])).all()) == 600  # one page of 120 kB: parsed on the loop
    await session.execute("ALTER TABLE grows ADD w int")
    await session.execute("UPDATE grows SET w = 9 WHERE k = 1 AND c = 5")
    for _ in range(2):
        row = (await session.execute(single, [1, 5])).one()
        assert row.w == 9 and row == (1, 5, "x" * 200, 9)
        rows = (await session.execute(page, [1])).all()
        assert [r.w for r in rows[4:6]] == [None, 9] and rows[0]._fields == ("k", "c", "v", "w")


async def test_batches_keyspaces_and_closed_sessions(
    cassandra_address: ServerAddress, keyspace: str, session: AsyncSession, kv: str
) -> None:
    await session.execute_batch([("INSERT INTO kv (k, v) VALUES (?, ?)", [100, "a"]),
                                 ("INSERT INTO kv (k, v) VALUES (?, ?)", [101, "b"])])  # fmt: skip
    batch = BatchStatement()
    batch.add(SimpleStatement("INSERT INTO kv (k, v) VALUES (102, 'c')"))
    await session.execute(batch)
    rows = await session.execute("SELECT k FROM kv WHERE k IN (100, 101, 102)")
    assert sorted(r.k for r in rows) == [100, 101, 102]

    async with AsyncCluster([cassandra_address.host], port=cassandra_address.port) as cluster:
        other = await cluster.connect()
        await other.set_keyspace(keyspace)
        assert other.keyspace == keyspace
        for bad in ("bad name", "x;DROP", "", "a" * 49):
            with pytest.raises(ConfigurationError, match="invalid keyspace name"):
                await other.set_keyspace(bad)
        await other.close()
        with pytest.raises(ClosedError, match="session is closed"):
            await other.execute("SELECT * FROM kv")
        assert isinstance(ClosedError("x"), ConnectionError)


async def test_trace_and_metrics(session: AsyncSession, kv: str) -> None:
    result = await session.execute("SELECT * FROM kv WHERE k = ?", [1], trace=True)
    trace = await result.get_query_trace()
    assert trace.coordinator is not None and trace.duration is not None and len(trace.events) > 0
    snapshot = session.metrics()
    assert snapshot.queries > 0 and snapshot.latency_p50 is not None and snapshot.latency_p99 >= snapshot.latency_p50


async def test_one_session_serves_several_event_loops(session: AsyncSession, kv: str) -> None:
    """The fixture's session was opened on another loop; here it runs on pytest's loop and a thread's loop."""
    here = (await session.execute("SELECT count(*) FROM kv")).one()[0]
    answer: list[int] = []
    thread = threading.Thread(
        target=lambda: answer.append(asyncio.run(session.execute("SELECT count(*) FROM kv")).one()[0])
    )
    thread.start()
    thread.join(timeout=20)
    assert answer == [here]


@pytest.mark.auth
async def test_authentication(auth_cassandra_address: ServerAddress) -> None:
    address = auth_cassandra_address
    cluster = AsyncCluster.create_with_auth([address.host], "cassandra", "cassandra", port=address.port)
    async with cluster, cluster.connect() as s:
        assert (await s.execute("SELECT release_version FROM system.local")).one()[0].startswith("5.0")

    secret = "hunter2-not-the-password"
    wrong = AsyncCluster.create_with_auth([address.host], "cassandra", secret, port=address.port)
    with pytest.raises(AuthenticationError) as refused:
        await wrong.connect()
    await wrong.shutdown()
    text = " ".join([str(refused.value), repr(refused.value), repr(wrong), repr(refused.value.driver_error)])
    assert secret not in text and "credentials" in str(refused.value)

    anonymous = AsyncCluster([address.host], port=address.port)
    with pytest.raises((AuthenticationError, ConnectionError)):
        await anonymous.connect()
    await anonymous.shutdown()


async def test_a_forged_paging_state_is_an_invalid_query(cassandra_address: ServerAddress, keyspace: str) -> None:
    # Its own cluster: Cassandra answers with a protocol error, on which the driver drops that connection.
    async with AsyncCluster([cassandra_address.host], port=cassandra_address.port) as cluster:
        own = await cluster.connect(keyspace)
        with pytest.raises(InvalidQueryError, match="did not accept the paging state"):
            await own.execute("SELECT * FROM system.local", paging_state=b"not a real paging state")
