"""Wippy's Lua ``sql`` module: a view of :mod:`wippy.sql` (databases, transactions, prepared
statements) and of the query builder (:mod:`wippy.resources.sqlbuilder`).

Objects carry their Python handle as the first field: ``DB``, ``SqlTx``, ``SqlStmt``,
``SqlQuery`` (every builder: select, insert, update, delete), ``SqlCond`` (a condition),
``SqlExecutor`` (a query bound to a database). Calls that reach the database are blocking.
``sql.NULL`` is an object whose field is the builder's NULL, so a list of values can hold it.
"""
from __future__ import annotations

from typing import Any

from .. import sql as _sql
from ..resources import sqlbuilder as _b
from .api import (
    MEMBERS,
    ApiError,
    New,
    blocking,
    constant,
    function,
    lua_value,
    method,
    subtable,
    text,
)
from .ctx import Ctx
from .engine import from_lua, is_lua_table, to_lua

__all__: list[str] = []


def _value(v: Any) -> Any:
    """A Lua value as a statement parameter (``sql.NULL`` -> None, conditions kept)."""
    if is_lua_table(v):
        first = v[1]
        if first is _b.NULL:
            return None
        if isinstance(first, (_b.Cond, _b.Query)):
            return first
    return from_lua(v)


def _params(t: Any) -> list[Any] | None:
    if t is None:
        return None
    if not is_lua_table(t):
        raise ApiError("INVALID", "params must be a table (a list of values)")
    n = 0
    for k in t.keys():
        if type(k) is int and k > n:
            n = k
    return [_value(t[i]) for i in range(1, n + 1)]


def _map(t: Any, what: str) -> dict[str, Any]:
    if not is_lua_table(t):
        raise ApiError("INVALID", f"{what} must be a table")
    out = {}
    for k, v in t.items():
        out[text(k, "column")] = _value(v)
    return out


# -- module ----------------------------------------------------------------------------------
@blocking("sql", "get")
async def _get(ctx: Ctx, id: Any = None) -> Any:
    db = await _sql.get(text(id, "resource id") if id is not None else "")
    return New((b"DB", db))


for _t, _vals in (("sql.type", ("POSTGRES", "MYSQL", "SQLITE", "UNKNOWN")),
                  ("sql.isolation", ("DEFAULT", "READ_UNCOMMITTED", "READ_COMMITTED",
                                     "WRITE_COMMITTED", "REPEATABLE_READ", "SERIALIZABLE"))):
    subtable("sql", _t.split(".")[1], _t)
    for _v in _vals:
        constant(_t, _v, getattr(_sql.type if _t == "sql.type" else _sql.isolation, _v))
MEMBERS.setdefault("sql", {})["NULL"] = ("o", (b"SqlNull", _b.NULL))
subtable("sql", "as", "sql.as")
subtable("sql", "builder", "sql.builder")


@function("sql.as", "int")
def _as_int(v: Any) -> Any:
    return int(v)


@function("sql.as", "float")
def _as_float(v: Any) -> Any:
    return float(v)


@function("sql.as", "text")
def _as_text(v: Any) -> Any:
    return v if type(v) is bytes else str(v).encode()


@function("sql.as", "binary")
def _as_binary(v: Any) -> Any:
    return v if type(v) is bytes else str(v).encode()


@function("sql.as", "null")
def _as_null() -> Any:
    return New((b"SqlNull", _b.NULL))


# -- DB --------------------------------------------------------------------------------------
@method("DB", "type")
def _db_type(db: Any, *_: Any) -> bytes:
    return db.type().encode()


@method("DB", "release")
def _db_release(db: Any, *_: Any) -> bool:
    return db.release()


@blocking(None, "query", method_of="DB")
async def _db_query(ctx: Ctx, db: Any, _a: Any, _b2: Any, q: Any = None, params: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await db.query(text(q, "sql"), _params(params))))


@blocking(None, "execute", method_of="DB")
async def _db_execute(ctx: Ctx, db: Any, _a: Any, _b2: Any, q: Any = None, params: Any = None) -> tuple:
    return (True, to_lua(ctx.state, await db.execute(text(q, "sql"), _params(params))))


@blocking(None, "prepare", method_of="DB")
async def _db_prepare(ctx: Ctx, db: Any, _a: Any, _b2: Any, q: Any = None) -> Any:
    return New((b"SqlStmt", await db.prepare(text(q, "sql"))))


@blocking(None, "begin", method_of="DB")
async def _db_begin(ctx: Ctx, db: Any, _a: Any, _b2: Any, opts: Any = None) -> Any:
    options = from_lua(opts) if is_lua_table(opts) else {}
    return New((b"SqlTx", await db.begin(options)))


