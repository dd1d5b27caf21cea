# ruff: noqa: F811  (the magics fixtures are imported by name and then requested as arguments)
"""``%%cql --export``: a cell's SELECT streamed into a file, with bound :name values, atomically."""

from __future__ import annotations

import _thread
import threading
from pathlib import Path

import pyarrow.parquet as pq
from IPython.core.interactiveshell import InteractiveShell

from tests.integration.test_magics import ip, loaded, run_cell, show, table  # noqa: F401  (fixtures)


def test_export_binds_names_and_writes_the_file(ip: InteractiveShell, table: str, tmp_path: Path) -> None:
    ip.user_ns["low"] = 5
    target = tmp_path / "some.parquet"
    query = f"SELECT * FROM {table} WHERE id >= :low ALLOW FILTERING"
    shown = show(ip, f"--export {target} --fetch-size 7", query)
    assert "exported 20 rows (3 pages)" in shown.stdout
    assert sorted(pq.read_table(target).column("id").to_pylist()) == list(range(5, 25))

    again = run_cell(ip, f"%%cql --export {target}\nSELECT * FROM {table}")
    assert "already exists; add --overwrite to replace it" in again.stderr + again.stdout
    assert pq.read_table(target).num_rows == 20, "the existing file is untouched"
    show(ip, f"--export {target} --overwrite", f"SELECT * FROM {table}")
    assert pq.read_table(target).num_rows == 25


def test_export_refuses_what_it_cannot_do(ip: InteractiveShell, table: str, tmp_path: Path) -> None:
    for line, cell, message in [
        (f"--export {tmp_path}/a.csv", f"SELECT * FROM {table}; SELECT * FROM {table}", "exactly one SELECT"),
        (f"--export {tmp_path}/a.xlsx", f"SELECT * FROM {table}", "cannot tell the export format"),
        (f"--export {tmp_path}/a.csv --out df", f"SELECT * FROM {table}", "does not combine"),
    ]:
        shown = run_cell(ip, f"%%cql {line}\n{cell}")
        assert message in shown.stderr + shown.stdout, shown
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_export_stops_and_leaves_nothing(ip: InteractiveShell, wide_table: str, tmp_path: Path) -> None:
    target = tmp_path / "wide.csv"
    done = threading.Event()

    def interrupt_once_writing() -> None:  # once the export's temporary file exists, interrupt the magic
        while not done.wait(0.005):
            if any(path.name.startswith(".wide.csv.") for path in tmp_path.iterdir()):
                _thread.interrupt_main()
                return

    watcher = threading.Thread(target=interrupt_once_writing, daemon=True)
    watcher.start()
    try:
        shown = show(ip, f"--export {target} --fetch-size 500", f"SELECT * FROM {wide_table}")
    finally:
        done.set()
        watcher.join()
    assert shown.stdout.startswith("export stopped after ") and f"nothing was written to {target}" in shown.stdout
    assert list(tmp_path.iterdir()) == [], "neither the target nor a temporary file may remain"
    after = show(ip, f"SELECT count(*) FROM {wide_table} WHERE bucket = 1")
    assert int(after.value.iloc[0, 0]) == 1000, "the connection still works after the interrupt"
