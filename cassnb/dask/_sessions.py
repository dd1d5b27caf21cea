"""One cassnb session per process and connection, shared by every task that runs there.

A Dask worker runs many tasks, often on several threads; opening a cluster connection per task would cost a
handshake, topology discovery and statement preparation each time. :func:`session_for` opens the session on
first use, on the process's private event loop (:mod:`cassnb._runner`), and keeps it until
:func:`close_sessions`, which :class:`SessionPlugin` calls when the worker shuts down. The client process (which
plans the reads) uses the same registry.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._runner import Runner, get_runner
from ._connection import Connection

if TYPE_CHECKING:
    from ..session import AsyncSession

_sessions: dict[Connection, AsyncSession] = {}
_lock = threading.Lock()
PLUGIN_NAME = "cassnb-sessions"


def session_for(connection: Connection) -> tuple[Runner, AsyncSession]:
    """This process's open session for ``connection`` (opened now if there is none, or it was closed)."""
    runner = get_runner()
    with _lock:
        session = _sessions.get(connection)
        if session is None or session.is_closed:
            from .._connect import connect

            session = runner.run(connect(**connection.settings()))
            _sessions[connection] = session
    return runner, session


def open_sessions() -> int:
    """How many sessions this process holds open."""
    with _lock:
        return sum(not session.is_closed for session in _sessions.values())


def close_sessions() -> None:
    """Close every session this process opened (each also shuts its cluster down)."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    runner = get_runner()
    for session in sessions:
        runner.run(session.close())


def _plugin_base() -> type:
    try:
        from distributed import WorkerPlugin
    except ImportError:  # pragma: no cover - distributed is part of the cassnb[dask] extra
        return object
    return WorkerPlugin


class SessionPlugin(_plugin_base()):  # type: ignore[misc]
    """A ``distributed`` worker plugin that closes the worker's cassnb sessions at worker teardown.

    :func:`cassnb.dask.read_table` and :func:`~cassnb.dask.to_table` register it on the current client;
    register it yourself with ``client.register_plugin(SessionPlugin())`` for a client created later.
    """

    name = PLUGIN_NAME

    def teardown(self, worker: Any) -> None:
        close_sessions()


_registered: set[str] = set()


def register_plugin() -> None:
    """Register :class:`SessionPlugin` once on the current ``distributed`` client, if there is one."""
    try:
        from distributed import get_client
    except ImportError:  # pragma: no cover
        return
    try:
        client = get_client()
    except ValueError:
        return  # no distributed client: the local schedulers run tasks in this process
    with _lock:
        if client.id in _registered:
            return
        _registered.add(client.id)
    client.register_plugin(SessionPlugin(), name=PLUGIN_NAME)
