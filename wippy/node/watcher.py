"""Notice edits to an application's files by polling, with no extra dependency.

Every ``POLL_S`` (0.1 s) the node stats the application's YAML and code files (skipping ``.wippy``,
dot-directories, ``tests/``, ``benchmarks/`` and virtualenvs) and compares (mtime_ns, size,
inode) per path: that sees in-place writes, atomic replaces (editors, ``os.replace``), new and
deleted files, and same-second edits. A change is acted on once the tree has been quiet for
``DEBOUNCE_S`` (0.2 s), so a half-written file or a burst of saves becomes one reload.
"""
from __future__ import annotations

import os
from typing import Iterator

from ..registry.loader import SKIP_DIRS

__all__ = ["FileWatcher", "POLL_S", "DEBOUNCE_S"]

POLL_S = 0.1       # seconds between scans (a stat per file: cheap for an application's files)
DEBOUNCE_S = 0.2   # quiet time after the last change before a reload
_EXTS = (".yaml", ".yml", ".py", ".lua", ".lock")

Stamp = tuple[int, int, int]


def _walk(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                       and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))]
        for name in filenames:
            if name.endswith(_EXTS):
                yield os.path.join(dirpath, name)


class FileWatcher:
    """Polls the files under ``root`` that can change the registry (YAML, code, ``wippy.lock``)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.state = self.scan()

    def scan(self) -> dict[str, Stamp]:
        """(mtime_ns, size, inode) of every watched file, by path (one ``stat`` each)."""
        out: dict[str, Stamp] = {}
        for path in _walk(self.root):
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return out

    def poll(self) -> bool:
        """True when something changed since the last poll."""
        new = self.scan()
        if new != self.state:
            self.state = new
            return True
        return False
