"""Start, stop and inspect one local single-node Cassandra.

Each instance lives in its own directory (``<cache>/local/<port>/``: configuration, data, logs and a pid file),
so a plain server on 9042 and a password-checking one on 9142 can run side by side. ``start`` is idempotent,
and ``stop`` only ever signals the process this instance started (checked against its command line), never
whatever else happens to hold the port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._probe import Handshake, ProbeError, handshake
from ..exceptions import LocalServerError
from ._conf import RingPlace, ServerSettings, java_module_options, jvm_arguments, write_configuration
from ._dist import CASSANDRA_VERSION, cache_dir, ensure_distribution, java_executable

HOST = "127.0.0.1"  # the single node's address, and where every instance's JMX port listens
_DAEMON = "org.apache.cassandra.service.CassandraDaemon"


@dataclass(frozen=True)
class Status:
    """A snapshot of one instance: whether it runs, its process, and what its native port answered."""

    port: int
    pid: int | None
    handshake: Handshake | None
    auth: bool

    @property
    def up(self) -> bool:
        return self.pid is not None and self.handshake is not None


@dataclass(frozen=True)
class Stopped:
    """What ``stop`` did; true when a server was running.

    ``killed`` says the JVM did not exit within the time it was given to drain (flush memtables, close
    files), so it was sent SIGKILL: writes acknowledged since the last commit-log sync may be lost.
    """

    was_running: bool
    killed: bool = False
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.was_running


@dataclass(frozen=True)
class Started:
    """What ``start`` did: whether the server was already up, its version and how long the start took."""

    address: str
    version: str
    seconds: float
    already_running: bool
    auth: bool
    fast: bool = False  # started with --fast (not durable: see cassnb.local._conf)


class LocalServer:
    """One local Cassandra instance, identified by its native port (and, for a node of a ring, its address)."""

    def __init__(
        self, port: int = 9042, *, auth: bool = False, heap: str = "1G", fast: bool = False, home: Path | None = None,
        address: str = HOST, ring: RingPlace | None = None,
    ):  # fmt: skip
        if not (1024 < port - 2042 and port < 65536):
            raise LocalServerError(f"--port {port} is out of range; use a port between 3067 and 65535")
        home = home or cache_dir() / "local" / str(port)
        self.settings = ServerSettings(home, port, auth, heap, fast, address, ring)

    # ----------------------------------------------------------------- inspection
    @property
    def host(self) -> str:
        return self.settings.address

    @property
    def address(self) -> str:
        return f"{self.host}:{self.settings.port}"

    def pid(self) -> int | None:
        """The pid of this instance's JVM if it is alive, else None (a stale pid file is removed)."""
        try:
            pid = int(self.settings.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _is_our_daemon(pid, self.settings):
            return pid
        self.settings.pid_file.unlink(missing_ok=True)
        return None

    def status(self) -> Status:
        pid = self.pid()
        answer: Handshake | None = None
        if pid is not None:
            with contextlib.suppress(OSError, ProbeError):
                answer = handshake(self.host, self.settings.port, timeout=2.0)
        return Status(self.settings.port, pid, answer, self._recorded_auth())

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for log in (self.settings.system_log, self.settings.console_log):
            if log.exists():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {log} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts) or f"(no log files under {self.settings.log_dir})"

    def version(self) -> str:
        """The Cassandra release the running server reports in its log."""
        log = self.settings.system_log
        found = re.findall(r"Cassandra version: (\S+)", log.read_text(errors="replace")) if log.exists() else []
        return found[-1] if found else CASSANDRA_VERSION

    # ----------------------------------------------------------------- lifecycle
    def start(self, *, timeout: float = 180.0, clean: bool = False) -> Started:
        s = self.settings
        if (pid := self.pid()) is not None:
            if self._recorded_auth() != s.auth:
                wanted, running = ("on", "off") if s.auth else ("off", "on")
                raise LocalServerError(
                    f"the local server on port {s.port} is running with authentication {running}, but "
                    f"authentication {wanted} was asked for; stop it first (`cassnb local stop --port {s.port}`)"
                )
            self._wait_ready(pid, time.monotonic() + timeout)
            return Started(self.address, self.version(), 0.0, True, s.auth, self._recorded("fast"))
        java = java_executable()
        dist = ensure_distribution()
        for host, port, what in ((s.address, s.port, "native (CQL)"), (s.address, s.storage_port, "storage"),
                                 (HOST, s.jmx_port, "JMX")):  # fmt: skip
            _require_free(host, port, what, grace=5.0)
        if clean and s.data_dir.exists():
            shutil.rmtree(s.data_dir)
        write_configuration(s)
        s.console_log.write_text("")
        began = time.monotonic()
        with open(s.console_log, "ab") as console:
            process = subprocess.Popen(
                [java, *jvm_arguments(s, dist.jamm_agent), "-cp", f"{s.conf_dir}:{dist.classpath}", _DAEMON],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C in the caller's terminal won't reach it
                cwd=s.home,
            )  # fmt: skip
        s.pid_file.write_text(str(process.pid))
        instance = {"auth": s.auth, "heap": s.heap, "fast": s.fast, "version": dist.version}
        (s.home / "instance.json").write_text(json.dumps(instance))
        try:
            self._wait_ready(process.pid, began + timeout, process)
        except BaseException:
            self._terminate(process.pid, grace=10.0)
            raise
        return Started(self.address, self.version(), time.monotonic() - began, False, s.auth, s.fast)

    def stop(self, *, timeout: float = 60.0) -> Stopped:
        """Stop the server this instance started: SIGTERM, then up to ``timeout`` seconds to drain and exit.

        Only a JVM still running after that gets SIGKILL, and the result says so (``killed``).
        """
        pid = self.pid()
        if pid is None:
            return Stopped(False)
        began = time.monotonic()
        killed = self._terminate(pid, grace=timeout)
        return Stopped(True, killed, time.monotonic() - began)

    def nodetool(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run ``nodetool`` against this instance (e.g. ``disablebinary``) and return its result."""
        dist = ensure_distribution(echo=False)
        cmd = [java_executable(), "-Xmx128m", *java_module_options(), f"-Dlogback.configurationFile=file://{self.settings.conf_dir}/logback.xml",
               f"-Dcassandra.logdir={self.settings.log_dir}", "-cp", dist.classpath,
               "org.apache.cassandra.tools.NodeTool", "-h", HOST, "-p", str(self.settings.jmx_port), *args]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    # ----------------------------------------------------------------- internals
    def _recorded(self, key: str) -> bool:
        """A setting the running instance was started with (``auth``, ``fast``), from its instance file."""
        try:
            return bool(json.loads((self.settings.home / "instance.json").read_text()).get(key, False))
        except (FileNotFoundError, ValueError, AttributeError):
            return False

    def _recorded_auth(self) -> bool:
        return self._recorded("auth")

    def _wait_ready(self, pid: int, deadline: float, process: subprocess.Popen[bytes] | None = None) -> None:
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise LocalServerError(
                    f"Cassandra exited with status {process.returncode} while starting; its log says:\n"
                    + self.log_tail()
                )
            try:
                answer = handshake(self.host, self.settings.port, timeout=2.0)
            except (OSError, ProbeError) as exc:
                last_error = str(exc)
                time.sleep(0.25)
                continue
            if self.settings.auth and answer.authenticate:
                self._wait_for_superuser(deadline)
            return
        raise LocalServerError(
            f"Cassandra (pid {pid}) did not complete a protocol v5 handshake on {self.address} in time "
            f"(last attempt: {last_error}). Retry with a longer --timeout, or read the log:\n" + self.log_tail()
        )

    def _wait_for_superuser(self, deadline: float) -> None:
        """With passwords on, the server is only useful once the default superuser can log in."""
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster, NoHostAvailable

        while True:
            cluster = Cluster([self.host], port=self.settings.port, protocol_version=5,
                              auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))  # fmt: skip
            try:
                cluster.connect().execute("SELECT release_version FROM system.local")
                return
            except NoHostAvailable:
                if time.monotonic() > deadline:
                    raise LocalServerError(
                        f"the server on {self.address} is up but the superuser cassandra/cassandra cannot log "
                        "in yet; if this data directory had its superuser password changed, start with --clean"
                    ) from None
                time.sleep(0.5)
            finally:
                cluster.shutdown()

    def _terminate(self, pid: int, *, grace: float) -> bool:
        """SIGTERM the server's process group and wait ``grace`` seconds; SIGKILL only then. True if killed."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        killed = _alive(pid)
        if killed:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.settings.pid_file.unlink(missing_ok=True)
        return killed


_NOT_RUNNING = ("Z", "X")  # zombie, dead


def _thread_state(pid: int, task: str) -> str | None:
    """The scheduler state letter of one thread, or None if it has exited."""
    try:
        stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    """Whether any thread of process ``pid`` still runs. Never reports a live process as dead.

    A JVM ends its main thread early, so its thread-group leader can be a zombie while the server runs on;
    and threads start and end all the time, so a thread listed a moment ago may be gone when its state is
    read. Only a picture in which every listed thread could be read, and none runs, means the process is
    gone; a picture torn by a thread exiting is taken again.
    """
    with contextlib.suppress(ChildProcessError):
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        if waited == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for _ in range(100):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            return False
        except OSError:
            return True  # no /proc (not Linux): kill(pid, 0) succeeded, so it exists
        states = [_thread_state(pid, task) for task in tasks]
        if any(state is not None and state not in _NOT_RUNNING for state in states):
            return True
        if None not in states:
            return False  # every thread read, none running
    return True  # no untorn picture: when in doubt, alive


def _command_line(pid: int) -> str | None:
    """The process's command line; None where there is no /proc. A zombie leader has none of its own, so the
    other threads (which share it) are asked too; "" when none of them answers."""
    places = [Path(f"/proc/{pid}/cmdline")]
    with contextlib.suppress(OSError):
        places += [Path(f"/proc/{pid}/task/{task}/cmdline") for task in os.listdir(f"/proc/{pid}/task")]
    if not Path("/proc/self").exists():
        return None
    for place in places:
        with contextlib.suppress(OSError):
            if text := place.read_bytes().decode(errors="replace"):
                return text
    return ""


def _is_our_daemon(pid: int, settings: ServerSettings) -> bool:
    if not _alive(pid):
        return False
    cmdline = _command_line(pid)
    if not cmdline:
        return True  # alive, and nothing says otherwise (no /proc, or a process on its way out): trust the pid file
    return _DAEMON in cmdline and str(settings.yaml_path) in cmdline


def _port_free(host: str, port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _require_free(host: str, port: int, what: str, grace: float) -> None:
    """Fail clearly if ``port`` is taken; a server that just exited gets ``grace`` seconds to release it."""
    deadline = time.monotonic() + grace
    while not _port_free(host, port):
        if time.monotonic() > deadline:
            raise LocalServerError(
                f"port {port} ({what}) on {host} is already in use by another program, not by a server cassnb "
                f"started. Stop that program, or start cassnb's server on another port with `--port`, or point "
                f"cassnb at the server already running there (CASSNB_TEST_HOSTS={host}:{port})."
            )
        time.sleep(0.2)
