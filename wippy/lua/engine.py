"""The Lua engine: the only module that imports lupa, and the only one that touches the Lua C API.

One :class:`LuaState` per Lua process (S6): its own ``lupa.lua54.LuaRuntime`` with its own
``max_memory``, a sandbox built by ``prelude.lua``, and a CPU account. Lua code runs only inside
:meth:`LuaState.resume` ("a slice"), called by the process's driver task (``driver.py``).

Preemption and limits (decided by measurement, see ``docs/lua.md``):

* A count hook is set with the C API (``lua_sethook`` through ctypes) on the state's main thread;
  Lua 5.4 copies a thread's hook into every coroutine created from it, so every coroutine of the
  process (ours and the user's) is armed, whatever ``pcall``/``xpcall``/``resume`` it runs under.
* The hook is a C callback, so unlike a Lua hook (``debug.sethook``) it may yield: when the slice
  is over (10 ms) or a limit is hit and the running coroutine can yield, it calls
  ``lua_yield(L, 0)``; the coroutine returns to the driver with no values, which reschedules it
  (or ends the process). Hook yields never unwind through Python frames: Lua longjmps inside
  its own VM after the callback has returned.
* Code that cannot yield (a ``table.sort`` comparator, a ``gsub`` callback, a ``__tostring``, an
  ``xpcall`` handler) cannot be preempted. Past the CPU limit, or ``STUCK_S`` past its slice, the
  hook switches that coroutine to Lua's own ``debug`` hook with a "killer" function that raises
  on every instruction, so nothing (not even ``pcall`` in a loop) survives.
* ``max_memory`` is lupa's per-runtime allocator limit; a memory or stack overflow error is made
  fatal by the prelude's ``pcall``/``xpcall``/``resume`` wrappers.
* A C call that no hook can interrupt (a pathological ``string.find`` pattern) stalls the host:
  the watchdog thread (:mod:`wippy.lua.watchdog`) kills the host OS process after ``WATCHDOG_S`` without a hook, and the node
  restarts it (S6 allows exactly this).

Rejected: ``debug.sethook`` alone (a Lua hook cannot yield, so it can only kill, not preempt;
and it is not inherited by new coroutines); source rewriting to insert yield points (slow,
fragile); one OS thread per Lua process (memory, and lupa's threading caveats).

Strings: the runtime uses ``encoding=None``: Lua strings reach Python as ``bytes`` (decoded to
``str`` when they are valid UTF-8, kept as ``bytes`` otherwise, S4), and every Python string is
encoded before it goes into Lua (with ``encoding=None`` lupa would wrap a ``str`` as an object).
"""
from __future__ import annotations

import ctypes
import logging
import time as _time
from typing import Any, Callable

import lupa.lua54 as _lupa

from ..errors import InvalidMessage

__all__ = ["LuaState", "LuaError", "LuaMemoryError", "compile_chunk", "to_lua", "from_lua",
           "message_payload",
           "is_lua_table", "lua_type_of", "SLICE_S", "HOOK_COUNT", "current", "stalled",
           "STUCK_S"]

log = logging.getLogger("wippy.lua")

LuaError = _lupa.LuaError
LuaMemoryError = _lupa.LuaMemoryError

HOOK_COUNT = 10_000      # VM instructions between hook calls: ~40 us of plain Lua on this VM;
                         # the callback costs ~1.7 us, so ~4%; any hook at all makes the VM ~2x
                         # slower on tight loops (Lua 5.4 traps every instruction when hooked)
SLICE_S = 0.010          # S6: a slice longer than this is preempted at the next hook
STUCK_S = 2.0            # non-yieldable Lua (sort comparator, xpcall handler...) killed after this

_LUA_MASKCOUNT = 8
_FOREVER = float("inf")
_NUMERIC = (int, float)

# -- the Lua C API, through ctypes -------------------------------------------------------------
_so = ctypes.CDLL(_lupa.__file__)
_HOOK_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_sethook = _so.lua_sethook
_sethook.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_sethook.restype = None
_yieldk = _so.lua_yieldk
_yieldk.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_yieldk.restype = ctypes.c_int
_isyieldable = _so.lua_isyieldable
_isyieldable.argtypes = [ctypes.c_void_p]
_isyieldable.restype = ctypes.c_int
_gethook = _so.lua_gethook
_gethook.argtypes = [ctypes.c_void_p]
_gethook.restype = ctypes.c_void_p
_perf = _time.perf_counter


class _Slice:
    """What the hook needs to know about the slice that runs now (one at a time per thread)."""

    __slots__ = ("state", "main", "deadline", "cpu_end", "stuck_at", "started", "last_hook")

    def __init__(self) -> None:
        self.state: LuaState | None = None
        self.main = 0
        self.deadline = 0.0
        self.cpu_end = 0.0
        self.stuck_at = 0.0
        self.started = 0.0
        self.last_hook = 0.0


_SLICE = _Slice()


