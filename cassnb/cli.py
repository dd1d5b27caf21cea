"""The ``cassnb`` command line: ``cassnb local start|stop|status|logs|nodetool`` (one node, or a local ring with
``--nodes N`` / ``--node K``), and (from ``_cli_data``) ``cassnb export``, ``export-table`` and ``load``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence

from ._cli_data import add_data_commands
from .exceptions import CassnbError


def _server(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .local import LocalServer

    options = {name: getattr(args, name) for name in ("auth", "heap", "fast") if hasattr(args, name)}
    return LocalServer(args.port, **options)


def _ring(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The local ring when ``--nodes`` or ``--node`` was given, else None (the single-node server)."""
    if args.nodes is None and args.node is None:
        return None
    from .local import LocalRing

    options = {name: getattr(args, name) for name in ("heap", "fast") if hasattr(args, name)}
    if getattr(args, "heap", None) is None:
        options.pop("heap", None)
    return LocalRing(args.nodes, **options)


def _ring_start(ring, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    if args.auth or args.clean:
        raise CassnbError("--auth and --clean are for the single-node server, not for a local ring")
    started = ring.start(args.node, timeout=args.timeout)
    which = f"node {args.node} of the local ring" if args.node else f"the local ring of {ring.size} nodes"
    state = "was already running" if started.already_running else f"is up; started in {started.seconds:.1f}s"
    print(f"{which} {state}: contact points {','.join(ring.hosts)}\n{started.ring.rstrip()}")
    return 0


def _local_start(args: argparse.Namespace) -> int:
    if (ring := _ring(args)) is not None:
        return _ring_start(ring, args)
    if args.heap is None:
        args.heap = "1G"
    started = _server(args).start(timeout=args.timeout, clean=args.clean)
    auth = " (authentication on: cassandra/cassandra)" if started.auth else ""
    if started.fast:
        auth += " [--fast: a test server, not durable]"
    if started.already_running:
        print(f"Cassandra {started.version} is already running at {started.address}{auth}")
    else:
        print(f"Cassandra {started.version} is up at {started.address}{auth}; started in {started.seconds:.1f}s")
    return 0


def _local_stop(args: argparse.Namespace) -> int:
    if (ring := _ring(args)) is not None:
        outcomes = ring.stop(args.node, timeout=args.timeout)
        which = f"node {args.node} of the local ring" if args.node else f"the local ring of {ring.size} nodes"
        if not any(outcomes):
            print(f"{which}: not running")
        elif any(outcome.killed for outcome in outcomes):
            print(
                f"{which} was killed (SIGKILL) after {args.timeout:g}s; give it longer with --timeout", file=sys.stderr
            )
            return 1
        else:
            print(f"stopped {which} ({sum(outcome.seconds for outcome in outcomes):.1f}s)")
        return 0
    stopped = _server(args).stop(timeout=args.timeout)
    if not stopped:
        print(f"no local Cassandra started by cassnb is running on port {args.port}")
    elif stopped.killed:
        print(
            f"the local Cassandra on port {args.port} did not finish shutting down within {args.timeout:g}s and "
            "was killed (SIGKILL): writes since its last commit-log sync may be lost; give it longer with --timeout",
            file=sys.stderr,
        )
        return 1
    else:
        print(f"stopped the local Cassandra on port {args.port} ({stopped.seconds:.1f}s)")
    return 0


def _local_status(args: argparse.Namespace) -> int:
    if (ring := _ring(args)) is not None:
        nodes = [args.node] if args.node else range(1, ring.size + 1)
        states = {k: ring.node(k).status() for k in nodes}
        for k, state in states.items():
            print(f"node {k} {ring.node(k).address}: " + (f"up, pid {state.pid}" if state.up else "down"))
        return 0 if all(state.up for state in states.values()) else 1
    status = _server(args).status()
    if status.up:
        assert status.handshake is not None
        versions = ", ".join(status.handshake.protocol_versions)
        auth = "on" if status.handshake.authenticate else "off"
        print(f"up: pid {status.pid}, 127.0.0.1:{status.port}, protocols {versions}, authentication {auth}")
        return 0
    if status.pid is not None:
        print(f"starting or unresponsive: pid {status.pid} does not answer on port {status.port} yet")
    else:
        print(f"down: no local Cassandra on port {status.port}")
    return 1


def _local_logs(args: argparse.Namespace) -> int:
    if (ring := _ring(args)) is not None:
        for k in [args.node] if args.node else range(1, ring.size + 1):
            print(f"=== node {k} ({ring.node(k).address})\n{ring.node(k).log_tail(args.lines)}")
        return 0
    print(_server(args).log_tail(args.lines))
    return 0


def _local_nodetool(args: argparse.Namespace) -> int:
    if (ring := _ring(args)) is not None:
        sys.stdout.write(ring.nodetool(args.args, args.node))
        return 0
    result: subprocess.CompletedProcess[str] = _server(args).nodetool(args.args)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cassnb", description="cassnb: Apache Cassandra for notebooks")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="manage a local Cassandra (one node, or a ring) for development")
    actions = local.add_subparsers(dest="action", required=True)

    def action(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help)
        sub.add_argument("--port", type=int, default=9042, help="native (CQL) port of the instance (9042)")
        sub.add_argument("--nodes", type=int, help="a local ring of N nodes on 127.0.0.11, .12, ... instead")
        sub.add_argument("--node", type=int, help="only node K of the local ring (e.g. stop and restart one)")
        sub.set_defaults(handler=handler)
        return sub

    start = action("start", _local_start, "start the server (idempotent) and wait until it answers")
    start.add_argument("--auth", action="store_true", help="require passwords (superuser cassandra/cassandra)")
    start.add_argument("--heap", help="JVM heap, e.g. 512M or 1G (1G; 512M per node of a ring)")
    start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for readiness (180)")
    start.add_argument("--clean", action="store_true", help="wipe the instance's data before starting")
    start.add_argument(
        "--fast", action="store_true",
        help="for throw-away test servers only: sync the commit log every 10 s instead of before each "
             "acknowledgement, skip syncing system tables, snapshots before DROP and TRUNCATE, and costly password "
             "hashing. A crash can then lose acknowledged writes, undo schema changes and truncations, and lose "
             "the data of tables whose schema was lost. Without it every acknowledged write survives a crash",
    )  # fmt: skip
    stop = action("stop", _local_stop, "stop the server cassnb started on this port")
    stop.add_argument(
        "--timeout", type=float, default=60.0,
        help="seconds the server gets to drain and exit before it is killed (60); a kill is reported",
    )  # fmt: skip
    action("status", _local_status, "exit 0 if the server is up, 1 if it is down")
    logs = action("logs", _local_logs, "print the tail of the server's logs")
    logs.add_argument("-n", "--lines", type=int, default=50)
    nodetool = action("nodetool", _local_nodetool, "run nodetool against the server, e.g. disablebinary")
    nodetool.add_argument("args", nargs=argparse.REMAINDER)
    add_data_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CassnbError as exc:
        print(f"cassnb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cassnb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
