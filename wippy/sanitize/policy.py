"""A sanitizing policy (:class:`Policy`): the elements and attributes it allows, its URL
rules, and the policies bluemonday ships (:func:`new_policy`, :func:`strict_policy`,
:func:`ugc_policy`). :mod:`.walker` walks the HTML against it.
"""
from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from ..errors import HtmlPolicyError
from .walker import Sanitizer

__all__ = ["Policy", "AttrBuilder", "new_policy", "ugc_policy", "strict_policy"]


_URL_ATTRS = {**{e: "href" for e in ("a", "area", "base", "link")},
              **{e: "cite" for e in ("blockquote", "del", "ins", "q")},
              **{e: "src" for e in ("audio", "embed", "iframe", "img", "script", "source",
                                    "track", "video")}}
_LINKS = frozenset({"a", "area", "link"})

_PARAGRAPH = re.compile(r"^[\w\s\-_',\[\]!./\\()]*$")
_NUMBER_OR_PERCENT = re.compile(r"^[0-9]+%?$")
_INTEGER = re.compile(r"^[0-9]+$")
_DIRECTION = re.compile(r"(?i)^(rtl|ltr)$")
_LANG = re.compile(r"[a-zA-Z]{2,20}")
_ID = re.compile(r"[a-zA-Z0-9:\-_.]+")
_LIST_TYPE = re.compile(r"(?i)^(circle|disc|square|a|A|i|I|1)$")
_ALIGN = re.compile(r"(?i)^(center|justify|left|right|char)$")
_VALIGN = re.compile(r"(?i)^(baseline|bottom|middle|top)$")
_IMAGE_ALIGN = re.compile(r"(?i)^(left|right|top|texttop|middle|absmiddle|baseline|bottom|"
                          r"absbottom)$")
_SCOPE = re.compile(r"(?i)^(row|col|rowgroup|colgroup)$")
_DATA_IMAGE = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.I)


class AttrBuilder:
    """``policy.allow_attrs(...)``: finish with ``on_elements(...)`` or ``globally()``."""

    __slots__ = ("_policy", "_attrs", "_regex")

    def __init__(self, policy: Policy, attrs: tuple[str, ...]) -> None:
        self._policy = policy
        self._attrs = tuple(a.lower() for a in attrs)
        self._regex: re.Pattern[str] | None = None

    def matching(self, pattern: str) -> AttrBuilder:
        """Only values the pattern matches (anywhere: anchor it). Raises HtmlPolicyError."""
        try:
            self._regex = re.compile(pattern)
        except re.error as exc:
            raise HtmlPolicyError(f"invalid regex pattern {pattern!r}: {exc}") from None
        return self

    def on_elements(self, *elements: str) -> Policy:
        for el in elements:
            el = el.lower()
            rules = self._policy._elements.setdefault(el, {})
            for a in self._attrs:
                rules.setdefault(a, []).append(self._regex)
        return self._policy

    def globally(self) -> Policy:
        for a in self._attrs:
            self._policy._global.setdefault(a, []).append(self._regex)
        return self._policy


