"""`wippy pack`: the default application in one file, run from a fresh directory with no
install (S13)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _shiv_missing() -> bool:
    try:
        import shiv  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.mark.skipif(_shiv_missing(), reason="shiv (extra 'pack') is not installed: "
                    "pip install -e '.[pack]'")
def test_the_default_application_packed_runs_from_a_fresh_directory(tmp_path):
    out = tmp_path / "build" / "app.pyz"
    out.parent.mkdir()
    r = subprocess.run([sys.executable, "-m", "wippy", "pack", REPO, "-o", str(out)],
                       capture_output=True, text=True, timeout=240)
    if r.returncode != 0 and ("Could not find a version" in r.stderr or "No matching distribution"
                              in r.stderr or "Failed to establish" in r.stderr):
        pytest.skip(f"pip could not fetch the dependencies: {r.stderr[-300:]}")
    assert r.returncode == 0, r.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(out, fresh / "app.pyz")
    # no virtualenv, no PYTHONPATH, no wippy on the path: only the file and the interpreter
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "SHIV_ROOT": str(tmp_path / "shiv")}
    python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path=env["PATH"])
    if python is None:
        pytest.skip("this Python is not on /usr/bin:/bin, which the packed file's shebang names")
    r = subprocess.run(["./app.pyz", "-x", "app:demo", "6", "easy", "json"], cwd=fresh, env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["tasks"] == 6
    assert os.path.isdir(fresh / ".wippy" / "data" / "registry")     # its data beside the file
    r = subprocess.run(["./app.pyz", "registry", "list"], cwd=fresh, env=env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "app:demo" in r.stdout, r.stderr
