"""``cassnb export``, ``cassnb export-table`` and ``cassnb load`` as a user runs them: in a subprocess.

Checked: exit codes (0 done, 1 error, 130 interrupted), the one-line report on stdout, errors as exactly one
``cassnb: error: ...`` line on stderr with no traceback, no file left at the target after a failure or an
interrupt, and the password never appearing in any output.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cassnb._atomic import MANIFEST_NAME
from tests.conftest import ServerAddress

ROWS = 2_000


def run_cassnb(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cassnb", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def environment(address: ServerAddress, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASSNB_")}
    env["CASSNB_HOSTS"] = f"{address.host}:{address.port}"
    env.update(extra)
    return env


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cassnb: error: ") and "Traceback" not in result.stderr
    return lines[0]


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.fixture(scope="module")
def source_table(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(f"CREATE TABLE {keyspace}.cli_src (k int PRIMARY KEY, v text, d double)")
    insert = driver_session.prepare(f"INSERT INTO {keyspace}.cli_src (k, v, d) VALUES (?, ?, ?)")
    for k in range(ROWS):
        driver_session.execute(insert, (k, None if k % 10 == 0 else f"value, {k}", k / 8))
    return f"{keyspace}.cli_src"


@pytest.fixture
def target_table(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.cli_dst (k int PRIMARY KEY, v text, d double)")
    driver_session.execute(f"TRUNCATE {keyspace}.cli_dst")
    return f"{keyspace}.cli_dst"


def count(driver_session: Any, table: str) -> int:
    return int(driver_session.execute(f"SELECT count(*) FROM {table}").one()[0])


def test_help_lists_the_data_commands() -> None:
    result = run_cassnb("--help")
    assert result.returncode == 0
    assert all(name in result.stdout for name in ("export", "export-table", "load", "local"))
    load_help = run_cassnb("load", "--help").stdout
    assert "--concurrency" in load_help and "--password-env" in load_help
    assert "--password " not in load_help and "--password\n" not in load_help  # never on the command line


def test_export_writes_the_file_and_prints_one_report_line(
    cassandra_address: ServerAddress, source_table: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    result = run_cassnb(
        "export",
        f"SELECT k, v, d FROM {source_table}",
        str(target),
        "--fetch-size",
        "300",
        env=environment(cassandra_address),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress line when stderr is not a terminal
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{ROWS:,} rows (") and str(target) in line and "rows/s" in line
    with target.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["k", "v", "d"] and len(rows) == ROWS + 1
    assert leftovers(tmp_path) == ["out.csv"]


def test_export_options_and_explicit_format(
    cassandra_address: ServerAddress, source_table: str, tmp_path: Path
) -> None:
    env = environment(cassandra_address)
    nulls = run_cassnb(
        "export",
        f"SELECT k, v FROM {source_table} WHERE k = 10",
        str(tmp_path / "n.csv"),
        "--option",
        "null=NULL",
        env=env,
    )
    assert nulls.returncode == 0, nulls.stderr
    assert (tmp_path / "n.csv").read_bytes() == b"k,v\r\n10,NULL\r\n"
    parquet = run_cassnb(
        "export",
        f"SELECT * FROM {source_table}",
        str(tmp_path / "data.bin"),
        "--format",
        "parquet",
        "--option",
        "row_group_size=500",
        "--option",
        "compression=snappy",
        env=env,
    )
    assert parquet.returncode == 0, parquet.stderr
    metadata = pq.ParquetFile(tmp_path / "data.bin").metadata
    assert (metadata.num_rows, metadata.num_row_groups) == (ROWS, 4)
    bad = run_cassnb("export", "SELECT * FROM system.local", str(tmp_path / "x.csv"), "--option", "nonsense", env=env)
    assert bad.returncode == 1 and "--option takes key=value" in one_error_line(bad)
    unknown = run_cassnb(
        "export", "SELECT * FROM system.local", str(tmp_path / "x.csv"), "--option", "quote='", env=env
    )
    assert unknown.returncode == 1 and "unknown csv export option" in one_error_line(unknown)
    assert not (tmp_path / "x.csv").exists()


def test_bad_query_is_one_line_exit_1_and_no_file(
    cassandra_address: ServerAddress, keyspace: str, tmp_path: Path
) -> None:
    result = run_cassnb(
        "export",
        f"SELECT * FROM {keyspace}.no_such_table",
        str(tmp_path / "out.csv"),
        env=environment(cassandra_address),
    )
    assert result.returncode == 1
    assert "no_such_table" in one_error_line(result)
    assert result.stdout == "" and leftovers(tmp_path) == []


def test_existing_target_needs_overwrite(cassandra_address: ServerAddress, source_table: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("precious")
    args = ["export", f"SELECT * FROM {source_table}", str(target)]
    refused = run_cassnb(*args, env=environment(cassandra_address))
    assert refused.returncode == 1 and "exists" in one_error_line(refused)
    assert target.read_text() == "precious"
    replaced = run_cassnb(*args, "--overwrite", env=environment(cassandra_address))
    assert replaced.returncode == 0 and target.read_bytes().startswith(b"k,d,v\r\n")


def test_export_table_to_a_directory_and_to_a_file(
    cassandra_address: ServerAddress, source_table: str, tmp_path: Path
) -> None:
    env = environment(cassandra_address)
    parts = tmp_path / "parts"
    result = run_cassnb("export-table", source_table, f"{parts}/", "--parallelism", "2", "--format", "csv", env=env)
    assert result.returncode == 0, result.stderr
    assert str(parts) in result.stdout and f"{ROWS:,} rows" in result.stdout
    manifest = json.loads((parts / MANIFEST_NAME).read_text())
    files = sorted(path for path in parts.iterdir() if path.name != MANIFEST_NAME)
    assert files and all(path.suffix == ".csv" for path in files)
    assert manifest["files"] == [path.name for path in files] and manifest["rows"] == ROWS
    assert sum(len(path.read_text().splitlines()) - 1 for path in files) == ROWS
    single = run_cassnb("export-table", source_table, str(tmp_path / "all.parquet"), env=env)
    assert single.returncode == 0, single.stderr
    assert pq.read_table(tmp_path / "all.parquet").num_rows == ROWS


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl.gz"])
def test_load_a_file(
    cassandra_address: ServerAddress,
    driver_session: Any,
    source_table: str,
    target_table: str,
    tmp_path: Path,
    suffix: str,
) -> None:
    env = environment(cassandra_address)
    source = tmp_path / f"rows{suffix}"
    assert run_cassnb("export", f"SELECT * FROM {source_table}", str(source), env=env).returncode == 0
    result = run_cassnb("load", target_table, str(source), "--concurrency", "32", "--batch-rows", "700", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{ROWS:,} rows -> {target_table} in ") and result.stderr == ""
    assert count(driver_session, target_table) == ROWS


def test_load_with_failed_rows_lists_them_and_exits_1(
    cassandra_address: ServerAddress, driver_session: Any, target_table: str, tmp_path: Path
) -> None:
    source = tmp_path / "some_bad.csv"
    source.write_text("k;v;d\n1;a;1.5\nnot a number;b;2\n3;c;x\n4;;\n")
    result = run_cassnb(
        "load", target_table, str(source), "--option", "delimiter=;", env=environment(cassandra_address)
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"2 rows -> {target_table}, 2 failed in ")
    assert result.stderr.splitlines() == [
        "cassnb: row 1: column 'k': 'not a number' is not an integer",
        "cassnb: row 2: column 'd': 'x' is not a number",
        "cassnb: error: 2 rows failed",
    ]
    assert count(driver_session, target_table) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "{ks}.no_such_table", "{tmp}/x.csv"], "table {ks}.no_such_table does not exist"),
        (["load", "{ks}.cli_dst", "{tmp}/missing.csv"], "No such file or directory"),
        (["load", "{ks}.cli_dst", "{tmp}/x.csv", "--concurrency", "0"], "concurrency must be a positive integer"),
        (["load", "{ks}.cli_dst", "{tmp}/x.csv", "--consistency", "most"], "unknown consistency level 'most'"),
        (["load", "{ks}.cli_dst", "{tmp}/x.csv"], "has no column 'extra'"),
        (["export-table", "{ks}.cli_src", "{tmp}/y.csv", "--parallelism", "0"], "parallelism must be at least 1"),
    ],
)
def test_load_and_export_table_mistakes_are_one_line(
    cassandra_address: ServerAddress,
    keyspace: str,
    target_table: str,
    source_table: str,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "x.csv").write_text("k,v,d,extra\n1,a,1.0,zzz\n")
    result = run_cassnb(*(a.format(ks=keyspace, tmp=tmp_path) for a in args), env=environment(cassandra_address))
    assert result.returncode == 1
    assert message.format(ks=keyspace) in one_error_line(result)
    assert not (tmp_path / "y.csv").exists()


def test_unreachable_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASSNB_")}
    result = run_cassnb(
        "export",
        "SELECT * FROM system.local",
        str(tmp_path / "out.csv"),
        "--hosts",
        "127.0.0.1",
        "--port",
        "1",
        env=env,
    )
    assert result.returncode == 1
    assert "no Cassandra host could be reached" in one_error_line(result)
    assert leftovers(tmp_path) == []


SECRET = "wrong-Secret-4711"


def test_wrong_password_is_refused_and_never_printed(auth_cassandra_address: ServerAddress, tmp_path: Path) -> None:
    env = environment(auth_cassandra_address, MY_PASSWORD=SECRET)
    result = run_cassnb(
        "export",
        "SELECT key FROM system.local",
        str(tmp_path / "out.csv"),
        "--user",
        "cassandra",
        "--password-env",
        "MY_PASSWORD",
        env=env,
    )
    assert result.returncode == 1
    assert "rejected the credentials" in one_error_line(result)
    assert SECRET not in result.stdout + result.stderr
    assert leftovers(tmp_path) == []


def test_password_from_the_default_variable(auth_cassandra_address: ServerAddress, tmp_path: Path) -> None:
    env = environment(auth_cassandra_address, CASSNB_USER="cassandra", CASSNB_PASSWORD="cassandra")
    result = run_cassnb("export", "SELECT key, cluster_name FROM system.local", str(tmp_path / "out.csv"), env=env)
    assert result.returncode == 0, result.stderr
    assert "cassandra" not in result.stdout.replace(str(tmp_path), "")
    assert (tmp_path / "out.csv").read_bytes().startswith(b"key,cluster_name\r\nlocal,")


def test_user_without_a_password_variable(auth_cassandra_address: ServerAddress, tmp_path: Path) -> None:
    result = run_cassnb(
        "export",
        "SELECT key FROM system.local",
        str(tmp_path / "out.csv"),
        "--user",
        "cassandra",
        env=environment(auth_cassandra_address),
    )
    assert result.returncode == 1
    assert "set $CASSNB_PASSWORD" in one_error_line(result)


@pytest.mark.parametrize("command", ["export", "load"])
def test_ctrl_c_exits_130_and_leaves_nothing(
    cassandra_address: ServerAddress, big_table: str, target_table: str, tmp_path: Path, command: str,
    driver_session: Any,
) -> None:  # fmt: skip
    env = environment(cassandra_address)
    if command == "export":
        target = tmp_path / "big.csv"
        args = ["export", f"SELECT * FROM {big_table}", str(target), "--fetch-size", "10"]
    else:
        source = tmp_path / "rows.csv"
        source.write_text("k,v,d\n" + "".join(f"{k},v{k},{k}\n" for k in range(200_000)))
        args = ["load", target_table, str(source), "--concurrency", "4"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cassnb", *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def under_way() -> bool:  # the export's temporary file exists, or the load has written rows
        if command == "export":
            return any(path.name.startswith(".big.csv.") for path in tmp_path.iterdir())
        return count(driver_session, target_table) > 0

    deadline = time.monotonic() + 60
    while not under_way():
        assert process.poll() is None and time.monotonic() < deadline, "finished before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "cassnb: interrupted" and "Traceback" not in stderr
    assert stdout == ""
    if command == "export":
        assert leftovers(tmp_path) == []  # no partial file, no temporary file
    else:  # how far the load got, to start again from there
        note = stderr.splitlines()[-2]
        assert note.startswith(f"cassnb: loading into {target_table} stopped: ") and "start_row=" in note
