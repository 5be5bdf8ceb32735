"""Run-time type values (the Lua prelude): validation, casts, reflection, comparison, laziness."""
from __future__ import annotations

from typing import Any

import lupa.lua54 as lua54
import pytest
from test_typedlua_support import load_chunk, new_state, run_typed, to_py

from wippy.typedlua.types_rt import (
    CORE_CHUNK_NAME,
    PRELUDE_CHUNK_NAME,
    core_source,
    engine_source,
    prelude,
)

TYPES = """
type User = {name: string, age?: integer @min(0)}
type Tags = {string @min_len(1)}
type Scores = {[string]: number}
type Shape = "circle" | "square"
type Point = {x: number, y: number}
type Named = {name: string}
"""


def ev(expr: str, prelude_code: str = TYPES) -> Any:
    """Value of a Lua expression evaluated after ``prelude_code`` (typed Lua)."""
    return run_typed(prelude_code + "\nreturn " + expr, "ev.lua")


def err(expr: str, prelude_code: str = TYPES) -> str:
    """Message of the error value returned second by ``expr`` (a ``T:is(...)`` call)."""
    return run_typed(prelude_code + f"\nlocal _, e = {expr}\nreturn e:message()", "err.lua")


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, ok", [
    ('User:is({name = "a"})', True),
    ('User:is({name = "a", age = 3, extra = true})', True),      # records are open
    ('User:is({name = "a", age = 3.0})', True),                  # integral float is an integer
    ('User:is({name = "a", age = 3.5})', False),
    ('User:is({name = "a", age = -1})', False),
    ('User:is({age = 1})', False),
    ('User:is("a")', False),
    ('Tags:is({})', True),
    ('Tags:is({"a", "b"})', True),
    ('Tags:is({"a", ""})', False),
    ('Tags:is({"a", nil, "c"})', False),
    ('Tags:is({"a", x = "b"})', False),                          # not an array
    ('Scores:is({a = 1, b = 2.5})', True),
    ('Scores:is({[1] = 1})', False),                             # key type checked
    ('Shape:is("circle")', True),
    ('Shape:is("triangle")', False),
    ('Named:is(setmetatable({}, {__index = {name = "m"}}))', True),  # fields read with indexing
])
def test_is_accepts_exactly_the_values_of_the_type(expr: str, ok: bool) -> None:
    assert ev(f"({expr}) ~= nil") is ok


def test_is_returns_the_value_itself_and_nil() -> None:
    assert ev('(function() local t = {name = "a"} local v, e = User:is(t) '
              'return rawequal(v, t) and e == nil end)()') is True


def test_calling_a_type_returns_the_same_value_or_raises_an_invalid_error() -> None:
    assert ev('(function() local t = {name = "a"} return rawequal(User(t), t) end)()') is True
    out = run_typed(TYPES + '\nlocal ok, e = pcall(User, {name = 1})\n'
                            'return {ok, e:kind(), e:message(), e:retryable(), tostring(e)}',
                    "raise.lua")
    assert out == [False, "INVALID",
                   "raise.lua:9: User: field 'name': expected string, got integer 1",
                   False, "raise.lua:9: User: field 'name': expected string, got integer 1"]


@pytest.mark.parametrize("expr, message", [
    ('User:is({name = "a", age = -1})', "User: field 'age': must be >= 0 (minimum), got integer -1"),
    ('User:is({age = 1})', "User: missing field 'name'"),
    ('User:is(5)', "User: expected {name: string, age?: integer @min(0)}, got integer 5"),
    ('Tags:is({"a", x = "b"})', 'Tags: expected {string @min_len(1)}, got a table with key '
                                'string "x"'),
    ('Scores:is({[true] = 1})', "Scores: key field '[true]': expected string, got true"),
    ('Shape:is(1)', 'Shape: expected "circle" | "square", got integer 1'),
    ('Point:is({x = 1, y = "2"})', "Point: field 'y': expected number, got string \"2\""),
])
def test_validation_errors_name_the_type_the_field_and_the_value(expr: str, message: str) -> None:
    assert err(expr) == message


def test_validators_count_utf8_characters_for_string_length() -> None:
    code = "type Short = string @max_len(3)"
    assert ev('Short:is("héé") ~= nil', code) is True
    assert ev('Short:is("héé!") == nil', code) is True


# -- builtin casts -----------------------------------------------------------------------------

