"""The token-range planner: for any ring, estimates and split size, its pieces cover the ring exactly once."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cassnb._token_ranges import (
    MAX_TOKEN,
    MIN_TOKEN,
    TokenRange,
    estimated_sizes,
    plan,
    ring_ranges,
    uniform_ranges,
)
from cassnb.exceptions import ConfigurationError

tokens = st.integers(min_value=MIN_TOKEN, max_value=MAX_TOKEN)
HOSTS = ("127.0.0.11:9042", "127.0.0.12:9042", "127.0.0.13:9042", "127.0.0.14:9042")


def assert_covers_ring_once(ranges: list[TokenRange]) -> None:
    ordered = sorted(ranges)
    assert ordered[0].start == MIN_TOKEN and ordered[-1].end == MAX_TOKEN
    assert all(r.start < r.end for r in ordered), "an empty or reversed range"
    for a, b in itertools.pairwise(ordered):
        assert a.end == b.start, f"gap or overlap between {a} and {b}"


@st.composite
def rings(draw: st.DrawFn) -> tuple[list[int], list[tuple[TokenRange, tuple[str, ...]]]]:
    ring = draw(st.lists(tokens, min_size=0, max_size=60, unique=True))
    if draw(st.booleans()) and ring:
        ring[0] = MIN_TOKEN  # a node may own the ring's edge itself
    rf = draw(st.integers(1, 3))
    ranges = []
    for token_range in ring_ranges(ring):
        first = draw(st.integers(0, len(HOSTS) - 1))
        ranges.append((token_range, tuple(HOSTS[(first + i) % len(HOSTS)] for i in range(rf))))
    return ring, ranges


estimates = st.lists(st.tuples(tokens, tokens, st.floats(0, 1e8, allow_nan=False)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(
    ring=rings(),
    estimate_rows=estimates,
    split_size=st.floats(1e6, 1e10, allow_nan=False),
    min_pieces=st.integers(1, 200),
)
def test_pieces_cover_the_ring_exactly_once(
    ring: tuple[list[int], list[tuple[TokenRange, tuple[str, ...]]]],
    estimate_rows: list[tuple[int, int, float]],
    split_size: float,
    min_pieces: int,
) -> None:
    tokens_of_ring, ranges = ring
    assert_covers_ring_once([r for r, _ in ranges])
    bounds = {r.start for r, _ in ranges} | {r.end for r, _ in ranges}
    assert bounds == set(tokens_of_ring) | {MIN_TOKEN, MAX_TOKEN}
    sizes = estimated_sizes([r for r, _ in ranges], estimate_rows)
    groups = plan(ranges, sizes, split_size, min_pieces=min_pieces)
    pieces = [piece for group in groups for piece in group.pieces]
    assert_covers_ring_once([piece.range for piece in pieces])
    owner = {r: replicas for r, replicas in ranges}
    for group in groups:
        assert group.pieces and all(piece.replicas == group.replicas for piece in group.pieces)
        if len(group.pieces) > 1 and any(size > 0 for size in sizes):
            assert group.size <= split_size * (1 + 1e-9)
    for piece in pieces:
        holder = next(r for r in owner if r.start <= piece.range.start and piece.range.end <= r.end)
        assert piece.replicas == owner[holder]
        assert piece.size <= split_size * (1 + 1e-9) or piece.range.width == 1  # one token cannot be cut
    if all(r.width >= min_pieces for r, _ in ranges):
        assert len(pieces) >= min_pieces
    # The estimates are shared out, not lost or counted twice.
    # (MAX, MIN] is the one estimate range that holds no token (it wraps from the last token to the ring's
    # start): there is nowhere to put its size. Every other estimate is shared out in full.
    total = sum(size for start, end, size in estimate_rows if size > 0 and (start, end) != (MAX_TOKEN, MIN_TOKEN))
    assert math.isclose(sum(piece.size for piece in pieces), total, rel_tol=1e-6, abs_tol=1e-3)


def test_the_wrap_around_range_is_split_at_the_edge_and_goes_to_the_first_owner() -> None:
    ranges = ring_ranges([-100, 0, 100])
    assert ranges == [
        TokenRange(MIN_TOKEN, -100), TokenRange(-100, 0), TokenRange(0, 100), TokenRange(100, MAX_TOKEN),
    ]  # fmt: skip
    # An estimate for the wrapping range (100, -100] lands on both of its halves, by width.
    sizes = estimated_sizes(ranges, [(100, -100, 1000.0)])
    assert sizes[1] == sizes[2] == 0 and math.isclose(sizes[0] + sizes[3], 1000.0)


def test_large_ranges_are_cut_to_the_split_size_and_packed_by_replica_set() -> None:
    a, b = ("n1", "n2"), ("n2", "n3")
    ranges = [(TokenRange(MIN_TOKEN, 0), a), (TokenRange(0, MAX_TOKEN), b)]
    groups = plan(ranges, [10_000.0, 2_500.0], 1_000.0)
    assert [len(g.pieces) for g in groups if g.replicas == a] == [1] * 10
    assert [len(g.pieces) for g in groups if g.replicas == b] == [1, 1, 1]  # 2,500 bytes in 3 pieces of 833
    # Small pieces of one replica set share a group up to the split size.
    many = [(r, a) for r in uniform_ranges(8)]
    assert [len(g.pieces) for g in plan(many, [100.0] * 8, 450.0)] == [4, 4]


def test_without_estimates_each_host_gets_sixteen_pieces_in_groups_of_four() -> None:
    one_host = [(r, ("n1",)) for r in uniform_ranges(2)]
    assert [len(g.pieces) for g in plan(one_host, [0.0, 0.0], 1e6, per_host_when_unknown=16)] == [4, 4, 4, 4]
    assert [len(g.pieces) for g in plan(one_host, [0.0, 0.0], 1e6, min_pieces=24, per_host_when_unknown=16)] == [4] * 6
    ring = [(r, (f"n{i % 3}", f"n{(i + 1) % 3}")) for i, r in enumerate(uniform_ranges(48))]
    assert sum(len(g.pieces) for g in plan(ring, [0.0] * 48, 1e6, per_host_when_unknown=16)) == 48


def test_bad_plans_are_refused_with_what_to_change() -> None:
    with pytest.raises(ConfigurationError, match="split size must be a positive"):
        plan([(TokenRange(MIN_TOKEN, MAX_TOKEN), ())], [0.0], 0)
    with pytest.raises(ConfigurationError, match="splits must be at least 1"):
        uniform_ranges(0)
    with pytest.raises(ConfigurationError, match=r"into 1,000,000 pieces.*use a larger split size"):
        plan([(TokenRange(MIN_TOKEN, MAX_TOKEN), ())], [1e6], 1.0)


def test_an_odd_width_range_is_cut_so_that_its_widest_piece_fits() -> None:
    # Found by the property test above: 103 tokens holding 1.99 split sizes cut in two gives pieces of 51 and
    # 52 tokens, and the 52-token one is over the split size; three pieces fit.
    sizes = estimated_sizes([TokenRange(1, 104)], [(-9, 103, 2_189_262.0)])
    groups = plan([(TokenRange(1, 104), ("a",))], sizes, 1_000_000.0)
    pieces = [piece for group in groups for piece in group.pieces]
    assert len(pieces) == 3 and max(piece.size for piece in pieces) <= 1_000_000.0
    assert [piece.range.width for piece in pieces] == [34, 34, 35]
