"""The control protocol's vocabulary: the kinds of control messages, the ops a REQUEST asks
of the node, the flags a spawn carries, and the typed view of each message.

:mod:`wippy.core.protocol` builds and parses the messages and re-exports every name here;
import them from there. Kept apart so that the layouts of the frames read in one place,
without the constructors and the dispatch around them.
"""
from __future__ import annotations

import enum
from typing import Any, NamedTuple, Union

class SpawnFlag(enum.IntFlag):
    """What a SPAWN frame asks of the new process."""

    MONITOR = 1         # the spawner gets an EXIT when it ends
    LINK = 2            # linked to the spawner
    STARTED_ACK = 4     # tell the node once main has taken its first step (service start order)


# Plain ints for the hot paths: an IntFlag operation costs a conversion each time.
MONITOR = int(SpawnFlag.MONITOR)
LINK = int(SpawnFlag.LINK)
STARTED_ACK = int(SpawnFlag.STARTED_ACK)


class Kind(enum.IntEnum):
    """The kinds of control messages (first tuple item)."""

    READY = 1
    HELLO = 2
    BYE = 3
    REQUEST = 4
    ACK = 5
    RELEASE = 6
    LOAD = 7
    PS_REPLY = 8
    STARTED = 9
    STOPPED = 10
    EVENT = 11
    WELCOME = 20
    REPLY = 21
    NAME = 22
    TOPOLOGY = 23
    LOADS = 24
    HOST_DOWN = 25
    REGISTRY = 26
    PS = 27
    STOP = 28


class ReqOp(enum.IntEnum):
    """What a REQUEST asks of the node."""

    REGISTER = 1            # name, pid -> True once every host has it
    UNREGISTER = 2          # name -> True
    LOOKUP = 3              # name -> pid or None
    PS = 4                  # -> the node's status (``wippy ps``)
    STOP = 5                # -> True; the node stops in order
    EXIT = 6                # code -> True; the node stops with that exit code
    INFO = 7                # -> {pid, app_dir, data_dir, node_pid, version}
    SUPERVISOR_STATES = 8   # -> every service's state
    REGISTRY_APPLY = 9      # ops -> new version
    REGISTRY_ROLLBACK = 10  # version -> new version
    WF_START = 11           # entry id, input, name -> workflow pid
    WF_LOAD = 12            # workflow id -> {input, steps, signals, pid}
    WF_STEPS = 13           # workflow id, [(seq, record)] -> True once journaled
    WF_DONE = 14            # workflow id, value, error -> True once journaled
    WF_CANCEL = 15          # workflow id -> True
    RESOURCE = 16           # family, op, *args -> the answer (wippy.node.resources)

    @classmethod
    def of(cls, op: ReqOp | str | int) -> ReqOp:
        """The op named ``op`` (``"registry_apply"``) or numbered so; raises ValueError."""
        return request_op(op)


_OPS: dict[Any, ReqOp] = {**{m.name.lower(): m for m in ReqOp}, **{int(m): m for m in ReqOp}}


def request_op(op: ReqOp | str | int) -> ReqOp:
    """:meth:`ReqOp.of` as a plain function (the hosts' request path: a third of the cost)."""
    found = _OPS.get(op)
    if found is None:
        raise ValueError(f"unknown request '{op}'")
    return found


# -- the typed views, member -> node --------------------------------------------------------
class Ready(NamedTuple):
    """A host has bound its inbox and waits for its WELCOME."""
    serial: int
    os_pid: int


class Hello(NamedTuple):
    """A program attaches; the node answers with a WELCOME holding its serial."""


class Bye(NamedTuple):
    """A program detaches."""


class Request(NamedTuple):
    """A member asks the node; answered by a REPLY carrying the same ``req``. ``op`` is the
    raw int when this version does not know it (the node answers INVALID). ``caller``: from
    a host, the asking process (``{"pid", "entry", "security"}``: who it acts as, S9); None
    from a program (the operator)."""
    req: int
    op: ReqOp | int
    args: tuple[Any, ...]
    caller: Any = None


class Ack(NamedTuple):
    """A host has applied the NAME announced with ``seq``."""
    seq: int


class Release(NamedTuple):
    """Process ``pid``, which held ``names``, has exited."""
    pid: str
    names: list[str]


class Load(NamedTuple):
    """Host ``serial`` runs ``procs`` processes (for placement)."""
    serial: int
    procs: int


class PsReply(NamedTuple):
    """A host's part of a ``ps``: its processes and counters."""
    seq: int
    data: dict[str, Any]


class Started(NamedTuple):
    """A process spawned with STARTED_ACK took its first step."""
    pid: str


class Stopped(NamedTuple):
    """Host ``serial`` has ended its processes and is exiting."""
    serial: int


class Event(NamedTuple):
    """A bus event: from a host to the node, and from the node to every member."""
    system: str
    kind: str
    path: str
    data: Any


# -- the typed views, node -> member --------------------------------------------------------
class Welcome(NamedTuple):
    """The node's answer to READY (``serial``, ``node_pid`` and ``store`` are None then) and
    to HELLO: where everything is."""
    serial: int | None
    topology: dict[str, list[int]]
    loads: dict[int, int]
    names: dict[str, str]
    dead: list[int]
    node_pid: str | None
    store: str | None


class Reply(NamedTuple):
    """The answer to REQUEST ``req``: a value when ``ok``, else an error (``{kind, message}``)."""
    req: int
    ok: bool
    value: Any


class Name(NamedTuple):
    """``name`` now belongs to ``pid`` (None: released); ACK ``ack`` when it is not None."""
    name: str
    pid: str | None
    ack: int | None


class Topology(NamedTuple):
    """The ready OS processes (serials) of every host entry."""
    topology: dict[str, list[int]]


class Loads(NamedTuple):
    """Live processes per OS process (serial), for placement."""
    loads: dict[int, int]


class HostDown(NamedTuple):
    """OS process ``serial`` is gone: everything watching its processes fails with ``reason``."""
    serial: int
    reason: str


class Registry(NamedTuple):
    """Registry ``version`` was committed: ``events`` are (kind, entry id, entry or None)."""
    version: int
    events: list[tuple[str, str, Any]]


class Ps(NamedTuple):
    """Send a PS_REPLY for ``seq``; ``processes``: with the list of processes (``wippy top``
    asks without, twice a second)."""
    seq: int
    processes: bool = True


class Stop(NamedTuple):
    """CANCEL every process that listens to its events, end the others, end whatever is left
    after ``timeout`` seconds, then exit. ``reason`` reaches the processes."""
    timeout: float
    reason: str


Frame = Union[Ready, Hello, Bye, Request, Ack, Release, Load, PsReply, Started, Stopped, Event,
              Welcome, Reply, Name, Topology, Loads, HostDown, Registry, Ps, Stop]
