"""``wippy pack [APP] -o app.pyz``: one executable file holding the application and wippy with
its dependencies for this platform (S13: "the whole system runs from a single file").

``./app.pyz [ARGS]`` behaves as ``wippy run APP [ARGS]`` (``-x ENTRY``, ``--log-level``...),
and ``./app.pyz ps|top|stop|registry|workflow ...`` as those commands against it. Its data
(registry, journal) lives in ``.wippy/data`` beside the file, unless ``--data-dir`` or
``WIPPY_DATA_DIR`` says otherwise.

Built with shiv (extra ``pack``): a zipapp whose site-packages are unpacked once into
``~/.shiv`` (``SHIV_ROOT``) on first run, which is what the C extensions (pyzmq, lmdb, lupa)
and the hosts' forks need: a zip that imports in place cannot load a shared library.
wippy itself and the application are copied in as they are here; the dependencies are
installed by pip, pinned to the versions installed here. Rejected: pex (its runtime resolves
an environment on each start, slower to boot and heavier to read); a plain ``zipapp`` (no
C extensions).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from .common import add_app, app_of

__all__ = ["register", "pack", "PACKED_APP_DIR", "requirements"]

PACKED_APP_DIR = "_wippy_packed_app"   # the application's folder inside the zipapp
ENTRY_POINT = "wippy.cli.packed:main"
_SKIP = {"__pycache__", "node_modules", "tests", "benchmarks"}
_APP_DIRS = ("config", "workers", "supervisors")


def requirements() -> list[str]:
    """wippy's own dependencies, pinned to the versions installed here (``name==version``)."""
    out = []
    for req in importlib.metadata.requires("wippy") or []:
        if "extra ==" in req:
            continue
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(req.split(";")[0].strip())
    return out


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names
            if n in _SKIP or n.startswith(".") or n.endswith((".pyz", ".pyc"))
            or os.path.isfile(os.path.join(directory, n, "pyvenv.cfg"))}


def _copy_app(app: str, dest: str) -> None:
    """What the application needs: with ``config/``, ``workers/`` or ``supervisors/``, those
    (this repository's layout); else the whole folder, without dot-directories, tests,
    benchmarks and virtualenvs (as the loader skips them)."""
    present = [d for d in _APP_DIRS if os.path.isdir(os.path.join(app, d))]
    if present and not os.path.isfile(os.path.join(app, "wippy.lock")):
        os.makedirs(dest)
        for d in present:
            shutil.copytree(os.path.join(app, d), os.path.join(dest, d), ignore=_ignore)
    else:
        shutil.copytree(app, dest, ignore=_ignore)


def pack(app: str, output: str, python: str | None = None, pip_args: list[str] | None = None) -> None:
    """Write ``output``: a zipapp of ``app`` and wippy with its dependencies. Raises
    RuntimeError when shiv is missing or fails (its output says why)."""
    try:
        import shiv  # noqa: F401 - only to tell a missing extra from a failed build
    except ImportError:
        raise RuntimeError("wippy pack needs shiv: pip install 'wippy[pack]' (or pip install shiv)") from None
    import wippy
    from ..node.registry import load_app
    load_app(app)          # raises ConfigError: nothing broken gets packed
    python = python or f"/usr/bin/env python{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory(prefix="wippy-pack-") as tmp:
        site = os.path.join(tmp, "site-packages")
        shutil.copytree(os.path.dirname(wippy.__file__), os.path.join(site, "wippy"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _copy_app(os.path.realpath(app), os.path.join(site, PACKED_APP_DIR))
        cmd = [sys.executable, "-m", "shiv", "--site-packages", site, "-e", ENTRY_POINT,
               "-o", output, "-p", python, "--compressed", *requirements(), *(pip_args or [])]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"shiv failed (exit {done.returncode}):\n{done.stdout[-4000:]}")


def _pack(a: argparse.Namespace) -> int:
    from ..errors import ConfigError
    app = app_of(a)
    try:
        pack(app, a.output, a.python, a.pip_arg)
    except ConfigError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        print(f"wippy pack: {len(exc.issues)} error(s) in {app}; nothing packed", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"wippy pack: {exc}", file=sys.stderr)
        return 1
    size = os.path.getsize(a.output) / 2**20
    print(f"wrote {a.output} ({size:.1f} MiB): run it with ./{os.path.basename(a.output)} "
          "(as `wippy run`), or ./" + os.path.basename(a.output) + " -x ENTRY")
    return 0


def register(sub: Any) -> None:
    """Add ``pack`` to the command's subparsers."""
    p = sub.add_parser("pack", help="one executable file: the application, wippy and its dependencies",
                       description="Write one executable zipapp holding the application and wippy "
                                   "with its dependencies for this platform (needs the extra "
                                   "'pack': pip install 'wippy[pack]'). ./FILE runs it as "
                                   "`wippy run` does; ./FILE ps|top|stop|registry|workflow ... "
                                   "reach it. Its data lives in .wippy/data beside FILE.")
    add_app(p)
    p.add_argument("-o", "--output", default="app.pyz", metavar="FILE",
                   help="the file to write (default app.pyz)")
    p.add_argument("--python", default=None, metavar="SHEBANG",
                   help="the interpreter line (default: /usr/bin/env pythonX.Y of this Python, "
                        "whose version the packed C extensions are built for)")
    p.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                   help="an extra argument for the pip that installs the dependencies "
                        "(repeatable: --pip-arg=--no-index --pip-arg=--find-links=DIR)")
    p.set_defaults(func=_pack)