class Policy:
    """An allow-list of elements, attributes and URLs (bluemonday's ``Policy``)."""

    def __init__(self) -> None:
        self._elements: dict[str, dict[str, list[re.Pattern[str] | None]]] = {}
        self._global: dict[str, list[re.Pattern[str] | None]] = {}
        self._schemes: set[str] = set()
        self._data_images = False
        self.parseable_urls = False
        self.relative_urls = False
        self.nofollow = False
        self.noreferrer = False
        self.target_blank = False

    # -- elements and attributes ----------------------------------------------------------
    def allow_elements(self, *names: str) -> Policy:
        for n in names:
            self._elements.setdefault(n.lower(), {})
        return self

    def allow_attrs(self, *names: str) -> AttrBuilder:
        return AttrBuilder(self, names)

    # -- URLs -----------------------------------------------------------------------------
    def require_parseable_urls(self, on: bool = True) -> Policy:
        self.parseable_urls = bool(on)
        return self

    def allow_relative_urls(self, on: bool = True) -> Policy:
        self.relative_urls = bool(on)
        self.parseable_urls = True
        return self

    def allow_url_schemes(self, *schemes: str) -> Policy:
        self._schemes.update(s.lower() for s in schemes)
        self.parseable_urls = True
        return self

    def allow_standard_urls(self) -> Policy:
        self.parseable_urls = True
        self.relative_urls = True
        self.allow_url_schemes("mailto", "http", "https")
        self.nofollow = True
        return self

    def require_nofollow_on_links(self, on: bool = True) -> Policy:
        self.nofollow = bool(on)
        return self

    def require_noreferrer_on_links(self, on: bool = True) -> Policy:
        self.noreferrer = bool(on)
        return self

    def add_target_blank_to_fully_qualified_links(self, on: bool = True) -> Policy:
        self.target_blank = bool(on)
        if on:
            self.parseable_urls = True
        return self

    def allow_data_uri_images(self) -> Policy:
        self._data_images = True
        self.parseable_urls = True
        return self

    # -- conveniences (bluemonday's) ------------------------------------------------------
    def allow_standard_attributes(self) -> Policy:
        self.allow_attrs("dir").matching(_DIRECTION.pattern).globally()
        self.allow_attrs("lang").matching(_LANG.pattern).globally()
        self.allow_attrs("id").matching(_ID.pattern).globally()
        self.allow_attrs("title").matching(_PARAGRAPH.pattern).globally()
        return self

    def allow_images(self) -> Policy:
        self.allow_attrs("align").matching(_IMAGE_ALIGN.pattern).on_elements("img")
        self.allow_attrs("alt").matching(_PARAGRAPH.pattern).on_elements("img")
        self.allow_attrs("height", "width").matching(_NUMBER_OR_PERCENT.pattern).on_elements("img")
        self.allow_standard_urls()
        self.allow_attrs("src").on_elements("img")
        return self

    def allow_lists(self) -> Policy:
        self.allow_attrs("type").matching(_LIST_TYPE.pattern).on_elements("ol", "ul", "li")
        self.allow_attrs("value").matching(_INTEGER.pattern).on_elements("li")
        self.allow_elements("dl", "dt", "dd")
        return self

    def allow_tables(self) -> Policy:
        self.allow_attrs("height", "width").matching(_NUMBER_OR_PERCENT.pattern).on_elements("table")
        self.allow_attrs("summary").matching(_PARAGRAPH.pattern).on_elements("table")
        self.allow_elements("caption", "table", "thead", "tbody", "tfoot", "tr")
        self.allow_attrs("align").matching(_ALIGN.pattern).on_elements(
            "col", "colgroup", "thead", "tbody", "tfoot", "tr", "td", "th")
        self.allow_attrs("valign").matching(_VALIGN.pattern).on_elements(
            "col", "colgroup", "thead", "tbody", "tfoot", "tr", "td", "th")
        self.allow_attrs("width").matching(_NUMBER_OR_PERCENT.pattern).on_elements(
            "col", "colgroup", "td", "th")
        self.allow_attrs("span").matching(_INTEGER.pattern).on_elements("col", "colgroup")
        self.allow_attrs("colspan", "rowspan").matching(_INTEGER.pattern).on_elements("td", "th")
        self.allow_attrs("headers").matching(_ID.pattern).on_elements("td", "th")
        self.allow_attrs("abbr").matching(_PARAGRAPH.pattern).on_elements("th")
        self.allow_attrs("scope").matching(_SCOPE.pattern).on_elements("th")
        return self

    # -- sanitizing -----------------------------------------------------------------------
    def sanitize(self, html: str) -> str:
        """``html`` with everything the policy does not allow removed."""
        if not isinstance(html, str):
            raise TypeError("sanitize expects a string")
        s = Sanitizer(self._elements, self._clean_attrs)
        s.feed(html)
        s.close()
        return "".join(s.out)

    def _valid_url(self, raw: str, element: str) -> str | None:
        url = raw.strip()
        if any(c in url for c in " \t\n\r"):
            if not _DATA_IMAGE.match(url):
                return None
            url = re.sub(r"[\r\n]", "", url)
        if any(ord(c) < 0x20 or ord(c) == 0x7f for c in url):
            return None
        try:
            parts = urlsplit(url)
            parts.port                                    # raises for a bad port
        except ValueError:
            return None
        if re.search(r"%(?![0-9A-Fa-f]{2})", url):
            return None
        scheme = parts.scheme.lower()
        if scheme:
            if scheme == "data" and self._data_images:
                return url if _data_image_ok(url) else None
            return url if scheme in self._schemes else None
        return url if self.relative_urls and url else None

    def _clean_attrs(self, element: str, attrs: list[tuple[str, str | None]]) -> list[list[str]]:
        rules = self._elements.get(element, {})
        out: list[list[str]] = []
        for key, value in attrs:
            val = value or ""
            allowed = False
            for rule_set in (rules.get(key), self._global.get(key)):
                if rule_set and any(r is None or r.search(val) for r in rule_set):
                    allowed = True
                    break
            if allowed:
                out.append([key, val])
        if self.parseable_urls and element in _URL_ATTRS:
            url_attr = _URL_ATTRS[element]
            kept = []
            for kv in out:
                if kv[0] == url_attr:
                    url = self._valid_url(kv[1], element)
                    if url is None:
                        continue
                    kv[1] = url
                kept.append(kv)
            out = kept
        if element in _LINKS and out and (self.nofollow or self.noreferrer or self.target_blank):
            out = self._link_rels(element, out)
        return out

    def _link_rels(self, element: str, attrs: list[list[str]]) -> list[list[str]]:
        href = next((v for k, v in attrs if k == "href"), None)
        if href is None:
            return attrs
        try:
            external = bool(urlsplit(href).netloc)
        except ValueError:
            external = False
        add_blank = external and self.target_blank and element == "a"
        rels = []
        if self.nofollow:
            rels.append("nofollow")
        if self.noreferrer:
            rels.append("noreferrer")
        blank = False
        for kv in attrs:
            if kv[0] == "target" and element == "a":
                if add_blank and kv[1] != "_blank":
                    kv[1] = "_blank"
                blank = kv[1] == "_blank"
        if add_blank and not blank:
            attrs.append(["target", "_blank"])
            blank = True
        if blank:
            rels.append("noopener")
        if rels:
            rel = next((kv for kv in attrs if kv[0] == "rel"), None)
            if rel is None:
                attrs.append(["rel", " ".join(rels)])
            else:
                for r in rels:
                    if r not in rel[1].split():
                        rel[1] = (rel[1] + " " + r).strip()
        return attrs


