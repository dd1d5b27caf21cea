"""A local ring: several real Cassandra nodes on one machine, for work and tests that need replicas.

Node ``k`` (from 1) listens on its own loopback address, ``127.0.0.{10 + k}``, with the usual native and storage
ports (Linux routes all of 127.0.0.0/8 to the loopback interface), so a ring runs beside the single-node servers
on 127.0.0.1. JMX listens on 127.0.0.1 only, so each node has a JMX port of its own (``7300 + k``). Each node is
a :class:`~cassnb.local.LocalServer` with a directory of its own under ``<cache>/local/ring/``.

Every node owns 16 explicit tokens, interleaved evenly with the others', so a new ring needs neither token
allocation nor streaming: the seed (node 1) starts first, then the others join it one by one, and the ring is
ready when the seed's ``nodetool status`` shows every node up and normal (``UN``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import LocalServerError
from ._conf import RingPlace
from ._dist import cache_dir
from ._server import LocalServer, Started, Status, Stopped

NATIVE_PORT = 9042
VNODES = 16
MAX_NODES = 9
_CLUSTER_NAME = "cassnb-ring"
_UN = re.compile(r"^UN\s+(\S+)", re.MULTILINE)


def node_address(node: int) -> str:
    return f"127.0.0.{10 + node}"


def ring_tokens(node: int, nodes: int, vnodes: int = VNODES) -> tuple[int, ...]:
    """Node ``node``'s tokens (from 1): the ring cut into ``nodes * vnodes`` equal slices, dealt round-robin."""
    slices = nodes * vnodes
    return tuple(-(2**63) + ((2 * (j * nodes + node - 1) + 1) * 2**64) // (2 * slices) for j in range(vnodes))


@dataclass(frozen=True)
class RingStarted:
    """What :meth:`LocalRing.start` did: each node's start, the whole wait, and the ring as nodetool shows it."""

    nodes: tuple[Started, ...]
    seconds: float
    ring: str

    @property
    def already_running(self) -> bool:
        return all(started.already_running for started in self.nodes)


class LocalRing:
    """A ring of ``nodes`` local Cassandra nodes (3 unless a ring of another size is already set up)."""

    def __init__(self, nodes: int | None = None, *, heap: str = "512M", fast: bool = False, home: Path | None = None):
        self.home = home or cache_dir() / "local" / "ring"
        self.heap, self.fast = heap, fast
        recorded = self._recorded_size()
        if nodes is None:
            nodes = recorded or 3
        if not 2 <= nodes <= MAX_NODES:
            raise LocalServerError(f"--nodes {nodes}: a local ring has 2 to {MAX_NODES} nodes")
        if recorded and recorded != nodes and any(self._server(k, recorded).pid() for k in range(1, recorded + 1)):
            raise LocalServerError(
                f"a local ring of {recorded} nodes is running; stop it first (`cassnb local stop --nodes {recorded}`)"
            )
        self.size = nodes

    @property
    def hosts(self) -> list[str]:
        """The nodes' native addresses, ``127.0.0.11:9042`` and so on."""
        return [f"{node_address(k)}:{NATIVE_PORT}" for k in range(1, self.size + 1)]

    def node(self, node: int) -> LocalServer:
        if not 1 <= node <= self.size:
            raise LocalServerError(f"--node {node}: the ring has nodes 1 to {self.size}")
        return self._server(node, self.size)

    def _server(self, node: int, nodes: int) -> LocalServer:
        place = RingPlace(_CLUSTER_NAME, node_address(1), ring_tokens(node, nodes), 7300 + node)
        return LocalServer(NATIVE_PORT, heap=self.heap, fast=self.fast, home=self.home / f"node{node}",
                           address=node_address(node), ring=place)  # fmt: skip

    def _recorded_size(self) -> int | None:
        try:
            return int(json.loads((self.home / "ring.json").read_text())["nodes"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    # ----------------------------------------------------------------- lifecycle
    def start(self, node: int | None = None, *, timeout: float = 300.0) -> RingStarted:
        """Start every node (the seed first), or only ``node``; return once every node is ``UN``."""
        began = time.monotonic()
        deadline = began + timeout
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "ring.json").write_text(json.dumps({"nodes": self.size}))
        order = [node] if node is not None else list(range(1, self.size + 1))
        if node is not None and node != 1 and self.node(1).pid() is None:
            order.insert(0, 1)  # a node joins the ring through its seed
        started = tuple(self.node(k).start(timeout=max(deadline - time.monotonic(), 1.0)) for k in order)
        ring = self.wait_until_normal(deadline)
        return RingStarted(started, time.monotonic() - began, ring)

    def stop(self, node: int | None = None, *, timeout: float = 60.0) -> list[Stopped]:
        """Stop every node (the seed last), or only ``node``."""
        order = [node] if node is not None else list(range(self.size, 0, -1))
        return [self.node(k).stop(timeout=timeout) for k in order]

    def status(self) -> list[Status]:
        return [self.node(k).status() for k in range(1, self.size + 1)]

    def nodetool(self, args: list[str], node: int | None = None) -> str:
        """``nodetool`` on ``node`` (else the first node that runs); its output, or a clear error."""
        candidates = [node] if node is not None else range(1, self.size + 1)
        for k in candidates:
            server = self.node(k)
            if server.pid() is not None:
                result = server.nodetool(args)
                if result.returncode != 0:
                    raise LocalServerError(f"nodetool {' '.join(args)} on node {k} failed: {result.stderr.strip()}")
                return result.stdout
        raise LocalServerError("no node of the local ring is running; start it with `cassnb local start --nodes N`")

    def wait_until_normal(self, deadline: float) -> str:
        """Wait until ``nodetool status`` lists every node as up and normal; return that output."""
        wanted = {node_address(k) for k in range(1, self.size + 1)}
        output = ""
        while time.monotonic() < deadline:
            try:
                output = self.nodetool(["status"])
            except LocalServerError as exc:
                output = str(exc)
            if wanted <= set(_UN.findall(output)):
                return output
            time.sleep(1.0)
        raise LocalServerError(
            f"the local ring did not show all {self.size} nodes up and normal (UN) in time; nodetool status said:\n"
            + output
        )
