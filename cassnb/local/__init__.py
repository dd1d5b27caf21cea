"""``cassnb local``: a real single-node Apache Cassandra for development, tests and demos."""

from ._dist import CASSANDRA_VERSION
from ._server import LocalServer, Started, Status

__all__ = ("CASSANDRA_VERSION", "LocalServer", "Started", "Status")
