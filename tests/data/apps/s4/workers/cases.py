"""Processes used by the integration tests of S4 semantics. Each *_case returns what it saw."""
import wippy
from wippy import channel, coroutine, funcs, process, time


async def echo():
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        if msg.topic == "stop":
            return "stopped"
        process.send(msg.sender, msg.topic, msg.payload)


async def returner(value):
    return value


async def crasher(message="boom"):
    raise ValueError(message)


async def sleeper(duration, value=None):
    await time.sleep(duration)
    return value


async def forever():
    await process.inbox().receive()
    await process.inbox().receive()


async def counter(parent, n):
    inbox = process.inbox()
    seen = []
    for _ in range(n):
        seen.append((await inbox.receive()).payload)
    process.send(parent, "counted", seen)


async def linker(host):
    process.spawn_linked("t:crasher", host, "linked boom")
    await process.inbox().receive()      # never arrives: the link kills us first


async def trapper(host):
    process.set_options(trap_links=True)
    child = process.spawn_linked("t:crasher", host, "trapped boom")
    ev = await process.events().receive()
    return {"kind": ev.kind, "from": ev.from_, "child": child, "error": str(ev.result.error)}


async def monitor_exit(host):
    ok = process.spawn_monitored("t:returner", host, {"x": [1, 2]})
    bad = process.spawn_monitored("t:crasher", host, "monitored boom")
    got = {}
    for _ in range(2):
        ev = await process.events().receive()
        got[ev.from_] = {"kind": ev.kind, "value": ev.result.value,
                         "error": None if ev.result.error is None else str(ev.result.error)}
    return {"ok": got[ok], "bad": got[bad]}


async def exec_ok(host):
    return await process.exec("t:returner", host, (1, "two", 3.0))


async def exec_fail(host):
    try:
        await process.exec("t:crasher", host, "exec boom")
    except wippy.ProcessFailed as exc:
        return str(exc)
    return "no error"


async def names_case(host):
    me = process.pid()
    await process.registry.register("names-case-svc")
    lookup = process.registry.lookup("names-case-svc")
    # a process on another OS process resolves the name at once
    child = process.spawn_monitored("t:echo", host)
    process.send(child, "relay", "hello")
    reply = await process.inbox().receive()
    process.send(child, "stop")
    dup_error = None
    other = process.spawn("t:forever", host)
    try:
        await process.registry.register("names-case-svc", other)
    except wippy.WippyError as exc:
        dup_error = exc.kind
    process.terminate(other)
    unknown = None
    try:
        process.send("no-such-name", "x", 1)
    except wippy.ProcessNotFound as exc:
        unknown = str(exc)
    removed = await process.registry.unregister("names-case-svc")
    return {"me": me, "lookup": lookup, "reply": reply.payload, "dup": dup_error,
            "unknown": unknown, "removed": removed, "after": process.registry.lookup("names-case-svc")}


async def select_case():
    a, b = channel.new(1), channel.new(1)
    r0 = await channel.select(a.case_receive(), b.case_receive(), default=True)
    await b.send("from b")
    r1 = await channel.select(a.case_receive(), b.case_receive())
    results = [r0.default, r1.channel is b, r1.value]
    unbuf = channel.new()

    async def producer():
        for i in range(3):
            await unbuf.send(i)
        unbuf.close()

    coroutine.spawn(producer)
    got = []
    while True:
        try:
            got.append(await unbuf.receive())
        except wippy.ChannelClosed:
            break
    closed = channel.new(1)
    closed.close()
    r2 = await channel.select(closed.case_receive())
    timeout = await channel.select(a.case_receive(), time.after("20ms").case_receive())
    return {"select": results, "unbuffered": got, "closed_ok": r2.ok,
            "timeout_fired": timeout.channel is not a}


async def timers_case():
    t0 = time.now()
    await time.sleep("30ms")
    slept = time.now() - t0
    tk = time.ticker("10ms")
    ticks = 0
    for _ in range(3):
        await tk.channel().receive()
        ticks += 1
    tk.stop()
    tm = time.timer("1h")
    stopped = tm.stop()
    r = await channel.select(tm.channel().case_receive(), default=True)
    return {"slept": slept, "ticks": ticks, "stopped": stopped, "timer_quiet": r.default}


def double(x):
    return x * 2


async def slow_double(x):
    await time.sleep("10ms")
    return x * 2


def fails(x):
    raise RuntimeError(f"function failed on {x}")


