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
from .exports import ExportReport, LoadReport, export, export_table, load
from .frames import FrameInfo, FrameStream, frame_info, more, query_df, stream_frames
from .metrics import MetricsSnapshot
from .options import UNSET, Consistency, RowFormat
from .progress import StopSignal
from .result import AsyncResultSet
from .session import AsyncSession
from .streaming import AsyncStreamingResultSet, Page, StreamConfig

__version__ = "0.1.0"

_logging.install()


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext cassnb``: register the ``%cql`` / ``%%cql`` magics (IPython is imported only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)


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
    "ExportReport",
    "FrameInfo",
    "FrameStream",
    "InvalidQueryError",
    "LoadReport",
    "MetricsSnapshot",
    "Page",
    "QueryError",
    "RowFormat",
    "StopSignal",
    "StreamConfig",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "__version__",
    "connect",
    "export",
    "export_table",
    "frame_info",
    "load",
    "more",
    "query_df",
    "stream_frames",
)
