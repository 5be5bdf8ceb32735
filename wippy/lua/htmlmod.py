"""Wippy's Lua ``html`` module: ``html.sanitize.new_policy()``, ``ugc_policy()``,
``strict_policy()``, a view of :mod:`wippy.sanitize` (bluemonday's model).

Objects: ``HtmlPolicy`` (the policy is its first field; every builder method returns the
policy again, so calls chain) and ``HtmlAttrs`` (what ``allow_attrs`` returns: ``matching``,
``on_elements``, ``globally``). Nothing blocks.
"""
from __future__ import annotations

from typing import Any

from .. import sanitize as _s
from .api import ApiError, New, Raise, function, method, subtable, text

__all__: list[str] = []

subtable("html", "sanitize", "html.sanitize")


def _policy(p: Any) -> _s.Policy:
    if not isinstance(p, _s.Policy):
        raise ApiError("INVALID", "a policy expected")
    return p


def _names(args: tuple, what: str) -> list[str]:
    out = []
    for a in args:
        if type(a) is not bytes:
            raise Raise("INVALID", f"{what} must be strings")
        out.append(text(a, what))
    return out


def _obj(p: _s.Policy) -> New:
    return New((b"HtmlPolicy", p))


for _name, _make in (("new_policy", _s.new_policy), ("ugc_policy", _s.ugc_policy),
                     ("strict_policy", _s.strict_policy)):
    function("html.sanitize", _name)(lambda _m=_make: _obj(_m()))


@method("HtmlPolicy", "allow_elements")
def _allow_elements(p: Any, _b: Any, _c: Any, *names: Any) -> Any:
    return _obj(_policy(p).allow_elements(*_names(names, "element names")))


@method("HtmlPolicy", "allow_attrs")
def _allow_attrs(p: Any, _b: Any, _c: Any, *names: Any) -> Any:
    return New((b"HtmlAttrs", _policy(p).allow_attrs(*_names(names, "attribute names"))))


def _flag(name: str) -> None:
    def set_flag(p: Any, _b: Any, _c: Any, on: Any = True) -> Any:
        return _obj(getattr(_policy(p), name)(on is not False and on is not None))
    method("HtmlPolicy", name)(set_flag)


for _n in ("require_parseable_urls", "allow_relative_urls", "require_nofollow_on_links",
           "require_noreferrer_on_links", "add_target_blank_to_fully_qualified_links"):
    _flag(_n)


def _plain(name: str) -> None:
    def call(p: Any, *_: Any) -> Any:
        return _obj(getattr(_policy(p), name)())
    method("HtmlPolicy", name)(call)


for _n in ("allow_standard_urls", "allow_data_uri_images", "allow_standard_attributes",
           "allow_images", "allow_lists", "allow_tables"):
    _plain(_n)


@method("HtmlPolicy", "allow_url_schemes")
def _schemes(p: Any, _b: Any, _c: Any, *schemes: Any) -> Any:
    return _obj(_policy(p).allow_url_schemes(*_names(schemes, "URL schemes")))


@method("HtmlPolicy", "sanitize")
def _sanitize(p: Any, _b: Any, _c: Any, html: Any = None) -> bytes:
    if type(html) is not bytes:
        raise Raise("INVALID", "sanitize expects a string")
    return _policy(p).sanitize(html.decode("utf-8", "replace")).encode()


def _attrs(b: Any) -> _s.AttrBuilder:
    if not isinstance(b, _s.AttrBuilder):
        raise ApiError("INVALID", "an attribute builder expected")
    return b


@method("HtmlAttrs", "matching")
def _matching(b: Any, _b: Any, _c: Any, pattern: Any = None) -> Any:
    try:
        return New((b"HtmlAttrs", _attrs(b).matching(text(pattern, "pattern"))))
    except _s.HtmlPolicyError as exc:
        raise ApiError("INVALID", str(exc)) from None


@method("HtmlAttrs", "on_elements")
def _on_elements(b: Any, _b: Any, _c: Any, *names: Any) -> Any:
    return _obj(_attrs(b).on_elements(*_names(names, "element names")))


@method("HtmlAttrs", "globally")
def _globally(b: Any, *_: Any) -> Any:
    return _obj(_attrs(b).globally())
