"""The observer's ASGI application: the page, its JSON API and ``/metrics``.

==========  =====================================  ==============================================
method      path                                   answer
==========  =====================================  ==============================================
GET         ``/``                                  the page (one static file, no network fetches)
GET         ``/api/status?processes=1``            the node's status (``wippy top``'s request)
GET         ``/api/auth``                          may this browser write? (token configured, given)
GET         ``/api/registry?limit=200``            current version, the newest versions and authors
GET         ``/api/registry/diff?from=V1&to=V2``   entries and fields changed between two versions
GET         ``/api/workflows?limit=200``           the newest workflows with their numbers of steps
GET         ``/api/workflows/{WF}``                one workflow (ID, PID or name) and its journal
POST        ``/api/workflows/{WF}/cancel``         token: cancel it
POST        ``/api/registry/rollback``             token: ``{"version": V}`` becomes current
POST        ``/api/processes/terminate``           token: ``{"pid": PID}`` ends at once
GET         ``/metrics``                           Prometheus' text format
==========  =====================================  ==============================================

Every write is refused with 403 unless :func:`wippy.observe.auth.check` allows it. The page is
served with a Content-Security-Policy that lets it reach nothing but this server, so the
promise "nothing fetched from the network" is kept by the browser too. Statuses are shared
for ``STATUS_TTL_S`` between concurrent readers (several tabs, a scraper): the node is asked
at most that often per kind, and nothing older is kept (history lives in the browser).

Rejected: a web framework (Starlette, aiohttp): eleven routes over bare ASGI are a page of
code, and Granian already serves the HTTP services' bare ASGI app the same way.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time as _time
from importlib import resources
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, unquote

from ..core.pid import parse_pid
from ..errors import WippyError
from . import auth, prom
from .source import SHOWN, NodeLink
from .views import parse_version

__all__ = ["ObserverApp", "STATUS_TTL_S", "MAX_BODY", "page"]

log = logging.getLogger("wippy.observe")

STATUS_TTL_S = 0.25         # a status this fresh is shared by concurrent readers
MAX_BODY = 64 * 1024        # the largest request body a write may carry

_KIND_STATUS = {"NOT_FOUND": 404, "INVALID": 400, "PERMISSION_DENIED": 403, "TIMEOUT": 503,
                "UNAVAILABLE": 503}
_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'")

Headers = dict[str, str]
Handler = Callable[["_Request"], Awaitable[tuple[int, Any]]]


def page() -> bytes:
    """The page's HTML (a file beside this module)."""
    return resources.files(__package__).joinpath("page.html").read_bytes()


class _Request:
    __slots__ = ("method", "path", "query", "headers", "body", "params")

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: Headers,
                 body: bytes) -> None:
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body
        self.params: dict[str, str] = {}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise ValueError("the request body is not JSON") from None


class _Raw:
    """A non-JSON answer."""

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body, self.content_type = body, content_type


