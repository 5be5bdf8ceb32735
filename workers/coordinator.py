"""The coordinator: hands out search/planning tasks to agents and keeps the books.

Runs as the service ``app.supervisors:coordinator`` on its own host (``app:coordinator_host``),
so that the CPU-bound agents on ``app:agents`` never stall it. One job at a time:

1. A job is a list of tasks made by ``app.workers:make_tasks`` from ``app:settings``
   (read with ``registry.get`` at the start of every job, so a registry change applies to the
   next job). Jobs come from a client (``-x app:demo`` sends topic ``job``), or, when
   ``autorun`` is set and no client asked within ``autorun_delay``, the coordinator runs the
   default workload on its own (plain ``wippy run``). A client job interrupts the default one.
2. For the job it spawns ``agents`` fleet agents, monitored, on ``app:agents`` (the node puts
   each on the OS process with the fewest processes). The resident agent service joins by
   itself. Agents pull work: every ``work`` message carries the last result and asks for more;
   at most ``per_os_process`` tasks are in flight on each OS process (one solving, one waiting).
3. It monitors every agent. An EXIT with an error means the task that agent held is lost:
   the task goes back to the front of the queue (next attempt), a fleet agent is replaced, and
   the resident agent is restarted by the node, which the coordinator notices when the new
   PID says hello. Each task is counted once, however often it was tried.
4. Progress every ``progress_every``; at the end a summary: tasks (each exactly once?), wall
   time, throughput, CPU in tasks and the speed-up it implies, per OS process, crashes and
   restarts. Then the coordinator waits for the next job, or CANCEL at node stop.

Progress and summary go to the client that asked (as messages) or, for the default workload,
to stdout.
"""
from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from wippy import WippyError, channel, funcs, process, registry, time
from wippy.time import parse_duration

AGENT = "app.workers:agent"
AGENT_HOST = "app:agents"
SETTINGS = "app:settings"
SOLVERS = "app.evolve:solvers"
EVOLVE = "app.supervisors:evolve"
DEFAULTS: dict[str, Any] = {
    "tasks": 200, "difficulty": "normal", "seed": 42, "agents": 8, "poison_task": 5,
    "per_os_process": 2, "progress_every": "1s", "autorun": True, "autorun_delay": "1s", "wait_for_restart": "5s",
}


def settings() -> dict[str, Any]:
    try:
        data = registry.get(SETTINGS)["data"]
    except Exception:  # noqa: BLE001 - a missing entry means the defaults
        data = {}
    return {**DEFAULTS, **{k: v for k, v in data.items() if k in DEFAULTS}}


def send(dest: str, topic: str, payload: Any) -> bool:
    """``process.send`` that reports a dead destination as False instead of raising: an agent
    may exit (crash, node stopping) after its last message left and before we answer it; its
    EXIT event is on its way and is handled there."""
    try:
        process.send(dest, topic, payload)
        return True
    except WippyError:
        return False


def host_of(pid: str) -> str:
    """``{app:agents/2|0.17}`` -> ``app:agents/2``: the OS process a PID lives in."""
    return pid[1:-1].rpartition("|")[0]


@dataclass
class Agent:
    pid: str
    role: str                 # fleet | resident
    os_pid: int = 0
    job: int | None = None    # the job a fleet agent was spawned for


@dataclass
class Job:
    id: int
    client: str | None
    tasks: list[dict[str, Any]]
    cfg: dict[str, Any]
    started: float = field(default_factory=monotonic)
    queue: deque = field(default_factory=deque)           # (task id, attempt)
    reserved: int | None = None                           # the poisoned task, for the resident
    inflight: dict[str, tuple[int, int]] = field(default_factory=dict)   # pid -> (task, attempt)
    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    requeued: list[int] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)
    fleet_spawned: int = 0
    done_at: float | None = None

    def elapsed(self) -> float:
        return monotonic() - self.started


