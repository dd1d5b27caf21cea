"""``cassnb export``, ``cassnb export-table`` and ``cassnb load``: files to and from a cluster.

Connection settings come from options, else from the environment: ``CASSNB_HOSTS`` (``h1,h2`` or
``host:port``), ``CASSNB_USER`` and the password in ``CASSNB_PASSWORD``. The password is only ever read from
an environment variable (``--password-env`` names another one), so it never appears in a command line, a
shell history or a process listing, and cassnb never prints it.

Exit codes: 0 done; 1 an error (one line ``cassnb: error: ...`` on stderr; an export leaves nothing at its
target), or a load in which some rows failed (they are listed on stderr); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ._atomic import TargetExistsError
from ._secret import Secret
from .exceptions import CassnbError
from .progress import ProgressSpec

Work = Callable[[Any, dict[str, Any]], Awaitable[Any]]

_SHOWN_FAILURES = 10


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--hosts",
        default=os.environ.get("CASSNB_HOSTS") or "127.0.0.1",
        help="h1,h2 or host:port (default: $CASSNB_HOSTS or 127.0.0.1)",
    )
    group.add_argument("--port", type=int, default=9042, help="native (CQL) port (9042)")
    group.add_argument("--keyspace", help="keyspace of the session, for unqualified table names")
    group.add_argument(
        "--user",
        default=os.environ.get("CASSNB_USER") or None,
        help="user name (default: $CASSNB_USER); the password comes from --password-env",
    )
    group.add_argument(
        "--password-env",
        default="CASSNB_PASSWORD",
        metavar="VAR",
        help="environment variable holding the password (CASSNB_PASSWORD)",
    )


def _file_options(parser: argparse.ArgumentParser, *, writing: bool) -> None:
    parser.add_argument("--format", help="csv, csv.gz, parquet, jsonl or jsonl.gz (default: from the suffix)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="format option, e.g. null=NULL, delimiter=';'"
        + (", row_group_size=50000, compression=snappy" if writing else ""),
    )
    if writing:
        parser.add_argument("--fetch-size", type=int, default=5000, help="rows per page (5000)")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing target")


def add_data_commands(commands: Any) -> None:
    """Add ``export``, ``export-table`` and ``load`` to the ``cassnb`` subcommands."""
    export = commands.add_parser("export", help="write a query's rows to a CSV, Parquet or JSON Lines file")
    export.add_argument("query", help='the CQL query, e.g. "SELECT * FROM ks.events WHERE day = 5"')
    export.add_argument("path", help="the file to write (atomically: nothing is left there on failure)")
    _file_options(export, writing=True)
    _connection_options(export)
    export.set_defaults(handler=_export)

    table = commands.add_parser("export-table", help="export a whole table, token ranges read in parallel")
    table.add_argument("table", help="ks.table")
    table.add_argument("path", help="a file, or a directory (existing, or ending in /): a file per range")
    table.add_argument("--parallelism", type=int, default=4, help="token ranges read at once (4)")
    _file_options(table, writing=True)
    _connection_options(table)
    table.set_defaults(handler=_export_table)

    load = commands.add_parser("load", help="insert a CSV, Parquet or JSON Lines file's rows into a table")
    load.add_argument("table", help="ks.table")
    load.add_argument("source", help="a .csv, .csv.gz, .parquet, .jsonl or .jsonl.gz file, a column per field")
    load.add_argument("--concurrency", type=int, default=64, help="inserts in flight (64)")
    load.add_argument("--batch-rows", type=int, default=5000, help="rows read at a time (5000)")
    load.add_argument(
        "--start-row", type=int, default=0, metavar="N",
        help="skip the source's rows before row N (0-based; a load that stopped says which N to use)",
    )  # fmt: skip
    load.add_argument(
        "--rejects", metavar="PATH", help="write every row not acknowledged (row, status, reason, source) to PATH"
    )
    load.add_argument(
        "--retry-for", type=float, default=60.0, metavar="SECONDS",
        help="how long an insert without an answer is sent again (60)",
    )  # fmt: skip
    load.add_argument(
        "--consistency", metavar="LEVEL", help="the level each insert is acknowledged at (default LOCAL_ONE)"
    )
    _file_options(load, writing=False)
    _connection_options(load)
    load.set_defaults(handler=_load)


def _format_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` options; values of integer options (``row_group_size``) become ints."""
    from .formats import CsvOptions, ParquetOptions

    integers = {
        field.name
        for cls in (CsvOptions, ParquetOptions)
        for field in dataclasses.fields(cls)
        if field.type in ("int", int)
    }
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option takes key=value, got {pair!r}")
        try:
            options[key] = int(value) if key in integers else value
        except ValueError:
            raise ValueError(f"--option {key} takes an integer, got {value!r}") from None
    return options