def _data_image_ok(url: str) -> bool:
    m = _DATA_IMAGE.match(url)
    if not m:
        return False
    try:
        base64.b64decode(url[m.end():], validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def new_policy() -> Policy:
    """A policy that allows nothing: build it up."""
    return Policy()


def strict_policy() -> Policy:
    """Strips every element: plain text (escaped) stays."""
    return Policy()


def ugc_policy() -> Policy:
    """User content: common formatting, links, images, lists, tables (bluemonday's UGC)."""
    p = Policy()
    p.allow_standard_attributes()
    p.allow_standard_urls()
    p.allow_attrs("cite").on_elements("blockquote", "q", "del", "ins")
    p.allow_attrs("href").on_elements("a", "area")
    p.allow_attrs("datetime").on_elements("del", "ins", "time")
    p.allow_elements("article", "aside", "details", "figure", "footer", "header", "hgroup",
                     "main", "nav", "section", "summary", "br", "div", "hr", "p", "span",
                     "wbr", "abbr", "acronym", "cite", "code", "dfn", "em", "figcaption",
                     "mark", "s", "samp", "strong", "sub", "sup", "var", "b", "i", "pre",
                     "small", "strike", "tt", "u", "rp", "rt", "ruby", "blockquote", "q",
                     "h1", "h2", "h3", "h4", "h5", "h6", "del", "ins", "time", "kbd", "bdi")
    p.allow_images()
    p.allow_lists()
    p.allow_tables()
    return p

