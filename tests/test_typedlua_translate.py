"""The translator: what is erased, what is kept, errors, cache, lint facts."""
from __future__ import annotations

import pickle

import pytest

from wippy.errors import ConfigError
from wippy.typedlua import TypedLuaError, translate
from wippy.typedlua.translate import PREFIX, cache_clear, cache_info, translate_full


def tr(src: str) -> str:
    out = translate(src, "t.lua")
    return out[len(PREFIX):] if out.startswith(PREFIX) else out


def blank(src: str, *erased: str) -> str:
    """``src`` with each of ``erased`` (found left to right) replaced by spaces."""
    out, pos = src, 0
    for piece in erased:
        i = out.index(piece, pos)
        out = out[:i] + " " * len(piece) + out[i + len(piece):]
        pos = i + len(piece)
    return out


@pytest.mark.parametrize("src, expected", [
    ("local x: number = 1", blank("local x: number = 1", ": number")),
    ("local a: {string}, b: number? = {}, nil",
     blank("local a: {string}, b: number? = {}, nil", ": {string}", ": number?")),
    ("local c <const>: integer = 1", blank("local c <const>: integer = 1", ": integer")),
    ("local c: integer <close> = nil", blank("local c: integer <close> = nil", ": integer")),
    ("local function f(a: number, b?: string): (number, string) end",
     blank("local function f(a: number, b?: string): (number, string) end",
           ": number", "?", ": string", ": (number, string)")),
    ("function M.f<T, U: Base>(x: T): U? end",
     blank("function M.f<T, U: Base>(x: T): U? end", "<T, U: Base>", ": T", ": U?")),
    ("function o:m(...: any): never end",
     blank("function o:m(...: any): never end", ": any", ": never")),
    ("local g = function<T>(x: T): T return x end",
     blank("local g = function<T>(x: T): T return x end", "<T>", ": T", ": T")),
    ("local y = x :: User", blank("local y = x :: User", " :: User")),
    ("local y = x as {[string]: number}",
     blank("local y = x as {[string]: number}", "as {[string]: number}")),
    ("local n = (u!).name", blank("local n = (u!).name", "!")),
    ("local n = u!.name:upper()", blank("local n = u!.name:upper()", "!")),
    ("for i: integer = 1, 2 do end", blank("for i: integer = 1, 2 do end", ": integer")),
    ("local f: (a: number, ...string) -> () = nil",
     blank("local f: (a: number, ...string) -> () = nil", ": (a: number, ...string) -> ()")),
    ("local m: Map<string, List<number>> = {}",
     blank("local m: Map<string, List<number>> = {}", ": Map<string, List<number>>")),
    ("local m: Box<number>= {}", blank("local m: Box<number>= {}", ": Box<number>")),
    ("local v: fun(x: number): string = nil",
     blank("local v: fun(x: number): string = nil", ": fun(x: number): string")),
    ("local w: readonly {number} = {}",
     blank("local w: readonly {number} = {}", ": readonly {number}")),
    ("local z: typeof(x) = x", blank("local z: typeof(x) = x", ": typeof(x)")),
    ("local k: keyof(User) = 'name'", blank("local k: keyof(User) = 'name'", ": keyof(User)")),
    ("local function p(x: any): asserts x is string end",
     blank("local function p(x: any): asserts x is string end", ": any",
           ": asserts x is string")),
])
def test_annotations_are_blanked_keeping_every_column(src: str, expected: str) -> None:
    assert tr(src) == expected


@pytest.mark.parametrize("src", [
    "print(type(x))", "local type = 1", "type = 2", "type.x = 1", 'type "s"', "type{1}",
    "local as = 1\nas = as + 1", "x = y\nas(1)", 'x = y\nas "s"', "x = y\nas {1}",
    "x = y\nas.z = 1", "x = y\nas[1] = 2", "x = y\nas:m()",
    "local interface = 1", "interface.x = 1", "interface(1)",
    "x = 1\n::top::", "x = y ::top::", "goto top", "a:b()", "a:type()", "a:as(1)",
    "local t = {type = 1, as = 2}", "local s = 'x :: T'", "-- local x: number",
    "local f = a < b and c > d", "local typeof = 1 print(typeof)",
])
def test_plain_lua_using_typed_words_is_left_alone(src: str) -> None:
    assert translate(src, "t.lua") is src


