"""IPython magics for cassnb: ``%cql`` / ``%%cql`` (aliases ``%cassnb`` / ``%%cassnb``).

Load with ``%load_ext cassnb`` (or ``%load_ext cassnb.magics``); ``%%cql?`` shows the full reference.

The magics are synchronous, like every magic; they run the async core on one private event loop in a daemon
thread (:mod:`cassnb._runner`), so the kernel's own loop stays free for ``await`` cells and nothing patches
asyncio. Layout: ``_magic`` (the Magics class and its options), ``_commands`` (``connect``, ``use``, ``more``,
...), ``_connections`` (settings and the registry of named connections), ``_run`` (one statement: binding,
paging, tracing), ``_stream`` (streamed reads, interrupts that keep the rows, resuming), ``_cells`` (closing
the streams a cell left open) and ``_display`` (tables, previews, status lines, traces); the CQL text
layer (splitting statements, ``:name``) is ``cassnb._cqltext``, shared with the core.
"""

from __future__ import annotations

from typing import Any

from ._magic import CqlMagic

__all__ = ("CqlMagic", "load_ipython_extension", "unload_ipython_extension")


def load_ipython_extension(ip: Any) -> None:
    """Register the magics on ``ip`` (what ``%load_ext`` calls), and the cell-end clean-up of streams."""
    magic = CqlMagic(shell=ip)
    ip.register_magics(magic)
    magic.cell_guard.register(ip.events)


def unload_ipython_extension(ip: Any) -> None:
    """Close the connections the magics opened and unregister them (``%unload_ext``, ``%reload_ext``)."""
    magic = ip.magics_manager.registry.pop("CqlMagic", None)
    if magic is None:
        return
    magic.cell_guard.unregister(ip.events)
    for connection in list(magic.connections):
        if connection.owned and not connection.session.is_closed:
            magic.runner.run(connection.session.close())
        magic.connections.remove(connection.name)
    for kind in ("line", "cell"):
        for name in ("cql", "cassnb"):
            ip.magics_manager.magics[kind].pop(name, None)
    if magic in ip.configurables:
        ip.configurables.remove(magic)
