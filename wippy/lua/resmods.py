"""Wippy's Lua ``store``, ``queue``, ``env`` and ``metrics`` modules: views of
:mod:`wippy.store`, :mod:`wippy.queue`, :mod:`wippy.env` and :mod:`wippy.metrics` (S13).

Objects carry their Python handle as the first field: ``Store`` (a store handle) and
``QueueMessage`` (the delivery a consumer's handler runs for). Calls that reach the node or a
database are blocking; ``metrics`` never blocks.
"""
from __future__ import annotations

from typing import Any

from .. import env as _env
from .. import metrics as _metrics
from .. import queue as _queue
from .. import store as _store
from .api import ApiError, New, blocking, constant, function, lua_value, method, subtable, text
from .ctx import Ctx
from .engine import from_lua, is_lua_table, to_lua

__all__: list[str] = []


def _opts(t: Any) -> dict[str, Any]:
    if t is None:
        return {}
    if not is_lua_table(t):
        raise ApiError("INVALID", "options must be a table")
    return dict(from_lua(t) or {})


def _labels(t: Any) -> dict[str, Any] | None:
    if t is None:
        return None
    if not is_lua_table(t):
        raise ApiError("INVALID", "labels must be a table")
    got = from_lua(t)
    return got if isinstance(got, dict) else None


# -- store -----------------------------------------------------------------------------------
@blocking("store", "get")
async def _store_get(ctx: Ctx, id: Any = None) -> Any:
    return New((b"Store", await _store.get("" if id is None else text(id, "resource id"))))


subtable("store", "backend", "store.backend")
for _n in ("MEMORY", "SQL", "KV_RAFT", "KV_CRDT", "UNKNOWN"):
    constant("store.backend", _n, getattr(_store.backend, _n))
subtable("store", "consistency", "store.consistency")
for _n in ("LINEARIZABLE", "EVENTUAL", "LOCAL", "UNKNOWN"):
    constant("store.consistency", _n, getattr(_store.consistency, _n))


@blocking(None, "get", method_of="Store")
async def _s_get(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await s.get(text(key, "key"))))


@blocking(None, "entry", method_of="Store")
async def _s_entry(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await s.entry(text(key, "key"))))


@blocking(None, "set", method_of="Store")
async def _s_set(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None, value: Any = None,
                 ttl: Any = None) -> tuple:
    return (True, await s.set(text(key, "key"), from_lua(value),
                              float(ttl) if isinstance(ttl, (int, float)) else None))


@blocking(None, "put", method_of="Store")
async def _s_put(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None, value: Any = None,
                 opts: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await s.put(text(key, "key"), from_lua(value), _opts(opts))))


@blocking(None, "has", method_of="Store")
async def _s_has(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None) -> tuple:
    return (True, await s.has(text(key, "key")))


@blocking(None, "delete", method_of="Store")
async def _s_delete(ctx: Ctx, s: Any, _a: Any, _b: Any, key: Any = None) -> tuple:
    return (True, await s.delete(text(key, "key")))


@blocking(None, "list", method_of="Store")
async def _s_list(ctx: Ctx, s: Any, _a: Any, _b: Any, opts: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await s.list(_opts(opts))))


@blocking(None, "info", method_of="Store")
async def _s_info(ctx: Ctx, s: Any, *_: Any) -> tuple:
    return (True, to_lua(ctx.state, await s.info()))


@method("Store", "release")
def _s_release(s: Any, *_: Any) -> bool:
    return s.release()


# -- queue -----------------------------------------------------------------------------------
@blocking("queue", "publish")
async def _q_publish(ctx: Ctx, qid: Any = None, data: Any = None, headers: Any = None) -> tuple:
    return (True, await _queue.publish("" if qid is None else text(qid, "queue id"),
                                       from_lua(data), _opts(headers)))


@blocking("queue", "info")
async def _q_info(ctx: Ctx, qid: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await _queue.info(text(qid, "queue id"))))


@function("queue", "message")
def _q_message() -> Any:
    return New((b"QueueMessage", _queue.message()))


@method("QueueMessage", "id")
def _m_id(m: Any, *_: Any) -> bytes:
    return m.id().encode()


@method("QueueMessage", "header")
def _m_header(m: Any, _a: Any, _b: Any, key: Any = None) -> Any:
    return lua_value(m.header(text(key, "header")))


@method("QueueMessage", "headers")
def _m_headers(m: Any, *_: Any) -> Any:
    return lua_value(m.headers())


@blocking(None, "ack", method_of="QueueMessage")
async def _m_ack(ctx: Ctx, m: Any, *_: Any) -> tuple:
    return (True, await m.ack())


@blocking(None, "nack", method_of="QueueMessage")
async def _m_nack(ctx: Ctx, m: Any, *_: Any) -> tuple:
    return (True, await m.nack())


# -- env -------------------------------------------------------------------------------------
@blocking("env", "get")
async def _env_get(ctx: Ctx, key: Any = None) -> tuple:
    return (True, (await _env.get("" if key is None else text(key, "key"))).encode())


@blocking("env", "set")
async def _env_set(ctx: Ctx, key: Any = None, value: Any = None) -> tuple:
    return (True, await _env.set("" if key is None else text(key, "key"), text(value, "value")))


@blocking("env", "get_all")
async def _env_get_all(ctx: Ctx) -> tuple:
    return (True, to_lua(ctx.state, await _env.get_all()))


# -- metrics ---------------------------------------------------------------------------------
def _num(v: Any) -> float:
    if type(v) not in (int, float):
        raise ApiError("INVALID", "metric value must be a number")
    return float(v)


@function("metrics", "counter_inc")
def _counter_inc(name: Any, labels: Any = None) -> bool:
    return _metrics.counter_inc(text(name, "metric name"), _labels(labels))


@function("metrics", "counter_add")
def _counter_add(name: Any, value: Any = None, labels: Any = None) -> bool:
    return _metrics.counter_add(text(name, "metric name"), _num(value), _labels(labels))


@function("metrics", "gauge_set")
def _gauge_set(name: Any, value: Any = None, labels: Any = None) -> bool:
    return _metrics.gauge_set(text(name, "metric name"), _num(value), _labels(labels))


@function("metrics", "gauge_inc")
def _gauge_inc(name: Any, labels: Any = None) -> bool:
    return _metrics.gauge_inc(text(name, "metric name"), _labels(labels))


@function("metrics", "gauge_dec")
def _gauge_dec(name: Any, labels: Any = None) -> bool:
    return _metrics.gauge_dec(text(name, "metric name"), _labels(labels))


@function("metrics", "histogram")
def _histogram(name: Any, value: Any = None, labels: Any = None) -> bool:
    return _metrics.histogram(text(name, "metric name"), _num(value), _labels(labels))
