"""The local server is a real Apache Cassandra 5.0 speaking CQL protocol v5."""

from cassandra.cluster import Cluster

from tests.conftest import ServerAddress


def test_plain_driver_negotiates_protocol_v5_with_cassandra_5_0(cassandra_address: ServerAddress) -> None:
    cluster = Cluster([cassandra_address.host], port=cassandra_address.port)
    try:
        session = cluster.connect()
        release = session.execute("SELECT release_version FROM system.local").one()[0]
        assert cluster.protocol_version == 5
        assert release.startswith("5.0."), release
    finally:
        cluster.shutdown()
