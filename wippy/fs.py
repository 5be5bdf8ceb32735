"""``wippy.fs``: filesystem volumes from the registry (``fs.directory`` entries), with Wippy's
names (S13). Lua's ``fs`` module is a view of this one.

::

    vol = fs.get("app:uploads")
    vol.writefile("/notes/a.txt", b"hello")            # "w" (default), "a", "wx"
    data = vol.readfile("/notes/a.txt")
    for entry in vol.readdir("/notes"): ...            # {"name", "type"}
    with vol.open("/big.csv", "r") as f: chunk = f.read(65536)

Confinement: every path names a file under the volume's root. ``/x`` is relative to the root,
``x`` to the volume's working directory (``chdir``); a path that climbs out (``../..``) is
INVALID, as in Wippy; a path whose real location (every symlink resolved) lies outside the
root is PERMISSION_DENIED, so a symlink planted inside the volume does not lead out of it. The
entry's ``mode`` bounds what the volume allows: no owner read bit, no reads; no owner write bit,
no writes (PERMISSION_DENIED); files are created with the mode's read/write bits, directories
with the mode plus an execute bit for every read bit.

Checked action (S9): ``fs.get`` [volume id], Wippy's one action, when a volume is taken and
again at every operation (so a policy withdrawn while a process holds a volume applies at once;
the check is a set lookup once allowed). Errors are :class:`wippy.ResourceError` with Wippy's
kinds (INVALID, NOT_FOUND, ALREADY_EXISTS, INTERNAL) or :class:`wippy.PermissionDenied`.

Operations run in the calling process's slice: local file calls are short, and a worker thread
per call would cost more than most of them (Wippy's are synchronous too). A file a process
leaves open is closed when the process ends.

Left open: a directory of the path swapped for a symlink by another OS process between the
check and the open (files are opened with ``O_NOFOLLOW``, so the last part cannot be; no wippy
API makes symlinks). Rejected: confining with ``openat2(RESOLVE_BENEATH)`` (Linux 5.6+ only, and not in Python's
standard library); checking the textual path alone (a symlink inside the root would lead out).
"""
from __future__ import annotations

import enum
import os
from typing import Any

from .errors import PermissionDenied, ResourceError
from .registry.entry import app_root, is_inside
from .resources import runtime_or_none
from .resources.fsfile import DEFAULT_READ, DIR, FILE, File, Scanner, info

__all__ = ["get", "Volume", "File", "Scanner", "type", "seek", "DEFAULT_READ"]



class type:  # noqa: N801 - Wippy's name: fs.type.FILE
    """Entry types (``readdir``, ``stat``)."""

    FILE = FILE
    DIR = DIR


class seek:  # noqa: N801 - Wippy's name: fs.seek.SET
    """``whence`` values for ``File.seek``."""

    SET = "set"
    CUR = "cur"
    END = "end"


class WriteMode(str, enum.Enum):
    """``writefile`` / ``open`` modes (Wippy's)."""

    READ = "r"
    WRITE = "w"
    EXCLUSIVE = "wx"
    APPEND = "a"


_FLAGS = {WriteMode.READ: os.O_RDONLY,
          WriteMode.WRITE: os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
          WriteMode.EXCLUSIVE: os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL,
          WriteMode.APPEND: os.O_WRONLY | os.O_CREAT | os.O_APPEND}
# The checked path has no symlink in it; one swapped in for its last part before the open
# fails the open (ELOOP) instead of being followed.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _check(id: str) -> Any:
    rt = runtime_or_none()
    if rt is not None:
        rt.check("fs.get", id)
    return rt


def _mode(text: Any) -> int:
    try:
        return int(str(text or "0755"), 8) & 0o777
    except ValueError:
        return 0o755


def _root_of(entry: dict[str, Any]) -> tuple[str, int]:
    """The volume's root (absolute) and mode; makes the directory when ``auto_init``."""
    data = entry.get("data") or {}
    directory = str(data.get("directory") or "")
    if not directory:
        raise ResourceError("INVALID", f"volume {entry.get('id')}: no directory")
    if not os.path.isabs(directory):
        base = (entry.get("base_dir") if data.get("base") == "module"
                else app_root()) or os.getcwd()
        directory = os.path.join(base, directory)
    root = os.path.normpath(directory)
    mode = _mode(data.get("mode"))
    if not os.path.isdir(root):
        if not data.get("auto_init"):
            raise ResourceError("NOT_FOUND", f"volume {entry.get('id')}: directory {root} does "
                                             "not exist (set auto_init: true to create it)")
        try:
            os.makedirs(root, _dir_mode(mode), exist_ok=True)
        except OSError as exc:
            raise ResourceError("INTERNAL", f"volume {entry.get('id')}: cannot create {root}: "
                                            f"{exc.strerror}") from None
    return os.path.realpath(root), mode


