"""``CqlMagic``: the ``%cql`` / ``%%cql`` magics (also ``%cassnb`` / ``%%cassnb``)."""

from __future__ import annotations

import keyword
import re
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class, needs_local_scope, no_var_expand
from traitlets import CaselessStrEnum, Integer, TraitError, Unicode, validate

from .._runner import Runner, get_runner
from ..options import UNSET, Consistency
from . import _execute as execute
from ._cells import CellStreamGuard
from ._commands import COMMANDS
from ._connections import Registry
from ._execute import Host, usage_errors
from ._host import LoopHost, RunnerHost, run_blocking
from ._ipython import argument, line_cell_magics, magic_arguments, parse_argstring
from ._run import RunOptions

_OUT_PREFIX = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*<<")
_TOKEN = re.compile(r"\s*(\S+)")


def _consistency(option: str, value: str | None) -> Consistency | None:
    if value is None:
        return None
    try:
        return Consistency.parse(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


@magics_class
class CqlMagic(Magics):
    """Run CQL from notebook cells; configure with ``%config CqlMagic.<option> = value``."""

    displaylimit = Integer(10, help="Rows shown per result (0: all); every fetched row goes to --out.").tag(config=True)
    fetch_size = Integer(5000, help="Rows per page requested from the server.").tag(config=True)
    autolimit = Integer(0, help="Fetch at most this many rows per result unless --limit says otherwise (0: all).").tag(
        config=True
    )
    progress = CaselessStrEnum(
        ["auto", "widget", "text", "static", "off"], default_value="auto",
        help="Progress display for reads of two pages or more (see cassnb.progress); "
             "'widget' (or 'auto' in a notebook) also shows a live preview of streamed reads.",
    ).tag(config=True)  # fmt: skip
    stream_threshold = Integer(
        50_000, help="A SELECT still reading after this many rows continues as a stream, as with --stream "
                     "(0: only with --stream).",
    ).tag(config=True)  # fmt: skip
    default_connection = Unicode("default", help="Name of a connection opened without --name.").tag(config=True)
    hosts = Unicode(None, allow_none=True, help="Default hosts for %cql connect (HOST[,HOST...]).").tag(config=True)
    port = Integer(None, allow_none=True, help="Default port for %cql connect.").tag(config=True)
    user = Unicode(None, allow_none=True, help="Default user for %cql connect.").tag(config=True)
    keyspace = Unicode(None, allow_none=True, help="Default keyspace for %cql connect.").tag(config=True)

    def __init__(self, shell: Any = None, runner: Runner | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.connections = Registry()
        self.runner = runner or get_runner()
        #: The latest read of each connection, which ``%cql more`` continues.
        self.results: dict[str, execute.Remembered] = {}
        #: Closes the streams a cell left open (registered by ``load_ipython_extension``).
        self.cell_guard = CellStreamGuard()

    @validate("displaylimit", "autolimit", "stream_threshold")
    def _non_negative(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError(f"CqlMagic.{proposal['trait'].name} must be 0 (no limit) or a positive number of rows")
        return int(proposal["value"])

    @validate("fetch_size")
    def _positive(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("CqlMagic.fetch_size must be a positive number of rows")
        return int(proposal["value"])

    @no_var_expand
    @needs_local_scope
    @magic_arguments()
    @argument("--conn", "-c", metavar="NAME", help="run on this open connection (default: the current one)")
    @argument("--out", "-o", metavar="VAR", help="store the last result as a pandas DataFrame in VAR")
    @argument("--consistency", metavar="LEVEL", help="consistency level: ONE, QUORUM, LOCAL_QUORUM, ALL, ...")
    @argument("--serial-consistency", metavar="LEVEL", help="SERIAL or LOCAL_SERIAL, for lightweight transactions")
    @argument("--fetch-size", type=int, metavar="ROWS", help="rows per page (default: CqlMagic.fetch_size)")
    @argument("--limit", type=int, metavar="ROWS", help="fetch at most ROWS rows per result (0: all)")
    @argument("--timeout", type=float, metavar="SECONDS", help="client timeout of each request to the server")
    @argument("--tracing", action="store_true", help="trace each statement and show the server's trace")
    @argument("--keyspace", "-k", metavar="KS", help="run in keyspace KS without changing the connection's")
    @argument(
        "--export", metavar="PATH",
        help="stream the cell's SELECT into PATH (.csv, .csv.gz, .parquet, .jsonl, .jsonl.gz), atomically",
    )  # fmt: skip
    @argument("--overwrite", action="store_true", help="with --export: replace an existing file")
    @argument("--stream", action="store_true", help="stream each SELECT: live preview, interrupt keeps the rows")
    @argument("statement", nargs="*", metavar="CQL", help="line form: the statement(s); the cell form uses the body")
    @line_cell_magics("cql", "cassnb")
    def cql(self, line: str, cell: str | None = None, local_ns: Mapping[str, Any] | None = None) -> Any:
        """Run CQL on Apache Cassandra and show every statement's result (alias: ``%cassnb`` / ``%%cassnb``).

        Cell form (one or more statements separated by ``;``)::

            %%cql [VAR <<] [options]
            INSERT INTO pets (name, age) VALUES (:name, :age);
            SELECT * FROM pets

        Line form: ``%cql [options] STATEMENT``; ``df = %cql SELECT ...`` returns the last result as a
        pandas DataFrame.

        Each SELECT shows as a table of the first ``CqlMagic.displaylimit`` rows with a footer ("3 rows",
        "first 10 of 25 rows shown", "first 10 rows shown — more on the server"); DDL and DML show one line,
        with ``[applied]`` for lightweight transactions. ``--out VAR`` or ``VAR <<`` stores the last result
        (every fetched row) as a DataFrame.

        Parameters: ``:name`` binds the notebook variable ``name`` as a real bound parameter of a prepared
        statement, never by pasting text into the CQL. ``:name`` inside string literals, ``::`` and map
        literals such as ``{'a': 1}`` are left alone, and ``{...}`` or ``$...`` are never expanded by IPython.

        Reads: every SELECT is read page by page through :mod:`cassnb.frames`. From its second page on a
        read shows a progress bar with a Stop button (``CqlMagic.progress``: widget, or auto in a notebook;
        text in a terminal); when it ends the bar is replaced, in place, by a one-line summary ("30,000 rows ·
        61 pages · ... · done"), so a saved notebook shows the end state. ``--stream``, or a read still going
        after ``CqlMagic.stream_threshold`` rows (default 50,000; 0: never), also shows a live preview of
        the first rows under the bar, which the result table replaces at the end. Static, text and off
        progress never preview (executed notebooks are deterministic with ``CASSNB_PROGRESS=static``).
        ``--stream`` and ``--tracing`` do not combine.

        Stopping: Stop (or the kernel's interrupt) ends a read after the page in flight and keeps the rows
        fetched so far: the table and ``--out`` get them, marked ``df.attrs["cassnb"]["complete"] == False``,
        and the summary says how to continue (``%cql more VAR``). A read that fails part-way keeps its rows
        the same way and says so in its one-line error. A top-level ``%%cql`` cell (or a cell of one ``%cql``
        line) is awaited on the kernel's loop, so the kernel hears the Stop button while it reads; a magic
        run elsewhere (inside a function, with ``%autoawait off``) blocks the kernel, and its bar says to
        interrupt instead. A second interrupt while the page is awaited (or a page that takes over 30 s)
        cancels the read and re-raises ``KeyboardInterrupt``. Interrupting any other statement cancels it
        and keeps the connection open.

        Resuming: ``%cql more [VAR] [--limit N] [--conn NAME]`` fetches the rest (or N more rows) of the
        connection's latest result, or of the DataFrame in ``VAR``, from its saved paging state without
        reading earlier pages again, and puts the longer frame where the old one was (the ``--out``
        variable, ``VAR``, or the cell's result). ``await cassnb.more(df)`` does the same in an ``await``
        cell. On a complete result it prints one line saying there is nothing more.

        Cell-end clean-up: once the extension is loaded, a stream a cell opened and did not close (for
        example ``s = await session.execute_stream(...)`` without ``async with``) is closed when the cell
        finishes, whether it succeeded, failed or was interrupted (IPython's ``post_run_cell`` event), and a
        warning line on stderr names it: ``cassnb: closed a stream left open by this cell: SELECT ...``.

        Commands (line form)::

            %cql connect [HOSTS] [--port P] [--keyspace KS] [--user U] [--password-env VAR] [--name N]
            %cql connections                  list connections (passwords masked)
            %cql use KS [--conn N]            switch a connection's keyspace
            %cql close [NAME] [--all]         close a connection (an attached one is only forgotten)
            %cql attach VARIABLE [--name N]   use a session opened with `session = await cassnb.connect(...)`
            %cql describe keyspaces | tables | keyspace KS | table [KS.]T   [--conn N]
            %cql more [VAR] [--limit N] [--conn N]   continue an incomplete streamed result

        ``connect`` takes no password on the command line: it reads ``--password-env VAR``, then the
        connection file (``~/.cassnb/connections.ini`` or ``$CASSNB_CONNECTIONS_FILE``, one section per
        name), then ``CASSNB_PASSWORD``, else prompts. Missing settings come from the file's section, then
        ``%config CqlMagic.hosts/port/user/keyspace``, then ``CASSNB_HOSTS`` / ``CASSNB_USER``. Connecting
        again under the same name replaces the connection.

        Configuration: ``%config CqlMagic.displaylimit = 20`` (also ``fetch_size``, ``autolimit``,
        ``stream_threshold``, ``progress`` = auto|widget|text|static|off, ``default_connection``).

        Errors in the CQL, unknown variables, bad options and the server's refusals show as one line; the
        connection stays usable.
        """
        host = RunnerHost(self.runner)
        return run_blocking(self._dispatch(host, line, cell, local_ns), host)

    async def cql_async(self, line: str, cell: str | None = None, local_ns: Mapping[str, Any] | None = None) -> Any:
        """``%%cql`` awaited on the kernel's loop: what a top-level ``%%cql`` cell runs (see ``_transform``)."""
        return await self._dispatch(LoopHost(), line, cell, local_ns)

    async def _dispatch(self, host: Host, line: str, cell: str | None, local_ns: Mapping[str, Any] | None) -> Any:
        namespace: Mapping[str, Any] = ChainMap(dict(local_ns or {}), self.shell.user_ns if self.shell else {})
        if cell is None:
            word, _, rest = line.strip().partition(" ")
            command = COMMANDS.get(word.lower())
            if command is not None:
                with usage_errors():
                    return await command(self, host, rest.strip(), namespace)
        with usage_errors():
            request = self._parse(line, cell, namespace)
            return await execute.run(self, host, request)

    def _parse(self, line: str, cell: str | None, namespace: Mapping[str, Any]) -> execute.Cell:
        """The ``%%cql`` line and body as a :class:`~cassnb.magics._execute.Cell` (mistakes: ``UsageError``)."""
        out, option_text, text = self._split_line(line)
        try:
            args = parse_argstring(self.cql, option_text)
        except ValueError as exc:  # shlex: an unbalanced quote in the options
            raise UsageError(f"cannot read the options {option_text!r}: {exc}") from None
        if out is not None and args.out is not None:
            raise UsageError(f"give the output variable once: either `{out} <<` or --out {args.out}")
        out = out or args.out
        if out is not None and (not out.isidentifier() or keyword.iskeyword(out)):
            raise UsageError(f"--out needs a Python variable name, got {out!r}")
        if cell is not None:
            if text:
                raise UsageError(f"unexpected text on the %%cql line: {text!r}; the CQL goes in the cell body")
            text = cell
        if args.stream and args.tracing:
            raise UsageError("--stream and --tracing do not go together: a streamed read is not traced")
        if args.export is not None and (out is not None or args.stream or args.tracing or args.limit):
            raise UsageError("--export does not combine with --out, --stream, --tracing or --limit")
        return execute.Cell(
            text, namespace, self.connections.get(args.conn), self._options(args), out=out, line_mode=cell is None,
            stream=args.stream, export=args.export, overwrite=args.overwrite,
        )  # fmt: skip

    # ------------------------------------------------------------------ parsing
    def _split_line(self, line: str) -> tuple[str | None, str, str]:
        """``[VAR <<] [options] [CQL]`` -> (VAR, option text, CQL). The CQL part is kept verbatim."""
        actions = getattr(self.cql, "parser")._option_string_actions  # noqa: B009 (set by @magic_arguments)
        out = None
        position = 0
        if (match := _OUT_PREFIX.match(line)) is not None:
            out, position = match.group(1), match.end()
        start = position
        while (match := _TOKEN.match(line, position)) is not None and match.group(1).startswith("-"):
            name, has_value, _ = match.group(1).partition("=")
            if name not in actions:
                raise UsageError(f"unknown option {name} (see %cql? for the options)")
            position = match.end()
            if actions[name].nargs != 0 and not has_value:
                value = _TOKEN.match(line, position)
                if value is None:
                    raise UsageError(f"option {name} needs a value")
                position = value.end()
        return out, line[start:position].strip(), line[position:].strip()

    def _options(self, args: Any) -> RunOptions:
        limit = args.limit if args.limit is not None else self.autolimit
        return RunOptions(
            consistency=_consistency("--consistency", args.consistency),
            serial_consistency=_consistency("--serial-consistency", args.serial_consistency),
            fetch_size=args.fetch_size if args.fetch_size is not None else self.fetch_size,
            limit=limit or None,
            timeout=UNSET if args.timeout is None else args.timeout,
            tracing=args.tracing,
            keyspace=args.keyspace,
        )
