"""Pure pieces of the Lua runtime: table <-> plain data, limits, Go time layouts. No
processes and no sockets (one bare Lua state for the conversions)."""
from __future__ import annotations

import pytest

from wippy.errors import InvalidMessage
from wippy.lua import limits, timefmt
from wippy.lua.engine import from_lua, to_lua

pytestmark = pytest.mark.timeout(30)


class _State:
    """What to_lua needs: a lupa runtime (no prelude, no hook)."""

    def __init__(self) -> None:
        import lupa.lua54 as lua54
        self.lua = lua54.LuaRuntime(encoding=None, unpack_returned_tuples=True)


@pytest.fixture(scope="module")
def st() -> _State:
    return _State()


def lua_eval(st: _State, code: str):
    return st.lua.eval(code)


def test_a_table_with_keys_1_to_n_is_a_list(st):
    assert from_lua(lua_eval(st, "{10, 20, 30}")) == [10, 20, 30]


def test_an_empty_table_is_an_empty_map(st):
    assert from_lua(lua_eval(st, "{}")) == {}


def test_an_empty_table_can_be_read_as_an_empty_list_for_json(st):
    assert from_lua(lua_eval(st, "{}"), empty=list) == []


def test_string_keys_make_a_map_and_integers_stay_integers(st):
    got = from_lua(lua_eval(st, "{a = 1, b = 2.5, c = {x = true}}"))
    assert got == {"a": 1, "b": 2.5, "c": {"x": True}}
    assert type(got["a"]) is int and type(got["b"]) is float


def test_mixed_integer_and_string_keys_make_a_map(st):
    assert from_lua(lua_eval(st, "{1, 2, x = 3}")) == {1: 1, 2: 2, "x": 3}


def test_a_hole_made_by_nil_comes_back_as_none(st):
    assert from_lua(lua_eval(st, "{1, nil, 3}")) == [1, None, 3]


def test_sparse_integer_keys_stay_a_map(st):
    assert from_lua(lua_eval(st, "{[100] = 'a', [200] = 'b'}")) == {100: "a", 200: "b"}
    assert from_lua(lua_eval(st, "{[2] = 'x'}")) == {2: "x"}


def test_non_utf8_strings_become_bytes_and_utf8_strings_str(st):
    got = from_lua(lua_eval(st, "{'h\\xc3\\xa9', '\\xff\\x00'}"))
    assert got == ["hé", b"\xff\x00"]


def test_functions_are_not_plain_data(st):
    with pytest.raises(InvalidMessage, match="Lua function is not plain data"):
        from_lua(lua_eval(st, "{f = print}"))


def test_float_keys_are_refused(st):
    with pytest.raises(InvalidMessage, match="float"):
        from_lua(lua_eval(st, "{[1.5] = 1}"))


def test_a_cycle_is_refused_not_followed_forever(st):
    with pytest.raises(InvalidMessage, match="deeper than 100"):
        from_lua(lua_eval(st, "(function() local t = {} t.self = t return t end)()"))


def test_python_data_round_trips_through_lua(st):
    data = {"n": 1, "f": 2.5, "s": "héllo", "b": b"\xff", "l": [1, [2, 3], {"k": None}],
            "t": True, 7: "int key"}
    back = from_lua(to_lua(st, data))
    assert back == {"n": 1, "f": 2.5, "s": "héllo", "b": b"\xff", "l": [1, [2, 3], {}],
                    "t": True, 7: "int key"}


def test_tuples_become_lists(st):
    assert from_lua(to_lua(st, (1, "a"))) == [1, "a"]


def test_objects_that_are_not_plain_data_are_refused_on_the_way_in(st):
    with pytest.raises(InvalidMessage, match="cannot be passed to Lua"):
        to_lua(st, {"x": object()})


# -- limits ----------------------------------------------------------------------------------
def test_entry_limits_win_over_host_limits_field_by_field():
    got = limits.resolve({"max_memory": 1 << 20}, {"max_memory": 1 << 30, "max_cpu": 2.0})
    assert got == limits.Limits(max_memory=1 << 20, max_cpu=2.0)


def test_without_limits_the_defaults_apply():
    assert limits.resolve(None, None) == limits.Limits(limits.DEFAULT_MAX_MEMORY, None)


def test_sizes_are_described_in_binary_units():
    assert limits.describe_bytes(64 << 20) == "64 MB"
    assert limits.describe_bytes(1000) == "1000 bytes"


# -- time layouts ----------------------------------------------------------------------------
NS = 1703862245_123456789     # 2023-12-29T15:04:05.123456789Z


@pytest.mark.parametrize("layout, expected", [
    ("2006-01-02T15:04:05Z07:00", "2023-12-29T15:04:05Z"),
    ("2006-01-02T15:04:05.999999999Z07:00", "2023-12-29T15:04:05.123456789Z"),
    ("Mon Jan _2 15:04:05 2006", "Fri Dec 29 15:04:05 2023"),
    ("3:04PM", "3:04PM"),
    ("02/01/06 15:04:05.000", "29/12/23 15:04:05.123"),
    ("Monday, January 2", "Friday, December 29"),
])
def test_go_layouts_format_like_go(layout, expected):
    assert timefmt.format_time(NS, layout) == expected


def test_a_fixed_offset_shows_in_the_zone_fields():
    assert timefmt.format_time(NS, "15:04 -07:00", 5 * 3600 + 1800) == "20:34 +05:30"


def test_parse_reads_what_format_writes():
    layout = timefmt.LAYOUTS["RFC3339NANO"]
    assert timefmt.parse_time(layout, timefmt.format_time(NS, layout)) == NS
    assert timefmt.parse_time("2006-01-02", "2024-12-29") == 1735430400 * 10**9


def test_parse_honours_the_offset_in_the_text():
    assert timefmt.parse_time(timefmt.LAYOUTS["RFC3339"], "2024-01-01T01:00:00+01:00") == \
        timefmt.parse_time(timefmt.LAYOUTS["RFC3339"], "2024-01-01T00:00:00Z")


def test_parse_rejects_text_that_does_not_match():
    with pytest.raises(ValueError, match="cannot parse"):
        timefmt.parse_time("2006-01-02", "yesterday")
