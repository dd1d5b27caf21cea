"""The token-range planner: how a whole-table read is cut into pieces, and which replicas serve each piece.

Used by :func:`cassnb.export_table` and by :mod:`cassnb.dask`. The plan is made in three steps:

1. **Ranges.** The ring's tokens (from the driver's token map) cut the Murmur3 ring into ranges ``(start, end]``.
   The range that wraps around, from the last token back to the first, is split at the ring's edge into
   ``(last, MAX]`` and ``(MIN, first]``, so every range is an ordinary interval. (Murmur3 never gives a key the
   token ``MIN``, so ``(MIN, MAX]`` holds every key.) Each range has its replicas for the keyspace, primary first.
2. **Pieces.** Each node reports the size of its own primary ranges in ``system.size_estimates`` (read from every
   node); a range larger than the split size is cut into equal-width pieces no larger than it. ``min_pieces``
   asks for at least that many pieces in all (the widest pieces are cut further).
3. **Groups.** Pieces with the same replicas are packed, in token order, into groups of about the split size;
   a group is read from its replicas, the first one preferred.

Every key's token lies in exactly one piece, so reading every piece reads every row exactly once. A server with
no estimates yet (a new table whose data is still in memtables) gives sizes of 0: the ring is then cut into at
least 16 pieces per replica host, grouped four at a time.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import ConfigurationError

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1
UNKNOWN_PER_GROUP = 4  # pieces per group when the server has no size estimates
UNKNOWN_PER_HOST = 16  # pieces per replica host, at least, when the server has no size estimates
MAX_PIECES = 100_000  # more queries than this for one table means the split size is far too small


@dataclass(frozen=True, order=True)
class TokenRange:
    """The tokens ``start < token <= end`` (never wrapping: ``start < end``)."""

    start: int
    end: int

    @property
    def width(self) -> int:
        return self.end - self.start

    def split(self, parts: int) -> list[TokenRange]:
        """``parts`` adjacent ranges of (nearly) equal width that together are this one."""
        parts = max(1, min(parts, self.width))
        bounds = [self.start + (self.width * i) // parts for i in range(parts)] + [self.end]
        return [TokenRange(a, b) for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class Piece:
    """A range read by one query, its replicas (preferred first) and its estimated size in bytes."""

    range: TokenRange
    replicas: tuple[str, ...]
    size: float = 0.0


@dataclass(frozen=True)
class Group:
    """Pieces that share their replicas, read together (one Dask partition)."""

    replicas: tuple[str, ...]
    pieces: tuple[Piece, ...]

    @property
    def size(self) -> float:
        return sum(piece.size for piece in self.pieces)


def ring_ranges(tokens: Iterable[int]) -> list[TokenRange]:
    """The ranges between the ring's tokens, in token order, the wrap-around range split at the ring's edge."""
    ring = sorted(set(tokens))
    if not ring:
        return [TokenRange(MIN_TOKEN, MAX_TOKEN)]
    bounds = [MIN_TOKEN, *ring, MAX_TOKEN] if ring[0] != MIN_TOKEN else [*ring, MAX_TOKEN]
    return [TokenRange(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def uniform_ranges(splits: int) -> list[TokenRange]:
    """``splits`` adjacent ranges of equal width covering the whole ring (a ring whose tokens are unknown)."""
    if splits < 1:
        raise ConfigurationError(f"splits must be at least 1, got {splits}")
    return TokenRange(MIN_TOKEN, MAX_TOKEN).split(splits)


def estimated_sizes(ranges: Sequence[TokenRange], estimates: Iterable[tuple[int, int, float]]) -> list[float]:
    """Each range's share of the estimates ``(start, end, bytes)``; an estimate may wrap (``start >= end``).

    An estimate counts towards a range in proportion to how much of the estimate's tokens the range covers;
    one over no token at all, ``(MAX_TOKEN, MIN_TOKEN]``, counts nowhere.
    """
    sizes = [0.0] * len(ranges)
    starts = [r.start for r in ranges]
    for start, end, size in estimates:
        if size <= 0:
            continue
        # (start, end] wraps when start >= end; start == end is the whole ring (a ring of one token).
        parts = [TokenRange(start, end)] if start < end else [TokenRange(start, MAX_TOKEN), TokenRange(MIN_TOKEN, end)]
        parts = [part for part in parts if part.start < part.end]
        total = sum(part.width for part in parts)
        for part in parts:
            i = max(0, bisect.bisect_right(starts, part.start) - 1)
            while i < len(ranges) and ranges[i].start < part.end:
                overlap = min(ranges[i].end, part.end) - max(ranges[i].start, part.start)
                if overlap > 0:
                    sizes[i] += size * overlap / total
                i += 1
    return sizes


def plan(
    ranges: Sequence[tuple[TokenRange, tuple[str, ...]]], sizes: Sequence[float], split_size: float, *,
    min_pieces: int = 1, per_host_when_unknown: int = 0,
) -> list[Group]:  # fmt: skip
    """Cut ``ranges`` (each with its replicas and estimated size) into pieces and pack them into groups.

    Returns the groups in token order of their first piece; together their pieces cover the ranges exactly once.
    """
    if split_size <= 0 or not math.isfinite(split_size):
        raise ConfigurationError(f"the split size must be a positive number of bytes, got {split_size!r}")
    if min_pieces < 1:
        raise ConfigurationError(f"splits must be at least 1, got {min_pieces}")
    known = any(size > 0 for size in sizes)
    if not known:  # the size is unknown: enough pieces that every host serves several partitions
        hosts = {host for _, replicas in ranges for host in replicas}
        min_pieces = max(min_pieces, per_host_when_unknown * max(len(hosts), 1))
    parts = [_parts(size, token_range.width, split_size) for (token_range, _), size in zip(ranges, sizes, strict=True)]
    if sum(parts) > MAX_PIECES:
        raise ConfigurationError(
            f"a split size of {split_size / 2**20:.3g} MB cuts this table ({sum(sizes) / 2**20:.3g} MB estimated) "
            f"into {sum(parts):,} pieces, more than {MAX_PIECES:,}: use a larger split size"
        )
    _cut_widest(ranges, parts, min_pieces)
    pieces: dict[tuple[str, ...], list[Piece]] = defaultdict(list)
    for (token_range, replicas), size, count in zip(ranges, sizes, parts, strict=True):
        for piece in token_range.split(count):
            pieces[replicas].append(Piece(piece, replicas, size * piece.width / token_range.width))
    groups = [group for replicas, found in pieces.items() for group in _pack(replicas, found, split_size, known)]
    return sorted(groups, key=lambda group: group.pieces[0].range.start)


def _parts(size: float, width: int, split_size: float) -> int:
    """How many pieces to cut a range of ``width`` tokens and ``size`` bytes into, so that even its widest
    piece (the widths are whole numbers of tokens, so they differ by one) stays within ``split_size``."""
    parts = max(1, math.ceil(size / split_size))
    if size * -(-width // parts) / width <= split_size * (1 + 1e-9):  # ceil(width / parts): the widest
        return parts
    widest = max(1, math.floor(split_size * width / size))  # tokens a piece may span
    return min(width, -(-width // widest))


def _cut_widest(ranges: Sequence[tuple[TokenRange, tuple[str, ...]]], parts: list[int], min_pieces: int) -> None:
    """Give more parts to the ranges whose pieces are widest until there are ``min_pieces`` in all."""
    missing = min_pieces - sum(parts)
    if missing <= 0:
        return
    widest = [(-ranges[i][0].width / parts[i], i) for i in range(len(parts))]
    heapq.heapify(widest)
    for _ in range(missing):
        _, i = heapq.heappop(widest)
        if parts[i] >= ranges[i][0].width:
            continue  # a range of width 1 cannot be cut further
        parts[i] += 1
        heapq.heappush(widest, (-ranges[i][0].width / parts[i], i))


def _pack(replicas: tuple[str, ...], pieces: Sequence[Piece], split_size: float, known: bool) -> list[Group]:
    """Consecutive pieces into groups of at most ``split_size`` bytes (or ``UNKNOWN_PER_GROUP`` pieces)."""
    groups: list[Group] = []
    current: list[Piece] = []
    filled = 0.0
    for piece in pieces:
        full = filled + piece.size > split_size if known else len(current) >= UNKNOWN_PER_GROUP
        if current and full:
            groups.append(Group(replicas, tuple(current)))
            current, filled = [], 0.0
        current.append(piece)
        filled += piece.size
    if current:
        groups.append(Group(replicas, tuple(current)))
    return groups


# ----------------------------------------------------------------------------- the ring of a live cluster
def replica_ranges(cluster: Any, keyspace: str) -> list[tuple[TokenRange, tuple[str, ...]]]:
    """The ring's ranges with the addresses of their replicas for ``keyspace``, from the driver's token map.

    Without a token map (token metadata off) the whole ring is one range that any host may serve.
    """
    token_map = cluster.metadata.token_map
    if token_map is None or not token_map.ring:
        return [(r, ()) for r in ring_ranges([])]
    token_type = type(token_map.ring[0])
    ring = [int(token.value) for token in token_map.ring]
    out = []
    for token_range in ring_ranges(ring):
        # A range (a, b] belongs to the owner of token b; the edge range (last, MAX] to the first token's owner.
        end = token_range.end if token_range.end != MAX_TOKEN or MAX_TOKEN in ring else ring[0]
        replicas = token_map.get_replicas(keyspace, token_type(end))
        out.append((token_range, tuple(_address(host) for host in replicas)))
    return out


def _address(host: Any) -> str:
    endpoint = host.endpoint
    return f"{endpoint.address}:{endpoint.port}"


def size_estimate_rows(rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> list[tuple[int, int, float]]:
    """``(start, end, bytes)`` from rows of ``range_start, range_end, mean_partition_size, partitions_count``."""
    out = []
    for start, end, mean, count in rows:
        out.append((int(start), int(end), float(mean or 0) * float(count or 0)))
    return out