@blocking(None, "stats", method_of="DB")
async def _db_stats(ctx: Ctx, db: Any, *_: Any) -> tuple:
    return (True, to_lua(ctx.state, await db.stats()))


# -- transactions and statements -------------------------------------------------------------
@method("SqlTx", "db_type")
def _tx_type(tx: Any, *_: Any) -> bytes:
    return tx.db_type().encode()


for _name in ("query", "execute"):
    def _tx_run(name: str) -> Any:
        async def run(ctx: Ctx, tx: Any, _a: Any, _b2: Any, q: Any = None, params: Any = None) -> tuple:
            out = await getattr(tx, name)(text(q, "sql"), _params(params))
            return (True, to_lua(ctx.state, out))
        return run
    blocking(None, _name, method_of="SqlTx")(_tx_run(_name))


@blocking(None, "prepare", method_of="SqlTx")
async def _tx_prepare(ctx: Ctx, tx: Any, _a: Any, _b2: Any, q: Any = None) -> Any:
    return New((b"SqlStmt", await tx.prepare(text(q, "sql"))))


for _name in ("commit", "rollback"):
    def _tx_end(name: str) -> Any:
        async def run(ctx: Ctx, tx: Any, *_: Any) -> tuple:
            return (True, await getattr(tx, name)())
        return run
    blocking(None, _name, method_of="SqlTx")(_tx_end(_name))

for _name in ("savepoint", "rollback_to", "release"):
    def _tx_sp(name: str) -> Any:
        async def run(ctx: Ctx, tx: Any, _a: Any, _b2: Any, sp: Any = None) -> tuple:
            return (True, await getattr(tx, name)(text(sp, "savepoint name")))
        return run
    blocking(None, _name, method_of="SqlTx")(_tx_sp(_name))

for _name in ("query", "execute"):
    def _stmt_run(name: str) -> Any:
        async def run(ctx: Ctx, st: Any, _a: Any, _b2: Any, params: Any = None) -> tuple:
            return (True, to_lua(ctx.state, await getattr(st, name)(_params(params))))
        return run
    blocking(None, _name, method_of="SqlStmt")(_stmt_run(_name))


@method("SqlStmt", "close")
def _stmt_close(st: Any, *_: Any) -> bool:
    return st.close()


# -- the builder -----------------------------------------------------------------------------
def _q(q: _b.Query) -> New:
    return New((b"SqlQuery", q))


def _cond(c: _b.Cond) -> New:
    return New((b"SqlCond", c))


def _strs(args: tuple) -> list[str]:
    return [text(a, "column") for a in args]


@function("sql.builder", "select")
def _select(*cols: Any) -> New:
    return _q(_b.select(*_strs(cols)))


for _kind in ("insert", "update", "delete"):
    def _start(kind: str) -> Any:
        def start(table: Any = None) -> New:
            return _q(getattr(_b, kind)("" if table is None else text(table, "table")))
        return start
    function("sql.builder", _kind)(_start(_kind))


@function("sql.builder", "expr")
def _expr(sql: Any, *args: Any) -> New:
    return _cond(_b.expr(text(sql, "sql"), *[_value(a) for a in args]))


for _op in ("eq", "not_eq", "lt", "lte", "gt", "gte", "like", "not_like"):
    def _cmp(op: str) -> Any:
        def cmp(m: Any) -> New:
            return _cond(_b.compare(op, _map(m, f"builder.{op}")))
        return cmp
    function("sql.builder", _op)(_cmp(_op))


def _conds(t: Any) -> list[Any]:
    if not is_lua_table(t):
        raise ApiError("INVALID", "a table of conditions expected")
    out: list[Any] = []
    for i in range(1, len(t) + 1):
        item = t[i]
        if is_lua_table(item) and isinstance(item[1], _b.Cond):
            out.append(item[1])
        elif is_lua_table(item):
            out.append(_map(item, "condition"))
        else:
            out.append(text(item, "condition"))
    return out


@function("sql.builder", "and_")
def _and(t: Any) -> New:
    return _cond(_b.and_(_conds(t)))


@function("sql.builder", "or_")
def _or(t: Any) -> New:
    return _cond(_b.or_(_conds(t)))


for _fmt in _b.Placeholder:
    constant("sql.builder", _fmt.value, _fmt.value)
constant("sql.builder", "default_placeholder", _b.Placeholder.QUESTION.value)


def _where_arg(cond: Any, args: tuple) -> tuple[Any, list[Any]]:
    if is_lua_table(cond):
        first = cond[1]
        if isinstance(first, _b.Cond):
            return first, []
        return _map(cond, "condition"), []
    return text(cond, "condition"), [_value(a) for a in args]


@method("SqlQuery", "from")
def _from(q: Any, _a: Any, _b2: Any, table: Any = None) -> New:
    return _q(q.from_(text(table, "table")))


