"""A Cassandra of the reliability tests' own (port 9442), so pausing or restarting it disturbs no other test.

It is started here if it is not running and stopped at the end if it was started here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cassnb.local import LocalServer
from tests.conftest import ServerAddress

FAULT_PORT = int(os.environ.get("CASSNB_FAULT_PORT", "9442"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def fault_server(cassandra_address: ServerAddress) -> Iterator[LocalServer]:
    """Needs the project's own server tooling (Java, Maven): present wherever `make test` runs."""
    server = LocalServer(FAULT_PORT, heap="512M")
    started = server.start(timeout=240)
    print(f"\nfault-injection server: Cassandra {started.version} at {started.address} "
          f"({'reused' if started.already_running else f'started in {started.seconds:.1f}s'})")  # fmt: skip
    yield server
    if not started.already_running:
        server.stop()


@pytest.fixture(scope="session")
def fault_address(fault_server: LocalServer) -> ServerAddress:
    return ServerAddress("127.0.0.1", FAULT_PORT)
