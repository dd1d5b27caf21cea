"""The ``%cql`` subcommands, one small coroutine each, dispatched by :data:`COMMANDS`.

Every command takes the magic (for its configuration and registry), the host its steps run on (see
:mod:`cassnb.magics._host`), the rest of the line and the namespace the line runs in. User mistakes raise
``UsageError``; core errors are turned into one line by the magic's error boundary.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from IPython.core.error import UsageError

from .._connect import connect as open_session
from .._identifiers import is_qualified_name
from ..exceptions import AuthenticationError
from ..frames import frame_info
from ..session import AsyncSession
from ._connections import (
    Connection,
    Defaults,
    describe_hosts,
    read_connection_file,
    read_password,
    resolve_settings,
)
from ._display import RowsView, describe_view, plural
from ._execute import Host, Remembered, continue_frame
from ._ipython import argument_parser, display, parse_line

if TYPE_CHECKING:
    from ._magic import CqlMagic

Command = Callable[["CqlMagic", Host, str, Mapping[str, object]], Awaitable[Any]]


def is_resumable(frame: object) -> bool:
    """Whether ``frame`` is a DataFrame with the ``attrs["cassnb"]`` that ``frames.more`` needs."""
    from ..frames import ATTRS_KEY

    attrs = getattr(frame, "attrs", None)
    return isinstance(attrs, dict) and isinstance(attrs.get(ATTRS_KEY), dict)


_CONNECT = argument_parser("%cql connect")
_CONNECT.add_argument("hosts", nargs="?", help="HOST[,HOST...], each optionally HOST:PORT")
_CONNECT.add_argument("--port", type=int)
_CONNECT.add_argument("--keyspace", "-k")
_CONNECT.add_argument("--user", "-u")
_CONNECT.add_argument("--password-env", metavar="VAR")
_CONNECT.add_argument("--name", "-n")

_USE = argument_parser("%cql use")
_USE.add_argument("keyspace")
_USE.add_argument("--conn", "-c")

_CLOSE = argument_parser("%cql close")
_CLOSE.add_argument("name", nargs="?")
_CLOSE.add_argument("--all", action="store_true")

_ATTACH = argument_parser("%cql attach")
_ATTACH.add_argument("variable")
_ATTACH.add_argument("--name", "-n")

_DESCRIBE = argument_parser("%cql describe")
_DESCRIBE.add_argument("what", nargs="*")
_DESCRIBE.add_argument("--conn", "-c")
_DESCRIBE_USAGE = "use %cql describe keyspaces | tables | keyspace NAME | table [KEYSPACE.]NAME"

_MORE = argument_parser("%cql more")
_MORE.add_argument("variable", nargs="?")
_MORE.add_argument("--limit", type=int)
_MORE.add_argument("--conn", "-c")


async def connect(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> None:
    if re.search(r"(^|\s)--password(?!-env)", rest):
        raise UsageError(
            "%cql connect does not take a password on the command line (it would be saved in the notebook); "
            "use --password-env VAR, or leave it out to be prompted"
        )
    try:
        args = parse_line(_CONNECT, rest)
    except UsageError as exc:
        if "unrecognized arguments" not in str(exc):
            raise
        # Never echo them: a mistyped option may be followed by a password.
        raise UsageError(
            "%cql connect: unrecognized arguments (not repeated here in case they hold a secret); see %cql?"
        ) from None
    name = args.name or magic.default_connection
    sections = read_connection_file()
    defaults = Defaults(hosts=magic.hosts, port=magic.port, user=magic.user, keyspace=magic.keyspace)
    settings = resolve_settings(
        name, hosts=args.hosts, port=args.port, keyspace=args.keyspace, user=args.user,
        password_env=args.password_env, defaults=defaults, file_sections=sections,
    )  # fmt: skip
    where = describe_hosts(settings.hosts, settings.port)
    password = read_password(settings, sections)
    try:
        session = await host.call(
            open_session(list(settings.hosts), port=settings.port, keyspace=settings.keyspace,
                         username=settings.user, password=password)
        )  # fmt: skip
    except AuthenticationError:
        if settings.user is None:
            raise UsageError(
                f"the server at {where} requires a login: run %cql connect again with --user NAME "
                "(the password is then asked for, or read from --password-env VAR)"
            ) from None
        raise UsageError(
            f"could not log in to {where} as {settings.user!r}: Cassandra rejected the credentials "
            "(user name or password is wrong, or the role cannot log in)"
        ) from None
    if name in magic.connections:  # replaced only once the new session is open
        await _forget(magic, host, name)
    connection = Connection(
        name,
        session,
        settings.hosts,
        settings.port,
        settings.user,
        settings.password_from is not None,
        owned=True,
    )
    magic.connections.add(connection)
    print(f"connected {connection.describe()}")


async def connections(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> pd.DataFrame:
    if rest:
        raise UsageError("%cql connections takes no arguments")
    return magic.connections.table(read_connection_file())


async def use(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> None:
    args = parse_line(_USE, rest)
    connection = magic.connections.get(args.conn)
    await host.call(connection.session.set_keyspace(args.keyspace))
    print(f"using keyspace {connection.session.keyspace} on {connection.name}")


async def _forget(magic: CqlMagic, host: Host, name: str) -> str:
    connection = magic.connections.remove(name)
    magic.results.pop(name, None)
    if not connection.owned:
        return f"detached {name} (the session stays open: `await {connection.variable}.close()` closes it)"
    await host.call(connection.session.close())
    return f"closed {name}"


async def close(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> None:
    args = parse_line(_CLOSE, rest)
    if args.all:
        names = [connection.name for connection in magic.connections]
    else:
        names = [args.name or magic.connections.get().name]
    for name in names:
        print(await _forget(magic, host, name))


async def attach(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> None:
    args = parse_line(_ATTACH, rest)
    if args.variable not in namespace:
        raise UsageError(f"there is no variable named {args.variable!r} to attach")
    session = namespace[args.variable]
    if not isinstance(session, AsyncSession):
        raise UsageError(
            f"{args.variable!r} is a {type(session).__name__}, not a session: attach the result of "
            "`await cassnb.connect(...)` or `await cluster.connect()`"
        )
    if session.is_closed:
        raise UsageError(f"the session in {args.variable!r} is closed")
    name = args.name or args.variable
    if name in magic.connections:
        await _forget(magic, host, name)
    connection = Connection.attached(name, session, args.variable)
    magic.connections.add(connection)
    print(f"attached {connection.describe()}")


async def describe(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> None:
    """The four documented forms are checked here; other ``DESCRIBE`` forms go to the server as written."""
    args = parse_line(_DESCRIBE, rest)
    words = [str(word) for word in args.what]
    kind = words[0].lower() if words else ""
    if not words or (kind in ("keyspaces", "tables") and len(words) != 1):
        raise UsageError(_DESCRIBE_USAGE)
    if kind in ("keyspace", "table"):
        if len(words) != 2:
            raise UsageError(_DESCRIBE_USAGE)
        if not is_qualified_name(words[1]):
            raise UsageError(f"{words[1]!r} is not a keyspace or table name")
        words[0] = kind.upper()
    statement = "DESCRIBE " + " ".join(words)
    session = magic.connections.get(args.conn).session
    result = await host.call(session.execute(statement))
    display(describe_view(result.to_dataframe()))


def _more_target(
    magic: CqlMagic, args: argparse.Namespace, namespace: Mapping[str, object]
) -> tuple[pd.DataFrame, str | None, str | None]:
    """What ``%cql more`` continues: (frame, variable to update, connection it was remembered under)."""
    if args.variable is None:
        connection = magic.connections.get(args.conn)
        remembered = magic.results.get(connection.name)
        if remembered is None:
            raise UsageError(
                f"there is no streamed result on {connection.name} to continue: `%%cql --stream` results and "
                "reads past CqlMagic.stream_threshold can be; or name a DataFrame: %cql more VARIABLE"
            )
        variable = remembered.variable
        if variable is not None and namespace.get(variable) is not remembered.frame:
            variable = None  # the variable now holds something else: leave it alone
        return remembered.frame, variable, connection.name
    if args.variable not in namespace:
        raise UsageError(f"there is no variable named {args.variable!r} to continue")
    frame = namespace[args.variable]
    if not is_resumable(frame):
        raise UsageError(
            f"{args.variable!r} is not a DataFrame that can be continued: use one from `%%cql --stream --out "
            "VAR`, `await cassnb.query_df(...)` or `await cassnb.more(...)`"
        )
    assert isinstance(frame, pd.DataFrame)
    owner = next((name for name, kept in magic.results.items() if kept.frame is frame), None)
    return frame, args.variable, owner


async def more(magic: CqlMagic, host: Host, rest: str, namespace: Mapping[str, object]) -> pd.DataFrame | None:
    """Continue an incomplete streamed result; the updated frame replaces the variable that held it."""
    args = parse_line(_MORE, rest)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be a positive number of rows, got {args.limit}")
    frame, variable, owner = _more_target(magic, args, namespace)
    info = frame_info(frame)
    if info.complete:
        print(f"nothing more to fetch: the result is complete ({plural(info.rows, 'row')})")
        return None
    # The connection that produced it (when known) or the one named; else frames.more finds the session.
    name = args.conn or owner
    session = magic.connections.get(name).session if name is not None else None
    updated, progress = await continue_frame(magic, host, frame, session, max_rows=args.limit, variable=variable)
    if owner is not None:
        magic.results[owner] = Remembered(updated, variable)
    if variable is None:
        progress.retire(f"{len(updated):,} rows fetched")
        return updated  # shown as the cell's result, like `df = %cql SELECT ...`
    assert magic.shell is not None
    magic.shell.user_ns[variable] = updated
    progress.show(RowsView(updated, magic.displaylimit, not frame_info(updated).complete))
    return None


COMMANDS: dict[str, Command] = {
    "connect": connect,
    "connections": connections,
    "use": use,
    "close": close,
    "attach": attach,
    "describe": describe,
    "more": more,
}