def _hook(L: int, ar: int) -> None:  # noqa: N803 - C names
    s = _SLICE
    st = s.state
    if st is None:
        return
    now = _perf()
    s.last_hook = now
    if now < s.deadline and st.killed is None:
        return
    if now >= s.cpu_end and st.killed is None:
        st.killed = "cpu"
    if _isyieldable(L):
        _yieldk(L, 0, None, None)     # back to the driver: reschedule, or end the process
        return
    if L == s.main:
        return                        # our own code on the main thread: never user code
    if st.killed is None:
        if now < s.stuck_at:
            return                    # cannot preempt here; let it reach a yieldable point
        st.killed = "stuck"
    _sethook(L, _KILLER_HOOK, _LUA_MASKCOUNT, 1)


_HOOK_FN = _HOOK_T(_hook)             # kept alive for the life of the OS process
_HOOK_PTR = ctypes.cast(_HOOK_FN, ctypes.c_void_p).value


def _find_killer_hook() -> int:
    """Address of Lua's own ``hookf`` (ldblib.c), which calls the Lua hook function registered
    for the running thread; static in the library, so read it back from a throwaway state."""
    probe = _lupa.LuaRuntime(register_eval=False, register_builtins=False)
    main = probe.execute("debug.sethook(function() end, '', 1000000) "
                         "return tostring(coroutine.running())")
    ptr = _gethook(_thread_ptr(main))
    probe.execute("debug.sethook()")
    if not ptr:
        raise RuntimeError("could not find Lua's debug hook function")
    return ptr


def _thread_ptr(text: Any) -> int:
    if isinstance(text, bytes):
        text = text.decode()
    return int(str(text).rsplit(" ", 1)[-1], 16)


_KILLER_HOOK = _find_killer_hook()


# -- chunks ------------------------------------------------------------------------------------
_template: Any = None
_compile: Any = None
_chunks: dict[tuple, bytes] = {}
CHUNK_CACHE = 512        # compiled chunks kept per OS process (by source text)


def _template_runtime() -> Any:
    global _template, _compile
    if _template is None:
        _template = _lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        _compile = _template.eval(
            "function(src, name, strip) local f, err = load(src, name, 't') "
            "if not f then return nil, err end return string.dump(f, strip) end")
    return _compile


def compile_chunk(source: str | bytes, name: str, strip: bool = False) -> bytes:
    """Lua source -> binary chunk (compiled once per OS process, in a state of its own).

    Binary chunks are only ever made here, from source text, and only loaded into our own
    states: loading bytecode from anyone else could crash Lua. Raises :class:`LuaError` with
    Lua's message on a syntax error.
    """
    src = source.encode() if isinstance(source, str) else source
    key = (src, name, strip)
    code = _chunks.get(key)
    if code is None:
        chunk = name if name[:1] in "=@" else "@" + name
        out = _template_runtime()(src, chunk.encode(), strip)
        if isinstance(out, tuple):
            raise LuaError(_text(out[1]))
        code = out
        if len(_chunks) >= CHUNK_CACHE:
            _chunks.clear()
        _chunks[key] = code
    return code


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


# -- states ------------------------------------------------------------------------------------
def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not accessible from Lua")


class LuaState:
    """One Lua state with its limits and CPU account; it runs one process at a time.

    Made by :func:`acquire`, which runs the prelude once per state; the prelude's exports
    (``main``, ``task``, ``new_process``, ``new_obj``) are in :attr:`exports` (bytes keys).
    """

    __slots__ = ("lua", "main_ptr", "exports", "cpu", "max_cpu", "max_memory", "killed",
                 "label", "ctx", "reusable", "__weakref__")

    def __init__(self, prelude: bytes, *args: Any) -> None:
        self.max_memory: int | None = None
        self.max_cpu: float | None = None
        self.cpu = 0.0
        self.killed: str | None = None     # "cpu", "memory", "stack", "stuck", "exit": doomed
        self.label = ""
        self.ctx: Any = None               # the driver's context of the current process
        self.reusable = True               # False once it holds state processes could share
        self.lua = _lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                    unpack_returned_tuples=True, attribute_filter=_deny_attributes,
                                    max_memory=1 << 62)
        # os.clock: the CPU time of the process this state runs (Lua's own clock would count
        # every process of the OS process, including those that ran while this one was
        # preempted); set before the prelude copies ``os`` into the sandbox
        self.lua.globals()[b"os"][b"clock"] = self._clock
        out = self.lua.execute(prelude, *args, mode="b")
        self.exports = out[0]
        self.main_ptr = _thread_ptr(out[1])
        self.exports[b"collect"]()          # the setup's garbage: ~12 KB per state otherwise
        _sethook(self.main_ptr, _HOOK_PTR, _LUA_MASKCOUNT, HOOK_COUNT)

    def resume(self, co: Any, value: Any) -> Any:
        """Run ``co`` for one slice; returns what it yielded or returned (lupa's ``send``).
        Slices never nest: Lua runs only here, and only one state's slice at a time."""
        s = _SLICE
        now = _perf()
        s.state, s.main, s.started = self, self.main_ptr, now
        deadline = now + SLICE_S
        s.stuck_at = now + STUCK_S
        if self.max_cpu is not None:
            cpu_end = now + max(0.0, self.max_cpu - self.cpu)
            s.cpu_end = cpu_end
            s.deadline = cpu_end if cpu_end < deadline else deadline
        else:
            s.cpu_end = _FOREVER
            s.deadline = deadline
        try:
            return co.send(value)
        finally:
            self.cpu += _perf() - now
            s.state = None

    def _clock(self) -> float:
        """Seconds of CPU this state's process has used (its ``max_cpu`` account)."""
        s = _SLICE
        return self.cpu + (_perf() - s.started if s.state is self else 0.0)

    def memory_used(self) -> int:
        return self.lua.get_memory_used()


