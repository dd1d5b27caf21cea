"""Named-tuple rows: the driver's rows and naming rules, one class per column list."""

from __future__ import annotations

from cassandra.query import named_tuple_factory

from cassnb import _rows
from cassnb._rows import named_tuple_rows, row_class
from cassnb.options import RowFormat


def test_rows_are_named_tuples_with_attribute_and_index_access() -> None:
    rows = named_tuple_rows(["id", "name"], [(1, "a"), (2, "b")])
    assert [(r.id, r.name) for r in rows] == [(1, "a"), (2, "b")]
    assert rows[1][0] == 2 and rows[0]._asdict() == {"id": 1, "name": "a"}
    assert rows == [(1, "a"), (2, "b")]


def test_one_class_per_column_list() -> None:
    first = named_tuple_rows(["k", "v"], [(1, 2)])[0]
    again = named_tuple_rows(("k", "v"), [(3, 4)])[0]
    other = named_tuple_rows(["k", "w"], [(1, 2)])[0]
    assert type(first) is type(again) is row_class(["k", "v"])
    assert type(other) is not type(first)
    assert type(named_tuple_factory(["k", "v"], [(1, 2)])[0]) is not type(first)  # the driver makes a new one


def test_names_follow_the_driver_s_rules() -> None:
    for names in (["count(*)"], ["[applied]", "id"], ["a", "a"], ["class", "1x"], ["system.now()"]):
        ours = named_tuple_rows(names, [tuple(range(len(names)))])[0]
        drivers = named_tuple_factory(names, [tuple(range(len(names)))])[0]
        assert ours._fields == drivers._fields and tuple(ours) == tuple(drivers)


def test_the_cache_is_bounded() -> None:
    _rows._classes.clear()
    for i in range(_rows.MAX_CLASSES + 5):
        row_class([f"c{i}"])
    assert len(_rows._classes) <= _rows.MAX_CLASSES


def test_the_named_tuple_row_format_uses_the_cached_classes() -> None:
    assert RowFormat.NAMED_TUPLE.factory() is named_tuple_rows
