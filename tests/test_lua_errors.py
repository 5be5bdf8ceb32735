"""Error values in Lua, as Wippy's docs (``en/lua/core/errors.md``) define them: error objects
with methods, Wippy's kind names, ``tostring`` and concatenation, ``retryable`` and ``details``,
``errors.wrap``, and module errors of the same shape. In-process host (no sockets)."""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(30)


def run(host_factory, body: str, *entries: dict, modules: list[str] | None = None):
    src = f"local function main(...)\n{body}\nend\nreturn {{main = main}}"
    h = host_factory(lua_entry("t:main", src, modules=modules or ["json", "funcs", "time"]),
                     *entries)
    return h.exec("t:main")


def test_kind_constants_are_wippys_names_and_unknown_is_empty(host_factory):
    got = run(host_factory, """
        return {errors.NOT_FOUND, errors.ALREADY_EXISTS, errors.INVALID, errors.PERMISSION_DENIED,
                errors.UNAVAILABLE, errors.INTERNAL, errors.CANCELED, errors.CONFLICT,
                errors.TIMEOUT, errors.RATE_LIMITED, errors.UNKNOWN}""")
    assert got == ["NotFound", "AlreadyExists", "Invalid", "PermissionDenied", "Unavailable",
                   "Internal", "Canceled", "Conflict", "Timeout", "RateLimited", ""]


def test_a_string_error_has_the_unknown_kind_and_nil_retryable_and_details(host_factory):
    got = run(host_factory, """
        local e = errors.new("something went wrong")
        return {e:message(), e:kind() == errors.UNKNOWN, e:retryable() == nil,
                e:details() == nil}""")
    assert got == ["something went wrong", True, True, True]


def test_a_table_error_keeps_kind_retryable_and_details_and_empty_details_are_nil(host_factory):
    got = run(host_factory, """
        local e = errors.new({message = "user not found", kind = errors.NOT_FOUND,
                              retryable = false, details = {user_id = 123}})
        local empty = errors.new({message = "x", details = {}})
        return {e:kind(), e:retryable(), e:details().user_id, empty:details() == nil}""")
    assert got == ["NotFound", False, 123, True]


def test_tostring_concatenation_and_string_functions_take_an_error(host_factory):
    got = run(host_factory, """
        local e, e2 = errors.new("test error"), errors.new("other")
        return {tostring(e), "prefix: " .. e, e .. " :suffix", e .. e2,
                string.find(e, "error", 1, true), string.upper(e), string.format("%s!", e)}""")
    assert got == ["test error", "prefix: test error", "test error :suffix", "test errorother",
                   6, "TEST ERROR", "test error!"]


def test_errors_are_userdata_to_type_as_in_wippy(host_factory):
    got = run(host_factory, """
        local _, err = require("json").decode("")
        return {type(errors.new("x")), type(err), type({}), type("s"), type(nil)}""")
    assert got == ["userdata", "userdata", "table", "string", "nil"]


def test_wrap_keeps_kind_retryable_details_and_message_and_shows_the_context(host_factory):
    got = run(host_factory, """
        local inner = errors.new({message = "inner error", kind = errors.INVALID,
                                  retryable = true, details = {code = 42}})
        local outer = errors.wrap(errors.wrap(inner, "loading"), "request")
        local s = errors.wrap("plain", "ctx")
        return {outer:kind(), outer:retryable(), outer:details().code, outer:message(),
                tostring(outer), s:message(), tostring(s), errors.wrap(nil, "x") == nil}""")
    assert got == ["Invalid", True, 42, "inner error", "request: loading: inner error",
                   "plain", "ctx: plain", True]


def test_errors_is_compares_kinds_and_refuses_what_is_not_an_error(host_factory):
    got = run(host_factory, """
        local e = errors.new({message = "t", kind = errors.TIMEOUT})
        return {errors.is(e, errors.TIMEOUT), errors.is(e, errors.NOT_FOUND),
                errors.is("not an error", errors.TIMEOUT), errors.is(nil, errors.TIMEOUT)}""")
    assert got == [True, False, False, False]


def test_module_errors_are_error_objects_that_are_not_retryable(host_factory):
    got = run(host_factory, """
        local json, time = require("json"), require("time")
        local _, e1 = json.decode("")
        local _, e2 = json.decode("{bad")
        local _, e3 = time.parse_duration("soon")
        return {e1:kind(), e1:retryable(), e2:kind(), e2:retryable(), e3:kind(),
                e3:retryable()}""")
    assert got == ["Invalid", False, "Internal", False, "Invalid", False]


def test_an_error_a_function_returns_reaches_the_caller_intact(host_factory):
    fn = lua_entry("t:fail", """local function main(kind, msg)
        return nil, errors.new({kind = kind, message = msg, retryable = kind == errors.UNAVAILABLE,
                                details = {why = "test"}})
      end return {main = main}""", kind="function.lua")
    got = run(host_factory, """
        local funcs = require("funcs")
        local _, a = funcs.call("t:fail", errors.INVALID, "bad input")
        local _, b = funcs.call("t:fail", errors.UNAVAILABLE, "down")
        return {a:kind(), a:message(), a:retryable(), a:details().why, b:kind(), b:retryable()}""",
              fn)
    assert got == ["Invalid", "bad input", False, "test", "Unavailable", True]


def test_a_lua_error_reaches_python_with_pythons_kind_name(host_factory):
    from wippy.errors import ProcessFailed
    with pytest.raises(ProcessFailed) as exc:
        run(host_factory, 'return nil, errors.new({kind = errors.PERMISSION_DENIED, '
                          'message = "no"})')
    assert exc.value.kind == "PERMISSION_DENIED"


def test_call_stack_lists_frames_with_source_and_line(host_factory):
    got = run(host_factory, """
        local function inner() local e = errors.new("deep") return e end
        local cs = errors.call_stack(inner())
        return {cs.thread, #cs.frames > 0, cs.frames[1].source, cs.frames[1].line}""")
    assert got == ["main", True, "t:main", 3]
