"""The observer's page in a real headless browser (Debian's chromium, driven over the W3C
WebDriver protocol by chromedriver) against a running node: the hosts and a service in the
process tree, a plot with points, a registry diff, a workflow's journal, a write refused
without the token and done with it; a screenshot is kept under the test's temporary
directory and its path printed. Skipped, saying why, when chromium cannot be found
(``.ci/run`` installs it when it runs as root)."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from observekit import TOKEN, Observed, observed, wait_json
from webdriver import Browser, find_browser

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BROWSER = find_browser()


@pytest.fixture
def ob(app_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Observed]:
    yield from observed(app_dir, monkeypatch)


@pytest.mark.skipif(BROWSER is None, reason="chromium and chromedriver are not installed "
                    "(apt-get install -y chromium chromium-driver; .ci/run does it as root)")
def test_the_page_shows_the_node_and_refuses_writes_without_the_token(
        ob: Observed, tmp_path: os.PathLike[str]) -> None:
    assert BROWSER is not None
    # something to see: a registry version to diff, a workflow with a journal
    entry = ob.node.registry.get("app:settings")
    version = int(ob.node.registry.snapshot().changes().update(
        {**entry, "data": {**entry["data"], "data": {"rate": 7, "mode": "busy"}}}).apply())
    wf = ob.node.workflow_start("app:quick", 4, name="page-demo")
    assert ob.node.workflow_result(wf, timeout=30) == 8
    wait_json(ob, "/api/workflows", lambda r: r["workflows"], what="the workflow journaled")

    shot = os.path.join(str(tmp_path), "observer.png")
    with Browser(*BROWSER, workdir=str(tmp_path)) as b:
        b.get(ob.url)
        # the process tree: both hosts and the busy service
        b.wait(lambda: "app:processes" in b.text("#hosts") and "app:flows" in b.text("#hosts"),
               what="the hosts")
        b.wait(lambda: "app:counter" in b.text("#services")
               and "Running" in b.text("#services"), what="the service")
        # a plot with points: rates need two statuses, a line needs two rates
        b.wait(lambda: (b.script("const p = document.querySelector("
                                 "'#plot-messages polyline[data-name=in]');"
                                 "return p ? Number(p.dataset.count) : 0;") or 0) >= 2,
               what="the messages plot to have points")
        # a registry diff: click the new version in the history
        b.wait(lambda: f"v{version}" in b.text("#registry-history"), what="the history")
        b.click(f"#registry-history tr[data-version='{version}']")
        b.wait(lambda: "data.data" in b.text("#diff"), what="the diff")
        diff = b.text("#diff")
        assert "app:settings" in diff and '"rate":5' in diff and '"rate":7' in diff
        assert "by api" in diff
        # a workflow's journal
        b.wait(lambda: "page-demo" in b.text("#workflows"), what="the workflow list")
        b.click("#workflows tr[data-wf]")
        b.wait(lambda: "steps (" in b.text("#journal").lower() and "call" in b.text("#journal"),
               what="the journal")
        assert "completed" in b.text("#journal") and "8" in b.text("#journal")
        # read-only without the token: the buttons are off and the server says 403
        assert b.script("return [...document.querySelectorAll('button.write')]"
                        ".every(x => x.disabled);")
        assert "read-only" in b.text("#auth-state")
        status = b.script("return fetch('/api/registry/rollback', {method: 'POST', "
                          "headers: {'Content-Type': 'application/json'}, "
                          "body: JSON.stringify({version: 0})}).then(r => r.status);")
        assert status == 403
        b.full_screenshot(shot)
        # with the token, the same button rolls the registry back
        b.script("document.getElementById('token-input').value = arguments[0];", TOKEN)
        b.click("#token-use")
        b.wait(lambda: b.text("#auth-state") == "operator", what="the operator badge")
        b.wait(lambda: b.script("return !document.querySelector("
                                "\"#registry-history tr[data-version='0'] button\").disabled;"),
               what="the rollback button enabled")
        b.click("#registry-history tr[data-version='0'] button")
        new = wait_json(ob, "/api/registry", lambda r: r["version"] > version,
                        what="the rollback")["history"][0]
        assert new["author"] == {"via": "observer"}
        b.wait(lambda: f"v{new['version']}" in b.text("#f-version"), what="the new version shown")
    print(f"\nobserver screenshot: {shot}")
    assert os.path.getsize(shot) > 10_000