@pytest.mark.parametrize("expr, expected", [
    ("string(42)", "42"), ('string("s")', "s"), ("string(1.5)", "1.5"),
    ('number("1.5")', 1.5), ("number(2)", 2), ('number("0x10")', 16),
    ('integer("7")', 7), ("integer(7.0)", 7), ("math.type(integer(7.0))", "integer"),
    ("boolean(false)", False),
    ('String("x")', "x"), ("Integer(3)", 3),
])
def test_builtin_casts_convert_losslessly(expr: str, expected: Any) -> None:
    assert ev(expr, "") == expected


@pytest.mark.parametrize("expr", ["string(nil)", "string({})", "string(true)", 'number("x")',
                                  "integer(1.5)", 'integer("1.5")', "boolean(1)",
                                  'boolean("true")'])
def test_builtin_casts_refuse_what_they_cannot_convert(expr: str) -> None:
    out = run_typed(f"local ok, e = pcall(function() return {expr} end)\n"
                    "return {ok, e:kind()}", "cast.lua")
    assert out == [False, "INVALID"]


def test_is_never_converts() -> None:
    assert ev('Integer:is("5") == nil and String:is(5) == nil and Integer:is(5) == 5', "") is True


def test_the_string_library_still_works_with_its_call() -> None:
    assert ev('string.format("%d", 5) .. ("x"):upper() .. string.rep("a", 2)', "") == "5Xaa"


# -- reflection --------------------------------------------------------------------------------

def test_kind_name_and_structure_of_every_kind_of_type() -> None:
    code = TYPES + """
type Opt = number?
type Fn = (a: number, b: string) -> (boolean, string?)
type Both = Named & Point
type Lit = 42
local r: Result<number, string>
type Result<T, E> = {ok: true, value: T} | {ok: false, error: E}
"""
    out = ev("{User:kind(), User:name(), Tags:kind(), Tags:elem():kind(), Scores:key():kind(),"
             " Scores:val():kind(), Shape:kind(), Opt:kind(), Opt:inner():kind(), Fn:kind(),"
             " Fn:ret():kind(), Both:kind(), Lit:kind(), Lit:value(), Number:name(),"
             " typeof(r):name(), typeof(r):kind(), tostring(Fn), tostring(Opt)}", code)
    assert out == ["record", "User", "array", "string", "string", "number", "union", "optional",
                   "number", "function", "boolean", "intersection", "literal", 42, "number",
                   "Result<number, string>", "union", "(number, string) -> (boolean, string?)",
                   "number?"]


def test_field_named_like_a_method_is_both_a_field_type_and_the_method() -> None:
    out = ev("{User:name(), User.name:kind(), User.age:kind(), User:field('name'):kind()}")
    assert out == ["User", "string", "integer", "string"]


def test_fields_iterates_in_declaration_order_with_optional_flag() -> None:
    out = run_typed(TYPES + "\nlocal out = {}\nfor n, t, opt in User:fields() do "
                            "out[#out + 1] = n .. ':' .. t:kind() .. ':' .. tostring(opt) end\n"
                            "return out", "fields.lua")
    assert out == ["name:string:false", "age:integer:true"]


def test_typeof_gives_the_dynamic_type_of_unannotated_values() -> None:
    out = ev("{typeof(nil):kind(), typeof(1):kind(), typeof(1.5):kind(), typeof('s'):kind(),"
             " typeof({}):kind(), typeof(print):kind(), typeof(true):kind(),"
             " typeof(1) == Integer, typeof(1.5) == Number}", "")
    assert out == ["nil", "integer", "number", "string", "table", "function", "boolean",
                   True, True]


