"""`cassnb local ... --nodes 3` / `--node K` on the test ring: status, nodetool and a clear error for a bad node."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from cassnb.local import LocalRing
from cassnb.local._ring import node_address, ring_tokens


def cassnb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cassnb", "local", *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def own_ring(ring_hosts: str) -> LocalRing:
    if os.environ.get("CASSNB_TEST_RING_HOSTS"):
        pytest.skip("CASSNB_TEST_RING_HOSTS names a ring of your own: these tests drive cassnb's local ring")
    return LocalRing(3)


def test_status_and_nodetool_act_on_the_whole_ring(own_ring: LocalRing) -> None:
    status = cassnb("status", "--nodes", "3")
    assert status.returncode == 0, status.stdout + status.stderr
    assert [line.split(":")[0] for line in status.stdout.splitlines()] == ["node 1 127.0.0.11", "node 2 127.0.0.12",
                                                                        "node 3 127.0.0.13"]  # fmt: skip
    assert all(", up, pid " in line or ": up, pid " in line for line in status.stdout.splitlines())
    ring = cassnb("nodetool", "--node", "3", "status")
    assert ring.returncode == 0, ring.stderr
    assert sorted(line.split()[1] for line in ring.stdout.splitlines() if line.startswith("UN ")) == [
        "127.0.0.11", "127.0.0.12", "127.0.0.13",
    ]  # fmt: skip


def test_a_node_outside_the_ring_is_a_clear_one_line_error(own_ring: LocalRing) -> None:
    bad = cassnb("stop", "--node", "5")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == ["cassnb: error: --node 5: the ring has nodes 1 to 3"]
    assert cassnb("start", "--nodes", "12").stderr.strip() == "cassnb: error: --nodes 12: a local ring has 2 to 9 nodes"


def test_tokens_interleave_and_cover_the_ring_evenly() -> None:
    tokens = sorted((token, node) for node in (1, 2, 3) for token in ring_tokens(node, 3))
    assert len(tokens) == 48 and [node for _, node in tokens] == [1, 2, 3] * 16
    gaps = {b - a for (a, _), (b, _) in itertools.pairwise(tokens)}
    assert max(gaps) - min(gaps) <= 1  # equal slices, up to rounding
    assert node_address(2) == "127.0.0.12"
