"""``fs``, ``exec``, ``templates`` and ``html`` in a real node: entries read from YAML (a
relative ``fs.directory`` under the application, a ``file://`` template, an exec whitelist),
a Lua program run with ``wippy run -x`` on the terminal host, and a Python function doing the
same through ``wippy.fs``, ``wippy.exec``, ``wippy.templates`` and ``wippy.sanitize``."""
from __future__ import annotations

import os

import pytest

from conftest import run_wippy, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

APP = {
    "src/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - {name: terminal, kind: terminal.host, lifecycle: {auto_start: true}}
          - {name: data, kind: fs.directory, directory: ./data, auto_init: true}
          - {name: shell, kind: exec.native, command_whitelist: ["echo hello"]}
          - {name: views, kind: template.set, engine: {globals: {site: Shop}}}
          - {name: layout, kind: template.jet, set: views, source: file://layout.jet}
          - name: home
            kind: template.jet
            set: views
            source: |
              {{ extends "layout" }}{{ block body() }}Hi {{ name }}{{ end }}
          - name: cli
            kind: process.lua
            source: file://cli.lua
            method: main
            modules: [io, fs, exec, templates, html, funcs, json]
          - {name: py, kind: function.py, source: file://py.py, method: run}
    """,
    "src/py.py": """
        from wippy import exec as wexec, fs, sanitize, templates

        async def run():
            vol = fs.get("app:data")
            vol.writefile("/py.txt", "from python")
            p = wexec.get("app:shell").exec("echo hello")
            out = p.stdout_stream()
            p.start()
            said = await out.read()
            await p.wait()
            page = templates.get("app:views").render("home", {"name": "Py"})
            clean = sanitize.ugc_policy().sanitize("<i>i</i><script>x</script>")
            return [vol.readfile("/py.txt").decode(), said.decode().strip(), page.strip(), clean]
    """,
    "src/layout.jet": "<title>{{ site }}</title><body>{{ yield body() }}</body>\n",
    "src/cli.lua": """
        local io, fs, exec = require("io"), require("fs"), require("exec")
        local templates, html = require("templates"), require("html")
        local function main()
          local vol = fs.get("app:data")
          vol:writefile("/note.txt", "kept")
          local _, esc = vol:readfile("../src/cli.lua")
          io.print("fs: " .. vol:readfile("/note.txt") .. " " .. esc:kind())
          local ex = exec.get("app:shell")
          local p = ex:exec("echo hello")
          local out = p:stdout_stream()
          p:start()
          local said = out:read()
          p:wait()
          local _, denied = ex:exec("echo bye")
          io.print("exec: " .. said:gsub("\\n", "") .. " " .. denied:kind())
          io.print("tpl: " .. templates.get("app:views"):render("home", {name = "<Ann>"}))
          io.print("html: " .. html.sanitize.ugc_policy():sanitize("<b>x</b><script>y</script>"))
          local py, err = require("funcs").call("app:py")
          io.print("python: " .. (py and require("json").encode(py) or tostring(err)))
          return 0
        end
        return {main = main}
    """,
}


def test_files_commands_templates_and_html_from_yaml(app_dir):
    app = write_app(app_dir, APP)
    r = run_wippy(["run", app, "-x", "app:cli"], cwd=app)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "fs: kept Invalid" in lines
    assert "exec: hello PermissionDenied" in lines
    assert "tpl: <title>Shop</title><body>Hi &lt;Ann&gt;</body>" in lines
    assert "html: <b>x</b>" in lines
    assert ('python: ["from python","hello","<title>Shop</title><body>Hi Py</body>",'
            '"<i>i</i>"]') in lines
    assert open(os.path.join(app, "data", "note.txt")).read() == "kept"
