"""Wippy's Lua ``fs`` module: a view of :mod:`wippy.fs` (volumes of ``fs.directory`` entries).

Objects carry their Python handle as the first field: ``FS`` (a volume), ``FsFile`` (an open
file), ``FsScanner``, and ``FsDirIter`` (what ``vol:readdir(path)`` returns: the prelude makes
it callable, so ``for entry in vol:readdir("/")`` calls its ``next``). Nothing here blocks: the
file calls run in the process's slice (see :mod:`wippy.fs`). A file read at its end is ``nil``
and an error of kind ``NotFound`` (``"EOF"``), as in Wippy.
"""
from __future__ import annotations

from typing import Any, Iterator

from .. import fs as _fs
from .api import ApiError, New, constant, current_ctx, function, lua_value, method, subtable, text

__all__: list[str] = []


def _path(v: Any) -> str:
    if type(v) is not bytes:
        raise ApiError("INVALID", "path must be a string")
    return text(v, "path")


def _mode(v: Any, default: str) -> str:
    return default if v is None else text(v, "mode")


@function("fs")
def get(name: Any = None) -> Any:
    return New((b"FS", _fs.get("" if name is None else text(name, "filesystem name"))))


subtable("fs", "type", "fs.type")
constant("fs.type", "FILE", _fs.type.FILE)
constant("fs.type", "DIR", _fs.type.DIR)
subtable("fs", "seek", "fs.seek")
constant("fs.seek", "SET", _fs.seek.SET)
constant("fs.seek", "CUR", _fs.seek.CUR)
constant("fs.seek", "END", _fs.seek.END)


# -- FS --------------------------------------------------------------------------------------
def _vol(v: Any) -> _fs.Volume:
    if not isinstance(v, _fs.Volume):
        raise ApiError("INVALID", "a filesystem volume expected")
    return v


def _readfile(v: Any, _b: Any, _c: Any, path: Any = None) -> bytes:
    vol, p = _vol(v), _path(path)
    limit = current_ctx().state.max_memory
    if limit:                       # it could not fit in the process's Lua state anyway
        size = vol.stat(p)["size"]
        if size > limit:
            raise ApiError("LIMIT_EXCEEDED", f"{p}: {size} bytes is more than the process's "
                                             f"max_memory ({limit} bytes); use open() and read()")
    return vol.readfile(p)


def _writefile(v: Any, _b: Any, _c: Any, path: Any = None, data: Any = None,
               mode: Any = None) -> bool:
    if data is None:
        raise ApiError("INVALID", "data argument required")
    if type(data) is not bytes:
        raise ApiError("INVALID", "invalid input type, expected string")
    return _vol(v).writefile(_path(path), data, _mode(mode, "w"))


for _name in ("readfile", "read_file"):
    method("FS", _name)(_readfile)
for _name in ("writefile", "write_file"):
    method("FS", _name)(_writefile)


@method("FS", "exists")
def _exists(v: Any, _b: Any, _c: Any, path: Any = None) -> bool:
    return _vol(v).exists(_path(path))


@method("FS", "isdir")
def _isdir(v: Any, _b: Any, _c: Any, path: Any = None) -> bool:
    return _vol(v).isdir(_path(path))


@method("FS", "stat")
def _stat(v: Any, _b: Any, _c: Any, path: Any = None) -> Any:
    return lua_value(_vol(v).stat(_path(path)))


@method("FS", "mkdir")
def _mkdir(v: Any, _b: Any, _c: Any, path: Any = None) -> bool:
    return _vol(v).mkdir(_path(path))


@method("FS", "remove")
def _remove(v: Any, _b: Any, _c: Any, path: Any = None) -> bool:
    return _vol(v).remove(_path(path))


@method("FS", "readdir")
def _readdir(v: Any, _b: Any, _c: Any, path: Any = None) -> Any:
    return New((b"FsDirIter", iter(_vol(v).readdir(_path(path)))))


@method("FsDirIter", "next")
def _dir_next(it: Iterator[dict[str, str]], *_: Any) -> Any:
    item = next(it, None)
    return None if item is None else lua_value(item)


@method("FS", "chdir")
def _chdir(v: Any, _b: Any, _c: Any, path: Any = None) -> bool:
    return _vol(v).chdir(_path(path))


@method("FS", "pwd")
def _pwd(v: Any, *_: Any) -> bytes:
    return _vol(v).pwd().encode()


@method("FS", "open")
def _open(v: Any, _b: Any, _c: Any, path: Any = None, mode: Any = None) -> Any:
    return New((b"FsFile", _vol(v).open(_path(path), _mode(mode, "r"))))


@method("FS", "tostring")
def _fs_str(v: Any, *_: Any) -> bytes:
    return repr(_vol(v)).encode()


# -- File ------------------------------------------------------------------------------------
def _file(f: Any) -> _fs.File:
    if not isinstance(f, _fs.File):
        raise ApiError("INVALID", "a file expected")
    return f


@method("FsFile", "read")
def _read(f: Any, _b: Any, _c: Any, size: Any = None) -> bytes:
    if size is not None and type(size) is not int:
        if type(size) is float and size.is_integer():
            size = int(size)
        else:
            raise ApiError("INVALID", "size must be an integer")
    data = _file(f).read(_fs.DEFAULT_READ if size is None else size)
    if data is None:
        raise ApiError("NOT_FOUND", "EOF")
    return data


@method("FsFile", "write")
def _write(f: Any, _b: Any, _c: Any, data: Any = None) -> bool:
    if type(data) is not bytes:
        raise ApiError("INVALID", "data required")
    return _file(f).write(data)


@method("FsFile", "seek")
def _seek(f: Any, _b: Any, _c: Any, whence: Any = None, offset: Any = None) -> int:
    return _file(f).seek(_mode(whence, "set"), int(offset or 0))


@method("FsFile", "stat")
def _fstat(f: Any, *_: Any) -> Any:
    return lua_value(_file(f).stat())


@method("FsFile", "sync")
def _sync(f: Any, *_: Any) -> bool:
    return _file(f).sync()


@method("FsFile", "close")
def _close(f: Any, *_: Any) -> bool:
    return _file(f).close()


@method("FsFile", "scanner")
def _scanner(f: Any, _b: Any, _c: Any, split: Any = None) -> Any:
    return New((b"FsScanner", _file(f).scanner(_mode(split, "lines"))))


@method("FsFile", "tostring")
def _file_str(f: Any, *_: Any) -> bytes:
    return b"fs.File{closed}" if _file(f).closed else b"fs.File{}"


@method("FsScanner", "scan")
def _scan(s: Any, *_: Any) -> bool:
    return bool(s.scan())


@method("FsScanner", "text")
def _text(s: Any, *_: Any) -> bytes:
    return s.text()


@method("FsScanner", "err")
def _err(s: Any, *_: Any) -> Any:
    e = s.err()
    if e is not None:
        raise ApiError("INTERNAL", e)
    return None

