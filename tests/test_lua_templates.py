"""Wippy's ``templates`` module (``en/lua/text/template.md``, ``en/system/template.md``): the
docs' Jet examples rendered from registry entries, the templates of Wippy's examples
(17-treesitter, 20-bar-roguelike, 21-registry-graph: tests/data/wippy_examples) rendered with
their page data, and the errors (missing set or template, a template that does not parse, a
process without ``template.get``, a ``file://`` source outside the application)."""
from __future__ import annotations

import os
import re

import pytest
from test_lua_harness import host_factory, lua_entry  # noqa: F401 - fixture

from wippy.errors import TemplateError
from wippy.templating.render import render, to_text
from wippy.templating.syntax import parse
from wippy.registry import entry as _entry
from wippy.registry.kinds import validate
from wippy.security import context
from wippy.security.book import BOOK

pytestmark = pytest.mark.timeout(30)

EXAMPLES = os.path.join(os.path.dirname(__file__), "data", "wippy_examples")


def tset(id: str, **engine) -> dict:
    return {"id": id, "kind": "template.set", "meta": {},
            "data": {"engine": engine} if engine else {}, "base_dir": "/"}


def tpl(id: str, set_id: str, source: str, name: str | None = None) -> dict:
    return {"id": id, "kind": "template.jet", "meta": {"name": name} if name else {},
            "data": {"set": set_id, "source": source}, "base_dir": "/"}


def run(host_factory, entries, body: str, *args, as_actor=None, extra=()):
    src = ("local templates = require('templates')\nlocal function main(...)\n" + body +
           "\nend\nreturn {main = main}")
    h = host_factory(lua_entry("t:main", src, modules=["templates"]), *entries, *extra)
    if as_actor is None:
        return h.exec("t:main", *args)
    pid = h.rt.spawn("{client/2|0}", "t:main", "app:h", list(args), 1,
                     security=context.from_wire(as_actor))
    return h.wait_exit(pid)


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# -- the docs' examples -------------------------------------------------------------------------
EMAILS = [
    tset("app.views:emails"),
    tpl("app.views:welcome", "app.views:emails",
        "Hi {{ user.name }} ({{ user.email }}), activate: {{ activation_url }}"),
]


def test_docs_acquire_and_render_examples(host_factory):
    got = run(host_factory, EMAILS, """
        local set, err = templates.get("app.views:emails")
        if err then
            return nil, err
        end

        -- Use the set...

        set:release()

        local set = templates.get("app.views:emails")

        local html, err = set:render("welcome", {
            user = {name = "Alice", email = "alice@example.com"},
            activation_url = "https://example.com/activate?token=abc"
        })

        if err then
            set:release()
            return nil, err
        end

        set:release()
        local _, released = set:render("welcome", {})
        return {html, released:kind(), released:message()}""")
    assert got == ["Hi Alice (alice@example.com), activate: "
                   "https://example.com/activate?token=abc", "Internal",
                   "template set is released"]


SYNTAX = [
    tset("app.views:views"),
    tpl("app.views:variables", "app.views:views",
        "{{ user.name }}\n{{ user.email }}\n{{ items[0].price }}"),
    tpl("app.views:conditionals", "app.views:views", """{{ if order.shipped }}
    <p>Shipped!</p>
{{ else if order.processing }}
    <p>Processing...</p>
{{ else }}
    <p>Received.</p>
{{ end }}"""),
    tpl("app.views:loops", "app.views:views", """{{ range items }}
    <li>{{ .name }} - ${{ .price }}</li>
{{ end }}

{{ range i, item := items }}
    <p>{{ i }}. {{ item.name }}</p>
{{ end }}"""),
    tpl("app.views:layout", "app.views:views", """{* Parent: layout.jet *}
<html>
<head><title>{{ yield title() }}</title></head>
<body>{{ yield body() }}</body>
</html>"""),
    tpl("app.views:page", "app.views:views", """{* Child: page.jet *}
{{ extends "layout" }}
{{ block title() }}My Page{{ end }}
{{ block body() }}<p>Content</p>{{ end }}"""),
    tpl("app.views:includes", "app.views:views", """{{ include "partials/header" }}
<main>Content</main>
{{ include "partials/footer" }}"""),
    tpl("app.views:header", "app.views:views", "<header>{{ user.name }}</header>",
        name="partials/header"),
    tpl("app.views:footer", "app.views:views", "<footer>bye</footer>", name="partials/footer"),
]


