"""``wippy.http``: the request a ``function.py`` handler answers, and its response (S13).

Wippy's ``http`` module with the same names, for Python handlers::

    from wippy import http

    def handler():
        req, res = http.request(), http.response()
        user = req.param("id")
        data = req.body_json()              # raises wippy.HttpError (kind INVALID) on bad JSON
        res.set_status(http.STATUS.CREATED)
        res.write_json({"id": user, "got": data})

A handler may be ``def`` or ``async def`` and may do anything a process does (spawn, send,
receive on its inbox, call functions): each request runs in a process of its own. The
response is sent when the handler returns (or at ``flush`` / ``write_event``); an exception is
a 500 whose error id is in the host's log. Wippy's Lua returns ``nil, err`` where Python raises.

The rest of the package is the machinery: the route table (``routing``), the frames between the
server and a handler (``frames``), a request's state (``call``), the endpoint runner
(``endpoint``), CORS and metrics (``middleware``), and the server OS process (``server``).
"""
from __future__ import annotations

from typing import Any

from ..errors import HttpError
from ..runtime import table as _runtime
from . import call as _call

__all__ = ["request", "response", "Request", "Response", "HttpError", "STATUS", "METHOD",
           "CONTENT", "TRANSFER"]


class _Constants:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


STATUS = _Constants(
    OK=200, CREATED=201, ACCEPTED=202, NO_CONTENT=204, PARTIAL_CONTENT=206,
    MOVED_PERMANENTLY=301, FOUND=302, SEE_OTHER=303, NOT_MODIFIED=304, TEMPORARY_REDIRECT=307,
    PERMANENT_REDIRECT=308, BAD_REQUEST=400, UNAUTHORIZED=401, PAYMENT_REQUIRED=402,
    FORBIDDEN=403, NOT_FOUND=404, METHOD_NOT_ALLOWED=405, NOT_ACCEPTABLE=406, CONFLICT=409,
    GONE=410, UNPROCESSABLE=422, TOO_MANY_REQUESTS=429, INTERNAL_ERROR=500,
    INTERNAL_SERVER_ERROR=500, NOT_IMPLEMENTED=501, BAD_GATEWAY=502, SERVICE_UNAVAILABLE=503,
    GATEWAY_TIMEOUT=504, VERSION_NOT_SUPPORTED=505)
METHOD = _Constants(GET="GET", POST="POST", PUT="PUT", DELETE="DELETE", PATCH="PATCH",
                    HEAD="HEAD", OPTIONS="OPTIONS")
CONTENT = _Constants(JSON="application/json", FORM="application/x-www-form-urlencoded",
                     MULTIPART="multipart/form-data", TEXT="text/plain",
                     STREAM="application/octet-stream")
TRANSFER = _Constants(CHUNKED="chunked", SSE="sse")


def _current() -> _call.HttpCall:
    return _call.current(_runtime.get().current().pid)


class Request:
    """The request being answered (Wippy's ``http.request()``)."""

    __slots__ = ("_c",)

    def __init__(self, c: _call.HttpCall) -> None:
        self._c = c

    def method(self) -> str:
        return self._c.req.method

    def path(self) -> str:
        return self._c.req.path

    def param(self, name: str) -> str | None:
        return self._c.param(name)

    def params(self) -> dict[str, str]:
        return dict(self._c.req.params)

    def query(self, name: str) -> str | None:
        return self._c.query(name)

    def query_params(self) -> dict[str, str]:
        return self._c.query_params()

    def header(self, name: str) -> str | None:
        return self._c.header(name)

    def body(self) -> str:
        """The body as text (UTF-8; undecodable bytes replaced): see :meth:`body_bytes`."""
        return self._c.req.body.decode("utf-8", "replace")

    def body_bytes(self) -> bytes:
        return self._c.req.body

    def body_json(self) -> Any:
        """The body parsed as JSON; raises :class:`wippy.HttpError` (kind INVALID)."""
        return self._c.body_json()

    def has_body(self) -> bool:
        return bool(self._c.req.body)

    def content_type(self) -> str | None:
        return self._c.content_type()

    def content_length(self) -> int:
        return self._c.content_length()

    def host(self) -> str | None:
        return self._c.header("host")

    def remote_addr(self) -> str:
        return self._c.req.remote_addr

    def accepts(self, ctype: str) -> bool:
        return self._c.accepts(ctype)

    def is_content_type(self, ctype: str) -> bool:
        return self._c.is_content_type(ctype)


class Response:
    """The response being built (Wippy's ``http.response()``); raises :class:`HttpError`
    when used out of order (a header after the headers were sent)."""

    __slots__ = ("_c",)

    def __init__(self, c: _call.HttpCall) -> None:
        self._c = c

    def set_status(self, code: int) -> None:
        self._c.set_status(code)

    def set_header(self, name: str, value: str) -> None:
        self._c.set_header(name, str(value))

    def set_content_type(self, ctype: str) -> None:
        self._c.set_content_type(ctype)

    def set_transfer(self, mode: str) -> None:
        self._c.set_transfer(mode)

    def write(self, data: str | bytes) -> None:
        self._c.write(data)

    def write_json(self, value: Any) -> None:
        self._c.write_json(value)

    def write_event(self, event: dict[str, Any]) -> None:
        """One server-sent event: ``{"name": ..., "data": ...}`` (data JSON-encoded)."""
        self._c.write_event(str(event.get("name") or ""), event.get("data"))

    def flush(self) -> None:
        self._c.flush()


def request() -> Request:
    """The request this process answers; raises :class:`HttpError` outside a handler."""
    return Request(_current())


def response() -> Response:
    """The response this process builds; raises :class:`HttpError` outside a handler."""
    return Response(_current())
