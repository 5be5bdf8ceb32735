"""What the HTTP server and a handler's process say to each other, in one place.

A request reaches a host as an ordinary data-plane SPAWN of the matched ``http.endpoint`` entry
whose one argument is the request frame; the handler's process answers with data-plane MSG
frames addressed to the request's own PID at the server (``reply_to``), on the reserved topic
:data:`TOPIC` (processes cannot send on reserved topics, so no handler can forge another
request's answer). One sender, one pipe: the frames of one response arrive in order, and the
EXIT of the handler's process (spawned monitored) after them.

========  ===============================================================  ======================
frame     layout (a list: plain data)                                      meaning
========  ===============================================================  ======================
request   [method, path, query, headers, body, params, remote_addr,        the spawn's argument
          reply_to, endpoint, func]
start     ["s", status, headers, body, last]                               status line, headers
                                                                           and the first body
more      ["m", body, last]                                                more body (streamed)
error     ["e", error_id, message]                                         the handler failed
========  ===============================================================  ======================

``headers`` in a request is a map of lower-case names to values (repeated headers joined with
", "); in a response, a list of ``[name, value]`` pairs. ``last`` says the response is
complete. A handler that fails before its response started gets a 500 with ``error_id``; after
it started, the stream is cut.

Lists rather than maps: a request frame is built and read once per request on the hot path.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import BadFrame

__all__ = ["TOPIC", "Request", "Start", "More", "Failed", "request", "start", "more", "failed",
           "parse_request", "parse_reply", "BadFrame", "Gone"]

TOPIC = "@http"       # reserved (``@``): only the runtime sends on it


class Request(NamedTuple):
    """One HTTP request as its handler's process receives it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    remote_addr: str
    reply_to: str
    endpoint: str
    func: str


class Start(NamedTuple):
    status: int
    headers: list[list[str]]
    body: bytes
    last: bool


class More(NamedTuple):
    body: bytes
    last: bool


class Failed(NamedTuple):
    error_id: str
    message: str


class Gone(NamedTuple):
    """Not a frame: what the server puts in place of an answer that will never come (the
    handler timed out, its host died, the client left): the status to answer and why."""
    status: int
    reason: str


def request(method: str, path: str, query: str, headers: dict[str, str], body: bytes,
            params: dict[str, str], remote_addr: str, reply_to: str, endpoint: str,
            func: str) -> list[Any]:
    return [method, path, query, headers, body, params, remote_addr, reply_to, endpoint, func]


def start(status: int, headers: list[list[str]], body: bytes, last: bool) -> list[Any]:
    return ["s", status, headers, body, last]


def more(body: bytes, last: bool) -> list[Any]:
    return ["m", body, last]


def failed(error_id: str, message: str) -> list[Any]:
    return ["e", error_id, message]


def parse_request(frame: Any) -> Request:
    """The request in a spawn's argument; raises :class:`BadFrame`."""
    if type(frame) is not list or len(frame) != len(Request._fields):
        raise BadFrame("not an HTTP request (http.endpoint entries run only for requests "
                           "their http.service dispatches)")
    return Request._make(frame)


def parse_reply(frame: Any) -> Start | More | Failed:
    """A handler's answer frame; raises :class:`BadFrame`."""
    try:
        tag = frame[0]
        if tag == "s":
            return Start(int(frame[1]), frame[2], frame[3], bool(frame[4]))
        if tag == "m":
            return More(frame[1], bool(frame[2]))
        if tag == "e":
            return Failed(str(frame[1]), str(frame[2]))
    except (TypeError, IndexError, ValueError):
        pass
    raise BadFrame(f"not an HTTP reply frame: {str(frame)[:80]}")
