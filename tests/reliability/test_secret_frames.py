"""Passwords stay out of traceback frames, and a kernel that cannot prompt says how to pass one instead.

Against the password-checking test server. ``%xmode Verbose``, debuggers and crash reports show every frame's
locals, so a password must be masked from the first cassnb frame that receives it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import nbformat
import pytest
from IPython.core.ultratb import VerboseTB
from nbclient import NotebookClient

import cassnb
from cassnb._secret import Secret
from tests.conftest import ServerAddress

SECRET = "wrong-pw-7d1f2c"
PACKAGE = str(Path(cassnb.__file__).parent)


def _cassnb_frames(tb: TracebackType | None) -> list[Any]:
    frames = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(PACKAGE):
            frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _leaks(value: object, depth: int = 0) -> bool:
    """Whether ``value`` shows the secret when printed (its repr, or a container's items)."""
    if isinstance(value, Secret):
        return False
    if SECRET in repr(value):
        return True
    if depth < 3 and isinstance(value, dict):
        return any(_leaks(v, depth + 1) for v in value.values())
    return False


@pytest.mark.parametrize("how", ["connect", "create_with_auth"])
def test_a_failed_login_keeps_the_password_out_of_every_cassnb_frame(
    auth_cassandra_address: ServerAddress, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("CASSNB_TEST_SECRET", SECRET)
    where = f"{auth_cassandra_address.host}:{auth_cassandra_address.port}"

    async def attempt() -> None:
        if how == "connect":
            await cassnb.connect(where, username="cassandra", password=os.environ["CASSNB_TEST_SECRET"])
        else:
            cluster = cassnb.AsyncCluster.create_with_auth(
                [auth_cassandra_address.host], "cassandra", os.environ["CASSNB_TEST_SECRET"],
                port=auth_cassandra_address.port,
            )  # fmt: skip
            try:
                await cluster.connect()
            finally:
                await cluster.shutdown()

    with pytest.raises(cassnb.AuthenticationError) as caught:
        asyncio.run(attempt())
    frames = _cassnb_frames(caught.value.__traceback__)
    assert frames, "the traceback passes through cassnb"
    leaking = [f"{f.f_code.co_name}: {name}" for f in frames for name, value in f.f_locals.items() if _leaks(value)]
    assert leaking == []
    text = VerboseTB(theme_name="nocolor").text(caught.type, caught.value, caught.value.__traceback__)
    sections = [part for part in text.split("\n\n") if PACKAGE in part]
    assert sections and not any(SECRET in part for part in sections)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_a_secret_shows_as_a_mask_and_will_not_be_pickled() -> None:
    import pickle

    secret = Secret(SECRET)
    assert SECRET not in repr(secret) + str(secret) + f"{secret}" and secret.reveal() == SECRET
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_connect_in_a_kernel_without_stdin_says_how_to_pass_the_password(
    auth_cassandra_address: ServerAddress, tmp_path: Path
) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext cassnb"),
        nbformat.v4.new_code_cell(
            f"%cql connect {auth_cassandra_address.host} --port {auth_cassandra_address.port} --user cassandra"
        ),
    ])  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("CASSNB_PASSWORD", "CASSNB_CONNECTIONS_FILE")}
    env["CASSNB_CONNECTIONS_FILE"] = str(tmp_path / "none.ini")
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    # IPython shows a UsageError as one line on stderr, without a traceback.
    (output,) = notebook.cells[1].outputs
    assert output.output_type == "stream" and output.name == "stderr"
    lines = output.text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("UsageError: %cql connect needs the password of cassandra")
    assert "--password-env" in lines[0] and "StdinNotImplementedError" not in output.text
