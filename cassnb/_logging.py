"""Logging adjustments cassnb makes to the driver's loggers.

Cassandra 5 warns on every statement prepared in a session bound to a keyspace ("`USE <keyspace>` with
prepared statements is considered to be an anti-pattern"). Binding a session to a keyspace is how the
cassnb API (``cluster.connect("ks")``) and most notebooks work, so that single warning is dropped from the
driver's log; every other server warning is still logged and stays available as ``result.warnings``.
"""

from __future__ import annotations

import logging

_USE_KEYSPACE_WARNING = "`USE <keyspace>` with prepared statements is considered to be an anti-pattern"


class _DropUseKeyspaceWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _USE_KEYSPACE_WARNING not in record.getMessage()


def install() -> None:
    logger = logging.getLogger("cassandra.protocol")
    if not any(isinstance(f, _DropUseKeyspaceWarning) for f in logger.filters):
        logger.addFilter(_DropUseKeyspaceWarning())
