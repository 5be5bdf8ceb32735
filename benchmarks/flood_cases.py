"""The ``flood`` and ``bigmsg`` cases: bounded mailboxes and the drain loop under load (S4, S9).

* wippy ``flood``: a sender on ``flood:a`` sends small messages as fast as it can for S seconds
  to a receiver on ``flood:b`` that spends 20 us of CPU on each, so it falls behind at once.
  Twice: the sender backing off 1 ms on each MailboxFull (``send``), and waiting for room
  (``wait_send``). Reported: the receiver host's RSS (MB) at the start, at its highest and at
  the end (sampled every 0.25 s by the client), how soon the sender was told (``told_ms``, the
  first MailboxFull), how many messages were delivered per second (all of them, in order, is
  checked), and how late the timers of a neighbour on the receiver's host fired (a 10 ms
  ``time.sleep`` in a loop: p99 and max lateness, ms). Before mailboxes were bounded the
  receiver grew ~0.65 KB per queued message and such timers fired seconds late.
* ``bigmsg``: one-way messages of 10 KiB and 1 MiB between two OS processes: wippy (``flood:a`` ->
  ``flood:b``, the receiver's mailbox limit applies) against raw pyzmq PUSH/PULL of the same
  pickled frames (``floor:zmq``). Batches are capped at 256 KiB, so a big message travels
  alone instead of being copied into a batch with every other queued frame.
"""
from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

import psutil

from ._harness import Ctx, Gate, Unit, fork_call, short_tmpdir
from ._stats import rate_per_s

__all__ = ["UNITS"]

APP = Path(__file__).resolve().parent / "app" / "flood"
_FLOOD = "flood"
_BIG = "bigmsg"
_CHILD_TIMEOUT = 300.0


def _sizes(quick: bool) -> dict[str, int]:
    return ({"seconds": 5, "spin_us": 20, "size": 20} if quick
            else {"seconds": 20, "spin_us": 20, "size": 20})


#: The big messages' sizes (metric suffix -> bytes) and counts (quick, full): S11's 10 KB and 1 MB.
BIG = {"10k": (10 * 1024, 20_000, 100_000), "1m": (1 << 20, 300, 2_000)}


def _big(quick: bool) -> list[tuple[str, int, int]]:
    return [(name, size, nq if quick else nf) for name, (size, nq, nf) in BIG.items()]


# --------------------------------------------------------------------------- floor


def _big_receiver(gate: Gate, addr: str, ack_w: int, n: int) -> int:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    pull = zctx.socket(zmq.PULL)
    pull.bind(addr)
    pickle.loads(pull.recv())
    os.write(ack_w, b"a")
    for _ in range(n):
        last = pickle.loads(pull.recv())
    t_end = time.perf_counter_ns()
    assert last[1] == n - 1
    os.write(ack_w, b"d")
    pull.close(linger=0)
    zctx.term()
    return t_end


def _big_sender(gate: Gate, addr: str, ack_r: int, n: int, size: int) -> int:
    import zmq

    gate.wait()
    zctx = zmq.Context()
    push = zctx.socket(zmq.PUSH)
    push.connect(addr)
    payload = b"x" * size
    push.send(pickle.dumps(("warm", -1, payload), protocol=5))
    os.read(ack_r, 1)
    t_start = time.perf_counter_ns()
    for i in range(n):
        push.send(pickle.dumps(("m", i, payload), protocol=5))
    os.read(ack_r, 1)
    push.close(linger=5000)
    zctx.term()
    return t_start


def floor_bigmsg(ctx: Ctx, cases: tuple[str, ...]) -> None:
    """``bigmsg`` for ``floor:zmq``: pickled 10 KiB and 1 MiB frames, PUSH -> PULL over ipc."""
    for name, size, n in _big(ctx.quick):
        d = short_tmpdir()
        ack_r, ack_w = os.pipe()
        try:
            addr = f"ipc://{d}/in"
            gate = Gate()
            recv = fork_call(_big_receiver, gate, addr, ack_w, n, role="receiver")
            send = fork_call(_big_sender, gate, addr, ack_r, n, size, role="sender")
            ctx.place(send.pid, f"sender {name}", 0)
            ctx.place(recv.pid, f"receiver {name}", 1)
            gate.open(2)
            try:
                t_start = send.result(_CHILD_TIMEOUT)
                t_end = recv.result(_CHILD_TIMEOUT)
            finally:
                send.kill()
                recv.kill()
            rate = rate_per_s(n, t_end - t_start)
            ctx.add(_BIG, "floor:zmq", f"rate_{name}", rate, "msg/s", n=n, payload_bytes=size)
            ctx.add(_BIG, "floor:zmq", f"bandwidth_{name}", rate * size / 1e6, "MB/s")
        finally:
            os.close(ack_r)
            os.close(ack_w)
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- wippy


