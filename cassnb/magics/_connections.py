"""Named connections of the magics: where their settings come from, and the registry of open ones.

Settings for ``%cql connect`` are looked up per field, first match wins:

1. the options on the ``%cql connect`` line;
2. the connection file's section named after the connection (``--name``, else
   ``CqlMagic.default_connection``). The file is ``~/.cassnb/connections.ini``, or the path in the
   ``CASSNB_CONNECTIONS_FILE`` environment variable. Keys: ``hosts``, ``port``, ``keyspace``, ``user``,
   ``password_env`` (the name of a variable holding the password) and ``password``;
3. ``%config CqlMagic.hosts / port / user / keyspace``;
4. the environment: ``CASSNB_HOSTS``, ``CASSNB_USER`` and ``CASSNB_PASSWORD``;
5. built-in defaults: ``127.0.0.1``, port 9042, no login.

A password never travels on the command line. It comes from ``--password-env VAR``, the file (``password_env``
or ``password``), ``CASSNB_PASSWORD``, or a ``getpass`` prompt when a user is set and nothing else gave one.
It is handed straight to the driver and kept nowhere else: listings show ``********`` in its place.
"""

from __future__ import annotations

import configparser
import getpass
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError

from .._hosts import split_hosts
from .._secret import MASK, Secret

if TYPE_CHECKING:
    import pandas as pd

    from ..session import AsyncSession

FILE_ENV = "CASSNB_CONNECTIONS_FILE"
DEFAULT_FILE = Path("~/.cassnb/connections.ini")
FILE_KEYS = frozenset({"hosts", "port", "keyspace", "user", "password_env", "password"})
DEFAULT_PORT = 9042


def connections_file() -> Path:
    """The connection file in use (it need not exist)."""
    return Path(os.environ.get(FILE_ENV) or DEFAULT_FILE).expanduser()


