"""Contact points as people write them: ``"h1,h2"``, ``["h1", "h2:9142"]``; the one parser of ``host:port``."""

from __future__ import annotations

from collections.abc import Sequence


def split_hosts(hosts: str | Sequence[str] | None, port: int | None) -> tuple[tuple[str, ...], int | None]:
    """``"h1,h2:9142"`` -> ``(("h1", "h2"), 9142)``: a ``host:port`` entry sets the port for all.

    An entry with more than one colon is an IPv6 address without a port (``::1``) and kept whole.
    """
    items = hosts.split(",") if isinstance(hosts, str) else list(hosts or ())
    names = []
    for item in (part.strip() for part in items):
        if not item:
            continue
        host, sep, host_port = item.rpartition(":")
        if sep and host and host_port.isdigit() and ":" not in host:
            names.append(host)
            port = int(host_port)
        else:
            names.append(item)
    return tuple(names), port


def split_endpoint(address: str) -> tuple[str, int]:
    """``"10.0.0.1:9042"`` or ``"::1:9042"`` -> ``("10.0.0.1", 9042)``: an address that always ends in its port."""
    host, _, port = address.rpartition(":")
    return host, int(port)
