"""Export targets that must never cost a user a file: the current directory, its parents, home, root, links.

``export_table`` into a directory replaces only what cassnb itself wrote there (a directory holding cassnb's
manifest and nothing else) or an empty directory. Every call here runs in a sandbox: the working directory
and ``HOME`` are temporary directories holding sentinel files, and each test checks that every sentinel
survives every call, the failing ones included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cassnb
from cassnb import AsyncSession
from cassnb._atomic import MANIFEST_NAME
from tests.conftest import ServerAddress

ROWS = 40


@pytest.fixture(scope="module")
def paths_table(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.paths_t (k int PRIMARY KEY, v text)")
    insert = driver_session.prepare(f"INSERT INTO {keyspace}.paths_t (k, v) VALUES (?, ?)")
    for k in range(ROWS):
        driver_session.execute(insert, (k, f"v{k}"))
    return f"{keyspace}.paths_t"


class Sandbox:
    """parent/ (a sentinel) > home/ (a sentinel, HOME) and work/ (a sentinel, the working directory)."""

    def __init__(self, root: Path) -> None:
        self.parent = root / "parent"
        self.home = self.parent / "home"
        self.work = self.parent / "work"
        for directory in (self.home, self.work):
            directory.mkdir(parents=True)
        self.sentinels = {
            self.parent / "parent-sentinel.txt": "parent",
            self.home / "home-sentinel.txt": "home",
            self.work / "work-sentinel.txt": "work",
        }
        for path, text in self.sentinels.items():
            path.write_text(text)

    def intact(self) -> list[str]:
        """What is missing or changed (empty when every sentinel survived)."""
        return [str(p) for p, text in self.sentinels.items() if not p.is_file() or p.read_text() != text]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    monkeypatch.chdir(box.work)
    monkeypatch.setenv("HOME", str(box.home))
    yield box
    assert box.intact() == []


DANGEROUS = ["./", ".", "../", "..", "", "~", "~/", "../work", "../work/", "sub/..", "./sub/../"]


@pytest.mark.asyncio
@pytest.mark.parametrize("overwrite", [True, False])
@pytest.mark.parametrize("target", DANGEROUS)
async def test_export_table_never_replaces_the_working_directory_its_parents_or_home(
    session: AsyncSession, paths_table: str, sandbox: Sandbox, target: str, overwrite: bool
) -> None:
    (sandbox.work / "sub").mkdir()
    with pytest.raises((ValueError, FileExistsError)) as excinfo:
        await cassnb.export_table(session, paths_table, target, overwrite=overwrite, progress=False, parallelism=1)
    assert sandbox.intact() == []
    message = str(excinfo.value)
    assert "\n" not in message and ("refus" in message or "exists" in message), message


@pytest.mark.asyncio
async def test_export_table_refuses_the_root_directory_before_any_query(
    session: AsyncSession, paths_table: str, sandbox: Sandbox
) -> None:
    with pytest.raises(ValueError, match="refuses"):
        await cassnb.export_table(session, paths_table, "/", overwrite=True, progress=False)


@pytest.mark.asyncio
async def test_overwrite_refuses_a_directory_cassnb_did_not_write(
    session: AsyncSession, paths_table: str, sandbox: Sandbox
) -> None:
    target = sandbox.work / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"\xff\xd8 not ours")
    with pytest.raises(FileExistsError, match="did not write"):
        await cassnb.export_table(session, paths_table, target, overwrite=True, progress=False)
    assert (target / "holiday.jpg").read_bytes() == b"\xff\xd8 not ours"
    assert sorted(p.name for p in sandbox.work.iterdir()) == ["photos", "work-sentinel.txt"]


@pytest.mark.asyncio
async def test_overwrite_replaces_cassnb_s_own_export_but_not_a_file_added_to_it(
    session: AsyncSession, paths_table: str, sandbox: Sandbox
) -> None:
    target = sandbox.work / "export"
    first = await cassnb.export_table(session, paths_table, f"{target}/", progress=False, parallelism=2, splits=4)
    assert first.rows == ROWS and (target / MANIFEST_NAME).is_file()
    parts = sorted(p.name for p in target.iterdir() if p.name != MANIFEST_NAME)
    assert len(parts) == 4
    # Replacing cassnb's own export works, and leaves no staging or old copy behind.
    again = await cassnb.export_table(session, paths_table, target, overwrite=True, progress=False, splits=2)
    assert again.rows == ROWS
    assert len([p for p in target.iterdir() if p.name != MANIFEST_NAME]) == 2
    assert sorted(p.name for p in sandbox.work.iterdir()) == ["export", "work-sentinel.txt"]
    # A file the user put into it makes it no longer only cassnb's: refused, and nothing is touched.
    (target / "notes.txt").write_text("mine")
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        await cassnb.export_table(session, paths_table, target, overwrite=True, progress=False)
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "notes.txt").read_text() == "mine"


@pytest.mark.asyncio
async def test_an_empty_directory_is_filled_and_a_symlink_to_the_working_directory_is_refused(
    session: AsyncSession, paths_table: str, sandbox: Sandbox
) -> None:
    empty = sandbox.work / "empty"
    empty.mkdir()
    report = await cassnb.export_table(session, paths_table, empty, progress=False, splits=2)
    assert report.rows == ROWS and (empty / MANIFEST_NAME).is_file()
    link = sandbox.home / "here"
    link.symlink_to(sandbox.work, target_is_directory=True)
    with pytest.raises(ValueError, match="working directory"):
        await cassnb.export_table(session, paths_table, link, overwrite=True, progress=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("target", ["./", "."])
async def test_single_file_export_into_a_directory_path_is_refused(
    session: AsyncSession, paths_table: str, sandbox: Sandbox, target: str
) -> None:
    with pytest.raises((ValueError, IsADirectoryError)):
        await cassnb.export(session, f"SELECT * FROM {paths_table}", target, format="csv", overwrite=True,
                            progress=False)  # fmt: skip


@pytest.mark.parametrize("target", ["../", "./"])
def test_cli_export_table_overwrite_keeps_the_working_directory_and_its_parent(
    cassandra_address: ServerAddress, paths_table: str, sandbox: Sandbox, target: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASSNB_")}
    env["CASSNB_HOSTS"] = f"{cassandra_address.host}:{cassandra_address.port}"
    result = subprocess.run(
        [sys.executable, "-m", "cassnb", "export-table", paths_table, target, "--overwrite"],
        capture_output=True, text=True, env=env, cwd=sandbox.work, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cassnb: error: ") and "refuses" in lines[0], result.stderr
    assert sandbox.intact() == []


# --- a property: whatever the target, no file cassnb did not write goes away -------------------------------

SEGMENTS = [".", "..", "sub", "new", "foreign", "ours", "empty", "link_cwd", "link_parent", "link_home", "link_ours"]
LAST_ONLY = ["~", "link_root", "/"]  # outside the sandbox: only ever the whole target, never a prefix


def _snapshot(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` that cassnb did not write (files of directories holding its manifest excluded)."""
    files = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and not (path.parent / MANIFEST_NAME).exists():
            files[path] = path.read_bytes()
    return files


