"""`cassnb local` against the real thing: an instance of its own on port 9242, started and stopped here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable

from tests.conftest import ServerAddress

PORT = 9242


def cassnb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cassnb", "local", *args, "--port", str(PORT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for init to reap it."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return ") Z" not in stat.read_text()
    except FileNotFoundError:
        return False


@pytest.fixture
def lifecycle_port(cassandra_address: ServerAddress) -> object:
    """Runs only where the project's own server runs (CI or a developer's `make test`); stops ours at the end."""
    yield PORT
    cassnb("stop")


def test_start_twice_status_stop_status(lifecycle_port: int) -> None:
    first = cassnb("start", "--heap", "384M", "--clean")
    assert first.returncode == 0, first.stderr
    assert "is up at 127.0.0.1:9242" in first.stdout and "Cassandra 5.0." in first.stdout
    print(first.stdout.strip())

    second = cassnb("start", "--heap", "384M")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout

    up = cassnb("status")
    assert up.returncode == 0 and up.stdout.startswith("up:"), up.stdout
    assert "5/v5" in up.stdout

    pid = int(up.stdout.split("pid ")[1].split(",")[0])
    stopped = cassnb("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not _running(pid), "stop must wait for the JVM to exit"

    down = cassnb("status")
    assert down.returncode == 1 and down.stdout.startswith("down:"), down.stdout
    again = cassnb("stop")
    assert again.returncode == 0 and "no local Cassandra" in again.stdout


def test_start_refuses_a_port_held_by_another_program(lifecycle_port: int) -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", PORT))
    holder.listen()
    try:
        result = cassnb("start")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "port 9242 (native (CQL)) on 127.0.0.1 is already in use by another program" in result.stderr
    assert "--port" in result.stderr


def test_auth_server_refuses_anonymous_and_accepts_the_superuser(auth_cassandra_address: ServerAddress) -> None:
    anonymous = Cluster([auth_cassandra_address.host], port=auth_cassandra_address.port)
    with pytest.raises(NoHostAvailable):
        anonymous.connect()
    anonymous.shutdown()

    cluster = Cluster(
        [auth_cassandra_address.host], port=auth_cassandra_address.port,
        auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
    )  # fmt: skip
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
        assert row[0].startswith("5.0.")
    finally:
        cluster.shutdown()
