"""Wippy's Lua ``http`` module for endpoint handlers (``require("http")``); the way a host
runs a ``function.lua`` handler for a request is in ``httprun.py``.

``http.request()`` and ``http.response()`` are views of the process's
:class:`~wippy.http.call.HttpCall`; their methods return what Wippy's return (``nil`` on
success, ``nil, err`` on failure, ``data, err`` for ``body_json``). Not available yet (they
fail with ``UNAVAILABLE``): ``req:stream()``, ``req:parse_multipart()``.
"""
from __future__ import annotations

from typing import Any

from ..errors import HttpError, InvalidMessage
from ..http import call as _call
from .api import ApiError, New, constant, current_ctx, function, lua_value, method, subtable, text
from .engine import from_lua, is_lua_table

__all__: list[str] = []


def _call_of() -> _call.HttpCall:
    try:
        return _call.current(current_ctx().pid)
    except HttpError as exc:
        raise ApiError(exc.kind, str(exc)) from None


def _api_error(exc: HttpError) -> ApiError:
    return ApiError(exc.kind, str(exc))


# -- the module ------------------------------------------------------------------------------
@function("http")
def request(opts: Any = None) -> Any:
    return New((b"HttpRequest", _call_of()))


@function("http")
def response() -> Any:
    return New((b"HttpResponse", _call_of()))


subtable("http", "METHOD", "http.METHOD")
for _m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
    constant("http.METHOD", _m, _m)
subtable("http", "STATUS", "http.STATUS")
for _name, _code_ in (("OK", 200), ("CREATED", 201), ("ACCEPTED", 202), ("NO_CONTENT", 204),
                      ("PARTIAL_CONTENT", 206), ("MOVED_PERMANENTLY", 301), ("FOUND", 302),
                      ("SEE_OTHER", 303), ("NOT_MODIFIED", 304), ("TEMPORARY_REDIRECT", 307),
                      ("PERMANENT_REDIRECT", 308), ("BAD_REQUEST", 400), ("UNAUTHORIZED", 401),
                      ("PAYMENT_REQUIRED", 402), ("FORBIDDEN", 403), ("NOT_FOUND", 404),
                      ("METHOD_NOT_ALLOWED", 405), ("NOT_ACCEPTABLE", 406), ("CONFLICT", 409),
                      ("GONE", 410), ("UNPROCESSABLE", 422), ("TOO_MANY_REQUESTS", 429),
                      ("INTERNAL_ERROR", 500), ("INTERNAL_SERVER_ERROR", 500),
                      ("NOT_IMPLEMENTED", 501), ("BAD_GATEWAY", 502),
                      ("SERVICE_UNAVAILABLE", 503), ("GATEWAY_TIMEOUT", 504),
                      ("VERSION_NOT_SUPPORTED", 505)):
    constant("http.STATUS", _name, _code_)
subtable("http", "CONTENT", "http.CONTENT")
for _name, _ct in (("JSON", "application/json"), ("FORM", "application/x-www-form-urlencoded"),
                   ("MULTIPART", "multipart/form-data"), ("TEXT", "text/plain"),
                   ("STREAM", "application/octet-stream")):
    constant("http.CONTENT", _name, _ct)
subtable("http", "TRANSFER", "http.TRANSFER")
constant("http.TRANSFER", "CHUNKED", "chunked")
constant("http.TRANSFER", "SSE", "sse")
subtable("http", "ERROR", "http.ERROR")
for _name in ("PARSE_FAILED", "INVALID_STATE", "WRITE_FAILED", "STREAM_ERROR"):
    constant("http.ERROR", _name, _name)


def _opt(v: str | None) -> bytes | None:
    return None if v is None else v.encode()


# -- the request -----------------------------------------------------------------------------
@method("HttpRequest", "method")
def req_method(c: _call.HttpCall, _b: Any, _c: Any) -> bytes:
    return c.req.method.encode()


@method("HttpRequest", "path")
def req_path(c: _call.HttpCall, _b: Any, _c: Any) -> bytes:
    return c.req.path.encode()


@method("HttpRequest", "param")
def req_param(c: _call.HttpCall, _b: Any, _c: Any, name: Any = None) -> bytes | None:
    return _opt(c.param(text(name, "name")))


@method("HttpRequest", "params")
def req_params(c: _call.HttpCall, _b: Any, _c: Any) -> Any:
    return lua_value(dict(c.req.params))


@method("HttpRequest", "query")
def req_query(c: _call.HttpCall, _b: Any, _c: Any, name: Any = None) -> bytes | None:
    return _opt(c.query(text(name, "name")))