@pytest.mark.parametrize("expr, expected", [
    ("Number == Number", True), ("Integer <= Number", True), ("Integer < Number", True),
    ("Number <= Integer", False), ("Number < Number", False),
    ("User == User", True), ("Point <= Named", False),
    ("__wippy_types.record({{'name', String}, {'x', Number}}) <= Named", True),
    ("__wippy_types.lit('a') <= String", True), ("Shape <= String", True),
    ("String <= Shape", False), ("__wippy_types.opt(Number) <= Number", False),
    ("Number <= __wippy_types.opt(Number)", True), ("Never <= User", True),
    ("User <= Any", True), ("Any <= User", False),
    ("__wippy_types.array(Integer) <= __wippy_types.array(Number)", True),
    ("__wippy_types.func({Number}, {Integer}) <= __wippy_types.func({Integer}, {Number})", True),
    ("__wippy_types.func({Integer}, {Number}) <= __wippy_types.func({Number}, {Integer})",
     False),
    ("__wippy_types.record({{'name', String}}) == Named", True),
])
def test_comparison_is_structural_subtyping(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


def test_types_are_usable_as_table_keys() -> None:
    assert ev("(function() local h = {[Number] = 'n', [String] = 's'} "
              "return h[typeof(1.5)] .. h[typeof('x')] end)()", "") == "ns"


def test_a_name_that_resolves_to_nothing_validates_as_any() -> None:
    assert ev('Holder:is({x = "anything"}) ~= nil', "type Holder = {x: NoSuchType}") is True


# -- the installer -----------------------------------------------------------------------------

def test_installer_creates_nothing_until_a_type_global_is_touched() -> None:
    lua = new_state(env=True)
    env = lua.globals()._SANDBOX
    assert [lua54.lua_type(env[k]) for k in ("print", "string")] == ["function", "table"]
    raw = lua.eval("function(t, k) return rawget(t, k) end")
    assert raw(env, "__wippy_types") is None and raw(env, "Number") is None
    assert lua.eval("function(e) return e.Number:kind() end")(env) == "number"
    assert raw(env, "Number") is not None and raw(env, "__wippy_types") is not None


def test_installer_with_env_false_only_returns_the_loader_and_the_names() -> None:
    lua = lua54.LuaRuntime()
    g = lua.globals()
    core, names = g.load(prelude(), PRELUDE_CHUNK_NAME)(False, core_source(), engine_source())
    assert lua.eval("getmetatable(_G)") is None and g.Number is None
    assert sorted(to_py(names)) == sorted(["__wippy_types", "typeof", "Number", "Integer",
                                           "String", "Boolean", "Nil", "Any", "Unknown",
                                           "Never", "number", "integer", "boolean"])
    assert core().globals.Number.kind(core().globals.Number) == "number"
    assert lua.eval("string(5)") == "5"


def test_a_protected_environment_gets_the_globals_at_once() -> None:
    lua = lua54.LuaRuntime()
    env = lua.eval("setmetatable({string = {}}, {__metatable = false})")
    lua.globals().load(prelude(), PRELUDE_CHUNK_NAME)(env, core_source(), engine_source())
    assert lua.eval("function(t) return rawget(t, 'Number') ~= nil end")(env) is True


def test_make_error_hook_builds_the_errors_validation_raises() -> None:
    lua = lua54.LuaRuntime()
    g = lua.globals()
    make = lua.eval("function(m) return {kind = 'MINE', msg = m} end")
    g.load(prelude(), PRELUDE_CHUNK_NAME)(g, core_source(), engine_source(), make)
    out = lua.eval("(function() local _, e = Integer:is('x') return e.kind .. ':' .. e.msg end)()")
    assert out == "MINE:expected integer, got string \"x\""


def test_precompiled_core_keeps_its_chunk_name_for_error_locations() -> None:
    out = run_typed("local ok, e = pcall(function() return integer('x') end)\n"
                    "return tostring(e)", "loc.lua", precompiled=True)
    assert out == 'loc.lua:1: expected integer, got string "x"'
    assert CORE_CHUNK_NAME.startswith("=[wippy types")


def test_user_code_may_shadow_the_cast_names() -> None:
    assert ev("(function() local number = 5 local string = 'x' return number .. string end)()",
              "") == "5x"


def test_prelude_twice_in_two_states_keeps_them_apart() -> None:
    a, b = new_state(), new_state()
    load_chunk(a, "Marker = __wippy_types", "a.lua")()
    assert b.eval("Marker") is None


def test_types_work_after_the_sandbox_prunes_the_globals() -> None:
    """The core and engine load lazily, after a sandbox removed load/debug/...: they must use
    only what the installer captured."""
    lua = new_state()
    lua.execute("load, debug, ipairs, pairs, pcall_saved = nil, nil, nil, nil, pcall\n"
                "math, table, utf8 = {}, {}, {}")
    out = lua.execute("""
        local T = __wippy_types
        local User = T.def(T.scope(), "User", T.record({{"name", T.v(String, {{"min_len", 2}})}}))
        local ok, e = pcall_saved(User, {name = "a"})
        return e:message(), User:kind(), typeof(1.5):kind(), integer("3")""")
    assert list(out) == ["[string \"<python>\"]:4: User: field 'name': length must be >= 2, "
                         "got string \"a\"", "record", "number", 3]
