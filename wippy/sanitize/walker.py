"""Walking HTML against a policy's allow-lists: :class:`Sanitizer` (the standard library's
``html.parser``) writes what is allowed and escapes the text; bluemonday's element tables (the
elements that may stay bare, those whose content goes with them) and its escaping live here.
"""
from __future__ import annotations

from html.parser import HTMLParser
from collections.abc import Callable, Container

__all__ = ["Sanitizer", "AttrFilter"]

# An element's attributes in, those the policy keeps out (as [name, value] pairs).
AttrFilter = Callable[[str, list[tuple[str, str | None]]], list[list[str]]]

# Elements that may stay without attributes (bluemonday's list).
_BARE = frozenset("""abbr acronym address article aside audio b bdi blockquote body br button
canvas caption center cite code col colgroup datalist dd del details dfn div dl dt em fieldset
figcaption figure footer h1 h2 h3 h4 h5 h6 head header hgroup hr html i ins kbd li mark marquee
nav ol optgroup option p picture pre q rp rt ruby s samp script section select small span strike
strong style sub summary sup svg table tbody td textarea tfoot th thead title time tr tt u ul
var video wbr""".split())
# Elements whose content goes with them when they are not allowed.
_SKIP_CONTENT = frozenset("frameset iframe noembed noframes noscript nostyle object script "
                          "style title".split())
_UNSAFE = frozenset({"script", "style"})      # never allowed, not even explicitly


def _escape(s: str) -> str:
    """Go's html.EscapeString (what bluemonday writes)."""
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&#34;"))


def _attr_escape(s: str) -> str:
    return _escape(s).replace("\r", "&#13;")


class Sanitizer(HTMLParser):
    """Writes the HTML fed to it with what ``elements`` does not allow removed (``out``);
    ``clean_attrs`` keeps the attributes an element may have."""

    def __init__(self, elements: Container[str], clean_attrs: AttrFilter) -> None:
        super().__init__(convert_charrefs=True)
        self.elements = elements
        self.clean_attrs = clean_attrs
        self.out: list[str] = []
        self.skipping = 0                 # nested skipped-content elements open
        self.skip_close: list[str] = []   # allowed elements dropped for want of attributes

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], end: str) -> bool:
        """Write the start tag if allowed; True when its content stays."""
        if tag in _UNSAFE or tag not in self.elements:
            if tag in _SKIP_CONTENT and end == ">":
                self.skipping += 1
            return False
        clean = self.clean_attrs(tag, attrs) if attrs else []
        if not clean and tag not in _BARE:
            if end == ">":
                self.skip_close.append(tag)
            return False
        if not self.skipping:
            self.out.append("<" + tag + "".join(f' {k}="{_attr_escape(v)}"' for k, v in clean)
                            + end)
        return True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, ">")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, "/>")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_close and self.skip_close[-1] == tag:
            self.skip_close.pop()
            return
        if tag in _UNSAFE or tag not in self.elements:
            if tag in _SKIP_CONTENT and self.skipping:
                self.skipping -= 1
            return
        if not self.skipping:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(_escape(data))
