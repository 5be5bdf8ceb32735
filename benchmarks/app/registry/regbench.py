"""Registry benchmarks (S3/S11), driven by ``benchmarks/registry_cases.py``.

* ``writer`` spawns one ``subscriber`` per OS process of the subscriber host, then applies
  ``warmup + count`` versions, each an update of ``breg:knob`` to ``{seq: k}``, one at a time:
  it times ``registry.snapshot()`` (the first read of the registry after the previous version),
  stamps ``time.time()`` just before ``apply()`` and just after it returns, then waits until
  every subscriber has reported the version before the next one.
* ``subscriber`` subscribes to ``registry`` events and, for each update of ``breg:knob``, sends
  the wall-clock time at which ``sub.channel().receive()`` returned to the writer.
* ``reader`` times ``registry.get``, ``registry.find`` and ``registry.snapshot().get`` loops
  inside a process.
* ``save_watcher`` reports every event of the file-edited entry to the external client.

All stamps are ``time.time()`` (CLOCK_REALTIME, one machine), the clock the registry records
each version's commit time with (``registry.history()[i]["time"]``).
"""
import os
import time as _time

from wippy import events, process, registry

KNOB = "breg:knob"
STOP = -2


async def subscriber(collector):
    """Report ``(seq, time.time())`` for every update of ``breg:knob`` until seq == STOP."""
    sub = events.subscribe("registry")
    process.send(collector, "ready", {"pid": process.pid(), "os_pid": os.getpid()})
    chan = sub.channel()
    while True:
        ev = await chan.receive()
        t = _time.time()
        if ev.get("path") != KNOB or ev.get("kind") != "entry.update":
            continue
        seq = ev["data"]["data"]["seq"]
        process.send(collector, "saw", [seq, t, process.pid()])
        if seq == STOP:
            sub.close()
            return None


async def writer(sub_host, n_subs, count, warmup):
    """Spawn ``n_subs`` subscribers on ``sub_host``; apply ``warmup + count`` versions.

    Returns the subscribers (PID, OS pid) and, per version, the writer's stamps, the version
    number and every subscriber's receive stamp.
    """
    me = process.pid()
    inbox = process.inbox()
    for _ in range(n_subs):
        process.spawn("breg:subscriber", sub_host, me)
    subs = []
    while len(subs) < n_subs:
        msg = await inbox.receive()
        if msg.topic == "ready":
            subs.append(msg.payload)
    base = registry.get(KNOB)
    rows = []
    for k in list(range(warmup + count)) + [STOP]:
        entry = {**base, "data": {**base["data"], "seq": k}}
        t_snap = _time.perf_counter_ns()
        snap = registry.snapshot()      # the first read after a new version
        snap_ns = _time.perf_counter_ns() - t_snap
        change = snap.changes().update(entry)
        t_before = _time.time()
        version = await change.apply()
        t_after = _time.time()
        seen = {}
        while len(seen) < n_subs:
            msg = await inbox.receive()
            if msg.topic != "saw":
                continue
            seq, t, pid = msg.payload
            if seq != k:
                raise RuntimeError(f"subscriber {pid} reported seq {seq} while waiting for {k}")
            seen[pid] = t
        if k != STOP:
            rows.append({"seq": k, "version": int(version), "t_before": t_before,
                         "t_after": t_after, "t_seen": list(seen.values()), "snap_ns": snap_ns,
                         "warmup": k < warmup})
    return {"subs": subs, "rows": rows, "writer_os_pid": os.getpid()}


async def reader(get_loops, find_loops, flt):
    """Time ``get_loops`` x ``registry.get(KNOB)`` and ``find_loops`` x ``registry.find(flt)``."""
    clock = _time.perf_counter_ns
    for _ in range(min(100, get_loops)):  # warm-up
        registry.get(KNOB)
    t0 = clock()
    for _ in range(get_loops):
        registry.get(KNOB)
    get_ns = clock() - t0
    found = registry.find(flt)
    t0 = clock()
    for _ in range(find_loops):
        registry.find(flt)
    find_ns = clock() - t0
    t0 = clock()
    for _ in range(get_loops // 10):
        registry.snapshot().get(KNOB)
    snap_ns = clock() - t0
    return {"get_ns": get_ns, "get_loops": get_loops, "find_ns": find_ns,
            "snap_ns": snap_ns, "snap_loops": get_loops // 10,
            "find_loops": find_loops, "found": len(found),
            "entries": len(registry.find({})), "os_pid": os.getpid()}


async def save_watcher(client, entry_id):
    """Send ``saw [seq, time.time()]`` to ``client`` for every update of ``entry_id``."""
    sub = events.subscribe("registry")
    process.send(client, "ready", os.getpid())
    chan = sub.channel()
    while True:
        ev = await chan.receive()
        t = _time.time()
        if ev.get("path") == entry_id and ev.get("data"):
            process.send(client, "saw", [ev["data"]["data"].get("seq"), t])
