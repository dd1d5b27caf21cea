"""IPython magics for cassnb: ``%cql`` / ``%%cql`` (aliases ``%cassnb`` / ``%%cassnb``).

Load with ``%load_ext cassnb`` (or ``%load_ext cassnb.magics``); ``%%cql?`` shows the full reference.

A top-level ``%%cql`` cell runs awaited on the kernel's own loop (``_transform`` rewrites it), so the kernel
keeps answering widget clicks while it reads; anywhere else a magic runs blocking, with the async core on
one private loop in a daemon thread (:mod:`cassnb._runner`). Nothing patches asyncio. Layout: ``_magic``
(the Magics class and its options), ``_execute`` (one cell: statements, reads, results), ``_host`` (the two
ways a cell's steps run), ``_progress`` (what a read shows and leaves behind), ``_commands`` (``connect``,
``use``, ``more``, ...), ``_connections`` (settings and the registry of named connections), ``_run``
(planning, binding, tracing), ``_cells`` (closing the streams a cell left open), ``_complete`` (Tab
completion) and ``_display`` (tables, previews, status lines, traces); the CQL text layer (splitting
statements, ``:name``) is ``cassnb._cqltext``, shared with the core.
"""

from __future__ import annotations

from typing import Any

from . import _complete, _transform
from ._magic import CqlMagic

__all__ = ("CqlMagic", "load_ipython_extension", "unload_ipython_extension")


def load_ipython_extension(ip: Any) -> None:
    """Register the magics on ``ip`` (what ``%load_ext`` calls), the cell-end clean-up of streams, and the
    transformer that lets top-level ``%%cql`` cells run awaited on the kernel's loop."""
    magic = CqlMagic(shell=ip)
    ip.register_magics(magic)
    magic.cell_guard.register(ip.events)
    _transform.install(ip)
    _complete.install(ip, magic)


def unload_ipython_extension(ip: Any) -> None:
    """Close the connections the magics opened and unregister them (``%unload_ext``, ``%reload_ext``)."""
    magic = ip.magics_manager.registry.pop("CqlMagic", None)
    if magic is None:
        return
    magic.cell_guard.unregister(ip.events)
    _transform.uninstall(ip)
    _complete.uninstall(ip)
    for connection in list(magic.connections):
        if connection.owned and not connection.session.is_closed:
            magic.runner.run(connection.session.close())
        magic.connections.remove(connection.name)
    for kind in ("line", "cell"):
        for name in ("cql", "cassnb"):
            ip.magics_manager.magics[kind].pop(name, None)
    if magic in ip.configurables:
        ip.configurables.remove(magic)