def _dir_mode(mode: int) -> int:
    """Wippy's rule: an execute bit for every read bit."""
    return mode | ((mode & 0o444) >> 2)


def get(id: str) -> Volume:
    """The volume of ``fs.directory`` entry ``id``. Raises PermissionDenied, or ResourceError
    (INVALID for an empty id or another kind of entry, NOT_FOUND)."""
    if not isinstance(id, str) or not id:
        raise ResourceError("INVALID", "filesystem name required")
    rt = _check(id)
    vol = Volume(id, rt)
    vol._refresh()
    return vol


class Volume:
    """A filesystem volume (Wippy's ``FS``): paths are confined to its root."""

    __slots__ = ("id", "_rt", "_root", "_mode", "_version", "_cwd")

    def __init__(self, id: str, rt: Any) -> None:
        self.id = id
        self._rt = rt
        self._root = ""
        self._mode = 0
        self._version: Any = object()
        self._cwd = "."             # relative to the root

    def _refresh(self) -> None:
        """Follow the entry: a changed directory applies to the next call, a deleted entry
        fails it (Wippy: a detached volume becomes unavailable)."""
        store = getattr(self._rt, "store", None)
        version = store.version() if store is not None else None
        if version == self._version and version is not None:
            return
        entry = store.get(self.id) if store is not None else None
        if entry is None:
            raise ResourceError("NOT_FOUND", f"filesystem not found: {self.id}")
        if entry.get("kind") != "fs.directory":
            raise ResourceError("INVALID", f"{self.id} is a {entry.get('kind')}, not a "
                                           "filesystem")
        self._root, self._mode = _root_of(entry)
        self._version = version

    # -- paths --------------------------------------------------------------------------
    def _rel(self, path: Any) -> str:
        """Wippy's resolution: ``/x`` from the root, ``x`` from the working directory."""
        if not isinstance(path, str):
            raise ResourceError("INVALID", "path must be a string")
        if "\0" in path:
            raise ResourceError("INVALID", "invalid path: contains a NUL byte")
        if path == "":
            rel = self._cwd
        elif path.startswith("/"):
            rel = path.lstrip("/") or "."
        else:
            rel = os.path.join(self._cwd, path)
        rel = os.path.normpath(rel)
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise ResourceError("INVALID", f"invalid path {path!r}: it leads outside the "
                                           f"volume {self.id}")
        return rel

    def _path(self, path: Any, action: str) -> str:
        """The real path behind ``path``, checked: permission, mode, confinement."""
        if self._rt is not None:
            self._rt.check("fs.get", self.id)
        self._refresh()
        if action == "read" and not self._mode & 0o400:
            raise PermissionDenied(f"volume {self.id} does not allow reading (mode "
                                   f"{self._mode:04o})")
        if action == "write" and not self._mode & 0o200:
            raise PermissionDenied(f"volume {self.id} is read-only (mode {self._mode:04o})")
        full = os.path.join(self._root, self._rel(path))
        real = os.path.realpath(full)
        if not is_inside(real, self._root):
            raise PermissionDenied(f"path {path!r} of volume {self.id} resolves to {real}, "
                                   "outside the volume (a symlink leads out of it)")
        return real

    def _missing(self, path: str, exc: OSError) -> ResourceError:
        if isinstance(exc, FileNotFoundError):
            return ResourceError("NOT_FOUND", f"{path}: no such file or directory")
        if isinstance(exc, FileExistsError):
            return ResourceError("ALREADY_EXISTS", f"{path}: already exists")
        if isinstance(exc, IsADirectoryError):
            return ResourceError("INVALID", f"{path}: is a directory")
        if isinstance(exc, NotADirectoryError):
            return ResourceError("INVALID", f"{path}: not a directory")
        if isinstance(exc, PermissionError):
            return ResourceError("PERMISSION_DENIED", f"{path}: {exc.strerror}")
        return ResourceError("INTERNAL", f"{path}: {exc.strerror or exc}")

    # -- whole files ----------------------------------------------------------------------
    def readfile(self, path: str) -> bytes:
        """The whole file."""
        real = self._path(path, "read")
        try:
            with os.fdopen(os.open(real, os.O_RDONLY | _NOFOLLOW), "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise self._missing(path, exc) from None

    read_file = readfile

    def writefile(self, path: str, data: bytes | str, mode: str = "w") -> bool:
        """Write ``data``: ``"w"`` replaces, ``"a"`` appends, ``"wx"`` fails (ALREADY_EXISTS)
        when the file exists."""
        if data is None:
            raise ResourceError("INVALID", "data argument required")
        flags = _FLAGS.get(_write_mode(mode, ("w", "wx", "a")))
        assert flags is not None
        raw = data.encode() if isinstance(data, str) else bytes(data)
        real = self._path(path, "write")
        try:
            fd = os.open(real, flags | _NOFOLLOW, self._mode & 0o666)
        except OSError as exc:
            raise self._missing(path, exc) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        return True

    write_file = writefile

    # -- paths ----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return os.path.lexists(self._path(path, "stat"))

    def isdir(self, path: str) -> bool:
        real = self._path(path, "stat")
        if not os.path.lexists(real):
            raise ResourceError("NOT_FOUND", f"{path}: no such file or directory")
        return os.path.isdir(real)

    def stat(self, path: str) -> dict[str, Any]:
        """``{name, size, mode, modified, is_dir, type}`` (``modified``: unix seconds)."""
        real = self._path(path, "stat")
        try:
            return info(os.path.basename(real) or ".", os.stat(real))
        except OSError as exc:
            raise self._missing(path, exc) from None

    def mkdir(self, path: str) -> bool:
        """Make one directory (its parent must exist); ALREADY_EXISTS when the path exists."""
        real = self._path(path, "write")
        if os.path.lexists(real):
            raise ResourceError("ALREADY_EXISTS", f"path already exists: {path}")
        try:
            os.mkdir(real, _dir_mode(self._mode))
        except OSError as exc:
            raise self._missing(path, exc) from None
        return True

    def remove(self, path: str) -> bool:
        """Remove a file or an empty directory (INVALID when it is not empty)."""
        real = self._path(path, "write")
        if real == self._root:
            raise ResourceError("INVALID", f"cannot remove the root of volume {self.id}")
        try:
            if os.path.isdir(real) and not os.path.islink(real):
                if os.listdir(real):
                    raise ResourceError("INVALID", f"directory not empty: {path}")
                os.rmdir(real)
            else:
                os.unlink(real)
        except OSError as exc:
            raise self._missing(path, exc) from None
        return True

    def readdir(self, path: str) -> list[dict[str, str]]:
        """The entries of a directory, sorted by name: ``{name, type}``."""
        real = self._path(path, "read")
        if not os.path.isdir(real):
            if not os.path.lexists(real):
                raise ResourceError("NOT_FOUND", f"{path}: no such file or directory")
            raise ResourceError("INVALID", f"not a directory: {path}")
        try:
            with os.scandir(real) as it:
                items = sorted(it, key=lambda e: e.name)
                return [{"name": e.name, "type": DIR if e.is_dir() else FILE}
                        for e in items]
        except OSError as exc:
            raise self._missing(path, exc) from None

    def chdir(self, path: str) -> bool:
        """The working directory for relative paths (inside the volume)."""
        if not path:
            raise ResourceError("INVALID", "path required")
        real = self._path(path, "stat")
        if not os.path.isdir(real):
            if not os.path.lexists(real):
                raise ResourceError("NOT_FOUND", f"{path}: no such directory")
            raise ResourceError("INVALID", f"not a directory: {path}")
        self._cwd = self._rel(path)
        return True

    def pwd(self) -> str:
        return "/" if self._cwd in ("", ".") else "/" + self._cwd

    def open(self, path: str, mode: str = "r") -> File:
        """A file handle (``"r"``, ``"w"``, ``"wx"``, ``"a"``), closed with its process."""
        m = _write_mode(mode, ("r", "w", "wx", "a"))
        real = self._path(path, "read" if m is WriteMode.READ else "write")
        try:
            fd = os.open(real, _FLAGS[m] | _NOFOLLOW, self._mode & 0o666)
        except OSError as exc:
            raise self._missing(path, exc) from None
        f = File(fd, os.path.basename(real))
        rt = self._rt
        if rt is not None:
            try:
                rt.current().add_timer(f)       # closed when its process ends
            except RuntimeError:
                pass
        return f

    def __repr__(self) -> str:
        return f"fs.FS{{cwd={self._cwd}}}"


def _write_mode(mode: Any, allowed: tuple[str, ...]) -> WriteMode:
    if mode not in allowed:
        raise ResourceError("INVALID", f"invalid mode {mode!r}: must be "
                                       + ", ".join(f"'{m}'" for m in allowed))
    return WriteMode(mode)


