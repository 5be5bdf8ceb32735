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
from wippy import time as wtime

KNOB = "breg:knob"
STOP = -2


async def subscriber(collector, quiet=False):
    """Report ``(seq, time.time())`` for every update of ``breg:knob`` until seq == STOP; with
    ``quiet``, keep them and report them all at STOP (``saw_all``)."""
    sub = events.subscribe("registry")
    process.send(collector, "ready", {"pid": process.pid(), "os_pid": os.getpid()})
    chan = sub.channel()
    kept = []
    while True:
        ev = await chan.receive()
        t = _time.time()
        if ev.get("path") != KNOB or ev.get("kind") != "entry.update":
            continue
        seq = ev["data"]["data"]["seq"]
        if quiet and seq != STOP:
            kept.append([seq, t])
        else:
            process.send(collector, "saw", [seq, t, process.pid()])
        if seq == STOP:
            if quiet:
                process.send(collector, "saw_all", [kept, process.pid()])
            sub.close()
            return None


async def writer(sub_host, n_subs, count, warmup, pace_ms=None):
    """Spawn ``n_subs`` subscribers on ``sub_host``; apply ``warmup + count`` versions.

    Returns the subscribers (PID, OS pid) and, per version, the writer's stamps, the version
    number and every subscriber's receive stamp. Without ``pace_ms`` every subscriber reports
    each version at once and the next version waits for all reports; with it, versions follow
    each other every ``pace_ms`` and the subscribers report everything at the end, so no
    report competes for the CPUs with the propagation being measured.
    """
    me = process.pid()
    inbox = process.inbox()
    for _ in range(n_subs):
        process.spawn("breg:subscriber", sub_host, me, pace_ms is not None)
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
        if pace_ms is not None:
            if k != STOP:
                rows.append({"seq": k, "version": int(version), "t_before": t_before,
                             "t_after": t_after, "t_seen": [], "snap_ns": snap_ns,
                             "warmup": k < warmup})
                await wtime.sleep(f"{pace_ms}ms")
            continue
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
    if pace_ms is not None:
        by_seq = {row["seq"]: row for row in rows}
        reported = 0
        while reported < n_subs:
            msg = await inbox.receive()
            if msg.topic == "saw_all":
                reported += 1
                for seq, t in msg.payload[0]:
                    if seq in by_seq:
                        by_seq[seq]["t_seen"].append(t)
            elif msg.topic == "saw" and msg.payload[0] != STOP:
                raise RuntimeError(f"unexpected report {msg.payload}")
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