def test_docs_jet_syntax_examples(host_factory):
    got = run(host_factory, SYNTAX, """
        local set = templates.get("app.views:views")
        local items = {{name = "Tea", price = 3.5}, {name = "Cake", price = 4}}
        local out = {}
        out.variables = set:render("variables", {user = {name = "Al", email = "a@x"}, items = items})
        for _, o in ipairs({{shipped = true}, {processing = true}, {}}) do
          table.insert(out, set:render("conditionals", {order = o}))
        end
        out.loops = set:render("loops", {items = items})
        out.page = set:render("page")
        out.includes = set:render("includes", {user = {name = "Al"}})
        return out""")
    assert got["variables"] == "Al\na@x\n3.5"
    assert [squash(got[i]) for i in (1, 2, 3)] == ["<p>Shipped!</p>", "<p>Processing...</p>",
                                                   "<p>Received.</p>"]
    assert squash(got["loops"]) == ("<li>Tea - $3.5</li> <li>Cake - $4</li> "
                                    "<p>0. Tea</p> <p>1. Cake</p>")
    assert squash(got["page"]) == ("<html> <head><title>My Page</title></head> "
                                   "<body><p>Content</p></body> </html>")
    assert squash(got["includes"]) == "<header>Al</header> <main>Content</main> <footer>bye</footer>"


def test_docs_system_page_examples_home_and_meta_name(host_factory):
    entries = [
        tset("app.views:views"),
        tpl("app.views:layout", "app.views:views",
            "<html>\n<body>{{ yield content() }}</body>\n</html>\n"),
        tpl("app.views:home", "app.views:views", """{{ extends "layout" }}
{{ block content() }}
  <h1>Welcome, {{ name }}</h1>
{{ end }}
"""),
        tpl("app.views:base", "app.views:views", """<html>
<head><title>{{ yield title() }}</title></head>
<body>{{ yield body() }}</body>
</html>
"""),
        tpl("app.views:page", "app.views:views", """{{ extends "base" }}
{{ block title() }}My Page{{ end }}
{{ block body() }}<p>Content here</p>{{ end }}
"""),
        tset("app.emails:templates"),
        tpl("app.emails:header", "app.emails:templates", "[header]"),
        tpl("app.emails:email-welcome-v2", "app.emails:templates",
            '{{ include "header" }}\nHello {{ user }}!\n', name="welcome"),
    ]
    got = run(host_factory, entries, """
        local views = templates.get("app.views:views")
        local emails = templates.get("app.emails:templates")
        local _, err = emails:render("email-welcome-v2", {user = "Bo"})
        return {views:render("home", {name = "<Ann & Co>"}), emails:render("welcome", {user = "Bo"}),
                err:kind(), err:message(), views:render("page")}""")
    assert squash(got[0]) == "<html> <body> <h1>Welcome, &lt;Ann &amp; Co&gt;</h1> </body> </html>"
    assert got[1] == "[header]\nHello Bo!\n"
    assert got[2:4] == ["NotFound", "template not found: email-welcome-v2 (set app.emails:templates)"]
    assert squash(got[4]) == ("<html> <head><title>My Page</title></head> "
                              "<body><p>Content here</p></body> </html>")


def test_docs_entry_yaml_validates():
    assert validate("template.set", {}, "app.views").problems == []
    checked = validate("template.jet", {"set": "app.views:views", "source": "{{ x }}"}, "app.views")
    assert checked.problems == [] and checked.refs[0].target == "app.views:views"
    full = validate("template.set", {"engine": {"development_mode": True, "delimiters": {
        "left": "[[", "right": "]]"}, "extensions": [".jet"], "globals": {"site": "X"}}}, "a")
    assert full.problems == []


