"""``db.sql.postgres`` on a real PostgreSQL: queries and Wippy's result shapes, transactions,
a pool swapped live by editing the entry, a store.sql table."""
from __future__ import annotations

from typing import Iterator

import pytest

import wippy
from conftest import write_app
from pgserver import postgres

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    yield from postgres()


def _app(app_dir: str, dsn: str) -> str:
    return write_app(app_dir, {"src/_index.yaml": f"""
        version: "1.0"
        namespace: app
        entries:
          - {{name: a, kind: process.host}}
          - {{name: pg, kind: db.sql.postgres, dsn: "{dsn}", pool: {{max_open: 4}}}}
          - {{name: kv, kind: store.sql, database: app:pg, table_name: wippy_kv}}
          - {{name: q, kind: function.py, source: file://q.py, method: q}}
    """, "src/q.py": """
        from wippy import sql, store

        async def q(op):
            db = await sql.get("app:pg")
            if op == "basic":
                await db.execute("CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, name text)")
                res = await db.execute("INSERT INTO t (name) VALUES ($1), ($2)", ["a", "b"])
                tx = await db.begin({"isolation": sql.isolation.SERIALIZABLE})
                await tx.execute("INSERT INTO t (name) VALUES (?)", ["c"])
                await tx.rollback()
                rows = await (sql.builder.select("name").from_("t").where({"name": ["a", "b"]})
                              .order_by("name").with_placeholder(sql.builder.dollar)
                              .run_with(db).query())
                return [res["rows_affected"], [r["name"] for r in rows], db.type()]
            if op == "who":
                return (await db.query("SELECT current_setting('application_name') AS app"))[0]["app"]
            if op == "kv":
                kv = await store.get("app:kv")
                await kv.set("x", {"n": 1}, 60)
                return [await kv.get("x"), await kv.has("y")]
    """})


def test_postgres_queries_transactions_and_the_builder(app_dir: str, pg_dsn: str) -> None:
    with wippy.Node(_app(app_dir, pg_dsn), stop_timeout=5) as node:
        assert node.call("app:q", "basic") == [2, ["a", "b"], "postgres"]
        assert node.call("app:q", "kv") == [{"n": 1}, False]


def test_editing_the_postgres_entry_swaps_the_pool_live(app_dir: str, pg_dsn: str) -> None:
    with wippy.Node(_app(app_dir, pg_dsn), stop_timeout=5) as node:
        assert node.call("app:q", "who") == ""
        entry = node.registry.get("app:pg")
        node.registry.snapshot().changes().update(
            {**entry, "data": {**entry["data"], "options": {"application_name": "swapped"}}}).apply()
        assert node.call("app:q", "who") == "swapped"
