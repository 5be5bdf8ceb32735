"""A router's pre-match middleware, as pure decisions the server applies: ``cors`` and
``metrics`` (Wippy's names, options and defaults; see ``docs/http.md``).

* :class:`Cors` answers preflight requests (``OPTIONS`` with ``Origin`` and
  ``Access-Control-Request-Method``) with 204 and adds ``Access-Control-Allow-Origin`` (and
  friends) to the answers to allowed origins. Options: ``cors.allow.origins`` (comma-separated,
  ``*``, ``*.example.com``), ``cors.allow.methods``, ``cors.allow.headers``,
  ``cors.expose.headers``, ``cors.allow.credentials``, ``cors.max.age``,
  ``cors.allow.private.network``; Wippy's legacy underscore names are read too.
* :class:`Metrics` counts requests by router, method and status, requests in flight, and a
  latency histogram, under Wippy's metric names (``wippy_http_requests_total``,
  ``wippy_http_request_duration_seconds``, ``wippy_http_requests_in_flight``).

Other names Wippy knows (``compress``, ``ratelimit``, ``real_ip``, ``token_auth``, the
firewalls, the relays) are reported as not supported and skipped: :func:`unsupported`.
"""
from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Middleware", "Cors", "Metrics", "unsupported", "BUCKETS"]


class Middleware(str, enum.Enum):
    """The middleware this server implements."""

    CORS = "cors"
    METRICS = "metrics"


_SUPPORTED = frozenset(m.value for m in Middleware)

#: Latency histogram bucket bounds in seconds (Prometheus' defaults).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def unsupported(names: tuple[str, ...] | list[str]) -> list[str]:
    """The middleware names in ``names`` this server does not implement."""
    return [n for n in names if n not in _SUPPORTED]


def _opt(options: Mapping[str, str], key: str, legacy: str, default: str) -> str:
    value = options.get(key)
    if value is None:
        value = options.get(legacy)
    return value if value else default


def _split(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


@dataclass(frozen=True)
class Cors:
    """CORS for one router (see the module docstring)."""

    origins: tuple[str, ...] = ("*",)
    methods: str = "GET,POST,PUT,DELETE,OPTIONS,PATCH"
    headers: str = "Origin,Content-Type,Accept,Authorization,X-Requested-With"
    expose: str = ""
    credentials: bool = False
    max_age: str = "86400"
    private_network: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Cors:
        return cls(
            origins=_split(_opt(options, "cors.allow.origins", "allow_origins", "*")),
            methods=_opt(options, "cors.allow.methods", "allow_methods", cls.methods),
            headers=_opt(options, "cors.allow.headers", "allow_headers", cls.headers),
            expose=_opt(options, "cors.expose.headers", "expose_headers", ""),
            credentials=_opt(options, "cors.allow.credentials", "allow_credentials",
                             "false") == "true",
            max_age=_opt(options, "cors.max.age", "max_age", cls.max_age),
            private_network=_opt(options, "cors.allow.private.network",
                                 "allow_private_network", "false") == "true")

    def allowed(self, origin: str) -> bool:
        for o in self.origins:
            if o == "*" or o == origin:
                return True
            if o.startswith("*.") and origin.endswith(o[1:]):
                return True
        return False

    def _allow_origin(self, origin: str) -> str:
        # with credentials the origin must be echoed: browsers refuse "*" then
        return "*" if self.origins == ("*",) and not self.credentials else origin

    def preflight(self, method: str, headers: Mapping[str, str]) -> list[tuple[str, str]] | None:
        """The headers of a 204 answer when this is a preflight from an allowed origin; None
        when the request goes on to routing."""
        if method != "OPTIONS":
            return None
        origin = headers.get("origin")
        if not origin or not headers.get("access-control-request-method"):
            return None
        if not self.allowed(origin):
            return None
        out = [("Access-Control-Allow-Origin", self._allow_origin(origin)),
               ("Access-Control-Allow-Methods", self.methods),
               ("Access-Control-Allow-Headers", self.headers),
               ("Access-Control-Max-Age", self.max_age), ("Vary", "Origin")]
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if self.private_network and headers.get("access-control-request-private-network"):
            out.append(("Access-Control-Allow-Private-Network", "true"))
        return out

    def response_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """Headers to add to an ordinary answer (none unless an allowed ``Origin`` asked)."""
        origin = headers.get("origin")
        if not origin or not self.allowed(origin):
            return []
        out = [("Access-Control-Allow-Origin", self._allow_origin(origin)), ("Vary", "Origin")]
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose:
            out.append(("Access-Control-Expose-Headers", self.expose))
        return out


@dataclass
class Metrics:
    """Request counters of one server (every router with the ``metrics`` middleware)."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=dict)
    buckets: dict[str, list[int]] = field(default_factory=dict)   # router -> counts per bound
    duration_sum: dict[str, float] = field(default_factory=dict)
    in_flight: int = 0

    def started(self) -> None:
        self.in_flight += 1

    def finished(self, router: str, method: str, status: int, seconds: float) -> None:
        self.in_flight -= 1
        key = (router, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.buckets.get(router)
        if counts is None:
            counts = self.buckets[router] = [0] * (len(BUCKETS) + 1)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.duration_sum[router] = self.duration_sum.get(router, 0.0) + seconds

    def snapshot(self) -> dict[str, object]:
        """Plain data: what ``wippy ps`` shows under the server."""
        return {
            "wippy_http_requests_in_flight": self.in_flight,
            "wippy_http_requests_total": [
                {"router": r, "method": m, "status": s, "count": n}
                for (r, m, s), n in sorted(self.requests.items())],
            "wippy_http_request_duration_seconds": {
                r: {"buckets": dict(zip([str(b) for b in BUCKETS] + ["+Inf"], _cumulative(c))),
                    "sum": round(self.duration_sum.get(r, 0.0), 6)}
                for r, c in sorted(self.buckets.items())},
        }

    def prometheus(self) -> str:
        """The counters in Prometheus' text format."""
        lines = ["# TYPE wippy_http_requests_total counter"]
        for (r, m, s), n in sorted(self.requests.items()):
            lines.append(f'wippy_http_requests_total{{router="{r}",method="{m}",status="{s}"}} {n}')
        lines.append("# TYPE wippy_http_request_duration_seconds histogram")
        for r, counts in sorted(self.buckets.items()):
            cum = _cumulative(counts)
            for bound, n in zip([str(b) for b in BUCKETS] + ["+Inf"], cum):
                lines.append(f'wippy_http_request_duration_seconds_bucket{{router="{r}",le="{bound}"}} {n}')
            lines.append(f'wippy_http_request_duration_seconds_sum{{router="{r}"}} '
                         f'{self.duration_sum.get(r, 0.0):.6f}')
            lines.append(f'wippy_http_request_duration_seconds_count{{router="{r}"}} {cum[-1]}')
        lines.append("# TYPE wippy_http_requests_in_flight gauge")
        lines.append(f"wippy_http_requests_in_flight {self.in_flight}")
        return "\n".join(lines) + "\n"


def _cumulative(counts: list[int]) -> list[int]:
    out, total = [], 0
    for c in counts:
        total += c
        out.append(total)
    return out