def _app() -> str:
    d = short_tmpdir("flood-")
    for f in APP.iterdir():
        shutil.copy2(f, d)
    return d


def _host(node: Any, host_id: str) -> psutil.Process:
    for h in node.ps()["hosts"]:
        if h["host"] == host_id and h.get("os_pid"):
            return psutil.Process(h["os_pid"])
    raise RuntimeError(f"no OS process for {host_id}")


def _flood(ctx: Ctx, node: Any, mode: str) -> None:
    sz = _sizes(ctx.quick)
    host_b = _host(node, "flood:b")
    rss: list[float] = [host_b.memory_info().rss / 1e6]
    recv = node.spawn("flood:receiver", "flood:b", sz["spin_us"], monitor=True)
    tick = node.spawn("flood:ticker", "flood:b", 10, sz["seconds"] + 1, monitor=True)
    t0 = time.perf_counter()
    send = node.spawn("flood:sender", "flood:a", recv, sz["seconds"], sz["size"], mode == "wait_send",
                      monitor=True)
    out = None
    while out is None:
        rss.append(host_b.memory_info().rss / 1e6)
        try:
            out = node.wait_exit(send, timeout=0.25)
        except Exception as exc:  # noqa: BLE001 - wippy.Timeout: not done yet
            if type(exc).__name__ != "Timeout":
                raise
    got = node.wait_exit(recv, timeout=_CHILD_TIMEOUT)
    wall = time.perf_counter() - t0
    rss.append(host_b.memory_info().rss / 1e6)
    late = node.wait_exit(tick, timeout=60)
    if got["got"] != out["sent"] or got["out_of_order"]:
        raise RuntimeError(f"sent {out['sent']}, received {got}")
    what = {"send": "send, 1 ms back-off on MailboxFull", "wait_send": "await wait_send"}[mode]
    extra = {"mode": what, "seconds": sz["seconds"], "receiver_us_per_msg": sz["spin_us"]}
    ctx.add(_FLOOD, "wippy", f"{mode}_rss_start", rss[0], "MB", **extra)
    ctx.add(_FLOOD, "wippy", f"{mode}_rss_max", max(rss), "MB", samples=len(rss),
            rss_every_250ms_mb=[round(r, 1) for r in rss])      # the RSS over time, in the JSON
    ctx.add(_FLOOD, "wippy", f"{mode}_rss_end", rss[-1], "MB")
    ctx.add(_FLOOD, "wippy", f"{mode}_delivered", got["got"] / wall, "msg/s", n=got["got"],
            refused=out["refused"])
    if out["told_ms"] is not None:
        ctx.add(_FLOOD, "wippy", f"{mode}_told_ms", out["told_ms"], "ms", refused=out["refused"])
    ctx.add(_FLOOD, "wippy", f"{mode}_timer_late_p99", late["p99_ms"], "ms", timers=late["n"])
    ctx.add(_FLOOD, "wippy", f"{mode}_timer_late_max", late["max_ms"], "ms")


def _bigmsg(ctx: Ctx, node: Any) -> None:
    for name, size, n in _big(ctx.quick):
        recv = node.spawn("flood:big_receiver", "flood:b", n, monitor=True)
        send = node.spawn("flood:big_sender", "flood:a", recv, n, size, monitor=True)
        t_start = node.wait_exit(send, timeout=_CHILD_TIMEOUT)["t_start"]
        t_end = node.wait_exit(recv, timeout=_CHILD_TIMEOUT)["t_end"]
        rate = rate_per_s(n, t_end - t_start)
        ctx.add(_BIG, "wippy", f"rate_{name}", rate, "msg/s", n=n, payload_bytes=size)
        ctx.add(_BIG, "wippy", f"bandwidth_{name}", rate * size / 1e6, "MB/s")


def wippy_flood(ctx: Ctx, cases: tuple[str, ...]) -> None:
    import wippy

    app = _app()
    try:
        with wippy.Node(app, boot_timeout=120) as node:
            assert node.process is not None
            ctx.place(node.process.pid, "node")
            ctx.place(os.getpid(), "client (case runner)")
            ctx.place(_host(node, "flood:a").pid, "host flood:a", 0)
            ctx.place(_host(node, "flood:b").pid, "host flood:b", 1)
            if _FLOOD in cases:
                for mode in ("send", "wait_send"):
                    with ctx.attempt(_FLOOD, "wippy"):
                        _flood(ctx, node, mode)
            if _BIG in cases:
                with ctx.attempt(_BIG, "wippy"):
                    _bigmsg(ctx, node)
    finally:
        shutil.rmtree(app, ignore_errors=True)


UNITS: list[Unit] = [
    Unit("floor.bigmsg", "floor", (_BIG,), ("floor:zmq",), floor_bigmsg, 120, 600),
    Unit("wippy.flood", "wippy", (_FLOOD, _BIG), ("wippy",), wippy_flood, 300, 900),
]