@method("HttpRequest", "query_params")
def req_query_params(c: _call.HttpCall, _b: Any, _c: Any) -> Any:
    return lua_value(c.query_params())


@method("HttpRequest", "header")
def req_header(c: _call.HttpCall, _b: Any, _c: Any, name: Any = None) -> bytes | None:
    return _opt(c.header(text(name, "name")))


@method("HttpRequest", "content_type")
def req_content_type(c: _call.HttpCall, _b: Any, _c: Any) -> bytes | None:
    return _opt(c.content_type())


@method("HttpRequest", "content_length")
def req_content_length(c: _call.HttpCall, _b: Any, _c: Any) -> int:
    return c.content_length()


@method("HttpRequest", "host")
def req_host(c: _call.HttpCall, _b: Any, _c: Any) -> bytes | None:
    return _opt(c.header("host"))


@method("HttpRequest", "remote_addr")
def req_remote_addr(c: _call.HttpCall, _b: Any, _c: Any) -> bytes:
    return c.req.remote_addr.encode()


@method("HttpRequest", "body")
def req_body(c: _call.HttpCall, _b: Any, _c: Any) -> bytes:
    return c.req.body


@method("HttpRequest", "has_body")
def req_has_body(c: _call.HttpCall, _b: Any, _c: Any) -> bool:
    return bool(c.req.body)


@method("HttpRequest", "body_json")
def req_body_json(c: _call.HttpCall, _b: Any, _c: Any) -> Any:
    try:
        return lua_value(c.body_json())
    except HttpError as exc:
        raise _api_error(exc) from None


@method("HttpRequest", "accepts")
def req_accepts(c: _call.HttpCall, _b: Any, _c: Any, ctype: Any = None) -> bool:
    return c.accepts(text(ctype, "content type"))


@method("HttpRequest", "is_content_type")
def req_is_content_type(c: _call.HttpCall, _b: Any, _c: Any, ctype: Any = None) -> bool:
    return c.is_content_type(text(ctype, "content type"))


for _name in ("stream", "parse_multipart"):
    def _unavailable(*_a: Any, _n: str = _name) -> Any:
        raise ApiError("UNAVAILABLE", f"req:{_n}() is not available in wippy yet")
    method("HttpRequest", _name)(_unavailable)


# -- the response ----------------------------------------------------------------------------
def _do(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except HttpError as exc:
        raise _api_error(exc) from None


@method("HttpResponse", "set_status")
def res_set_status(c: _call.HttpCall, _b: Any, _c: Any, code: Any = None) -> None:
    if type(code) is float and code.is_integer():
        code = int(code)
    if type(code) is not int:
        raise ApiError("INVALID", "set_status expects an integer status code")
    _do(c.set_status, code)


@method("HttpResponse", "set_header")
def res_set_header(c: _call.HttpCall, _b: Any, _c: Any, name: Any = None, value: Any = None) -> None:
    _do(c.set_header, text(name, "header name"), text(value, "header value"))


@method("HttpResponse", "set_content_type")
def res_set_content_type(c: _call.HttpCall, _b: Any, _c: Any, ctype: Any = None) -> None:
    _do(c.set_content_type, text(ctype, "content type"))


@method("HttpResponse", "set_transfer")
def res_set_transfer(c: _call.HttpCall, _b: Any, _c: Any, mode: Any = None) -> None:
    _do(c.set_transfer, text(mode, "transfer mode"))


@method("HttpResponse", "write")
def res_write(c: _call.HttpCall, _b: Any, _c: Any, data: Any = None) -> None:
    if type(data) is not bytes:
        data = text(data, "data").encode()
    _do(c.write, data)


def _plain(v: Any) -> Any:
    try:
        return from_lua(v, empty=list)
    except InvalidMessage as exc:
        raise ApiError("INVALID", f"failed to encode JSON: {exc}") from None


@method("HttpResponse", "write_json")
def res_write_json(c: _call.HttpCall, _b: Any, _c: Any, value: Any = None) -> None:
    _do(c.write_json, _plain(value))


@method("HttpResponse", "write_event")
def res_write_event(c: _call.HttpCall, _b: Any, _c: Any, event: Any = None) -> None:
    if not is_lua_table(event):
        raise ApiError("INVALID", "write_event expects a table {name = ..., data = ...}")
    name = event[b"name"]
    if event[b"data"] is None:
        raise ApiError("INVALID", "write_event: missing event data")
    _do(c.write_event, text(name, "event name"), _plain(event[b"data"]))


@method("HttpResponse", "flush")
def res_flush(c: _call.HttpCall, _b: Any, _c: Any) -> None:
    _do(c.flush)
