"""The configuration `cassnb local` writes, and its checks of the machine (no server needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cassnb.exceptions import LocalServerError
from cassnb.local import _dist
from cassnb.local._conf import ServerSettings, cassandra_yaml, jvm_arguments
from cassnb.local._server import LocalServer


def test_ports_shift_together_with_the_native_port(tmp_path: Path) -> None:
    assert (ServerSettings(tmp_path).storage_port, ServerSettings(tmp_path).jmx_port) == (7000, 7199)
    other = ServerSettings(tmp_path, port=9142)
    assert (other.storage_port, other.jmx_port) == (7100, 7299)


def test_yaml_switches_authentication(tmp_path: Path) -> None:
    plain = cassandra_yaml(ServerSettings(tmp_path))
    assert "AllowAllAuthenticator" in plain and "PasswordAuthenticator" not in plain
    secured = cassandra_yaml(ServerSettings(tmp_path, auth=True))
    assert "authenticator: PasswordAuthenticator" in secured and "authorizer: CassandraAuthorizer" in secured
    assert f"data_file_directories: [{tmp_path / 'data' / 'data'}]" in secured
    assert "num_tokens: 1" in secured and "auto_snapshot: true" in secured


def test_jvm_arguments_carry_heap_and_fast_start_flags(tmp_path: Path) -> None:
    args = jvm_arguments(ServerSettings(tmp_path, heap="512M"), None)
    assert "-Xmx512M" in args and "-Xms512M" in args
    assert "-Dcassandra.skip_wait_for_gossip_to_settle=0" in args
    assert not any(a.startswith("-Xmn") for a in args), "G1 on Java 17 must not get a fixed young generation"
    assert args[args.index("--add-opens") + 1].endswith("=ALL-UNNAMED")


def test_out_of_range_port_is_refused() -> None:
    with pytest.raises(LocalServerError, match="out of range"):
        LocalServer(80)


@pytest.mark.parametrize(
    ("banner", "major"),
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8), ('openjdk version "21" x', 21)],
)
def test_java_version_is_read_from_the_banner(monkeypatch: pytest.MonkeyPatch, banner: str, major: int) -> None:
    def fake_run(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 0, stdout="", stderr=banner)

    monkeypatch.setattr(_dist.subprocess, "run", fake_run)
    assert _dist.java_major_version("java") == major


def test_unsupported_java_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"21.0.1\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LocalServerError, match=r"Java 21, but Cassandra .* runs only on Java 11 or 17"):
        _dist.java_executable()


def test_missing_java_and_maven_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalServerError, match="Java was not found"):
        _dist.java_executable()
    monkeypatch.setenv("CASSNB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(LocalServerError, match=r"Maven \(`mvn`\) was not found"):
        _dist.ensure_distribution(echo=False)
