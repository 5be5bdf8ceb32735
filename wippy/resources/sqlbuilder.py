"""Wippy's SQL query builder (``sql.builder``, after Go's squirrel): SELECT, INSERT, UPDATE and
DELETE built step by step, conditions from maps (``{col = value}``), raw expressions and their
combinations, rendered by :meth:`Query.to_sql` with ``?`` placeholders or ``$1, $2`` (and
``@p1``, ``:1``). Pure: no database; ``run_with(db)`` is the Lua and Python modules' business.

Each step returns a new builder (the original is unchanged), as squirrel's do, so a base query
can be extended twice. A map condition renders its columns in sorted order (stable SQL); a
``None`` value becomes ``IS NULL`` and a list becomes ``IN (...)``.
"""
from __future__ import annotations

import copy
from enum import Enum
from typing import Any, Iterable, Mapping

from ..errors import ResourceError

__all__ = ["Query", "Bound", "Cond", "Placeholder", "select", "insert", "update", "delete", "expr",
           "compare", "and_", "or_", "NULL"]


class Placeholder(str, Enum):
    """The placeholder formats Wippy names (``sql.builder.question`` ...)."""

    QUESTION = "question"
    DOLLAR = "dollar"
    AT = "at"
    COLON = "colon"


class _Null:
    """``sql.NULL``: an SQL NULL where Lua cannot hold nil (inside a list of values)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


def _param(v: Any) -> Any:
    return None if v is NULL else v


class Cond:
    """A condition (squirrel's Sqlizer): SQL with ``?`` and its arguments."""

    __slots__ = ("sql", "args")

    def __init__(self, sql: str, args: Iterable[Any] = ()) -> None:
        self.sql = sql
        self.args = [_param(a) for a in args]


_OPS = {"eq": "=", "not_eq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
        "like": "LIKE", "not_like": "NOT LIKE"}


def expr(sql: str, *args: Any) -> Cond:
    return Cond(sql, args)


def compare(op: str, values: Mapping[str, Any]) -> Cond:
    """``eq`` ... ``not_like`` over a map: one comparison per column, ANDed."""
    parts: list[str] = []
    args: list[Any] = []
    sym = _OPS[op]
    for col in sorted(values):
        v = _param(values[col])
        if v is None and op in ("eq", "not_eq"):
            parts.append(f"{col} IS {'NOT ' if op == 'not_eq' else ''}NULL")
        elif isinstance(v, list) and op in ("eq", "not_eq"):
            if not v:
                parts.append("(1=0)" if op == "eq" else "(1=1)")
            else:
                marks = ",".join("?" * len(v))
                parts.append(f"{col} {'NOT ' if op == 'not_eq' else ''}IN ({marks})")
                args.extend(_param(x) for x in v)
        else:
            parts.append(f"{col} {sym} ?")
            args.append(v)
    return Cond(" AND ".join(parts), args)


def _join_conds(conds: Iterable[Any], word: str) -> Cond:
    parts, args = [], []
    for c in conds:
        c = as_cond(c)
        if c.sql:
            parts.append(f"({c.sql})")
            args.extend(c.args)
    return Cond(f" {word} ".join(parts), args)


def and_(conds: Iterable[Any]) -> Cond:
    return _join_conds(conds, "AND")


def or_(conds: Iterable[Any]) -> Cond:
    return _join_conds(conds, "OR")


def as_cond(c: Any, args: Iterable[Any] = ()) -> Cond:
    """A condition from what ``where`` accepts: a Cond, a map, or SQL text with arguments."""
    if isinstance(c, Cond):
        return c
    if isinstance(c, Mapping):
        return compare("eq", c)
    if isinstance(c, str):
        return Cond(c, args)
    raise ResourceError("INVALID", f"a condition must be a string, a table or a builder "
                                   f"expression, got {type(c).__name__}")


class Query:
    """One statement being built (``kind``: select, insert, update, delete)."""

    def __init__(self, kind: str, table: str = "", columns: Iterable[str] = ()) -> None:
        self.kind = kind
        self.table = table
        self.columns = list(columns)
        self.distinct_ = False
        self.joins: list[Cond] = []
        self.wheres: list[Cond] = []
        self.groups: list[str] = []
        self.havings: list[Cond] = []
        self.orders: list[str] = []
        self.limit_: int | None = None
        self.offset_: int | None = None
        self.suffixes: list[Cond] = []
        self.rows: list[list[Any]] = []
        self.sets: list[tuple[str, Any]] = []
        self.froms: list[Cond] = []
        self.placeholder = Placeholder.QUESTION

    def _with(self, **changes: Any) -> Query:
        q = copy.copy(self)
        for k in ("columns", "joins", "wheres", "groups", "havings", "orders", "suffixes",
                  "rows", "sets", "froms"):
            setattr(q, k, list(getattr(self, k)))
        for k, v in changes.items():
            setattr(q, k, v)
        return q

    # -- steps (each returns a new Query) ------------------------------------------------
    def from_(self, table: str) -> Query:
        return self._with(table=table)

    def add_columns(self, *cols: str) -> Query:
        return self._with(columns=self.columns + list(cols))

    def distinct(self) -> Query:
        return self._with(distinct_=True)

    def join(self, how: str, clause: str, *args: Any) -> Query:
        q = self._with()
        q.joins.append(Cond(f"{how}JOIN {clause}", args))
        return q

    def where(self, cond: Any, *args: Any) -> Query:
        q = self._with()
        c = as_cond(cond, args)
        if c.sql:
            q.wheres.append(c)
        return q

    def group_by(self, *cols: str) -> Query:
        return self._with(groups=self.groups + list(cols))

    def having(self, cond: Any, *args: Any) -> Query:
        q = self._with()
        q.havings.append(as_cond(cond, args))
        return q

    def order_by(self, *cols: str) -> Query:
        return self._with(orders=self.orders + list(cols))

    def limit(self, n: int) -> Query:
        return self._with(limit_=int(n))

    def offset(self, n: int) -> Query:
        return self._with(offset_=int(n))

    def suffix(self, sql: str, *args: Any) -> Query:
        q = self._with()
        q.suffixes.append(Cond(sql, args))
        return q

    def values(self, *vals: Any) -> Query:
        q = self._with()
        q.rows.append([_param(v) for v in vals])
        return q

    def set(self, col: str, value: Any) -> Query:
        q = self._with()
        q.sets.append((col, value))
        return q

    def set_map(self, values: Mapping[str, Any]) -> Query:
        q = self._with()
        if self.kind == "insert":
            cols = sorted(values)
            q.columns = cols
            q.rows = [[_param(values[c]) for c in cols]]
        else:
            q.sets.extend((c, values[c]) for c in sorted(values))
        return q

    def from_select(self, sub: Query, alias: str) -> Query:
        sql, args = sub.render(Placeholder.QUESTION)
        q = self._with()
        q.froms.append(Cond(f"({sql}) AS {alias}", args))
        return q

    def with_placeholder(self, fmt: Placeholder) -> Query:
        return self._with(placeholder=fmt)

    def run_with(self, target: Any) -> Bound:
        """This query bound to a database handle or transaction (anything with async
        ``query(sql, args)`` and ``execute(sql, args)``)."""
        return Bound(self, target)

    # -- rendering -----------------------------------------------------------------------
    def render(self, fmt: Placeholder | None = None) -> tuple[str, list[Any]]:
        """(SQL, arguments) with ``?`` placeholders turned into ``fmt`` (default: the
        query's own format)."""
        sql, args = self._render_question()
        return _number(sql, fmt or self.placeholder), args

    def _render_question(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        args: list[Any] = []

        def add(c: Cond, prefix: str = "") -> None:
            parts.append(prefix + c.sql)
            args.extend(c.args)

        def where() -> None:
            if self.wheres:
                add(and_(self.wheres) if len(self.wheres) > 1 else self.wheres[0], "WHERE ")

        if self.kind == "select":
            if not self.columns:
                raise ResourceError("INVALID", "select statements must have at least one "
                                               "result column")
            parts.append("SELECT " + ("DISTINCT " if self.distinct_ else "") + ", ".join(self.columns))
            if self.table:
                parts.append("FROM " + self.table)
            for j in self.joins:
                add(j)
            where()
            if self.groups:
                parts.append("GROUP BY " + ", ".join(self.groups))
            if self.havings:
                add(and_(self.havings) if len(self.havings) > 1 else self.havings[0], "HAVING ")
        elif self.kind == "insert":
            if not self.table or not self.rows:
                raise ResourceError("INVALID", "insert statements must have a table and "
                                               "at least one set of values")
            head = f"INSERT INTO {self.table}"
            if self.columns:
                head += " (" + ",".join(self.columns) + ")"
            rows = []
            for row in self.rows:
                rows.append("(" + ",".join("?" * len(row)) + ")")
                args.extend(row)
            parts.append(head + " VALUES " + ",".join(rows))
        elif self.kind == "update":
            if not self.table or not self.sets:
                raise ResourceError("INVALID", "update statements must have a table and at "
                                               "least one set clause")
            sets = []
            for col, v in self.sets:
                if isinstance(v, Cond):
                    sets.append(f"{col} = {v.sql}")
                    args.extend(v.args)
                else:
                    sets.append(f"{col} = ?")
                    args.append(_param(v))
            parts.append(f"UPDATE {self.table} SET " + ", ".join(sets))
            for f in self.froms:
                add(f, "FROM ")
            where()
        else:
            if not self.table:
                raise ResourceError("INVALID", "delete statements must specify a From table")
            parts.append("DELETE FROM " + self.table)
            where()
        if self.orders:
            parts.append("ORDER BY " + ", ".join(self.orders))
        if self.limit_ is not None:
            parts.append(f"LIMIT {self.limit_}")
        if self.offset_ is not None:
            parts.append(f"OFFSET {self.offset_}")
        for s in self.suffixes:
            add(s)
        return " ".join(parts), args


class Bound:
    """A query and where it runs (Wippy's ``QueryExecutor``)."""

    __slots__ = ("query_", "target")

    def __init__(self, query: Query, target: Any) -> None:
        self.query_ = query
        self.target = target

    def to_sql(self) -> tuple[str, list[Any]]:
        return self.query_.render()

    async def query(self) -> Any:
        sql, args = self.query_.render()
        return await self.target.query(sql, args)

    async def exec(self) -> Any:
        sql, args = self.query_.render()
        return await self.target.execute(sql, args)


def _number(sql: str, fmt: Placeholder) -> str:
    """``?`` -> the format's numbered placeholder (``??`` stays a literal ``?``)."""
    if fmt is Placeholder.QUESTION:
        return sql
    prefix = {Placeholder.DOLLAR: "$", Placeholder.AT: "@p", Placeholder.COLON: ":"}[fmt]
    out: list[str] = []
    n = 0
    i = 0
    while i < len(sql):
        ch = sql[i]
        if ch == "?":
            if sql[i + 1:i + 2] == "?":
                out.append("?")
                i += 2
                continue
            n += 1
            out.append(f"{prefix}{n}")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def select(*cols: str) -> Query:
    return Query("select", columns=cols)


def insert(table: str = "") -> Query:
    return Query("insert", table)


def update(table: str = "") -> Query:
    return Query("update", table)


def delete(table: str = "") -> Query:
    return Query("delete", table)
