"""The token ranges export_table reads cover the Murmur3 ring exactly once."""

import itertools

from cassnb.exports import token_ranges


def test_token_ranges_cover_the_ring_exactly_once() -> None:
    for splits in (1, 3, 32, 1000):
        ranges = token_ranges(splits)
        assert ranges[0][0] == -(2**63) and ranges[-1][1] == 2**63 - 1 and len(ranges) == splits
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(start < end for start, end in ranges)
