"""A session whose keyspace was dropped names that cause (not the network) and recovers once it exists again.

On the fault server: the session's connections are made to reconnect (native transport off and on), which is
when a session bound to a keyspace needs that keyspace: the server refuses each new connection's ``USE``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import cassnb
from cassnb.local import LocalServer
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio

CREATE = "CREATE KEYSPACE IF NOT EXISTS lost_ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"


async def _until_answered(session: cassnb.AsyncSession, statement: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            await session.execute(statement, timeout=5)
            return
        except cassnb.ConnectionError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)


async def test_a_dropped_keyspace_is_named_and_the_session_recovers_when_it_is_back(
    fault_server: LocalServer, fault_address: ServerAddress
) -> None:
    where = f"{fault_address.host}:{fault_address.port}"
    admin = await cassnb.connect(where)
    await admin.execute(CREATE)
    await admin.execute("CREATE TABLE IF NOT EXISTS lost_ks.t (k int PRIMARY KEY)")
    session = await cassnb.connect(where, keyspace="lost_ks")
    try:
        await admin.execute("DROP KEYSPACE lost_ks")
        for action in ("disablebinary", "enablebinary"):  # every connection is made anew
            assert (await asyncio.to_thread(fault_server.nodetool, [action])).returncode == 0
        messages = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                await session.execute("SELECT release_version FROM system.local", timeout=2)
            except cassnb.ConnectionError as exc:
                messages.append(str(exc))
                if "no longer exists" in str(exc):
                    break
            await asyncio.sleep(0.2)
        assert messages and "keyspace 'lost_ks' no longer exists" in messages[-1], messages
        assert "check the server is running" not in messages[-1]
        await _until_answered(admin, CREATE)  # its connections were made anew as well
        await _until_answered(admin, "CREATE TABLE IF NOT EXISTS lost_ks.t (k int PRIMARY KEY)")
        began = time.monotonic()
        while True:
            try:
                result = await session.execute("SELECT count(*) FROM t", timeout=2)
                break
            except cassnb.ConnectionError:
                assert time.monotonic() - began < 30, "the session did not recover once its keyspace was back"
                await asyncio.sleep(0.2)
        assert result.one()[0] == 0
        print(f"\nkeyspace dropped: named in the error; recovered {time.monotonic() - began:.1f}s after it was back")
    finally:
        await session.close()
        await admin.execute("DROP KEYSPACE IF EXISTS lost_ks")
        await admin.close()
