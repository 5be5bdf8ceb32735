"""Fanning work out from a program: submit, futures, map, gather; functions from the program's
own modules reach the hosts."""
from __future__ import annotations

import os
import sys
import textwrap

import pytest
from conftest import write_app

import wippy
from wippy.client.futures import import_hint, local_modules

pytestmark = [pytest.mark.timeout(90)]

APP = {
    "config/_index.yaml": """
        version: "1.0"
        namespace: app
        entries:
          - name: procs
            kind: process.host
            host: {workers: 2}
          - name: double
            kind: function.py
            source: file://fns.py
            method: double
    """,
    "config/fns.py": """
        def double(x):
            return x * 2
    """,
}


def test_a_module_outside_the_installation_and_the_application_goes_by_value(tmp_path):
    (tmp_path / "only_here_mod.py").write_text("def f(x):\n    return x + 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import only_here_mod  # type: ignore[import-not-found]
        found = local_modules(app_dir=None)
        assert only_here_mod in found
        assert os not in found and wippy not in found
        assert only_here_mod not in local_modules(app_dir=str(tmp_path))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("only_here_mod", None)


def test_an_import_failure_on_a_host_comes_with_a_hint():
    assert "install it in the Python environment the node runs in" in import_hint(
        "ModuleNotFoundError: No module named 'numpyy'")
    assert import_hint("ValueError: boom") is None


@pytest.mark.integration
def test_submit_map_and_gather_from_a_script_with_its_own_module(app_dir, tmp_path):
    write_app(app_dir, APP)
    script_dir = tmp_path / "script"
    script_dir.mkdir()
    (script_dir / "mywork.py").write_text(textwrap.dedent("""
        def square(x):
            return x * x

        def fail(x):
            raise ValueError(f"no {x}")
    """))
    (script_dir / "main.py").write_text(textwrap.dedent(f"""
        import json, wippy, mywork
        with wippy.Node({app_dir!r}) as node:
            f = node.submit(mywork.square, 7)
            out = {{"one": f.result(30), "done": f.done()}}
            out["map"] = node.map(mywork.square, range(20), timeout=60)
            out["entry"] = node.map("app:double", [1, 2, 3], timeout=60)
            out["lambda"] = node.submit(lambda a, b: a + b, 1, 2).result(30)
            futures = [node.submit(mywork.square, i) for i in range(5)]
            out["gather"] = node.gather(futures, timeout=60)
            bad = node.submit(mywork.fail, 3)
            out["error"] = str(bad.exception(30))
            try:
                node.map(mywork.fail, [1], timeout=30)
            except wippy.ProcessFailed as exc:
                out["map_error"] = str(exc)
            print(json.dumps(out))
    """))
    import json
    import subprocess
    # run from elsewhere: the script's folder is on its own path, not on the hosts'
    r = subprocess.run([sys.executable, str(script_dir / "main.py")], cwd="/", capture_output=True,
                       text=True, timeout=80)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["one"] == 49 and out["done"] is True
    assert out["map"] == [i * i for i in range(20)]
    assert out["entry"] == [2, 4, 6] and out["lambda"] == 3
    assert out["gather"] == [0, 1, 4, 9, 16]
    assert "ValueError: no 3" in out["error"] and "ValueError: no 1" in out["map_error"]
