"""``wippy.sanitize``: HTML sanitization by allow-list policies, the model of Wippy's ``html``
module (which wraps Go's bluemonday): a policy lists the elements and attributes it allows;
everything else goes, the text stays (escaped). Lua's ``html.sanitize`` is a view of this.

::

    p = sanitize.ugc_policy()
    p.sanitize('<p>Hello <script>alert(1)</script></p>')      # '<p>Hello </p>'
    p = sanitize.new_policy().allow_elements("p", "a")
    p.allow_attrs("href").on_elements("a"); p.allow_url_schemes("https")

Bluemonday's rules, kept here: the content of ``script``, ``style``, ``iframe``, ``object``,
``noscript``, ``title``... is dropped with the element; an allowed element left with no
attribute is dropped (its content kept) unless it is one of the elements that make sense bare
(``p``, ``b``, ``span``, ``ul``... but not ``a`` or ``img``); attribute patterns match anywhere
in the value (anchor them with ``^...$``); URLs are checked (``href``, ``src``, ``cite``) once
any URL rule is set (``allow_standard_urls``, ``allow_url_schemes``, ``allow_relative_urls``,
``require_parseable_urls``, ``allow_data_uri_images``), and ``allow_standard_urls`` (so also
``allow_images`` and the UGC policy) adds ``rel="nofollow"`` to links, as bluemonday does;
``target="_blank"`` comes with ``rel="noopener"``. Output is not re-balanced: an unclosed tag
stays unclosed.

Parsing: the standard library's ``html.parser`` (lenient, like Go's tokenizer). Regular
expressions are Python's (Go's RE2 syntax for the usual patterns; ``\\p{L}`` is not
supported). Rejected: ``bleach``/``nh3`` (a dependency, and neither has bluemonday's API or
defaults).
"""
from __future__ import annotations

from ..errors import HtmlPolicyError
from .policy import AttrBuilder, Policy, new_policy, strict_policy, ugc_policy

__all__ = ["Policy", "AttrBuilder", "new_policy", "ugc_policy", "strict_policy",
           "HtmlPolicyError"]