async def funcs_case():
    a = await funcs.call("t:double", 21)
    fut = funcs.async_("t:slow_double", 5)
    b = await fut
    try:
        await funcs.call("t:fails", 1)
        err = None
    except RuntimeError as exc:
        err = str(exc)
    return {"call": a, "async": b, "error": err}


async def cancel_waiter():
    ev = await process.events().receive()
    return {"kind": ev.kind, "reason": ev.reason}


async def cancel_case(host):
    child = process.spawn_monitored("t:cancel_waiter", host)
    process.cancel(child, "please stop")
    ev = await process.events().receive()
    return ev.result.value


async def terminate_case(host):
    child = process.spawn_monitored("t:forever", host)
    process.terminate(child)
    ev = await process.events().receive()
    return {"kind": ev.kind, "error": str(ev.result.error), "value": ev.result.value}


async def listen_case(host):
    child = process.spawn("t:echo", host)
    ch = process.listen("special")
    process.send(child, "special", 1)
    process.send(child, "other", 2)
    special = await ch.receive()
    other = await process.inbox().receive()
    process.send(child, "stop")
    return {"special": special, "other": [other.topic, other.payload]}


async def mailbox_before_inbox():
    me = process.pid()
    process.send(me, "t1", "first")
    process.send(me, "t2", "second")
    process.send(me, "t1", "third")
    await time.sleep("5ms")
    t2 = await process.listen("t2").receive()
    inbox = process.inbox()
    a = await inbox.receive()
    b = await inbox.receive()
    return {"listen": t2, "inbox": [a.payload, b.payload], "same": inbox is process.inbox()}


async def early_case(host, n=200):
    """Messages sent right after spawn, before the child's SPAWN frame could arrive, all land."""
    me = process.pid()
    child = process.spawn("t:counter", host, me, n)
    for i in range(n):
        process.send(child, "n", i)
    msg = await process.inbox().receive()
    return msg.payload == list(range(n))


async def dead_send_case(host):
    child = process.spawn_monitored("t:returner", host, 1)
    await process.events().receive()
    try:
        process.send(child, "x", 1)
        remote = "sent"
    except wippy.ProcessNotFound as exc:
        remote = str(exc)
    local = process.spawn_monitored("t:returner", process.pid().split("/")[0][1:], 1)
    await process.events().receive()
    try:
        process.send(local, "x", 1)
        here = "sent"
    except wippy.ProcessNotFound as exc:
        here = exc.kind
    return {"remote": remote, "local": here}


async def bad_payload_case():
    me = process.pid()
    out = {}
    for label, payload in [("object", object()), ("set", {1, 2}), ("func", len),
                           ("big", b"x" * (65 * 1024 * 1024))]:
        try:
            process.send(me, "x", payload)
            out[label] = "sent"
        except wippy.InvalidMessage as exc:
            out[label] = str(exc)
    process.send(me, "ok", (1, [2, (3,)]))
    msg = await process.inbox().receive()
    out["tuple_became"] = msg.payload
    out["alive"] = True
    return out


async def tasks_case():
    ch = channel.new(10)

    async def worker(i):
        await time.sleep("5ms")
        await ch.send(i * i)

    for i in range(5):
        coroutine.spawn(worker, i)
    got = sorted([await ch.receive() for _ in range(5)])
    return got


async def thread_case():
    import time as std

    def blocking(x):
        std.sleep(0.05)
        return x + 1

    return await wippy.to_thread(blocking, 41)


async def pid_case():
    return process.pid()


async def self_exit_kill(host):
    """terminate of self ends the caller with an error."""
    process.terminate(process.pid())


async def link_remote_case(host):
    """A linked process on another host that we terminate takes us down (not trapped)."""
    child = process.spawn_linked("t:forever", host)
    process.terminate(child)
    await process.inbox().receive()


async def watch_and_report(host, parent):
    """Monitor and link (trapped) a process on ``host``; report what we hear to ``parent``."""
    process.set_options(trap_links=True)
    child = process.spawn_monitored("t:forever", host)
    linked = process.spawn_linked("t:forever", host)
    process.send(parent, "watching", [child, linked])
    got = {}
    while len(got) < 2:
        ev = await process.events().receive()
        got[ev.kind] = [ev.from_, str(ev.result.error)]
    process.send(parent, "heard", got)
    return "done"


async def os_exit(code):
    import os
    os._exit(code)


async def segfault():
    import ctypes
    ctypes.string_at(0)


async def cancellable_sleeper():
    ev = await process.events().receive()
    return ev.kind


async def memory_hog():
    """Ask for far more memory than the machine has: the process fails, its host lives on."""
    hog = bytearray(1 << 44)
    return len(hog)