def read_connection_file(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every section of the connection file as plain dicts; a missing file has none.

    A ``password`` is a :class:`~cassnb._secret.Secret` from the moment it is read.

    Raises:
        UsageError: the file cannot be parsed, or a section has a key cassnb does not know (likely a typo).
    """
    path = path or connections_file()
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None, default_section="__no_defaults__")
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise UsageError(f"cannot read the connection file {path}: {exc.message}") from None
    sections: dict[str, dict[str, Any]] = {}
    for name in parser.sections():
        values: dict[str, Any] = dict(parser.items(name))
        unknown = sorted(set(values) - FILE_KEYS)
        if unknown:
            raise UsageError(
                f"unknown key {', '.join(unknown)} in section [{name}] of {path}; "
                f"the keys are {', '.join(sorted(FILE_KEYS))}"
            )
        if "password" in values:
            values["password"] = Secret(values["password"])
        sections[name] = values
    return sections


@dataclass(frozen=True)
class Settings:
    """Where and how to connect; holds no password, only where one comes from (``password_from``)."""

    name: str
    hosts: tuple[str, ...]
    port: int
    keyspace: str | None
    user: str | None
    password_from: str | None  # "env VAR", "file", "prompt" or None (no login)


@dataclass(frozen=True)
class Defaults:
    """``%config CqlMagic.*`` values that act as connection defaults (``None``: not configured)."""

    hosts: str | None = None
    port: int | None = None
    user: str | None = None
    keyspace: str | None = None


def resolve_settings(
    name: str,
    *,
    hosts: str | None = None,
    port: int | None = None,
    keyspace: str | None = None,
    user: str | None = None,
    password_env: str | None = None,
    defaults: Defaults = Defaults(),
    environ: Mapping[str, str] | None = None,
    file_sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Merge the sources listed in the module docstring into one :class:`Settings`.

    Raises:
        UsageError: a port in the file is not a number, or ``password_env`` is given without any user.
    """
    env = os.environ if environ is None else environ
    section = dict((read_connection_file() if file_sections is None else file_sections).get(name, {}))
    file_port = section.get("port")
    if file_port is not None and not file_port.strip().isdigit():
        raise UsageError(f"port = {file_port!r} in section [{name}] of {connections_file()} is not a number")
    host_text = hosts or section.get("hosts") or defaults.hosts or env.get("CASSNB_HOSTS") or "127.0.0.1"
    chosen_port = port or (int(file_port) if file_port else None) or defaults.port
    host_tuple, chosen_port = split_hosts(host_text, chosen_port)
    if not host_tuple:
        raise UsageError(f"no hosts to connect to (got {host_text!r}); give them as HOST[,HOST...]")
    chosen_user = user or section.get("user") or defaults.user or env.get("CASSNB_USER") or None
    if password_env and not chosen_user:
        raise UsageError("--password-env needs a user to log in as: add --user NAME")
    password_from = None
    if password_env or section.get("password_env"):
        password_from = f"env {password_env or section['password_env']}"
    elif section.get("password"):
        password_from = "file"
    elif chosen_user and env.get("CASSNB_PASSWORD"):
        password_from = "env CASSNB_PASSWORD"
    elif chosen_user:
        password_from = "prompt"
    return Settings(
        name=name,
        hosts=host_tuple,
        port=chosen_port or DEFAULT_PORT,
        keyspace=keyspace or section.get("keyspace") or defaults.keyspace or None,
        user=chosen_user,
        password_from=password_from,
    )


def read_password(settings: Settings, file_sections: Mapping[str, Mapping[str, Any]] | None = None) -> Secret | None:
    """Fetch the password from where :attr:`Settings.password_from` says; ``None`` when there is no login.

    Raises:
        UsageError: the named environment variable is not set, the prompt was cancelled, or a prompt is needed
            where there is no way to answer one (a kernel without input, as under nbclient or papermill).
    """
    source = settings.password_from
    if source is None:
        return None
    if source.startswith("env "):
        variable = source[4:]
        password = Secret.from_env(variable)
        if password is None:
            raise UsageError(
                f"the environment variable {variable} (named by --password-env or password_env) is not set"
            )
        return password
    if source == "file":
        sections = read_connection_file() if file_sections is None else file_sections
        return Secret.of(sections[settings.name]["password"])
    try:
        where = describe_hosts(settings.hosts, settings.port)
        return Secret(getpass.getpass(f"Password for {settings.user}@{where}: "))
    except (EOFError, KeyboardInterrupt):
        raise UsageError("no password entered; connect again, or use --password-env VAR") from None
    except StdinNotImplementedError:
        raise UsageError(
            f"%cql connect needs the password of {settings.user}, and this kernel cannot ask for it (it runs "
            "without input, as under nbclient or papermill): put it in an environment variable and add "
            "--password-env VAR"
        ) from None


def describe_hosts(hosts: tuple[str, ...] | list[str], port: int) -> str:
    return ",".join(hosts) + f":{port}"


@dataclass
class Connection:
    """An open session known to the magics under ``name``.

    ``owned`` sessions were opened by ``%cql connect`` and are closed by ``%cql close``; attached ones
    (``%cql attach``) belong to the notebook, and ``%cql close`` only forgets them.
    """

    name: str
    session: AsyncSession
    hosts: tuple[str, ...]
    port: int
    user: str | None
    has_password: bool
    owned: bool
    variable: str | None = None  # for an attached session: the notebook variable holding it

    @classmethod
    def attached(cls, name: str, session: AsyncSession, variable: str) -> Connection:
        cluster = session.cluster
        auth = getattr(cluster.driver_cluster, "auth_provider", None)
        user = getattr(auth, "username", None)
        hosts = tuple(cluster.contact_points)
        return cls(name, session, hosts, cluster.port, user, auth is not None, owned=False, variable=variable)

    def describe(self) -> str:
        who = f"{self.user}@" if self.user else ""
        keyspace = self.session.keyspace
        return f"{self.name}: {who}{describe_hosts(self.hosts, self.port)}" + (
            f" (keyspace {keyspace})" if keyspace else ""
        )

    def __repr__(self) -> str:
        return f"<Connection {self.describe()} {'open' if not self.session.is_closed else 'closed'}>"


class Registry:
    """The open connections and which one is current (used when a cell names none)."""

    def __init__(self) -> None:
        self._open: dict[str, Connection] = {}
        self.current: str | None = None

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._open.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._open

    def add(self, connection: Connection) -> None:
        """Register ``connection`` and make it current (an entry of the same name must be removed first)."""
        self._open[connection.name] = connection
        self.current = connection.name

    def get(self, name: str | None = None) -> Connection:
        """The connection called ``name``, or the current one.

        Raises:
            UsageError: there is no such connection, or none at all.
        """
        if name is None:
            if self.current is None:
                raise UsageError(
                    "no connection: run `%cql connect [HOSTS]` first, or `%cql attach SESSION_VARIABLE` for "
                    "a session opened with `await cassnb.connect(...)`"
                )
            name = self.current
        try:
            return self._open[name]
        except KeyError:
            known = ", ".join(self._open) or "none"
            raise UsageError(f"no open connection named {name!r} (open: {known})") from None

    def remove(self, name: str) -> Connection:
        connection = self.get(name)
        del self._open[name]
        if self.current == name:
            self.current = next(reversed(self._open), None)
        return connection

    def table(self, file_sections: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
        """Open connections, then the file's other sections; passwords are masked."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for conn in self:
            rows.append({
                "name": conn.name, "current": "*" if conn.name == self.current else "",
                "state": "closed" if conn.session.is_closed else "open",
                "source": "connect" if conn.owned else "attach", "hosts": ",".join(conn.hosts),
                "port": conn.port, "user": conn.user or "", "password": MASK if conn.has_password else "",
                "keyspace": conn.session.keyspace or "",
            })  # fmt: skip
        for name, section in file_sections.items():
            if name in self._open:
                continue
            rows.append({
                "name": name, "current": "", "state": "not connected", "source": str(connections_file()),
                "hosts": section.get("hosts", ""), "port": section.get("port", ""),
                "user": section.get("user", ""),
                "password": MASK if section.get("password") or section.get("password_env") else "",
                "keyspace": section.get("keyspace", ""),
            })  # fmt: skip
        columns = ["name", "current", "state", "source", "hosts", "port", "user", "password", "keyspace"]
        return pd.DataFrame(rows, columns=columns)
