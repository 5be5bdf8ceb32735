"""HTTP (S13): ``http.service`` (a listen address and its bounds), ``http.router`` (a prefix and
middleware) and ``http.endpoint`` (a method, a route pattern and its function)."""
from __future__ import annotations

import re
from typing import Any

from ..entry import FUNCTION_KINDS
from .fields import (
    OPTIONAL,
    REQUIRED,
    _HOST_REF,
    _PLACEHOLDER_RE,
    Spec,
    _Ctx,
    _duration,
    _int,
    _list,
    _mapping,
    _ref,
    _scalar_map,
    _size,
    _str,
    describe,
)
from .lifecycle import _PLAIN_LIFECYCLE, _lifecycle

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")
_ADDR_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})")
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}")


def _addr(value: Any, path: str, ctx: _Ctx) -> Any:
    """Wippy's listen address: ``:8080``, ``0.0.0.0:443``, ``127.0.0.1:9090``, ``[::1]:80``."""
    m = _ADDR_RE.fullmatch(value) if isinstance(value, str) else None
    if isinstance(value, str) and _PLACEHOLDER_RE.search(value):
        return value            # ${env:...}: resolved by the node when it starts the server
    if m is None or int(m.group(1)) > 65535:
        return ctx.error(path, f"must be a listen address like ':8080' or '127.0.0.1:8080', "
                               f"got {describe(value)}")
    return value


def _http_method(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or value.upper() not in HTTP_METHODS:
        return ctx.error(path, f"must be one of {', '.join(HTTP_METHODS)}, got {describe(value)}")
    return value.upper()


def _url_path(value: Any, path: str, ctx: _Ctx) -> Any:
    """A route pattern: starts with '/', ``{name}`` segments, a last ``{name...}`` wildcard."""
    if not isinstance(value, str) or not value.startswith("/"):
        return ctx.error(path, f"must be a path starting with '/', got {describe(value)}")
    segments = [s for s in value.split("/") if s]
    for i, seg in enumerate(segments):
        if "{" not in seg and "}" not in seg:
            continue
        m = _PARAM_RE.fullmatch(seg)
        if m is None:
            return ctx.error(path, f"segment {seg!r}: a parameter is a whole segment, "
                                   "'{name}' or '{name...}'")
        if m.group(2) and i != len(segments) - 1:
            return ctx.error(path, f"wildcard {seg!r} must be the last segment")
    return value


def _prefix(value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.startswith("/") or "{" in value:
        return ctx.error(path, f"must be a path starting with '/' (no parameters), "
                               f"got {describe(value)}")
    return value


# Middleware options: dotted keys to scalar values, kept as strings (Wippy's form).
_options = _scalar_map("a string, number or boolean")


_HTTP_SERVICE_LIFECYCLE = _lifecycle(("auto_start", "start_timeout", "stop_timeout",
                                      "depends_on", "restart"))
SCHEMAS: dict[str, Spec] = {}
SCHEMAS["http.service"] = {
    "addr": (_addr, REQUIRED),
    "timeouts": (_mapping({"read": (_duration(False), OPTIONAL),
                           "write": (_duration(False), OPTIONAL),
                           "idle": (_duration(False), OPTIONAL)}), {}),
    "host": (_mapping({"buffer_size": (_int(1), OPTIONAL),      # Wippy's relay knobs: accepted,
                       "worker_count": (_int(1), OPTIONAL)}), OPTIONAL),   # not used
    # wippy's own: where handlers run, and the bounds that keep a flood from growing memory
    "handlers": (_mapping({"host": (_HOST_REF, OPTIONAL),
                           "max_in_flight": (_int(1), OPTIONAL),
                           "max_body": (_size, OPTIONAL)}), {}),
    "lifecycle": _HTTP_SERVICE_LIFECYCLE,
}
SCHEMAS["http.router"] = {
    "prefix": (_prefix, "/"),
    "middleware": (_list(_str), []),
    "options": (_options, {}),
    "post_middleware": (_list(_str), []),
    "post_options": (_options, {}),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["http.endpoint"] = {
    "method": (_http_method, REQUIRED),
    "path": (_url_path, REQUIRED),
    "func": (_ref(FUNCTION_KINDS), REQUIRED),
    "timeout": (_duration(True), OPTIONAL),          # wippy's own: the service's timeouts.write
    "lifecycle": _PLAIN_LIFECYCLE,
}