@method("SqlQuery", "columns")
def _columns(q: Any, _a: Any, _b2: Any, *cols: Any) -> New:
    return _q(q.add_columns(*_strs(cols)))


@method("SqlQuery", "distinct")
def _distinct(q: Any, *_: Any) -> New:
    return _q(q.distinct())


for _how, _name in (("", "join"), ("LEFT ", "left_join"), ("RIGHT ", "right_join"),
                    ("INNER ", "inner_join"), ("CROSS ", "cross_join")):
    def _joiner(how: str) -> Any:
        def join(q: Any, _a: Any, _b2: Any, clause: Any = None, *args: Any) -> New:
            return _q(q.join(how, text(clause, "join"), *[_value(a) for a in args]))
        return join
    method("SqlQuery", _name)(_joiner(_how))


@method("SqlQuery", "where")
def _where(q: Any, _a: Any, _b2: Any, cond: Any = None, *args: Any) -> New:
    c, params = _where_arg(cond, args)
    return _q(q.where(c, *params))


@method("SqlQuery", "having")
def _having(q: Any, _a: Any, _b2: Any, cond: Any = None, *args: Any) -> New:
    c, params = _where_arg(cond, args)
    return _q(q.having(c, *params))


@method("SqlQuery", "order_by")
def _order_by(q: Any, _a: Any, _b2: Any, *cols: Any) -> New:
    return _q(q.order_by(*_strs(cols)))


@method("SqlQuery", "group_by")
def _group_by(q: Any, _a: Any, _b2: Any, *cols: Any) -> New:
    return _q(q.group_by(*_strs(cols)))


@method("SqlQuery", "limit")
def _limit(q: Any, _a: Any, _b2: Any, n: Any = None) -> New:
    return _q(q.limit(int(n)))


@method("SqlQuery", "offset")
def _offset(q: Any, _a: Any, _b2: Any, n: Any = None) -> New:
    return _q(q.offset(int(n)))


@method("SqlQuery", "suffix")
def _suffix(q: Any, _a: Any, _b2: Any, sql: Any = None, *args: Any) -> New:
    return _q(q.suffix(text(sql, "sql"), *[_value(a) for a in args]))


@method("SqlQuery", "values")
def _values(q: Any, _a: Any, _b2: Any, *vals: Any) -> New:
    return _q(q.values(*[_value(v) for v in vals]))


@method("SqlQuery", "set")
def _set(q: Any, _a: Any, _b2: Any, col: Any = None, value: Any = None) -> New:
    return _q(q.set(text(col, "column"), _value(value)))


@method("SqlQuery", "set_map")
def _set_map(q: Any, _a: Any, _b2: Any, m: Any = None) -> New:
    return _q(q.set_map(_map(m, "set_map")))


@method("SqlQuery", "from_select")
def _from_select(q: Any, _a: Any, _b2: Any, sub: Any = None, alias: Any = None) -> New:
    if not (is_lua_table(sub) and isinstance(sub[1], _b.Query)):
        raise ApiError("INVALID", "from_select expects a select builder")
    return _q(q.from_select(sub[1], text(alias, "alias")))


@method("SqlQuery", "placeholder_format")
def _placeholder(q: Any, _a: Any, _b2: Any, fmt: Any = None) -> New:
    try:
        return _q(q.with_placeholder(_b.Placeholder(text(fmt, "format"))))
    except ValueError:
        raise ApiError("INVALID", f"unknown placeholder format {fmt!r}") from None


@method("SqlQuery", "to_sql")
def _to_sql(q: Any, *_: Any) -> tuple:
    sql, args = q.render()
    return (sql.encode(), _args_lua(args))


def _args_lua(args: list[Any]) -> Any:
    return lua_value(list(args))


@method("SqlQuery", "run_with")
def _run_with(q: Any, _a: Any, _b2: Any, target: Any = None) -> New:
    handle = target[1] if is_lua_table(target) else None
    if not isinstance(handle, (_sql.DB, _sql.Transaction)):
        raise ApiError("INVALID", "run_with expects a database or a transaction")
    return New((b"SqlExecutor", q.run_with(handle)))


@method("SqlExecutor", "to_sql")
def _exec_to_sql(ex: Any, *_: Any) -> tuple:
    sql, args = ex.to_sql()
    return (sql.encode(), _args_lua(args))


@blocking(None, "query", method_of="SqlExecutor")
async def _exec_query(ctx: Ctx, ex: Any, *_: Any) -> tuple:
    return (True, to_lua(ctx.state, await ex.query()))


@blocking(None, "exec", method_of="SqlExecutor")
async def _exec_exec(ctx: Ctx, ex: Any, *_: Any) -> tuple:
    return (True, to_lua(ctx.state, await ex.exec()))