def test_a_multi_line_type_alias_becomes_one_local_on_its_first_line() -> None:
    src = "type User = {\n  name: string, -- the name\n  age?: number,\n}\nreturn User"
    out = tr(src)
    lines = out.split("\n")
    assert len(lines) == 5
    assert lines[0].startswith('local User = __wt.def(__ws, "User", __wt.record(')
    assert lines[1:4] == ["", "", ""] and lines[4] == "return User"


def test_generic_alias_becomes_a_function_of_its_parameters() -> None:
    out = tr("type Pair<A, B> = {first: A, second: B}")
    assert out == ('local Pair = __wt.gdef(__ws, "Pair", 2, function(A, B) return '
                   '__wt.record({{"first", A}, {"second", B}}) end)')


def test_prefix_is_added_only_when_run_time_types_are_needed() -> None:
    assert not translate("local x: number = 1", "t.lua").startswith(PREFIX)
    assert translate("type X = number", "t.lua").startswith(PREFIX)
    assert translate("local x: {number} = {} print(typeof(x))", "t.lua").startswith(PREFIX)


def test_typeof_of_an_annotated_local_passes_the_declared_type() -> None:
    assert tr("local a: {number} = {}\nprint(typeof(a))") == \
        "local a           = {}\nprint(typeof(a, __wt.array(__wt.Number)))"
    assert tr("local function f(x: string?) return typeof(x) end") == \
        "local function f(x         ) return typeof(x, __wt.opt(__wt.String)) end"


def test_typeof_is_left_alone_for_unannotated_or_shadowed_names() -> None:
    src = "local a = {}\nprint(typeof(a))"
    assert translate(src, "t.lua") is src
    assert tr("local typeof = f\nlocal a: number = 1\nprint(typeof(a))") == \
        "local typeof = f\nlocal a         = 1\nprint(typeof(a))"
    assert tr("local a: number = 1\ndo local a = 2 print(typeof(a)) end") == \
        "local a         = 1\ndo local a = 2 print(typeof(a)) end"


def test_syntax_error_is_a_config_error_naming_chunk_line_and_column() -> None:
    with pytest.raises(TypedLuaError) as info:
        translate("local x = 1\nlocal y: = 2\n", "app:worker")
    exc = info.value
    assert str(exc) == "app:worker:2:10: type expected near '='"
    assert (exc.path, exc.line, exc.col, exc.detail) == ("app:worker", 2, 10,
                                                         "type expected near '='")
    assert isinstance(exc, ConfigError) and exc.kind == "INVALID"
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc) and isinstance(again, TypedLuaError)


def test_translation_is_cached_by_source_and_errors_are_cached_too() -> None:
    cache_clear()
    src = "local x: number = 1\n"
    first = translate(src, "c.lua")
    assert translate(src, "c.lua") is first
    for _ in range(2):
        with pytest.raises(TypedLuaError):
            translate("local = 1", "bad.lua")
    info = cache_info()
    assert info == {"hits": 2, "misses": 2, "entries": 2}
    cache_clear()
    assert cache_info()["entries"] == 0


def test_lint_facts_requires_and_warnings() -> None:
    src = """local json = require("json")
local t = require "time"
type A = {x: Missing, y: number @frobnicate(1)}
type B<T> = {v: T}
type C = B<number, string>
type A = string
local s: string @min(1) = "x"
local function f<T>(x: T): T return x end
local q: Later = nil
type Later = number
"""
    res = translate_full(src, "lint.lua")
    assert res.requires == (("json", 1, 22), ("time", 2, 19))
    assert [(line, msg) for line, _, msg in res.warnings] == [
        (3, "unknown type 'Missing'"),
        (3, "unknown validator '@frobnicate' (ignored at run time)"),
        (5, "type 'B' takes 1 type argument(s), got 2"),
        (6, "type 'A' is already declared in this block"),
        (7, "'@min' does not apply to string"),
    ]


def test_bytes_in_bytes_out_keeping_bytes_that_are_not_utf8() -> None:
    plain = b"local s = '\xff\xfe'\nreturn s\n"
    assert translate(plain, "b.lua") is plain
    typed = b"local s: string = '\xff'\nreturn s\n"
    assert translate(typed, "b.lua") == b"local s         = '\xff'\nreturn s\n"