# -- Wippy's examples' templates ------------------------------------------------------------
@pytest.mark.parametrize("example,page,data", [
    ("17-treesitter", "page.jet", {"title": "Tree-sitter Call Graph", "languages": [
        {"lang": "php", "ext": "php", "label": "PHP (MVC App)"},
        {"lang": "python", "ext": "py", "label": "Python (Data Pipeline)"}]}),
    ("20-bar-roguelike", "chat.jet", {"title": "The Rusty Flagon"}),
    ("21-registry-graph", "page.jet", {"title": "Registry Graph", "kinds": [
        {"kind": "function.lua", "count": 3}], "namespaces": [{"ns": "app", "count": 7}]}),
])
def test_wippys_example_templates_render_from_file_sources(host_factory, example, page, data):
    folder = os.path.join(EXAMPLES, example, "src", "templates")
    entries = [tset("app:templates"),
               tpl("app:layout", "app:templates", "file://" + os.path.join(folder, "layout.jet")),
               tpl("app:viewer", "app:templates", "file://" + os.path.join(folder, page))]
    got = run(host_factory, entries, """
        local data = ...
        return templates.get("app:templates"):render("viewer", {data = data})""", data)
    assert got.startswith("<!DOCTYPE html>") and got.rstrip().endswith("</html>")
    assert f"<title>{data['title']}</title>" in got
    assert "{{" not in got and "yield" not in got
    for item in data.get("languages", []):
        assert f'<option value="{item["lang"]}">{item["label"]}</option>' in got
    if "kinds" in data:
        assert "{kind: &#34;function.lua&#34;, count: 3}," not in got     # plain text: not escaped
        assert '{kind: "function.lua", count: 3},' in got


# -- errors and confinement -----------------------------------------------------------------
def test_missing_sets_bad_templates_and_render_errors_are_named(host_factory):
    entries = [tset("app:s"),
               tpl("app:broken", "app:s", "line one\n{{ if x }}never closed"),
               tpl("app:unknown", "app:s", "a\nb {{ nobody }}"),
               tpl("app:loop", "app:s", '{{ include "loop" }}'),
               {"id": "app:other", "kind": "registry.entry", "meta": {}, "data": {}}]
    got = run(host_factory, entries, """
        local out = {}
        for _, id in ipairs({"", "app:none", "app:other"}) do
          local _, err = templates.get(id)
          table.insert(out, err:kind() .. ": " .. err:message())
        end
        local s = templates.get("app:s")
        for _, name in ipairs({"", "missing", "broken", "unknown", "loop"}) do
          local _, err = s:render(name, {})
          table.insert(out, err:kind() .. ": " .. err:message())
        end
        return out""")
    assert got[0] == "Invalid: resource id is required"
    assert got[1] == "NotFound: template set not found: app:none"
    assert got[2] == "Invalid: app:other is a registry.entry, not a template set"
    assert got[3] == "Invalid: template name is required"
    assert got[4] == "NotFound: template not found: missing (set app:s)"
    assert got[5] == "Internal: failed to render template broken: broken:2: if without end"
    assert got[6] == ("Internal: failed to render template unknown: unknown:2: identifier "
                      "'nobody' not available in current (render) scope")
    assert got[7].startswith("Internal: failed to render template loop:") and "deeper" in got[7]


def test_a_process_without_template_get_is_refused(host_factory):
    pols = [{"id": "s:host", "kind": "security.policy", "meta": {},
             "data": {"policy": {"actions": "process.host", "resources": "*", "effect": "allow"}}}]
    try:
        got = run(host_factory, EMAILS, """
            local s, err = templates.get("app.views:emails")
            return {s == nil, err:kind(), err:message()}""",
                  as_actor=[["agent:one", {}, ["s:host"], []]], extra=pols)
    finally:
        BOOK.attach(dict, lambda _id: None)
    assert got == [True, "PermissionDenied", "PERMISSION_DENIED: actor agent:one may not "
                   "template.get app.views:emails (no policy allows it)"]


