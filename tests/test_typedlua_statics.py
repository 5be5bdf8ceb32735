"""Typed Lua as Wippy's docs (``en/lua/types.md``) define it, where wippy fell short: casts
work without a prior type value, ``type T = typeof(x)`` checks, and code with static type
errors the translator can see is refused when it is registered (pure parts, and one run through
the in-process host)."""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy.registry.entry import Entry
from wippy.typedlua.lint import check_entry
from wippy.typedlua.translate import translate_full

pytestmark = pytest.mark.timeout(30)


def type_errors(src: str) -> list[str]:
    return [msg for _, _, msg in translate_full(src, "t").type_errors]


@pytest.mark.parametrize("src, needle", [
    ('local x: number = "hello"', "cannot assign string"),
    ("local x: string = 42", "cannot assign number"),
    ("local x: number = nil", "cannot assign nil"),
    ("local function get(): number? return nil end\nlocal x: number = get()",
     "cannot assign number?"),
    ("local x: number | string = true", "cannot assign boolean"),
    ("local x: number | string | boolean = {}", "cannot assign table"),
    ('local function f(): number\n  return "oops"\nend', "cannot return string"),
    ("local function f(): number\nend", "missing return"),
    ('local x = "a" + "b"', "arithmetic on a string"),
    ("local x = true + false", "arithmetic on a boolean"),
    ("local x: number = 42\nlocal y = x()", "cannot call a number"),
    ('local x: string = "s"\nlocal y = x()', "cannot call a string"),
    ("local x: number = 42\nlocal y = x.field", "cannot index a number"),
    ("type Person = {name: string, age: number}\nlocal p: Person = {name = 'A', age = 1}\n"
     "local x = p.unknown", "unknown field 'unknown'"),
    ("local function add(a: number, b: number): number return a + b end\nlocal x = add(1)",
     "at least 2 argument"),
    ("local function add(a: number, b: number): number return a + b end\n"
     "local x = add(1, 2, 3)", "at most 2 argument"),
    ("local function greet(name: string): string return 'Hi ' .. name end\n"
     "local x = greet(42)", "argument 'name' expects string"),
])
def test_a_static_type_error_the_translator_sees_is_reported(src, needle):
    errors = type_errors(src)
    assert errors and needle in errors[0], errors


@pytest.mark.parametrize("src", [
    'local s = "n=" .. 1 + 2',                                   # precedence: no guess
    "local function f(x: number?): number\n  if x ~= nil then return x end\n  return 0\nend",
    "local function fail(msg: string): never\n  error(msg, 0)\nend",
    "local function f(): number\n  error('boom')\nend",
    "local function opt(a: number, b: string?) return a end\nlocal x = opt(1)",
    "local function va(a: number, ...) return a end\nlocal x = va(1, 2, 3)",
    'local x: number = tonumber("1")',                            # unknown: not judged
    "local x: any = 'a'\nlocal y: number = #'abc' + 1",
    "local t = {}\nt.x = 1\nlocal n = #t + 1",
    'local up = ("x"):upper()',
    "local v: number | string = 1\nif type(v) == 'number' then local n: number = v end",
])
def test_working_code_gets_no_type_error(src):
    assert type_errors(src) == []


def test_the_registry_refuses_an_entry_with_a_type_error_and_names_the_line():
    entry = Entry(id="app:bad", namespace="app", name="bad", kind="function.lua", meta={}, data={
        "source": "local function main(): boolean\n  local x: number = 'hello'\n  return true\n"
                  "end\nreturn {main = main}", "method": "main"})
    issues = check_entry(entry)
    assert len(issues) == 1 and issues[0].line == 2 and "type error" in issues[0].message


def test_casts_work_before_any_type_value_was_used(host_factory):
    h = host_factory(lua_entry("t:main", "local function main()\n"
                                         "  return {string(42), number('7'), integer(3)}\n"
                                         "end\nreturn {main = main}"))
    assert h.exec("t:main") == ["42", 7, 3]


def test_a_type_made_with_typeof_checks_values(host_factory):
    h = host_factory(lua_entry("t:main", """
local sample: {name: string, age: number} = {name = "Ada", age = 33}
type Sample = typeof(sample)
local function main()
  local ok = Sample:is({name = "Bob", age = 1})
  local bad, err = Sample:is({name = 123, age = 1})
  return {ok ~= nil, bad == nil, tostring(err):find("name") ~= nil}
end
return {main = main}"""))
    assert h.exec("t:main") == [True, True, True]
