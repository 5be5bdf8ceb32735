"""Routing: which endpoint answers a request (method + path), as a pure table.

:func:`compile_routes` turns the registry's ``http.router`` and ``http.endpoint`` entries of one
``http.service`` into a :class:`RouteTable`; :meth:`RouteTable.match` finds the endpoint for a
method and a path. The server process rebuilds the table whenever a registry version changes one
of those entries (hot reload: requests already dispatched keep the endpoint they matched).

Patterns follow Wippy's (Go's ``net/http``): literal segments, ``{name}`` for one segment and a
last ``{name...}`` for the rest of the path. The most specific pattern wins, segment by segment:
a literal beats ``{name}``, which beats ``{name...}``; the search backtracks, so
``/users/{id}/posts`` and ``/users/me`` both match what they should. ``HEAD`` falls back to
``GET``. A path that matches with another method gives the methods that would match
(``Allow``, 405).

Decisions where Wippy's docs are silent or Go's mux differs:

* a trailing slash does not matter (``/api/tasks/`` is ``/api/tasks``), and an endpoint path
  ``/`` under prefix ``/api`` answers ``/api`` (Go's ``/`` is a subtree pattern that would also
  answer every unmatched path);
* the wildcard's tail is returned as a parameter (Wippy's ``req:param`` returns nil for it);
* two endpoints with the same method and pattern: the first by entry id wins and the other is
  reported.

Rejected: a regular expression per route tried in order (linear in the number of routes, and
"most specific wins" would depend on the order of entries); a third-party router (the table is
~150 lines and needs no dependency).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple

__all__ = ["Route", "Router", "Match", "RouteTable", "compile_routes", "join_path",
           "split_path", "resolve_ref"]


@dataclass(frozen=True, slots=True)
class Router:
    """An ``http.router`` of the service: its prefix and pre-match middleware."""

    id: str
    prefix: str
    middleware: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    post_middleware: tuple[str, ...] = ()
    post_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """An ``http.endpoint``: ``method`` + full ``pattern`` (prefix joined) -> ``func``."""

    endpoint: str
    func: str
    method: str
    pattern: str
    router: Router
    timeout: float | None = None


class Match(NamedTuple):
    """What :meth:`RouteTable.match` found. ``route`` is None for no match; then ``allowed``
    lists the methods the path answers to (empty: 404, else 405) and ``router`` is the router
    whose prefix covers the path (for its pre-match middleware), if any."""

    route: Route | None
    params: dict[str, str]
    router: Router | None
    allowed: tuple[str, ...] = ()


def split_path(path: str) -> list[str]:
    """The non-empty segments of a path (a trailing or doubled slash does not count)."""
    return [s for s in path.split("/") if s]


def join_path(prefix: str, path: str) -> str:
    """A router prefix and an endpoint path as one pattern: ``/api`` + ``/tasks``."""
    segs = split_path(prefix) + split_path(path)
    return "/" + "/".join(segs)


def resolve_ref(value: Any, namespace: str) -> str | None:
    """A reference in ``meta`` (``server: gateway``) as a full id, relative to ``namespace``."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value if ":" in value else f"{namespace}:{value}"


class _Node:
    __slots__ = ("static", "param", "param_name", "wild_name", "wild", "routes")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.param_name = ""
        self.wild_name = ""
        self.wild: dict[str, Route] | None = None     # method -> route, for a {name...} tail
        self.routes: dict[str, Route] = {}           # method -> route ending here


def _param(seg: str) -> tuple[str, bool] | None:
    """``{name}`` -> (name, False), ``{name...}`` -> (name, True), literal -> None."""
    if len(seg) > 2 and seg[0] == "{" and seg[-1] == "}":
        inner = seg[1:-1]
        if inner.endswith("..."):
            return inner[:-3], True
        return inner, False
    return None


