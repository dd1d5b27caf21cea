"""cassnb: async Apache Cassandra for Python notebooks.

The async core (:class:`AsyncCluster`, :class:`AsyncSession`, results and page-by-page streaming) runs on
cassandra-driver; ``%load_ext cassnb`` adds the ``%cql`` / ``%%cql`` magics.
"""

from . import _logging
from ._connect import connect
from .cluster import AsyncCluster
from .exceptions import (
    AuthenticationError,
    CassnbError,
    ClosedError,
    ConfigurationError,
    ConnectionError,
    InvalidQueryError,
    QueryError,
    TimeoutError,
    UnauthorizedError,
    UnavailableError,
)
from .metrics import MetricsSnapshot
from .options import UNSET, Consistency, RowFormat
from .result import AsyncResultSet
from .session import AsyncSession
from .streaming import AsyncStreamingResultSet, Page, StreamConfig

__version__ = "0.1.0"

_logging.install()

__all__ = (
    "UNSET",
    "AsyncCluster",
    "AsyncResultSet",
    "AsyncSession",
    "AsyncStreamingResultSet",
    "AuthenticationError",
    "CassnbError",
    "ClosedError",
    "ConfigurationError",
    "ConnectionError",
    "Consistency",
    "InvalidQueryError",
    "MetricsSnapshot",
    "Page",
    "QueryError",
    "RowFormat",
    "StreamConfig",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "__version__",
    "connect",
)
