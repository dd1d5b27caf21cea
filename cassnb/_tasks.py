"""Waiting for work that must finish even when its caller is cancelled (file writes, in-flight inserts)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking file work on a worker thread, waiting for it to end even if we are cancelled."""
    return await shielded(asyncio.ensure_future(asyncio.to_thread(function, *args)))


async def shielded(future: asyncio.Future[T]) -> T:
    """Await ``future``; if we are cancelled meanwhile, wait for it to finish before passing the cancel on."""
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await settle(future)
        raise


async def settle(future: asyncio.Future[Any]) -> bool:
    """Wait until ``future`` is done, riding out cancellations; return whether one arrived meanwhile.

    The future's own outcome is marked as seen: the caller is already handling an error.
    """
    interrupted = False
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            interrupted = True
    if not future.cancelled():
        future.exception()
    return interrupted
