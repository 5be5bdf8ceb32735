"""``wippy init [DIR]``: Wippy's project start: a ``wippy.lock`` naming the source folder, and a
hello application in it that ``wippy run`` runs (a service that logs) and ``wippy run -x
app:hello`` runs on the terminal.

An existing file is never overwritten: in a Wippy project that has ``src/`` already (Wippy's
examples say ``wippy init`` then ``wippy run``), only the lock file is written.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["register", "init", "LOCK", "HELLO_FILES"]

LOCK = """directories:
    modules: {modules}
    src: {src}
"""

HELLO_FILES = {
    "_index.yaml": """version: "1.0"
namespace: app

entries:
  # `wippy run`: one OS process for the app's processes, and a service on it
  - name: processes
    kind: process.host
    host: {workers: 1}

  - name: greeter_process
    kind: process.lua
    source: file://greeter.lua
    method: main
    modules: [logger, time]

  - name: greeter
    kind: process.service
    process: app:greeter_process
    host: app:processes
    lifecycle:
      auto_start: true

  # `wippy run -x app:hello`: one process on the terminal, its result is the exit code
  - name: terminal
    kind: terminal.host

  - name: hello
    kind: process.lua
    source: file://hello.lua
    method: main
    modules: [io]
""",
    "greeter.lua": """local logger = require("logger")
local time = require("time")

-- A service: says hello, then ticks every 10 s until the node stops (Ctrl-C).
local function main()
  logger:info("hello from wippy", {pid = process.pid()})
  local events = process.events()
  local ticks = 0
  while true do
    local r = channel.select{events:case_receive(), time.after("10s"):case_receive()}
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then
        logger:info("stopping", {ticks = ticks})
        return 0
      end
    else
      ticks = ticks + 1
      logger:info("still here", {ticks = ticks})
    end
  end
end

return {main = main}
""",
    "hello.lua": """local io = require("io")

local function main(name: string?): integer
  io.print("Hello, " .. (name or "world") .. "! from " .. process.pid())
  return 0
end

return {main = main}
""",
}


def init(directory: str, src_dir: str = "./src", modules_dir: str = ".wippy",
         lock_file: str = "wippy.lock") -> list[str]:
    """Write the lock file and the hello application under ``directory``; returns the paths
    written (existing files are kept)."""
    written = []
    os.makedirs(directory, exist_ok=True)
    lock = os.path.join(directory, lock_file)
    if not os.path.exists(lock):
        with open(lock, "w") as fh:
            fh.write(LOCK.format(modules=modules_dir, src=src_dir))
        written.append(lock)
    src = os.path.normpath(os.path.join(directory, src_dir))
    if os.path.isdir(src) and os.listdir(src):
        return written      # a project with its own code: only the lock was missing
    os.makedirs(src, exist_ok=True)
    for name, text in HELLO_FILES.items():
        path = os.path.join(src, name)
        with open(path, "w") as fh:
            fh.write(text)
        written.append(path)
    return written


def _init(a: argparse.Namespace) -> int:
    directory = a.dir or "."
    written = init(directory, a.src_dir, a.modules_dir, a.lock_file)
    if not written:
        print(f"wippy init: {os.path.join(directory, a.lock_file)} exists; nothing to do",
              file=sys.stderr)
        return 0
    for path in written:
        print(f"wrote {path if os.path.isabs(directory) else os.path.relpath(path)}")
    where = "" if directory in (".", "") else f"cd {directory} && "
    print(f"next: {where}wippy run            (Ctrl-C stops it)\n"
          f"      {where}wippy run -x app:hello you")
    return 0


def register(sub: Any) -> None:
    """Add ``init`` to the command's subparsers."""
    p = sub.add_parser("init", help="start a project: wippy.lock and a hello application",
                       description="Write wippy.lock (Wippy's lock file, naming the source folder) "
                                   "and, when the source folder is empty or missing, a hello "
                                   "application: a service that logs (wippy run) and a terminal "
                                   "process (wippy run -x app:hello). Never overwrites a file.")
    p.add_argument("dir", nargs="?", default=None, metavar="DIR",
                   help="the project directory (default: the current directory)")
    p.add_argument("-d", "--src-dir", default="./src", metavar="DIR",
                   help="the source folder, relative to DIR (default ./src)")
    p.add_argument("--modules-dir", default=".wippy", metavar="DIR",
                   help="the modules folder the lock names (default .wippy; hub modules are "
                        "not supported)")
    p.add_argument("-l", "--lock-file", default="wippy.lock", metavar="FILE",
                   help="the lock file's name (default wippy.lock)")
    p.set_defaults(func=_init)
