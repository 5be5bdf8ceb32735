"""The server's ASGI application: one HTTP request in, one handler process on a host, its
answer out.

For each request: route it (:mod:`wippy.http.routing`), apply the router's ``cors``
(a preflight is answered here) and ``metrics``, refuse it with 503 past ``max_in_flight``
requests in flight, read the body (413 past ``max_body``), then SPAWN the endpoint on the
handler host with the request frame and wait for the answer frames (:mod:`wippy.http.frames`)
addressed to the request's own PID. Past the endpoint's timeout the answer is 504 and the
handler's process is terminated; a handler that fails gives 500 with its error id; a handler
host that dies gives 500 to every request it held. A streamed answer (``flush``,
``write_event``) is passed on part by part; a client that goes away terminates its handler.

The app is a bare ASGI callable so that any ASGI server can serve it (the server module runs
it under Granian; uvicorn would run it unchanged).
"""
from __future__ import annotations

import asyncio
import logging
import time as _time
from typing import Any, Callable

from ..core import wire
from ..core.pid import make_pid
from ..core.protocol import MONITOR
from ..errors import WippyError
from . import frames
from .middleware import Cors, Metrics, Middleware
from .routing import Router, RouteTable

__all__ = ["Dispatcher", "Limits"]

log = logging.getLogger("wippy.http")

_SPAWN = wire.Op.SPAWN
_TERMINATE = wire.Op.TERMINATE
_dumps = wire.dumps
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_BODYLESS_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))


class Limits:
    """The bounds of one server (see ``docs/http.md``)."""

    __slots__ = ("max_in_flight", "max_body", "timeout")

    def __init__(self, max_in_flight: int, max_body: int, timeout: float) -> None:
        self.max_in_flight = max_in_flight
        self.max_body = max_body
        self.timeout = timeout


class _Pending:
    """A request waiting for its handler: the first answer frame, then a stream."""

    __slots__ = ("fut", "queue", "serial", "handler_local")

    def __init__(self, fut: asyncio.Future[Any], serial: int, handler_local: str) -> None:
        self.fut = fut
        self.queue: asyncio.Queue[Any] | None = None
        self.serial = serial
        self.handler_local = handler_local