def _export(args: argparse.Namespace) -> int:
    from .exports import export

    async def work(session: Any, options: dict[str, Any]) -> Any:
        return await export(
            session,
            args.query,
            args.path,
            format=args.format,
            fetch_size=args.fetch_size,
            progress=_progress(),
            overwrite=args.overwrite,
            **options,
        )

    return _run(args, work)


def _export_table(args: argparse.Namespace) -> int:
    from .exports import export_table

    async def work(session: Any, options: dict[str, Any]) -> Any:
        return await export_table(
            session,
            args.table,
            args.path,
            parallelism=args.parallelism,
            format=args.format,
            fetch_size=args.fetch_size,
            progress=_progress(),
            overwrite=args.overwrite,
            **options,
        )

    return _run(args, work)


def _load(args: argparse.Namespace) -> int:
    from .loading import LoadReport, load

    status = 0

    async def work(session: Any, options: dict[str, Any]) -> LoadReport:
        nonlocal status
        report = await load(
            session,
            args.table,
            args.source,
            concurrency=args.concurrency,
            format=args.format,
            progress=_progress(),
            batch_rows=args.batch_rows,
            start_row=args.start_row,
            rejects=args.rejects,
            retry_for=args.retry_for,
            consistency=args.consistency,
            **options,
        )
        for row, reason in report.failures[:_SHOWN_FAILURES]:
            print(f"cassnb: row {row}: {_one_line(reason)}", file=sys.stderr)
        not_written = report.rows_failed + report.rows_unknown
        if not_written:
            more = not_written - min(len(report.failures), _SHOWN_FAILURES)
            notes = []
            if more:
                notes.append(f"{more:,} not listed here")
            if report.rejects:
                notes.append(f"all are in {report.rejects}")
            details = f" ({'; '.join(notes)})" if notes else ""
            counts = f"{report.rows_failed:,} rows failed" + (
                f", {report.rows_unknown:,} unknown (may or may not be written)" if report.rows_unknown else ""
            )
            print(f"cassnb: error: {counts}{details}", file=sys.stderr)
            status = 1
        return report

    return _run(args, work) or status


def _progress() -> ProgressSpec:
    """A live status line on a terminal; nothing in pipes and logs (the report line says it all)."""
    return "text" if sys.stderr.isatty() else False


def _password(args: argparse.Namespace) -> Secret | None:
    if not args.user:
        return None
    password = Secret.from_env(args.password_env)
    if password is None:
        raise ValueError(
            f"--user {args.user} needs a password: set ${args.password_env} (or name another "
            "environment variable with --password-env)"
        )
    return password


def _run(args: argparse.Namespace, work: Work) -> int:
    """Connect, run ``work(session, format_options)``, print its report; errors: one line, status 1."""
    from . import connect

    async def main() -> None:
        options = _format_options(args.option)
        password = _password(args)
        session = await connect(
            args.hosts, port=args.port, keyspace=args.keyspace, username=args.user, password=password
        )
        async with session:
            try:
                report = await work(session, options)
            except asyncio.CancelledError as exc:  # Ctrl-C: say what was done (a load's rows written)
                for note in getattr(exc, "__notes__", []):
                    print(f"cassnb: {note}", file=sys.stderr)
                raise
        print(report)

    try:
        asyncio.run(main())
    except TargetExistsError as exc:
        message = f"{exc.path} already exists; add --overwrite to replace it" if exc.replaceable else str(exc)
        print(f"cassnb: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except (CassnbError, OSError, ValueError, TypeError, ImportError) as exc:
        message = "; ".join([str(exc) or type(exc).__name__, *getattr(exc, "__notes__", [])])
        print(f"cassnb: error: {_one_line(message)}", file=sys.stderr)
        return 1
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())
