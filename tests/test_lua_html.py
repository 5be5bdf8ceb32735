"""Wippy's ``html`` module (``en/lua/http/html.md``): every example of the page run as written
(a snippet that starts from an existing ``policy`` gets ``local policy =
html.sanitize.new_policy()`` first), its outputs compared with the page's comments, and the
XSS payloads of Wippy's own tests. Where the page's comment and bluemonday (the library Wippy
runs) disagree, the test says so and holds bluemonday's answer. In-process host."""
from __future__ import annotations

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy import sanitize

pytestmark = pytest.mark.timeout(30)

NEW = "local policy = html.sanitize.new_policy()\n"


def run(host_factory, body: str):
    src = ("local html = require('html')\nlocal function main()\nlocal outputs = {}\n"
           "local function keep(x) table.insert(outputs, x); return x end\n" + body +
           "\nreturn outputs\nend\nreturn {main = main}")
    h = host_factory(lua_entry("t:main", src, modules=["html"]))
    return h.exec("t:main")


A_HREF = NEW + 'policy:allow_elements("a")\npolicy:allow_attrs("href"):on_elements("a")\n'

# name -> (context the snippet assumes, the snippet as written with `keep(...)` around each
# result the page comments on, the page's results, ours where they differ)
EXAMPLES: dict[str, tuple[str, str, list[str] | None, list[str] | None]] = {
    "empty policy": ("""local user_input = '<p class="x">Hi <em>there</em><img src="a.png"></p>'\n""", """
local policy, err = html.sanitize.new_policy()

policy:allow_elements("p", "strong", "em")
policy:allow_attrs("class"):globally()

local clean = policy:sanitize(user_input)
keep(clean)""", None, ['<p class="x">Hi <em>there</em></p>']),
    "ugc policy": ("", """
local policy = html.sanitize.ugc_policy()

local safe = keep(policy:sanitize('<p>Hello <strong>world</strong></p>'))
-- '<p>Hello <strong>world</strong></p>'

local xss = keep(policy:sanitize('<p>Hello <script>alert("xss")</script></p>'))
-- '<p>Hello </p>'""", ["<p>Hello <strong>world</strong></p>", "<p>Hello </p>"], None),
    "strict policy": ("", """
local policy = html.sanitize.strict_policy()

local text = keep(policy:sanitize('<p>Hello <b>world</b>!</p>'))
-- 'Hello world!'""", ["Hello world!"], None),
    "allow elements": ("", """
local policy = html.sanitize.new_policy()
policy:allow_elements("p", "strong", "em", "br")
policy:allow_elements("h1", "h2", "h3")
policy:allow_elements("a", "img")

local result = keep(policy:sanitize('<p>Hello <strong>world</strong></p>'))
-- '<p>Hello <strong>world</strong></p>'""", ["<p>Hello <strong>world</strong></p>"], None),
    "allow attrs": (NEW, """
policy:allow_attrs("href"):on_elements("a")
policy:allow_attrs("src", "alt"):on_elements("img")
policy:allow_attrs("class", "id"):globally()
keep(policy:sanitize('<a href="/x" class="c">l</a><img src="i.png" alt="i" onload="x()">'))""",
                    None, ['<a href="/x" class="c">l</a><img src="i.png" alt="i">']),
    "on specific elements": (NEW, """
policy:allow_elements("a", "img")
policy:allow_attrs("href", "target"):on_elements("a")
policy:allow_attrs("src", "alt", "width", "height"):on_elements("img")
keep(policy:sanitize('<a href="/x" target="_top" src="no">l</a><img src="i.png" href="no">'))""",
                             None, ['<a href="/x" target="_top">l</a><img src="i.png">']),
    "on all elements": (NEW + 'policy:allow_elements("p")\n', """
policy:allow_attrs("class"):globally()
policy:allow_attrs("id"):globally()
keep(policy:sanitize('<p class="a" id="b" style="c">t</p>'))""", None,
                        ['<p class="a" id="b">t</p>']),
    "pattern matching": (NEW, """
-- Only allow hex colors in style
local builder, err = policy:allow_attrs("style"):matching("^color:#[0-9a-fA-F]{6}$")
if err then
    return nil, err
end
builder:on_elements("span")

keep(policy:sanitize('<span style="color:#ff0000">Red</span>'))
-- '<span style="color:#ff0000">Red</span>'

keep(policy:sanitize('<span style="background:red">Bad</span>'))
-- '<span>Bad</span>'""", ['<span style="color:#ff0000">Red</span>', "<span>Bad</span>"], None),
    "standard urls": (NEW, """
policy:allow_elements("a")
policy:allow_attrs("href"):on_elements("a")
policy:allow_standard_urls()
keep(policy:sanitize('<a href="https://example.com">x</a><a href="javascript:x()">y</a>'))""",
                      None, ['<a href="https://example.com" rel="nofollow">x</a>y']),
    "url schemes": (A_HREF, """
policy:allow_url_schemes("https", "mailto")

keep(policy:sanitize('<a href="https://example.com">OK</a>'))
-- '<a href="https://example.com">OK</a>'

keep(policy:sanitize('<a href="javascript:alert(1)">XSS</a>'))
-- '<a>XSS</a>'""", ['<a href="https://example.com">OK</a>', "<a>XSS</a>"],
                    # bluemonday drops an <a> left without attributes (it keeps the text)
                    ['<a href="https://example.com">OK</a>', "XSS"]),
    "relative urls": (A_HREF, """
policy:allow_relative_urls(true)

keep(policy:sanitize('<a href="/page">Link</a>'))
-- '<a href="/page">Link</a>'""", ['<a href="/page">Link</a>'], None),
    "require parseable urls": (A_HREF + 'policy:allow_url_schemes("https")\n', """
policy:require_parseable_urls(true)
keep(policy:sanitize('<a href="https://ok.example/a">a</a><a href="https://x/%zz">b</a>'))""",
                               None, ['<a href="https://ok.example/a">a</a>b']),
    "nofollow": (NEW, """
policy:allow_attrs("href", "rel"):on_elements("a")
policy:require_nofollow_on_links(true)

keep(policy:sanitize('<a href="https://example.com">Link</a>'))
-- '<a href="https://example.com" rel="nofollow">Link</a>'""",
                 ['<a href="https://example.com" rel="nofollow">Link</a>'], None),
    "noreferrer": (A_HREF, """
policy:require_noreferrer_on_links(true)
keep(policy:sanitize('<a href="https://example.com">Link</a>'))""",
                   None, ['<a href="https://example.com" rel="noreferrer">Link</a>']),
    "target blank": (NEW + 'policy:allow_url_schemes("https")\n', """
policy:allow_attrs("href", "target"):on_elements("a")
policy:add_target_blank_to_fully_qualified_links(true)

keep(policy:sanitize('<a href="https://example.com">Link</a>'))
-- '<a href="https://example.com" target="_blank">Link</a>'""",
                     ['<a href="https://example.com" target="_blank">Link</a>'],
                     # bluemonday pairs target="_blank" with rel="noopener"
                     ['<a href="https://example.com" target="_blank" rel="noopener">Link</a>']),
    "allow images": (NEW, """
policy:allow_images()

keep(policy:sanitize('<img src="photo.jpg" alt="Photo">'))
-- '<img src="photo.jpg" alt="Photo">'""", ['<img src="photo.jpg" alt="Photo">'], None),
    "data uri images": (NEW, """
policy:allow_elements("img")
policy:allow_attrs("src"):on_elements("img")
policy:allow_data_uri_images()

keep(policy:sanitize('<img src="data:image/png;base64,iVBORw...">'))
-- '<img src="data:image/png;base64,iVBORw...">'
keep(policy:sanitize('<img src="data:image/png;base64,iVBORw0KGgo=">'))""",
                        ['<img src="data:image/png;base64,iVBORw...">'],
                        # the page's "iVBORw..." is not base64: bluemonday drops the URL, and
                        # then the bare <img>; real image data stays
                        ["", '<img src="data:image/png;base64,iVBORw0KGgo=">']),
    "lists": (NEW, """
policy:allow_lists()

keep(policy:sanitize('<ul><li>Item 1</li><li>Item 2</li></ul>'))
-- '<ul><li>Item 1</li><li>Item 2</li></ul>'""", ["<ul><li>Item 1</li><li>Item 2</li></ul>"], None),
    "tables": (NEW, """
policy:allow_tables()

keep(policy:sanitize('<table><tr><td>Cell</td></tr></table>'))
-- '<table><tr><td>Cell</td></tr></table>'""", ["<table><tr><td>Cell</td></tr></table>"], None),
    "standard attributes": (NEW, """
policy:allow_elements("p")
policy:allow_standard_attributes()

keep(policy:sanitize('<p id="intro" class="text" title="Introduction">Hello</p>'))
-- '<p id="intro" class="text" title="Introduction">Hello</p>'""",
                            ['<p id="intro" class="text" title="Introduction">Hello</p>'],
                            # bluemonday's standard attributes are dir, lang, id and title
                            ['<p id="intro" title="Introduction">Hello</p>']),
    "sanitize": ("", """
local policy = html.sanitize.ugc_policy()
policy:require_nofollow_on_links(true)

local dirty = '<p>Hello</p><script>alert("xss")</script>'
local clean = keep(policy:sanitize(dirty))
-- '<p>Hello</p>'""", ["<p>Hello</p>"], None),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_docs_example(host_factory, name):
    context, snippet, documented, ours = EXAMPLES[name]
    assert run(host_factory, context + snippet) == (documented if ours is None else ours)


def test_how_many_docs_examples_match_their_comments():
    commented = [n for n, (_, _, documented, _) in EXAMPLES.items() if documented is not None]
    differ = [n for n in commented if EXAMPLES[n][3] is not None]
    assert (len(EXAMPLES), len(commented)) == (21, 14)
    assert differ == ["url schemes", "target blank", "data uri images", "standard attributes"]


@pytest.mark.parametrize("payload,absent", [
    ("<script>alert('xss')</script>", "script"),
    ("<img src=x onerror=alert('xss')>", "onerror"),
    ("<a href=\"javascript:alert('xss')\">", "javascript"),
    ("<div onclick=\"alert('xss')\">", "onclick"),
    ("<svg onload=\"alert('xss')\">", "onload"),
    ("<body onload=\"alert('xss')\">", "onload"),
])
@pytest.mark.parametrize("make", [sanitize.strict_policy, sanitize.ugc_policy])
def test_xss_payloads_are_removed(payload, absent, make):
    assert absent not in make().sanitize(payload).lower()


def test_ugc_keeps_safe_links_and_drops_dangerous_ones():
    p = sanitize.ugc_policy()
    assert p.sanitize('<a href="https://x.org/a?b=1&c=2" onclick="x()">x</a>') == \
        '<a href="https://x.org/a?b=1&amp;c=2" rel="nofollow">x</a>'
    assert p.sanitize('<a href="  JaVaScRiPt:alert(1)">x</a>') == "x"
    assert p.sanitize('<iframe src="https://x"><p>hidden</p></iframe>ok') == "ok"
    assert p.sanitize("<p>a &lt;b&gt; \"c\" 'd'</p>") == "<p>a &lt;b&gt; &#34;c&#34; &#39;d&#39;</p>"


def test_a_bad_pattern_is_an_invalid_error_and_bad_arguments_raise(host_factory):
    got = run(host_factory, NEW + """
        local b, err = policy:allow_attrs("style"):matching("([")
        keep(b == nil)
        keep(err:kind())
        keep(pcall(function() return policy:sanitize(nil) end))
        keep(pcall(function() return policy:allow_attrs("class"):on_elements({}) end))""")
    assert got == [True, "Invalid", False, False]
