"""An object that is both awaitable and an async context manager.

``cluster.connect()`` and ``session.execute_stream()`` are used three ways: ``x = await f()``,
``async with f() as x`` and ``async with await f() as x``. The first and third need an awaitable whose result
is itself an async context manager; the second needs the call's return value to be one. This small class
gives both without duplicating the opening logic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar


class AsyncClosable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=AsyncClosable)


class AwaitableContext(Generic[T]):
    """Wraps an opener coroutine function; opens once, closes on ``__aexit__``."""

    __slots__ = ("_open", "_resource")

    def __init__(self, open: Callable[[], Awaitable[T]]) -> None:
        self._open = open
        self._resource: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._open().__await__()

    async def __aenter__(self) -> T:
        self._resource = await self._open()
        return self._resource

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._resource is not None:
            await self._resource.close()
