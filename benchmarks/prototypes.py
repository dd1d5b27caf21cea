"""Prototypes of library fixes, measured by the benchmarks before they are proposed for ``cassnb/``.

The stall study (:mod:`benchmarks.stall_study`) found two causes of long event-loop stalls while a large
result streams into a DataFrame:

1. **Full collections of the cyclic garbage collector.** Every page allocates thousands of GC-tracked objects
   (a tuple per row, a ``uuid.UUID`` per uuid cell) that stay alive while the page is consumed, so they
   survive the young collections and count towards a full one. A full collection walks every tracked object
   of the process — the imported modules, and every ``UUID`` already held in the DataFrame being built — and
   holds the GIL throughout, usually on the driver's I/O thread inside the decoder. With a million rows held
   that is ~170 ms of CPU per full collection on this machine class.
2. **The final ``pd.concat``** of all page frames runs on the loop in one piece: O(rows) with the GIL held.

:func:`deferred_full_collections` removes the first (with ``freeze=True``, also the full collection that
would otherwise follow the read); running ``FrameBuilder.frame`` and ``concat`` in ``asyncio.to_thread``
takes the second off the loop (they are mostly C work that still lets the loop in between).
:func:`concat_by_column` was tried as an alternative for the second and did not help. :func:`read_frame`
puts the fix together the way ``query_df`` would use it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from cassnb._gc import collect_young, deferred_collections


@contextlib.asynccontextmanager
async def deferred_full_collections(*, freeze: bool = False) -> AsyncIterator[None]:
    """The library's switch (:mod:`cassnb._gc`, which this prototype led to), as an async context manager."""
    with deferred_collections(freeze=freeze):
        yield


async def concat_by_column(builder: Any, frames: Sequence[Any]) -> Any:
    """Join page frames column by column, giving the loop a turn between columns.

    The stall is then bounded by the slowest single column (a few ms per million rows) instead of the whole
    frame. Columns keep the builder's dtypes because each one is concatenated from same-dtype pieces.
    """
    import pandas as pd

    frames = [f for f in frames if len(f)]
    if len(frames) <= 1:
        return builder.concat(frames)
    columns: dict[int, Any] = {}
    for index in range(frames[0].shape[1]):
        columns[index] = pd.concat([f.iloc[:, index] for f in frames], ignore_index=True)
        await asyncio.sleep(0)
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = frames[0].columns
    return frame


async def read_frame(session: Any, query: str, fetch_size: int = 5000) -> Any:
    """``query_df`` as proposed: full collections deferred (then ``gc.freeze()``), conversion off the loop."""
    from cassnb import RowFormat, StreamConfig
    from cassnb._frames import FrameBuilder

    frames, builder = [], None
    async with deferred_full_collections(freeze=True):
        config = StreamConfig(fetch_size=fetch_size)
        async with session.execute_stream(query, stream_config=config, row_format=RowFormat.TUPLE) as stream:
            async for page in stream.pages():
                builder = builder or FrameBuilder(page.column_names, page.column_types)
                frames.append(await asyncio.to_thread(builder.frame, page.rows))
                collect_young()
        if builder is None:
            return None
        return await asyncio.to_thread(builder.concat, frames)