class Coordinator:
    def __init__(self) -> None:
        self.me = process.pid()
        self.agents: dict[str, Agent] = {}
        self.idle: list[str] = []
        self.job: Job | None = None
        self.pending: deque = deque()
        self.next_job = 1
        self.resident_down: dict[str, Any] | None = None    # last resident crash, until it is back

    # -- output ----------------------------------------------------------------------------
    def emit(self, job: Job | None, line: str) -> None:
        if job is not None and job.client is not None:
            send(job.client, "progress", line)     # a client that went away: keep going
        else:
            print(line, flush=True)

    def stamp(self, job: Job) -> str:
        return f"[{job.elapsed():6.1f}s]"

    # -- jobs ------------------------------------------------------------------------------
    async def start_job(self, client: str | None, request: dict[str, Any]) -> None:
        cfg = settings()
        for key in ("tasks", "difficulty", "seed", "agents", "poison_task"):
            if request.get(key) is not None:
                cfg[key] = request[key]
        n = max(1, int(cfg["tasks"]))
        poison = cfg.get("poison_task")
        poison = None if poison is None or int(poison) < 0 else int(poison) % n
        kinds = request.get("kinds")
        if kinds:       # only some kinds: make enough tasks, keep those, number them again
            tasks = [t for t in await funcs.call("app.workers:make_tasks", n * 4, cfg["difficulty"],
                                                 int(cfg["seed"])) if t["kind"] in kinds][:n]
            for i, t in enumerate(tasks):
                t["id"] = i
            poison = None
        else:
            tasks = await funcs.call("app.workers:make_tasks", n, cfg["difficulty"],
                                     int(cfg["seed"]), poison)
        job = Job(self.next_job, client, tasks, cfg)
        self.next_job += 1
        self.job = job
        job.queue.extend((t["id"], 1) for t in tasks if t["id"] != poison)
        job.reserved = poison
        who = f"client {client}" if client else "default workload"
        if client is None:      # the evolving agent works alongside the default workload
            send(EVOLVE, "workload", {"tasks": n})
        self.emit(job, f"{self.stamp(job)} job {job.id} ({who}): {n} tasks, difficulty "
                       f"{cfg['difficulty']}, seed {cfg['seed']}; {cfg['agents']} fleet agents + the "
                       f"resident agent on {AGENT_HOST}"
                       + (f"; task #{poison} is poisoned (crashes the first agent that takes it)"
                          if poison is not None else ""))
        placed: dict[str, int] = {}
        for _ in range(int(cfg["agents"])):
            host = host_of(self.spawn_fleet(job)).split(":")[-1]
            placed[host] = placed.get(host, 0) + 1
        self.emit(job, f"{self.stamp(job)} spawned {cfg['agents']} fleet agents: "
                       + ", ".join(f"{c} on {h}" for h, c in sorted(placed.items())))
        self.fill()

    def spawn_fleet(self, job: Job) -> str:
        pid = process.spawn_monitored(AGENT, AGENT_HOST, "fleet", self.me)
        self.agents[pid] = Agent(pid, "fleet", job=job.id)
        job.fleet_spawned += 1
        return pid

    def stop_fleet(self, job: Job) -> None:
        for a in list(self.agents.values()):
            if a.role == "fleet" and a.job == job.id:
                self.retire(a.pid)

    def retire(self, pid: str) -> None:
        send(pid, "task", {"op": "stop"})
        if pid in self.idle:
            self.idle.remove(pid)

    def next_task(self, agent: Agent) -> tuple[int, int] | None:
        job = self.job
        if job is None or job.done_at is not None:
            return None
        if job.reserved is not None:
            others_idle = not job.queue
            no_resident = not any(a.role == "resident" for a in self.agents.values())
            if agent.role == "resident" or (others_idle and no_resident):
                tid, job.reserved = job.reserved, None
                return tid, 1
        if job.queue:
            return job.queue.popleft()
        return None

    def offer(self, pid: str) -> None:
        """Agent ``pid`` is ready for work: queue it, then fill its OS process's slots."""
        agent = self.agents.get(pid)
        job = self.job
        if agent is None:
            return
        if agent.role == "fleet" and (job is None or agent.job != job.id):
            self.retire(pid)
            return
        if pid not in self.idle:
            self.idle.append(pid)       # at the back: the agents of an OS process take turns
        self.fill(host_of(pid))

    def fill(self, host: str | None = None) -> None:
        """Hand tasks to idle agents, keeping at most ``per_os_process`` tasks in flight on
        each OS process (one solving, one waiting): an OS process runs its agents one after
        the other, so more would only sit there, unbalance the end of the job, and delay a
        stop (an agent finishes the task it holds)."""
        job = self.job
        if job is None or job.done_at is not None:
            return
        cap = max(1, int(job.cfg["per_os_process"]))
        busy: dict[str, int] = {}
        for p in job.inflight:
            busy[host_of(p)] = busy.get(host_of(p), 0) + 1
        for pid in list(self.idle):
            h = host_of(pid)
            if (host is not None and h != host) or busy.get(h, 0) >= cap:
                continue
            nxt = self.next_task(self.agents[pid])
            if nxt is None:
                continue
            self.idle.remove(pid)
            tid, attempt = nxt
            if send(pid, "task", {"op": "task", "job": job.id, "attempt": attempt,
                                  "task": job.tasks[tid]}):
                job.inflight[pid] = (tid, attempt)
                busy[h] = busy.get(h, 0) + 1
            elif attempt == 1 and job.tasks[tid]["poison"]:   # the agent is gone: put it back
                job.reserved = tid
            else:
                job.queue.appendleft((tid, attempt))

    # -- messages --------------------------------------------------------------------------
    async def on_message(self, msg: Any) -> None:
        if msg.topic == "work":
            self.on_work(msg.sender, msg.payload or {})
        elif msg.topic == "job":
            await self.on_job_request(msg.sender, msg.payload or {})
        elif msg.topic == "note":       # the evolving agent's report, while the workload runs
            print(f"coordinator: {msg.payload}", flush=True)
        else:
            print(f"coordinator: ignoring a message on topic {msg.topic!r}", flush=True)

    def on_work(self, pid: str, p: dict[str, Any]) -> None:
        agent = self.agents.get(pid)
        if agent is None:
            agent = self.agents[pid] = Agent(pid, p.get("role", "resident"))
            if agent.role == "resident":
                process.monitor(pid)
                self.on_resident_joined(pid)
        agent.os_pid = p.get("os_pid", agent.os_pid)
        job = self.job
        result = p.get("result")
        if job is not None and result is not None and p.get("job") == job.id:
            job.inflight.pop(pid, None)
            tid = result["id"]
            if tid in job.done:
                job.duplicates += 1
            else:
                job.done[tid] = {"pid": pid, "role": agent.role, "host": host_of(pid),
                                 "os_pid": agent.os_pid, "cpu_ms": result["cpu_ms"],
                                 "kind": result["kind"], "answer": result["answer"],
                                 "attempt": p.get("attempt", 1),
                                 "solver": result.get("solver", "app.workers:solve")}
                if len(job.done) == len(job.tasks):
                    job.done_at = monotonic()
        self.offer(pid)

    def on_resident_joined(self, pid: str) -> None:
        down = self.resident_down
        job = self.job
        if down is None:
            return
        self.resident_down = None
        gap = monotonic() - down["at"]
        if job is not None and down["job"] == job.id:
            job.restarts.append({"old": down["pid"], "new": pid, "after_s": round(gap, 2)})
            self.emit(job, f"{self.stamp(job)} ++ resident agent is back as {pid}: the node "
                           f"restarted the service {gap:.2f} s after the crash")
        else:
            print(f"coordinator: resident agent is back as {pid} ({gap:.2f} s after its crash)", flush=True)

    async def on_job_request(self, client: str | None, req: dict[str, Any]) -> None:
        reply_to = req.get("reply_to") or client
        if self.job is not None and self.job.client is None:
            old = self.job
            print(f"coordinator: a client ({reply_to}) asked for a job; interrupting the default "
                  f"workload ({len(old.done)}/{len(old.tasks)} done)", flush=True)
            self.stop_fleet(old)
            self.job = None
        if self.job is not None:
            self.pending.append((reply_to, req))
            if reply_to:
                send(reply_to, "progress", f"coordinator: queued behind job {self.job.id}")
            return
        await self.start_job(reply_to, req)

    # -- lifecycle events ------------------------------------------------------------------
    def on_exit(self, ev: Any) -> None:
        pid = ev.from_
        agent = self.agents.pop(pid, None)
        if pid in self.idle:
            self.idle.remove(pid)
        error = ev.result.error if ev.result is not None else None
        if agent is None:
            return
        job = self.job
        lost = job.inflight.pop(pid, None) if job is not None else None
        if error is None:
            if lost is not None and job is not None:      # exited holding a task: give it back
                job.queue.appendleft(lost)
                self.fill()
            return
        crash = {"pid": pid, "role": agent.role, "host": host_of(pid), "error": str(error),
                 "task": lost[0] if lost else None}
        if agent.role == "resident":
            self.resident_down = {"pid": pid, "at": monotonic(), "job": job.id if job else None}
        if job is not None and agent.role == "fleet" and agent.job != job.id:
            return          # a fleet agent of an interrupted job: nothing of ours was lost
        if job is None:
            if getattr(error, "kind", "") != "NOT_FOUND":   # NOT_FOUND: gone before monitored
                print(f"coordinator: {agent.role} agent {pid} failed between jobs: {error}", flush=True)
            return
        crash["at_s"] = round(job.elapsed(), 2)
        job.crashes.append(crash)
        what = f"task #{lost[0]}" if lost else "no task"
        self.emit(job, f"{self.stamp(job)} !! {agent.role} agent {pid} crashed holding {what}: {error}")
        if lost is not None and lost[0] not in job.done:
            tid, attempt = lost
            job.queue.appendleft((tid, attempt + 1))
            job.requeued.append(tid)
            self.emit(job, f"{self.stamp(job)} -> task #{tid} re-queued (attempt {attempt + 1})"
                           + ("; the node will restart the resident agent service"
                              if agent.role == "resident" else ""))
        if agent.role == "fleet" and job.done_at is None and agent.job == job.id:
            pid = self.spawn_fleet(job)
            self.emit(job, f"{self.stamp(job)} -> spawned a replacement fleet agent {pid}")
        self.fill()

    # -- progress and summary --------------------------------------------------------------
    def progress(self) -> None:
        job = self.job
        if job is None or job.done_at is not None:
            return
        n, done = len(job.tasks), len(job.done)
        el = job.elapsed()
        by_host: dict[str, int] = {}
        for d in job.done.values():
            by_host[d["host"]] = by_host.get(d["host"], 0) + 1
        spread = "  ".join(f"{h.split(':')[-1]}: {c}" for h, c in sorted(by_host.items()))
        self.emit(job, f"{self.stamp(job)} {done:>4}/{n} tasks ({100 * done // n:3d}%)  "
                       f"{done / el if el > 0 else 0:5.1f} tasks/s  in flight {len(job.inflight)}"
                       + (f"  [{spread}]" if spread else ""))

    def maybe_finish(self) -> None:
        job = self.job
        if job is None or job.done_at is None:
            return
        waited = monotonic() - job.done_at
        down = self.resident_down
        if (down is not None and down["job"] == job.id
                and waited < parse_duration(job.cfg["wait_for_restart"])):
            return      # show the restart in the summary: it is on its way
        self.stop_fleet(job)
        summary = self.summary(job)
        if job.client is not None:
            if not send(job.client, "summary", summary):
                print(summary["text"], flush=True)
        else:
            print(summary["text"], flush=True)
            print("coordinator: the default workload is done; the node stays up (Ctrl-C to stop). "
                  "One-shot run: python -m wippy run . -x app:demo [TASKS] [DIFFICULTY]", flush=True)
        self.job = None

    def summary(self, job: Job) -> dict[str, Any]:
        n = len(job.tasks)
        done = job.done
        assert job.done_at is not None
        wall = job.done_at - job.started
        cpu = sum(d["cpu_ms"] for d in done.values()) / 1000
        procs: dict[str, dict[str, Any]] = {}
        for d in done.values():
            p = procs.setdefault(d["host"], {"host": d["host"], "os_pid": d["os_pid"], "tasks": 0,
                                             "cpu_s": 0.0, "agents": set()})
            p["tasks"] += 1
            p["cpu_s"] += d["cpu_ms"] / 1000
            p["agents"].add(d["pid"])
        kinds: dict[str, list[float]] = {}
        for d in done.values():
            kinds.setdefault(d["kind"], []).append(d["cpu_ms"])
        digest = hashlib.sha256(json.dumps([[t, done[t]["answer"]] for t in sorted(done)],
                                           separators=(",", ":")).encode()).hexdigest()[:12]
        missing = n - len(done)
        roles: dict[str, int] = {}
        for d in done.values():
            roles[d["role"]] = roles.get(d["role"], 0) + 1
        n_procs = len(procs)
        lines = [
            f"== job {job.id} summary ==",
            f"tasks       {len(done)}/{n} done, "
            + (f"each exactly once ({job.duplicates} duplicates, {missing} missing)"
               if job.duplicates == 0 and missing == 0
               else f"NOT exactly once: {job.duplicates} duplicates, {missing} missing"),
            f"difficulty  {job.cfg['difficulty']}, seed {job.cfg['seed']}; answers digest {digest}",
            f"wall time   {wall:.2f} s",
            f"throughput  {len(done) / wall if wall > 0 else 0:.1f} tasks/s",
            f"CPU in tasks {cpu:.2f} s -> speed-up ~{cpu / wall if wall > 0 else 0:.2f}x over one "
            f"core ({n_procs} OS process{'es' if n_procs != 1 else ''} did the work)",
            "by OS process:",
        ]
        for h in sorted(procs):
            p = procs[h]
            lines.append(f"  {h:<16} os pid {p['os_pid']:<8} {p['tasks']:>4} tasks  "
                         f"{p['cpu_s']:6.2f} s CPU  {len(p['agents'])} agents")
        lines.append("by kind:    " + ", ".join(
            f"{k} {len(v)} (avg {sum(v) / len(v):.0f} ms)" for k, v in sorted(kinds.items())))
        solvers: dict[str, list[float]] = {}
        for d in done.values():
            if d["kind"] == "puzzle":
                solvers.setdefault(d["solver"], []).append(d["cpu_ms"])
        if len(solvers) > 1 or any(s != "app.workers:solve" for s in solvers):
            lines.append("puzzle by solver: " + ", ".join(
                f"{s} {len(v)} (avg {sum(v) / len(v):.0f} ms)" for s, v in sorted(solvers.items())))
        lines.append(f"agents      {job.fleet_spawned} fleet spawned, resident did "
                     f"{roles.get('resident', 0)} tasks, fleet {roles.get('fleet', 0)}")
        lines.append(f"crashes     {len(job.crashes)}" + ("" if job.crashes else " (none)"))
        for c in job.crashes:
            t = c["task"]
            fate = ""
            if t is not None and t in done:
                d = done[t]
                fate = f"; task #{t} re-queued and done on attempt {d['attempt']} by {d['role']} agent {d['pid']}"
            lines.append(f"  {c['role']} agent {c['pid']} crashed at {c.get('at_s', 0):.2f} s on "
                         f"task #{t}: {c['error']}{fate}")
        for r in job.restarts:
            lines.append(f"  restarted   resident agent {r['old']} -> {r['new']} by the node "
                         f"after {r['after_s']:.2f} s")
        if self.resident_down is not None and self.resident_down["job"] == job.id:
            lines.append("  (the restarted resident agent had not said hello yet)")
        text = "\n".join(lines)
        return {
            "job": job.id, "text": text, "tasks": n, "done": len(done), "duplicates": job.duplicates,
            "missing": missing, "exactly_once": job.duplicates == 0 and missing == 0,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "throughput": round(len(done) / wall, 2) if wall > 0 else 0.0,
            "speedup": round(cpu / wall, 2) if wall > 0 else 0.0,
            "os_processes": {h: {"os_pid": p["os_pid"], "tasks": p["tasks"],
                                 "cpu_s": round(p["cpu_s"], 3), "agents": len(p["agents"])}
                             for h, p in procs.items()},
            "puzzle_solvers": {s: {"tasks": len(v), "avg_ms": round(sum(v) / len(v), 1)}
                               for s, v in solvers.items()},
            "crashes": job.crashes, "restarts": job.restarts, "requeued": job.requeued,
            "digest": digest,
        }

    # -- main loop -------------------------------------------------------------------------
    async def run(self) -> str:
        events = process.events()
        inbox = process.inbox()
        changes = _subscribe_settings()      # registry events: settings edited live
        cfg = settings()
        tick = time.ticker(cfg["progress_every"])
        autorun = time.timer(cfg["autorun_delay"]) if cfg["autorun"] else None
        print(f"coordinator {self.me}: ready; "
              + (f"default workload ({cfg['tasks']} tasks, {cfg['difficulty']}) starts in "
                 f"{cfg['autorun_delay']} unless a client sends a job" if autorun
                 else "waiting for jobs (autorun is off)"), flush=True)
        while True:
            cases = [events.case_receive(), inbox.case_receive(), tick.channel().case_receive(),
                     changes.channel().case_receive()]
            if autorun is not None:
                cases.append(autorun.channel().case_receive())
            r = await channel.select(*cases)
            if r.channel is events:
                ev = r.value
                if ev.kind == process.event.CANCEL:
                    job = self.job
                    if job is not None:
                        self.emit(job, f"{self.stamp(job)} cancelled ({ev.reason}): "
                                       f"{len(job.done)}/{len(job.tasks)} tasks done")
                        self.stop_fleet(job)
                    return "cancelled"
                if ev.kind == process.event.EXIT:
                    self.on_exit(ev)
            elif r.channel is inbox:
                if r.value.topic == "job" and autorun is not None:
                    autorun.stop()
                    autorun = None
                await self.on_message(r.value)
            elif r.channel is changes.channel():
                ev = r.value              # a live registry change: the next job picks it up
                if ev["path"] == SOLVERS:
                    data = ev.get("data", {}).get("data", {})
                    print(f"coordinator: {SOLVERS} changed (registry {registry.current_version()}): "
                          f"puzzle tasks are now solved by {data.get('puzzle')}", flush=True)
                elif ev["path"] == SETTINGS:
                    data = ev.get("data", {}).get("data", {})
                    print(f"coordinator: {SETTINGS} changed ({ev['kind']}, registry "
                          f"{registry.current_version()}): next job: {data.get('tasks')} tasks, "
                          f"{data.get('difficulty')}", flush=True)
            elif autorun is not None and r.channel is autorun.channel():
                autorun = None
                if self.job is None:
                    await self.start_job(None, {})
            else:
                self.progress()
            self.maybe_finish()
            if self.job is None and self.pending:
                client, req = self.pending.popleft()
                await self.start_job(client, req)


def _subscribe_settings() -> Any:
    from wippy import events as bus
    return bus.subscribe("registry")


async def main() -> str:
    return await Coordinator().run()
