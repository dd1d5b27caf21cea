"""``CqlMagic``: the ``%cql`` / ``%%cql`` magics (also ``%cassnb`` / ``%%cassnb``)."""

from __future__ import annotations

import contextlib
import keyword
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class, needs_local_scope, no_var_expand
from traitlets import CaselessStrEnum, Integer, TraitError, Unicode, validate

from .._runner import Runner, get_runner
from ..exceptions import CassnbError, describe_statement
from ..options import UNSET, Consistency
from ._commands import COMMANDS
from ._connections import Connection, Registry
from ._cqltext import CqlSyntaxError, UnknownVariableError
from ._display import ProgressFollower, views_for
from ._ipython import argument, display, line_cell_magics, magic_arguments, parse_argstring
from ._run import Outcome, PageWatch, Planned, RunOptions, plan_cell, run_statement

if TYPE_CHECKING:
    import pandas as pd

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
        help="Progress display for reads of two pages or more (see cassnb.progress).",
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

    @validate("displaylimit", "autolimit")
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

        Commands (line form)::

            %cql connect [HOSTS] [--port P] [--keyspace KS] [--user U] [--password-env VAR] [--name N]
            %cql connections                  list connections (passwords masked)
            %cql use KS [--conn N]            switch a connection's keyspace
            %cql close [NAME] [--all]         close a connection (an attached one is only forgotten)
            %cql attach VARIABLE [--name N]   use a session opened with `session = await cassnb.connect(...)`
            %cql describe keyspaces | tables | keyspace KS | table [KS.]T   [--conn N]

        ``connect`` takes no password on the command line: it reads ``--password-env VAR``, then the
        connection file (``~/.cassnb/connections.ini`` or ``$CASSNB_CONNECTIONS_FILE``, one section per
        name), then ``CASSNB_PASSWORD``, else prompts. Missing settings come from the file's section, then
        ``%config CqlMagic.hosts/port/user/keyspace``, then ``CASSNB_HOSTS`` / ``CASSNB_USER``. Connecting
        again under the same name replaces the connection.

        Configuration: ``%config CqlMagic.displaylimit = 20`` (also ``fetch_size``, ``autolimit``,
        ``progress`` = auto|widget|text|static|off, ``default_connection``).

        Errors in the CQL, unknown variables, bad options and the server's refusals show as one line; the
        connection stays usable. Interrupting the kernel cancels the running statement, keeps the
        connection open and re-raises ``KeyboardInterrupt``.
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
        args = parse_argstring(self.cql, option_text)
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
                outcome = self._run_one(connection, item, options)
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
        return outcome.frame if returned else None

    def _run_one(self, connection: Connection, planned: Planned, options: RunOptions) -> Outcome:
        watch = PageWatch()
        follower = ProgressFollower(self.progress, watch, describe_statement(planned.source))
        try:
            outcome = self.runner.run(
                run_statement(connection.session, planned, options, watch), on_wait=follower.tick
            )
        except KeyboardInterrupt:
            follower.close("interrupted")
            raise
        except BaseException:
            follower.close("failed")
            raise
        follower.close()
        return outcome