def test_a_file_source_outside_the_application_is_refused(host_factory, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "outside.jet").write_text("secret")
    os.symlink(str(tmp_path / "outside.jet"), str(app / "link.jet"))
    entries = [tset("app:s"), tpl("app:t", "app:s", "file://" + str(app / "link.jet"))]
    old = _entry.app_root()
    _entry.set_app_root(str(app))
    try:
        got = run(host_factory, entries, """
            local _, err = templates.get("app:s"):render("t")
            return {err:kind(), err:message()}""")
    finally:
        _entry.set_app_root(old)           # type: ignore[arg-type]
    assert got[0] == "PermissionDenied" and "outside the application directory" in got[1]


def test_set_globals_and_custom_delimiters(host_factory):
    entries = [tset("app:s", globals={"site": "Wippy"},
                    delimiters={"left": "[[", "right": "]]"}),
               tpl("app:t", "app:s", "[[ site ]]: [[ name | upper ]] {{ kept }}")]
    got = run(host_factory, entries, """
        return templates.get("app:s"):render("t", {name = "ann"})""")
    assert got == "Wippy: ANN {{ kept }}"


# -- the engine alone ---------------------------------------------------------------------------
def _load(sources: dict[str, str]):
    def load(name: str):
        if name not in sources:
            raise TemplateError(f"template not found: {name}")
        return parse(name, sources[name])
    return load


def test_jet_expressions_pipelines_and_blocks():
    src = {"t": """{{ x := 3 }}{{ x * 2 + 1 }}|{{ 7 / 2 }}|{{ 7.0 / 2 }}|{{ "a" + "b" }}|
{{- "HELLO" | lower | len }}|{{ len: "abc" }}|{{ 2 | repeat("ab", _) }}|{{ "<b>" | raw }}|
{{- isset(nope) }}|{{ n > 2 && n < 10 ? "mid" : "out" }}|{{ s[1:3] }}|{{ m["k"] }}|{{ m.none }}|
{{- block link(target, text="go") }}<a href="{{ target }}">{{ text }}{{ yield content }}</a>{{ end }}|
{{- yield link(target="/x") content }}!{{ end }}|{{ range k, v := m }}{{ k }}={{ v }};{{ end }}|
{{- range items }}{{ . }}{{ else }}none{{ end }}"""}
    out = render(_load(src), "t", {"n": 5, "s": [1, 2, 3, 4], "m": {"k": 1.0, "j": True},
                                   "items": []})
    assert out == ("7|3|3.5|ab|5|3|abab|<b>|false|mid|[2 3]|1||<a href=\"\">go</a>|"
                   "<a href=\"/x\">go!</a>|j=true;k=1;|none")


def test_jet_values_print_as_go_does():
    assert [to_text(v) for v in (1.0, 0.1, 1e21, 1e-7, True, None, [1, "a"], {"b": 1})] == \
        ["1", "0.1", "1e+21", "1e-07", "true", "", "[1 a]", "map[b:1]"]


def test_python_processes_render_the_same_sets():
    from wippy import templates as pytemplates

    class Store:
        entries_ = {e["id"]: e for e in SYNTAX}

        def get(self, id):
            return self.entries_.get(id)

        def entries(self):
            return dict(self.entries_)

        def version(self):
            return 3

    s = pytemplates.Set("app.views:views", Store())
    assert squash(s.render("page")) == ("<html> <head><title>My Page</title></head> "
                                        "<body><p>Content</p></body> </html>")
    assert s.render("variables", {"user": {"name": "A", "email": "e"}, "items": [{"price": 2}]}) \
        == "A\ne\n2"


def test_a_render_is_bounded_in_output_and_steps():
    from wippy.templating import render as jetrun
    for src in ('{{ repeat("x", 100000000) }}', "{{ range ints(0, 100000000) }}{{ end }}",
                '{{ x := "xxxxxxxxxx" }}{{ range ints(0, 3000000) }}{{ x }}{{ end }}'):
        with pytest.raises(TemplateError) as exc:
            render(_load({"t": src}), "t")
        assert "too large" in str(exc.value) or "more than" in str(exc.value) \
            or "larger than" in str(exc.value)
    assert jetrun.MAX_STEPS < 3_000_000