class ObserverApp:
    """The ASGI callable (see the module docstring); ``link`` reaches the node, ``token``
    allows writes (None: read-only)."""

    def __init__(self, link: NodeLink, token: str | None, clock: Callable[[], float] = _time.monotonic) -> None:
        self.link = link
        self.token = token or None
        self._clock = clock
        self._page = page()
        self._status: dict[bool, tuple[float, asyncio.Future[Any]]] = {}
        get, post = "GET", "POST"
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            (get, re.compile(r"/(?:index\.html)?"), self._index, False),
            (get, re.compile(r"/api/status"), self._get_status, False),
            (get, re.compile(r"/api/auth"), self._auth, False),
            (get, re.compile(r"/api/registry"), self._registry, False),
            (get, re.compile(r"/api/registry/diff"), self._diff, False),
            (get, re.compile(r"/api/workflows"), self._workflows, False),
            (get, re.compile(r"/api/workflows/(?P<wf>[^/]+)"), self._workflow, False),
            (post, re.compile(r"/api/workflows/(?P<wf>[^/]+)/cancel"), self._cancel, True),
            (post, re.compile(r"/api/registry/rollback"), self._rollback, True),
            (post, re.compile(r"/api/processes/terminate"), self._terminate, True),
            (get, re.compile(r"/metrics"), self._metrics, False),
            (get, re.compile(r"/favicon\.ico"), self._no_icon, False),
        ]

    # -- ASGI ----------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = b""
        if scope["method"] == "POST":
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if len(body) > MAX_BODY:
                    await _send(send, 413, {"error": "request body too large"})
                    return
                if not msg.get("more_body"):
                    break
        req = _Request(scope["method"], scope["path"],
                       parse_qs(scope.get("query_string", b"").decode("latin-1")), headers, body)
        status, payload = await self.handle(req)
        await _send(send, status, payload)

    async def handle(self, req: _Request) -> tuple[int, Any]:
        """Route ``req``; (HTTP status, JSON-able value or raw body)."""
        allowed = []
        for method, pattern, handler, write in self._routes:
            m = pattern.fullmatch(req.path)
            if m is None:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            req.params = {k: unquote(v) for k, v in m.groupdict().items()}
            if write:
                access = auth.check(self.token, req.headers)
                if access is not auth.Access.ALLOWED:
                    return 403, {"error": access.reason, "access": access.value}
            try:
                return await handler(req)
            except WippyError as exc:
                return _KIND_STATUS.get(exc.kind, 500), {"error": str(exc), "kind": exc.kind}
            except ValueError as exc:
                return 400, {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the observer
                log.exception("observer: %s %s failed", req.method, req.path)
                return 500, {"error": f"{type(exc).__name__}: {exc}"}
        if allowed:
            return 405, {"error": f"{req.method} is not allowed here (use {', '.join(allowed)})"}
        return 404, {"error": f"no such page: {req.path}"}

    # -- reads ---------------------------------------------------------------------------
    async def status(self, processes: bool) -> dict[str, Any]:
        """The node's status, shared with concurrent readers for ``STATUS_TTL_S``."""
        now = self._clock()
        cached = self._status.get(processes)
        if cached is None or now - cached[0] > STATUS_TTL_S or _failed(cached[1]):
            fut = asyncio.ensure_future(self.link.run(self.link.status, processes))
            cached = self._status[processes] = (now, fut)
        return await asyncio.shield(cached[1])

    async def _index(self, req: _Request) -> tuple[int, Any]:
        return 200, _Raw(self._page, "text/html; charset=utf-8")

    async def _no_icon(self, req: _Request) -> tuple[int, Any]:
        return 204, _Raw(b"", "image/x-icon")

    async def _get_status(self, req: _Request) -> tuple[int, Any]:
        return 200, await self.status(req.arg("processes") in ("1", "true", "yes"))

    async def _auth(self, req: _Request) -> tuple[int, Any]:
        access = auth.check(self.token, req.headers)
        return 200, {"writable": self.token is not None,
                     "authorized": access is auth.Access.ALLOWED, "access": access.value,
                     "reason": access.reason}

    async def _registry(self, req: _Request) -> tuple[int, Any]:
        return 200, await self.link.run(self.link.history, _limit(req))

    async def _diff(self, req: _Request) -> tuple[int, Any]:
        to, since = req.arg("to"), req.arg("from")
        if to is not None:
            v2 = parse_version(to)
        else:
            v2 = int((await self.link.run(self.link.history, 0))["version"] or 0)
        v1 = parse_version(since) if since is not None else max(0, v2 - 1)
        return 200, await self.link.run(self.link.diff, v1, v2)

    async def _workflows(self, req: _Request) -> tuple[int, Any]:
        return 200, await self.link.run(self.link.workflows, _limit(req))

    async def _workflow(self, req: _Request) -> tuple[int, Any]:
        w = await self.link.run(self.link.workflow, req.params["wf"])
        if w is None:
            return 404, {"error": f"no workflow with the ID or name {req.params['wf']!r}"}
        return 200, w

    async def _metrics(self, req: _Request) -> tuple[int, Any]:
        return 200, _Raw(prom.exposition(await self.status(False)), prom.CONTENT_TYPE)

    # -- the operator's actions ----------------------------------------------------------
    async def _cancel(self, req: _Request) -> tuple[int, Any]:
        pid = await self.link.run(self.link.cancel, req.params["wf"])
        if pid is None:
            return 404, {"error": f"no workflow with the ID or name {req.params['wf']!r}"}
        log.info("observer: workflow %s cancelled by the operator", pid)
        return 200, {"ok": True, "pid": pid}

    async def _rollback(self, req: _Request) -> tuple[int, Any]:
        version = parse_version(req.json().get("version"))
        new = await self.link.run(self.link.rollback, version)
        log.info("observer: registry rolled back to the contents of v%d (now v%d)", version, new)
        return 200, {"ok": True, "version": new, "contents_of": version}

    async def _terminate(self, req: _Request) -> tuple[int, Any]:
        pid = str(req.json().get("pid") or "")
        try:
            parse_pid(pid)
        except ValueError:
            raise ValueError(f"not a process id: {pid!r}") from None
        await self.link.run(self.link.terminate, pid)
        log.info("observer: process %s terminated by the operator", pid)
        return 200, {"ok": True, "pid": pid}


def _limit(req: _Request) -> int:
    text = req.arg("limit")
    if text is None:
        return SHOWN
    try:
        return max(0, int(text))
    except ValueError:
        raise ValueError(f"limit must be a number, not {text!r}") from None


def _failed(fut: asyncio.Future[Any]) -> bool:
    return fut.done() and (fut.cancelled() or fut.exception() is not None)


async def _send(send: Any, status: int, payload: Any) -> None:
    if isinstance(payload, _Raw):
        body, ctype = payload.body, payload.content_type
    else:
        body, ctype = json.dumps(payload, default=str).encode(), "application/json"
    headers = [(b"content-type", ctype.encode()), (b"cache-control", b"no-store"),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if ctype.startswith("text/html"):
        headers += [(b"content-security-policy", _CSP.encode()), (b"x-frame-options", b"DENY")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
