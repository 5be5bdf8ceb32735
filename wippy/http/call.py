"""One HTTP request as the process answering it sees it: :class:`HttpCall`.

The request arrives whole in the spawn's argument (:mod:`wippy.http.frames`); the response is
buffered here until the handler flushes or returns, then leaves as MSG frames to the request's
PID at the server. Both the Lua ``http`` module and Python's ``wippy.http`` are thin views of
this class, so the two languages answer alike.

Where Wippy's Go implementation writes the status line at ``set_status`` (after which
``set_header`` fails), this one sends nothing before the first ``flush``, ``write_event`` or
the handler's return: headers may be set in any order until then.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import parse_qs

from ..core import wire
from ..core.mesh import Mesh
from ..core.pid import is_pid, parse_pid
from ..errors import HttpError, WippyError
from . import frames

__all__ = ["HttpCall", "current", "bind", "unbind", "error_id", "MAX_STREAM_CHUNK"]

log = logging.getLogger("wippy.http")

MAX_STREAM_CHUNK = 4 * 1024 * 1024   # buffered body sent early as a streamed part (bytes)
_CALLS: dict[str, HttpCall] = {}     # the PID of a process answering a request -> its call


def current(pid: str) -> HttpCall:
    """The request process ``pid`` is answering; raises :class:`HttpError` outside one."""
    call = _CALLS.get(pid)
    if call is None:
        err = HttpError("no HTTP request context found (only a function that an http.endpoint "
                        "names, called for a request, has one)")
        err.kind = "INTERNAL"
        raise err
    return call


def bind(pid: str, call: HttpCall) -> None:
    _CALLS[pid] = call


def unbind(pid: str) -> None:
    _CALLS.pop(pid, None)


def error_id() -> str:
    """A short id that joins a 500 answer to the log line holding its stack."""
    return os.urandom(6).hex()


class HttpCall:
    """The request (read-only) and the response being built for it."""

    __slots__ = ("req", "sender", "_mesh", "_dest_serial", "_dest_local", "status", "headers",
                 "_buf", "_size", "started", "finished", "transfer", "_query")

    def __init__(self, req: frames.Request, sender: str, mesh: Mesh) -> None:
        self.req = req
        self.sender = sender
        self._mesh = mesh
        # each request's PID is new: parse_pid's cache would only churn on it
        head, _, local = req.reply_to[1:-1].rpartition("|")
        serial = head.rpartition("/")[2]
        if not (local and serial.isdigit() and is_pid(req.reply_to)):
            parse_pid(req.reply_to)         # raises its clear error
        self._dest_serial = int(serial)
        self._dest_local = local
        self.status = 200
        self.headers: list[list[str]] = []
        self._buf: list[bytes] = []
        self._size = 0
        self.started = False
        self.finished = False
        self.transfer = ""
        self._query: dict[str, list[str]] | None = None

    # -- the request ---------------------------------------------------------------------
    def header(self, name: str) -> str | None:
        return self.req.headers.get(name.lower())

    def query_all(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.req.query, keep_blank_values=True)
        return self._query

    def query(self, name: str) -> str | None:
        values = self.query_all().get(name)
        return values[0] if values else None

    def query_params(self) -> dict[str, str]:
        """Every query parameter; repeated ones joined with commas (Wippy's rule)."""
        return {k: ",".join(v) for k, v in self.query_all().items()}

    def param(self, name: str) -> str | None:
        return self.req.params.get(name)

    def body_json(self) -> Any:
        """The body parsed as JSON; raises :class:`HttpError` (kind INVALID) when it is not."""
        if not self.req.body:
            raise HttpError("invalid JSON body: the request has no body")
        try:
            return json.loads(self.req.body)
        except ValueError as exc:
            raise HttpError(f"invalid JSON body: {exc}") from None

    def content_type(self) -> str | None:
        return self.req.headers.get("content-type")

    def content_length(self) -> int:
        try:
            return int(self.req.headers.get("content-length") or len(self.req.body))
        except ValueError:
            return len(self.req.body)

    def is_content_type(self, ctype: str) -> bool:
        have = (self.content_type() or "").split(";", 1)[0].strip().lower()
        return have == ctype.split(";", 1)[0].strip().lower()

    def accepts(self, ctype: str) -> bool:
        accept = self.req.headers.get("accept")
        if not accept:
            return True
        want = ctype.split(";", 1)[0].strip().lower()
        major = want.split("/", 1)[0]
        for part in accept.split(","):
            media = part.split(";", 1)[0].strip().lower()
            if media in (want, "*/*", f"{major}/*"):
                return True
        return False

    # -- the response --------------------------------------------------------------------
    def _unsent(self, what: str) -> None:
        if self.started:
            raise HttpError(f"cannot {what} after headers are sent")
        if self.finished:
            raise HttpError(f"cannot {what}: the response is complete")

    def set_status(self, code: int) -> None:
        self._unsent("set status")
        if not 100 <= int(code) <= 999:
            raise HttpError(f"invalid status code {code}")
        self.status = int(code)

    def set_header(self, name: str, value: str) -> None:
        """Set (replace) header ``name``."""
        self._unsent("set headers")
        low = name.lower()
        self.headers = [h for h in self.headers if h[0].lower() != low]
        self.headers.append([name, value])

    def has_header(self, name: str) -> bool:
        low = name.lower()
        return any(h[0].lower() == low for h in self.headers)

    def set_content_type(self, ctype: str) -> None:
        self._unsent("set content type")
        self.set_header("Content-Type", ctype)

    def set_transfer(self, mode: str) -> None:
        self._unsent("set transfer mode")
        if mode == "chunked":
            self.set_header("Cache-Control", "no-cache")
        elif mode == "sse":
            self.set_header("Content-Type", "text/event-stream")
            self.set_header("Cache-Control", "no-cache")
        else:
            raise HttpError(f"invalid transfer type {mode!r} (chunked or sse)")
        self.transfer = mode

    def write(self, data: bytes | str) -> None:
        if self.finished:
            raise HttpError("cannot write: the response is complete")
        chunk = data.encode() if isinstance(data, str) else bytes(data)
        self._buf.append(chunk)
        self._size += len(chunk)
        if self._size >= MAX_STREAM_CHUNK:     # a big body leaves in parts, not as one frame
            self.flush()

    def write_json(self, value: Any) -> None:
        if not self.started and not self.finished:
            self.set_header("Content-Type", "application/json")
        self.write(json_bytes(value))

    def write_event(self, name: str, data: Any) -> None:
        """One server-sent event (``event: name`` + JSON ``data``), flushed at once."""
        if self.transfer != "sse":
            if self.started:
                raise HttpError("cannot switch to SSE mode after headers are sent")
            self.set_transfer("sse")
        if not name:
            raise HttpError("write_event: missing event name")
        self.write(b"event: " + name.encode() + b"\ndata: " + json_bytes(data) + b"\n\n")
        self.flush()

    def flush(self) -> None:
        """Send what is buffered (the status and headers first, once)."""
        if self.finished:
            return
        self._send(last=False)

    def finish(self) -> None:
        """The handler returned: send the rest and mark the response complete."""
        if not self.finished:
            self._send(last=True)
            self.finished = True

    def fail(self, exc: BaseException | str, entry: str) -> str:
        """The handler failed: log it with a new error id and tell the server; returns the id."""
        eid = error_id()
        if isinstance(exc, str):
            log.error("http %s %s: %s failed [error %s]: %s", self.req.method, self.req.path,
                      entry, eid, exc)
            message = exc
        else:
            message = str(exc) if isinstance(exc, WippyError) else f"{type(exc).__name__}: {exc}"
            log.error("http %s %s: %s failed [error %s]: %s", self.req.method, self.req.path,
                      entry, eid, message, exc_info=not isinstance(exc, WippyError))
        if not self.finished:
            self.finished = True
            self._post(frames.failed(eid, message))
        return eid

    def _send(self, last: bool) -> None:
        body = b"".join(self._buf) if len(self._buf) != 1 else self._buf[0]
        self._buf.clear()
        self._size = 0
        if not self.started:
            self.started = not last
            self._post(frames.start(self.status, self.headers, body, last))
        elif body or last:
            self._post(frames.more(body, last))

    def _post(self, payload: list[Any]) -> None:
        try:
            self._mesh.send(self._dest_serial, wire.dumps(
                (wire.Op.MSG, self._dest_local, self.sender, frames.TOPIC, payload, None)))
        except WippyError as exc:      # the server is gone: nobody is left to answer
            log.debug("http response for %s dropped: %s", self.req.reply_to, exc)


def json_bytes(value: Any) -> bytes:
    """Compact JSON, as Wippy's encoder writes it."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise HttpError(f"failed to encode JSON: {exc}") from None
