"""Open files of a volume (:mod:`wippy.fs`): :class:`File` (Wippy's ``File``) and
:class:`Scanner` (Go's ``bufio.Scanner`` over it), and the stat table both return.
"""
from __future__ import annotations

import os
import stat as _stat
from typing import Any, Iterator

from ..errors import ResourceError

__all__ = ["File", "Scanner", "info", "DEFAULT_READ", "FILE", "DIR", "WHENCE"]

DEFAULT_READ = 4096            # Wippy's default size for file:read()
_GO_MODE_DIR = 1 << 31         # Go's os.ModeDir, which Wippy's stat reports in `mode`
FILE = "file"
DIR = "directory"
WHENCE = {"set": os.SEEK_SET, "cur": os.SEEK_CUR, "end": os.SEEK_END}


def info(name: str, st: os.stat_result) -> dict[str, Any]:
    is_dir = _stat.S_ISDIR(st.st_mode)
    """Wippy's stat table: ``{name, size, mode, modified, is_dir, type}``."""
    return {"name": name, "size": st.st_size,
            "mode": _stat.S_IMODE(st.st_mode) | (_GO_MODE_DIR if is_dir else 0),
            "modified": int(st.st_mtime), "is_dir": is_dir,
            "type": DIR if is_dir else FILE}


class File:
    """An open file of a volume (Wippy's ``File``)."""

    __slots__ = ("_fd", "name", "cancelled")

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self.name = name
        self.cancelled = False      # the process-exit hook (Process.add_timer's protocol)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def _open_fd(self) -> int:
        if self._fd < 0:
            raise ResourceError("INVALID", "file is closed")
        return self._fd

    def read(self, size: int = DEFAULT_READ) -> bytes | None:
        """Up to ``size`` bytes; None at the end of the file."""
        if not isinstance(size, int) or size <= 0:
            raise ResourceError("INVALID", "size must be positive")
        try:
            data = os.read(self._open_fd(), size)
        except OSError as exc:
            raise ResourceError("INTERNAL", f"read failed: {exc.strerror}") from None
        return data or None

    def write(self, data: bytes | str) -> bool:
        raw = data.encode() if isinstance(data, str) else bytes(data)
        fd = self._open_fd()
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            raise ResourceError("INTERNAL", f"write failed: {exc.strerror}") from None
        return True

    def seek(self, whence: str = "set", offset: int = 0) -> int:
        """Move to ``offset`` from ``"set"``, ``"cur"`` or ``"end"``; the new position."""
        how = WHENCE.get(whence)
        if how is None:
            raise ResourceError("INVALID", "invalid whence: must be 'set', 'cur', or 'end'")
        try:
            return os.lseek(self._open_fd(), int(offset), how)
        except OSError as exc:
            raise ResourceError("INTERNAL", f"seek failed: {exc.strerror}") from None

    def stat(self) -> dict[str, Any]:
        return info(self.name, os.fstat(self._open_fd()))

    def sync(self) -> bool:
        os.fsync(self._open_fd())
        return True

    def close(self) -> bool:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
        return True

    def cancel(self) -> None:
        """Its process ended: close."""
        self.cancelled = True
        self.close()

    def scanner(self, split: str = "lines") -> Scanner:
        """Tokens of the rest of the file: ``"lines"``, ``"words"``, ``"bytes"``, ``"runes"``."""
        if split not in Scanner.SPLITS:
            raise ResourceError("INVALID", "invalid split type: must be 'lines', 'words', "
                                           "'bytes', or 'runes'")
        self._open_fd()
        return Scanner(self, split)

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Scanner:
    """Go's ``bufio.Scanner`` over a file: ``scan()`` then ``text()``."""

    SPLITS = ("lines", "words", "bytes", "runes")
    __slots__ = ("_tokens", "_text", "_err")

    def __init__(self, f: File, split: str) -> None:
        self._tokens = _tokens(f, split)
        self._text = b""
        self._err: str | None = None

    def scan(self) -> bool:
        try:
            self._text = next(self._tokens)
            return True
        except StopIteration:
            self._text = b""
            return False
        except ResourceError as exc:
            self._err = str(exc)
            return False

    def text(self) -> bytes:
        return self._text

    def err(self) -> str | None:
        return self._err


def _tokens(f: File, split: str) -> Iterator[bytes]:
    buf = b""
    eof = False
    while True:
        if not eof:
            chunk = f.read(65536)
            if chunk is None:
                eof = True
            else:
                buf += chunk
        if split == "lines":
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line[:-1] if line.endswith(b"\r") else line
            if eof:
                if buf:
                    yield buf[:-1] if buf.endswith(b"\r") else buf
                return
        elif split == "words":
            parts = buf.split()
            if not eof and buf and not buf[-1:].isspace():
                buf = parts.pop() if parts else b""     # the last word may go on
            else:
                buf = b""
            yield from parts
            if eof:
                if buf:
                    yield buf
                return
        elif split == "bytes":
            for i in range(len(buf)):
                yield buf[i:i + 1]
            buf = b""
            if eof:
                return
        else:                                          # runes: whole UTF-8 characters
            text_, rest = _utf8_prefix(buf, eof)
            for ch in text_:
                yield ch.encode()
            buf = rest
            if eof:
                return


def _utf8_prefix(buf: bytes, eof: bool) -> tuple[str, bytes]:
    """The decodable prefix of ``buf`` and what is left (an incomplete last character)."""
    for cut in range(0, 4):
        end = len(buf) - cut
        try:
            return buf[:end].decode("utf-8", "replace" if eof else "strict"), buf[end:]
        except UnicodeDecodeError:
            continue
    return buf.decode("utf-8", "replace"), b""
