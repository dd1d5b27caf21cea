"""``CqlMagic``: the ``%cql`` / ``%%cql`` magics (also ``%cassnb`` / ``%%cassnb``)."""

from __future__ import annotations

import contextlib
import keyword
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class, needs_local_scope, no_var_expand
from traitlets import CaselessStrEnum, Integer, TraitError, Unicode, validate

from .._cqltext import CqlSyntaxError, UnknownVariableError, first_keyword
from .._runner import Runner, get_runner
from ..exceptions import CassnbError, describe_statement
from ..exports import ExportReport, export
from ..exports._atomic import TargetExistsError
from ..frames import frame_info
from ..options import UNSET, Consistency
from ._cells import CellStreamGuard
from ._commands import COMMANDS
from ._connections import Connection, Registry
from ._display import ProgressFollower, views_for, wants_live_preview
from ._ipython import argument, display, line_cell_magics, magic_arguments, parse_argstring
from ._run import Outcome, PageWatch, Planned, RunOptions, build_statement, plan_cell
from ._stream import Remembered, continue_stream, is_resumable, read_statement, run_read

if TYPE_CHECKING:
    from collections.abc import Coroutine

    import pandas as pd

    from ..session import AsyncSession

T = TypeVar("T")

_OUT_PREFIX = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*<<")
_TOKEN = re.compile(r"\s*(\S+)")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


