"""``cassnb.connect``: one call from nothing to a session, for notebooks and scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._hosts import split_hosts
from ._secret import Secret
from .cluster import AsyncCluster
from .session import AsyncSession


async def connect(
    hosts: str | Sequence[str] | None = None,
    *,
    port: int = 9042,
    keyspace: str | None = None,
    username: str | None = None,
    password: str | Secret | None = None,
    **cluster_options: Any,
) -> AsyncSession:
    """Open a cluster and a session in one step; closing the session also shuts the cluster down.

    ``hosts`` may be ``"h1,h2"`` or a list; ``"host:port"`` entries set the port.

    Raises:
        ConnectionError, AuthenticationError, ConfigurationError: see :mod:`cassnb.exceptions`.
    """
    password = Secret.of(password)  # first thing: this frame's local is masked from here on
    names, chosen_port = split_hosts(hosts, port)
    contact_points, port = list(names) or ["127.0.0.1"], chosen_port or port
    if username:
        cluster = AsyncCluster.create_with_auth(
            contact_points, username, password or Secret(""), port=port, **cluster_options
        )
    else:
        cluster = AsyncCluster(contact_points, port, **cluster_options)
    try:
        session = await cluster.connect(keyspace)
    except BaseException:
        await cluster.shutdown()
        raise
    session._owns_cluster = True
    return session