def test_no_target_path_ever_costs_a_file_cassnb_did_not_write(
    session: AsyncSession, paths_table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import shutil

    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st

    template = tmp_path / "template-export"
    asyncio.run(cassnb.export_table(session, paths_table, f"{template}/", progress=False, splits=2))
    outcomes: dict[str, int] = {}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.one_of(
            st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map(lambda parts: "/".join(parts)),
            st.sampled_from(LAST_ONLY),
        ),
        st.booleans(),
        st.booleans(),
    )
    def attempt(relative: str, trailing_slash: bool, overwrite: bool) -> None:
        box_root = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            box = Sandbox(box_root)
            (box.work / "sub").mkdir()
            (box.work / "empty").mkdir()
            (box.work / "foreign").mkdir()
            (box.work / "foreign" / "thesis.tex").write_text("years of work")
            shutil.copytree(template, box.work / "ours")
            (box.work / "link_cwd").symlink_to(box.work)
            (box.work / "link_parent").symlink_to(box.parent)
            (box.work / "link_home").symlink_to(box.home)
            (box.work / "link_ours").symlink_to(box.work / "ours")
            (box.work / "link_root").symlink_to("/")
            target = relative if relative in ("/", "~") else relative + ("/" if trailing_slash else "")
            resolved = Path(os.path.expanduser(target) if target.startswith("~") else box.work / target).resolve()
            # Outside the sandbox only the protected directories are tried (each must be refused).
            inside = resolved == box_root or box_root in resolved.parents
            assume(inside or resolved == Path("/") or resolved in box.work.parents)
            before = _snapshot(box_root)
            with monkeypatch.context() as patch:
                patch.chdir(box.work)
                patch.setenv("HOME", str(box.home))
                try:
                    asyncio.run(cassnb.export_table(session, paths_table, target, overwrite=overwrite,
                                                    progress=False, splits=2, parallelism=1))  # fmt: skip
                    outcome = "written"
                except (cassnb.ConfigurationError, FileExistsError, ValueError, NotADirectoryError) as exc:
                    assert "\n" not in str(exc)
                    outcome = type(exc).__name__
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            after = _snapshot(box_root)
            lost = [str(path) for path, data in before.items() if after.get(path) != data]
            assert lost == [], f"{target!r} (overwrite={overwrite}) cost {lost}"
            assert box.intact() == []
        finally:
            shutil.rmtree(box_root)  # the test's own sandbox

    attempt()
    print(f"\ntarget outcomes: {outcomes}")
    assert outcomes.get("written", 0) > 0 and sum(outcomes.values()) - outcomes.get("written", 0) > 0