def current() -> LuaState | None:
    """The state whose slice runs now (None outside a slice)."""
    return _SLICE.state


def stalled() -> tuple[LuaState | None, float]:
    """The state whose slice runs now and the seconds since its slice began or its hook last
    ran, whichever is later (what the watchdog reads; never blocks)."""
    s = _SLICE
    return s.state, _perf() - max(s.started, s.last_hook)


# -- values ------------------------------------------------------------------------------------
lua_type_of = _lupa.lua_type


def is_lua_table(v: Any) -> bool:
    return _lupa.lua_type(v) == "table"


_SCALARS = frozenset({bytes, int, float, bool, type(None)})


def _lua_prep(obj: Any, depth: int = 0) -> Any:
    """Plain data with every str made bytes (lupa, with encoding=None, would wrap a str)."""
    t = type(obj)
    if t is str:
        return obj.encode()
    if t in _SCALARS:
        return obj
    if depth > 100:
        raise InvalidMessage("value nested deeper than 100 levels (a cycle?)")
    if t is dict:
        out = {}
        for k, v in obj.items():
            tv = type(v)
            out[k.encode() if type(k) is str else k] = (
                v.encode() if tv is str else v if tv in _SCALARS else _lua_prep(v, depth + 1))
        return out
    if t is list or t is tuple:
        return [v.encode() if type(v) is str else v if type(v) in _SCALARS
                else _lua_prep(v, depth + 1) for v in obj]
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise InvalidMessage(f"a Python {t.__name__} cannot be passed to Lua")


def to_lua(state: LuaState, obj: Any) -> Any:
    """Plain Python data -> Lua value (tables for lists and maps, strings from str and bytes)."""
    t = type(obj)
    if t is str:
        return obj.encode()
    if t is dict or t is list or t is tuple:
        return state.lua.table_from(_lua_prep(obj), recursive=True)
    return _lua_prep(obj)


def _decode(b: bytes) -> str | bytes:
    try:
        return b.decode()
    except UnicodeDecodeError:
        return b


def message_payload(values: tuple) -> Any:
    """The payload of ``process.send(dest, topic, ...)``: nothing is nil, one value is itself,
    several are the list of them."""
    if not values:
        return None
    if len(values) == 1:
        return from_lua(values[0])
    return [from_lua(v) for v in values]


def from_lua(v: Any, empty: Callable[[], Any] = dict, depth: int = 0) -> Any:
    """Lua value -> plain Python data (S4): a table with keys exactly 1..n is a list, any other
    table a map (``{}`` gives ``empty()``); strings become ``str`` when valid UTF-8, else bytes.
    Raises :class:`InvalidMessage` naming the first value that is not plain data."""
    t = type(v)
    if t is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError:
            return v
    if t is int or t is float or t is bool or v is None:
        return v
    kind = _lupa.lua_type(v)
    if kind != "table":
        if kind is None:
            raise InvalidMessage(f"a {type(v).__name__} (a wippy handle such as a channel) is not "
                                 "plain data and cannot leave its process")
        raise InvalidMessage(f"a Lua {kind} is not plain data (nil, booleans, numbers, strings, "
                             "tables)")
    if depth > 100:
        raise InvalidMessage("table nested deeper than 100 levels (a cycle?)")
    items = list(v.items())
    n = len(items)
    if n == 0:
        return empty()
    d = depth + 1
    if all(type(k) is int and k > 0 for k, _ in items):
        top = max(k for k, _ in items)
        if top == n or (top <= 2 * n and v[1] is not None):
            # a list; holes (a Python None became nil) come back as None, as in cjson
            out: list[Any] = [None] * top
            for k, item in items:
                out[k - 1] = from_lua(item, empty, d)
            return out
    res: dict[Any, Any] = {}
    for k, item in items:
        tk = type(k)
        if tk is bytes:
            k = _decode(k)
            if type(k) is bytes:
                raise InvalidMessage(f"table key {k!r} is not valid UTF-8")
        elif tk is float:
            raise InvalidMessage(f"table key {k!r} is a float (keys must be strings or integers)")
        elif tk is not int:
            raise InvalidMessage(f"table key of Lua type {_lupa.lua_type(k) or tk.__name__} "
                                 "is not plain data (keys must be strings or integers)")
        res[k] = from_lua(item, empty, d)
    return res
