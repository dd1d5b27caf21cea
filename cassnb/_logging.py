"""Logging adjustments cassnb makes to the driver's loggers, only while a cassnb cluster is open.

Cassandra 5 warns on every statement prepared in a session bound to a keyspace ("`USE <keyspace>` with
prepared statements is considered to be an anti-pattern"). Binding a session to a keyspace is how the
cassnb API (``cluster.connect("ks")``) and most notebooks work, so that single warning is dropped from the
driver's log while an :class:`~cassnb.AsyncCluster` is open (from its creation to its shutdown); every other
server warning is still logged and stays available as ``result.warnings``. With no cassnb cluster open, the
driver's logging is exactly as the application configured it.
"""

from __future__ import annotations

import logging
import threading

_USE_KEYSPACE_WARNING = "`USE <keyspace>` with prepared statements is considered to be an anti-pattern"
_LOGGER = "cassandra.protocol"


class _DropUseKeyspaceWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _USE_KEYSPACE_WARNING not in record.getMessage()


_FILTER = _DropUseKeyspaceWarning()
_lock = threading.Lock()
_users = 0


def acquire() -> None:
    """A cluster opened: the filter is in place while any is open."""
    global _users
    with _lock:
        if _users == 0:
            logging.getLogger(_LOGGER).addFilter(_FILTER)
        _users += 1


def release() -> None:
    """A cluster shut down: the last one removes the filter."""
    global _users
    with _lock:
        _users = max(_users - 1, 0)
        if _users == 0:
            logging.getLogger(_LOGGER).removeFilter(_FILTER)
