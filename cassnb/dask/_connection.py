"""Where a Dask worker connects: a small, picklable description with credentials by reference.

A task graph is pickled, sent to the scheduler and shown on its dashboard, so what travels in it must hold no
secret. A :class:`Connection` names hosts, port, keyspace and data centre, and says *where* the password is:
an environment variable (``password_env``) or a section of the connection file (``profile``, the file of
``%cql connect``). Each worker reads the password itself, when it opens its session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._hosts import split_hosts
from .._secret import Secret
from ..exceptions import ConfigurationError


@dataclass(frozen=True)
class Connection:
    """How to reach the cluster from any process. Holds no password, only where to find one."""

    hosts: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    keyspace: str | None = None
    local_dc: str | None = None
    user: str | None = None
    password_env: str | None = None
    profile: str | None = None

    def settings(self) -> dict[str, Any]:
        """The ``cassnb.connect`` arguments, with the password read now (on the worker) from where it lives."""
        hosts, port, user, keyspace = list(self.hosts), self.port, self.user, self.keyspace
        password: Secret | None = None
        if self.profile is not None:
            section = _profile(self.profile)
            hosts = list(split_hosts(section.get("hosts", ",".join(hosts)), None)[0]) or hosts
            port = int(section.get("port", port))
            user, keyspace = section.get("user", user), section.get("keyspace", keyspace)
            password = section.get("password")
            if password is None and section.get("password_env"):
                password = _from_env(section["password_env"])
        if self.password_env is not None:
            password = _from_env(self.password_env)
        if user and password is None:
            raise ConfigurationError(
                f"user {user!r} needs a password, and none was given: pass password_env='VARIABLE' (set in the "
                "environment of every worker) or a profile whose section has password_env"
            )
        options: dict[str, Any] = {"port": port, "keyspace": keyspace, "username": user, "password": password}
        if self.local_dc is not None:
            from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

            options["load_balancing_policy"] = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=self.local_dc))
        return {"hosts": hosts, **options}


def _from_env(variable: str) -> Secret:
    secret = Secret.from_env(variable)
    if secret is None:
        raise ConfigurationError(
            f"the environment variable {variable} (the password) is not set in this process; set it where the "
            "Dask workers run"
        )
    return secret


def _profile(name: str) -> dict[str, Any]:
    from IPython.core.error import UsageError

    from ..magics._connections import connections_file, read_connection_file

    try:
        sections = read_connection_file()
    except UsageError as exc:
        raise ConfigurationError(str(exc)) from None
    if name not in sections:
        raise ConfigurationError(f"no section [{name}] in the connection file {connections_file()}")
    return sections[name]


def connection(
    hosts: str | list[str] | tuple[str, ...] = "127.0.0.1", *, port: int | None = None, keyspace: str | None = None,
    local_dc: str | None = None, user: str | None = None, password_env: str | None = None, profile: str | None = None,
) -> Connection:  # fmt: skip
    """A :class:`Connection` for :func:`read_table` and :func:`to_table`.

    Args:
        hosts: ``"h1,h2"``, a list, or ``"host:port"`` entries (which set the port).
        user: the login role; its password is read on each worker from ``password_env`` (or the profile).
        password_env: the name of the environment variable that holds the password, never the password.
        profile: a section of the connection file (``~/.cassnb/connections.ini``) to take the settings from.
    """
    if isinstance(password_env, Secret) or (password_env is not None and not str(password_env).isidentifier()):
        raise ConfigurationError(
            "password_env is the *name* of an environment variable holding the password (e.g. 'CASSANDRA_PASSWORD'), "
            "not the password itself"
        )
    names, host_port = split_hosts(hosts, None)
    if not names:
        raise ConfigurationError(f"no hosts to connect to (got {hosts!r}); give them as 'host[,host...]'")
    return Connection(tuple(names), host_port or port or 9042, keyspace, local_dc, user, password_env, profile)


def as_connection(value: str | Connection) -> Connection:
    """A contact point string (``"127.0.0.1"``, ``"host:9042"``, ``"h1,h2"``) or a Connection, as a Connection."""
    if isinstance(value, Connection):
        return value
    if isinstance(value, str):
        return connection(value)
    raise ConfigurationError(
        f"connection must be a contact point string like '127.0.0.1:9042' or cassnb.dask.connection(...), got "
        f"{type(value).__name__}"
    )
