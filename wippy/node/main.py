"""``wippy run``'s node process: load the application, fork the zygote, serve, exit.

Order of birth matters (S2): the application is loaded and validated (pure Python, no
threads), the zygote is forked, and only then does :class:`~wippy.node.node.NodeServer` take
the run-directory lock, open LMDB, create its zmq context and bind its sockets.
"""
from __future__ import annotations

import logging
import os
import sys

from .. import logs
from ..errors import ConfigError, NodeError, StorageError
from .node import NodeServer
from .options import NodeOptions
from .registry import load_app

__all__ = ["NodeOptions", "run_node"]

log = logging.getLogger("wippy.node")


def run_node(opts: NodeOptions) -> int:
    """Boot, run until stopped, return the process exit code."""
    logs.setup(opts.log_level, opts.log_format, "node")
    log.info("loading %s", os.path.realpath(opts.app_dir))
    try:
        app = load_app(opts.app_dir)
    except ConfigError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        print(f"wippy: {len(exc.issues)} error(s); nothing started", file=sys.stderr)
        return 1
    for warning in app.warnings:
        print(warning, file=sys.stderr)
    if opts.exec_entry is not None and opts.exec_entry not in app.entries:
        print(f"wippy: unknown entry '{opts.exec_entry}'", file=sys.stderr)
        return 1

    from ..core.zygote import HOST_ROLE, Zygote
    from ..host.loop import host_main
    from .http import HTTP_ROLE, http_server_main
    from .observe import OBSERVE_ROLE, observe_main
    zygote = Zygote({HOST_ROLE: host_main, HTTP_ROLE: http_server_main, OBSERVE_ROLE: observe_main})
    zygote.start()          # before any context, env or thread exists in this process
    try:
        node = NodeServer(opts, app, zygote)
    except (NodeError, StorageError) as exc:    # a full disk at boot is an error, not a trace
        zygote.close()
        print(f"wippy: {exc}; nothing started", file=sys.stderr)
        return 1
    try:
        return node.run()
    except NodeError as exc:
        print(f"wippy: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()
