"""`cassnb local` must never lose a user's data: exact liveness, a full drain before any kill, durable defaults.

The liveness and stop tests use a stand-in for the JVM: a process whose main thread has exited (as the JVM's
does, leaving a zombie thread-group leader) while other threads start and end all the time, and which on
SIGTERM "drains" for a while before it exits. That is the shape that made the old liveness check read a live
server as dead. The durability tests crash the fault server (SIGKILL) for real.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cassnb import AsyncCluster
from cassnb.local import LocalServer
from cassnb.local._conf import cassandra_yaml, jvm_arguments
from cassnb.local._server import _DAEMON, _alive
from tests.conftest import ServerAddress

FAKE_JVM = """
import ctypes, os, signal, sys, threading, time
drained, drain_seconds = sys.argv[1], float(sys.argv[2])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
def churn():
    while True:
        thread = threading.Thread(target=time.sleep, args=(0.0005,))
        thread.start()
        thread.join()
def drain():
    signal.sigwait({signal.SIGTERM})
    time.sleep(drain_seconds)
    open(drained, "w").write("drained")
    os._exit(0)
for _ in range(3):
    threading.Thread(target=churn, daemon=True).start()
threading.Thread(target=drain).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)  # the main thread ends; the process lives on, as a JVM's does
"""


class FakeJvm:
    def __init__(self, home: Path, drain_seconds: float) -> None:
        self.server = LocalServer(9642, home=home)
        self.drained = home / "drained"
        settings = self.server.settings
        settings.conf_dir.mkdir(parents=True)
        # Its command line names the daemon class and the instance's yaml, which is how stop() recognises it.
        self.process = subprocess.Popen(
            [sys.executable, "-c", FAKE_JVM, str(self.drained), str(drain_seconds), _DAEMON, str(settings.yaml_path)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while self.leader_state() != "Z":  # wait until its main thread has ended
            assert time.monotonic() < deadline, self.leader_state()
            time.sleep(0.01)
        settings.pid_file.write_text(str(self.process.pid))

    def leader_state(self) -> str:
        return Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def fake_jvm(tmp_path: Path) -> Iterator[FakeJvm]:
    jvm = FakeJvm(tmp_path, drain_seconds=2.0)
    yield jvm
    jvm.kill()


def test_a_live_jvm_is_never_read_as_dead(fake_jvm: FakeJvm) -> None:
    pid = fake_jvm.process.pid
    assert fake_jvm.leader_state() == "Z"  # the thread-group leader is a zombie, the process runs on
    misread = sum(not _alive(pid) for _ in range(20_000))
    assert misread == 0, f"{misread} of 20,000 checks called a live process dead"
    assert fake_jvm.server.pid() == pid


def test_stop_gives_the_server_its_drain_and_kills_nothing(fake_jvm: FakeJvm) -> None:
    stopped = fake_jvm.server.stop(timeout=60)
    assert stopped.was_running and not stopped.killed
    assert fake_jvm.drained.read_text() == "drained", "stop() must wait for the drain, not SIGKILL the server"
    assert not _alive(fake_jvm.process.pid) and fake_jvm.server.pid() is None


def test_a_server_that_does_not_drain_in_time_is_killed_and_the_cli_says_so(tmp_path: Path) -> None:
    home = tmp_path / "local" / "9642"
    jvm = FakeJvm(home, drain_seconds=600)
    try:
        env = {**os.environ, "CASSNB_CACHE_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "cassnb", "local", "stop", "--port", "9642", "--timeout", "1"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        assert "was killed (SIGKILL)" in result.stderr and "--timeout" in result.stderr
        assert not jvm.drained.exists() and jvm.process.wait(timeout=10) == -signal.SIGKILL
    finally:
        jvm.kill()


def test_the_default_server_is_durable_and_fast_is_explicit(tmp_path: Path) -> None:
    from cassnb.local._conf import ServerSettings

    durable = ServerSettings(tmp_path)
    assert "auto_snapshot: true" in cassandra_yaml(durable)
    assert not any("unsafesystem" in arg or "bcrypt" in arg for arg in jvm_arguments(durable, None))
    fast = ServerSettings(tmp_path, fast=True)
    assert "-Dcassandra.unsafesystem=true" in jvm_arguments(fast, None) and "auto_snapshot: false" in cassandra_yaml(fast)
    usage = subprocess.run([sys.executable, "-m", "cassnb", "local", "start", "--help"], capture_output=True, text=True)
    text = " ".join(usage.stdout.split())
    assert "--fast" in text and "throw-away test servers only" in text
    assert "Without it every acknowledged write survives a crash" in text
    assert "commitlog_sync: batch" in cassandra_yaml(durable) and "commitlog_sync: periodic" in cassandra_yaml(fast)


# --- a real crash of the fault server --------------------------------------------------------------------


def test_truncate_and_new_tables_survive_a_crash(fault_server: LocalServer, fault_address: ServerAddress) -> None:
    async def before_crash() -> str:
        async with AsyncCluster([fault_address.host], port=fault_address.port) as cluster:
            session = await cluster.connect()
            await session.execute(
                "CREATE KEYSPACE IF NOT EXISTS durable WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
            await session.execute("DROP TABLE IF EXISTS durable.truncated")
            await session.execute("CREATE TABLE durable.truncated (k int PRIMARY KEY)")
            insert = await session.prepare("INSERT INTO durable.truncated (k) VALUES (?)")
            await asyncio.gather(*(session.execute(insert, [k]) for k in range(500)))
            await session.execute("TRUNCATE durable.truncated")
            await asyncio.gather(*(session.execute(insert, [k]) for k in range(7)))
            table = f"fresh_{int(time.time() * 1000)}"
            await session.execute(f"CREATE TABLE durable.{table} (k int PRIMARY KEY, v text)")
            fresh = await session.prepare(f"INSERT INTO durable.{table} (k, v) VALUES (?, ?)")
            await asyncio.gather(*(session.execute(fresh, [k, "x"]) for k in range(300)))
            return table

    table = asyncio.run(before_crash())
    pid = fault_server.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # a crash: no drain, no flush
    while _alive(pid):
        time.sleep(0.05)
    fault_server.start(timeout=240)

    async def after_restart() -> tuple[int, int]:
        async with AsyncCluster([fault_address.host], port=fault_address.port) as cluster:
            session = await cluster.connect()
            truncated = (await session.execute("SELECT count(*) FROM durable.truncated")).one()[0]
            fresh = (await session.execute(f"SELECT count(*) FROM durable.{table}")).one()[0]
            await session.execute(f"DROP TABLE durable.{table}")
            return truncated, fresh

    assert asyncio.run(after_restart()) == (7, 300)
