"""The observer's OS process: Granian, embedded (as an ``http.service``'s server is), serving
:class:`~wippy.observe.app.ObserverApp` on the address the node reserved for it.

The node forks it through the zygote and owns it (:mod:`wippy.node.observe`). Life:

1. attach to the node as a program does (HELLO; the link's thread owns the connection);
2. start Granian in this process's event loop and wait until it accepts connections;
3. say READY to the node over the control ROUTER, with the serial of the fork (the node then
   counts the observer as up and, at boot, says so in its ready information);
4. serve; drain the node's broadcasts every second; on SIGTERM stop Granian, detach, exit 0.

The page's polls are cheap for the node (one status request per poll, shared between
concurrent readers), so the loop is asyncio's own: uvloop buys nothing at a few requests per
second and would be a second importer of it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from .. import logs
from ..core import protocol, transport, wire
from ..errors import WippyError
from ..http.server import ServerExit, embedded, listening
from .app import ObserverApp
from .source import PUMP_S, NodeLink

__all__ = ["observe_main"]

log = logging.getLogger("wippy.observe")

READY_LINGER_MS = 2000      # how long the READY message may wait for the node to take it


async def _pump(link: NodeLink) -> None:
    while True:
        await asyncio.sleep(PUMP_S)
        try:
            await link.run(link.pump)
        except WippyError as exc:
            log.warning("observer: the node does not answer: %s", exc)


def _ready(spec: dict[str, Any]) -> None:
    """Tell the node we serve (the same READY an HTTP server sends, on a DEALER of its own:
    the link's connection speaks as a program, not as this member)."""
    ctx = transport.new_context()
    try:
        ctl = transport.connect_dealer(ctx, os.path.join(spec["rundir"], "ctl"),
                                       f"o{spec['serial']}".encode())
        ctl.send(wire.dumps(protocol.ready(spec["serial"], os.getpid())))
        ctl.close(linger=READY_LINGER_MS)
    finally:
        ctx.term()


async def _serve(spec: dict[str, Any], link: NodeLink) -> int:
    loop = asyncio.get_running_loop()
    try:
        await link.run(link.connect)
    except WippyError as exc:
        log.error("observer: cannot attach to the node: %s", exc)
        return int(ServerExit.FAILED)
    app = ObserverApp(link, spec.get("token"))
    server = embedded(app, spec["host"], spec["port"], backlog=128)
    serve = loop.create_task(server.serve())
    try:
        await listening(spec["host"], spec["port"], serve)
    except Exception as exc:  # noqa: BLE001 - the node reads the exit code
        log.error("observer: cannot serve on %s:%s: %s", spec["host"], spec["port"], exc)
        return int(ServerExit.BIND_FAILED)
    loop.add_signal_handler(signal.SIGTERM, server.stop)
    await link.run(_ready, spec)
    pump = loop.create_task(_pump(link))
    try:
        await serve
    finally:
        pump.cancel()
    return int(ServerExit.OK)


def observe_main(spec: dict[str, Any]) -> int:
    """Body of the observer's OS process (called in the forked child; the caller
    ``os._exit``s with the returned code)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the node stops us (SIGTERM)
    logs.setup(spec.get("log_level", "WARNING"), spec.get("log_format", "text"),
               f"observe/{spec['serial']}")
    link = NodeLink(spec["rundir"], spec["data_dir"], cluster=spec.get("cluster"))
    try:
        return asyncio.run(_serve(spec, link))
    finally:
        link.close()