class Dispatcher:
    """The ASGI app. ``send_frame(serial, data)`` queues a data-plane frame; ``pick()`` returns
    the serial of the handler host's OS process to use (raises ProcessNotFound)."""

    def __init__(self, service_id: str, serial: int, routes: RouteTable, limits: Limits,
                 send_frame: Callable[[int, bytes], None], pick: Callable[[], int],
                 handler_host: Callable[[], str]) -> None:
        self.service_id = service_id
        self.serial = serial
        self.limits = limits
        self._send_frame = send_frame
        self._pick = pick
        self._handler_host = handler_host
        self.pending: dict[str, _Pending] = {}
        self._pid_head = make_pid(service_id, serial, "")[:-1]   # + the request's number + "}"
        self._local_head = f"{serial}."
        self.metrics = Metrics()
        self.counter = 0
        self.accepting = True
        self.joined = asyncio.Event()     # set once the node welcomed this server
        self.set_routes(routes)

    def set_routes(self, routes: RouteTable) -> None:
        """Use ``routes`` for new requests (requests already dispatched keep theirs)."""
        self.routes = routes
        self._cors: dict[str, Cors] = {}
        self._metered: set[str] = set()
        for r in routes.routers:
            if Middleware.CORS.value in r.middleware:
                self._cors[r.id] = Cors.from_options(r.options)
            if Middleware.METRICS.value in r.middleware:
                self._metered.add(r.id)

    # -- answers from handlers -----------------------------------------------------------
    def on_reply(self, local: str, payload: Any) -> None:
        """An answer frame for request ``local`` arrived."""
        p = self.pending.get(local)
        if p is None:
            return            # answered already (timeout) or unknown
        try:
            frame = frames.parse_reply(payload)
        except frames.BadFrame as exc:
            log.warning("%s: %s", self.service_id, exc)
            return
        if not p.fut.done():
            p.fut.set_result(frame)
            if type(frame) is frames.Start and not frame.last:
                p.queue = asyncio.Queue()       # the parts that follow wait here, in order
        elif p.queue is not None:
            p.queue.put_nowait(frame)

    def on_exit(self, local: str, error: Any) -> None:
        """The handler's process of request ``local`` ended (it is monitored): if it had not
        answered, it never will (its entry was gone, or it was killed before its first step)."""
        p = self.pending.get(local)
        if p is not None and (p.queue is not None or not p.fut.done()):
            why = error.get("message") if isinstance(error, dict) else None
            self._abort(p, frames.Gone(500, f"the handler's process ended without answering"
                                            f"{': ' + why if why else ''}"))

    def host_down(self, serial: int, reason: str) -> None:
        """Every request held by OS process ``serial`` fails."""
        for p in list(self.pending.values()):
            if p.serial == serial:
                self._abort(p, frames.Gone(500, f"the handler's host died: {reason}"))

    def _abort(self, p: _Pending, gone: frames.Gone) -> None:
        if not p.fut.done():
            p.fut.set_result(gone)
        elif p.queue is not None:
            p.queue.put_nowait(gone)

    # -- one request ---------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not self.joined.is_set():
            # the socket listens before the node has welcomed this server into the mesh (the
            # node learns it listens from its READY): a request that early waits for the
            # topology instead of finding no handler host
            await self.joined.wait()
        started = _time.monotonic()
        method = scope["method"]
        path = scope["path"]
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            headers[name] = headers[name] + ", " + value if name in headers else value
        match = self.routes.match(method, path)
        router = match.router
        cors = self._cors.get(router.id) if router is not None else None
        extra: list[tuple[str, str]] = []
        if cors is not None:
            pre = cors.preflight(method, headers)
            if pre is not None:
                await _answer(send, 204, pre, b"")
                self._count(router, method, 204, started)
                return
            extra = cors.response_headers(headers)
        metered = router is not None and router.id in self._metered
        if metered:
            self.metrics.started()
        status = 500
        try:
            status = await self._serve(scope, receive, send, method, path, headers, match,
                                       extra)
        finally:
            if metered:
                assert router is not None
                self.metrics.finished(router.id, method, status,
                                      _time.monotonic() - started)

    def _count(self, router: Router | None, method: str, status: int, started: float) -> None:
        if router is not None and router.id in self._metered:
            self.metrics.started()
            self.metrics.finished(router.id, method, status, _time.monotonic() - started)

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any, method: str,
                     path: str, headers: dict[str, str], match: Any,
                     extra: list[tuple[str, str]]) -> int:
        route = match.route
        if route is None:
            if match.allowed:
                return await _answer(send, 405, extra + [("Allow", ", ".join(match.allowed))],
                                     b"405 method not allowed\n")
            return await _answer(send, 404, extra, b"404 page not found\n")
        # security: an ``http.*`` policy check (actor of the service, action, endpoint) goes here
        if not self.accepting:
            return await _answer(send, 503, extra + [("Connection", "close")],
                                 b"503 server stopping\n")
        if len(self.pending) >= self.limits.max_in_flight:
            return await _answer(send, 503, extra + [("Retry-After", "1")],
                                 b"503 too many requests in flight\n")
        if (method in _BODYLESS_METHODS and scope.get("http_version") != "2"
                and "content-length" not in headers and "transfer-encoding" not in headers):
            body = b""      # HTTP/1 says there is none: not awaiting Granian for it saves a turn
        else:
            got = await _read_body(receive, self.limits.max_body)
            if got is None:
                return await _answer(send, 413, extra + [("Connection", "close")],
                                     b"413 request body too large\n")
            body = got
        try:
            serial = self._pick()
        except WippyError as exc:
            log.warning("%s: no handler host for %s %s: %s", self.service_id, method, path, exc)
            return await _answer(send, 503, extra, b"503 no handler host is running\n")
        self.counter += 1
        n = str(self.counter)
        handler_local = self._local_head + n
        reply_to = self._pid_head + n + "}"
        client = scope.get("client")
        remote = f"{client[0]}:{client[1]}" if client else ""
        query = scope.get("query_string", b"")
        query = query.decode("latin-1") if query else ""
        req = frames.request(method, path, query, headers, body, match.params, remote,
                             reply_to, route.endpoint, route.func)
        loop = asyncio.get_running_loop()
        p = _Pending(loop.create_future(), serial, handler_local)
        self.pending[n] = p
        timer = loop.call_later(route.timeout or self.limits.timeout, self._timed_out, p)
        try:
            try:
                self._send_frame(serial, _dumps((_SPAWN, handler_local, reply_to, route.endpoint,
                                                 [req], MONITOR, None)))
                first = await p.fut
            except WippyError as exc:           # the frame could not be queued
                log.error("%s: %s %s: %s", self.service_id, method, path, exc)
                return await _answer(send, 503, extra, b"503 handler host unreachable\n")
            finally:
                timer.cancel()
            if type(first) is frames.Gone:
                if first.status == 504:
                    log.warning("%s: %s %s: %s did not answer within %.3g s; 504",
                                self.service_id, method, path, route.func,
                                route.timeout or self.limits.timeout)
                else:
                    log.error("%s: %s %s: %s", self.service_id, method, path, first.reason)
                return await _answer(send, first.status, extra,
                                     f"{first.status} {first.reason}\n".encode())
            if type(first) is frames.Failed:
                return await _answer(send, 500, extra + [("X-Error-Id", first.error_id)],
                                     f"500 internal server error (error id {first.error_id})\n"
                                     .encode())
            return await self._respond(p, first, send, receive, extra, method == "HEAD")
        finally:
            self.pending.pop(n, None)

    def _timed_out(self, p: _Pending) -> None:
        if not p.fut.done():
            p.fut.set_result(frames.Gone(504, "the handler did not answer in time"))
            self._terminate(p)

    def _terminate(self, p: _Pending) -> None:
        try:
            self._send_frame(p.serial, _dumps((_TERMINATE, p.handler_local, None)))
        except WippyError:
            pass            # its host is gone already

    async def _respond(self, p: _Pending, first: frames.Start, send: Any, receive: Any,
                       extra: list[tuple[str, str]], head: bool) -> int:
        hdrs = []
        typed = sized = False
        for k, v in first.headers:
            low = k.lower()
            if low == "content-type":
                typed = True
            elif low == "content-length":
                sized = True
            hdrs.append((k.encode("latin-1"), str(v).encode("latin-1")))
        for k, v in extra:
            hdrs.append((k.encode("latin-1"), v.encode("latin-1")))
        if not typed and first.body:
            hdrs.append((b"content-type", b"text/plain; charset=utf-8"))
        if first.last:
            if not sized:
                hdrs.append((b"content-length", str(len(first.body)).encode()))
            await send({"type": "http.response.start", "status": first.status, "headers": hdrs})
            await send({"type": "http.response.body", "body": b"" if head else first.body})
            return first.status
        # a stream: pass each part on as it comes, until the last or the client leaves
        assert p.queue is not None
        await send({"type": "http.response.start", "status": first.status, "headers": hdrs})
        await send({"type": "http.response.body", "body": first.body, "more_body": True})
        watcher = asyncio.get_running_loop().create_task(self._watch_client(p, receive))
        try:
            while True:
                part = await p.queue.get()   # type: ignore[union-attr]  # set with the start
                if isinstance(part, (frames.Gone, frames.Failed)):
                    why = part.reason if isinstance(part, frames.Gone) else part.message
                    log.error("%s: a streamed answer was cut: %s", self.service_id, why)
                    break
                if part is None:                       # the client went away
                    self._terminate(p)
                    return first.status
                await send({"type": "http.response.body", "body": part.body,
                            "more_body": not part.last})
                if part.last:
                    return first.status
        finally:
            watcher.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return first.status

    async def _watch_client(self, p: _Pending, receive: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                if p.queue is not None:
                    p.queue.put_nowait(None)
                return


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None past ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunk = msg.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
        if not msg.get("more_body"):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _answer(send: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> int:
    hdrs = _TEXT + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
    return status
