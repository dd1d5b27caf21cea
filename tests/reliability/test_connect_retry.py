"""A connect() that fails because the server is not up yet leaves the AsyncCluster usable for a retry.

The driver shuts its own ``Cluster`` down when the first connection fails; cassnb must not let that poison the
``AsyncCluster``. The server "comes up" by starting a TCP forwarder to the real test server on the port that
refused the first attempt.
"""

from __future__ import annotations

import pytest

import cassnb
from cassnb import AsyncCluster
from cassnb.exceptions import translate
from tests.conftest import ServerAddress
from tests.support.forwarder import Forwarder, free_port

pytestmark = pytest.mark.asyncio


async def test_connect_again_on_the_same_cluster_after_the_server_came_up(cassandra_address: ServerAddress) -> None:
    port = free_port()
    cluster = AsyncCluster(["127.0.0.1"], port=port, connect_timeout=2)
    try:
        with pytest.raises(cassnb.ConnectionError) as first:
            await cluster.connect()
        assert "no Cassandra host could be reached" in str(first.value)
        assert not cluster.is_closed
        with Forwarder(port, (cassandra_address.host, cassandra_address.port)):
            session = await cluster.connect()
            row = (await session.execute("SELECT release_version FROM system.local")).one()
            assert row.release_version.startswith("5.")
            # A second session of the same cluster, and a failing statement, change nothing.
            other = await cluster.connect()
            with pytest.raises(cassnb.InvalidQueryError):
                await other.execute("SELECT * FROM system.no_such_table")
            assert (await session.execute("SELECT now() FROM system.local")).one() is not None
    finally:
        await cluster.shutdown()
    assert cluster.is_closed
    with pytest.raises(cassnb.ClosedError, match="create a new AsyncCluster"):
        await cluster.connect()


async def test_the_driver_s_already_shut_down_is_a_closed_error_not_a_query_error() -> None:
    from cassandra import DriverException

    error = translate(DriverException("Cluster is already shut down"))
    assert isinstance(error, cassnb.ClosedError) and not isinstance(error, cassnb.QueryError)
    assert "create a new AsyncCluster" in str(error)
