"""``cassnb local``: a real Apache Cassandra (one node, or a ring of several) for development, tests and demos."""

from ._dist import CASSANDRA_VERSION
from ._ring import LocalRing, RingStarted
from ._server import LocalServer, Started, Status

__all__ = ("CASSANDRA_VERSION", "LocalRing", "LocalServer", "RingStarted", "Started", "Status")