@contextlib.contextmanager
def usage_errors(prefix: str = "") -> Iterator[None]:
    """Turn the user's mistakes and the server's refusals into one clean ``UsageError`` line."""
    try:
        yield
    except (CassnbError, CqlSyntaxError, UnknownVariableError) as exc:
        raise UsageError(prefix + one_line(exc)) from None


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

    displaylimit = Integer(10, help="Rows shown per result (0: all); every fetched row goes to --out.").tag(
        config=True
    )
    fetch_size = Integer(5000, help="Rows per page requested from the server.").tag(config=True)
    autolimit = Integer(
        0, help="Fetch at most this many rows per result unless --limit says otherwise (0: all)."
    ).tag(config=True)
    progress = CaselessStrEnum(
        ["auto", "widget", "text", "static", "off"], default_value="auto",
        help="Progress display for reads of two pages or more (see cassnb.progress); "
             "'widget' (or 'auto' in a notebook) also shows a live preview of streamed reads.",
    ).tag(config=True)  # fmt: skip
    stream_threshold = Integer(
        50_000, help="A SELECT still reading after this many rows continues as a stream, as with --stream "
                     "(0: only with --stream).",
    ).tag(config=True)  # fmt: skip
    default_connection = Unicode("default", help="Name of a connection opened without --name.").tag(
        config=True
    )
    hosts = Unicode(None, allow_none=True, help="Default hosts for %cql connect (HOST[,HOST...]).").tag(
        config=True
    )
    port = Integer(None, allow_none=True, help="Default port for %cql connect.").tag(config=True)
    user = Unicode(None, allow_none=True, help="Default user for %cql connect.").tag(config=True)
    keyspace = Unicode(None, allow_none=True, help="Default keyspace for %cql connect.").tag(config=True)

    def __init__(self, shell: Any = None, runner: Runner | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.connections = Registry()
        self.runner = runner or get_runner()
        #: The latest streamed result of each connection, which ``%cql more`` continues.
        self.results: dict[str, Remembered] = {}
        #: Closes the streams a cell left open (registered by ``load_ipython_extension``).
        self.cell_guard = CellStreamGuard()

    @validate("displaylimit", "autolimit", "stream_threshold")
    def _non_negative(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError(
                f"CqlMagic.{proposal['trait'].name} must be 0 (no limit) or a positive number of rows"
            )
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
    @argument(
        "--serial-consistency", metavar="LEVEL", help="SERIAL or LOCAL_SERIAL, for lightweight transactions"
    )
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
    @argument(
        "--stream", action="store_true", help="stream each SELECT: live preview, interrupt keeps the rows"
    )
    @argument(
        "statement", nargs="*", metavar="CQL", help="line form: the statement(s); the cell form uses the body"
    )
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

        Streaming: ``--stream`` reads each SELECT page by page through :mod:`cassnb.frames`. While pages
        arrive, a live preview shows the first rows and "N rows · P pages so far" (with
        ``CqlMagic.progress`` = widget, or auto in a notebook); when the read ends the preview becomes one
        summary line and the result table is displayed separately, so a saved notebook shows the end state.
        Static, text and off progress never preview (executed notebooks are deterministic with
        ``CASSNB_PROGRESS=static``). A SELECT still reading after ``CqlMagic.stream_threshold`` rows
        (default 50,000; 0: never) continues as a stream by itself, unless it uses ``--keyspace``,
        ``--consistency`` or ``--serial-consistency``. ``--stream`` and ``--tracing`` do not combine.

        Interrupts: interrupting the kernel during a streamed read stops it after the page in flight and
        keeps the rows fetched so far: the table and ``--out`` get them, marked
        ``df.attrs["cassnb"]["complete"] == False``, and a line says how many rows were fetched. A second
        interrupt while that page is awaited (or a page that takes over 30 s) cancels the read and re-raises
        ``KeyboardInterrupt``. Interrupting any other statement cancels it, keeps the connection open and
        re-raises ``KeyboardInterrupt``.

        Resuming: ``%cql more [VAR] [--limit N] [--conn NAME]`` fetches the rest (or N more rows) of the
        connection's latest streamed result, or of the DataFrame in ``VAR``, from its saved paging state
        without reading earlier pages again, and puts the longer frame where the old one was (the ``--out``
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
        namespace: Mapping[str, Any] = ChainMap(
            dict(local_ns or {}), self.shell.user_ns if self.shell else {}
        )
        if cell is None:
            word, _, rest = line.strip().partition(" ")
            command = COMMANDS.get(word.lower())
            if command is not None:
                with usage_errors():
                    return command(self, rest.strip(), namespace)
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
                raise UsageError(
                    f"unexpected text on the %%cql line: {text!r}; the CQL goes in the cell body"
                )
            text = cell
        if args.stream and args.tracing:
            raise UsageError("--stream and --tracing do not go together: a streamed read is not traced")
        if args.export is not None:
            with usage_errors():
                return self._export(args, text, namespace, out=out)
        with usage_errors():
            return self._execute(args, text, namespace, out=out, line_mode=cell is None)

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

    # ------------------------------------------------------------------ running
    def _execute(
        self, args: Any, text: str, namespace: Mapping[str, Any], *, out: str | None, line_mode: bool
    ) -> pd.DataFrame | None:
        connection = self.connections.get(args.conn)
        options = self._options(args)
        planned = plan_cell(text, namespace)
        if not planned:
            raise UsageError("there is no CQL to run (see %cql? for the commands and options)")
        outcome: Outcome | None = None
        for index, item in enumerate(planned, 1):
            prefix = f"statement {index} of {len(planned)}: " if len(planned) > 1 else ""
            with usage_errors(prefix):
                try:
                    outcome = self._run_one(connection, item, options, stream=args.stream)
                except CassnbError as exc:
                    if exc.partial is None:
                        raise
                    raise UsageError(prefix + self._keep_partial(exc, connection, out)) from None
            if outcome.frame is not None and is_resumable(outcome.frame):
                self.results[connection.name] = Remembered(outcome.frame)
            # The line form returns its last table instead of displaying it (IPython shows it as Out[]).
            returned = (
                line_mode and index == len(planned) and outcome.frame is not None and outcome.applied is None
            )
            views = views_for(outcome, self.displaylimit)
            for view in views[1:] if returned else views:
                display(view)
        assert outcome is not None
        if out is not None:
            import pandas as pd

            assert self.shell is not None
            self.shell.user_ns[out] = outcome.frame if outcome.frame is not None else pd.DataFrame()
            remembered = self.results.get(connection.name)
            if remembered is not None and remembered.frame is outcome.frame:
                remembered.variable = out
        return outcome.frame if returned else None

    def _keep_partial(self, exc: CassnbError, connection: Connection, out: str | None) -> str:
        """A read failed part-way: keep its rows where ``%cql more`` finds them; the one-line message."""
        partial = exc.partial
        self.results[connection.name] = Remembered(partial, out)
        if out is not None:
            assert self.shell is not None
            self.shell.user_ns[out] = partial
        rows = frame_info(partial).rows
        where = f"in {out}" if out is not None else "by the connection"
        again = f"%cql more {out}" if out is not None else "%cql more"
        return (
            f"{one_line(exc)} — the {rows:,} rows fetched before the error are kept {where} (incomplete): "
            f"`{again}` continues from there once the server answers again"
        )

    def _export(self, args: Any, text: str, namespace: Mapping[str, Any], *, out: str | None) -> None:
        """``--export PATH``: stream the cell's one SELECT into a file, with the magic's progress display."""
        if out is not None or args.stream or args.tracing or args.limit:
            raise UsageError("--export does not combine with --out, --stream, --tracing or --limit")
        planned = plan_cell(text, namespace)
        if len(planned) != 1 or first_keyword(planned[0].text) != "SELECT":
            raise UsageError("--export needs a cell with exactly one SELECT statement")
        connection = self.connections.get(args.conn)
        options = self._options(args)
        watch = PageWatch()

        async def run() -> ExportReport:
            statement = await build_statement(connection.session, planned[0], options)
            return await export(
                connection.session, statement, args.export, fetch_size=options.fetch_size,
                progress=watch.relay(), overwrite=args.overwrite, timeout=options.timeout,
            )  # fmt: skip

        try:
            report = self._follow(run(), watch, f"exporting to {args.export}")
        except TargetExistsError as exc:
            raise UsageError(
                f"{args.export} already exists; add --overwrite to replace it" if exc.replaceable else str(exc)
            ) from None
        except (OSError, ValueError, TypeError) as exc:  # nothing was left at the target
            raise UsageError(one_line(exc)) from None
        print(f"exported {report}")

    def _stream_after(self, options: RunOptions) -> int | None:
        """The row count past which an ordinary SELECT continues as a stream (see :mod:`._stream`)."""
        carried_by_statement = (options.keyspace, options.consistency, options.serial_consistency)
        if not self.stream_threshold or any(option is not None for option in carried_by_statement):
            return None
        return int(self.stream_threshold)

    def _run_one(
        self, connection: Connection, planned: Planned, options: RunOptions, *, stream: bool
    ) -> Outcome:
        select = first_keyword(planned.text) == "SELECT"
        watch = PageWatch()
        read = read_statement(
            connection.session, planned, options, watch, stream=stream and select,
            stream_after=self._stream_after(options) if select else None,
        )  # fmt: skip
        return self._follow(read, watch, describe_statement(planned.source))

    def continue_frame(
        self, frame: pd.DataFrame, session: AsyncSession | None, *, max_rows: int | None
    ) -> pd.DataFrame:
        """``%cql more``: fetch the rest of an incomplete streamed ``frame`` (at most ``max_rows`` rows)."""
        info = frame_info(frame)
        watch = PageWatch()
        watch.streaming, watch.head = True, frame
        watch.rows, watch.pages = len(frame), info.pages
        read = continue_stream(session, frame, watch, max_rows=max_rows)
        return self._follow(read, watch, describe_statement(info.query))

    def _follow(self, read: Coroutine[Any, Any, T], watch: PageWatch, description: str) -> T:
        """Run a read on the runner while its progress (and, for streams, the live preview) is shown."""
        preview_rows = (self.displaylimit or 10) if wants_live_preview(self.progress) else 0
        follower = ProgressFollower(self.progress, watch, description, preview_rows=preview_rows)
        try:
            result = run_read(self.runner, read, watch, on_wait=follower.tick)
        except KeyboardInterrupt:
            follower.close("interrupted")
            raise
        except BaseException:
            follower.close("failed")
            raise
        follower.close("stopped" if watch.stop_requested else None)
        return result
