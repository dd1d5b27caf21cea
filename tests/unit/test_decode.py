"""Pages for DataFrames decoded with cheaper readings of the same bytes (cassnb._decode), without a server."""

from __future__ import annotations

import copy
import pickle
import uuid

from cassandra import cqltypes

from cassnb._decode import FRAME_DECODING, uuids
from cassnb._types import frame_decode_type


def test_the_frame_decoding_is_there_with_the_drivers_compiled_parser() -> None:
    from cassandra.protocol import HAVE_CYTHON

    assert HAVE_CYTHON, "the driver installed here is not the compiled one"
    assert FRAME_DECODING is not None, "cassnb._decode could not build on this driver's result parsing"


def test_uuids_from_their_bytes_are_the_drivers_uuids() -> None:
    values = [uuid.uuid4(), uuid.uuid1(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    made = uuids([v.bytes for v in values] + [None, values[0]])
    assert made[:4] == values
    assert made[4] is None and made[5] is values[0]
    for original, new in zip(values, made, strict=False):
        assert type(new) is uuid.UUID and new.is_safe is uuid.SafeUUID.unknown
        assert (str(new), hash(new), new.version) == (str(original), hash(original), original.version)
        assert pickle.loads(pickle.dumps(new)) == original == copy.deepcopy(new)


def test_which_types_are_read_another_way() -> None:
    assert frame_decode_type(cqltypes.UUIDType) is cqltypes.BytesType
    assert frame_decode_type(cqltypes.TimeUUIDType) is cqltypes.BytesType
    assert frame_decode_type(cqltypes.DateType) is cqltypes.LongType  # the driver's class for timestamp
    list_of_uuids = cqltypes.lookup_casstype("ListType(UUIDType)")
    for same in (cqltypes.LongType, cqltypes.UTF8Type, list_of_uuids):  # collections keep the driver's objects
        assert frame_decode_type(same) is same