class RouteTable:
    """Routes of one service, matched segment by segment (see the module docstring)."""

    def __init__(self, routes: Iterable[Route] = (), routers: Iterable[Router] = ()) -> None:
        self._root = _Node()
        self.routes: list[Route] = []
        self.problems: list[str] = []
        # longest prefix first, so the first that covers a path is the most specific router
        self.routers = sorted(routers, key=lambda r: -len(split_path(r.prefix)))
        for route in routes:
            self._add(route)

    def _add(self, route: Route) -> None:
        node = self._root
        segs = split_path(route.pattern)
        for i, seg in enumerate(segs):
            p = _param(seg)
            if p is None:
                node = node.static.setdefault(seg, _Node())
            elif p[1]:
                if i != len(segs) - 1:
                    self.problems.append(f"endpoint {route.endpoint}: wildcard {seg} must be "
                                         "the last segment")
                    return
                node.wild_name = p[0]
                if node.wild is None:
                    node.wild = {}
                self._put(node.wild, route)
                return
            else:
                if node.param is None:
                    node.param = _Node()
                    node.param_name = p[0]
                elif node.param_name != p[0]:
                    self.problems.append(
                        f"endpoint {route.endpoint}: parameter {{{p[0]}}} is named "
                        f"{{{node.param_name}}} in another route at this segment; that name is used")
                node = node.param
        self._put(node.routes, route)

    def _put(self, table: dict[str, Route], route: Route) -> None:
        other = table.get(route.method)
        if other is not None:
            self.problems.append(f"endpoint {route.endpoint}: {route.method} {route.pattern} "
                                 f"is already served by {other.endpoint}; ignored")
            return
        table[route.method] = route
        self.routes.append(route)

    def router_for(self, path: str) -> Router | None:
        """The router whose prefix covers ``path`` (the longest one)."""
        segs = split_path(path)
        for r in self.routers:
            pre = split_path(r.prefix)
            if segs[:len(pre)] == pre:
                return r
        return None

    def match(self, method: str, path: str) -> Match:
        """The route for ``method`` and ``path`` (see :class:`Match`)."""
        segs = split_path(path)
        params: dict[str, str] = {}
        found = self._find(self._root, segs, 0, method, params)
        if found is not None:
            return Match(found, params, found.router)
        allowed: set[str] = set()
        self._methods(self._root, segs, 0, allowed)
        if "GET" in allowed:
            allowed.add("HEAD")
        return Match(None, {}, self.router_for(path), tuple(sorted(allowed)))

    def _find(self, node: _Node, segs: list[str], i: int, method: str,
              params: dict[str, str]) -> Route | None:
        if i == len(segs):
            route = _pick(node.routes, method)
            if route is not None:
                return route
            if node.wild is not None:               # an empty tail
                route = _pick(node.wild, method)
                if route is not None:
                    params[node.wild_name] = ""
                    return route
            return None
        seg = segs[i]
        child = node.static.get(seg)
        if child is not None:
            route = self._find(child, segs, i + 1, method, params)
            if route is not None:
                return route
        if node.param is not None:
            route = self._find(node.param, segs, i + 1, method, params)
            if route is not None:
                params[node.param_name] = seg
                return route
        if node.wild is not None:
            route = _pick(node.wild, method)
            if route is not None:
                params[node.wild_name] = "/".join(segs[i:])
                return route
        return None

    def _methods(self, node: _Node, segs: list[str], i: int, out: set[str]) -> None:
        if node.wild is not None:
            out.update(node.wild)
        if i == len(segs):
            out.update(node.routes)
            return
        child = node.static.get(segs[i])
        if child is not None:
            self._methods(child, segs, i + 1, out)
        if node.param is not None:
            self._methods(node.param, segs, i + 1, out)


def _pick(table: dict[str, Route], method: str) -> Route | None:
    route = table.get(method)
    if route is None and method == "HEAD":
        route = table.get("GET")
    return route


def compile_routes(service_id: str, entries: Iterable[Mapping[str, Any]]) -> RouteTable:
    """The routes of ``service_id`` from registry entries (public or stored form): its routers
    (``meta.server``) and their endpoints (``meta.router``). Entries of other services are
    skipped; an endpoint whose router does not exist is reported in ``problems``."""
    items = sorted(entries, key=lambda e: e["id"])
    routers: dict[str, Router] = {}
    for e in items:
        if e["kind"] != "http.router":
            continue
        ns = e["id"].partition(":")[0]
        if resolve_ref((e.get("meta") or {}).get("server"), ns) != service_id:
            continue
        d = e.get("data") or {}
        routers[e["id"]] = Router(e["id"], d.get("prefix") or "/",
                                  tuple(d.get("middleware") or ()), dict(d.get("options") or {}),
                                  tuple(d.get("post_middleware") or ()),
                                  dict(d.get("post_options") or {}))
    routes: list[Route] = []
    dangling: list[str] = []
    for e in items:
        if e["kind"] != "http.endpoint":
            continue
        ns = e["id"].partition(":")[0]
        router_id = resolve_ref((e.get("meta") or {}).get("router"), ns)
        router = routers.get(router_id or "")
        if router is None:
            dangling.append(e["id"])
            continue
        d = e.get("data") or {}
        routes.append(Route(e["id"], d.get("func", ""), d.get("method", "GET"),
                            join_path(router.prefix, d.get("path", "/")), router,
                            d.get("timeout")))
    table = RouteTable(routes, routers.values())
    if dangling:
        table.problems.extend(f"endpoint {eid}: meta.router names no http.router of "
                              f"{service_id}" for eid in dangling if _maybe_ours(eid, items))
    return table


def _maybe_ours(eid: str, items: list[Mapping[str, Any]]) -> bool:
    """Only endpoints whose router does not exist at all are reported (an endpoint of another
    service's router is none of this service's business)."""
    for e in items:
        if e["id"] == eid:
            ns = eid.partition(":")[0]
            target = resolve_ref((e.get("meta") or {}).get("router"), ns)
            return not any(x["id"] == target and x["kind"] == "http.router" for x in items)
    return False
