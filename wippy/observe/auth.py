"""Who may write through the observer: the operator holding the token (pure decisions).

Reading is open to whoever reaches the port (127.0.0.1 by default: exposing it is the
operator's choice). Every write (cancel a workflow, roll the registry back, terminate a
process) needs the token given at start (``--observe-token`` or ``WIPPY_OBSERVE_TOKEN``),
presented in the ``X-Wippy-Token`` header, as ``Authorization: Bearer TOKEN`` or in the
``wippy_observe_token`` cookie (which the page sets ``SameSite=Strict``); without a token
configured, every write is refused. A write whose ``Origin`` is another site's is refused
too, so a page elsewhere cannot drive the operator's browser into an action (the cookie is
``SameSite=Strict`` as well: two locks on the same door). Tokens are compared in constant time.

Rejected: sessions and logins (a token the operator already holds is the whole need);
basic auth (browsers cache it, and its prompt cannot be styled or explained).
"""
from __future__ import annotations

import enum
import hmac
from typing import Mapping
from urllib.parse import unquote, urlsplit

__all__ = ["Access", "check", "presented", "TOKEN_HEADER", "COOKIE"]

TOKEN_HEADER = "x-wippy-token"
COOKIE = "wippy_observe_token"


class Access(str, enum.Enum):
    """The answer to "may this request write?"."""

    ALLOWED = "allowed"
    READ_ONLY = "read-only"         # no token was configured: nobody writes
    NO_TOKEN = "no-token"           # a token is configured; this request has none or another
    CROSS_SITE = "cross-site"       # the request comes from a page of another origin

    @property
    def reason(self) -> str:
        return {
            Access.ALLOWED: "allowed",
            Access.READ_ONLY: "the observer is read-only: start the node with --observe-token "
                              "(or WIPPY_OBSERVE_TOKEN) to allow operator actions",
            Access.NO_TOKEN: "this action needs the observer's token (X-Wippy-Token header or "
                             "the wippy_observe_token cookie)",
            Access.CROSS_SITE: "refused: the request comes from another site",
        }[self]


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            return unquote(value)        # the page writes it with encodeURIComponent
    return None


def presented(headers: Mapping[str, str]) -> str | None:
    """The token a request carries (``headers`` with lower-cased names), if any."""
    token = headers.get(TOKEN_HEADER)
    if token:
        return token.strip()
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    cookie = _cookie(headers.get("cookie", ""), COOKIE)
    return cookie or None


def _same_origin(headers: Mapping[str, str]) -> bool:
    origin = headers.get("origin")
    if not origin:
        return True         # not a browser's cross-origin request (curl, a same-origin GET)
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def check(token: str | None, headers: Mapping[str, str]) -> Access:
    """May a request with ``headers`` (lower-cased names) write, when the observer's token
    is ``token`` (None: none configured)?"""
    if not token:
        return Access.READ_ONLY
    if not _same_origin(headers):
        return Access.CROSS_SITE
    got = presented(headers)
    if got is None or not hmac.compare_digest(got.encode(), token.encode()):
        return Access.NO_TOKEN
    return Access.ALLOWED
